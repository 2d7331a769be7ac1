"""SQLite files as PagBank's app leaves them, written by Agno 1.7's own SqliteStorage and
SqliteMemoryDb (and by plain sqlite3 for PagBank's session manager, as its code does).

Sessions are the real Agno sessions of the shared samples (written by Agno 1.7.12 running
agents and a route-mode team), given new ids, users and texts, and stored again through
Agno's storage classes."""

import copy
import json
import random
import shutil
import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agno.memory.v2.db.schema import MemoryRow
from agno.memory.v2.db.sqlite import SqliteMemoryDb
from agno.memory.v2.schema import UserMemory
from agno.storage.session.agent import AgentSession
from agno.storage.session.team import TeamSession
from agno.storage.sqlite import SqliteStorage

from pagbank_pg.transfer.kinds import KINDS

from .helpers import REPO

SAMPLES = REPO / "tests" / "data" / "agno-1.7"  # written by Agno 1.7.12 (shared/samples)
TEXTS = [
    "Quero fazer um PIX de R$ 1.234,56 para a Conceição",
    "Meu cartão foi bloqueado?! Não consigo comprar 😡",
    "Ele disse \"aspas\" e 'apóstrofos' e \\barras\\ e 100% de :param e $1 e %s",
    "你好, ¿qué tal? Привет — emoji 👍🏽 e acentuação: ação, pão, útil",
    "ISSO É INACEITÁVEL! QUERO FALAR COM UM HUMANO",
    "linha 1\nlinha 2\ttab\r\nfim",
]
PAGBANK_SESSIONS_DDL = """CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY,
user_id TEXT NOT NULL, team_id TEXT, created_at TEXT NOT NULL, last_activity TEXT NOT NULL,
interaction_count INTEGER DEFAULT 0, session_context TEXT, is_active BOOLEAN DEFAULT 1,
metadata TEXT)"""


def sample_rows(table: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(SAMPLES / "pagbank.db")
    conn.row_factory = sqlite3.Row
    rows = []
    for row in conn.execute(f"SELECT * FROM {table}"):
        values = dict(row)
        for column in ("memory", "session_data", "extra_data", "agent_data", "team_data"):
            if column in values and values[column] is not None:
                values[column] = json.loads(values[column])
        rows.append(values)
    conn.close()
    return rows


def _retext(value: Any, rng: random.Random) -> Any:
    """The value with every message content replaced by one of TEXTS."""
    if isinstance(value, dict):
        out = {k: _retext(v, rng) for k, v in value.items()}
        if isinstance(out.get("content"), str) and "role" in out:
            out["content"] = rng.choice(TEXTS)
        return out
    if isinstance(value, list):
        return [_retext(v, rng) for v in value]
    return value


def write_agno_files(folder: Path, sessions: int = 30, seed: int = 7) -> Path:
    """A PagBank data/ folder; returns it."""
    rng = random.Random(seed)
    data = folder / "data"
    (data / "memory").mkdir(parents=True, exist_ok=True)
    agents = SqliteStorage(
        table_name="agent_sessions", db_file=str(data / "pagbank.db"), mode="agent"
    )
    teams = SqliteStorage(table_name="team_sessions", db_file=str(data / "pagbank.db"), mode="team")
    agent_samples, team_samples = sample_rows("agent_sessions"), sample_rows("team_sessions")
    for i in range(sessions):
        session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        user = f"user-{i % 7:04d}"
        team = copy.deepcopy(team_samples[i % len(team_samples)])
        team.update(session_id=session_id, user_id=user, memory=_retext(team["memory"], rng))
        teams.upsert(TeamSession.from_dict(team))
        agent = copy.deepcopy(agent_samples[i % len(agent_samples)])
        agent.update(session_id=session_id, user_id=user, memory=_retext(agent["memory"], rng))
        if agent.get("team_session_id"):
            agent["team_session_id"] = session_id
        agents.upsert(AgentSession.from_dict(agent))
        if i % 3 == 0:  # a second write: updated_at set, as after a later run
            agent["session_data"] = {**agent["session_data"], "session_name": f"sessão {i}"}
            agents.upsert(AgentSession.from_dict(agent))
    for name, path in (
        ("pagbank_memories_dev", data / "memory" / "pagbank_memory_dev.db"),
        ("ana_user_memories", data / "ana_memory.db"),
    ):
        memories = SqliteMemoryDb(table_name=name, db_file=str(path))
        memories.create()
        for i in range(sessions):
            memory = UserMemory(
                memory=rng.choice(TEXTS),
                topics=rng.sample(["pix", "cartoes", "credito", "investimentos"], k=i % 3),
                input=rng.choice(TEXTS) if i % 2 else None,
                last_updated=datetime(2026, 11, 27, 15, 28, 52) + timedelta(seconds=i),
            )
            row_id = str(uuid.UUID(int=rng.getrandbits(128)))
            row = MemoryRow(id=row_id, user_id=f"user-{i % 7:04d}", memory=memory.to_dict())
            memories.upsert_memory(row)
    write_pagbank_sessions(data / "pagbank.db", sessions, rng)
    return data


def write_pagbank_sessions(path: Path, count: int, rng: random.Random) -> None:
    """Rows as PagBank's session manager writes them: INSERT OR REPLACE, local naive times."""
    conn = sqlite3.connect(path)
    conn.execute(PAGBANK_SESSIONS_DDL)
    for i in range(count):
        created = datetime(2025, 7, 8, 17, 32, 30, 581638) + timedelta(hours=i * 7, seconds=i)
        if i % 5 == 0:
            created = created.replace(microsecond=0)  # isoformat() then has no fraction
        if i == 1:
            created = datetime(2018, 11, 4, 0, 30, 0, 1)  # a time skipped by Brazil's old DST
        context = {"team_id": "cartoes", "message_length": i, "timestamp": created.isoformat(),
                   "last_query": rng.choice(TEXTS)}  # fmt: skip
        conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(uuid.UUID(int=rng.getrandbits(128))), f"user-{i % 7:04d}", "cartoes",
             created.isoformat(), (created + timedelta(minutes=22)).isoformat(), i,
             json.dumps(context), i % 2, json.dumps({"channel": "whatsapp"} if i % 4 else {})),
        )  # fmt: skip
    conn.commit()
    conn.close()


def big_copy(agno_data: Path, folder: Path, copies: int) -> Path:
    """The Agno-written files with each session repeated under new ids (still Agno's rows)."""
    shutil.copytree(agno_data, folder)
    conn = sqlite3.connect(folder / "pagbank.db")
    for table in ("agent_sessions", "team_sessions"):
        others = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")][1:]
        select = ", ".join(others)
        for n in range(1, copies):
            conn.execute(
                f"INSERT INTO {table} (session_id, {select}) "
                f"SELECT session_id || '#{n}', {select} FROM {table} "
                "WHERE instr(session_id, '#') = 0"
            )
    conn.commit()
    conn.close()
    return folder


def sample_agent_row() -> tuple[Any, ...]:
    """One agent session row as Agno 1.7 wrote it (the shared sample file), column for column."""
    with sqlite3.connect(SAMPLES / "pagbank.db") as conn:
        return tuple(conn.execute("SELECT * FROM agent_sessions LIMIT 1").fetchone())


# How much longer than a sample a session's conversation is, and how often: the mix of real
# PagBank files (about 12 KB a session on average, a few near 350 KB).
SIZE_MIX = ((1, 75), (4, 18), (12, 7))


def sized_agent_sessions(folder: Path, sessions: int, seed: int = 11) -> Path:
    """A pagbank.db whose agent_sessions holds `sessions` Agno-written sessions of SIZE_MIX's
    sizes: each length is a sample session whose runs were repeated, written by Agno's
    SqliteStorage, then copied under new ids."""
    rng = random.Random(seed)
    data = write_agno_files(folder / "agno", sessions=70)
    storage = SqliteStorage(
        table_name="agent_sessions", db_file=str(folder / "lengths.db"), mode="agent"
    )
    longer: dict[int, list[str]] = {}
    with sqlite3.connect(data / "pagbank.db") as conn:
        conn.row_factory = sqlite3.Row
        bases = [dict(r) for r in conn.execute("SELECT * FROM agent_sessions")]
    for times, _ in SIZE_MIX:
        for base in bases:
            row = {k: json.loads(v) if k in _JSON and v is not None else v for k, v in base.items()}
            runs = row["memory"].get("runs") or [] if isinstance(row["memory"], dict) else []
            if times > 1 and runs:
                row["memory"]["runs"] = [copy.deepcopy(r) for _ in range(times) for r in runs]
            row["session_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
            storage.upsert(AgentSession.from_dict(row))
            longer.setdefault(times, []).append(row["session_id"])
    big = folder / "pagbank.db"
    conn = sqlite3.connect(big)
    conn.execute("ATTACH ? AS src", (str(folder / "lengths.db"),))
    ddl = conn.execute("SELECT sql FROM src.sqlite_master WHERE name = 'agent_sessions'")
    conn.execute(ddl.fetchone()[0])
    columns = [r[1] for r in conn.execute("PRAGMA src.table_info(agent_sessions)")]
    by_id = {r[0]: r for r in conn.execute(
        f"SELECT session_id, {', '.join(columns)} FROM src.agent_sessions"
    )}  # fmt: skip
    at = columns.index("session_id")
    weights = [w for _, w in SIZE_MIX]
    made: list[list[Any]] = []
    marks = ", ".join("?" for _ in columns)
    for n in range(sessions):
        (times,) = rng.choices([t for t, _ in SIZE_MIX], weights)
        row = list(by_id[rng.choice(longer[times])][1:])
        row[at] = str(uuid.UUID(int=rng.getrandbits(128)))
        made.append(row)
        if len(made) == 2000 or n == sessions - 1:
            conn.executemany(f"INSERT INTO agent_sessions VALUES ({marks})", made)
            made = []
    conn.commit()
    conn.close()
    return big


_JSON = ("memory", "session_data", "extra_data", "agent_data", "team_data")


def hostile_files(folder: Path) -> Path:
    """One good row of each kind next to rows that used to crash every run of the import."""
    folder.mkdir()
    conn = sqlite3.connect(folder / "pagbank.db")
    conn.executescript(KINDS["agent"].ddl("agent_sessions"))
    conn.executescript(KINDS["memory"].ddl("pagbank_memories"))
    conn.executescript(KINDS["sessions"].ddl("sessions"))
    good = sample_agent_row()
    conn.execute("INSERT INTO agent_sessions VALUES (?,?,?,?,?,?,?,?,?,?)", good)
    deep = '{"runs": [], "deep": ' + "[" * 300 + "]" * 300 + "}"
    conn.execute(
        "INSERT INTO agent_sessions VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("too-deep", *good[1:2], deep, *good[3:]),
    )
    memories = [
        ("m-good", "{'memory': 'gosta de PIX', 'topics': ['pix']}"),
        ("m-huge-int", "{'memory': 'x', 'n': " + "9" * 40 + "}"),
        ("m-long", "{'memory': '" + "x" * (300 << 10) + "'}"),
    ]
    conn.executemany(
        "INSERT INTO pagbank_memories (id, user_id, memory) VALUES (?, 'u-1', ?)", memories
    )
    sessions = [
        ("s-good", "2026-01-02T03:04:05"),
        ("s-edge", "9999-12-31T23:00:00"),  # the edge of Python's datetime range
    ]
    conn.executemany(
        "INSERT INTO sessions (session_id, user_id, created_at, last_activity) "
        "VALUES (?, 'u-1', ?, ?)",
        [(sid, when, when) for sid, when in sessions],
    )
    conn.execute(
        "CREATE TABLE chats (session_id TEXT PRIMARY KEY, user_id TEXT, team_id TEXT, "
        "created_at TEXT, last_activity TEXT, interaction_count INTEGER, session_context TEXT, "
        "is_active BOOLEAN, metadata TEXT, "
        "shout TEXT GENERATED ALWAYS AS (upper(session_id)) VIRTUAL)"
    )
    conn.execute(
        "INSERT INTO chats (session_id, user_id, created_at, last_activity) "
        "VALUES ('c-1', 'u-1', '2026-01-02T03:04:05', '2026-01-02T03:04:05')"
    )
    conn.commit()
    conn.close()
    return folder
