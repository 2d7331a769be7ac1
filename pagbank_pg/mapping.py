"""Agno 1.7 and PagBank SQLite rows <-> rows of the plan's tables, losslessly. Pure: no I/O.

One mapping, shared by the importer, the exporter and the Agno integration:

* An Agno session row becomes a `team_sessions` / `agent_sessions` row. `messages` is the
  conversation: the messages of its runs in order, without `from_history` copies, the system
  prompt once. Everything else of the source row is kept, compactly, in
  `metadata.agno`: run messages there are references into `messages` (an index, `{"h": i}` for
  a `from_history` copy of message i, or `{"m": message}` when a message is kept as it is).
* A route-mode agent row holding runs of several agents becomes one row per run-level
  `agent_id`; the row of the source row's own agent keeps the row-level columns.
* A memory row (`str(dict)` of a Python literal) becomes a `user_memories` row; the literal is
  parsed with `ast.literal_eval`, never evaluated.
* A PagBank `sessions` row becomes a `user_sessions` row; its naive local timestamps are read
  in the zone PagBank ran in.

Each `*_row(s)` function has an inverse (`agno_session`, `agno_memory`, `pagbank_session`)
that gives back the source row's values; `RejectedRow` says why a row cannot be mapped.
"""

import ast
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import orjson

REFS = "$pagbank_refs"  # marks a run's messages replaced by references into the conversation
SPLIT = "$pagbank_split"  # marks a run kept in the row of another agent (route mode)
IDS = uuid.UUID("9b1f6a52-4c1e-4a57-9a43-6f1d6b0c7e10")  # namespace of the ids we derive
AGNO_JSON_COLUMNS = ("memory", "session_data", "extra_data", "agent_data", "team_data")
MAX_ID = 255  # VARCHAR(255) of ids and names
MAX_UNIT = 50  # VARCHAR(50) of business_unit

# Which business unit each of PagBank's specialists serves, by a word of its agent_id.
DEFAULT_UNITS = {
    "adquirencia": "adquirencia",
    "emissao": "cartoes",
    "cart": "cartoes",
    "conta": "conta_digital",
    "pix": "conta_digital",
    "pagbank": "conta_digital",
    "invest": "investimentos",
    "credit": "credito",
    "credito": "credito",
    "segur": "seguros",
}


class RejectedRow(ValueError):
    """A source row that cannot be mapped; the message says why."""


@dataclass(frozen=True)
class Source:
    """Where a row came from: file name and table."""

    file: str
    table: str


def business_unit_of(agent_id: str, units: Mapping[str, str] = DEFAULT_UNITS) -> str | None:
    """The unit of an agent: an exact key of `units`, else the first key contained in its id."""
    if agent_id in units:
        return units[agent_id]
    lowered = agent_id.lower()
    return next((unit for word, unit in units.items() if word in lowered), None)


# --- conversations -------------------------------------------------------------------------------


def _canon(message: Any) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


class _Conversation:
    """Messages in order, with an index (built on first need) to find a message again."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._index: dict[bytes, int] | None = None

    def find(self, message: Any) -> int | None:
        if self._index is None:
            self._index = {}
            for position, known in enumerate(self.messages):
                self._index.setdefault(_canon(known), position)
        return self._index.get(_canon(message))

    def add(self, message: Any) -> int:
        self.messages.append(message)
        if self._index is not None:
            self._index.setdefault(_canon(message), len(self.messages) - 1)
        return len(self.messages) - 1

    def ref(self, message: Any) -> Any:
        """A reference to `message`, adding it to the conversation when it is new."""
        if not isinstance(message, dict):
            return {"m": message}
        if message.get("from_history") is True:
            original = self.find({**message, "from_history": False})
            return {"h": original} if original is not None else {"m": message}
        if message.get("role") == "system":
            seen = self.find(message)
            if seen is not None:
                return seen
        return self.add(message)


def _compact_runs(runs: list[Any], conversation: _Conversation) -> list[Any]:
    compacted = []
    for run in runs:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, list):
            run = {**run, "messages": {REFS: [conversation.ref(m) for m in messages]}}
        compacted.append(run)
    return compacted


def _deref(ref: Any, conversation: list[Any]) -> Any:
    if isinstance(ref, int) and not isinstance(ref, bool):
        return conversation[ref]
    if "h" in ref:
        return {**conversation[ref["h"]], "from_history": True}
    return ref["m"]


def _expand_runs(runs: list[Any], conversation: list[Any]) -> list[Any]:
    expanded = []
    for run in runs:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, dict) and REFS in messages:
            run = {**run, "messages": [_deref(r, conversation) for r in messages[REFS]]}
        expanded.append(run)
    return expanded


def has_markers(memory_json: bytes) -> bool:
    """Whether a memory's JSON text holds our markers: such a memory cannot be mapped."""
    return REFS.encode() in memory_json or SPLIT.encode() in memory_json


def compact_memory(memory: Any, runs: list[Any] | None = None) -> tuple[list[Any], Any]:
    """(conversation, memory with its run messages as references); `runs` overrides the runs."""
    conversation = _Conversation()
    if not isinstance(memory, dict):
        return [], memory
    compacted = dict(memory)
    chosen = runs if runs is not None else memory.get("runs")
    if isinstance(chosen, list):
        compacted["runs"] = _compact_runs(chosen, conversation)
    legacy = memory.get("messages")
    if isinstance(legacy, list):  # the legacy format's own list of the session's messages
        refs = []
        for message in legacy:
            seen = conversation.find(message)
            refs.append(seen if seen is not None else conversation.add(message))
        compacted["messages"] = {REFS: refs}
    return conversation.messages, compacted


def expand_memory(compacted: Any, conversation: list[Any]) -> Any:
    """The inverse of `compact_memory`."""
    if not isinstance(compacted, dict):
        return compacted
    memory = dict(compacted)
    if isinstance(memory.get("runs"), list):
        memory["runs"] = _expand_runs(memory["runs"], conversation)
    legacy = memory.get("messages")
    if isinstance(legacy, dict) and REFS in legacy:
        memory["messages"] = [conversation[i] for i in legacy[REFS]]
    return memory


# --- checks --------------------------------------------------------------------------------------


def _text(value: Any, column: str, limit: int | None = MAX_ID, required: bool = False) -> Any:
    if value is None:
        if required:
            raise RejectedRow(f"{column} is NULL")
        return None
    if not isinstance(value, str):
        raise RejectedRow(f"{column} is not text: {value!r:.60}")
    if limit is not None and len(value) > limit:
        raise RejectedRow(f"{column} is longer than {limit} characters")
    if "\x00" in value:
        raise RejectedRow(f"{column} holds a NUL character, which PostgreSQL cannot store")
    return value


def _epoch(value: Any, column: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RejectedRow(f"{column} is not epoch seconds: {value!r:.60}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise RejectedRow(f"{column} {value} is out of range") from None


def _row_id(source: Source, *key: str) -> uuid.UUID:
    return uuid.uuid5(IDS, "\x1f".join((source.table, *key)))


# --- Agno sessions -------------------------------------------------------------------------------


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
    session_id = _text(raw.get("session_id"), "session_id", required=True)
    user_id = _text(raw.get("user_id"), "user_id")
    created_at = _epoch(raw.get("created_at"), "created_at")
    updated_at = _epoch(raw.get("updated_at"), "updated_at")
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
        agent_id: str = _text(agent, key, required=True)
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
                "id": _row_id(source, session_id, agent_id),
                key: agent_id,
                f"{mode}_name": _text(row_name, f"{mode}_name"),
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


def _referenced(compacted: Any) -> int:
    """How many conversation messages the references of a compacted memory or run list cover."""
    highest = -1
    for refs in _ref_lists(compacted):
        for ref in refs:
            index = ref if isinstance(ref, int) else ref.get("h", -1)
            highest = max(highest, index)
    return highest + 1


def _ref_lists(compacted: Any) -> Iterator[list[Any]]:
    runs = compacted.get("runs") if isinstance(compacted, dict) else compacted
    for run in runs if isinstance(runs, list) else []:
        messages = run.get("messages") if isinstance(run, dict) else None
        if isinstance(messages, dict) and REFS in messages:
            yield messages[REFS]
    legacy = compacted.get("messages") if isinstance(compacted, dict) else None
    if isinstance(legacy, dict) and REFS in legacy:
        yield legacy[REFS]


def later_run(row: Mapping[str, Any], key: str, messages: list[Any]) -> dict[str, Any]:
    """A run holding messages the app appended after the import (they are in no source run)."""
    created = row["updated_at"] or row["created_at"]
    return {
        "run_id": str(uuid.uuid5(IDS, f"{row['id']}\x1f{len(row['messages'])}")),
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
        covered = _referenced(compacted)
        if covered > len(row["messages"]):
            raise RejectedRow(f"session {row['session_id']}: its messages no longer match")
        if covered < len(row["messages"]):
            later.append(later_run(row, key, row["messages"][covered:]))
    conversation = primary["messages"]
    if isinstance(memory, dict) and isinstance(memory.get("runs"), list):
        others = {
            r[key]: iter(_expand_runs(r["metadata"]["agno"]["runs"], r["messages"]))
            for r in rows
            if r is not primary
        }
        runs = [
            next(others[run[SPLIT]]) if isinstance(run, dict) and SPLIT in run else run
            for run in _expand_runs(memory["runs"], conversation)
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


# --- Agno memories -------------------------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def parse_memory_literal(text: Any) -> dict[str, Any]:
    """The dict Agno wrote with `str(dict)`, parsed as a literal (never evaluated)."""
    if not isinstance(text, str):
        raise RejectedRow(f"memory is not text: {text!r:.60}")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
        raise RejectedRow(f"memory is not a plain Python literal ({error})") from None
    if not isinstance(value, dict) or not _plain(value):
        raise RejectedRow("memory is not a dict of plain values (str, number, list, dict, None)")
    return value


_DB_TIME = "%Y-%m-%d %H:%M:%S"


def _parse_time(
    value: Any, column: str, zone: tzinfo, render: Callable[[datetime], str], raw: dict[str, Any]
) -> datetime | None:
    """A timestamp text, naive ones read in `zone`; kept as text in `raw` unless `render`
    gives it back exactly (as PostgreSQL returns it: through UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RejectedRow(f"{column} is not a timestamp text: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedRow(f"{column} is not a timestamp: {value!r:.60}") from None
    aware = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    if render(aware) != value:
        raw[column] = value
    return aware


def _db_time(value: Any, column: str, raw: dict[str, Any]) -> datetime | None:
    """A SQLite CURRENT_TIMESTAMP text (UTC)."""
    return _parse_time(value, column, UTC, _render_db_time_strict, raw)


def memory_id(table: str, source_id: str) -> uuid.UUID:
    """The `user_memories.id` of an Agno memory id: itself when a UUID, else derived from it."""
    try:
        return uuid.UUID(source_id)
    except ValueError:
        return uuid.uuid5(IDS, f"{table}\x1f{source_id}")


def agno_memory_row(raw: Mapping[str, Any], source: Source) -> dict[str, Any]:
    """The `user_memories` row of an Agno memory row (id, user_id, memory, timestamps)."""
    literal = parse_memory_literal(raw.get("memory"))
    text = _text(literal.get("memory"), "memory text", limit=None, required=True)
    user_id = _text(raw.get("user_id"), "user_id", required=True)
    kept: dict[str, Any] = {}
    source_id = _text(raw.get("id"), "id", required=True)
    row_id = memory_id(source.table, source_id)
    if str(row_id) != source_id:
        kept["id"] = source_id
    created_at = _db_time(raw.get("created_at"), "created_at", kept)
    updated_at = _db_time(raw.get("updated_at"), "updated_at", kept)
    topics = literal.get("topics")
    tags = topics if isinstance(topics, list) and all(isinstance(t, str) for t in topics) else None
    rest = {
        k: v
        for k, v in literal.items()
        if k != "memory"
        and not (k == "topics" and tags is not None)
        and not (k == "memory_id" and v == source_id)
    }
    agno = {
        "source": {"file": source.file, "table": source.table},
        "keys": list(literal),  # str(dict) is in key order
        "rest": rest,
    }
    if kept:
        agno["raw"] = kept
    if any("\x00" in t for t in tags or ()) or "\x00" in orjson.dumps(rest).decode():
        raise RejectedRow("memory holds a NUL character, which PostgreSQL cannot store")
    return {
        "id": row_id,
        "user_id": user_id,
        "memory": text,
        "created_at": created_at,
        "updated_at": updated_at,
        "metadata": {"agno": agno},
        "memory_tags": tags,
        "business_units": None,
        "importance_score": 0.5,
    }


def _render_db_time_strict(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_DB_TIME)


def render_db_time(value: datetime | None) -> str | None:
    """A timestamp as SQLite's CURRENT_TIMESTAMP text (UTC), or None."""
    return _render_db_time_strict(value) if value is not None else None


def agno_memory_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """The dict Agno keeps of a `user_memories` row written by `agno_memory_row`."""
    agno = row["metadata"]["agno"]
    source_id = agno.get("raw", {}).get("id", str(row["id"]))
    values = {
        "memory": row["memory"],
        "topics": row["memory_tags"],
        "memory_id": source_id,
        **agno["rest"],
    }
    return {k: values[k] for k in agno["keys"]}


def agno_memory(row: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `agno_memory_row`: the memory row's values, `memory` as `str(dict)`."""
    kept = row["metadata"]["agno"].get("raw", {})
    return {
        "id": kept.get("id", str(row["id"])),
        "user_id": row["user_id"],
        "memory": str(agno_memory_dict(row)),
        "created_at": kept.get("created_at", render_db_time(row["created_at"])),
        "updated_at": kept.get("updated_at", render_db_time(row["updated_at"])),
    }


# --- PagBank sessions ----------------------------------------------------------------------------

IMPORT_KEY = "_pagbank_import"  # our key inside user_sessions.metadata


def _local_time(value: Any, column: str, zone: tzinfo, raw: dict[str, Any]) -> datetime | None:
    return _parse_time(value, column, zone, lambda t: _render_local(t, zone), raw)


def _render_local(value: datetime, zone: tzinfo) -> str:
    # Through UTC, as PostgreSQL stores it: a local time that does not exist (skipped by a
    # DST change) renders differently, and is then kept as text.
    return value.astimezone(UTC).astimezone(zone).replace(tzinfo=None).isoformat()


def pagbank_session_row(
    raw: Mapping[str, Any], source: Source, zone: tzinfo, json_of: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """The `user_sessions` row of a PagBank `sessions` row; `json_of(text, column)` parses a
    JSON column (raising RejectedRow)."""
    kept: dict[str, Any] = {}
    created_at = _local_time(raw.get("created_at"), "created_at", zone, kept)
    last_activity = _local_time(raw.get("last_activity"), "last_activity", zone, kept)
    is_active = raw.get("is_active")
    if is_active not in (None, 0, 1) or isinstance(is_active, float):
        kept["is_active"] = is_active
    count = raw.get("interaction_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise RejectedRow(f"interaction_count is not an integer: {count!r:.60}")
    context_text, metadata_text = raw.get("session_context"), raw.get("metadata")
    context = json_of(context_text, "session_context") if context_text is not None else None
    if context_text is not None and context is None:
        kept["session_context"] = "null"  # the JSON text null, not SQL NULL
    source_meta = json_of(metadata_text, "metadata") if metadata_text is not None else None
    marker: dict[str, Any] = {"file": source.file, "table": source.table}
    if kept:
        marker["raw"] = kept
    if isinstance(source_meta, dict) and IMPORT_KEY not in source_meta:
        metadata = {**source_meta, IMPORT_KEY: marker}
    else:
        metadata = {
            IMPORT_KEY: {**marker, "metadata": source_meta, "sql_null": metadata_text is None}
        }
    return {
        "session_id": _text(raw.get("session_id"), "session_id", required=True),
        "user_id": _text(raw.get("user_id"), "user_id", required=True),
        "team_id": _text(raw.get("team_id"), "team_id"),
        "created_at": created_at,
        "last_activity": last_activity,
        "interaction_count": count,
        "session_context": context,
        "is_active": bool(is_active) if is_active is not None and "is_active" not in kept else None,
        "metadata": metadata,
    }


def pagbank_session(row: Mapping[str, Any], zone: tzinfo) -> tuple[dict[str, Any], set[str]]:
    """The inverse of `pagbank_session_row`: the `sessions` row's values (JSON columns parsed)
    and the JSON columns that were SQL NULL."""
    metadata = dict(row["metadata"] or {})
    marker = metadata.pop(IMPORT_KEY, {})
    kept = marker.get("raw", {})
    nulls = set()
    if "metadata" in marker:
        source_meta = marker["metadata"]
        if marker.get("sql_null"):
            nulls.add("metadata")
    else:
        source_meta = metadata
    if row["session_context"] is None and "session_context" not in kept:
        nulls.add("session_context")

    def time(column: str) -> str | None:
        value = row[column]
        rendered = _render_local(value, zone) if value is not None else None
        return str(kept[column]) if column in kept else rendered

    active = row["is_active"]
    return {
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "team_id": row["team_id"],
        "created_at": time("created_at"),
        "last_activity": time("last_activity"),
        "interaction_count": row["interaction_count"],
        "session_context": row["session_context"],  # the JSON null when kept says "null"
        "is_active": kept.get("is_active", None if active is None else int(active)),
        "metadata": source_meta,
    }, nulls
