"""LGPD at scale: how long other customers' writes wait while an erasure runs beside 200,000
rows per table of other users (it waits for a writer of the erased user that holds its
transaction for a second); the erasure's statement against the form it replaced; the client's
peak memory while export-user streams a 300 MB document.

    pytest bench/test_erasure.py --benchmark-only
"""

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from pagbank_pg import Database, load_queries
from pagbank_pg.lgpd import forget_user

from .conftest import fresh_database

OTHERS = 200_000
LOAD = f"""
INSERT INTO user_sessions (session_id, user_id)
SELECT 'o-' || i, 'other-' || i % 50000 FROM generate_series(1, {OTHERS}) i;
INSERT INTO agent_sessions (session_id, agent_id, user_id, messages)
SELECT 'o-' || i, 'pix', 'other-' || i % 50000, '[{{"role": "user", "content": "oi"}}]'
FROM generate_series(1, {OTHERS}) i;
INSERT INTO team_sessions (session_id, team_id, user_id)
SELECT 'o-' || i, 'ana', 'other-' || i % 50000 FROM generate_series(1, {OTHERS}) i;
INSERT INTO user_memories (user_id, memory)
SELECT 'other-' || i % 50000, 'prefere PIX' FROM generate_series(1, {OTHERS}) i;
INSERT INTO escalation_history (ticket_id, session_id, user_id)
SELECT 'T-' || i, 'o-' || i, 'other-' || i % 50000 FROM generate_series(1, {OTHERS}) i;
INSERT INTO user_sessions (session_id, user_id)
SELECT 'u1-' || i, 'u-1' FROM generate_series(1, 20) i;
INSERT INTO agent_sessions (session_id, agent_id, user_id)
SELECT 'u1-' || i, 'pix', 'u-1' FROM generate_series(1, 20) i;
INSERT INTO agent_sessions (session_id, agent_id)
SELECT 'u1-' || i, 'cartoes' FROM generate_series(1, 20) i;
INSERT INTO user_memories (user_id, memory) SELECT 'u-1', 'm' || i FROM generate_series(1, 20) i;
ANALYZE;
"""

# The erasure's delete of agent_sessions before migration 0008, for comparison.
OR_FORM = """
DELETE FROM agent_sessions
WHERE user_id = %(u)s OR session_id IN (
    SELECT session_id FROM user_sessions WHERE user_id = %(u)s
    UNION SELECT session_id FROM team_sessions WHERE user_id = %(u)s
    UNION SELECT session_id FROM agent_sessions WHERE user_id = %(u)s)
"""
ANY_FORM = (
    "DELETE FROM agent_sessions WHERE session_id = ANY(ARRAY(SELECT sessions_of_user(%(u)s)))"
)


def unrelated_writes(dsn: str, stop: threading.Event, waits: list[float]) -> None:
    """Another customer's turns, one after another, each timed, until `stop`."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        i = 0
        while not stop.is_set():
            i += 1
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    "UPDATE agent_sessions SET messages = messages || '[{\"x\": 1}]' "
                    "WHERE session_id = %s",
                    [f"o-{i % OTHERS + 1}"],
                )
                conn.execute(
                    "INSERT INTO user_memories (user_id, memory) VALUES (%s, 'nova')",
                    [f"other-{i}"],
                )
            waits.append(time.perf_counter() - started)


def test_other_writers_beside_an_erasure(benchmark: Any, bench_server: str) -> None:
    benchmark.group = "lgpd: erasure beside 200k rows per table"
    for dsn in fresh_database(bench_server):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(LOAD)
        waits: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=unrelated_writes, args=(dsn, stop, waits))
        writer.start()
        time.sleep(0.5)
        holder = psycopg.connect(dsn)  # a turn of u-1 in flight for a second
        holder.execute("INSERT INTO user_memories (user_id, memory) VALUES ('u-1', 'em voo')")
        threading.Timer(1.0, holder.commit).start()
        with Database.connect(dsn, max_size=2) as db:
            removed = benchmark.pedantic(forget_user, args=(db, "u-1"), rounds=1)
        time.sleep(0.5)
        stop.set()
        writer.join()
        holder.close()
        assert removed["agent_sessions"] == 40 and removed["user_memories"] == 21
        benchmark.extra_info["unrelated writes"] = len(waits)
        benchmark.extra_info["unrelated write max ms"] = round(max(waits) * 1000, 2)
        benchmark.extra_info["unrelated write median ms"] = round(
            sorted(waits)[len(waits) // 2] * 1000, 2
        )


def test_erasure_statement_or_form_against_any_form(benchmark: Any, bench_server: str) -> None:
    benchmark.group = "lgpd: erasure statement at 200k rows"
    for dsn in fresh_database(bench_server):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(LOAD)
        timings = {}
        with psycopg.connect(dsn) as conn:
            for name, statement in (("or_form", OR_FORM), ("any_form", ANY_FORM)):
                best = float("inf")
                for _ in range(5):
                    with conn.transaction(force_rollback=True):
                        (plan,) = conn.execute(
                            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, {"u": "u-1"}
                        ).fetchone()
                    best = min(best, plan[0]["Execution Time"])
                timings[name] = best
                benchmark.extra_info[f"{name} ms"] = round(best, 2)
            query = load_queries()["forget_user"]

            def whole(query: Any = query) -> None:
                with conn.transaction(force_rollback=True):
                    conn.execute(query.compiled.sql, query.bind({"user_id": "u-1"}))

            benchmark.pedantic(whole, rounds=5)


def test_export_user_peak_memory(benchmark: Any, bench_server: str, tmp_path: Path) -> None:
    benchmark.group = "lgpd: export-user of 300 MB"
    for dsn in fresh_database(bench_server):
        with psycopg.connect(dsn, autocommit=True) as conn:  # 3,000 rows of 100 KB each
            conn.execute(
                "INSERT INTO agent_sessions (session_id, agent_id, user_id, messages) "
                "SELECT 's-' || i % 300, 'agent-' || i, 'u-1', jsonb_build_array("
                "jsonb_build_object('content', repeat(md5(i::text), 3125))) "
                "FROM generate_series(1, 3000) i"
            )
        out = tmp_path / "u-1.json"
        measure = (
            "import resource, subprocess, sys;"
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        command = [sys.executable, "-c", measure, sys.executable, "-m", "pagbank_pg"]
        command += ["export-user", "u-1", "--dsn", dsn, "--out", str(out)]

        def export(command: list[str] = command) -> int:
            return int(subprocess.run(command, check=True, capture_output=True).stdout)

        peak_kib = benchmark.pedantic(export, rounds=1)
        size = out.stat().st_size
        assert size > 300_000_000
        benchmark.extra_info["export MB"] = round(size / 1e6, 1)
        benchmark.extra_info["client peak RSS MB"] = round(peak_kib / 1024, 1)
