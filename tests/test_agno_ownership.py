"""A session belongs to the user who created it: a turn of another user on the same session
id is refused (SessionOwnershipError), never merged; a turn racing an erasure is passed over;
a writer holding an older copy of a run never sets it back. Real Agno 1.7 Agents and Teams on
the offline model, each app replica with its own storage."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from pagbank_pg import SessionOwnershipError
from pagbank_pg.agno import PostgresManager, PostgresStorage
from pagbank_pg.lgpd import forget_user

from .helpers import EchoModel, agent, route_team, rows, wait_for


@pytest.fixture
def manager(db_dsn: str) -> Iterator[PostgresManager]:
    with PostgresManager(db_dsn, max_size=4) as pm:
        yield pm


def conversation(row: dict[str, Any]) -> list[str]:
    return [m["content"] for m in row["messages"]]


def test_another_users_turn_on_a_taken_session_id_is_refused(
    manager: PostgresManager, db_dsn: str
) -> None:
    agent(manager.get_agent_storage()).run("meu saldo", session_id="s-1", user_id="u-a")
    before = rows(db_dsn, "agent_sessions")
    intruder = agent(manager.get_agent_storage())
    with pytest.raises(SessionOwnershipError, match=r"'s-1'.*another user"):
        intruder.run("quero o historico", session_id="s-1", user_id="u-b")
    assert rows(db_dsn, "agent_sessions") == before  # owner, runs and messages untouched
    (row,) = before
    assert row["user_id"] == "u-a"
    forget_user(manager.db, "u-a")  # the owner's erasure still reaches the whole session
    assert rows(db_dsn, "agent_sessions") == []


def test_a_write_without_a_user_cannot_take_an_owned_session(manager: PostgresManager) -> None:
    storage = manager.get_agent_storage()
    agent(storage).run("oi", session_id="s-1", user_id="u-a")
    session = storage.read("s-1")
    assert session is not None
    session.user_id = None
    with pytest.raises(SessionOwnershipError):
        storage.upsert(session)
    with pytest.raises(SessionOwnershipError):
        storage.replace(session)


def test_a_session_with_no_owner_yet_is_written_by_anyone(
    manager: PostgresManager, db_dsn: str
) -> None:
    storage = manager.get_agent_storage()
    agent(storage).run("oi", session_id="s-1")
    agent(storage).run("de novo", session_id="s-1")
    (row,) = rows(db_dsn, "agent_sessions")
    assert row["user_id"] is None
    assert conversation(row)[::2] == ["oi", "de novo"]


def test_reads_with_a_user_id_return_nothing_of_another_user(manager: PostgresManager) -> None:
    storage = manager.get_agent_storage()
    agent(storage).run("oi", session_id="s-1", user_id="u-a")
    agent(storage).run("ola", session_id="s-2", user_id="u-b")
    assert storage.read("s-1", user_id="u-b") is None
    assert [s.session_id for s in storage.get_all_sessions(user_id="u-b")] == ["s-2"]
    assert storage.get_all_session_ids(user_id="u-b") == ["s-2"]


def test_a_team_session_belongs_to_its_user(manager: PostgresManager, db_dsn: str) -> None:
    team = route_team(manager.get_team_storage(), manager.get_agent_storage())
    team.run("meu cartão", session_id="t-1", user_id="u-a")
    before = rows(db_dsn, "team_sessions"), rows(db_dsn, "agent_sessions")
    other = route_team(manager.get_team_storage(), manager.get_agent_storage())
    with pytest.raises(SessionOwnershipError):
        other.run("meu cartão também", session_id="t-1", user_id="u-b")
    after = rows(db_dsn, "team_sessions"), rows(db_dsn, "agent_sessions")
    assert after == before
    assert {r["user_id"] for r in after[0] + after[1]} == {"u-a"}


def test_the_session_manager_keeps_a_session_id_to_its_user(manager: PostgresManager) -> None:
    sessions = manager.get_session_manager()
    sessions.create_session("u-a", team_id="ana", session_id="s-1", context={"k": 1})
    with pytest.raises(SessionOwnershipError):
        sessions.create_session("u-b", team_id="ana", session_id="s-1")
    assert sessions.get_session("s-1", user_id="u-b") is None
    with pytest.raises(SessionOwnershipError):
        sessions.touch("s-1", {"k": 2}, user_id="u-b")
    with pytest.raises(SessionOwnershipError):
        sessions.end_session("s-1", user_id="u-b")
    row = sessions.get_session("s-1", user_id="u-a")
    assert row is not None
    assert (row["user_id"], row["session_context"], row["interaction_count"]) == (
        "u-a",
        {"k": 1},
        0,
    )
    touched = sessions.touch("s-1", {"k": 3}, user_id="u-a")
    assert touched is not None
    assert touched["session_context"] == {"k": 3}


def lock_waiters(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' "
            "AND datname = current_database()"
        ).fetchone() or (0,)
    return int(count)


def test_a_turn_racing_an_erasure_is_passed_over_and_counted(
    manager: PostgresManager, db_dsn: str
) -> None:
    storage = manager.get_agent_storage()
    agent(storage).run("oi", session_id="s-1", user_id="u-a")
    session = storage.read("s-1")
    with psycopg.connect(db_dsn) as holder:  # another writer of the session holds its lock
        holder.execute(
            "SELECT pg_advisory_xact_lock(1634625391, hashtext('agent' || ':' || 's-1'))"
        )
        outcome: list[Any] = []
        writer = threading.Thread(target=lambda: outcome.append(storage.upsert(session)))
        writer.start()
        wait_for(lambda: lock_waiters(db_dsn) == 1)  # the turn waits for the session's lock
        forget_user(manager.db, "u-a")  # and the erasure lands meanwhile
        holder.rollback()
        writer.join(timeout=30)
    assert outcome == [None]
    assert storage.erased_skipped == 1
    assert rows(db_dsn, "agent_sessions") == []


@dataclass
class MidTurnModel(EchoModel):
    """The offline model, doing `during` once while it answers (between the turn's read and
    its write of the session)."""

    during: Any = None

    def invoke(self, messages: list[Any], **kwargs: Any) -> Any:
        if self.during is not None:
            self.during, during = None, self.during
            during()
        return super().invoke(messages, **kwargs)


def completed(storage: PostgresStorage, session_id: str, run_id: str) -> None:
    """Another replica edits a stored run (as a `continue_run` that completes it would)."""
    session = storage.read(session_id)
    assert session is not None
    for run in session.memory["runs"]:
        if run["run_id"] == run_id:
            run["content"] = "concluido"
            run["extra_data"] = {"status": "COMPLETED"}
    storage.upsert(session)


def test_a_stale_copy_of_a_run_never_sets_back_a_newer_state(
    manager: PostgresManager, db_dsn: str
) -> None:
    replica_a, replica_b = manager.get_agent_storage(), manager.get_agent_storage()
    first = agent(replica_a).run("pagar boleto", session_id="s-1", user_id="u-a")
    # replica B serves the next turn; while its model answers, replica A completes run 1
    model = MidTurnModel(during=lambda: completed(replica_a, "s-1", first.run_id))
    agent(replica_b, model=model).run("e agora?", session_id="s-1", user_id="u-a")
    session = replica_a.read("s-1")
    assert session is not None
    runs = session.memory["runs"]
    assert runs[0]["run_id"] == first.run_id
    assert len(runs) == 2  # replica B's turn is kept
    assert runs[0]["content"] == "concluido"  # and replica A's edit of run 1 too
    assert runs[0]["extra_data"] == {"status": "COMPLETED"}


def test_a_writer_that_changed_a_run_itself_stores_its_change(manager: PostgresManager) -> None:
    replica_a, replica_b = manager.get_agent_storage(), manager.get_agent_storage()
    first = agent(replica_a).run("pagar boleto", session_id="s-1", user_id="u-a")
    stale = replica_b.read("s-1")  # replica B reads, then replica A edits run 1
    completed(replica_a, "s-1", first.run_id)
    assert stale is not None
    stale.memory["runs"][0]["content"] = "cancelado por B"  # B edits run 1 on its own copy
    replica_b.upsert(stale)
    session = replica_a.read("s-1")
    assert session is not None
    assert session.memory["runs"][0]["content"] == "cancelado por B"
