"""The cutover's catch-up: a second import-sqlite after the app changed a share of the
sessions, against the share (0.1%, 1%, 10%) and the size of the file, next to a full import
of the same file. The downtime of a cutover is the catch-up's time.

    pytest bench/test_catchup_speed.py --benchmark-only            # 10,000 sessions
    pytest bench/test_catchup_speed.py --benchmark-only --full     # 100,000 sessions

The file: Agno-written agent sessions under new ids, written over past weeks (ten seconds
apart); a changed session gets one more message in its last run and Agno's updated_at."""

import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from tests.agno_files import write_agno_files

from .conftest import fresh_database
from .test_import_speed import timed


def agent_sessions_file(folder: Path, sessions: int) -> Path:
    """A pagbank.db whose agent_sessions holds `sessions` Agno-written sessions."""
    data = write_agno_files(folder / "agno", sessions=70)
    big = folder / "pagbank.db"
    conn = sqlite3.connect(big)
    conn.execute("ATTACH ? AS src", (str(data / "pagbank.db"),))
    ddl = conn.execute("SELECT sql FROM src.sqlite_master WHERE name = 'agent_sessions'")
    conn.execute(ddl.fetchone()[0])
    columns = [r[1] for r in conn.execute("PRAGMA src.table_info(agent_sessions)")]
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM src.agent_sessions").fetchall()
    marks = ", ".join("?" for _ in columns)
    start = int(time.time()) - 10 * sessions - 3600
    at = {c: i for i, c in enumerate(columns)}
    made = []
    for n in range(sessions):
        row = list(rows[n % len(rows)])
        row[at["session_id"]] = str(uuid.uuid4())
        row[at["created_at"]], row[at["updated_at"]] = start + 10 * n, None
        made.append(row)
        if len(made) == 5000 or n == sessions - 1:
            conn.executemany(f"INSERT INTO agent_sessions VALUES ({marks})", made)
            made = []
    conn.commit()
    conn.close()
    return big


def change(file: Path, share: float) -> int:
    """The app's writes since the import: `share` of the sessions get one more message."""
    conn = sqlite3.connect(file)
    total = conn.execute("SELECT count(*) FROM agent_sessions").fetchone()[0]
    step = max(1, round(1 / share))
    changed = 0
    for rowid, memory in conn.execute(
        "SELECT rowid, memory FROM agent_sessions WHERE rowid % ? = 0", (step,)
    ).fetchall():
        value = orjson.loads(memory)
        runs = value.get("runs") or []
        if runs and isinstance(runs[-1], dict) and isinstance(runs[-1].get("messages"), list):
            runs[-1]["messages"].append(
                {"role": "user", "content": "e agora?", "from_history": False}
            )
        conn.execute(
            "UPDATE agent_sessions SET memory = ?, updated_at = ? WHERE rowid = ?",
            (orjson.dumps(value).decode(), int(time.time()), rowid),
        )
        changed += 1
    conn.commit()
    conn.close()
    assert changed == total // step
    return changed


@pytest.fixture(scope="module")
def base_sessions(full: bool) -> int:
    return 100_000 if full else 10_000


@pytest.mark.parametrize(("size", "share"), [(1, 0.001), (1, 0.01), (1, 0.1), (0.25, 0.01)])
def test_catch_up(
    benchmark: Any,
    bench_server: str,
    base_sessions: int,
    size: float,
    share: float,
    tmp_path: Path,
) -> None:
    sessions = int(base_sessions * size)
    benchmark.group = f"catch-up: {sessions:,} sessions"
    file = agent_sessions_file(tmp_path, sessions)
    for dsn in fresh_database(bench_server, migrate=True):
        args = [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(file), "--dsn", dsn,
                "--reject-file", str(tmp_path / "rejects.jsonl")]  # fmt: skip
        full_seconds = timed(args, dsn).seconds
        changed = change(file, share)
        run = benchmark.pedantic(timed, args=(args, dsn), rounds=1, iterations=1)
        seconds, peak = run.seconds, run.peak_kb
        with psycopg.connect(dsn) as conn:  # the right answer, not only a fast one
            moved = conn.execute(
                "SELECT count(*) FROM agent_sessions WHERE messages @> "
                """'[{"content": "e agora?"}]'"""
            ).fetchone()[0]
        assert moved >= changed
        benchmark.extra_info.update(
            sessions=sessions,
            changed=changed,
            share=share,
            catch_up_seconds=round(seconds, 2),
            full_import_seconds=round(full_seconds, 2),
            share_of_full=round(seconds / full_seconds, 3),
            peak_rss_mb=peak // 1024,
            file_mb=round(file.stat().st_size / 1e6),
        )
