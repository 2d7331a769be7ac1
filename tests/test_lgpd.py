"""LGPD: export-user shows the user's own data only, and an erased user stays erased: a
re-import of the old SQLite files, a dual write and a writer racing the erasure all leave it
out. The tables are checked directly, not through the statements that erased."""

import threading
from pathlib import Path

import psycopg

from pagbank_pg import Database
from pagbank_pg.agno import PostgresManager
from pagbank_pg.lgpd import forget_user

from .helpers import agent, exported, mentions, run, wait_for, waiting_on


def sessions_of(dsn: str, user: str) -> list[str]:
    """The session ids that hold the user's rows, read straight from the tables."""
    with psycopg.connect(dsn) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT session_id FROM user_sessions WHERE user_id = %(u)s "
                "UNION SELECT session_id FROM team_sessions WHERE user_id = %(u)s "
                "UNION SELECT session_id FROM agent_sessions WHERE user_id = %(u)s",
                {"u": user},
            )
        ]


def test_export_user_shows_no_other_customers_id(db: Database) -> None:
    for user in ("u-1", "u-2"):
        db.queries.record_pattern(
            pattern_type="shared", pattern_data={"p": 1}, user_id=user, business_unit=None
        )
    (pattern,) = exported(db, "u-1")["interaction_patterns"]
    assert pattern["user_ids"] == ["u-1"] and pattern["occurrence_count"] == 2


def first_user(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return str(conn.execute("SELECT min(user_id) FROM user_sessions").fetchone()[0])


def test_a_reimport_of_the_old_files_does_not_bring_an_erased_user_back(
    db_dsn: str, agno_data: Path
) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    user = first_user(db_dsn)
    sessions = sessions_of(db_dsn, user)
    assert mentions(db_dsn, user, sessions)
    code, _, err = run("forget-user", user, "--dsn", db_dsn, "--yes")
    assert code == 0 and "erasure reaches PostgreSQL only" in err, err
    assert mentions(db_dsn, user, sessions) == {}
    code, _, err = run("import-sqlite", str(agno_data), "--dsn", db_dsn)  # the cutover's catch-up
    assert code == 0, err
    assert "row(s) of erased users passed over (LGPD)" in err
    assert mentions(db_dsn, user, sessions) == {}
    with psycopg.connect(db_dsn) as conn:  # no readable id is kept
        assert conn.execute("SELECT count(*) FROM erased_ids").fetchone()[0] >= 2
        assert conn.execute(
            "SELECT count(*) FROM erased_ids WHERE strpos(encode(id_hash, 'escape'), %s) > 0",
            [user],
        ).fetchone() == (0,)


def test_a_dual_write_of_an_old_session_is_passed_over_and_counted(db_dsn: str) -> None:
    with PostgresManager(db_dsn, max_size=2) as manager:
        storage = manager.get_agent_storage()
        bot = agent(storage, "pix")
        bot.run("oi", session_id="s-old", user_id="u-1")
        old = storage.read("s-old")
        forget_user(manager.db, "u-1")
        assert storage.upsert(old) is None  # a replica in flight writes the old session back
        assert storage.erased_skipped == 1
        assert mentions(db_dsn, "u-1", ["s-old"]) == {}
        agent(storage, "pix").run("voltei", session_id="s-new", user_id="u-1")
        assert storage.erased_skipped == 2  # an erased user id stays erased
        assert mentions(db_dsn, "u-1", ["s-old", "s-new"]) == {}


def test_an_append_racing_the_erasure_cannot_recreate_the_session(
    db: Database, db_dsn: str
) -> None:
    db.queries.create_user_session(
        session_id="s-1", user_id="u-1", team_id="ana", session_context=None, metadata=None
    )
    db.queries.append_agent_messages(session_id="s-1", agent_id="pix", messages=[{"x": 1}])
    forget_user(db, "u-1")
    # the app, not knowing, appends to the session again: the row would come back without a
    # user id
    db.queries.append_agent_messages(session_id="s-1", agent_id="pix", messages=[{"x": 2}])
    assert mentions(db_dsn, "u-1", ["s-1"]) == {}


def test_the_erasure_waits_for_a_writer_in_flight(db: Database, db_dsn: str) -> None:
    db.queries.record_pattern(
        pattern_type="shared", pattern_data={"p": 1}, user_id="u-2", business_unit=None
    )
    writer = psycopg.connect(db_dsn)  # a replica recording a pattern of u-1, not committed yet
    writer.execute(
        "UPDATE interaction_patterns SET user_ids = user_ids || '{u-1}' "
        "WHERE pattern_type = 'shared'"
    )
    erasing = threading.Thread(target=forget_user, args=(db, "u-1"), kwargs={"record_anyway": True})
    erasing.start()
    wait_for(  # the erasure waits for the writer, not erasing around it
        lambda: waiting_on(db_dsn, writer.info.backend_pid) == 1 or not erasing.is_alive(),
        what="the erasure waiting for the writer's lock",
    )
    assert erasing.is_alive() and waiting_on(db_dsn, writer.info.backend_pid) == 1
    writer.commit()
    writer.close()
    erasing.join(timeout=15)
    assert not erasing.is_alive()
    assert mentions(db_dsn, "u-1") == {}
    (shared,) = exported(db, "u-2")["interaction_patterns"]
    assert shared["occurrence_count"] == 1
