"""LGPD erasure without stalling the bank: it waits for, and holds, only the erased user's
writers; no erased id comes back through interaction_patterns; an interrupted erasure says
so and finishes when run again; an id with no rows is not erased by mistake; export-user
streams; the watermarks keep no readable id. Tables are checked directly."""

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pagbank_pg import Database, load_queries
from pagbank_pg.errors import ErasureIncomplete, QueryError
from pagbank_pg.lgpd import EXPORTED, export_user, forget_user
from pagbank_pg.schema import migrations

from .helpers import exported, mentions, run, wait_for

QUERIES = load_queries()


def seed_user(dsn: str, user: str, session: str, options: str = "") -> None:
    """One row of `user` in each of the six tables (its session `session`)."""
    with psycopg.connect(dsn, options=options) as conn:
        for statement in (
            "INSERT INTO user_sessions (session_id, user_id) VALUES (%(s)s, %(u)s)",
            "INSERT INTO agent_sessions (session_id, agent_id, user_id) "
            "VALUES (%(s)s, 'pix', %(u)s)",
            "INSERT INTO team_sessions (session_id, team_id, user_id) VALUES (%(s)s, 'ana', %(u)s)",
            "INSERT INTO user_memories (user_id, memory) VALUES (%(u)s, 'prefere PIX')",
            "INSERT INTO escalation_history (ticket_id, session_id, user_id) "
            "VALUES ('T-' || %(s)s, %(s)s, %(u)s)",
            "INSERT INTO interaction_patterns (pattern_type, pattern_data, user_ids) "
            "VALUES ('intent', jsonb_build_object('of', %(s)s::text), ARRAY[%(u)s])",
        ):
            conn.execute(statement, {"u": user, "s": session})


def backend_of(dsn: str, application_name: str) -> dict[str, Any]:
    """What pg_stat_activity says of the connection named `application_name` ({}: none)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT pid, state, wait_event_type, wait_event, query FROM pg_stat_activity "
            "WHERE application_name = %s",
            [application_name],
        ).fetchone()
    keys = ("pid", "state", "wait_event_type", "wait_event", "query")
    return dict(zip(keys, row, strict=True)) if row else {}


def in_flight_memory(dsn: str, user: str) -> psycopg.Connection[Any]:
    """A writer of `user`, in flight: a memory inserted, not committed yet."""
    writer = psycopg.connect(dsn)
    writer.execute("INSERT INTO user_memories (user_id, memory) VALUES (%s, 'em voo')", [user])
    return writer


# --- item 4: an erasure holds only its user's writers ------------------------------------------


def test_an_unrelated_writer_is_not_blocked_while_an_erasure_waits(db_dsn: str) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    with psycopg.connect(db_dsn) as conn:  # other customers' rows
        conn.execute(
            "INSERT INTO agent_sessions (session_id, agent_id, user_id) "
            "SELECT 'o-' || i, 'pix', 'other-' || i FROM generate_series(1, 2000) i"
        )
    writer = in_flight_memory(db_dsn, "u-1")
    erasing = Database.open(make_conninfo(db_dsn, application_name="erasing"), max_size=2)
    failed: list[BaseException] = []

    def erase() -> None:
        try:
            forget_user(erasing, "u-1")
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=erase)
    thread.start()
    wait_for(
        lambda: backend_of(db_dsn, "erasing").get("wait_event_type") == "Lock",
        what="the erasure waits for u-1's writer in flight",
    )
    eraser = backend_of(db_dsn, "erasing")
    # meanwhile another customer writes to every table, with no wait allowed past 2 s
    seed_user(db_dsn, "u-2", "s-2", options="-c lock_timeout=2s")
    with psycopg.connect(db_dsn, options="-c lock_timeout=2s") as other:
        other.execute(
            "UPDATE agent_sessions SET messages = '[]' WHERE session_id = 'o-7';"
            "INSERT INTO interaction_patterns (pattern_type, pattern_data, user_ids) "
            "VALUES ('intent', '{\"of\": \"s-1\"}', '{u-2}') "
            "ON CONFLICT (pattern_type, md5(pattern_data::text)) DO UPDATE "
            "SET user_ids = interaction_patterns.user_ids || EXCLUDED.user_ids"
        )
    with psycopg.connect(db_dsn) as conn:
        table_locks = conn.execute(
            "SELECT relation::regclass::text, mode FROM pg_locks "
            "WHERE pid = %s AND locktype = 'relation' AND mode NOT IN "
            "('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')",
            [eraser["pid"]],
        ).fetchall()
    assert table_locks == []  # no SHARE lock on any table while it waits
    assert thread.is_alive() and backend_of(db_dsn, "erasing").get("wait_event") == "advisory"
    writer.commit()  # u-1's writer ends: the erasure goes on, and takes its row too
    writer.close()
    thread.join(timeout=20)
    erasing.close()
    assert not thread.is_alive() and failed == []
    assert mentions(db_dsn, "u-1", ["s-1"]) == {}
    assert mentions(db_dsn, "u-2", ["s-2"])["agent_sessions"] == 1


def test_a_write_of_the_erased_user_during_the_erasure_is_dropped(
    db: Database, db_dsn: str
) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    first = in_flight_memory(db_dsn, "u-1")
    erasing = threading.Thread(target=forget_user, args=(db, "u-1"))
    erasing.start()
    wait_for(
        lambda: lock_waiters(db_dsn) != [],
        what="the erasure waits for u-1's writer in flight",
    )
    with psycopg.connect(db_dsn) as conn:  # an append to u-1's session: dropped at once
        conn.execute(
            "INSERT INTO agent_sessions (session_id, agent_id, messages) "
            "VALUES ('s-1', 'cartoes', '[]')"
        )
    late: list[Any] = []

    def write_late() -> None:  # an app replica opening a new session of u-1, unaware
        with psycopg.connect(db_dsn, application_name="late") as conn:
            conn.execute("INSERT INTO user_sessions (session_id, user_id) VALUES ('s-9', 'u-1')")
            late.append("written")

    writing = threading.Thread(target=write_late)
    writing.start()
    wait_for(
        lambda: backend_of(db_dsn, "late").get("wait_event") == "advisory",
        what="the late writer waits for the erasure",
    )
    first.commit()
    first.close()
    erasing.join(timeout=20)
    writing.join(timeout=20)
    assert not erasing.is_alive() and not writing.is_alive() and late == ["written"]
    assert mentions(db_dsn, "u-1", ["s-1", "s-9"]) == {}


def lock_waiters(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT pid, wait_event FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchall()
    return [{"pid": pid, "wait_event": event} for pid, event in rows]


def test_an_erasure_waits_for_a_bulk_writer_in_flight(db: Database, db_dsn: str) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    bulk = psycopg.connect(db_dsn)  # a transaction of many users' rows: one shared key
    bulk.execute(
        "INSERT INTO user_memories (user_id, memory) "
        "SELECT 'other-' || i, 'm' FROM generate_series(1, 500) i"
    )
    bulk.execute("INSERT INTO user_memories (user_id, memory) VALUES ('u-1', 'no lote')")
    with psycopg.connect(db_dsn) as conn:
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
            [bulk.info.backend_pid],
        ).fetchone()
    assert held is not None and held[0] <= 40  # not one per user
    erasing = threading.Thread(target=forget_user, args=(db, "u-1"))
    erasing.start()
    wait_for(lambda: lock_waiters(db_dsn) != [], what="the erasure waits for the bulk writer")
    bulk.commit()
    bulk.close()
    erasing.join(timeout=20)
    assert not erasing.is_alive()
    assert mentions(db_dsn, "u-1", ["s-1"]) == {}


def test_forget_and_export_use_the_indexes(db_dsn: str) -> None:
    with psycopg.connect(db_dsn) as conn:
        for user, session in (("u-1", "s-1"), ("u-2", "s-2")):
            seed_user(db_dsn, user, session)
        conn.execute(
            "INSERT INTO team_sessions (session_id, team_id, user_id) "
            "SELECT 'o-' || i, 'ana', 'other-' || i % 5000 FROM generate_series(1, 20000) i;"
            "INSERT INTO agent_sessions (session_id, agent_id, user_id) "
            "SELECT 'o-' || i, 'pix', 'other-' || i % 5000 FROM generate_series(1, 20000) i;"
            "INSERT INTO user_sessions (session_id, user_id) "
            "SELECT 'o-' || i, 'other-' || i % 5000 FROM generate_series(1, 20000) i;"
            "INSERT INTO escalation_history (ticket_id, session_id, user_id) "
            "SELECT 'T-o-' || i, 'o-' || i, 'other-' || i % 5000 FROM generate_series(1, 20000) i;"
            "INSERT INTO user_memories (user_id, memory) "
            "SELECT 'other-' || i % 5000, 'm' FROM generate_series(1, 20000) i;"
            "ANALYZE"
        )
        scanned: dict[str, set[str]] = {}
        for name in ["forget_user"] + [name for _, name in EXPORTED]:
            query = QUERIES[name]
            with conn.transaction(force_rollback=True):
                (plan,) = conn.execute(
                    "EXPLAIN (FORMAT JSON) " + query.compiled.sql, query.bind({"user_id": "u-1"})
                ).fetchone()
            scanned[name] = seq_scans(plan[0]["Plan"])
    big = {
        "team_sessions",
        "agent_sessions",
        "user_sessions",
        "escalation_history",
        "user_memories",
    }
    assert {name: tables & big for name, tables in scanned.items() if tables & big} == {}


def seq_scans(plan: dict[str, Any]) -> set[str]:
    found = {plan["Relation Name"]} if plan["Node Type"] == "Seq Scan" else set()
    for child in plan.get("Plans", []):
        found |= seq_scans(child)
    return found


# --- item 3: an interrupted erasure, escalations, the watermarks --------------------------------


def test_a_timed_out_erasure_says_so_and_running_it_again_finishes_it(
    db: Database, db_dsn: str
) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    writer = in_flight_memory(db_dsn, "u-1")
    with pytest.raises(ErasureIncomplete) as stopped:
        forget_user(db, "u-1", lock_timeout=0.3)
    message = str(stopped.value)
    assert "erasure of user 'u-1' is incomplete" in message
    assert "Run the same command again to finish the erasure" in message
    assert mentions(db_dsn, "u-1", ["s-1"])  # its rows are still there ...
    writer.commit()
    writer.close()
    assert mentions(db_dsn, "u-1", ["s-1"])["user_memories"] == 2  # ... and the writer's too
    removed = forget_user(db, "u-1", lock_timeout=0.3)  # the same, again
    assert removed["user_memories"] == 2 and removed["agent_sessions"] == 1
    assert mentions(db_dsn, "u-1", ["s-1"]) == {}


def test_escalations_of_the_users_sessions_under_another_id_are_erased(
    db: Database, db_dsn: str
) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    with psycopg.connect(db_dsn) as conn:  # a hand-off recorded under the agent's login
        conn.execute(
            "INSERT INTO escalation_history (ticket_id, session_id, user_id) VALUES "
            "('T-x', 's-1', 'atendente-7'), ('T-y', 's-9', 'atendente-7')"
        )
    removed = forget_user(db, "u-1")
    assert removed["escalation_history"] == 2
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute("SELECT ticket_id FROM escalation_history").fetchall()
    assert left == [("T-y",)]


def test_the_watermarks_keep_no_readable_id(db_dsn: str, agno_data: Path) -> None:
    code, _, err = run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    assert code == 0, err
    with psycopg.connect(db_dsn) as conn:
        anchors = [r[0] for r in conn.execute("SELECT anchor_key FROM import_watermarks")]
        ids = {
            r[0]
            for r in conn.execute(
                "SELECT session_id FROM agent_sessions UNION SELECT session_id FROM team_sessions "
                "UNION SELECT session_id FROM user_sessions "
                "UNION SELECT id::text FROM user_memories"
            )
        }
    assert anchors and all(len(a) == 64 and a not in ids for a in anchors if a is not None)
    code, _, err = run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    assert code == 0 and "catch-up: rows past rowid" in err and "replaced?" not in err, err


def plain_key(path: Path, table: str, rowid: int) -> str:
    """The key of a source row as a watermark kept it before migration 0008."""
    with sqlite3.connect(next(path.parent.rglob(path.name))) as conn:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        key = "session_id" if "session_id" in columns else "id"
        return str(
            conn.execute(f'SELECT "{key}" FROM "{table}" WHERE rowid = ?', [rowid]).fetchone()[0]
        )


def test_watermarks_written_before_0008_keep_working(db_dsn: str, agno_data: Path) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    migrations.rollback(db_dsn, to="0007.create-deferred-indexes")
    with psycopg.connect(db_dsn) as conn:  # as an import before 0008 left them: plain keys
        marks = conn.execute(
            "SELECT source_file, source_table, max_rowid FROM import_watermarks "
            "WHERE max_rowid IS NOT NULL"
        ).fetchall()
        assert marks
        for source_file, source_table, max_rowid in marks:
            conn.execute(
                "UPDATE import_watermarks SET anchor_key = %s "
                "WHERE source_file = %s AND source_table = %s",
                [
                    plain_key(agno_data / source_file, source_table, max_rowid),
                    source_file,
                    source_table,
                ],
            )
    assert migrations.apply(db_dsn)[0] == "0008.guard-erasure"  # then the later ones
    with psycopg.connect(db_dsn) as conn:
        anchors = [r[0] for r in conn.execute("SELECT anchor_key FROM import_watermarks")]
    assert all(len(a) == 64 for a in anchors if a is not None)
    code, _, err = run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    assert code == 0 and "catch-up: rows past rowid" in err and "replaced?" not in err, err


# --- item 2: interaction_patterns -----------------------------------------------------------------


def test_no_erased_id_enters_user_ids_whoever_writes_it(db: Database, db_dsn: str) -> None:
    for user in ("u-1", "u-2"):
        db.queries.record_pattern(
            pattern_type="shared", pattern_data={"p": 1}, user_id=user, business_unit=None
        )
    forget_user(db, "u-1")
    # the hot path, after the erasure: an occurrence of u-1 alone is dropped ...
    assert (
        db.queries.record_pattern(
            pattern_type="shared", pattern_data={"p": 1}, user_id="u-1", business_unit=None
        )
        is None
    )
    assert (
        db.queries.record_pattern(
            pattern_type="new", pattern_data={"p": 2}, user_id="u-1", business_unit=None
        )
        is None
    )
    with psycopg.connect(db_dsn) as conn:  # ... and any other writer loses u-1's id
        conn.execute("UPDATE interaction_patterns SET user_ids = user_ids || '{u-1,u-3}'")
        conn.execute(
            "INSERT INTO interaction_patterns (pattern_type, pattern_data, user_ids) "
            "VALUES ('other', '{\"p\": 3}', '{u-1,u-4}')"
        )
        stored = conn.execute(
            "SELECT pattern_type, user_ids, occurrence_count FROM interaction_patterns "
            "ORDER BY pattern_type"
        ).fetchall()
    assert stored == [("other", ["u-4"], 1), ("shared", ["u-2", "u-3"], 2)]


def test_patterns_that_name_a_user_go_with_it(db: Database, db_dsn: str) -> None:
    db.queries.record_pattern(
        pattern_type="about", pattern_data={"seen": ["u-1"]}, user_id="u-2", business_unit=None
    )
    db.queries.record_pattern(
        pattern_type="about", pattern_data={"seen": ["u-5"]}, user_id="u-2", business_unit=None
    )
    removed = forget_user(db, "u-1")
    assert removed["interaction_patterns_deleted"] == 1
    assert (
        db.queries.record_pattern(  # named again after the erasure: not written
            pattern_type="about",
            pattern_data={"again": {"who": "u-1"}},
            user_id="u-2",
            business_unit=None,
        )
        is None
    )
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute("SELECT pattern_data FROM interaction_patterns").fetchall()
    assert left == [({"seen": ["u-5"]},)]


def test_pattern_data_holding_a_personal_key_is_refused(db: Database, db_dsn: str) -> None:
    with pytest.raises(QueryError) as refused:
        db.queries.record_pattern(
            pattern_type="intent",
            pattern_data={"intent": "pix", "contact": {"CPF": "123.456.789-00"}},
            user_id="u-1",
            business_unit=None,
        )
    assert refused.value.sqlstate == "23514"
    assert "pattern_data of a intent pattern holds the personal key 'CPF'" in str(refused.value)
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM interaction_patterns").fetchone() == (0,)


# --- issue 21: an id with no rows ----------------------------------------------------------------


def test_forget_user_of_an_id_with_no_rows_records_nothing_unless_asked(db_dsn: str) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    code, out, err = run("forget-user", "u-l", "--dsn", db_dsn, "--yes")  # a typo of u-1
    assert code == 1 and out == ""
    assert "nothing found for user 'u-l'" in err and "nothing was erased or recorded" in err
    assert "--record-anyway" in err
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM erased_ids").fetchone() == (0,)
    code, out, err = run("forget-user", "u-l", "--dsn", db_dsn, "--yes", "--record-anyway")
    assert code == 0, err
    assert out.splitlines()[-1] == "recorded user 'u-l' as erased: no row of it was found"
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT is_erased('u-l', NULL)").fetchone() == (True,)
        assert conn.execute("SELECT is_erased('u-1', NULL)").fetchone() == (False,)
    code, out, _ = run("forget-user", "u-l", "--dsn", db_dsn, "--yes")  # again: said so
    assert (code, out) == (0, "user 'u-l' was erased before; nothing of it is left\n")


# --- item 5: export-user streams ------------------------------------------------------------------


class Watched:
    """A file that, at the first row of agent_sessions, looks at the export's statement."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.parts, self.seen = dsn, [], None

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        if self.seen is None and b'"agent_sessions": [' in b"".join(self.parts[-2:]):
            self.seen = "waiting for the first row"
        elif self.seen == "waiting for the first row":
            self.seen = backend_of(self.dsn, "exporting")
        return len(data)


def test_export_user_streams_row_by_row(db_dsn: str) -> None:
    seed_user(db_dsn, "u-1", "s-1")
    with psycopg.connect(db_dsn) as conn:  # 40 MB of u-1's agent rows, more than any buffer
        conn.execute(
            "INSERT INTO agent_sessions (session_id, agent_id, user_id, messages) "
            "SELECT 's-1', 'agent-' || i, 'u-1', "
            "jsonb_build_array(jsonb_build_object('content', repeat(md5(i::text), 6250))) "
            "FROM generate_series(1, 200) i"
        )
    out = Watched(db_dsn)
    with Database.open(make_conninfo(db_dsn, application_name="exporting"), max_size=1) as db:
        counts = export_user(db, "u-1", out)  # type: ignore[arg-type]
    assert isinstance(out.seen, dict)
    # the first row was written while the server was still sending the table: streamed
    assert out.seen["state"] == "active" and out.seen["query"].startswith("COPY (")
    assert max(len(part) for part in out.parts) < 300_000  # one row at a time
    document = json.loads(b"".join(out.parts))
    assert list(document) == ["user_id", "exported_at", *(key for key, _ in EXPORTED)]
    assert counts == {key: len(document[key]) for key, _ in EXPORTED}
    assert counts["agent_sessions"] == 201 and document["user_id"] == "u-1"
    assert document["interaction_patterns"][0]["user_ids"] == ["u-1"]


def test_export_user_of_nothing_is_an_empty_document(db: Database) -> None:
    document = exported(db, "nobody")
    assert document["user_id"] == "nobody"
    assert all(document[key] == [] for key, _ in EXPORTED)
