"""Sessions and runs as Agno 2/3 build them, for the conformance tests."""

import json
import sqlite3
import time
from typing import Any

import psycopg
from agno.models.message import Message
from agno.run.agent import RunOutput
from agno.run.base import RunStatus
from agno.run.team import TeamRunOutput
from agno.session import AgentSession, TeamSession, WorkflowSession

from ..helpers import REPO

NOW = int(time.time())


def messages(question: str) -> list[Message]:
    return [
        Message(role="user", content=question),
        Message(role="assistant", content=f"R: {question}"),
    ]


def agent_run(
    run_id: str,
    agent_id: str = "pix",
    user_id: str | None = "cliente-1",
    session_id: str = "sessao-pix",
    status: RunStatus = RunStatus.completed,
    question: str | None = None,
) -> RunOutput:
    return RunOutput(
        run_id=run_id,
        agent_id=agent_id,
        user_id=user_id,
        session_id=session_id,
        status=status,
        messages=messages(question or f"pergunta {run_id}"),
        created_at=NOW,
    )


def team_run(run_id: str, team_id: str = "ana", session_id: str = "sessao-ana") -> TeamRunOutput:
    return TeamRunOutput(
        run_id=run_id,
        team_id=team_id,
        session_id=session_id,
        status=RunStatus.completed,
        messages=messages(f"pergunta {run_id}"),
        created_at=NOW,
    )


def agent_session(
    session_id: str = "sessao-pix",
    agent_id: str | None = "pix",
    user_id: str | None = "cliente-1",
    runs: int = 1,
    created_at: int = NOW,
    name: str | None = "Sessão PIX",
    **fields: Any,
) -> AgentSession:
    return AgentSession(
        session_id=session_id,
        agent_id=agent_id,
        user_id=user_id,
        session_data={"session_name": name, "chave": "valor"} if name else None,
        agent_data={"name": "Especialista PIX", "model": "echo-1"},
        metadata={"canal": "whatsapp"},
        runs=[
            agent_run(f"{session_id}-run-{i}", agent_id or "pix", user_id, session_id)
            for i in range(runs)
        ],
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


def team_session(
    session_id: str = "sessao-ana",
    team_id: str = "ana",
    user_id: str | None = "cliente-1",
    runs: int = 1,
    created_at: int = NOW,
    **fields: Any,
) -> TeamSession:
    return TeamSession(
        session_id=session_id,
        team_id=team_id,
        user_id=user_id,
        session_data={"session_name": "Sessão Ana", "chave": "valor"},
        team_data={"name": "Ana - PagBank Assistant", "model": "router-1"},
        metadata={"canal": "app"},
        runs=[team_run(f"{session_id}-run-{i}", team_id, session_id) for i in range(runs)],
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


def workflow_session(
    session_id: str = "sessao-fluxo", user_id: str = "cliente-1"
) -> WorkflowSession:
    return WorkflowSession(
        session_id=session_id,
        workflow_id="onboarding",
        user_id=user_id,
        session_data={"session_name": "Onboarding"},
        workflow_data={"name": "Onboarding"},
        created_at=NOW,
        updated_at=NOW,
    )


def run_ids(session: Any) -> list[str]:
    return [run.run_id for run in session.runs or []]


def questions(session: Any) -> list[str]:
    """The user message of each run of `session`, in order."""
    return [
        m.content
        for run in session.runs or []
        for m in run.messages or []
        if m.role == "user" and not m.from_history
    ]


SAMPLES = REPO / "tests" / "data" / "agno-1.7"


def written_by_agno_1_7(table: str) -> dict[str, dict[str, Any]]:
    """session_id -> {user_id, runs: [(run_id, [user texts])], said: [(role, content)] of the
    user and assistant messages} of a table of the samples."""
    conn = sqlite3.connect(SAMPLES / "pagbank.db")
    found = {}
    for session_id, user_id, memory in conn.execute(
        f"SELECT session_id, user_id, memory FROM {table}"
    ):
        runs = json.loads(memory).get("runs") or []
        found[session_id] = {
            "user_id": user_id,
            "said": [
                (m["role"], m.get("content"))
                for run in runs
                for m in run.get("messages") or []
                if m["role"] in ("user", "assistant") and not m.get("from_history")
            ],
            "runs": [
                (
                    run["run_id"],
                    [
                        m["content"]
                        for m in run.get("messages") or []
                        if m["role"] == "user" and not m.get("from_history")
                    ],
                )
                for run in runs
            ],
        }
    conn.close()
    return found


REFUSED = "session 'sessao-fluxo' of agno.agno_sessions belongs to another user; nothing was"


def stored(dsn: str) -> list[tuple[Any, ...]]:
    """The workflow sessions as Agno's table holds them, and the runs of Agno 3's (if any)."""
    with psycopg.connect(dsn) as conn:
        sessions = conn.execute(
            "SELECT session_id, user_id, session_data, updated_at FROM agno.agno_sessions "
            "ORDER BY session_id"
        ).fetchall()
        [(runs_table,)] = conn.execute("SELECT to_regclass('agno.agno_runs')").fetchall()
        runs = (
            conn.execute("SELECT run_id, user_id FROM agno.agno_runs ORDER BY run_id").fetchall()
            if runs_table is not None
            else []
        )
    return [*sessions, *runs]
