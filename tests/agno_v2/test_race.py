"""App replicas racing on one session: 8 processes, each with its own storage (its own pool)
and its own Agent on the offline model, run 2 turns each on the same session, all 8 starting
each turn together. The model is slow enough that every racing turn reads the session before
any of them writes it back.

Ours keeps all 16 runs, each writer's in its order, in one agent_sessions row. Agno's own
PostgresDb is measured the same way: on Agno 2.x it loses runs (agno #7479), on Agno 3 it keeps
them (a row per run). For Agno's own the test checks that what it kept is whole and records how
many runs it kept (`runs_kept` in the test's properties, printed with -s); it does not assert
that Agno loses any."""

import multiprocessing
from collections import Counter
from importlib.metadata import version
from typing import Any

import psycopg
from agno.db.base import SessionType

from .backends import Backend, close_backend, open_backend
from .offline import ScriptedModel, specialist, turn
from .sessions import questions

WRITERS, TURNS = 8, 2
SESSION = "s-corrida"


def text(writer: int, number: int) -> str:
    return f"replica {writer} turno {number}"


def replica(kind: str, dsn: str, writer: int, start: Any) -> None:
    """One app replica (a process of its own): its turns, each begun with the others'."""
    backend = open_backend(kind, dsn)
    try:
        bot = specialist(backend.native, model=ScriptedModel(delay=0.5))
        for number in range(TURNS):
            start.wait(timeout=120)
            turn(backend, bot, text(writer, number), SESSION)
    finally:
        close_backend(backend)


def race(kind: str, dsn: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    processes = [
        context.Process(target=replica, args=(kind, dsn, w, start)) for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    assert [p.exitcode for p in processes] == [0] * WRITERS


def test_racing_replicas(backend: Backend, record_property: Any) -> None:
    # the app's tables exist before its replicas serve anyone (Agno's own creates its tables
    # on first use, and 8 processes creating them at once fail on the race, not on a session)
    turn(backend, specialist(backend.native), "primeira conversa", "s-outra")
    race(backend.kind, backend.dsn)
    stored = backend.db.get_session(SESSION, SessionType.AGENT)
    kept = questions(stored)
    record_property("runs_kept", len(kept))
    print(f"\n{backend.kind} on agno {version('agno')}: {len(kept)} of {WRITERS * TURNS} runs kept")
    # whatever was kept is whole: each run once, with its answer, each writer's in order
    assert kept and max(Counter(kept).values()) == 1
    for run, question in zip(stored.runs, kept, strict=True):
        assert run.content.startswith(f"Entendi: {question} (vi ")
    for writer in range(WRITERS):
        mine = [q for q in kept if q.startswith(f"replica {writer} ")]
        assert mine == sorted(mine)
    if not backend.ours:
        return
    assert sorted(kept) == sorted(text(w, n) for w in range(WRITERS) for n in range(TURNS))
    with psycopg.connect(backend.dsn) as conn:
        rows = conn.execute(
            "SELECT agent_id FROM agent_sessions WHERE session_id = %s", [SESSION]
        ).fetchall()
    assert rows == [("pix",)]
    # a later turn has every one of the 16 in its history
    reader = specialist(backend.native, num_history_runs=100)
    assert turn(backend, reader, "e agora?", SESSION).content == (
        f"Entendi: e agora? (vi {WRITERS * TURNS + 1})"
    )
