"""`pagbank-pg health` and `health.check`: the node's role, pending migrations, the pool; the
exit code a readiness probe reads."""

import json

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pagbank_pg import Database
from pagbank_pg.conninfo import describe
from pagbank_pg.health import check

from .helpers import MIGRATION_IDS, closed_port, run


def test_a_migrated_primary_is_ready(db_dsn: str) -> None:
    code, out, err = run("health", "--dsn", db_dsn)
    assert code == 0, err
    assert ": primary (PostgreSQL " in out and "migrations: up to date" in out
    code, out, _ = run("health", "--dsn", db_dsn, "--json")
    found = json.loads(out)
    assert code == 0 and found["ready"] is True and found["role"] == "primary"
    assert found["pending_migrations"] == [] and found["standbys"] == []


def test_pending_migrations_make_it_not_ready(empty_dsn: str) -> None:
    code, out, _ = run("health", "--dsn", empty_dsn, "--json")
    assert code == 1 and json.loads(out)["pending_migrations"] == MIGRATION_IDS


def test_an_unreachable_server_is_one_line_and_not_ready() -> None:
    code, _, err = run("health", "--dsn", "postgresql://ai:hunter2@127.0.0.1:1/ai")
    assert code == 1 and "could not connect to ai@127.0.0.1:1/ai" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_the_app_reads_the_same_with_its_pool(db_dsn: str) -> None:
    with Database.open(db_dsn, min_size=2, max_size=4) as db:
        found = check(db_dsn, db)
    assert found.ready and found.pool["pool_max"] == 4 and found.pool["pool_size"] == 2


def test_each_read_replica_is_shown_and_one_that_is_down_does_not_fail_readiness(
    db_dsn: str,
) -> None:
    port = closed_port()
    both = make_conninfo(db_dsn, host="127.0.0.1,127.0.0.1", port=f"{port},{port}")
    code, out, err = run("health", "--dsn", db_dsn, "--replica-dsn", db_dsn)
    assert code == 0, err
    assert f"read replica {describe(db_dsn)}: primary, no lag reported" in out
    code, out, _ = run("health", "--dsn", db_dsn, "--replica-dsn", both, "--json")
    replicas = json.loads(out)["replicas"]
    assert code == 0 and [r["reachable"] for r in replicas] == [False, False]
    assert replicas[0]["node"].endswith(f"127.0.0.1:{port}/{conninfo_to_dict(db_dsn)['dbname']}")


def test_the_app_sees_its_replica_pool_and_where_its_reads_went(db_dsn: str) -> None:
    with Database.open(db_dsn, max_size=2, replica_dsn=db_dsn) as db:
        assert db.queries.get_user_session(session_id="none") is None
        found = check(db_dsn, db, replica_dsn=db_dsn)
    assert found.reads == {"replica": 1} and found.replica_pool["pool_max"] == 2
    assert found.replicas[0]["role"] == "primary" and found.replicas[0]["lag_seconds"] is None


def test_indexes_an_interrupted_import_left_missing_make_it_not_ready(db_dsn: str) -> None:
    import psycopg

    with psycopg.connect(db_dsn) as conn:  # what a first import killed mid-load leaves
        deferred = [r[0] for r in conn.execute("SELECT defer_secondary_indexes('agent_sessions')")]
    assert deferred
    code, out, _ = run("health", "--dsn", db_dsn)
    assert code == 1
    assert (
        f"indexes: {len(deferred)} missing, deferred by an interrupted import "
        f"({', '.join(deferred)}): run import-sqlite again, or pagbank-pg migrate"
    ) in out
    code, out, _ = run("health", "--dsn", db_dsn, "--json")
    found = json.loads(out)
    assert code == 1 and found["ready"] is False and found["deferred_indexes"] == deferred
    assert found["import_running"] is False
    assert run("migrate", "--dsn", db_dsn)[0] == 0
    code, out, _ = run("health", "--dsn", db_dsn)
    assert code == 0 and "indexes: complete" in out
