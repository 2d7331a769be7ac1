"""Real Agno `Agent` and `Team` turns on the offline model, stored by each backend: the second
turn has the first in the model's input, a new Agent (another app replica) continues the
session, and a team in route and in coordinate mode keeps the leader's and the member's runs."""

from typing import Any

import psycopg
import pytest
from agno.db.base import SessionType
from agno.team import Team

from .backends import Backend
from .offline import ScriptedModel, specialist, turn
from .sessions import questions


def plan_rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    key = "agent_id" if table == "agent_sessions" else "team_id"
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT session_id, {key}, user_id, messages FROM {table} ORDER BY session_id, {key}"
        ).fetchall()


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user" and not m.get("from_history")]


def test_agent_sees_its_history(backend: Backend) -> None:
    bot = specialist(backend.native)
    first = turn(backend, bot, "Quero fazer um PIX", "s-1")
    second = turn(backend, bot, "Para a Conceição", "s-1")
    assert first.content == "Entendi: Quero fazer um PIX (vi 1)"
    assert second.content == "Entendi: Para a Conceição (vi 2)"
    assert bot.model.inputs[-1] == ["Quero fazer um PIX", "Para a Conceição"]
    stored = backend.db.get_session("s-1", SessionType.AGENT, user_id="cliente-1")
    assert questions(stored) == ["Quero fazer um PIX", "Para a Conceição"]
    assert [r.content for r in stored.runs] == [first.content, second.content]


def test_another_replica_continues_the_session(backend: Backend) -> None:
    turn(backend, specialist(backend.native), "Quero fazer um PIX", "s-1")
    replica = specialist(backend.native)  # a new Agent: nothing of the session in memory
    answer = turn(backend, replica, "De R$ 50", "s-1")
    assert answer.content == "Entendi: De R$ 50 (vi 2)"
    assert replica.model.inputs == [["Quero fazer um PIX", "De R$ 50"]]


def test_sessions_of_two_users_do_not_mix(backend: Backend) -> None:
    bot = specialist(backend.native)
    turn(backend, bot, "Sou a Alice", "s-alice", "alice")
    turn(backend, bot, "Sou o Bob", "s-bob", "bob")
    assert turn(backend, bot, "Quem sou?", "s-alice", "alice").content == (
        "Entendi: Quem sou? (vi 2)"
    )
    assert bot.model.inputs[-1] == ["Sou a Alice", "Quem sou?"]


def test_agent_rows_have_the_plans_shape(own_backend: Backend) -> None:
    """Ours: one agent_sessions row per (session_id, agent_id), the conversation in
    `messages` as the importer and the 1.7 storage write it."""
    bot = specialist(own_backend.native)
    turn(own_backend, bot, "Quero fazer um PIX", "s-1")
    turn(own_backend, bot, "Para a Conceição", "s-1")
    ((session_id, agent_id, user_id, messages),) = plan_rows(own_backend.dsn, "agent_sessions")
    assert (session_id, agent_id, user_id) == ("s-1", "pix", "cliente-1")
    assert user_texts(messages) == ["Quero fazer um PIX", "Para a Conceição"]
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert answers == ["Entendi: Quero fazer um PIX (vi 1)", "Entendi: Para a Conceição (vi 2)"]


def team(db: Any, mode: str) -> Team:
    return Team(
        name="Ana - PagBank Assistant",
        id="ana",
        mode=mode,
        db=db,
        model=ScriptedModel(id="router-1"),
        members=[specialist(None, "pix"), specialist(None, "cartoes")],
        add_history_to_context=True,
        num_history_runs=5,
    )


@pytest.mark.parametrize("mode", ["route", "coordinate"])
def test_team_turns(backend: Backend, mode: str) -> None:
    ana = team(backend.native, mode)
    first = turn(backend, ana, "Meu cartão foi bloqueado", "t-1")
    second = turn(backend, ana, "E o PIX?", "t-1")
    assert first.content == "Entendi: Meu cartão foi bloqueado (vi 1)"  # answered by cartoes
    assert second.content.startswith("Entendi: E o PIX?")  # by pix
    assert ana.model.inputs[-1] == ["Meu cartão foi bloqueado", "E o PIX?"]  # leader's history
    stored = backend.db.get_session("t-1", SessionType.TEAM, user_id="cliente-1")
    leader = [r for r in stored.runs if r.parent_run_id is None]
    members = [r for r in stored.runs if r.parent_run_id is not None]
    assert [r.team_id for r in leader] == ["ana", "ana"]
    assert [r.agent_id for r in members] == ["cartoes", "pix"]
    assert [r.parent_run_id for r in members] == [r.run_id for r in leader]
    assert [r.content for r in leader] == [first.content, second.content]
    # the members' runs (Agno 3 writes each with upsert_run) stay in the team's session
    assert backend.db.get_sessions(session_type=SessionType.AGENT) == []
    # a new Team (another replica) continues with the whole conversation in the leader's input
    replica = team(backend.native, mode)
    turn(backend, replica, "Obrigado", "t-1")
    assert replica.model.inputs[0] == ["Meu cartão foi bloqueado", "E o PIX?", "Obrigado"]


def test_team_rows_have_the_plans_shape(own_backend: Backend) -> None:
    """Ours: the team's conversation is one team_sessions row per (session_id, team_id)."""
    ana = team(own_backend.native, "route")
    turn(own_backend, ana, "Meu cartão foi bloqueado", "t-1")
    turn(own_backend, ana, "E o PIX?", "t-1")
    ((session_id, team_id, user_id, messages),) = plan_rows(own_backend.dsn, "team_sessions")
    assert (session_id, team_id, user_id) == ("t-1", "ana", "cliente-1")
    assert user_texts(messages)[:1] == ["Meu cartão foi bloqueado"]
    assert "E o PIX?" in user_texts(messages)
