"""Agno 3's `upsert_run` on a row that cannot take a run in SQL alone: the session is written
whole, merged (`put_runs` answers "whole"). Each case is set up as the app meets it: a session
not stored yet, specialists sharing a session id (a route-mode split: a row per agent), a
conversation the app appended to, a changed system prompt, a changed run that is not the last.
After each, every run is kept once and in order, the conversation holds each message once,
and export-sqlite writes the same runs. Agno 3 only (conftest.py leaves it out under Agno 2)."""

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from agno.db.base import SessionType
from agno.models.message import Message
from agno.run.base import RunStatus
from psycopg.types.json import Jsonb

from pagbank_pg import Database

from ..helpers import run
from .backends import Backend, save
from .offline import ScriptedModel, specialist, turn
from .sessions import agent_run, agent_session, questions

AGENT = SessionType.AGENT
USER = "cliente-1"


def story(runs: list[dict[str, Any]]) -> list[tuple[Any, list[tuple[Any, Any]]]]:
    """Each run's id and what was said in it (role and content of the messages it added)."""
    return [
        (
            r.get("run_id"),
            [
                (m.get("role"), m.get("content"))
                for m in r.get("messages") or []
                if not m.get("from_history")
            ],
        )
        for r in runs
    ]


def stored_story(backend: Backend, session_id: str) -> list[tuple[Any, list[tuple[Any, Any]]]]:
    session = backend.db.get_session(session_id, AGENT, user_id=USER)
    assert session is not None
    return story([r.to_dict() for r in session.runs or []])


def exported_story(backend: Backend, folder: Path, session_id: str) -> list[Any]:
    """The session's runs as export-sqlite writes them (one Agno 1.7 row per session id)."""
    code, _, err = run("export-sqlite", str(folder), "--dsn", backend.dsn)
    assert code == 0, err
    conn = sqlite3.connect(folder / "pagbank.db")
    try:
        [(memory,)] = conn.execute(
            "SELECT memory FROM agent_sessions WHERE session_id = ?", (session_id,)
        ).fetchall()
    finally:
        conn.close()
    return story(json.loads(memory)["runs"])


def plan_rows(dsn: str, session_id: str) -> list[tuple[str, list[tuple[Any, Any]]]]:
    """(agent_id, the conversation's (role, content)) of each row of the session."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT agent_id, messages FROM agent_sessions WHERE session_id = %s ORDER BY agent_id",
            [session_id],
        ).fetchall()
    return [
        (agent_id, [(m["role"], m.get("content")) for m in messages])
        for agent_id, messages in found
    ]


def said(texts: list[str]) -> list[tuple[str, str]]:
    """The user and assistant messages of turns with these texts, as the offline model answers
    (`vi n`: how many user messages it was shown)."""
    pairs = []
    for n, text in enumerate(texts, 1):
        pairs += [("user", text), ("assistant", f"Entendi: {text} (vi {n})")]
    return pairs


def test_a_run_of_a_session_not_stored_yet(own_backend: Backend, tmp_path: Path) -> None:
    """No row yet: the first run makes the session (written whole); the next ones are put in
    its row."""
    db = own_backend.db
    for n in range(3):
        db.upsert_run(
            run=agent_run(f"r-{n}", question=f"pergunta {n}"), session_id="sessao-pix", user_id=USER
        )
    expected = [
        (f"r-{n}", [("user", f"pergunta {n}"), ("assistant", f"R: pergunta {n}")]) for n in range(3)
    ]
    assert stored_story(own_backend, "sessao-pix") == expected
    session = db.get_session("sessao-pix", AGENT, user_id=USER)
    assert (session.agent_id, session.user_id) == ("pix", USER)
    assert plan_rows(own_backend.dsn, "sessao-pix") == [
        ("pix", [said for _, run in expected for said in run])
    ]
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == expected


def test_specialists_sharing_a_session_id(own_backend: Backend, tmp_path: Path) -> None:
    """PagBank's route mode: specialists answer in turn on the team's session id. The first
    turn makes the session; a turn of another specialist splits it into a row per agent
    (each row then holds that agent's conversation) and every later turn and a changed run
    are written whole; every specialist is shown the whole session's history."""
    pix, cartoes = specialist(own_backend.native, "pix"), specialist(own_backend.native, "cartoes")
    texts = ["meu pix falhou", "e meu cartão?", "o pix voltou?", "cartão chegou"]
    for text, bot in zip(texts, [pix, cartoes, pix, cartoes], strict=True):
        turn(own_backend, bot, text, "sessao-ana")
    assert [inputs[-1] for inputs in (pix.model.inputs[-1], cartoes.model.inputs[-1])] == [
        "o pix voltou?", "cartão chegou"
    ]  # fmt: skip
    assert cartoes.model.inputs[-1] == texts  # the whole session's history
    stored = stored_story(own_backend, "sessao-ana")
    answers = said(texts)
    assert [said for _, run in stored for said in run] == answers
    assert len({run_id for run_id, _ in stored}) == 4
    assert plan_rows(own_backend.dsn, "sessao-ana") == [
        ("cartoes", answers[2:4] + answers[6:8]),
        ("pix", answers[0:2] + answers[4:6]),
    ]
    # A changed run of the split session (not the last): put in place, nothing else moved.
    session = own_backend.db.get_session("sessao-ana", AGENT, user_id=USER)
    changed = session.runs[1]
    changed.status = RunStatus.error
    own_backend.db.upsert_run(run=changed, session_id="sessao-ana", user_id=USER)
    again = own_backend.db.get_session("sessao-ana", AGENT, user_id=USER)
    assert [r.status for r in again.runs] == [
        RunStatus.completed, RunStatus.error, RunStatus.completed, RunStatus.completed
    ]  # fmt: skip
    assert stored_story(own_backend, "sessao-ana") == stored
    assert exported_story(own_backend, tmp_path / "out", "sessao-ana") == stored


def test_a_conversation_the_app_appended_to(own_backend: Backend, tmp_path: Path) -> None:
    """The app appends messages to the session's conversation (`append_agent_messages`, an
    attendant's note): the next turn is shown them and the session is written whole, the
    appended messages kept once, as a run of their own between the turns; later turns are
    put in the row again."""
    bot = specialist(own_backend.native, "pix")
    turn(own_backend, bot, "meu pix falhou", "sessao-pix")
    note = [
        {"role": "user", "content": "(no app) quero falar com alguém"},
        {"role": "assistant", "content": "Atendente: seu pix foi estornado"},
    ]
    with Database.open(own_backend.dsn, max_size=1) as app:
        app.queries.append_agent_messages(session_id="sessao-pix", agent_id="pix", messages=note)
    time.sleep(1)  # the next turn begins after the note (runs are ordered by creation, seconds)
    second = turn(own_backend, bot, "obrigado", "sessao-pix")
    assert bot.model.inputs[-1] == ["meu pix falhou", "(no app) quero falar com alguém", "obrigado"]
    assert second.content == "Entendi: obrigado (vi 3)"
    third = turn(own_backend, bot, "tchau", "sessao-pix")
    assert third.content == "Entendi: tchau (vi 4)"
    conversation = [
        ("user", "meu pix falhou"), ("assistant", "Entendi: meu pix falhou (vi 1)"),
        *[(m["role"], m["content"]) for m in note],
        ("user", "obrigado"), ("assistant", "Entendi: obrigado (vi 3)"),
        ("user", "tchau"), ("assistant", "Entendi: tchau (vi 4)"),
    ]  # fmt: skip
    assert plan_rows(own_backend.dsn, "sessao-pix") == [("pix", conversation)]
    stored = stored_story(own_backend, "sessao-pix")
    assert [len(run) for _, run in stored] == [2, 2, 2, 2]
    assert [said for _, run in stored for said in run] == conversation
    assert len({run_id for run_id, _ in stored}) == 4
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored


def test_the_app_appends_while_a_turn_runs(own_backend: Backend, tmp_path: Path) -> None:
    """The app appends to the conversation before a turn (the turn reads those messages as a
    run of their own) and again while the turn runs (before it writes): each appended message
    is kept once, in the order written."""
    model = ScriptedModel()
    bot = specialist(own_backend.native, "pix", model=model)
    turn(own_backend, bot, "meu pix falhou", "sessao-pix")
    first = [{"role": "assistant", "content": "Atendente: vou verificar"}]
    second = [{"role": "assistant", "content": "Atendente: estornado"}]
    with Database.open(own_backend.dsn, max_size=1) as app:

        def append(messages: list[dict[str, str]]) -> None:
            app.queries.append_agent_messages(
                session_id="sessao-pix", agent_id="pix", messages=messages
            )

        append(first)
        model.meanwhile = lambda: append(second)
        time.sleep(1)  # the turn begins after the first note (runs are ordered by creation)
        turn(own_backend, bot, "obrigado", "sessao-pix")
    turn(own_backend, bot, "tchau", "sessao-pix")
    [(_, conversation)] = plan_rows(own_backend.dsn, "sessao-pix")
    notes = [c for r, c in conversation if c and c.startswith("Atendente")]
    assert notes == ["Atendente: vou verificar", "Atendente: estornado"]
    said_by_user = [c for r, c in conversation if r == "user"]
    assert said_by_user == ["meu pix falhou", "obrigado", "tchau"]
    stored = stored_story(own_backend, "sessao-pix")
    assert [s for _, run in stored for s in run] == conversation
    assert len({run_id for run_id, _ in stored}) == len(stored)
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored


@pytest.mark.parametrize("app_row", ["00000000-0000-0000-0000-000000000000", "f" * 32])
def test_a_row_the_app_wrote_for_another_agent(
    own_backend: Backend, tmp_path: Path, app_row: str
) -> None:
    """The app writes a row of its own on the session id (an attendant's messages, as
    `append_agent_messages` writes them for agent "atendente"; its id before and after the
    agent's row): the session has several rows, so the next turn is written whole, in order,
    the attendant's messages in their row."""
    bot = specialist(own_backend.native, "pix")
    turn(own_backend, bot, "meu pix falhou", "sessao-pix")
    note = [{"role": "assistant", "content": "Atendente: seu pix foi estornado"}]
    with psycopg.connect(own_backend.dsn) as conn:  # the row's id chosen: the order of the rows
        conn.execute(
            "INSERT INTO agent_sessions (id, session_id, agent_id, messages) "
            "VALUES (%s, 'sessao-pix', 'atendente', %s)",
            [app_row, Jsonb(note)],
        )
    time.sleep(1)  # the next turn begins after the note (runs are ordered by creation, seconds)
    turn(own_backend, bot, "obrigado", "sessao-pix")
    turn(own_backend, bot, "tchau", "sessao-pix")
    stored = stored_story(own_backend, "sessao-pix")
    first, rest = said(["meu pix falhou"]), said(["x", "obrigado", "tchau"])[2:]
    assert [s for _, run in stored for s in run] == [
        *first,
        ("assistant", note[0]["content"]),
        *rest,
    ]
    assert len({run_id for run_id, _ in stored}) == 4
    assert plan_rows(own_backend.dsn, "sessao-pix") == [
        ("atendente", [("assistant", note[0]["content"])]),
        ("pix", [*first, *rest]),
    ]
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored


def test_a_changed_system_prompt(own_backend: Backend, tmp_path: Path) -> None:
    """The agent's instructions change between turns (real agents; Agno 3 gives each run's
    system message an id of its own): each run keeps the system message it was given, and
    the conversation holds each run's messages once, in order."""
    turns = [("Seja breve.", "oi"), ("Seja detalhado.", "meu pix"), ("Seja detalhado.", "e agora")]
    for instructions, text in turns:
        bot = specialist(own_backend.native, "pix", instructions=instructions)
        turn(own_backend, bot, text, "sessao-pix")
    stored = stored_story(own_backend, "sessao-pix")
    systems = [[c for role, c in run if role == "system"] for _, run in stored]
    assert systems == [["Seja breve."], ["Seja detalhado."], ["Seja detalhado."]]
    [(_, conversation)] = plan_rows(own_backend.dsn, "sessao-pix")
    assert conversation == [said for _, run in stored for said in run]
    assert [(r, c) for r, c in conversation if r != "system"] == said(["oi", "meu pix", "e agora"])
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored


def test_a_system_message_repeated_and_changed(own_backend: Backend, tmp_path: Path) -> None:
    """Runs that repeat one system message (as Agno 1.7 gave every run the same one) refer to
    the one copy of it in the conversation; a run with another prompt adds that one, a run
    with the first again refers to the first, a second system message of a run is its own,
    and the last run changed in place keeps its prompt: each run reads back with its own."""
    brief = Message(role="system", content="Seja breve.")
    detailed = Message(role="system", content="Seja detalhado.")
    kind = Message(role="system", content="Seja cordial.")
    reminder = Message(role="system", content="Responda em português.")
    prompts = [[brief], [brief], [detailed], [brief, reminder], [kind]]
    written = []
    for n, prompt in enumerate(prompts):
        given = agent_run(f"r-{n}", question=f"pergunta {n}")
        given.messages = [*prompt, *given.messages]
        own_backend.db.upsert_run(run=given, session_id="sessao-pix", user_id=USER)
        written.append(given)
    written[-1].status = RunStatus.error  # the last run changed: put in place
    own_backend.db.upsert_run(run=written[-1], session_id="sessao-pix", user_id=USER)
    stored = stored_story(own_backend, "sessao-pix")
    assert stored == [
        (
            f"r-{n}",
            [
                *[("system", p.content) for p in prompt],
                ("user", f"pergunta {n}"),
                ("assistant", f"R: pergunta {n}"),
            ],
        )
        for n, prompt in enumerate(prompts)
    ]
    read = own_backend.db.get_session("sessao-pix", AGENT, user_id=USER)
    assert [r.status for r in read.runs] == [RunStatus.completed] * 4 + [RunStatus.error]
    [(_, conversation)] = plan_rows(own_backend.dsn, "sessao-pix")
    assert [c for r, c in conversation if r == "system"] == [
        "Seja breve.", "Seja detalhado.", "Responda em português.",
        "Seja cordial.",
    ]  # fmt: skip
    assert [(r, c) for r, c in conversation if r != "system"] == [
        said for _, run in stored for said in run if said[0] != "system"
    ]
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored


def test_a_changed_run_that_is_not_the_last(own_backend: Backend, tmp_path: Path) -> None:
    """A run changed after later runs were added (a paused run continued): the session is
    written whole, the run in its place with its new messages, the others as they were."""
    save(own_backend, agent_session(runs=3))
    session = own_backend.db.get_session("sessao-pix", AGENT, user_id=USER)
    paused = session.runs[0]
    paused.status = RunStatus.completed
    paused.messages = [*paused.messages, Message(role="assistant", content="confirmado")]
    own_backend.db.upsert_run(run=paused, session_id="sessao-pix", user_id=USER)
    stored = stored_story(own_backend, "sessao-pix")
    first = "pergunta sessao-pix-run-0"
    said_first = [("user", first), ("assistant", f"R: {first}"), ("assistant", "confirmado")]
    assert stored[0] == ("sessao-pix-run-0", said_first)
    assert [run_id for run_id, _ in stored] == [f"sessao-pix-run-{n}" for n in range(3)]
    assert questions(own_backend.db.get_session("sessao-pix", AGENT)) == [
        f"pergunta sessao-pix-run-{n}" for n in range(3)
    ]
    [(_, conversation)] = plan_rows(own_backend.dsn, "sessao-pix")
    assert conversation == [said for _, run in stored for said in run]
    assert exported_story(own_backend, tmp_path / "out", "sessao-pix") == stored
