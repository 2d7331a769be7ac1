"""`pagbank-pg health` and `health.check`: the node's role, pending migrations, the pool; the
exit code a readiness probe reads."""

import json

from pagbank_pg import Database
from pagbank_pg.health import check

from .helpers import MIGRATION_IDS, run


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
    assert found.ready and found.pool["pool_max"] == 4 and found.pool["pool_size"] >= 2
