"""Workflow sessions live in Agno's own table (schema `agno`), yet belong to the user who
created them, as the plan's sessions do: a write for another user to a stored workflow session
id raises `SessionOwnershipError` and changes nothing (Agno's own returns None and drops the
write: agno #7957, #7986); a session stored without a user takes the first user's write."""

import re
import threading
from typing import Any

import psycopg
import pytest
from agno.db.base import SessionType
from agno.session import AgentSession, WorkflowSession

from pagbank_pg.agno import PagbankDb
from pagbank_pg.errors import SessionOwnershipError
from pagbank_pg.query import Transaction
from pagbank_pg.query.types import agno_queries

from ..helpers import wait_for, waiting_on
from .backends import Backend
from .sessions import REFUSED, stored, workflow_session


def test_a_write_for_another_user_raises(own_backend: Backend) -> None:
    db = own_backend.db
    db.upsert_session(workflow_session(user_id="ana"))
    before = stored(own_backend.dsn)
    for intruder in ("bia", None):  # another user, or none: the session has an owner
        theirs = workflow_session(user_id=intruder)  # type: ignore[arg-type]
        theirs.session_data = {"session_name": "sequestro"}
        with pytest.raises(SessionOwnershipError, match=REFUSED):
            db.upsert_session(theirs)
        with pytest.raises(SessionOwnershipError, match=REFUSED):
            db.upsert_sessions([theirs])
    assert stored(own_backend.dsn) == before
    # The owner's write is stored.
    own = workflow_session(user_id="ana")
    own.session_data = {"session_name": "Onboarding, etapa 2"}
    assert db.upsert_session(own).session_data == {"session_name": "Onboarding, etapa 2"}
    read = db.get_session("sessao-fluxo", SessionType.WORKFLOW, user_id="ana")
    assert read.session_data == {"session_name": "Onboarding, etapa 2"}


def test_a_batch_with_another_users_workflow_session_writes_nothing(
    own_backend: Backend,
) -> None:
    db = own_backend.db
    db.upsert_session(workflow_session(user_id="ana"))
    before = stored(own_backend.dsn)
    batch = [
        AgentSession(session_id="sessao-nova", agent_id="pix", user_id="bia"),
        workflow_session("sessao-fluxo-2", user_id="bia"),
        workflow_session(user_id="bia"),
    ]
    with pytest.raises(SessionOwnershipError, match=REFUSED):
        db.upsert_sessions(batch)
    # One new session id twice in a batch, for two users: the second is another user's.
    twice = [workflow_session("sessao-fluxo-2", user_id=user) for user in ("bia", "caio")]
    with pytest.raises(
        SessionOwnershipError, match=re.escape("'sessao-fluxo-2' of agno.agno_sessions")
    ):
        db.upsert_sessions([batch[0], *twice])
    assert stored(own_backend.dsn) == before
    assert db.get_session("sessao-nova", SessionType.AGENT) is None


def test_a_session_without_a_user_takes_the_first_users_write(own_backend: Backend) -> None:
    """As for the plan's tables (`check_owner`): no owner yet, so anyone's write is taken,
    and the session is then that user's."""
    db = own_backend.db
    db.upsert_session(WorkflowSession(session_id="sessao-fluxo", workflow_id="onboarding"))
    db.upsert_session(workflow_session(user_id="ana"))
    assert db.get_session("sessao-fluxo", SessionType.WORKFLOW).user_id == "ana"
    with pytest.raises(SessionOwnershipError, match=REFUSED):
        db.upsert_session(workflow_session(user_id="bia"))
    assert db.get_session("sessao-fluxo", SessionType.WORKFLOW).user_id == "ana"


def test_two_users_first_writes_of_one_session_take_turns(pdb: PagbankDb, db_dsn: str) -> None:
    """Two users write one new workflow session id at once: they take the session's lock in
    turn (seen waiting in pg_stat_activity), so the second sees the first's session and is
    refused, where Agno alone would let both read no owner and drop one write silently."""
    pdb.upsert_session(workflow_session("outra", user_id="ana"))  # Agno's tables made
    other = PagbankDb(db_dsn)
    outcomes: dict[str, Any] = {}

    def write(db: PagbankDb, user: str) -> None:
        try:
            outcomes[user] = db.upsert_session(workflow_session(user_id=user)).user_id
        except SessionOwnershipError as error:
            outcomes[user] = error

    try:
        with psycopg.connect(db_dsn) as holder, holder.transaction():
            agno_queries(Transaction(holder)).lock_agno_session(
                mode="workflow", session_id="sessao-fluxo"
            )
            pid = holder.info.backend_pid
            writers = [
                threading.Thread(target=write, args=(db, user))
                for db, user in ((pdb, "ana"), (other, "bia"))
            ]
            for writer in writers:
                writer.start()
            wait_for(lambda: waiting_on(db_dsn, pid) == 2, what="both writers wait")
        for writer in writers:
            writer.join(timeout=60)
    finally:
        other.close()
    [owner] = [user for user, outcome in outcomes.items() if outcome == user]
    [refused] = [o for o in outcomes.values() if isinstance(o, SessionOwnershipError)]
    assert "'sessao-fluxo' of agno.agno_sessions belongs to another user" in str(refused)
    assert pdb.get_session("sessao-fluxo", SessionType.WORKFLOW).user_id == owner
