"""Database: what is tested on the sync twin only (the behaviour written once for both twins is
in test_twins.py): placeholders, introspection, threads, the internal areas, old names."""

import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from pagbank_pg import Database
from pagbank_pg.query import direct_connection
from pagbank_pg.query.types import schema_queries

from .helpers import QUERIES


def test_text_that_looks_like_placeholders_is_sent_as_written(db: Database) -> None:
    row = db.queries.tricky(yes="ok :x %s")
    assert row == {
        "s": ":no",
        "pct": "100%",
        "modulo": 2,
        "slice": [2, 3],
        "body": " :no ",
        "col:no": "x",
        "yes": "ok :x %s",
    }


def test_unknown_query_lists_the_known_ones(db: Database) -> None:
    with pytest.raises(
        AttributeError, match="no query named 'nope'; known: active_sessions_of_user"
    ):
        db.queries.nope  # noqa: B018


def test_introspection(db: Database) -> None:
    assert "touch_user_session" in dir(db.queries) and len(db.queries) == len(QUERIES)
    call = db.queries.touch_user_session
    assert (call.name, call.kind, call.params) == (
        "touch_user_session",
        "one",
        ("context", "session_id"),
    )
    assert call.sql.startswith("UPDATE user_sessions") and call.file.endswith("user_sessions.sql")
    assert call.__doc__.startswith("Record one interaction")
    import inspect

    assert str(inspect.signature(call)) == "(*, context, session_id)"


def test_transaction_commits_together(db: Database) -> None:
    with db.transaction() as tx:
        tx.queries.create_user_session(
            session_id="s-1", user_id="u-1", team_id="ana", session_context=None, metadata=None
        )
        tx.queries.touch_user_session(session_id="s-1", context={"last_query": "pix"})
        with psycopg.connect(db.pool.conninfo) as other:  # not visible before the commit
            assert other.execute("SELECT count(*) FROM user_sessions").fetchone() == (0,)
    row = db.queries.get_user_session(session_id="s-1")
    assert row["interaction_count"] == 1 and row["session_context"] == {"last_query": "pix"}


def test_many_threads_at_once(db: Database) -> None:
    db.queries.create_user_session(
        session_id="s-1", user_id="u-1", team_id=None, session_context=None, metadata=None
    )
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(25):
                db.queries.touch_user_session(session_id="s-1", context={"t": 1})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.queries.get_user_session(session_id="s-1")["interaction_count"] == 16 * 25


def test_an_internal_area_runs_on_a_database_a_transaction_or_a_connection(
    db: Database, db_dsn: str
) -> None:
    assert schema_queries(db).table_exists(table_name="agent_sessions") is True
    with db.transaction() as tx:
        assert schema_queries(tx).table_exists(table_name="no_such_table") is False
    with psycopg.connect(db_dsn, row_factory=dict_row) as conn:
        assert schema_queries(conn).table_exists(table_name="user_memories") is True
    with pytest.raises(TypeError, match="got str"):
        schema_queries(db_dsn)  # type: ignore[arg-type]
    assert "table_exists" not in dir(db.queries)  # not in the public namespace


def test_a_statement_carries_what_its_kind_supports(db: Database) -> None:
    reads, writes, copies = db.queries.memories_of, db.queries.tag_all, db.queries.copy_memories
    assert callable(reads.stream) and callable(reads.many) and callable(writes.many)
    assert not hasattr(writes, "stream")  # an :exec reads no rows
    assert not hasattr(copies, "stream") and not hasattr(copies, "many")


def test_the_old_name_of_connect_direct_still_works_and_says_it_is_deprecated(
    db_dsn: str,
) -> None:  # the old name of open: test_twins.py
    with pytest.warns(DeprecationWarning, match="use connect_direct"):
        conn = direct_connection(db_dsn)
    with conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    assert conn.closed
