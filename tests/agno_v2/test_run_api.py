"""Agno 3's runs API (get_run, get_runs, delete_run(s), cancel_pending_run,
reassign_session_owner) over the runs the agent and team rows hold: each test runs on ours
and on Agno's own PostgresDb (sync and async), the reference, on the model of Agno's own cases
(libs/agno/tests/integration/db/postgres/test_runs_fk_cascade.py and the run methods of
agno/db/postgres/postgres.py). Agno 3 only (conftest.py leaves this file out under Agno 2)."""

import psycopg
import pytest
from agno.db.base import SessionType
from agno.run.agent import RunOutput
from agno.run.base import RunStatus
from agno.run.team import TeamRunOutput
from agno.run.workflow import WorkflowRunOutput

from ..helpers import run
from .backends import Backend, save
from .sessions import NOW, agent_run, agent_session, questions, run_ids, team_session
from .sessions import written_by_agno_1_7 as sample_sessions

AGENT = SessionType.AGENT


def _ids(runs: list[object]) -> list[str]:
    return [r.run_id for r in runs]  # type: ignore[attr-defined]


def _pending(backend: Backend) -> None:
    """sessao-pix of cliente-1: a completed run, then a pending one written as Agno 3 writes a
    turn's run (upsert_run)."""
    save(backend, agent_session())
    backend.db.upsert_run(
        run=agent_run("sessao-pix-run-1", status=RunStatus.pending),
        session_id="sessao-pix",
        user_id="cliente-1",
        run_index=1,
    )


def test_get_run(backend: Backend) -> None:
    """A run by its id, whichever session and table holds it: the run with its messages, or
    (deserialize=False) Agno's runs-table row."""
    save(backend, agent_session(runs=2))
    save(backend, team_session())
    found = backend.db.get_run("sessao-pix-run-1")
    assert isinstance(found, RunOutput)
    assert (found.run_id, found.session_id) == ("sessao-pix-run-1", "sessao-pix")
    assert found.agent_id == "pix"
    assert [m.content for m in found.messages if m.role == "user"] == ["pergunta sessao-pix-run-1"]
    team = backend.db.get_run("sessao-ana-run-0")
    assert isinstance(team, TeamRunOutput) and team.team_id == "ana"
    row = backend.db.get_run("sessao-pix-run-0", deserialize=False)
    assert {k: row[k] for k in ("run_id", "session_id", "run_type", "agent_id", "status")} == {
        "run_id": "sessao-pix-run-0", "session_id": "sessao-pix", "run_type": "agent",
        "agent_id": "pix", "status": "COMPLETED",
    }  # fmt: skip
    assert row["run_data"]["run_id"] == "sessao-pix-run-0" and row["user_id"] == "cliente-1"
    assert backend.db.get_run("nenhuma") is None


def test_get_runs_filters(backend: Backend) -> None:
    """Filters by session, user, agent, team and status; without deserialization, (rows,
    total). Agno: test_deleting_session_removes_its_runs counts them so."""
    save(backend, agent_session(runs=3))
    save(backend, agent_session("sessao-bia", user_id="bia", runs=1))
    save(backend, team_session(runs=2))
    session = agent_session("sessao-cartao", agent_id="cartoes", runs=1)
    session.runs[0].status = RunStatus.error
    save(backend, session)
    in_pix = backend.db.get_runs(session_id="sessao-pix")
    assert _ids(in_pix) == [f"sessao-pix-run-{i}" for i in range(3)]
    assert all(isinstance(r, RunOutput) for r in in_pix)
    rows, total = backend.db.get_runs(session_id="sessao-pix", deserialize=False)
    assert total == 3 and [r["run_id"] for r in rows] == _ids(in_pix)
    assert _ids(backend.db.get_runs(user_id="bia")) == ["sessao-bia-run-0"]
    assert sorted(_ids(backend.db.get_runs(agent_id="cartoes"))) == ["sessao-cartao-run-0"]
    teams = backend.db.get_runs(team_id="ana")
    assert sorted(_ids(teams)) == ["sessao-ana-run-0", "sessao-ana-run-1"]
    assert all(isinstance(r, TeamRunOutput) for r in teams)
    assert _ids(backend.db.get_runs(status=RunStatus.error)) == ["sessao-cartao-run-0"]
    assert _ids(backend.db.get_runs(session_id="sessao-pix", user_id="bia")) == []
    _, everything = backend.db.get_runs(deserialize=False)
    assert everything == 7


def test_get_runs_pagination_and_sort(backend: Backend) -> None:
    """limit and page (from 1), the total before the page; sorted by a column, newest first
    unless sort_order is "asc"; a page without a limit is refused, as Agno's own refuses it."""
    session = agent_session(runs=5)
    for i, r in enumerate(session.runs):
        r.created_at = NOW + i
    save(backend, session)
    rows, total = backend.db.get_runs(session_id="sessao-pix", limit=2, page=2, deserialize=False)
    assert total == 5 and [r["run_id"] for r in rows] == ["sessao-pix-run-2", "sessao-pix-run-3"]
    rows, total = backend.db.get_runs(session_id="sessao-pix", limit=2, page=9, deserialize=False)
    assert (rows, total) == ([], 5)
    newest = backend.db.get_runs(session_id="sessao-pix", sort_by="created_at", limit=2)
    assert _ids(newest) == ["sessao-pix-run-4", "sessao-pix-run-3"]
    oldest = backend.db.get_runs(session_id="sessao-pix", sort_by="created_at", sort_order="asc")
    assert _ids(oldest) == [f"sessao-pix-run-{i}" for i in range(5)]
    with pytest.raises(ValueError, match="page"):
        backend.db.get_runs(page=2)


def test_delete_run(backend: Backend) -> None:
    """The run leaves its session, whose other runs stay; an unknown id deletes nothing.
    delete_runs takes several at once."""
    save(backend, agent_session(runs=3))
    save(backend, team_session(runs=2))
    assert backend.db.delete_run("sessao-pix-run-1") is True
    assert backend.db.get_run("sessao-pix-run-1") is None
    read = backend.db.get_session("sessao-pix", AGENT)
    assert run_ids(read) == ["sessao-pix-run-0", "sessao-pix-run-2"]
    assert questions(read) == ["pergunta sessao-pix-run-0", "pergunta sessao-pix-run-2"]
    assert backend.db.delete_run("nenhuma") is False
    backend.db.delete_runs(["sessao-pix-run-0", "sessao-ana-run-1"])
    assert _ids(backend.db.get_runs(session_id="sessao-pix")) == ["sessao-pix-run-2"]
    assert _ids(backend.db.get_runs(session_id="sessao-ana")) == ["sessao-ana-run-0"]


def test_deleting_a_session_deletes_its_runs(backend: Backend) -> None:
    """Agno: test_deleting_session_removes_its_runs,
    test_deleting_session_leaves_other_sessions_runs_intact (test_runs_fk_cascade.py)."""
    save(backend, agent_session("s1", runs=3))
    save(backend, agent_session("s2", runs=2))
    assert backend.db.get_runs(session_id="s1", deserialize=False)[1] == 3
    backend.db.delete_session("s1")
    assert backend.db.get_runs(session_id="s1", deserialize=False) == ([], 0)
    assert backend.db.get_runs(session_id="s2", deserialize=False)[1] == 2
    assert backend.db.get_run("s1-run-0") is None


def test_delete_run_leaves_no_message_of_it(own_backend: Backend) -> None:
    """Ours: the row's conversation keeps only the messages its other runs refer to (a deleted
    run's words leave the `messages` column), and reads back whole."""
    save(own_backend, agent_session(runs=3))
    assert own_backend.db.delete_run("sessao-pix-run-1")
    with psycopg.connect(own_backend.dsn) as conn:
        [(messages,)] = conn.execute(
            "SELECT messages FROM agent_sessions WHERE session_id = 'sessao-pix'"
        ).fetchall()
    said = [m["content"] for m in messages]
    assert said == [
        "pergunta sessao-pix-run-0", "R: pergunta sessao-pix-run-0",
        "pergunta sessao-pix-run-2", "R: pergunta sessao-pix-run-2",
    ]  # fmt: skip
    assert run_ids(own_backend.db.get_session("sessao-pix", AGENT)) == [
        "sessao-pix-run-0",
        "sessao-pix-run-2",
    ]


def test_runs_of_an_odd_shape(own_backend: Backend) -> None:
    """Ours: a row edited by hand (a run that is not an object, one without a run_id, a
    created_at that is no number) lists what can be listed, and nothing fails."""
    save(own_backend, agent_session(runs=2))
    with psycopg.connect(own_backend.dsn) as conn:
        conn.execute(
            """UPDATE agent_sessions SET metadata = jsonb_set(
                   jsonb_set(metadata, '{agno,row,memory,runs,0,created_at}', '"ontem"'),
                   '{agno,row,memory,runs}',
                   (jsonb_set(metadata, '{agno,row,memory,runs,0,created_at}', '"ontem"')
                    #> '{agno,row,memory,runs}') || '["texto", {"content": "sem id"}]')"""
        )
    rows, total = own_backend.db.get_runs(session_id="sessao-pix", deserialize=False)
    assert [r["run_id"] for r in rows] == ["sessao-pix-run-0", "sessao-pix-run-1"]
    assert total == 2 and isinstance(rows[0]["created_at"], int)
    assert own_backend.db.get_run("sessao-pix-run-1").run_id == "sessao-pix-run-1"


def test_cancel_pending_run(backend: Backend) -> None:
    """Only a run whose stored status is the one expected is cancelled (the reason becomes its
    content, the rest stays); for its owner, not another user; once."""
    _pending(backend)

    def cancel(user: str | None = "cliente-1", expected: str = "PENDING") -> bool:
        cancelled = backend.db.cancel_pending_run(
            "sessao-pix-run-1", session_id="sessao-pix", reason="fila perdida",
            user_id=user, expected_status=expected,
        )  # fmt: skip
        return bool(cancelled)

    assert cancel(expected="RUNNING") is False
    assert cancel(user="bia") is False
    assert backend.db.get_run("sessao-pix-run-1").status == RunStatus.pending
    assert cancel() is True
    found = backend.db.get_run("sessao-pix-run-1")
    assert (found.status, found.content) == (RunStatus.cancelled, "fila perdida")
    assert [m.content for m in found.messages if m.role == "user"] == ["pergunta sessao-pix-run-1"]
    assert backend.db.get_run("sessao-pix-run-0").status == RunStatus.completed
    assert cancel() is False  # no longer pending
    with pytest.raises(ValueError, match=r"(?i)pending or running"):
        cancel(expected="COMPLETED")


def test_a_cancelled_run_is_not_set_back_by_a_stale_copy(own_backend: Backend) -> None:
    """Ours: a writer that read the run while pending and writes its copy back unchanged does
    not set the cancelled run back (as for any run another writer changed), and a read after
    the cancel is not served the run object built before it."""
    _pending(own_backend)
    stale = own_backend.db.get_session("sessao-pix", AGENT).runs[1]
    assert own_backend.db.cancel_pending_run(
        "sessao-pix-run-1", session_id="sessao-pix", reason="fila perdida", user_id="cliente-1"
    )
    again = own_backend.db.get_session("sessao-pix", AGENT)  # not the run object read before
    assert again.runs[1].status == RunStatus.cancelled
    own_backend.db.upsert_run(run=stale, session_id="sessao-pix", user_id="cliente-1")
    assert own_backend.db.get_run("sessao-pix-run-1").status == RunStatus.cancelled


def test_reassign_session_owner(backend: Backend) -> None:
    """Only while the stored owner is still the one given and no run is pending; the session
    then reads as the new owner's."""
    _pending(backend)
    assert not backend.db.reassign_session_owner(
        "sessao-pix", previous_user_id="cliente-1", user_id="bia"
    )  # a run is pending
    backend.db.upsert_run(
        run=agent_run("sessao-pix-run-1"), session_id="sessao-pix", user_id="cliente-1"
    )
    assert not backend.db.reassign_session_owner(
        "sessao-pix", previous_user_id="outro", user_id="bia"
    )
    assert backend.db.reassign_session_owner(
        "sessao-pix", previous_user_id="cliente-1", user_id="bia"
    )
    assert backend.db.get_session("sessao-pix", AGENT, user_id="cliente-1") is None
    assert run_ids(backend.db.get_session("sessao-pix", AGENT, user_id="bia")) == [
        "sessao-pix-run-0",
        "sessao-pix-run-1",
    ]
    # The runs go with their session on ours (a read with a user_id never returns another
    # user's runs); Agno's own keeps each run's writer in its runs table.
    owner = "bia" if backend.ours else "cliente-1"
    assert _ids(backend.db.get_runs(user_id=owner)) == ["sessao-pix-run-0", "sessao-pix-run-1"]
    assert _ids(backend.db.get_runs(user_id={"bia": "cliente-1"}.get(owner, "bia"))) == []


def test_no_session_goes_to_an_erased_user(own_backend: Backend) -> None:
    """Ours: a session is never given to a user forget-user erased."""
    save(own_backend, agent_session("sessao-bia", user_id="bia"))
    code, _, err = run("forget-user", "bia", "--dsn", own_backend.dsn, "--yes")
    assert code == 0, err
    save(own_backend, agent_session())
    assert not own_backend.db.reassign_session_owner(
        "sessao-pix", previous_user_id="cliente-1", user_id="bia"
    )
    assert own_backend.db.get_session("sessao-pix", AGENT, user_id="cliente-1") is not None


def test_workflow_runs_are_agnos(backend: Backend) -> None:
    """A workflow's run is in Agno's own table: found, listed with the others, deleted."""
    save(backend, agent_session())
    from .sessions import workflow_session

    backend.db.upsert_session(workflow_session())
    flow = WorkflowRunOutput(
        run_id="fluxo-1", workflow_id="onboarding", session_id="sessao-fluxo",
        status=RunStatus.completed, created_at=NOW,
    )  # fmt: skip
    backend.db.upsert_run(run=flow, session_id="sessao-fluxo", user_id="cliente-1", run_index=0)
    assert isinstance(backend.db.get_run("fluxo-1"), WorkflowRunOutput)
    rows, total = backend.db.get_runs(user_id="cliente-1", deserialize=False)
    assert total == 2
    assert sorted(r["run_id"] for r in rows) == ["fluxo-1", "sessao-pix-run-0"]
    by_id = backend.db.get_runs(user_id="cliente-1", sort_by="run_id", sort_order="asc")
    assert _ids(by_id) == ["fluxo-1", "sessao-pix-run-0"]
    last, total = backend.db.get_runs(
        user_id="cliente-1", sort_by="run_id", limit=1, page=2, deserialize=False
    )
    assert ([r["run_id"] for r in last], total) == (["fluxo-1"], 2)  # newest first: desc
    assert _ids(backend.db.get_runs(workflow_id="onboarding")) == ["fluxo-1"]
    assert _ids(backend.db.get_runs(agent_id="pix")) == ["sessao-pix-run-0"]
    assert backend.db.delete_run("fluxo-1") is True
    assert backend.db.get_run("fluxo-1") is None


def test_runs_of_both_places_keep_the_order_of_ties(own_backend: Backend) -> None:
    """Ours: runs of equal sort key come in their sessions' order (run_index) in either
    direction, whether a workflow's run (Agno's own table) is among them or not."""
    save(own_backend, agent_session(runs=3))
    from .sessions import workflow_session

    own_backend.db.upsert_session(workflow_session())
    flow = WorkflowRunOutput(
        run_id="fluxo-1", workflow_id="onboarding", session_id="sessao-fluxo",
        status=RunStatus.completed, created_at=NOW,
    )  # fmt: skip
    own_backend.db.upsert_run(run=flow, session_id="sessao-fluxo", user_id="cliente-1")
    ours = ["sessao-pix-run-0", "sessao-pix-run-1", "sessao-pix-run-2"]
    for order in ("asc", "desc"):
        alone = own_backend.db.get_runs(agent_id="pix", sort_by="status", sort_order=order)
        mixed = own_backend.db.get_runs(user_id="cliente-1", sort_by="status", sort_order=order)
        assert _ids(alone) == ours
        assert [i for i in _ids(mixed) if i != "fluxo-1"] == ours
        assert len(mixed) == 4


def test_runs_agno_1_7_wrote(imported: Backend) -> None:
    """Ours: the runs of sessions Agno 1.7 wrote (imported; route-mode specialists' runs kept
    in their own rows) are listed in their sessions' order and found by id. A route-mode
    session id names a team session and its specialists' agent sessions: its runs are both
    (the team's carry its team_id)."""
    with psycopg.connect(imported.dsn) as conn:  # the samples hold route-mode rows
        [(split,)] = conn.execute(
            "SELECT count(*) FROM agent_sessions WHERE metadata->'agno' ? 'split_of'"
        ).fetchall()
    assert split > 0
    agents, teams = sample_sessions("agent_sessions"), sample_sessions("team_sessions")
    for session_id in {*agents, *teams}:
        source = agents.get(session_id) or teams[session_id]
        rows, total = imported.db.get_runs(
            session_id=session_id, user_id=source["user_id"], deserialize=False
        )
        for table, team in ((agents, True), (teams, False)):
            expected = [run_id for run_id, _ in table.get(session_id, {"runs": []})["runs"]]
            listed = [r["run_id"] for r in rows if (r["team_id"] is None) is team]
            assert listed == expected, session_id
        assert total == len(rows) > 0
        for row in rows:
            assert imported.db.get_run(row["run_id"], deserialize=False)["session_id"] == session_id
