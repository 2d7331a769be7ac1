"""PagbankDb's own decisions, on real Agno 2/3 agents and teams (an offline model) against a
real server: where each kind of data lands and in which shape, ownership, ids the plan's
columns cannot hold, erased users, what goes to Agno's own tables, and sessions listed from
both places."""

import json
import shutil
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from agno.db.base import BaseDb, SessionType
from agno.db.schemas.memory import UserMemory
from agno.session import AgentSession, TeamSession, WorkflowSession
from agno.team import Team

from pagbank_pg import mapping
from pagbank_pg.agno import PagbankDb
from pagbank_pg.agno.db import DELEGATED, OWN
from pagbank_pg.errors import SessionOwnershipError

from ..helpers import REPO, run
from .backends import AGNO_MAJOR
from .models import EchoModel, agent

SAMPLES = REPO / "tests" / "data" / "agno-1.7"


def rows(dsn: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def test_agent_turns_are_rows_of_the_importers_shape(pdb: PagbankDb, db_dsn: str) -> None:
    pix = agent(pdb, session_state={"etapa": 1})
    assert "(vi 1)" in str(pix.run("meu pix falhou", session_id="s1", user_id="ana").content)
    answer = pix.run("e agora?", session_id="s1", user_id="ana").content
    assert answer == "Entendi: e agora? (vi 2)"  # the model was shown the first turn
    [(agent_id, user_id, messages, state, metadata)] = rows(
        db_dsn, "SELECT agent_id, user_id, messages, agent_session_state, metadata "
        "FROM agent_sessions WHERE session_id = 's1'"
    )  # fmt: skip
    assert (agent_id, user_id, state) == ("pix", "ana", {"etapa": 1})
    said = [(m["role"], m["content"]) for m in messages if m["role"] != "system"]
    assert said == [
        ("user", "meu pix falhou"), ("assistant", "Entendi: meu pix falhou (vi 1)"),
        ("user", "e agora?"), ("assistant", "Entendi: e agora? (vi 2)"),
    ]  # fmt: skip
    # The conversation is kept once: the runs' messages in metadata refer to it.
    runs = metadata["agno"]["row"]["memory"]["runs"]
    assert [list(r["messages"]) for r in runs] == [[mapping.REFS], [mapping.REFS]]
    # What export-sqlite, verify-import and export-user read of such a row.
    with psycopg.connect(db_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        stored = cur.execute("SELECT * FROM agent_sessions WHERE session_id = 's1'").fetchall()
    values, _ = mapping.agno_session(stored, "agent")
    assert [r["content"] for r in values["memory"]["runs"]] == [
        "Entendi: meu pix falhou (vi 1)", "Entendi: e agora? (vi 2)"
    ]  # fmt: skip


def test_team_sessions_go_to_team_sessions(pdb: PagbankDb, db_dsn: str) -> None:
    team = Team(
        id="ana-routing", name="Ana", model=EchoModel(id="echo-1"),
        members=[agent(None, "cartoes")], db=pdb, telemetry=False,
    )  # fmt: skip
    team.run("meu cartão", session_id="t1", user_id="bia")
    session = pdb.get_session("t1", SessionType.TEAM, user_id="bia")
    assert isinstance(session, TeamSession) and session.team_id == "ana-routing"
    assert [r.content for r in session.runs if r.content] == ["Entendi: meu cartão (vi 1)"]
    assert rows(db_dsn, "SELECT team_id, user_id FROM team_sessions") == [("ana-routing", "bia")]
    assert rows(db_dsn, "SELECT count(*) FROM agent_sessions") == [(0,)]


def test_a_session_belongs_to_the_user_who_created_it(pdb: PagbankDb, db_dsn: str) -> None:
    agent(pdb).run("segredo da ana", session_id="s1", user_id="ana")
    before = rows(db_dsn, "SELECT user_id, messages, metadata FROM agent_sessions")
    theirs = AgentSession(session_id="s1", agent_id="pix", user_id="eve", session_data={})
    with pytest.raises(SessionOwnershipError, match="'s1' of agent_sessions belongs to another"):
        pdb.upsert_session(theirs)
    assert rows(db_dsn, "SELECT user_id, messages, metadata FROM agent_sessions") == before
    # Reads for another user see nothing of Ana's: by id, listed, or counted.
    assert pdb.get_session("s1", SessionType.AGENT, user_id="eve") is None
    assert pdb.get_session("s1", user_id="eve") is None
    assert pdb.get_sessions(SessionType.AGENT, user_id="eve") == []
    assert pdb.get_sessions(user_id="eve", deserialize=False) == ([], 0)
    # Eve's agent on Ana's session id: the turn is answered without Ana's history and not
    # stored (Agno logs the refused write).
    answer = agent(pdb).run("e o segredo?", session_id="s1", user_id="eve").content
    assert answer == "Entendi: e o segredo? (vi 1)"
    assert rows(db_dsn, "SELECT user_id, messages, metadata FROM agent_sessions") == before


def test_a_none_agent_id_and_user_id_come_back_as_none(pdb: PagbankDb, db_dsn: str) -> None:
    pdb.upsert_session(AgentSession(session_id="s1", session_data={"session_state": {"a": 1}}))
    [(agent_id, user_id)] = rows(db_dsn, "SELECT agent_id, user_id FROM agent_sessions")
    assert (agent_id, user_id) == (mapping.agno2.NO_ID, None)
    session = pdb.get_session("s1", SessionType.AGENT)
    assert (session.agent_id, session.user_id) == (None, None)
    assert session.session_data == {"session_state": {"a": 1}}


def test_memory_ids_that_are_not_uuids(pdb: PagbankDb, db_dsn: str) -> None:
    given = UserMemory(memory="prefere pix", memory_id="memory_1", topics=["pix"], user_id="ana",
                       agent_id="pix", input="uso pix")  # fmt: skip
    stored = pdb.upsert_user_memory(given)
    assert (stored.memory_id, stored.topics, stored.agent_id, stored.input) == (
        "memory_1", ["pix"], "pix", "uso pix"
    )  # fmt: skip
    [(row_id, tags)] = rows(db_dsn, "SELECT id, memory_tags FROM user_memories")
    assert row_id == mapping.memory_id(pdb.memory_source, "memory_1") and tags == ["pix"]
    assert isinstance(row_id, uuid.UUID)
    # The same id again is the same row (deterministic), replaced.
    pdb.upsert_user_memory(UserMemory(memory="prefere ted", memory_id="memory_1", user_id="ana"))
    assert rows(db_dsn, "SELECT count(*), min(memory) FROM user_memories") == [(1, "prefere ted")]
    assert pdb.get_user_memory("memory_1").memory == "prefere ted"
    assert pdb.get_user_memory("memory_1", user_id="eve") is None
    # A UUID memory id is the row id itself.
    own = str(uuid.uuid4())
    pdb.upsert_user_memory(UserMemory(memory="x", memory_id=own, user_id="ana"))
    assert rows(db_dsn, "SELECT count(*) FROM user_memories WHERE id = %s", own) == [(1,)]
    pdb.delete_user_memory("memory_1", user_id="eve")  # another user's: kept
    assert pdb.get_user_memory("memory_1") is not None
    pdb.delete_user_memory("memory_1", user_id="ana")
    assert pdb.get_user_memory("memory_1") is None


def test_a_memory_without_a_user_comes_back_without_one(pdb: PagbankDb) -> None:
    pdb.upsert_user_memory(UserMemory(memory="sem dono", memory_id="m"))
    assert pdb.get_user_memory("m").user_id is None
    assert [m.memory for m in pdb.get_user_memories()] == ["sem dono"]
    assert pdb.get_user_memory_stats() == ([], 0)  # stats are per user, as Agno's own


def test_an_erased_user_stays_out_of_every_write(pdb: PagbankDb, db_dsn: str) -> None:
    agent(pdb).run("oi", session_id="s1", user_id="ana")
    code, _, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes")
    assert code == 0, err
    assert pdb.upsert_session(AgentSession(session_id="s2", agent_id="pix", user_id="ana")) is None
    agent(pdb).run("voltei", session_id="s3", user_id="ana")
    assert pdb.upsert_user_memory(UserMemory(memory="x", memory_id="m", user_id="ana")) is None
    workflow = WorkflowSession(session_id="w1", workflow_id="wf", user_id="ana")
    assert pdb.upsert_session(workflow) is None
    # Agno's own tables too: a learning about the erased user is not written.
    pdb.upsert_learning(id="l1", learning_type="user_profile", content={"a": 1}, user_id="ana")
    pdb.upsert_learning(id="l2", learning_type="user_profile", content={"b": 2}, user_id="bia")
    assert [x["user_id"] for x in pdb.get_learnings()] == ["bia"]
    assert rows(db_dsn, "SELECT count(*) FROM agent_sessions") == [(0,)]
    assert rows(db_dsn, "SELECT count(*) FROM user_memories") == [(0,)]
    # s2, the turn on s3 (its session, and on Agno 3 its run too), the memory, the workflow,
    # the learning
    assert pdb.erased_skipped == (6 if AGNO_MAJOR >= 3 else 5)


def test_what_the_plan_has_no_table_for_goes_to_agnos_own(pdb: PagbankDb, db_dsn: str) -> None:
    workflow = WorkflowSession(session_id="w1", workflow_id="wf", user_id="ana",
                               session_data={"session_name": "fluxo"})  # fmt: skip
    assert pdb.upsert_session(workflow).session_id == "w1"
    assert rows(db_dsn, "SELECT session_id, session_type FROM agno.agno_sessions") == [
        ("w1", "workflow")
    ]  # fmt: skip
    assert isinstance(pdb.get_session("w1", SessionType.WORKFLOW), WorkflowSession)
    assert isinstance(pdb.get_session("w1"), WorkflowSession)  # no type: found there too
    pdb.upsert_schema_version("agno_sessions", "2.9.0")
    assert pdb.get_latest_schema_version("agno_sessions") == "2.9.0"
    assert pdb.table_exists("agent_sessions") and pdb.table_exists("agno_sessions")
    assert rows(db_dsn, "SELECT count(*) FROM agent_sessions") == [(0,)]
    assert pdb.delete_session("w1") is True
    assert rows(db_dsn, "SELECT count(*) FROM agno.agno_sessions") == [(0,)]


def test_sessions_listed_from_both_places(pdb: PagbankDb) -> None:
    now = int(time.time())
    made = [
        AgentSession(session_id="a1", agent_id="pix", user_id="ana", created_at=now - 40),
        TeamSession(session_id="t1", team_id="ana-routing", user_id="ana", created_at=now - 30),
        AgentSession(session_id="a2", agent_id="cartoes", user_id="ana", created_at=now - 20),
        WorkflowSession(session_id="w1", workflow_id="wf", user_id="ana", created_at=now - 10),
        AgentSession(session_id="b1", agent_id="pix", user_id="bia", created_at=now),
    ]
    for session in made:
        pdb.upsert_session(session)
    everything, total = pdb.get_sessions(user_id="ana", deserialize=False)
    assert total == 4 and [s["session_id"] for s in everything] == ["w1", "a2", "t1", "a1"]
    page, total = pdb.get_sessions(user_id="ana", limit=2, page=2, sort_order="asc",
                                   deserialize=False)  # fmt: skip
    assert total == 4 and [s["session_id"] for s in page] == ["a2", "w1"]
    kinds = [type(s).__name__ for s in pdb.get_sessions(user_id="ana", sort_order="asc")]
    assert kinds == ["AgentSession", "TeamSession", "AgentSession", "WorkflowSession"]
    agents, total = pdb.get_sessions(SessionType.AGENT, limit=1, page=2, deserialize=False)
    assert total == 3 and [s["session_id"] for s in agents] == ["a2"]
    assert [s.session_id for s in pdb.get_sessions(SessionType.AGENT, component_id="pix")] == [
        "b1", "a1"
    ]  # fmt: skip
    assert [s.session_id for s in pdb.get_sessions(SessionType.WORKFLOW, user_id="ana")] == ["w1"]
    renamed = pdb.rename_session("a1", SessionType.AGENT, "meu pix", user_id="ana")
    assert renamed.session_data["session_name"] == "meu pix"
    assert pdb.rename_session("a1", SessionType.AGENT, "x", user_id="bia") is None
    assert [s.session_id for s in pdb.get_sessions(session_name="PIX")] == ["a1"]
    pdb.delete_sessions(["a1", "a2", "b1"], user_id="ana")  # b1 is bia's: kept
    assert [s.session_id for s in pdb.get_sessions(SessionType.AGENT)] == ["b1"]


def test_agnos_metrics_count_the_plans_sessions(pdb: PagbankDb) -> None:
    agent(pdb).run("oi", session_id="s1", user_id="ana")
    agent(pdb).run("de novo", session_id="s1", user_id="ana")
    agent(pdb, "cartoes").run("cartão", session_id="s2", user_id="bia")
    pdb.calculate_metrics()
    metrics, _ = pdb.get_metrics()
    assert sum(m["agent_sessions_count"] for m in metrics) == 2
    assert sum(m["agent_runs_count"] for m in metrics) == 3
    assert sum(m["users_count"] for m in metrics) >= 2


def test_sessions_agno_1_7_wrote_continue_on_agno_2_and_3(pdb: PagbankDb, tmp_path: Path,
                                                       db_dsn: str) -> None:  # fmt: skip
    """Files Agno 1.7.12 itself wrote, imported: read back as sessions with runs and
    messages, and an agent continuing one is shown its history."""
    shutil.copytree(SAMPLES, tmp_path / "data")
    code, _, err = run("import-sqlite", str(tmp_path / "data"), "--dsn", db_dsn,
                       "--reject-file", str(tmp_path / "rejects"))  # fmt: skip
    assert code == 0, err
    # A route-mode session: 2 runs of adquirencia-specialist, 1 of pagbank-specialist.
    sid = "78e51061-7311-d8a3-c2ce-6f447ed4d57b"
    session = pdb.get_session(sid, SessionType.AGENT, user_id="user-0000")
    assert isinstance(session, AgentSession) and len(session.runs) == 3
    history = session.get_messages(agent_id="adquirencia-specialist")
    users_before = [m for m in history if m.role == "user"]
    assert len(users_before) == 2 and all(m.content for m in users_before)
    team = pdb.get_session(sid, SessionType.TEAM, user_id="user-0000")
    assert isinstance(team, TeamSession) and len(team.runs) == 3
    # Agno 1.7's metric names are Agno 2/3's now (Agno's own v1-to-v2 conversion).
    assert "time" not in session.runs[0].metrics.to_dict()
    specialist = agent(pdb, "adquirencia-specialist", num_history_runs=10)
    answer = specialist.run("e a maquininha?", session_id=sid, user_id="user-0000").content
    # Shown the session's three earlier user messages (Agno 3 gives an agent the session's
    # history, whichever agent ran it), then the new one.
    assert answer == "Entendi: e a maquininha? (vi 4)"
    again = pdb.get_session(sid, SessionType.AGENT, user_id="user-0000")
    assert len(again.runs) == 4  # the three of Agno 1.7 kept, the new one added
    # The row keeps the one shape: export-sqlite still restores it.
    code, _, err = run("export-sqlite", str(tmp_path / "exported"), "--dsn", db_dsn)
    assert code == 0, err


def test_sessions_the_1_7_storage_wrote_continue_on_agno_2_and_3(pdb: PagbankDb,
                                                                db_dsn: str) -> None:  # fmt: skip
    """Rows Agno 1.7.12's own Agent and route-mode Team wrote through PostgresStorage
    (tests/data/agno-1.7/storage_rows.py made them): sessions with runs and messages, and
    an agent continuing one is shown its history."""
    dumped = json.loads((SAMPLES / "storage_rows.json").read_text(encoding="utf-8"))
    with psycopg.connect(db_dsn) as conn:
        for table, table_rows in dumped.items():
            conn.execute(
                f"INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, %s)",
                [json.dumps(table_rows)],
            )
    session = pdb.get_session("pix-1", SessionType.AGENT, user_id="ana")
    assert [r.content for r in session.runs] == [
        "Entendi: meu pix não chegou (vi 1)", "Entendi: já faz uma hora (vi 2)"
    ]  # fmt: skip
    assert [m.content for m in session.get_messages() if m.role == "user"] == [
        "meu pix não chegou", "já faz uma hora"
    ]  # fmt: skip
    answer = agent(pdb, "pix").run("chegou agora", session_id="pix-1", user_id="ana").content
    assert answer == "Entendi: chegou agora (vi 3)"
    assert len(pdb.get_session("pix-1", SessionType.AGENT, user_id="ana").runs) == 3
    team = pdb.get_session("team-1", SessionType.TEAM, user_id="bia")
    assert isinstance(team, TeamSession) and len(team.runs) == 2
    assert pdb.get_session("team-1", SessionType.TEAM, user_id="ana") is None


def test_what_is_ours_and_what_is_agnos(pdb: PagbankDb) -> None:
    """Sessions, memories and runs are never sent to Agno's tables; the rest of BaseDb is."""
    assert {"get_session", "upsert_session", "get_sessions", "upsert_user_memory"} <= OWN
    assert {"calculate_metrics", "create_eval_run", "upsert_trace", "get_learnings",
            "upsert_schema_version", "get_spans"} <= set(DELEGATED)  # fmt: skip
    assert not {"get_run", "get_runs", "upsert_run", "delete_run", "delete_runs"} & set(DELEGATED)
    storage = {n for n in BaseDb.__abstractmethods__ if "session" in n or "memor" in n}
    assert len(storage) == 16 and storage <= OWN  # with table_exists: the 17 ours
    # Runs stay in the session's row: Agno 3's upsert_run puts one there (Agno 2 has none), a
    # run of a session not stored yet too.
    if hasattr(BaseDb, "upsert_run"):
        pdb.upsert_run({"run_id": "r1", "agent_id": "pix"}, session_id="s1", user_id="ana")
        session = pdb.get_session("s1", SessionType.AGENT, user_id="ana")
        assert [run.run_id for run in session.runs] == ["r1"] and session.agent_id == "pix"


def test_a_bulk_upsert_reads_the_owners_of_its_sessions_at_once(pdb: PagbankDb) -> None:
    """Before anything of a batch is written, the owners of all its sessions are read in one
    statement per table (not one read per session), and a hijack among them is refused."""
    pdb.upsert_sessions([AgentSession(session_id="s-0", agent_id="pix", user_id="ana")])
    sent: list[str] = []
    statements = pdb.agno
    for name in ("agent_session_owners", "team_session_owners", "agent_session_rows_of_session"):
        original = getattr(statements, name)

        def counted(*args: object, _name: str = name, _original: object = original, **kw: object):
            sent.append(_name)
            return _original(*args, **kw)  # type: ignore[operator]

        setattr(statements, name, counted)
    batch = [AgentSession(session_id=f"s-{n}", agent_id="pix", user_id="ana") for n in range(5)]
    assert len(pdb.upsert_sessions(batch)) == 5
    assert sent == ["agent_session_owners"]
    batch[3] = AgentSession(session_id="s-0", agent_id="pix", user_id="bia")
    with pytest.raises(SessionOwnershipError):
        pdb.upsert_sessions([*batch, AgentSession(session_id="s-9", agent_id="pix", user_id="bia")])
    assert pdb.get_session("s-9", SessionType.AGENT) is None


def test_a_bulk_upsert_giving_one_new_session_to_two_users_writes_none_of_it(
    pdb: PagbankDb,
) -> None:
    """A session id new to the database, in one batch for two users: the second is another
    user's session (the first's, once written), so the batch is refused whole."""
    batch = [
        AgentSession(session_id="nova", agent_id="pix", user_id="ana"),
        AgentSession(session_id="s-1", agent_id="pix", user_id="ana"),
        AgentSession(session_id="nova", agent_id="cartoes", user_id="bia"),
    ]
    with pytest.raises(SessionOwnershipError):
        pdb.upsert_sessions(batch)
    assert pdb.get_sessions(session_type=SessionType.AGENT) == []
