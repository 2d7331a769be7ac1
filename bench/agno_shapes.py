"""A SQLite file of the shape PagBank's app writes, from real Agno 1.7 runs on an offline model:

* specialists (`Agent`) with their history replayed into each run (`add_history_to_messages`,
  the last 5 runs), so that each run repeats the earlier messages, and session summaries;
* a route-mode `Team` whose router forwards each turn to a specialist by a tool call, several
  specialists answering on one session: their runs land in one agent session row (the row of
  the session id), which the import splits into one row per specialist.

Conversations of a few lengths are run once each (Agno's own SqliteStorage writes them), then
copied under new session ids to the size asked: still the rows Agno wrote."""

import json
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from agno.agent import Agent
from agno.memory.v2.memory import Memory
from agno.memory.v2.summarizer import SessionSummarizer
from agno.models.response import ModelResponse
from agno.storage.sqlite import SqliteStorage
from agno.team import Team

from tests.agno_files import TEXTS
from tests.helpers import EchoModel

# Turns of a conversation, and how often: most sessions are short, a few long.
TURNS_MIX = ((1, 30), (2, 25), (3, 15), (5, 15), (8, 10), (16, 5))
TEAM_SHARE = 0.5  # of sessions, held by the route-mode team (the rest: one specialist)
SPECIALISTS = {"cartão": "emissao-specialist", "pix": "pagbank-specialist"}
DEFAULT_SPECIALIST = "adquirencia-specialist"
QUESTIONS = [
    *TEXTS,
    "Qual a taxa da maquininha para débito?",
    "Quanto cai na conta se eu vender R$ 500 no crédito em 3x?",
    "Quero aumentar o limite do meu cartão de crédito",
    "Recebi um pix errado, como devolvo?",
]


class RouterModel(EchoModel):
    """The offline model of the team's router: forwards to the specialist a word names."""

    def parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        messages = response["messages"]
        tools = [t.get("function", t).get("name") for t in response["tools"]]
        if "forward_task_to_member" in tools and messages[-1].role == "user":
            text = (messages[-1].get_content_string() or "").lower()
            member = next((m for w, m in SPECIALISTS.items() if w in text), DEFAULT_SPECIALIST)
            call = {"id": f"call-{uuid.uuid4().hex[:8]}", "type": "function",
                    "function": {"name": "forward_task_to_member",
                                 "arguments": f'{{"member_id": "{member}"}}'}}  # fmt: skip
            return ModelResponse(role="assistant", tool_calls=[call])
        return super().parse_provider_response(response, **kwargs)


class SummaryModel(EchoModel):
    """The offline model that writes session summaries (JSON, as the summarizer asks)."""

    def parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        users = [m for m in response["messages"] if m.role == "system"]
        text = users[0].get_content_string() if users else ""
        turns = text.count("User: ")
        summary = {"summary": f"O cliente fez {turns} pergunta(s) ao PagBank.", "topics": ["pix"]}
        return ModelResponse(role="assistant", content=json.dumps(summary))


def _specialist(agent_id: str, storage: SqliteStorage) -> Agent:
    return Agent(
        name=f"Especialista {agent_id}",
        agent_id=agent_id,
        model=EchoModel(),
        storage=storage,
        add_history_to_messages=True,
        num_history_runs=5,
        enable_session_summaries=True,
        memory=Memory(summarizer=SessionSummarizer(model=SummaryModel())),
        instructions=["Responda em português, com clareza.", "Nunca peça a senha do cliente."],
    )


def _team(agents: SqliteStorage, teams: SqliteStorage) -> Team:
    members = [_specialist(a, agents) for a in (*SPECIALISTS.values(), DEFAULT_SPECIALIST)]
    return Team(
        name="Ana - PagBank Assistant",
        team_id="ana-routing",
        mode="route",
        model=RouterModel(id="router-1"),
        members=members,  # type: ignore[arg-type]
        storage=teams,
        enable_agentic_context=True,
        add_history_to_messages=True,
        num_history_runs=3,
    )


def run_conversations(db_file: Path, seed: int = 23) -> dict[tuple[int, bool], list[str]]:
    """Run one team conversation and one specialist's conversation of each length of
    TURNS_MIX (a few of each) into `db_file`; the session ids by (turns, is a team's)."""
    rng = random.Random(seed)
    agents = SqliteStorage(table_name="agent_sessions", db_file=str(db_file), mode="agent")
    teams = SqliteStorage(table_name="team_sessions", db_file=str(db_file), mode="team")
    made: dict[tuple[int, bool], list[str]] = {}
    for turns, _ in TURNS_MIX:
        for _variant in range(3):
            for team in (True, False):
                session_id = str(uuid.UUID(int=rng.getrandbits(128)))
                user_id = f"user-{rng.randrange(10_000):05d}"
                specialist = rng.choice([*SPECIALISTS.values(), DEFAULT_SPECIALIST])
                bot: Any = _team(agents, teams) if team else _specialist(specialist, agents)
                for _ in range(turns):
                    bot.run(rng.choice(QUESTIONS), session_id=session_id, user_id=user_id)
                made.setdefault((turns, team), []).append(session_id)
    return made


def realistic_sessions(folder: Path, sessions: int, seed: int = 29) -> Path:
    """A pagbank.db holding `sessions` agent sessions (and the team sessions of those run by
    the team) of the shape above, copied under new ids from real runs."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = folder / "runs.db"
    made = run_conversations(runs)
    rng = random.Random(seed)
    big = folder / "pagbank.db"
    conn = sqlite3.connect(big)
    conn.execute("ATTACH ? AS src", (str(runs),))
    for table in ("agent_sessions", "team_sessions"):
        ddl = conn.execute("SELECT sql FROM src.sqlite_master WHERE name = ?", (table,))
        conn.execute(ddl.fetchone()[0])
    weights = [w for _, w in TURNS_MIX]
    columns = {
        t: [r[1] for r in conn.execute(f"PRAGMA src.table_info({t})")]
        for t in ("agent_sessions", "team_sessions")
    }
    rows = {
        t: {r[0]: list(r[1:]) for r in conn.execute(f"SELECT session_id, * FROM src.{t}")}
        for t in columns
    }
    pending: dict[str, list[list[Any]]] = {t: [] for t in columns}
    for n in range(sessions):
        (turns,) = rng.choices([t for t, _ in TURNS_MIX], weights)
        team = rng.random() < TEAM_SHARE
        source = rng.choice(made[(turns, team)])
        new_id = str(uuid.UUID(int=rng.getrandbits(128)))
        for table in columns if team else ("agent_sessions",):
            row = list(rows[table][source])
            row[columns[table].index("session_id")] = new_id
            pending[table].append(row)
        if n % 2000 == 1999 or n == sessions - 1:
            for table, made_rows in pending.items():
                marks = ", ".join("?" for _ in columns[table])
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", made_rows)
                made_rows.clear()
    conn.commit()
    conn.close()
    runs.unlink()
    return big
