"""The app's hot path, run by N concurrent clients, on PostgreSQL and on SQLite.

One turn of a customer conversation: touch the user session, append the turn's messages to
the agent session, record the interaction pattern. On PostgreSQL these are three named
statements through the pool; on SQLite, what PagBank did: one file, one connection per
writer, read-modify-write in Python inside a write transaction.

    python -m bench.workload postgres DSN CLIENTS TURNS    # prints JSON: turns/s, p50, p99, RSS
    python -m bench.workload sqlite FILE CLIENTS TURNS
"""

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from statistics import quantiles
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported only by the PostgreSQL client, so each client holds its own only
    from pagbank_pg import Database

INTENTS = ("pix", "cartao", "limite", "investimento", "atendente")


def _message(client: int, turn: int) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"Cliente {client}: quero ajuda com {INTENTS[turn % 5]}"},
        {"role": "assistant", "content": "Claro! Vou verificar para você."},
    ]


def postgres_turn(db: "Database") -> Callable[[int, int], None]:
    def turn(client: int, number: int) -> None:
        db.queries.touch_user_session(session_id=f"s-{client}", context={"turn": number})
        db.queries.append_agent_messages(
            session_id=f"s-{client}", agent_id="pix", messages=_message(client, number)
        )
        db.queries.record_pattern(
            pattern_type="intent",
            pattern_data={"intent": INTENTS[number % 5]},
            user_id=f"u-{client}",
            business_unit="conta_digital",
        )

    return turn


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
    team_id TEXT, created_at TEXT NOT NULL, last_activity TEXT NOT NULL,
    interaction_count INTEGER DEFAULT 0, session_context TEXT, is_active BOOLEAN DEFAULT 1,
    metadata TEXT);
CREATE TABLE IF NOT EXISTS agent_sessions (session_id VARCHAR PRIMARY KEY, user_id VARCHAR,
    memory JSON, session_data JSON, extra_data JSON, created_at INTEGER, updated_at INTEGER,
    agent_id VARCHAR, agent_data JSON, team_session_id VARCHAR);
CREATE TABLE IF NOT EXISTS interaction_patterns (pattern_type TEXT, pattern_data TEXT,
    occurrence_count INTEGER, user_ids TEXT, PRIMARY KEY (pattern_type, pattern_data));
"""


def sqlite_turn(path: str) -> Callable[[int, int], None]:
    local = threading.local()

    def conn() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        return local.conn  # type: ignore[no-any-return]

    def turn(client: int, number: int) -> None:
        db = conn()
        now = datetime.now().isoformat()
        db.execute("BEGIN IMMEDIATE")  # the session manager: read, merge, write
        row = db.execute(
            "SELECT session_context, interaction_count FROM sessions WHERE session_id = ?",
            (f"s-{client}",),
        ).fetchone()
        context = {**json.loads(row[0] or "{}"), "turn": number}
        db.execute(
            "UPDATE sessions SET last_activity = ?, interaction_count = ?, session_context = ? "
            "WHERE session_id = ?",
            (now, row[1] + 1, json.dumps(context), f"s-{client}"),
        )
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")  # Agno's storage: read the session, add the run, upsert
        found = db.execute(
            "SELECT memory FROM agent_sessions WHERE session_id = ?", (f"s-{client}",)
        ).fetchone()
        memory = json.loads(found[0]) if found else {"runs": []}
        memory["runs"].append({"messages": _message(client, number)})
        db.execute(
            "INSERT OR REPLACE INTO agent_sessions (session_id, memory, agent_id, updated_at) "
            "VALUES (?, ?, 'pix', ?)",
            (f"s-{client}", json.dumps(memory), int(time.time())),
        )
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")  # the pattern counter
        key = json.dumps({"intent": INTENTS[number % 5]})
        pattern = db.execute(
            "SELECT occurrence_count, user_ids FROM interaction_patterns "
            "WHERE pattern_type = 'intent' AND pattern_data = ?",
            (key,),
        ).fetchone()
        users = sorted({*json.loads(pattern[1] if pattern else "[]"), f"u-{client}"})
        db.execute(
            "INSERT OR REPLACE INTO interaction_patterns VALUES ('intent', ?, ?, ?)",
            (key, (pattern[0] if pattern else 0) + 1, json.dumps(users)),
        )
        db.execute("COMMIT")

    return turn


def prepare_postgres(db: "Database", clients: int) -> None:
    for client in range(clients):
        db.queries.create_user_session(
            session_id=f"s-{client}", user_id=f"u-{client}", team_id="ana",
            session_context=None, metadata=None,
        )  # fmt: skip


def prepare_sqlite(path: str, clients: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_SCHEMA)
    now = datetime.now().isoformat()
    conn.executemany(
        "INSERT INTO sessions (session_id, user_id, created_at, last_activity) VALUES (?,?,?,?)",
        [(f"s-{c}", f"u-{c}", now, now) for c in range(clients)],
    )
    conn.commit()
    conn.close()


def run(turn: Callable[[int, int], None], clients: int, turns: int) -> dict[str, float]:
    """`turns` turns in each of `clients` threads at once: throughput and latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        mine = []
        start.wait()
        for turn_number in range(turns):
            began = time.perf_counter()
            turn(number, turn_number)
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cuts = quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "clients": clients,
        "turns": len(latencies),
        "turns_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    process that started it)."""
    status = Path("/proc/self/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(kb / 1024, 1)


def main(argv: list[str]) -> None:
    backend, where, clients, turns = argv[0], argv[1], int(argv[2]), int(argv[3])
    if backend == "postgres":
        from pagbank_pg import Database

        with Database.open(where, min_size=clients, max_size=clients) as db:
            prepare_postgres(db, clients)
            result = run(postgres_turn(db), clients, turns)
    else:
        prepare_sqlite(where, clients)
        result = run(sqlite_turn(where), clients, turns)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
