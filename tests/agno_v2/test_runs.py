"""Runs one at a time (Agno 3's upsert_run) and the last N of them (runs_limit): Agno 3 only
(conftest.py leaves this file out under Agno 2)."""

import psycopg
import pytest
from agno.db.base import SessionType
from agno.run.agent import RunOutput
from agno.run.base import RunStatus
from agno.run.workflow import WorkflowRunOutput
from psycopg.conninfo import make_conninfo

from pagbank_pg.errors import SessionOwnershipError

from ..helpers import run
from .backends import OURS, Backend, close_backend, open_backend, save
from .sessions import (
    REFUSED,
    agent_run,
    agent_session,
    questions,
    run_ids,
    stored,
    workflow_session,
)

AGENT = SessionType.AGENT


def write_run(backend: Backend, run: RunOutput, run_index: int | None = None) -> None:
    """Write one run of sessao-pix, as Agno 3's Agent does: upsert_run."""
    backend.db.upsert_run(
        run=run, session_id="sessao-pix", user_id="cliente-1", run_index=run_index
    )


class TestRunsOfAgno3:
    """Runs written one at a time (Agno 3's upsert_run) and read back the last N (runs_limit).
    Agno: test_upsert_run_appends_new_run, test_upsert_run_updates_existing_run (in Agno 3.1's
    upsert_run signature), and the adapter cases of tests/integration/session/
    test_runs_limit_thread_through.py (TestAdapterBoundsReadCorrectly)."""

    def test_upsert_run_appends(self, backend: Backend) -> None:
        save(backend, agent_session())
        write_run(backend, agent_run("sessao-pix-run-1", question="segunda"), run_index=1)
        read = backend.db.get_session("sessao-pix", AGENT)
        assert run_ids(read) == ["sessao-pix-run-0", "sessao-pix-run-1"]
        assert questions(read) == ["pergunta sessao-pix-run-0", "segunda"]

    def test_upsert_run_updates_in_place(self, backend: Backend) -> None:
        save(backend, agent_session())
        write_run(backend, agent_run("sessao-pix-run-0", status=RunStatus.error))
        read = backend.db.get_session("sessao-pix", AGENT)
        assert run_ids(read) == ["sessao-pix-run-0"]
        assert read.runs[0].status == RunStatus.error

    @pytest.mark.parametrize(
        ("limit", "expected"),
        [(5, range(15, 20)), (None, range(20)), (0, range(0)), (50, range(20))],
    )
    def test_runs_limit(self, backend: Backend, limit: int | None, expected: range) -> None:
        save(backend, agent_session(runs=20))
        read = backend.db.get_session("sessao-pix", AGENT, runs_limit=limit)
        assert read is not None
        assert run_ids(read) == [f"sessao-pix-run-{i}" for i in expected]

    def test_runs_limit_counts_only_the_history(self, backend: Backend) -> None:
        """Agno's own counts the last N runs that make history: cancelled runs and member
        runs (parent_run_id) are not among them."""
        session = agent_session(runs=4)
        session.runs[3].status = RunStatus.cancelled
        session.runs[2].parent_run_id = "sessao-pix-run-1"
        save(backend, session)
        read = backend.db.get_session("sessao-pix", AGENT, runs_limit=2)
        assert run_ids(read) == ["sessao-pix-run-0", "sessao-pix-run-1"]


def test_upsert_run_keeps_ownership_and_erasure(own_backend: Backend) -> None:
    """A run for another user's session is refused, nothing written; an erased user's run is
    passed over; the session's conversation holds each run's messages once, in order."""
    save(own_backend, agent_session())
    with pytest.raises(SessionOwnershipError):
        own_backend.db.upsert_run(
            run=agent_run("alheio", question="sequestro"), session_id="sessao-pix", user_id="bia"
        )
    write_run(own_backend, agent_run("sessao-pix-run-1", question="segunda"))
    write_run(own_backend, agent_run("sessao-pix-run-1", question="segunda, revista"))
    read = own_backend.db.get_session("sessao-pix", AGENT)
    assert questions(read) == ["pergunta sessao-pix-run-0", "segunda, revista"]
    with psycopg.connect(own_backend.dsn) as conn:
        [(messages,)] = conn.execute("SELECT messages FROM agent_sessions").fetchall()
        said = [m["content"] for m in messages if m["role"] == "user"]
        assert said == ["pergunta sessao-pix-run-0", "segunda, revista"]
    code, _, err = run("forget-user", "cliente-1", "--dsn", own_backend.dsn, "--yes")
    assert code == 0, err
    write_run(own_backend, agent_run("sessao-pix-run-2", question="depois"))
    assert own_backend.db.get_session("sessao-pix", AGENT) is None


def test_a_workflow_run_for_another_user_raises(own_backend: Backend) -> None:
    """As for a workflow session (test_workflow_owner.py): Agno's own would store the run."""
    db = own_backend.db
    db.upsert_session(workflow_session(user_id="ana"))

    def workflow_run(run_id: str, user_id: str) -> WorkflowRunOutput:
        return WorkflowRunOutput(
            run_id=run_id, workflow_id="onboarding", session_id="sessao-fluxo", user_id=user_id
        )

    db.upsert_run(workflow_run("run-ana", "ana"), session_id="sessao-fluxo", user_id="ana")
    before = stored(own_backend.dsn)
    with pytest.raises(SessionOwnershipError, match=REFUSED):
        db.upsert_run(workflow_run("run-bia", "bia"), session_id="sessao-fluxo", user_id="bia")
    assert stored(own_backend.dsn) == before
    assert [r[:2] for r in before if r[0] == "run-ana"] == [("run-ana", "ana")]


@pytest.mark.parametrize("kind", OURS)
def test_a_run_given_back_unchanged_waits_for_no_lock_and_keeps_the_checks(
    kind: str, db_dsn: str
) -> None:
    """Agno 3 writes a turn's run twice: in upsert_session, then upsert_run. The second call
    hands back the very copy the storage wrote, so it writes nothing and does not wait for the
    session's lock (held meanwhile by another writer; lock_timeout makes a wait an error), yet
    another user's call still raises SessionOwnershipError and an erased user's is passed
    over."""
    backend = open_backend(kind, make_conninfo(db_dsn, options="-c lock_timeout=3s"))
    try:
        session = agent_session()
        backend.db.upsert_session(session)
        with psycopg.connect(db_dsn) as writer:
            writer.execute("SELECT pg_advisory_xact_lock(1634625391, hashtext('agent:sessao-pix'))")
            write_run(backend, session.runs[0])
            with pytest.raises(SessionOwnershipError):
                backend.db.upsert_run(run=session.runs[0], session_id="sessao-pix", user_id="bia")
        read = backend.db.get_session("sessao-pix", AGENT)
        assert run_ids(read) == ["sessao-pix-run-0"]
        assert questions(read) == ["pergunta sessao-pix-run-0"]
        code, _, err = run("forget-user", "cliente-1", "--dsn", db_dsn, "--yes")
        assert code == 0, err
        skipped = backend.native.erased_skipped
        write_run(backend, session.runs[0])
        assert backend.native.erased_skipped == skipped + 1
    finally:
        close_backend(backend)


def test_a_run_finished_after_its_session_was_forgotten_is_stored_finished(
    own_backend: Backend,
) -> None:
    """A storage that forgot which runs it served a session (many other sessions read since,
    as a run paused for a person and resumed later on a busy process) still stores the run's
    final state: the end of the turn's upsert_session does not take it for one it wrote."""
    db = own_backend.db
    own_backend.native.served.size = 1  # one session remembered: any other read forgets it
    save(own_backend, agent_session())
    save(own_backend, agent_session("outra", user_id="bia"))
    session = db.get_session("sessao-pix", AGENT, user_id="cliente-1")
    running = agent_run("sessao-pix-run-9", status=RunStatus.running)
    session.runs.append(running)
    db.upsert_session(session)
    write_run(own_backend, running, run_index=1)
    db.get_session("outra", AGENT, user_id="bia")
    done = agent_run("sessao-pix-run-9", status=RunStatus.completed)
    done.content = "resposta final"
    session.runs[-1] = done
    db.upsert_session(session)  # the end of the turn, as Agno 3: the session, then the run
    write_run(own_backend, done, run_index=1)
    finished = db.get_session("sessao-pix", AGENT, user_id="cliente-1").runs[-1]
    assert (finished.run_id, finished.status, finished.content) == (
        "sessao-pix-run-9",
        RunStatus.completed,
        "resposta final",
    )
