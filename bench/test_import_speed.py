"""import-sqlite against pgloader, loading the same Agno-format file into the same server:
rows/s and peak resident memory of each.

    pytest bench/test_import_speed.py --benchmark-only            # 20,000 sessions
    pytest bench/test_import_speed.py --benchmark-only --full     # 200,000 sessions

pgloader runs as the import issue asks: `prefetch rows = 1000` (it runs out of heap on real
Agno rows at its default), JSON cast to jsonb. It only copies the rows; import-sqlite maps
them (conversation, route-mode split, metadata) and upserts."""

import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.agno_files import write_agno_files

from .conftest import fresh_database


@pytest.fixture(scope="module")
def sessions(full: bool) -> int:
    return 200_000 if full else 20_000


@pytest.fixture(scope="module")
def agno_file(tmp_path_factory: pytest.TempPathFactory, sessions: int) -> Path:
    """An agent_sessions table of `sessions` rows: Agno-written sessions under new ids."""
    data = write_agno_files(tmp_path_factory.mktemp("agno"), sessions=70)
    big = tmp_path_factory.mktemp("big") / "pagbank.db"
    conn = sqlite3.connect(big)
    conn.execute("ATTACH ? AS src", (str(data / "pagbank.db"),))
    conn.execute(
        conn.execute("SELECT sql FROM src.sqlite_master WHERE name = 'agent_sessions'").fetchone()[
            0
        ]
    )
    columns = ", ".join(r[1] for r in conn.execute("PRAGMA src.table_info(agent_sessions)"))
    rows = conn.execute(f"SELECT {columns} FROM src.agent_sessions").fetchall()
    marks = ", ".join("?" for _ in rows[0])
    for start in range(0, sessions, len(rows)):
        batch = [(str(uuid.uuid4()), *row[1:]) for row in rows[: sessions - start]]
        conn.executemany(f"INSERT INTO agent_sessions VALUES ({marks})", batch)
    conn.commit()
    conn.close()
    return big


def timed(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident kB of a command: its whole process tree (worker
    processes included), sampled every 50 ms."""
    started = time.perf_counter()
    process = psutil.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    assert process.returncode == 0, out[-2000:] + err[-2000:]
    return seconds, peak // 1024


def pgloader_url(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host", "localhost")), params.get("port", "5432")
    where = f"unix:{host}:{port}" if host.startswith("/") else f"{host}:{port}"
    password = f":{params['password']}" if params.get("password") else ""
    return f"postgresql://{params.get('user', 'postgres')}{password}@{where}/{params['dbname']}"


def record(benchmark: Any, rows: int, seconds: float, peak_kb: int) -> None:
    benchmark.extra_info.update(
        rows=rows,
        seconds=round(seconds, 2),
        rows_per_s=round(rows / seconds),
        peak_rss_mb=peak_kb // 1024,
    )


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(
            conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
        )


@pytest.mark.benchmark(group="import")
def test_import_sqlite(
    benchmark: Any, bench_server: str, agno_file: Path, sessions: int, tmp_path: Path
) -> None:
    for dsn in fresh_database(bench_server, migrate=True):
        args = [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(agno_file), "--dsn", dsn,
                "--reject-file", str(tmp_path / "rejects.jsonl")]  # fmt: skip
        seconds, peak = benchmark.pedantic(timed, args=(args,), rounds=1, iterations=1)
        with psycopg.connect(dsn) as conn:  # the right answer, not only a fast one
            sources = conn.execute(
                "SELECT count(DISTINCT session_id) FROM agent_sessions"
            ).fetchone()[0]
        assert sources == sessions
        record(benchmark, sessions, seconds, peak)


@pytest.mark.benchmark(group="import")
def test_pgloader(
    benchmark: Any, bench_server: str, agno_file: Path, sessions: int, tmp_path: Path
) -> None:
    if shutil.which("pgloader") is None:
        pytest.fail("pgloader is not installed: apt-get install pgloader (.ci/run does)")
    for dsn in fresh_database(bench_server, migrate=False):
        command = tmp_path / "load.pgloader"
        command.write_text(
            f"LOAD DATABASE FROM sqlite://{agno_file} INTO {pgloader_url(dsn)}\n"
            "WITH include drop, create tables, create indexes, reset sequences, "
            "prefetch rows = 1000\nCAST type json to jsonb drop typemod;\n"
        )
        seconds, peak = benchmark.pedantic(timed, args=(["pgloader", str(command)],), rounds=1)
        assert count(dsn, "agent_sessions") == sessions
        record(benchmark, sessions, seconds, peak)
