"""LGPD reaches Agno's own tables (the schema `agno_schema`, where PagbankDb sends workflow
sessions, traces, learnings, …): forget-user erases the user's rows there, export-user streams
them, and a write of an erased user through PagbankDb is passed over there too, even while
the erasure runs. Real Agno 2/3 objects, a real server."""

import json
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg
import pytest
from agno.db.schemas.evals import EvalRunRecord, EvalType
from agno.session import WorkflowSession
from agno.tracing.schemas import Span, Trace

from pagbank_pg.agno import AsyncPagbankDb, PagbankDb

from ..helpers import run, wait_for
from .models import agent

AGNO3 = int(version("agno").split(".")[0]) >= 3  # Agno 3's metrics hold one row per user


def _trace(trace_id: str, user_id: str) -> Trace:
    now = datetime.now(UTC)
    return Trace(
        trace_id=trace_id, name="Agent.run", status="OK", start_time=now, end_time=now,
        duration_ms=1, total_spans=1, error_count=0, run_id=None, session_id=None,
        user_id=user_id, agent_id="pix", team_id=None, workflow_id=None, created_at=now,
    )  # fmt: skip


def _span(span_id: str, trace_id: str) -> Span:
    now = datetime.now(UTC)
    return Span(
        span_id=span_id, trace_id=trace_id, parent_span_id=None, name="Agent.run",
        span_kind="INTERNAL", status_code="OK", status_message=None, start_time=now,
        end_time=now, duration_ms=1, attributes={"input": "meu pix"}, created_at=now,
    )  # fmt: skip


def _write_for(pdb: PagbankDb, user_id: str) -> None:
    """A user's data in both places: an agent turn (the plan's tables) and, in Agno's own
    tables, a workflow session, a trace with its span and a learning."""
    agent(pdb).run("meu pix falhou", session_id=f"s-{user_id}", user_id=user_id)
    pdb.upsert_session(WorkflowSession(session_id=f"w-{user_id}", workflow_id="wf",
                                       user_id=user_id))  # fmt: skip
    pdb.upsert_trace(_trace(f"t-{user_id}", user_id))
    pdb.create_span(_span(f"sp-{user_id}", f"t-{user_id}"))
    pdb.upsert_learning(id=f"l-{user_id}", learning_type="user_profile",
                        content={"prefere": "pix"}, user_id=user_id)  # fmt: skip


def _user_tables(dsn: str) -> list[str]:
    """The tables of the schema agno with a user_id column, as the server has them."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'agno' AND column_name = 'user_id' ORDER BY 1"
        ).fetchall()
    return [name for (name,) in found]


def _held(dsn: str, user_id: str) -> dict[str, int]:
    """How many rows of `user_id` each table of the schema agno holds (spans: those of the
    user's traces)."""
    counts = {}
    with psycopg.connect(dsn) as conn:
        for table in _user_tables(dsn):
            query = f"SELECT count(*) FROM agno.{table} WHERE user_id = %s"
            counts[table] = conn.execute(query, (user_id,)).fetchone()[0]  # type: ignore[index]
        if "agno_traces" in counts:  # the spans of the user's trace
            counts["agno_spans"] = conn.execute(
                "SELECT count(*) FROM agno.agno_spans WHERE trace_id = %s", (f"t-{user_id}",)
            ).fetchone()[0]  # type: ignore[index]
    return counts


def _erased(out: str) -> dict[str, str]:
    """forget-user's table of rows lost, by table."""
    return dict(line.rsplit(None, 1) for line in out.splitlines() if not line.startswith("erased"))


def test_forget_user_erases_the_users_rows_in_agnos_tables(pdb: PagbankDb, db_dsn: str) -> None:
    _write_for(pdb, "ana")
    _write_for(pdb, "bia")
    pdb.calculate_metrics()
    before = _held(db_dsn, "ana")
    assert {t: n for t, n in before.items() if n} == {
        "agno_sessions": 1, "agno_traces": 1, "agno_spans": 1, "agno_learnings": 1,
        **({"agno_metrics": 1} if AGNO3 else {}),
    }  # fmt: skip
    code, out, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes")
    assert code == 0, err
    said = _erased(out)
    assert {k: said[k] for k in ("agno.agno_sessions", "agno.agno_traces", "agno.agno_spans",
                                 "agno.agno_learnings", "agent_sessions")} == {
        "agno.agno_sessions": "1", "agno.agno_traces": "1", "agno.agno_spans": "1",
        "agno.agno_learnings": "1", "agent_sessions": "1",
    }  # fmt: skip
    assert set(_held(db_dsn, "ana").values()) == {0}  # nothing of ana left in any of them
    assert _held(db_dsn, "bia") == before  # bia keeps hers
    assert "skipped" not in err
    # The user is erased: a second run finds nothing left, in either place.
    assert run("forget-user", "ana", "--dsn", db_dsn, "--yes")[1].startswith(
        "user 'ana' was erased before"
    )


def test_a_user_with_rows_in_agnos_tables_only_is_found(pdb: PagbankDb, db_dsn: str) -> None:
    pdb.upsert_learning(id="l1", learning_type="user_profile", content={"a": 1}, user_id="ana")
    code, out, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes")
    assert code == 0, err
    assert _erased(out)["agno.agno_learnings"] == "1"
    assert _held(db_dsn, "ana")["agno_learnings"] == 0


def test_export_user_streams_the_users_rows_in_agnos_tables(
    pdb: PagbankDb, db_dsn: str, tmp_path: Path
) -> None:
    _write_for(pdb, "ana")
    _write_for(pdb, "bia")
    code, out, err = run("export-user", "ana", "--dsn", db_dsn, "--out", str(tmp_path / "a.json"))
    assert code == 0, err
    document = json.loads((tmp_path / "a.json").read_text())
    assert [r["session_id"] for r in document["agent_sessions"]] == ["s-ana"]
    assert [r["session_id"] for r in document["agno.agno_sessions"]] == ["w-ana"]
    assert [r["trace_id"] for r in document["agno.agno_traces"]] == ["t-ana"]
    assert [r["attributes"] for r in document["agno.agno_spans"]] == [{"input": "meu pix"}]
    assert [r["content"] for r in document["agno.agno_learnings"]] == [{"prefere": "pix"}]
    agno_lists = {k for k in document if k.startswith("agno.")}
    assert agno_lists >= {f"agno.{t}" for t in _user_tables(db_dsn)}
    assert "agno.agno_learnings 1" in out


def test_an_erased_users_writes_to_agnos_tables_are_passed_over(
    pdb: PagbankDb, db_dsn: str
) -> None:
    _write_for(pdb, "ana")
    assert run("forget-user", "ana", "--dsn", db_dsn, "--yes")[0] == 0
    _write_for(pdb, "ana")  # an app replica that still serves her
    _write_for(pdb, "bia")
    batch = [WorkflowSession(session_id=f"b{n}", workflow_id="wf", user_id=user)
             for n, user in enumerate(["ana", "bia", "ana"])]  # fmt: skip
    assert [s.session_id for s in pdb.upsert_sessions(batch)] == ["b1"]  # Agno's bulk path
    assert set(_held(db_dsn, "ana").values()) == {0}
    assert _held(db_dsn, "bia")["agno_learnings"] == 1
    assert _held(db_dsn, "bia")["agno_sessions"] == 2  # w-bia, b1
    # The agent turn (the plan's tables: its session, and on Agno 3 its run written apart),
    # the workflow session, the trace, the learning, and the two sessions of the batch.
    turn = 2 if AGNO3 else 1
    assert pdb.erased_skipped == turn + 5
    if AGNO3:  # an eval run handed to the erased user (AgentOS's eval router does it)
        pdb.create_eval_run(EvalRunRecord(run_id="e1", eval_type=EvalType.ACCURACY, eval_data={}))
        assert pdb.update_eval_run_user_id(eval_run_id="e1", user_id="ana") is None
        with psycopg.connect(db_dsn) as conn:
            assert conn.execute("SELECT user_id FROM agno.agno_eval_runs").fetchall() == [(None,)]
        assert pdb.erased_skipped == turn + 6


def test_an_erased_users_workflow_session_stays_out_written_without_a_user(
    pdb: PagbankDb, db_dsn: str
) -> None:
    """forget-user records the user's workflow sessions as erased: a write of one that names
    no user (Agno's workflows may not) is passed over too."""
    _write_for(pdb, "ana")
    assert run("forget-user", "ana", "--dsn", db_dsn, "--yes")[0] == 0
    unnamed = WorkflowSession(session_id="w-ana", workflow_id="wf", user_id=None)
    assert pdb.upsert_session(unnamed) is None
    other = WorkflowSession(session_id="w-new", workflow_id="wf", user_id=None)
    assert pdb.upsert_session(other) is not None
    with psycopg.connect(db_dsn) as conn:
        stored = conn.execute("SELECT session_id FROM agno.agno_sessions ORDER BY 1").fetchall()
    assert stored == [("w-new",)]
    assert pdb.erased_skipped == 1


def test_a_write_keyed_by_an_erased_session_alone_is_passed_over(
    pdb: PagbankDb, db_dsn: str
) -> None:
    """A write to Agno's tables that names an erased session and no user (a trace of the
    session; on Agno 3 a transcript, keyed by `agno_session_id`) is passed over: once its
    user's rows are gone, no later erasure could find it."""
    _write_for(pdb, "ana")
    assert run("forget-user", "ana", "--dsn", db_dsn, "--yes")[0] == 0
    unnamed = _trace("t-unnamed", "ana")
    unnamed.user_id, unnamed.session_id = None, "s-ana"
    pdb.upsert_trace(unnamed)
    other = _trace("t-other", "ana")
    other.user_id, other.session_id = None, "s-other"
    pdb.upsert_trace(other)
    with psycopg.connect(db_dsn) as conn:
        traces = conn.execute("SELECT trace_id FROM agno.agno_traces ORDER BY 1").fetchall()
    assert traces == [("t-other",)]
    assert pdb.erased_skipped == 1
    if AGNO3:
        entry = {"uuid": "e1", "text": "meu CPF é 123"}
        pdb.append_transcript_entries("claude", "proj", "cs", [entry], agno_session_id="s-ana")
        pdb.append_transcript_entries("claude", "proj", "ok", [entry], agno_session_id="s-x")
        with psycopg.connect(db_dsn) as conn:
            kept = conn.execute("SELECT agno_session_id FROM agno.agno_transcripts").fetchall()
        assert kept == [("s-x",)]
        assert pdb.erased_skipped == 2


def test_an_erasure_waits_for_a_write_to_agnos_tables_in_flight_and_erases_it(
    pdb: PagbankDb, db_dsn: str
) -> None:
    """A learning of ana's that Agno is writing when forget-user starts: the erasure waits
    for it (the writer holds ana's erasure guard), then erases it too."""
    agent(pdb).run("oi", session_id="s-ana", user_id="ana")
    pdb.upsert_learning(id="l-bia", learning_type="x", content={}, user_id="bia")  # the table
    tag = uuid.uuid4().hex
    with psycopg.connect(db_dsn) as blocker:
        blocker.execute("LOCK TABLE agno.agno_learnings IN EXCLUSIVE MODE")  # Agno's write waits
        writer = threading.Thread(target=lambda: pdb.upsert_learning(
            id="l-ana", learning_type="x", content={"tag": tag}, user_id="ana"))  # fmt: skip
        writer.start()

        def waiting(event: str, text: str) -> bool:
            with psycopg.connect(db_dsn) as conn:
                return bool(conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = %s "
                    "AND query ILIKE %s", (event, f"%{text}%"),
                ).fetchone()[0])  # type: ignore[index]  # fmt: skip

        wait_for(lambda: waiting("relation", "agno_learnings"))  # Agno's insert, blocked
        outcome: list[tuple[int, str, str]] = []
        erasure = threading.Thread(
            target=lambda: outcome.append(run("forget-user", "ana", "--dsn", db_dsn, "--yes"))
        )
        erasure.start()
        wait_for(lambda: waiting("advisory", "lock_for_erasure"))  # it waits for the writer
    writer.join(60)
    erasure.join(60)
    [(code, out, err)] = outcome
    assert code == 0, err
    assert _erased(out)["agno.agno_learnings"] == "1"  # the learning written meanwhile, erased
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT user_id FROM agno.agno_learnings").fetchall() == [("bia",)]


@pytest.fixture
async def adb(db_dsn: str) -> AsyncIterator[AsyncPagbankDb]:
    db = AsyncPagbankDb(db_dsn, agno_schema="agno")
    yield db
    await db.close()


async def test_the_async_twin_passes_an_erased_users_writes_over_too(
    adb: AsyncPagbankDb, pdb: PagbankDb, db_dsn: str
) -> None:
    _write_for(pdb, "ana")
    assert run("forget-user", "ana", "--dsn", db_dsn, "--yes")[0] == 0
    workflows = [WorkflowSession(session_id=f"w{n}", workflow_id="wf", user_id=user)
                 for n, user in enumerate(["ana", "bia"])]  # fmt: skip
    assert await adb.upsert_session(workflows[0]) is None
    assert (await adb.upsert_session(workflows[1])).session_id == "w1"
    await adb.upsert_trace(_trace("t-ana2", "ana"))
    await adb.upsert_learning(id="l2", learning_type="x", content={}, user_id="ana")
    assert set(_held(db_dsn, "ana").values()) == {0}
    assert adb.erased_skipped == 3  # the workflow session, the trace, the learning
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT session_id FROM agno.agno_sessions").fetchall() == [("w1",)]
