"""Any number of app replicas writing one session at once keep every run: 8 processes, each
with its own PagbankDb and a real Agno agent, 2 turns each on one session."""

import multiprocessing
import time
from typing import Any

import psycopg
from agno.db.base import SessionType
from agno.run.agent import RunOutput
from agno.run.base import RunStatus
from agno.session import AgentSession

from pagbank_pg.agno import PagbankDb

from .backends import AGNO_MAJOR
from .models import agent

PROCESSES, TURNS = 8, 2


def _replica(dsn: str, number: int, barrier: Any) -> None:
    db = PagbankDb(dsn)
    try:
        barrier.wait(timeout=120)
        for turn in range(TURNS):
            # A fresh agent per turn: each turn reads the session, as a stateless replica does.
            agent(db).run(f"replica {number} turn {turn}", session_id="shared", user_id="ana")
    finally:
        db.close()


def test_eight_replicas_two_turns_each_keep_all_sixteen_runs(db_dsn: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    replicas = [spawn.Process(target=_replica, args=(db_dsn, n, barrier)) for n in range(PROCESSES)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(timeout=600)
    assert [r.exitcode for r in replicas] == [0] * PROCESSES
    with psycopg.connect(db_dsn) as conn:
        [(count, messages)] = conn.execute(
            "SELECT count(*), min(messages::text)::jsonb FROM agent_sessions"
        ).fetchall()
    assert count == 1  # one row per (session_id, agent_id)
    said = sorted(m["content"] for m in messages if m["role"] == "user")
    assert said == sorted(f"replica {n} turn {t}" for n in range(PROCESSES) for t in range(TURNS))
    db = PagbankDb(db_dsn)
    try:
        session = db.get_session("shared", SessionType.AGENT, user_id="ana")
        assert len(session.runs) == PROCESSES * TURNS
        assert len({run.run_id for run in session.runs}) == PROCESSES * TURNS
    finally:
        db.close()


def _run(run_id: str, status: RunStatus, content: str) -> RunOutput:
    return RunOutput(run_id=run_id, agent_id="pix", session_id="s1", user_id="ana",
                     status=status, content=content, created_at=int(time.time()))  # fmt: skip


def _write(db: PagbankDb, session: AgentSession, run: RunOutput) -> None:
    """Write `session` after a turn on `run`, as the installed Agno's Agent does: on Agno 3 the
    session, then the run through upsert_run; on Agno 2 the session with its runs."""
    db.upsert_session(session)
    if AGNO_MAJOR >= 3:
        db.upsert_run(run, session_id=session.session_id, user_id=session.user_id)


def _stored(db: PagbankDb) -> list[tuple[str | None, RunStatus | None, Any]]:
    session = db.get_session("s1", SessionType.AGENT, user_id="ana")
    return [(r.run_id, r.status, r.content) for r in session.runs]


def test_a_stale_copy_of_a_run_never_sets_back_a_newer_state(db_dsn: str) -> None:
    """Replica B read the session while a run was RUNNING; replica A then completed it. B's
    next writes carry its old copy of that run: the run stays COMPLETED, B's run is added."""
    first, second = PagbankDb(db_dsn), PagbankDb(db_dsn)
    try:
        a = AgentSession(session_id="s1", agent_id="pix", user_id="ana",
                         runs=[_run("r1", RunStatus.running, "")])  # fmt: skip
        _write(first, a, a.runs[0])
        b = second.get_session("s1", SessionType.AGENT, user_id="ana")  # sees r1 RUNNING
        a = first.get_session("s1", SessionType.AGENT, user_id="ana")
        a.runs[0].status, a.runs[0].content = RunStatus.completed, "pronto"
        _write(first, a, a.runs[0])
        b.runs.append(_run("r2", RunStatus.completed, "outra"))
        _write(second, b, b.runs[-1])
        if AGNO_MAJOR >= 3:  # B's stale copy of r1, written on its own as a turn writes a run
            second.upsert_run(b.runs[0], session_id="s1", user_id="ana")
        assert _stored(first) == [
            ("r1", RunStatus.completed, "pronto"), ("r2", RunStatus.completed, "outra")
        ]  # fmt: skip
        # B's own edit of a run it read is kept: it changed it since it read it.
        b = second.get_session("s1", SessionType.AGENT, user_id="ana")
        b.runs[0].content = "revisto"
        _write(second, b, b.runs[0])
        assert [content for _, _, content in _stored(first)] == ["revisto", "outra"]
    finally:
        first.close()
        second.close()
