"""Agno 1.7 session rows <-> `agent_sessions` / `team_sessions` rows. Pure: no I/O."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..errors import RejectedRow
from .common import IDS, MAX_UNIT, SPLIT, Source, business_unit_of, checked_text, epoch, row_id
from .conversation import compact_memory, expand_memory, expand_runs, referenced


def agno_session_rows(
    raw: Mapping[str, Any],
    mode: str,
    source: Source,
    sql_nulls: frozenset[str] = frozenset(),
    unit_of: Callable[[str], str | None] = business_unit_of,
) -> list[dict[str, Any]]:
    """The `team_sessions` (mode "team") or `agent_sessions` (mode "agent") rows of one Agno
    session row. `raw` maps each column to its value, JSON columns parsed; `sql_nulls` names
    the JSON columns that were SQL NULL (not the text `null`)."""
    key = "team_id" if mode == "team" else "agent_id"
    session_id = checked_text(raw.get("session_id"), "session_id", required=True)
    user_id = checked_text(raw.get("user_id"), "user_id")
    created_at = epoch(raw.get("created_at"), "created_at")
    updated_at = epoch(raw.get("updated_at"), "updated_at")
    memory = raw.get("memory")
    data = raw.get("team_data" if mode == "team" else "agent_data")
    name = data.get("name") if isinstance(data, dict) else None
    session_data = raw.get("session_data")
    kept_data, state, has_state = session_data, None, False
    if isinstance(session_data, dict) and isinstance(session_data.get("session_state"), dict):
        kept_data = {k: v for k, v in session_data.items() if k != "session_state"}
        state, has_state = session_data["session_state"], True
    row_key = raw.get(key)
    mapped = {"session_id", "user_id", "created_at", "updated_at", key}
    columns = {c: v for c, v in raw.items() if c not in mapped}
    columns["session_data"] = kept_data
    agno: dict[str, Any] = {"source": {"file": source.file, "table": source.table, "mode": mode}}
    if not has_state:
        agno["no_state"] = True
    if updated_at is None:
        agno["updated_at_null"] = True
    if sql_nulls:
        agno["sql_null"] = sorted(sql_nulls)

    groups = _route_groups(memory, row_key) if mode == "agent" else {}
    if row_key is None and not groups:
        raise RejectedRow(f"{key} is NULL and no run names an agent")
    primary = row_key if row_key in groups or not groups else next(iter(groups))
    if len(groups) > 1 or primary != row_key:
        agno["split"] = {"agent_id": row_key}
    base = {
        "session_id": session_id,
        "user_id": user_id,
        "created_at": created_at,
        "updated_at": updated_at or created_at,
    }
    rows = []
    runs: list[Any] = memory["runs"] if isinstance(memory, dict) and groups else []
    for agent in groups if len(groups) > 1 else [primary]:
        agent_id: str = checked_text(agent, key, required=True)
        own = [runs[i] for i in groups[agent]] if len(groups) > 1 else None
        if agent == primary:
            conversation, compacted = compact_memory(memory, own)
            if own is not None:  # the other agents' runs are kept in their own rows
                order, taken = [], dict.fromkeys(groups, 0)
                for run_agent in _run_agents(runs, row_key):
                    order.append(
                        compacted["runs"][taken[run_agent]]
                        if run_agent == agent
                        else {SPLIT: run_agent}
                    )
                    taken[run_agent] += 1
                compacted["runs"] = order
            meta = {**agno, "row": {**columns, "memory": compacted}}
            row_name = name
        else:
            conversation, compacted = compact_memory({"runs": own})
            meta = {"source": agno["source"], "split_of": primary, "runs": compacted["runs"]}
            first = runs[groups[agent][0]]
            row_name = first.get("agent_name") if isinstance(first, dict) else None
        rows.append(
            {
                **base,
                "id": row_id(source, session_id, agent_id),
                key: agent_id,
                f"{mode}_name": checked_text(row_name, f"{mode}_name"),
                **({"business_unit": _unit(agent_id, unit_of)} if mode == "agent" else {}),
                "messages": conversation,
                f"{mode}_session_state": state if has_state else {},
                "metadata": {"agno": meta},
            }
        )
    return rows


def _unit(agent_id: str, unit_of: Callable[[str], str | None]) -> str | None:
    unit = unit_of(agent_id)
    return unit[:MAX_UNIT] if unit else None


def _run_agents(runs: Any, row_key: Any) -> list[Any]:
    if not isinstance(runs, list):
        return []
    agents = []
    for run in runs:
        agent = run.get("agent_id") if isinstance(run, dict) else None
        agents.append(agent if isinstance(agent, str) and agent else row_key)
    return agents


def _route_groups(memory: Any, row_key: Any) -> dict[Any, list[int]]:
    """Run positions by run-level agent_id (runs without one belong to the row's agent)."""
    runs = memory.get("runs") if isinstance(memory, dict) else None
    groups: dict[Any, list[int]] = {}
    for position, agent in enumerate(_run_agents(runs, row_key)):
        if agent is not None:
            groups.setdefault(agent, []).append(position)
    return groups


def later_run(row: Mapping[str, Any], key: str, messages: list[Any]) -> dict[str, Any]:
    """A run holding messages the app appended after the import (they are in no source run),
    the last `messages` of the row. Its id is the row's and where they begin: read again after
    the app appended more, it is the same run, grown (a writer's older copy of it is merged as
    one, not added as another)."""
    created = row["updated_at"] or row["created_at"]
    start = len(row["messages"]) - len(messages)
    return {
        "run_id": str(uuid.uuid5(IDS, f"{row['id']}\x1f{start}")),
        key: row[key],
        "session_id": row["session_id"],
        "messages": messages,
        "created_at": int(created.timestamp()) if created else None,
    }


def agno_session(rows: Sequence[Mapping[str, Any]], mode: str) -> tuple[dict[str, Any], set[str]]:
    """The inverse of `agno_session_rows`: from the rows of one source row (all of them, for a
    split one), the source row's column values and the JSON columns that were SQL NULL.
    Messages appended to a row after its import come back as one more run at the end; a row
    whose references no longer fit its messages raises RejectedRow."""
    key = "team_id" if mode == "team" else "agent_id"
    primary = next(r for r in rows if "row" in r["metadata"]["agno"])
    agno = primary["metadata"]["agno"]
    raw = dict(agno["row"])
    memory = raw.get("memory")
    later: list[dict[str, Any]] = []
    for row in rows:
        compacted = memory if row is primary else row["metadata"]["agno"]["runs"]
        covered = referenced(compacted)
        if covered > len(row["messages"]):
            raise RejectedRow(f"session {row['session_id']}: its messages no longer match")
        if covered < len(row["messages"]):
            later.append(later_run(row, key, row["messages"][covered:]))
    conversation = primary["messages"]
    if isinstance(memory, dict) and isinstance(memory.get("runs"), list):
        others = {
            r[key]: iter(expand_runs(r["metadata"]["agno"]["runs"], r["messages"]))
            for r in rows
            if r is not primary
        }
        runs = [
            next(others[run[SPLIT]]) if isinstance(run, dict) and SPLIT in run else run
            for run in expand_runs(memory["runs"], conversation)
        ]
        memory = {**memory, "runs": runs + later}
    elif later:
        memory = {**memory, "runs": later} if isinstance(memory, dict) else {"runs": later}
    raw["memory"] = expand_memory(memory, conversation)
    if not agno.get("no_state"):
        raw["session_data"] = {
            **raw["session_data"],
            "session_state": primary[f"{mode}_session_state"],
        }
    raw["session_id"] = primary["session_id"]
    raw["user_id"] = primary["user_id"]
    raw[key] = agno["split"]["agent_id"] if "split" in agno else primary[key]
    created = primary["created_at"]
    raw["created_at"] = int(created.timestamp()) if created is not None else None
    updated = primary["updated_at"]
    raw["updated_at"] = (
        None if agno.get("updated_at_null") or updated is None else int(updated.timestamp())
    )
    return raw, set(agno.get("sql_null", ()))


def _epoch_of(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _synthesized_session(row: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The Agno row of a session written only in PostgreSQL: its messages as one run."""
    key = "team_id" if kind == "team" else "agent_id"
    run = later_run(row, key, row["messages"] or [])
    data = {"name": row[f"{kind}_name"], key: row[key]}
    values = {
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "memory": {"runs": [run]},
        "session_data": {"session_state": row[f"{kind}_session_state"] or {}},
        "extra_data": None,
        "created_at": _epoch_of(row["created_at"]),
        "updated_at": _epoch_of(row["updated_at"]),
        "agent_id": row[key] if kind == "agent" else None,
        "agent_data": data if kind == "agent" else None,
        "team_session_id": None,
    }
    if kind == "team":
        values.update(team_id=row[key], team_data=data)
    return values


def session_from_rows(
    rows: Sequence[Mapping[str, Any]], kind: str
) -> tuple[dict[str, Any], set[str]]:
    """One Agno row from all the rows of a session id: the imported ones restored, the runs
    of the others (agents that joined after the import, or rows written only here) added."""
    key = "team_id" if kind == "team" else "agent_id"
    imported = [r for r in rows if (r["metadata"] or {}).get("agno")]
    values: dict[str, Any] | None = None
    nulls: set[str] = set()
    if imported:
        try:
            values, nulls = agno_session(imported, kind)
        except (RejectedRow, KeyError, IndexError, StopIteration, TypeError):
            imported = []  # no longer what was imported: rebuilt from its messages below
    rest = [r for r in rows if r not in imported]
    if values is None:
        values, rest = _synthesized_session(rest[0], kind), rest[1:]
    memory = values["memory"] if isinstance(values["memory"], dict) else {}
    runs: list[Any] = memory["runs"] if isinstance(memory.get("runs"), list) else []
    runs = runs + [later_run(row, key, row["messages"] or []) for row in rest]
    if rest:
        values["memory"] = {**memory, "runs": runs}
        nulls.discard("memory")
    return values, nulls
