"""AsyncPagbankDb, the async twin: generated into PagbankDb, the same surface, and the same
behaviour through a real async Agno agent."""

import importlib.util
import inspect
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from agno.db.base import AsyncBaseDb, BaseDb, SessionType
from agno.db.schemas.memory import UserMemory
from agno.session import AgentSession, WorkflowSession

from pagbank_pg.agno import AsyncPagbankDb, PagbankDb
from pagbank_pg.errors import SessionOwnershipError

from ..helpers import REPO
from .models import agent


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("async_to_sync", REPO / "tools/async_to_sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sync_twin_is_generated_from_the_async_one() -> None:
    """db.py and writes.py (the session write) are generated from their async twins."""
    tool = _generator()
    assert {target.name for _, target in tool.TWINS} >= {"database.py", "db.py", "writes.py"}
    for source, target in tool.TWINS:
        assert target.read_text() == tool.generated(source, target), (
            f"{source.name} changed: run python tools/async_to_sync.py"
        )


def test_both_twins_have_one_surface() -> None:
    def surface(cls: type, base: type) -> dict[str, list[str]]:
        names = {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}
        names |= {n for n in dir(base) if not n.startswith("_")}
        return {n: list(inspect.signature(getattr(cls, n)).parameters) for n in sorted(names)
                if callable(getattr(cls, n, None))}  # fmt: skip

    assert surface(AsyncPagbankDb, AsyncBaseDb).keys() <= surface(PagbankDb, BaseDb).keys()
    assert issubclass(AsyncPagbankDb, AsyncBaseDb) and issubclass(PagbankDb, BaseDb)
    assert not getattr(AsyncPagbankDb, "__abstractmethods__", None)
    assert not getattr(PagbankDb, "__abstractmethods__", None)
    own = ("get_session", "upsert_session", "get_sessions", "get_user_memories")
    for name in own:
        assert inspect.iscoroutinefunction(getattr(AsyncPagbankDb, name))
        assert (
            inspect.signature(getattr(AsyncPagbankDb, name)).parameters.keys()
            == inspect.signature(getattr(PagbankDb, name)).parameters.keys()
        )


@pytest.fixture
async def adb(db_dsn: str) -> AsyncIterator[AsyncPagbankDb]:
    db = AsyncPagbankDb(db_dsn, agno_schema="agno")
    yield db
    await db.close()


async def test_async_turns_see_their_history(adb: AsyncPagbankDb, db_dsn: str) -> None:
    pix = agent(adb)
    await pix.arun("meu pix falhou", session_id="s1", user_id="ana")
    answer = (await pix.arun("e agora?", session_id="s1", user_id="ana")).content
    assert answer == "Entendi: e agora? (vi 2)"
    with psycopg.connect(db_dsn) as conn:
        [(user_id, count)] = conn.execute(
            "SELECT user_id, jsonb_array_length(messages) FROM agent_sessions"
        ).fetchall()
    assert (user_id, count) == ("ana", 4)
    session = await adb.get_session("s1", SessionType.AGENT, user_id="ana")
    assert len(session.runs) == 2
    assert await adb.get_session("s1", SessionType.AGENT, user_id="eve") is None
    with pytest.raises(SessionOwnershipError):
        await adb.upsert_session(AgentSession(session_id="s1", agent_id="pix", user_id="eve"))


async def test_async_memories_and_agnos_own_tables(adb: AsyncPagbankDb) -> None:
    stored = await adb.upsert_user_memory(
        UserMemory(memory="prefere pix", memory_id="memory_1", user_id="ana", topics=["pix"])
    )
    assert stored.memory_id == "memory_1"
    assert [m.memory for m in await adb.get_user_memories(user_id="ana", topics=["pix"])] == [
        "prefere pix"
    ]
    assert await adb.get_all_memory_topics() == ["pix"]
    await adb.upsert_session(WorkflowSession(session_id="w1", workflow_id="wf", user_id="ana"))
    await adb.upsert_session(AgentSession(session_id="a1", agent_id="pix", user_id="ana"))
    sessions, total = await adb.get_sessions(user_id="ana", deserialize=False)
    assert total == 2 and {s["session_id"] for s in sessions} == {"w1", "a1"}
    assert isinstance(await adb.get_session("w1"), WorkflowSession)
    await adb.upsert_schema_version("agno_sessions", "3.1.10")
    assert await adb.get_latest_schema_version("agno_sessions") == "3.1.10"
    assert await adb.delete_session("a1") is True


async def test_an_async_bulk_upsert_stores_workflow_sessions_too(adb: AsyncPagbankDb) -> None:
    """Agno's async db has no bulk upsert: the workflow sessions of a batch go one by one."""
    stored = await adb.upsert_sessions(
        [
            WorkflowSession(session_id="w2", workflow_id="wf", user_id="ana"),
            AgentSession(session_id="a2", agent_id="pix", user_id="ana"),
        ]
    )
    assert sorted(s.session_id for s in stored) == ["a2", "w2"]
    assert isinstance(await adb.get_session("w2"), WorkflowSession)
    assert isinstance(await adb.get_session("a2"), AgentSession)
