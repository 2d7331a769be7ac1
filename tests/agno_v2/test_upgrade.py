"""The upgrade path: files that Agno 1.7.12 itself wrote (tests/data/agno-1.7, PagBank's
route-mode team and its specialists), imported with `pagbank-pg import-sqlite`, are read by
PagbankDb and AsyncPagbankDb on the installed Agno (2 or 3) as sessions with their runs and
messages; an agent and a team continuing them are shown the history in the model's input.
What is expected is read from the SQLite files themselves."""

import ast
import sqlite3

import pytest
from agno.db.base import SessionType
from agno.session import AgentSession, TeamSession
from agno.team import Team

from .backends import Backend
from .offline import ScriptedModel, specialist, turn
from .sessions import SAMPLES, questions, written_by_agno_1_7


@pytest.mark.parametrize(
    ("table", "kind", "cls"),
    [
        ("agent_sessions", SessionType.AGENT, AgentSession),
        ("team_sessions", SessionType.TEAM, TeamSession),
    ],
)
def test_every_session_reads_back(
    imported: Backend, table: str, kind: SessionType, cls: type
) -> None:
    expected = written_by_agno_1_7(table)
    assert expected
    for session_id, source in expected.items():
        session = imported.db.get_session(session_id, kind, user_id=source["user_id"])
        assert isinstance(session, cls), session_id
        assert session.user_id == source["user_id"]
        assert [r.run_id for r in session.runs] == [run_id for run_id, _ in source["runs"]]
        assert questions(session) == [text for _, texts in source["runs"] for text in texts]
        said = [
            (m.role, m.content)
            for r in session.runs
            for m in r.messages or []
            if m.role in ("user", "assistant") and not m.from_history
        ]
        assert said == source["said"], session_id
    listed = imported.db.get_sessions(session_type=kind)
    assert sorted(s.session_id for s in listed) == sorted(expected)


def test_an_agent_continues_a_session(imported: Backend) -> None:
    source = written_by_agno_1_7("agent_sessions")
    session_id = max(source, key=lambda s: len(source[s]["runs"]))  # the longest conversation
    user = source[session_id]["user_id"]
    before = [text for _, texts in source[session_id]["runs"] for text in texts]
    bot = specialist(imported.native, "emissao-specialist", num_history_runs=len(before))
    answer = turn(imported, bot, "E o cartão adicional?", session_id, user)
    assert bot.model.inputs == [[*before, "E o cartão adicional?"]]
    assert answer.content == f"Entendi: E o cartão adicional? (vi {len(before) + 1})"
    again = imported.db.get_session(session_id, SessionType.AGENT, user_id=user)
    assert questions(again) == [*before, "E o cartão adicional?"]


def test_a_team_continues_a_session(imported: Backend) -> None:
    source = written_by_agno_1_7("team_sessions")
    session_id = max(source, key=lambda s: len(source[s]["runs"]))
    user = source[session_id]["user_id"]
    before = [text for _, texts in source[session_id]["runs"] for text in texts]
    ana = Team(
        name="Ana - PagBank Assistant",
        id="ana-routing",
        mode="route",
        db=imported.native,
        model=ScriptedModel(id="router-1"),
        add_history_to_context=True,
        num_history_runs=10,
        members=[specialist(None, "pix"), specialist(None, "cartoes")],
    )
    answer = turn(imported, ana, "Meu cartão chegou?", session_id, user)
    assert ana.model.inputs[0] == [*before, "Meu cartão chegou?"]
    assert answer.content.startswith("Entendi: Meu cartão chegou?")
    again = imported.db.get_session(session_id, SessionType.TEAM, user_id=user)
    leader = [r for r in again.runs if r.parent_run_id is None]
    assert [r.run_id for r in leader][: len(before)] == [r for r, _ in source[session_id]["runs"]]
    assert len(leader) == len(source[session_id]["runs"]) + 1


def test_memories_read_back(imported: Backend) -> None:
    """PagBank's two memory files (Agno 1.7's SqliteMemoryDb), each memory by its id."""
    for file, table in (("pagbank.db", "pagbank_memories"), ("ana_memory.db", "ana_user_memories")):
        conn = sqlite3.connect(SAMPLES / file)
        for memory_id, user_id, memory in conn.execute(f"SELECT id, user_id, memory FROM {table}"):
            stored = imported.db.get_user_memory(memory_id, user_id=user_id)
            assert stored is not None, memory_id
            written = ast.literal_eval(memory)  # Agno 1.7 stored a Python literal
            assert (stored.memory, stored.topics or []) == (written["memory"], written["topics"])
        conn.close()
