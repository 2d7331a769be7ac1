"""A DBA using yoyo itself gets the schema our CLI gives, and yoyo and our CLI agree."""

import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from pagbank_pg.schema import migrations

from .helpers import MIGRATION_IDS, REPO, snapshot

YOYO = str(Path(sys.executable).with_name("yoyo"))


def yoyo_url(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@/{params['dbname']}"
        f"?host={params['host']}&port={params.get('port', '5432')}"
    )


def yoyo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [YOYO, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_yoyo_apply_gives_the_same_schema_as_pagbank_pg(empty_dsn: str, db_dsn: str) -> None:
    # yoyo.ini interpolates DATABASE_URL even when --database is given, and --database wins
    done = yoyo(
        "apply",
        "--batch",
        "--database",
        yoyo_url(empty_dsn),
        "sql/migrations",
        env={"DATABASE_URL": "postgresql+psycopg://nobody@/elsewhere"},
    )
    assert done.returncode == 0, done.stderr
    assert snapshot(empty_dsn) == snapshot(db_dsn)
    # our CLI reads yoyo's history: nothing left to apply
    assert migrations.apply(empty_dsn) == []


def test_yoyo_ini_reads_database_url(db_dsn: str) -> None:
    env = {"DATABASE_URL": yoyo_url(db_dsn)}
    listed = yoyo("list", "--batch", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[:2] for line in listed.stdout.splitlines()[2:]]
    assert rows == [["A", mid] for mid in MIGRATION_IDS]
    search = "0009.create-memory-search"  # yoyo rolls back that one alone
    assert ("function", "search_folded") in snapshot(db_dsn)["objects"]  # 0009's
    rolled = yoyo("rollback", "--batch", "--revision", search, env=env)
    assert rolled.returncode == 0, rolled.stderr
    assert ("function", "search_folded") not in snapshot(db_dsn)["objects"]
    states = migrations.status(db_dsn)
    assert [(s.id, s.applied_at is None) for s in states] == [
        (mid, mid == search) for mid in MIGRATION_IDS
    ]
