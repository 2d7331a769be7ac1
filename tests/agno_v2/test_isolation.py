"""One user's sessions, out of another's reach, on Agno's own isolation cases
(libs/agno/tests/integration/db/test_idor_live.py in agno-agi/agno, TestPostgresIDOR and
TestPostgresAsyncIDOR).

Where ours differs on purpose: a write for another user to an existing session id raises
SessionOwnershipError (Agno's own returns None and drops the write, agno #7957 and #7986)."""

import psycopg
import pytest
from agno.db.base import SessionType

from pagbank_pg import errors

from .backends import Backend, save
from .sessions import agent_session, questions, run_ids, team_session

AGENT = SessionType.AGENT


@pytest.fixture
def alice_and_bob(backend: Backend) -> Backend:
    save(backend, agent_session("sessao-alice", user_id="alice", name="Conversa da Alice"))
    save(backend, agent_session("sessao-bob", user_id="bob", name="Conversa do Bob"))
    return backend


def test_reads(alice_and_bob: Backend) -> None:
    """Agno: test_read_own_session, test_read_isolation_blocks_cross_user,
    test_read_without_user_id_returns_any."""
    db = alice_and_bob.db
    own = db.get_session("sessao-alice", AGENT, user_id="alice")
    assert own.session_id == "sessao-alice" and run_ids(own) == ["sessao-alice-run-0"]
    assert db.get_session("sessao-alice", AGENT, user_id="bob") is None
    assert db.get_session("sessao-alice", AGENT, user_id="bob", deserialize=False) is None
    assert db.get_session("sessao-alice", AGENT, user_id=None).user_id == "alice"


def test_get_sessions_filters_by_user(alice_and_bob: Backend) -> None:
    """Agno: test_get_sessions_filters_by_user."""
    found = alice_and_bob.db.get_sessions(session_type=AGENT, user_id="alice")
    assert [(s.session_id, s.user_id) for s in found] == [("sessao-alice", "alice")]
    assert questions(found[0]) == ["pergunta sessao-alice-run-0"]


def test_deletes(alice_and_bob: Backend) -> None:
    """Agno: test_delete_isolation_blocks_cross_user, test_delete_own_session_works,
    test_delete_sessions_bulk_isolation."""
    db = alice_and_bob.db
    assert db.delete_session("sessao-alice", user_id="bob") is False
    assert db.get_session("sessao-alice", AGENT, user_id="alice") is not None
    save(alice_and_bob, agent_session("extra-bob", user_id="bob"))
    db.delete_sessions(["sessao-alice", "extra-bob"], user_id="bob")
    assert db.get_session("sessao-alice", AGENT, user_id="alice") is not None
    assert db.get_session("extra-bob", AGENT) is None
    assert db.delete_session("sessao-alice", user_id="alice") is True
    assert db.get_session("sessao-alice", AGENT) is None


def test_renames(alice_and_bob: Backend) -> None:
    """Agno: test_rename_isolation_blocks_cross_user, test_rename_own_session_works."""
    db = alice_and_bob.db
    assert db.rename_session("sessao-alice", AGENT, "Invadida", user_id="bob") is None
    name = db.get_session("sessao-alice", AGENT).session_data["session_name"]
    assert name == "Conversa da Alice"
    renamed = db.rename_session("sessao-alice", AGENT, "Renomeada", user_id="alice")
    assert renamed.session_data["session_name"] == "Renomeada"


def test_upsert_for_another_user(alice_and_bob: Backend) -> None:
    """Agno: test_upsert_hijack_blocked. Ours raises; Agno's own returns None silently."""
    hijack = agent_session("sessao-alice", user_id="bob", name="Sequestrada", runs=2)
    if alice_and_bob.ours:
        with pytest.raises(errors.SessionOwnershipError) as raised:
            alice_and_bob.db.upsert_session(hijack)
        assert "sessao-alice" in str(raised.value)
    else:
        assert alice_and_bob.db.upsert_session(hijack) is None
    original = alice_and_bob.db.get_session("sessao-alice", AGENT, user_id="alice")
    assert original.user_id == "alice"
    assert original.session_data["session_name"] == "Conversa da Alice"
    assert run_ids(original) == ["sessao-alice-run-0"]


def test_bulk_upsert_for_another_user(sync_backend: Backend) -> None:
    """The same through upsert_sessions: nothing of the batch is half-written on ours; on
    Agno's own the hijacking session is left out of the result."""
    save(sync_backend, agent_session("sessao-alice", user_id="alice", name="Conversa da Alice"))
    batch = [
        agent_session("nova-bob", user_id="bob"),
        agent_session("sessao-alice", user_id="bob", name="Sequestrada"),
    ]
    if sync_backend.ours:
        with pytest.raises(errors.SessionOwnershipError):
            sync_backend.db.upsert_sessions(batch)
        assert sync_backend.db.get_session("nova-bob", AGENT) is None
    else:
        stored = sync_backend.db.upsert_sessions(batch)
        assert [s.session_id for s in stored] == ["nova-bob"]
    original = sync_backend.db.get_session("sessao-alice", AGENT)
    assert (original.user_id, original.session_data["session_name"]) == (
        "alice",
        "Conversa da Alice",
    )


def test_team_upsert_for_another_user(own_backend: Backend) -> None:
    """Ours, for team sessions too."""
    save(own_backend, team_session("sessao-ana", user_id="alice"))
    with pytest.raises(errors.SessionOwnershipError):
        own_backend.db.upsert_session(team_session("sessao-ana", user_id="bob", runs=3))
    assert own_backend.db.get_session("sessao-ana", SessionType.TEAM).user_id == "alice"


def test_ownership_is_per_session_not_per_agent(own_backend: Backend) -> None:
    """Ours: a session id belongs to its user whichever specialist writes it next; another
    agent's row of alice's session cannot be opened for bob."""
    save(own_backend, agent_session("sessao-alice", agent_id="pix", user_id="alice"))
    with pytest.raises(errors.SessionOwnershipError):
        save(own_backend, agent_session("sessao-alice", agent_id="cartoes", user_id="bob"))
    with psycopg.connect(own_backend.dsn) as conn:
        stored = conn.execute("SELECT agent_id, user_id FROM agent_sessions").fetchall()
    assert stored == [("pix", "alice")]
