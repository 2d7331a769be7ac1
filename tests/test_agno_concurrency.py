"""Two app replicas serving one session at the same moment: real Agno 1.7 Agents and route-mode
Teams, each replica with its own pool and storage, racing turns of one session. Every turn is
kept, in order per writer, and Agno reads the session back as it expects."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agno.storage.sqlite import SqliteStorage

from pagbank_pg.agno import DualWriteStorage, PostgresManager

from .helpers import EchoModel, agent, route_team, rows

WRITERS = 8
TURNS = 2


@dataclass
class SlowEchoModel(EchoModel):
    """The offline model, slow enough that every racing turn reads the session before any
    of them writes it back (the window in which the last writer used to win)."""

    delay: float = 0.3

    def invoke(self, messages: list[Any], **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return super().invoke(messages, **kwargs)

    async def ainvoke(self, messages: list[Any], **kwargs: Any) -> Any:
        await asyncio.sleep(self.delay)
        return super().invoke(messages, **kwargs)


@pytest.fixture
def replicas(db_dsn: str) -> Iterator[list[PostgresManager]]:
    """One PostgresManager (pool) per app replica."""
    managers = [PostgresManager(db_dsn, max_size=2) for _ in range(WRITERS)]
    yield managers
    for manager in managers:
        manager.close()


def text(writer: int, turn: int) -> str:
    return f"writer {writer} turn {turn}"


def race(work: Callable[[int, int], Any]) -> None:
    """`work(writer, turn)` for every writer at once, turn after turn."""
    for turn in range(TURNS):
        start = threading.Barrier(WRITERS)

        def one(writer: int, turn: int = turn, start: threading.Barrier = start) -> None:
            start.wait()
            work(writer, turn)

        threads = [threading.Thread(target=one, args=(w,)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def turns_in(runs: list[dict[str, Any]]) -> list[str]:
    """The user text of each stored run, in stored order."""
    found = []
    for run in runs:
        users = [m["content"] for m in run.get("messages") or []
                 if m["role"] == "user" and not m.get("from_history")]  # fmt: skip
        found += [u.split("\n")[0] for u in users if u.startswith("writer ")]
    return found


def assert_every_turn_in_order(found: list[str]) -> None:
    expected = {text(w, t) for w in range(WRITERS) for t in range(TURNS)}
    assert sorted(found) == sorted(expected), f"{len(set(found))} of {len(expected)} turns kept"
    for writer in range(WRITERS):
        mine = [f for f in found if f.startswith(f"writer {writer} ")]
        assert mine == [text(writer, t) for t in range(TURNS)]


def test_racing_agents_keep_every_turn(replicas: list[PostgresManager], db_dsn: str) -> None:
    bots = [agent(m.get_agent_storage(), "pix", model=SlowEchoModel()) for m in replicas]
    race(lambda w, t: bots[w].run(text(w, t), session_id="s-1", user_id="u-1"))
    session = replicas[0].get_agent_storage().read("s-1")
    assert_every_turn_in_order(turns_in(session.memory["runs"]))
    (row,) = rows(db_dsn, "agent_sessions")
    users = [m["content"] for m in row["messages"] if m["role"] == "user"]
    assert sorted(users) == sorted(text(w, t) for w in range(WRITERS) for t in range(TURNS))
    # Agno reads the merged session back: a new turn sees every earlier one in its history
    last = agent(replicas[0].get_agent_storage(), "pix", num_history_runs=100).run(
        "and now?", session_id="s-1", user_id="u-1"
    )
    assert last.content == f"Entendi: and now? (vi {WRITERS * TURNS + 1})"


async def test_racing_async_agents_keep_every_turn(replicas: list[PostgresManager]) -> None:
    bots = [agent(m.get_agent_storage(), "pix", model=SlowEchoModel()) for m in replicas]
    for turn in range(TURNS):
        await asyncio.gather(
            *(
                bot.arun(text(w, turn), session_id="s-a", user_id="u-1")
                for w, bot in enumerate(bots)
            )
        )
    session = replicas[0].get_agent_storage().read("s-a")
    assert_every_turn_in_order(turns_in(session.memory["runs"]))


def test_racing_route_mode_teams_keep_every_turn(replicas: list[PostgresManager]) -> None:
    teams = []
    for manager in replicas:
        team = route_team(manager.get_team_storage(), manager.get_agent_storage())
        team.model = SlowEchoModel(id="router-1")
        teams.append(team)
    race(lambda w, t: teams[w].run(text(w, t), session_id="t-1", user_id="u-1"))
    session = replicas[0].get_team_storage().read("t-1")
    assert_every_turn_in_order(turns_in(session.memory["runs"]))
    members = replicas[0].get_agent_storage().read("t-1")  # the specialists' runs
    assert_every_turn_in_order(turns_in(members.memory["runs"]))


def test_other_sessions_are_untouched(replicas: list[PostgresManager], db_dsn: str) -> None:
    bystander = agent(replicas[0].get_agent_storage(), "pix")
    bystander.run("only me", session_id="s-other", user_id="u-2")
    before = [r for r in rows(db_dsn, "agent_sessions") if r["session_id"] == "s-other"]
    bots = [agent(m.get_agent_storage(), "pix", model=SlowEchoModel()) for m in replicas]
    race(lambda w, t: bots[w].run(text(w, t), session_id="s-1", user_id="u-1"))
    after = [r for r in rows(db_dsn, "agent_sessions") if r["session_id"] == "s-other"]
    assert after == before


def test_replace_stores_a_session_that_really_shrinks(replicas: list[PostgresManager]) -> None:
    storage = replicas[0].get_agent_storage()
    bot = agent(storage, "pix")
    for turn in range(3):
        bot.run(text(0, turn), session_id="s-1", user_id="u-1")
    session = storage.read("s-1")
    session.memory["runs"] = session.memory["runs"][:1]  # a run deleted on purpose
    assert turns_in(storage.upsert(session).memory["runs"]) == [text(0, t) for t in range(3)]
    assert turns_in(storage.replace(session).memory["runs"]) == [text(0, 0)]
    assert turns_in(storage.read("s-1").memory["runs"]) == [text(0, 0)]


def test_dual_write_keeps_postgresqls_merged_view_in_sqlite(
    replicas: list[PostgresManager], tmp_path: Path
) -> None:
    file = str(tmp_path / "pagbank.db")
    writers = 2
    bots = [
        agent(
            DualWriteStorage(
                m.get_agent_storage(), SqliteStorage(table_name="agent_sessions", db_file=file)
            ),
            "pix",
            model=SlowEchoModel(),
        )
        for m in replicas[:writers]
    ]
    start = threading.Barrier(writers)

    def one(writer: int) -> None:
        start.wait()
        bots[writer].run(text(writer, 0), session_id="s-1", user_id="u-1")

    threads = [threading.Thread(target=one, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    in_postgres = turns_in(replicas[0].get_agent_storage().read("s-1").memory["runs"])
    in_sqlite = turns_in(
        SqliteStorage(table_name="agent_sessions", db_file=file).read("s-1").memory["runs"]
    )
    assert sorted(in_postgres) == [text(0, 0), text(1, 0)]
    assert in_sqlite == in_postgres
