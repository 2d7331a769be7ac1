"""The mapping, pure and without a server: every source row comes back exactly from its rows.

Rows pass through JSON on the way (as through jsonb) and timestamps through UTC (as through
timestamptz), so what is checked is what a real round trip through PostgreSQL keeps.
"""

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pagbank_pg import RejectedRow, mapping
from pagbank_pg.transfer.values import json_value

SOURCE = mapping.Source("pagbank.db", "agent_sessions")
ZONE = ZoneInfo("America/Sao_Paulo")

ids = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
epochs = st.integers(min_value=0, max_value=4_102_444_800)  # 1970 to 2100
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def through_postgres(row: dict[str, Any]) -> dict[str, Any]:
    """A mapped row as PostgreSQL gives it back: JSON through jsonb, times in UTC."""
    back = {}
    for column, value in row.items():
        if isinstance(value, datetime):
            back[column] = value.astimezone(UTC)
        elif isinstance(value, dict | list):
            back[column] = orjson.loads(orjson.dumps(value))
        else:
            back[column] = value
    return back


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A run's messages as Agno writes them: a system prompt, turns, `from_history` copies."""
    out = [{"role": "system", "content": draw(texts)}] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 4))):
        role = draw(st.sampled_from(["user", "assistant", "tool"]))
        message = {"role": role, "content": draw(texts), "from_history": False}
        if draw(st.booleans()):
            message["created_at"] = draw(epochs)
        out.append(message)
    return out


@st.composite
def agno_sessions(draw: st.DrawFn, mode: str) -> tuple[dict[str, Any], frozenset[str]]:
    """(raw values of an Agno session row, its JSON columns that are SQL NULL)."""
    key = "team_id" if mode == "team" else "agent_id"
    own = draw(ids)
    agents = [own, *draw(st.lists(ids, max_size=2))] if mode == "agent" else [own]
    runs, history = [], []
    for index in range(draw(st.integers(0, 4))):
        run_messages = [{**m, "from_history": True} for m in history[: draw(st.integers(0, 2))]]
        fresh = draw(messages())
        history += [m for m in fresh if m.get("role") != "system"]
        run: dict[str, Any] = {"run_id": f"run-{index}", "messages": run_messages + fresh}
        if draw(st.booleans()):
            run["agent_id"] = draw(st.sampled_from(agents))  # route mode: runs of several agents
        if draw(st.booleans()):
            run["extra"] = draw(json_values)
        runs.append(run)
    memory = {"runs": runs, "summaries": draw(json_values)} if draw(st.booleans()) else None
    session_data = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries({"session_state": st.dictionaries(texts, json_values)}),
            st.dictionaries(texts, json_values, max_size=2),
        )
    )
    raw = {
        "session_id": draw(ids),
        "user_id": draw(st.none() | ids),
        "memory": memory,
        "session_data": session_data,
        "extra_data": draw(st.none() | st.dictionaries(texts, json_values, max_size=2)),
        "created_at": draw(epochs),
        "updated_at": draw(st.none() | epochs),
        key: own,
        f"{mode}_data": draw(st.none() | st.fixed_dictionaries({"name": st.none() | texts})),
        "team_session_id": draw(st.none() | ids),
    }
    nulls = frozenset(c for c in mapping.AGNO_JSON_COLUMNS if c in raw and raw[c] is None)
    nulls = frozenset(draw(st.sets(st.sampled_from(sorted(nulls)))) if nulls else ())
    return raw, nulls


@pytest.mark.parametrize("mode", ["agent", "team"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_an_agno_session_comes_back_from_its_rows(mode: str, data: st.DataObject) -> None:
    raw, nulls = data.draw(agno_sessions(mode))
    rows = mapping.agno_session_rows(raw, mode, SOURCE, nulls)
    assert len({row["id"] for row in rows}) == len(rows)  # one row per agent of the session
    values, back_nulls = mapping.session_from_rows([through_postgres(r) for r in rows], mode)
    assert values == raw
    assert back_nulls == nulls


def test_a_from_history_copy_is_kept_once_in_the_conversation() -> None:
    turn = {"role": "user", "content": "oi", "from_history": False}
    raw = {
        "session_id": "s", "user_id": "u", "agent_id": "pix", "agent_data": None,
        "memory": {"runs": [{"messages": [turn]},
                            {"messages": [{**turn, "from_history": True}, turn]}]},
        "session_data": None, "extra_data": None, "created_at": 1, "updated_at": 2,
        "team_session_id": None,
    }  # fmt: skip
    (row,) = mapping.agno_session_rows(raw, "agent", SOURCE)
    assert row["messages"] == [turn, turn]  # the copy is a reference, the repeat a message
    assert mapping.session_from_rows([through_postgres(row)], "agent")[0] == raw


def test_a_history_copy_refers_only_to_a_message_of_the_same_json() -> None:
    """1, 1.0 and true are equal in Python but not in JSON: a copy that differs from its
    original only so is kept whole, and a repeated system prompt of another JSON is new."""
    user = {"role": "user", "content": "oi", "n": 1, "from_history": False}
    system = {"role": "system", "content": "seja breve", "v": 1}
    copies = [{**user, "n": n, "from_history": True} for n in (1.0, True, 1)]
    raw = {
        "session_id": "s", "user_id": "u", "agent_id": "pix", "agent_data": None,
        "memory": {"runs": [{"messages": [system, user]},
                            {"messages": [{**system, "v": 1.0}, system, *copies]}],
                   "messages": ["x", "x", 1, 1.0, True, {**system, "v": True}, system]},
        "session_data": None, "extra_data": None, "created_at": 1, "updated_at": 2,
        "team_session_id": None,
    }  # fmt: skip
    (row,) = mapping.agno_session_rows(raw, "agent", SOURCE)
    memory = row["metadata"]["agno"]["row"]["memory"]
    refs = [run["messages"][mapping.REFS] for run in memory["runs"]]
    assert refs == [[0, 1], [2, 0, {"m": copies[0]}, {"m": copies[1]}, {"h": 1}]]
    assert memory["messages"][mapping.REFS] == [3, 3, 4, 5, 6, 7, 0]
    assert mapping.session_from_rows([through_postgres(row)], "agent")[0] == raw


def test_a_row_id_is_the_uuid5_of_where_the_row_came_from() -> None:
    for key in ("s-1", "sessão 😀", ""):
        name = "\x1f".join((SOURCE.file, SOURCE.table, key, "pix"))
        assert mapping.common.row_id(SOURCE, key, "pix") == uuid.uuid5(mapping.IDS, name)


@st.composite
def memory_rows(draw: st.DrawFn) -> dict[str, Any]:
    """An Agno memory row: `str(dict)` of a literal, SQLite CURRENT_TIMESTAMP times."""
    literal: dict[str, Any] = {"memory": draw(texts)}
    if draw(st.booleans()):
        literal["topics"] = draw(st.lists(texts, max_size=3))
    source_id = draw(st.uuids().map(str) | ids)
    if draw(st.booleans()):
        literal["memory_id"] = source_id
    literal.update(draw(st.dictionaries(st.sampled_from(["input", "last_updated"]), texts)))
    times = st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)).map(
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
    )
    return {
        "id": source_id,
        "user_id": draw(ids),
        "memory": str(literal),
        "created_at": draw(st.none() | times | st.just("2026-01-02T03:04:05")),
        "updated_at": draw(st.none() | times),
    }


@settings(max_examples=200, deadline=None)
@given(raw=memory_rows())
def test_an_agno_memory_comes_back_from_its_row(raw: dict[str, Any]) -> None:
    row = mapping.agno_memory_row(raw, mapping.Source("ana_memory.db", "memories"))
    assert mapping.agno_memory(through_postgres(row)) == raw


@st.composite
def pagbank_sessions(draw: st.DrawFn) -> dict[str, Any]:
    """A row of PagBank's session manager: naive local ISO times, JSON text columns."""
    times = st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1)).map(lambda t: t.isoformat())
    json_text = st.none() | json_values.map(lambda v: orjson.dumps(v).decode())
    return {
        "session_id": draw(ids),
        "user_id": draw(ids),
        "team_id": draw(st.none() | ids),
        "created_at": draw(times),
        "last_activity": draw(times),
        "interaction_count": draw(st.none() | st.integers(0, 2**31 - 1)),
        "session_context": draw(json_text),
        "is_active": draw(st.sampled_from([None, 0, 1, 2, "yes"])),
        "metadata": draw(json_text),
    }


@settings(max_examples=200, deadline=None)
@given(raw=pagbank_sessions())
def test_a_pagbank_session_comes_back_from_its_row(raw: dict[str, Any]) -> None:
    row = mapping.pagbank_session_row(
        raw, mapping.Source("pagbank.db", "sessions"), ZONE, json_value
    )
    values, nulls = mapping.pagbank_session(through_postgres(row), ZONE)
    parsed = {
        **raw,
        "session_context": orjson.loads(raw["session_context"]) if raw["session_context"] else None,
        "metadata": orjson.loads(raw["metadata"]) if raw["metadata"] else None,
    }
    assert values == parsed
    assert nulls == {c for c in ("session_context", "metadata") if raw[c] is None}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"session_id": None}, "session_id is NULL"),
        ({"session_id": "s", "created_at": "yesterday"}, "created_at is not epoch seconds"),
        ({"session_id": "s", "user_id": "u\x00"}, "NUL character"),
        ({"session_id": "s" * 256}, "longer than 255"),
        ({"session_id": "s"}, "agent_id is NULL and no run names an agent"),
    ],
)
def test_a_session_that_cannot_be_mapped_says_why(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(RejectedRow, match=reason):
        mapping.agno_session_rows(raw, "agent", SOURCE)
