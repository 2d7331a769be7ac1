"""Agno 2 and 3 sessions and memories <-> the values the plan's rows are made of. Pure: no I/O,
no Agno import.

Agno 2 and 3 keep a session as one dict (`Session.to_dict()`): `runs` at the top, `metadata`
for free-form data, `summary`, and an agent session may name a `team_id` or `workflow_id`.
They are stored through the same mapping as Agno 1.7's rows (`agno_session_rows`), so every
row has one shape whichever Agno wrote it: the conversation in `messages`, the session state in
`*_session_state`, the rest in `metadata.agno.row`. The Agno 2/3 session becomes an Agno 1.7
row first (`session_values`):

* `runs` -> `memory.runs`, each run marked with `V2` (so a session holding runs of both
  generations is read back right: only the runs Agno 1.7 wrote are converted);
* `metadata` -> `extra_data` (Agno's own v1-to-v2 migration maps them the same way);
* `summary`, `workflow_id` (and an agent session's `team_id`) are kept as they are;
* a None `agent_id` / `team_id` is stored as `NO_ID` (the column is NOT NULL) and read back
  as None.

A memory becomes an Agno 1.7 memory row (`memory_raw`), so `agno_memory_row` stores it: a
memory id that is not a UUID maps to a UUID derived from it, the id itself is kept and given
back; a None `user_id` is stored as `NO_ID` and read back as None.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .common import V2

NO_ID = ""  # a None agent_id, team_id or memory user_id (the plan's columns are NOT NULL)
# The fingerprint (hex) of a run as written one at a time (`pagbank_pg.agno.merge.fingerprint`
# of the marked run): what tells a stale copy of it without reading the run.
FP = "$pagbank_fp"
_MARKS = (V2, FP)

_FROM_ROW = ("memory", "extra_data", "team_session_id")  # Agno 1.7 columns, mapped below


def _key(kind: str) -> str:
    return "team_id" if kind == "team" else "agent_id"


def session_values(session: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The Agno 1.7 row values of an Agno 2/3 session dict (`Session.to_dict()`), for
    `agno_session_rows` and the merge."""
    key, data = _key(kind), f"{kind}_data"
    runs = session.get("runs") or []
    values = {
        name: value
        for name, value in session.items()
        if name not in ("runs", "metadata", key, data)
    }
    values.update(
        {
            key: session.get(key) if session.get(key) is not None else NO_ID,
            data: session.get(data),
            "memory": {
                "runs": [{**run, V2: True} if isinstance(run, dict) else run for run in runs]
            },
            "extra_data": session.get("metadata"),
        }
    )
    return values


def is_v2_run(run: Any) -> bool:
    """Whether Agno 2/3 wrote this stored run (else Agno 1.7 did)."""
    return isinstance(run, dict) and run.get(V2) is True


def session_dict(
    values: Mapping[str, Any], kind: str, convert_v1: Callable[[Any], Any] = lambda run: run
) -> dict[str, Any]:
    """The inverse of `session_values`: an Agno 2/3 session dict from Agno 1.7 row values
    (`session_from_rows`). The runs Agno 1.7 wrote go through `convert_v1` (Agno's own
    v1-to-v2 conversion, given where Agno is imported)."""
    key = _key(kind)
    memory = values.get("memory")
    runs = memory.get("runs") if isinstance(memory, dict) else None
    session = {name: value for name, value in values.items() if name not in _FROM_ROW}
    session["runs"] = [
        {k: v for k, v in run.items() if k not in _MARKS} if is_v2_run(run) else convert_v1(run)
        for run in (runs if isinstance(runs, list) else [])
    ]
    session["metadata"] = values.get("extra_data")
    if session.get(key) == NO_ID:
        session[key] = None
    return session


# --- memories ------------------------------------------------------------------------------------


def _db_text(epoch: Any) -> str | None:
    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def memory_raw(memory: Mapping[str, Any]) -> dict[str, Any]:
    """The Agno 1.7 memory row (`agno_memory_row`'s input) of an Agno 2/3 memory dict (the
    `UserMemory` fields; `memory_id` required)."""
    literal = {
        "memory_id": memory["memory_id"],
        "memory": memory.get("memory"),
        **{
            name: value
            for name, value in memory.items()
            if name not in ("memory_id", "memory", "user_id", "created_at", "updated_at")
            and value is not None
        },
    }
    user_id = memory.get("user_id")
    return {
        "id": memory["memory_id"],
        "user_id": user_id if user_id is not None else NO_ID,
        "memory": repr(literal),
        "created_at": _db_text(memory.get("created_at")),
        "updated_at": _db_text(memory.get("updated_at")),
    }


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def memory_dict(row: Mapping[str, Any], stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Agno 2/3 memory dict of a `user_memories` row; `stored`: what `agno_memory_dict`
    gives of a row Agno wrote (None for a row the app wrote itself)."""
    kept = dict(stored or {})
    return {
        **kept,
        "memory_id": kept.get("memory_id", str(row["id"])),
        "memory": row["memory"],
        "topics": row["memory_tags"] if row["memory_tags"] is not None else kept.get("topics"),
        "user_id": row["user_id"] if row["user_id"] != NO_ID else None,
        "created_at": _epoch(row["created_at"]),
        "updated_at": _epoch(row["updated_at"]),
    }
