"""Sessions through the public BaseDb API, on Agno's own test cases
(libs/agno/tests/integration/db/postgres/test_session.py in agno-agi/agno): each test names the
cases of Agno's it covers (docs/agno.md has the table). Each runs on ours and on Agno's own
PostgresDb, sync and async."""

import copy

from agno.db.base import SessionType
from agno.run.base import RunStatus
from agno.run.workflow import WorkflowRunOutput
from agno.session import AgentSession, TeamSession, WorkflowSession
from agno.session.summary import SessionSummary

from .backends import AGNO_MAJOR, Backend, save
from .sessions import (
    NOW,
    agent_run,
    agent_session,
    questions,
    run_ids,
    team_session,
    workflow_session,
)

AGENT, TEAM = SessionType.AGENT, SessionType.TEAM


def has(got: dict[str, object] | None, given: dict[str, object]) -> bool:
    """`got` holds every key of `given` with its value (what Agno's own cases check; whether
    keys that were not given stay is test_an_update_replaces_what_it_gives)."""
    return got is not None and {k: got.get(k) for k in given} == given


def test_insert_agent_session(backend: Backend) -> None:
    """Agno: test_insert_agent_session."""
    session = agent_session()
    stored = save(backend, session)
    assert isinstance(stored, AgentSession)
    assert (stored.session_id, stored.agent_id, stored.user_id) == (
        "sessao-pix",
        "pix",
        "cliente-1",
    )
    assert stored.session_data == session.session_data
    assert stored.agent_data == session.agent_data
    read = backend.db.get_session("sessao-pix", AGENT)
    assert read.session_data == session.session_data and read.agent_data == session.agent_data
    assert run_ids(read) == ["sessao-pix-run-0"]
    assert questions(read) == ["pergunta sessao-pix-run-0"]


def test_update_agent_session(backend: Backend) -> None:
    """Agno: test_update_agent_session."""
    session = agent_session()
    save(backend, session)
    session.session_data = {"session_name": "Atualizada", "atualizada": True}
    session.agent_data = {"name": "Outro"}
    stored = save(backend, session)
    assert has(stored.session_data, {"session_name": "Atualizada", "atualizada": True})
    assert has(stored.agent_data, {"name": "Outro"})
    assert run_ids(stored) == ["sessao-pix-run-0"]
    read = backend.db.get_session("sessao-pix", AGENT)
    assert read.session_data["session_name"] == "Atualizada"
    assert has(read.agent_data, {"name": "Outro"})
    assert run_ids(read) == ["sessao-pix-run-0"]


def test_an_update_replaces_what_it_gives(backend: Backend) -> None:
    """An update stores the session's dicts as given: a key the app dropped from session_data,
    agent_data, team_data or metadata does not come back (Agno's own replaces them)."""
    session = agent_session()
    session.session_data = {"session_name": "S", "session_state": {"etapa": 1}, "fila": "pix"}
    session.agent_data, session.metadata = {"name": "PIX", "model": "echo-1"}, {"a": 1, "b": 2}
    save(backend, session)
    session.session_data = {"session_name": "S"}
    session.agent_data, session.metadata = {"name": "PIX"}, {"a": 1}
    for result in (save(backend, session), backend.db.get_session("sessao-pix", AGENT)):
        assert result.session_data == {"session_name": "S"}
        assert (result.agent_data, result.metadata) == ({"name": "PIX"}, {"a": 1})
    team = team_session()
    save(backend, team)
    team.team_data, team.session_data = {"name": "Ana"}, {"session_name": "T"}
    for result in (save(backend, team), backend.db.get_session("sessao-ana", TEAM)):
        assert (result.team_data, result.session_data) == ({"name": "Ana"}, {"session_name": "T"})


def test_insert_and_update_team_session(backend: Backend) -> None:
    """Agno: test_insert_team_session, test_update_team_session."""
    session = team_session()
    stored = save(backend, session)
    assert isinstance(stored, TeamSession)
    assert (stored.session_id, stored.team_id, stored.user_id) == ("sessao-ana", "ana", "cliente-1")
    assert stored.session_data == session.session_data and stored.team_data == session.team_data
    assert run_ids(stored) == ["sessao-ana-run-0"]
    session.session_data = {"session_name": "Ana atualizada", "atualizada": True}
    session.team_data = {"name": "Ana 2"}
    stored = save(backend, session)
    assert stored.session_data["session_name"] == "Ana atualizada"
    assert has(stored.team_data, {"name": "Ana 2"})
    read = backend.db.get_session("sessao-ana", TEAM)
    assert isinstance(read, TeamSession)
    assert has(read.team_data, {"name": "Ana 2"}) and run_ids(read) == ["sessao-ana-run-0"]


def test_without_deserialization(backend: Backend) -> None:
    """Agno: test_upserting_without_deserialization, test_get_session_without_deserialization,
    test_get_sessions_without_deserialize."""
    session = agent_session()
    stored = backend.db.upsert_session(session, deserialize=False)
    save(backend, session)
    assert isinstance(stored, dict) and stored["session_id"] == "sessao-pix"
    read = backend.db.get_session("sessao-pix", AGENT, deserialize=False)
    assert isinstance(read, dict)
    assert read["session_id"] == "sessao-pix" and read["user_id"] == "cliente-1"
    assert has(read["session_data"], session.session_data)
    listed, total = backend.db.get_sessions(session_type=AGENT, deserialize=False)
    assert total == 1 and [s["session_id"] for s in listed] == ["sessao-pix"]
    assert isinstance(listed[0], dict)


def test_get_session_by_id_and_type(backend: Backend) -> None:
    """Agno: test_get_agent_session_by_id, test_get_team_session_by_id,
    test_session_type_polymorphism."""
    save(backend, agent_session())
    save(backend, team_session())
    assert backend.db.get_session("nenhuma", AGENT) is None
    read_agent = backend.db.get_session("sessao-pix", AGENT)
    read_team = backend.db.get_session("sessao-ana", TEAM)
    assert isinstance(read_agent, AgentSession) and read_agent.agent_id == "pix"
    assert isinstance(read_team, TeamSession) and read_team.team_id == "ana"
    mismatched = backend.db.get_session("sessao-pix", TEAM)
    if backend.ours:
        # Ours: agent and team sessions are rows of different tables; asking for a team
        # session finds no team session of that id (Agno's own builds a TeamSession out of
        # the agent row).
        assert mismatched is None
    else:
        assert isinstance(mismatched, TeamSession) and mismatched.session_id == "sessao-pix"


def test_get_session_filtered_by_user(backend: Backend) -> None:
    """Agno: test_get_session_with_user_id_filter."""
    save(backend, agent_session())
    assert backend.db.get_session("sessao-pix", AGENT, user_id="cliente-1") is not None
    assert backend.db.get_session("sessao-pix", AGENT, user_id="cliente-2") is None


def test_get_sessions_of_each_type(backend: Backend) -> None:
    """Agno: test_get_all_sessions."""
    save(backend, agent_session())
    save(backend, team_session())
    agents = backend.db.get_sessions(session_type=AGENT)
    teams = backend.db.get_sessions(session_type=TEAM)
    assert [(type(s), s.session_id) for s in agents] == [(AgentSession, "sessao-pix")]
    assert [(type(s), s.session_id) for s in teams] == [(TeamSession, "sessao-ana")]
    assert run_ids(agents[0]) == ["sessao-pix-run-0"]


def test_get_sessions_filters(backend: Backend) -> None:
    """Agno: test_filtering_by_user_id, test_filtering_by_component_id,
    test_get_sessions_with_session_name_filter."""
    save(backend, agent_session("s1", "pix", "cliente-1", name="Conversa Alpha"))
    save(backend, agent_session("s2", "cartoes", "cliente-2", name="Conversa Beta"))
    save(backend, agent_session("s3", "cartoes", "cliente-1", name="Outra alpha"))

    def ids(**filters: object) -> list[str]:
        return sorted(s.session_id for s in backend.db.get_sessions(session_type=AGENT, **filters))

    assert ids(user_id="cliente-1") == ["s1", "s3"]
    assert ids(user_id="cliente-3") == []
    assert ids(component_id="cartoes") == ["s2", "s3"]
    assert ids(component_id="cartoes", user_id="cliente-1") == ["s3"]
    assert ids(session_name="Alpha") == ["s1", "s3"]  # a part of the name, any case
    assert ids(session_name="Beta") == ["s2"]


def test_get_sessions_pagination(backend: Backend) -> None:
    """Agno: test_get_sessions_with_pagination."""
    for i in range(5):
        save(backend, agent_session(f"s{i}", f"agente-{i}", created_at=NOW + i))
    pages = [
        backend.db.get_sessions(
            session_type=AGENT, limit=2, page=page, sort_by="created_at", sort_order="asc"
        )
        for page in (1, 2, 3, 4)
    ]
    assert [[s.session_id for s in p] for p in pages] == [["s0", "s1"], ["s2", "s3"], ["s4"], []]
    raw, total = backend.db.get_sessions(session_type=AGENT, limit=2, page=2, deserialize=False)
    assert len(raw) == 2 and total == 5  # the count is of every match, not of the page


def test_get_sessions_sorting(backend: Backend) -> None:
    """Agno: test_get_sessions_with_sorting."""
    save(backend, agent_session("s1", "a1", created_at=NOW + 100))
    save(backend, agent_session("s2", "a2", created_at=NOW + 200))
    save(backend, agent_session("s0", "a0", created_at=NOW + 50))

    def order(**sort: str) -> list[str]:
        return [s.session_id for s in backend.db.get_sessions(session_type=AGENT, **sort)]

    assert order(sort_by="created_at", sort_order="asc") == ["s0", "s1", "s2"]
    assert order(sort_by="created_at", sort_order="desc") == ["s2", "s1", "s0"]


def test_get_sessions_time_window(backend: Backend) -> None:
    """Agno: test_get_sessions_with_timestamp_filter."""
    save(backend, agent_session("antiga", "a1", created_at=NOW - 1000))
    save(backend, agent_session("nova", "a2", created_at=NOW + 1000))
    recent = backend.db.get_sessions(session_type=AGENT, start_timestamp=NOW)
    old = backend.db.get_sessions(session_type=AGENT, end_timestamp=NOW)
    assert [s.session_id for s in recent] == ["nova"]
    assert [s.session_id for s in old] == ["antiga"]
    both = backend.db.get_sessions(
        session_type=AGENT, start_timestamp=NOW - 2000, end_timestamp=NOW + 2000
    )
    assert sorted(s.session_id for s in both) == ["antiga", "nova"]


def test_rename(backend: Backend) -> None:
    """Agno: test_rename_agent_session, test_rename_team_session,
    test_rename_session_without_deserialize."""
    save(backend, agent_session())
    save(backend, team_session())
    renamed = backend.db.rename_session("sessao-pix", AGENT, "Novo nome")
    assert isinstance(renamed, AgentSession) and renamed.session_data["session_name"] == "Novo nome"
    assert renamed.session_data["chave"] == "valor"  # the rest of session_data stays
    team = backend.db.rename_session("sessao-ana", TEAM, "Ana renomeada")
    assert isinstance(team, TeamSession) and team.session_data["session_name"] == "Ana renomeada"
    raw = backend.db.rename_session("sessao-pix", AGENT, "Dict", deserialize=False)
    assert isinstance(raw, dict) and raw["session_data"]["session_name"] == "Dict"
    read = backend.db.get_session("sessao-pix", AGENT)
    assert has(read.session_data, {"session_name": "Dict", "chave": "valor"})
    assert run_ids(read) == ["sessao-pix-run-0"]
    assert backend.db.get_sessions(session_type=AGENT, session_name="Dict")[0].session_id == (
        "sessao-pix"
    )


def test_rename_without_type(backend: Backend) -> None:
    """Agno: test_rename_session_without_type."""
    save(backend, agent_session())
    untyped = backend.db.rename_session("sessao-pix", None, "Sem tipo")
    assert isinstance(untyped, AgentSession)
    assert untyped.session_data["session_name"] == "Sem tipo"
    read = backend.db.get_session("sessao-pix", AGENT)
    assert has(read.session_data, {"session_name": "Sem tipo", "chave": "valor"})


def test_delete(backend: Backend) -> None:
    """Agno: test_delete_single_session, test_delete_multiple_sessions."""
    for i in range(3):
        save(backend, agent_session(f"s{i}", f"agente-{i}"))
    save(backend, team_session("t0"))
    assert backend.db.delete_session("s0") is True
    assert backend.db.get_session("s0", AGENT) is None
    assert backend.db.delete_session("s0") is False  # nothing left to delete
    backend.db.delete_sessions(["s1", "t0"])
    assert [s.session_id for s in backend.db.get_sessions(session_type=AGENT)] == ["s2"]
    assert backend.db.get_sessions(session_type=TEAM) == []


def test_delete_scoped_by_user(backend: Backend) -> None:
    """Agno: test_delete_session_scoped_by_user_id, test_delete_sessions_scoped_by_user_id."""
    save(backend, agent_session("alice-1", user_id="alice"))
    save(backend, agent_session("alice-2", user_id="alice"))
    save(backend, agent_session("bob-1", user_id="bob"))
    assert backend.db.delete_session("alice-1", user_id="bob") is False
    assert backend.db.get_session("alice-1", AGENT) is not None
    backend.db.delete_sessions(["alice-1", "alice-2", "bob-1"], user_id="bob")
    left = sorted(s.session_id for s in backend.db.get_sessions(session_type=AGENT))
    assert left == ["alice-1", "alice-2"]
    assert backend.db.delete_session("alice-1", user_id="alice") is True
    assert backend.db.get_session("alice-1", AGENT) is None


def test_rename_scoped_by_user(backend: Backend) -> None:
    """Agno: test_rename_session_scoped_by_user_id."""
    save(backend, agent_session("alice-1", user_id="alice", name="Original"))
    assert backend.db.rename_session("alice-1", AGENT, "Invadida", user_id="bob") is None
    assert backend.db.get_session("alice-1", AGENT).session_data["session_name"] == "Original"
    renamed = backend.db.rename_session("alice-1", AGENT, "Novo", user_id="alice")
    assert renamed.session_data["session_name"] == "Novo"


def test_every_agent_session_field_kept(backend: Backend) -> None:
    """Agno: test_upsert_session_handles_all_agent_session_fields."""
    created = NOW - 3600
    session = AgentSession(
        session_id="completa",
        agent_id="pix",
        user_id="cliente-1",
        session_data={
            "session_name": "Completa",
            "session_state": {"etapa": 2},
            "images": ["a.jpg"],
            "videos": ["v.mp4"],
            "audio": ["a.wav"],
            "campo": "valor",
        },
        metadata={"k1": "v1", "k2": {"aninhado": "sim"}, "lista": [1, 2, 3]},
        agent_data={"name": "PIX", "model": "echo-1", "capabilities": ["chat", "busca"]},
        runs=[agent_run("completa-run", session_id="completa")],
        created_at=created,
        updated_at=created,
    )
    for result in (save(backend, session), backend.db.get_session("completa", AGENT)):
        assert isinstance(result, AgentSession)
        assert (result.session_id, result.agent_id, result.user_id) == (
            "completa",
            "pix",
            "cliente-1",
        )
        assert result.session_data == session.session_data
        assert result.metadata == session.metadata
        assert result.agent_data == session.agent_data
        assert result.created_at == created
        # Agno's own stores created_at as updated_at on insert; a write time is no earlier
        assert isinstance(result.updated_at, int) and result.updated_at >= created
        assert run_ids(result) == ["completa-run"]


def test_every_team_session_field_kept(backend: Backend) -> None:
    """Agno: test_upsert_session_handles_all_team_session_fields."""
    summary = SessionSummary(summary="Cliente pediu o limite", topics=["limite", "cartão"])
    session = team_session("completa-t", summary=summary)
    session.session_data = {
        "session_name": "Completa",
        "session_state": {"fase": "ativa"},
        "images": ["t.jpg"],
        "campo": "valor",
    }
    session.metadata = {"k": "v", "metricas": {"eficiencia": 0.95}}
    for result in (save(backend, session), backend.db.get_session("completa-t", TEAM)):
        assert isinstance(result, TeamSession)
        assert (result.session_id, result.team_id, result.user_id) == (
            "completa-t",
            "ana",
            "cliente-1",
        )
        assert result.team_data == session.team_data
        assert result.session_data == session.session_data
        assert result.metadata == session.metadata
        assert isinstance(result.summary, SessionSummary)
        assert (result.summary.summary, result.summary.topics) == (summary.summary, summary.topics)
        assert result.created_at == NOW
        assert run_ids(result) == ["completa-t-run-0"]


def test_bulk_upsert_of_each_type(sync_backend: Backend) -> None:
    """Agno: test_upsert_sessions, test_upsert_sessions_performance (what it stores; its
    timing belongs in bench/)."""
    workflow = workflow_session()
    workflow.runs = [
        WorkflowRunOutput(
            run_id="wf-run", workflow_id="onboarding", status=RunStatus.completed, created_at=NOW
        )
    ]
    many = [agent_session(f"massa-{i}", f"agente-{i}", user_id="massa") for i in range(50)]
    results = sync_backend.db.upsert_sessions([agent_session(), team_session(), workflow, *many])
    assert len(results) == 53
    by_id = {r.session_id: r for r in results}
    assert isinstance(by_id["sessao-pix"], AgentSession)
    assert by_id["sessao-pix"].agent_data == agent_session().agent_data
    assert isinstance(by_id["sessao-ana"], TeamSession) and by_id["sessao-ana"].team_id == "ana"
    assert isinstance(by_id["sessao-fluxo"], WorkflowSession)
    assert by_id["sessao-fluxo"].workflow_data == {"name": "Onboarding"}
    assert len(sync_backend.db.get_sessions(session_type=AGENT, user_id="massa")) == 50
    assert sync_backend.db.get_session("sessao-ana", TEAM).team_data == team_session().team_data
    read_workflow = sync_backend.db.get_session("sessao-fluxo", SessionType.WORKFLOW)
    assert isinstance(read_workflow, WorkflowSession) and read_workflow.workflow_id == "onboarding"


def test_bulk_upsert_updates(sync_backend: Backend) -> None:
    """Agno: test_upsert_sessions_update."""
    first = [agent_session(f"b{i}", f"a{i}", created_at=NOW - 60) for i in range(2)]
    sync_backend.db.upsert_sessions(first)
    updated = [agent_session(f"b{i}", f"a{i}", created_at=NOW - 60) for i in range(2)]
    for session in updated:
        session.agent_data = {"name": "Atualizado", "updated": True}
        session.session_data = {"version": 2}
    results = sync_backend.db.upsert_sessions(updated)
    assert sorted(r.session_id for r in results) == ["b0", "b1"]
    for result in [*results, *(sync_backend.db.get_session(f"b{i}", AGENT) for i in range(2))]:
        assert has(result.agent_data, {"name": "Atualizado", "updated": True})
        assert has(result.session_data, {"version": 2})
        assert result.created_at == NOW - 60  # the first write's creation time stays


def test_every_type_together(backend: Backend) -> None:
    """Agno: test_get_sessions_without_type_returns_all,
    test_get_sessions_without_type_with_component_id, test_get_session_without_type_auto_detects."""
    save(backend, agent_session())
    save(backend, team_session())
    save(backend, workflow_session())
    raw, total = backend.db.get_sessions(session_type=None, deserialize=False)
    assert total == 3
    assert sorted(s["session_id"] for s in raw) == ["sessao-ana", "sessao-fluxo", "sessao-pix"]
    typed = {s.session_id: type(s) for s in backend.db.get_sessions(session_type=None)}
    assert typed == {
        "sessao-pix": AgentSession,
        "sessao-ana": TeamSession,
        "sessao-fluxo": WorkflowSession,
    }
    for component, expected in (
        ("pix", ["sessao-pix"]),
        ("ana", ["sessao-ana"]),
        ("onboarding", ["sessao-fluxo"]),
        ("nenhum", []),
    ):
        raw, total = backend.db.get_sessions(
            session_type=None, component_id=component, deserialize=False
        )
        assert (sorted(s["session_id"] for s in raw), total) == (expected, len(expected))
    assert isinstance(backend.db.get_session("sessao-pix", None), AgentSession)
    assert isinstance(backend.db.get_session("sessao-ana", None), TeamSession)
    assert isinstance(backend.db.get_session("sessao-fluxo", None), WorkflowSession)


def test_every_type_together_sorted_and_paged(backend: Backend) -> None:
    """Ours combines two places (the plan's tables and Agno's schema): one order, one count."""
    save(backend, agent_session("a", created_at=NOW + 1))
    save(backend, workflow_session("w"))  # NOW
    save(backend, team_session("t", created_at=NOW + 2))
    save(backend, agent_session("b", agent_id="cartoes", created_at=NOW + 3))
    pages = [
        backend.db.get_sessions(
            session_type=None,
            sort_by="created_at",
            sort_order="desc",
            limit=3,
            page=page,
            deserialize=False,
        )
        for page in (1, 2)
    ]
    assert [[s["session_id"] for s in p] for p, _ in pages] == [["b", "t", "a"], ["w"]]
    assert [total for _, total in pages] == [4, 4]


def test_session_without_runs_keeps_stored_runs(backend: Backend) -> None:
    """Agno: test_upsert_session_with_none_runs_preserves_existing (an Agno 3 case: Agno 2's
    own PostgresDb stores the runs it is given, so None leaves none; ours keeps them on both)."""
    session = agent_session(runs=2)
    save(backend, session)
    metadata_only = copy.copy(session)
    metadata_only.runs = None
    metadata_only.session_data = {"session_name": "Só metadados"}
    backend.db.upsert_session(metadata_only)
    read = backend.db.get_session("sessao-pix", AGENT)
    assert has(read.session_data, {"session_name": "Só metadados"})
    kept = [] if AGNO_MAJOR < 3 and not backend.ours else ["sessao-pix-run-0", "sessao-pix-run-1"]
    assert run_ids(read) == kept


def test_runs_kept_across_saves(backend: Backend) -> None:
    """A session saved after each turn, as an Agent does: every turn stays, in order."""
    session = agent_session(runs=0)
    for i in range(3):
        session.runs = [*(session.runs or []), agent_run(f"turno-{i}", question=f"turno {i}")]
        save(backend, session)
    read = backend.db.get_session("sessao-pix", AGENT)
    assert run_ids(read) == ["turno-0", "turno-1", "turno-2"]
    assert questions(read) == ["turno 0", "turno 1", "turno 2"]
