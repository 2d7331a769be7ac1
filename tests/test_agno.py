"""PagBank's app on the plan's tables: real Agno 1.7 Agents and a route-mode Team, with an
offline model, keeping their sessions and memories through pagbank_pg.agno."""

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from agno.memory.v2.db.schema import MemoryRow
from agno.memory.v2.db.sqlite import SqliteMemoryDb
from agno.storage.sqlite import SqliteStorage
from agno.team import Team

from pagbank_pg import Database
from pagbank_pg.agno import (
    DualWriteMemoryDb,
    DualWriteStorage,
    PostgresManager,
    PostgresMemoryDb,
    PostgresStorage,
)

from .helpers import EchoModel, agent, route_team, rows
from .helpers import run as cli


@pytest.fixture
def manager(db_dsn: str) -> Iterator[PostgresManager]:
    with PostgresManager(db_dsn, max_size=4) as pm:
        yield pm


def test_an_agent_keeps_its_conversation_across_runs(manager: PostgresManager, db_dsn: str) -> None:
    first = agent(manager.get_agent_storage())
    assert first.run(
        "Quero fazer um PIX de 100% :x $1", session_id="s-1", user_id="u-1"
    ).content == ("Entendi: Quero fazer um PIX de 100% :x $1 (vi 1)")
    # a new Agent object, as after a restart: the history comes from PostgreSQL
    again = agent(manager.get_agent_storage())
    answer = again.run("E o limite?", session_id="s-1", user_id="u-1")
    assert answer.content == "Entendi: E o limite? (vi 2)"
    (row,) = rows(db_dsn, "agent_sessions")
    assert (row["session_id"], row["agent_id"], row["user_id"]) == ("s-1", "pix", "u-1")
    assert row["business_unit"] == "conta_digital"
    assert [(m["role"], m["content"]) for m in row["messages"]] == [
        ("user", "Quero fazer um PIX de 100% :x $1"),
        ("assistant", "Entendi: Quero fazer um PIX de 100% :x $1 (vi 1)"),
        ("user", "E o limite?"),
        ("assistant", "Entendi: E o limite? (vi 2)"),
    ]  # the history replayed into the second run is not stored twice


class RecordingStorage(PostgresStorage):
    """Our storage, remembering what Agno handed to it."""

    given: list[dict[str, Any]]

    def upsert(self, session: Any) -> Any:
        self.given = [*getattr(self, "given", []), session.to_dict()]
        return super().upsert(session)


def test_storage_round_trip_equals_what_agno_gave(manager: PostgresManager) -> None:
    storage = RecordingStorage("agent", db=manager.db)
    bot = agent(storage)
    bot.run("Oi", session_id="s-1", user_id="u-1")
    bot.run("Tudo bem? 😀", session_id="s-1", user_id="u-1")
    ignore = {"created_at", "updated_at"}  # set by the database
    stored = storage.read("s-1").to_dict()
    assert len(storage.given) >= 2
    assert {k: v for k, v in stored.items() if k not in ignore} == {
        k: v for k, v in storage.given[-1].items() if k not in ignore
    }
    assert storage.read("s-1", user_id="someone-else") is None
    assert storage.get_all_session_ids() == ["s-1"]
    assert storage.get_all_session_ids(entity_id="cards") == []
    assert [s.session_id for s in storage.get_recent_sessions(user_id="u-1")] == ["s-1"]
    storage.delete_session("s-1")
    assert storage.read("s-1") is None


def test_a_route_mode_team_keeps_one_row_per_specialist(
    manager: PostgresManager, db_dsn: str
) -> None:
    shared = manager.get_agent_storage()  # one storage for every specialist, as PagBank does
    team = Team(
        name="Ana - PagBank Assistant",
        team_id="ana-routing",
        mode="route",
        model=EchoModel(id="router-1"),
        members=[agent(shared, "pix"), agent(shared, "cartoes")],
        storage=manager.get_team_storage(),
        enable_team_history=True,
    )
    for text in ("Quero fazer um PIX", "Meu cartão foi bloqueado", "E o PIX de novo?"):
        team.run(text, session_id="t-1", user_id="u-1")
    (team_row,) = rows(db_dsn, "team_sessions")
    assert (team_row["team_id"], team_row["team_name"]) == (
        "ana-routing",
        "Ana - PagBank Assistant",
    )
    agent_rows = {r["agent_id"]: r for r in rows(db_dsn, "agent_sessions")}
    assert set(agent_rows) == {"pix", "cartoes"}
    assert agent_rows["cartoes"]["business_unit"] == "cartoes"
    pix_users = [m["content"] for m in agent_rows["pix"]["messages"] if m["role"] == "user"]
    assert pix_users[0].startswith("Quero fazer um PIX") and "E o PIX de novo?" in pix_users[-1]
    # history reached the specialist's model: its second turn saw its first
    assert agent_rows["pix"]["messages"][-1]["content"] == "Entendi: E o PIX de novo? (vi 2)"
    card_users = [m["content"] for m in agent_rows["cartoes"]["messages"] if m["role"] == "user"]
    assert len(card_users) == 1 and "Meu cartão foi bloqueado" in card_users[0]
    # Agno still reads one session holding every specialist's runs, in order
    session = shared.read("t-1")
    assert [r["agent_id"] for r in session.memory["runs"]] == ["pix", "cartoes", "pix"]
    # the team's conversation: a system prompt is kept once (again only when it changed)
    messages = team_row["messages"]
    prompts = [json.dumps(m, sort_keys=True) for m in messages if m["role"] == "system"]
    assert messages[0]["role"] == "system" and len(prompts) == len(set(prompts))
    assert [m["role"] for m in messages].count("user") == 3


async def test_async_runs(manager: PostgresManager, db_dsn: str) -> None:
    bot = agent(manager.get_agent_storage())
    await bot.arun("Primeira", session_id="s-a", user_id="u-1")
    answer = await agent(manager.get_agent_storage()).arun(
        "Segunda", session_id="s-a", user_id="u-1"
    )
    assert answer.content == "Entendi: Segunda (vi 2)"
    assert len(rows(db_dsn, "agent_sessions")[0]["messages"]) == 4


def test_the_team_answers_as_it_does_on_agnos_own_sqlite_storage(
    manager: PostgresManager, tmp_path: Path
) -> None:
    turns = ["Quero fazer um PIX", "Meu cartão foi bloqueado", "E o PIX de novo?", "E o cartão?"]
    file = str(tmp_path / "pagbank.db")
    on_sqlite = route_team(
        SqliteStorage(table_name="team_sessions", db_file=file),
        SqliteStorage(table_name="agent_sessions", db_file=file),
    )
    on_postgres = route_team(manager.get_team_storage(), manager.get_agent_storage())
    answers = {
        name: [team.run(turn, session_id="t-1", user_id="u-1").content for turn in turns]
        for name, team in (("sqlite", on_sqlite), ("postgres", on_postgres))
    }
    assert answers["postgres"] == answers["sqlite"]
    assert answers["postgres"][-1].endswith("(vi 2)")  # history came back from PostgreSQL


async def test_async_route_mode_team(manager: PostgresManager, db_dsn: str) -> None:
    team = route_team(manager.get_team_storage(), manager.get_agent_storage())
    await team.arun("Quero fazer um PIX", session_id="t-a", user_id="u-1")
    await team.arun("Meu cartão sumiu", session_id="t-a", user_id="u-1")
    assert {r["agent_id"] for r in rows(db_dsn, "agent_sessions")} == {"pix", "cartoes"}
    assert len(rows(db_dsn, "team_sessions")) == 1


def test_memory_db(manager: PostgresManager, db_dsn: str) -> None:
    memories = manager.get_memory_db()
    assert memories.table_exists()
    memory = {"memory": "Prefere PIX", "topics": ["pix"], "input": "uso PIX"}
    row = MemoryRow(id=str(uuid.uuid4()), user_id="u-1", memory=memory)
    memories.upsert_memory(row)
    assert memories.memory_exists(row)
    (read,) = memories.read_memories(user_id="u-1")
    assert (read.id, read.user_id, read.memory) == (row.id, "u-1", row.memory)
    memories.upsert_memory(
        MemoryRow(id=row.id, user_id="u-1", memory={**row.memory, "topics": ["pix", "vip"]})
    )
    (stored,) = rows(db_dsn, "user_memories")
    assert (stored["memory"], stored["memory_tags"]) == ("Prefere PIX", ["pix", "vip"])
    memories.upsert_memory(MemoryRow(user_id="u-2", memory={"memory": "Usa cartão", "topics": []}))
    assert [m.user_id for m in memories.read_memories(sort="asc")] == ["u-1", "u-2"]
    assert len(memories.read_memories(limit=1)) == 1
    memories.delete_memory(row.id)
    assert not memories.memory_exists(row)
    assert memories.clear() and memories.read_memories() == []


def test_session_manager(manager: PostgresManager, db_dsn: str) -> None:
    sessions = manager.get_session_manager()
    created = sessions.create_session("u-1", team_id="ana", context={"channel": "whatsapp"})
    sid = created["session_id"]
    sessions.touch(sid, {"last_query": "pix"})
    assert sessions.get_session(sid)["interaction_count"] == 1
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("UPDATE user_sessions SET last_activity = now() - interval '121 minutes'")
    assert sessions.cleanup_expired_sessions() == 1
    assert sessions.get_session(sid) is None
    assert sessions.get_statistics()["active_sessions"] == 0


def test_dual_write_for_the_cutover(manager: PostgresManager, db_dsn: str, tmp_path: Path) -> None:
    sqlite_file = str(tmp_path / "pagbank.db")
    dual = DualWriteStorage(
        manager.get_agent_storage(), SqliteStorage(table_name="agent_sessions", db_file=sqlite_file)
    )
    agent(dual).run("Oi", session_id="s-1", user_id="u-1")
    assert len(rows(db_dsn, "agent_sessions")) == 1
    in_sqlite = (
        sqlite3.connect(sqlite_file)
        .execute("SELECT session_id, agent_id FROM agent_sessions")
        .fetchall()
    )
    assert in_sqlite == [("s-1", "pix")]
    from_sqlite = DualWriteStorage(
        manager.get_agent_storage(),
        SqliteStorage(table_name="agent_sessions", db_file=sqlite_file),
        read_from="sqlite",
    )
    assert from_sqlite.read("s-1").memory["runs"][0]["content"] == "Entendi: Oi (vi 1)"
    mem_file = str(tmp_path / "memory.db")
    dual_memory = DualWriteMemoryDb(
        manager.get_memory_db(), SqliteMemoryDb(table_name="m", db_file=mem_file)
    )
    dual_memory.upsert_memory(MemoryRow(user_id="u-1", memory={"memory": "x", "topics": []}))
    assert len(dual_memory.read_memories()) == 1
    assert len(SqliteMemoryDb(table_name="m", db_file=mem_file).read_memories()) == 1


def test_rows_written_through_agno_export_and_verify_like_imported_ones(
    manager: PostgresManager, db_dsn: str, tmp_path: Path
) -> None:
    bot = agent(manager.get_agent_storage())
    bot.run("Oi", session_id="s-1", user_id="u-1")
    code, _, err = cli("export-sqlite", str(tmp_path / "out"), "--dsn", db_dsn)
    assert code == 0, err
    exported = SqliteStorage(
        table_name="agent_sessions", db_file=str(tmp_path / "out" / "pagbank.db")
    )
    assert exported.read("s-1").memory == manager.get_agent_storage().read("s-1").memory


def test_a_missing_schema_says_what_to_do(empty_dsn: str) -> None:
    from pagbank_pg import ConfigurationError

    with (
        Database.open(empty_dsn) as db,
        pytest.raises(ConfigurationError, match="run: pagbank-pg migrate"),
    ):
        PostgresStorage("agent", db=db).create()
    with (
        Database.open(empty_dsn) as db,
        pytest.raises(ConfigurationError, match="user_memories"),
    ):
        PostgresMemoryDb(db=db).create()


def test_a_session_or_memory_that_cannot_be_stored_raises_a_public_error(
    manager: PostgresManager, db_dsn: str
) -> None:
    from agno.storage.session.agent import AgentSession

    from pagbank_pg import InvalidRecord, PagbankPgError

    storage = manager.get_agent_storage()
    too_long = AgentSession(session_id="s" * 300, agent_id="pix", user_id="u-1")
    with pytest.raises(InvalidRecord, match=r"cannot be stored: session_id is longer than 255"):
        storage.upsert(too_long)
    memories = manager.get_memory_db()
    with pytest.raises(InvalidRecord, match="cannot be stored: memory text is NULL") as raised:
        memories.upsert_memory(MemoryRow(id="m-1", user_id="u-1", memory={"topics": []}))
    assert isinstance(raised.value, PagbankPgError) and isinstance(raised.value, ValueError)
    assert rows(db_dsn, "agent_sessions") == [] and rows(db_dsn, "user_memories") == []
