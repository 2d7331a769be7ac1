"""Replicas migrating at once, migrations slower than yoyo's lock wait, and SIGKILL."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from .helpers import APPLIED_LINES, MIGRATION_IDS, REPO, wait_for

REAL = sorted((REPO / "sql" / "migrations").glob("*.sql"))


def migrate(dsn: str, folder: Path | None = None, **env: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "pagbank_pg", "migrate", "--dsn", dsn]
    if folder:
        args += ["--migrations", str(folder)]
    return subprocess.Popen(
        args,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def with_extra(folder: Path, name: str, sql: str) -> Path:
    for source in REAL:
        shutil.copy(source, folder / source.name)
    (folder / name).write_text(sql)
    return folder


def history(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT migration_id, operation FROM _yoyo_log ORDER BY created_at_utc"
        ).fetchall()


def test_replicas_started_together_apply_each_migration_once(empty_dsn: str) -> None:
    runs = [migrate(empty_dsn) for _ in range(6)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * 6, outputs
    applied = [
        line for out, _ in outputs for line in out.splitlines() if line.startswith("applied")
    ]
    assert sorted(applied) == APPLIED_LINES
    assert history(empty_dsn) == [(mid, "apply") for mid in MIGRATION_IDS]


def test_replicas_wait_for_a_migration_slower_than_yoyos_lock_wait(
    empty_dsn: str, tmp_path: Path
) -> None:
    folder = with_extra(
        tmp_path,
        "0009.slow.sql",
        "CREATE TABLE slow_one (id int);\nDO $$ BEGIN PERFORM pg_sleep(12); END $$;\n",
    )
    first = migrate(empty_dsn, folder)
    wait_for(lambda: sleeping(empty_dsn, "pg_sleep(12)"), timeout=30, what="the slow migration")
    others = [migrate(empty_dsn, folder) for _ in range(3)]
    outputs = [run.communicate(timeout=120) for run in [first, *others]]
    assert [run.returncode for run in [first, *others]] == [0] * 4, outputs
    assert [op for op in history(empty_dsn) if op[0] == "0009.slow"] == [("0009.slow", "apply")]


SLEEPY = (
    "CREATE TABLE sleepy (id int);\n"
    "DO $$ BEGIN PERFORM pg_sleep(CASE current_setting('pagbank.test_sleep', true) "
    "WHEN 'on' THEN 600 ELSE 0 END); END $$;\n"
)


def sleeping(dsn: str, statement: str = "pg_sleep(CASE") -> bool:
    """A migration is running its sleep (its statement holds `statement`)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE strpos(query, %s) > 0 "
                "AND state = 'active' AND pid <> pg_backend_pid()",
                [statement],
            ).fetchone()
        )


def test_sigkill_during_a_migration_leaves_no_lock_and_no_half_migration(
    empty_dsn: str, tmp_path: Path
) -> None:
    folder = with_extra(tmp_path, "0009.sleepy.sql", SLEEPY)
    victim = migrate(empty_dsn, folder, PGOPTIONS="-c pagbank.test_sleep=on")
    wait_for(lambda: sleeping(empty_dsn), timeout=30, what="the migration sleeping")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (1,)  # left behind

    rerun = migrate(empty_dsn, folder)
    out, err = rerun.communicate(timeout=60)  # not stuck: the dead run's lock is gone
    assert rerun.returncode == 0, err
    assert out.splitlines()[0] == "applied 0009.sleepy"
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM sleepy").fetchone() == (0,)
    assert [op for op in history(empty_dsn) if op[0] == "0009.sleepy"] == [("0009.sleepy", "apply")]
