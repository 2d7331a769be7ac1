"""Database: named calls of every kind through a real pool, transactions, errors, recovery."""

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from pagbank_pg import (
    ConnectionFailed,
    Database,
    PoolTimeout,
    QueryArgumentError,
    QueryError,
)
from pagbank_pg.query import direct_connection
from pagbank_pg.query.types import schema_queries

from .helpers import QUERIES

BRT = timezone(timedelta(hours=-3))


def memory(db: Database, user: str = "u-1", text: str = "gosta de pix", **extra: object) -> dict:
    values = {
        "id": uuid.uuid4(),
        "user_id": user,
        "memory": text,
        "tags": ["pix", "cartão"],
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=BRT),
        "metadata": {"source": "test", "n": 1},
    }
    values.update(extra)
    return db.queries.put_memory(**values)


def test_one_round_trips_uuid_arrays_datetimes_and_json(db: Database) -> None:
    given = uuid.uuid4()
    row = memory(db, id=given, metadata={"a": [1, 2.5, None, "ç 😀 %s :x"], "b": {"c": True}})
    assert row["id"] == given
    assert row["memory_tags"] == ["pix", "cartão"]
    assert row["created_at"] == datetime(2026, 1, 2, 6, 4, 5, 678901, tzinfo=UTC)
    assert row["metadata"] == {"a": [1, 2.5, None, "ç 😀 %s :x"], "b": {"c": True}}


@pytest.mark.parametrize("value", [{"k": "v"}, [1, "two"], "text", 42, 1.5, True, None])
def test_json_parameters_take_any_json_value(db: Database, value: object) -> None:
    assert db.queries.echo_json(value=value) == value


def test_many_scalar_exec_execrows(db: Database) -> None:
    memory(db, text="b")
    memory(db, text="a")
    memory(db, user="u-2")
    rows = db.queries.memories_of(user_id="u-1")
    assert [r["memory"] for r in rows] == ["a", "b"]
    assert db.queries.memories_of(user_id="nobody") == []
    assert db.queries.count_memories(user_id="u-1") == 2
    assert db.queries.tag_all(tag="vip", user_id="u-1") is None
    with psycopg.connect(db.pool.conninfo) as conn:
        tags = conn.execute("SELECT memory_tags[3] FROM user_memories WHERE user_id = 'u-1'")
        assert tags.fetchall() == [("vip",), ("vip",)]
    assert db.queries.forget(user_id="u-1") == 2
    assert db.queries.forget(user_id="u-1") == 0
    assert db.queries.count_memories(user_id="u-2") == 1


def test_one_returns_none_and_scalar_returns_none_when_no_row(db: Database) -> None:
    assert db.queries.get_user_session(session_id="missing") is None
    assert db.queries.touch_user_session(session_id="missing", context={}) is None


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


def test_bad_arguments_fail_before_any_io(db: Database) -> None:
    with pytest.raises(QueryArgumentError) as raised:
        db.queries.count_memories(user="u-1")
    message = str(raised.value)
    assert "query count_memories (" in message and "kinds.sql:" in message
    assert "missing parameter 'user_id'; unknown parameter 'user'" in message
    with pytest.raises(TypeError):
        db.queries.count_memories("u-1")  # type: ignore[call-arg]
    assert db.pool.get_stats().get("requests_num", 0) == 0


def test_database_errors_name_the_query_and_keep_the_original(db: Database) -> None:
    memory(db, id=uuid.UUID(int=1))
    with pytest.raises(QueryError) as raised:
        memory(db, id=uuid.UUID(int=1))
    assert str(raised.value).startswith("query put_memory (")
    assert "duplicate key value violates unique constraint" in str(raised.value)
    assert raised.value.sqlstate == "23505"
    assert isinstance(raised.value.original, psycopg.errors.UniqueViolation)
    assert raised.value.__cause__ is None
    with pytest.raises(QueryError, match="value too long"):
        memory(db, user="x" * 256)
    assert db.queries.count_memories(user_id="u-1") == 1


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


def test_transaction_rolls_back_on_an_exception(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as tx:
        memory_row = tx.queries.put_memory(
            id=uuid.uuid4(),
            user_id="u-1",
            memory="m",
            tags=[],
            created_at=datetime.now(UTC),
            metadata={},
        )
        assert memory_row["user_id"] == "u-1"
        raise RuntimeError("boom")
    assert db.queries.count_memories(user_id="u-1") == 0


def test_many_is_one_transaction(db: Database) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": "u-1",
            "memory": f"m{i}",
            "tags": [str(i)],
            "created_at": datetime.now(UTC),
            "metadata": {"i": i},
        }
        for i in range(50)
    ]
    assert db.queries.put_memory.many(rows) == 50
    assert db.queries.count_memories(user_id="u-1") == 50
    bad = [{**rows[0], "id": uuid.uuid4()}, {**rows[1]}]  # the second repeats an id
    with pytest.raises(QueryError, match="duplicate key"):
        db.queries.put_memory.many(bad)
    assert db.queries.count_memories(user_id="u-1") == 50


def test_stream_reads_in_batches_inside_a_transaction_only(db: Database) -> None:
    for i in range(2500):
        memory(db, text=f"m{i:05}")
    with db.transaction() as tx:
        streamed = [row["memory"] for row in tx.queries.memories_of.stream(user_id="u-1")]
    assert len(streamed) == 2500 and streamed == sorted(streamed)
    with pytest.raises(QueryError, match="needs a transaction"):
        list(db.queries.memories_of.stream(user_id="u-1"))


def test_pool_timeout_when_exhausted(db_dsn: str) -> None:
    with Database.open(db_dsn, queries=QUERIES, min_size=1, max_size=1, timeout=0.5) as db:
        with (
            db.transaction(),
            pytest.raises(
                PoolTimeout, match=r"no pooled connection became free within 0.5s \(max_size 1\)"
            ),
        ):
            db.queries.count_memories(user_id="u-1")
        assert db.queries.count_memories(user_id="u-1") == 0


def test_connect_fails_fast_naming_the_host_not_the_password() -> None:
    with pytest.raises(ConnectionFailed) as raised:
        Database.open("postgresql://ai:hunter2@127.0.0.1:1/ai", timeout=1)
    assert str(raised.value).startswith("could not connect to ai@127.0.0.1:1/ai: ")
    assert "hunter2" not in str(raised.value)


def test_broken_connections_are_replaced(db: Database, db_dsn: str) -> None:
    assert db.queries.count_memories(user_id="u-1") == 0
    with psycopg.connect(db_dsn, autocommit=True) as admin:  # what a server restart does
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed == (1,)  # the pool's one connection (min_size 1, one call at a time)
    assert db.queries.count_memories(user_id="u-1") == 0


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


def test_the_old_names_still_work_and_say_they_are_deprecated(db_dsn: str) -> None:
    with pytest.warns(DeprecationWarning, match=r"Database.connect\(\) is deprecated; use"):
        opened = Database.connect(db_dsn, max_size=1)
    with opened as db:
        assert db.queries.count_agent_sessions() == 0
    with pytest.warns(DeprecationWarning, match="use connect_direct"):
        conn = direct_connection(db_dsn)
    with conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    assert conn.closed
