"""Two writers of one Agno session: what is stored when a session read earlier comes back.

Agno 1.7 reads a whole session when a run starts and writes it back whole when the run ends.
Two app replicas serving one session at the same moment would each write back what they read
plus their own run, and the last would win. Instead the storage merges what is stored with
what comes in (`merge_sessions`), under a lock of the session, so every run is kept. Pure: no
I/O.

The rule:
* **Runs** are identified by `run_id`: a run stored but absent from the incoming session is
  kept; a run in both is the incoming one (its newer state); a new run is added. Runs are
  ordered by their `created_at` (a stable sort, so runs of one writer keep their order).
* **The legacy `messages` list** of a memory: the stored messages, then the incoming ones not
  already there.
* **Everything else** is merged one level deep, last writer wins per key: the keys of
  `memory`, `session_data` (and of its `session_state`), `extra_data`, `agent_data` /
  `team_data`. A key the incoming session lacks keeps its stored value.
* A session that really shrinks (a run deleted on purpose) is written with
  `PostgresStorage.replace()`, which stores the session exactly as given.
"""

from typing import Any

import orjson

_NESTED = {"session_data": ("session_state",)}  # keys merged one more level down


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _merge_keys(stored: Any, incoming: Any, nested: tuple[str, ...] = ()) -> Any:
    """`incoming` over `stored`, key by key, when both are objects; else the incoming value
    (or the stored one when nothing comes in)."""
    if not isinstance(stored, dict) or not isinstance(incoming, dict):
        return incoming if incoming is not None else stored
    merged = {**stored, **incoming}
    for key in nested:
        merged[key] = _merge_keys(stored.get(key), incoming.get(key))
    return merged


def _run_id(run: Any) -> Any:
    return run.get("run_id") if isinstance(run, dict) else None


def _created(run: Any) -> float | None:
    created = run.get("created_at") if isinstance(run, dict) else None
    if isinstance(created, int | float) and not isinstance(created, bool):
        return float(created)
    return None


def merge_runs(stored: list[Any], incoming: list[Any]) -> list[Any]:
    """Stored runs with the incoming ones: replaced by `run_id`, added, ordered by creation."""
    merged = list(stored)
    position = {_run_id(run): i for i, run in enumerate(stored) if _run_id(run) is not None}
    known = {_canon(run) for run in stored if _run_id(run) is None}
    for run in incoming:
        run_id = _run_id(run)
        if run_id is not None and run_id in position:
            merged[position[run_id]] = run
        elif run_id is None and _canon(run) in known:
            continue  # a run without an id, stored already
        else:
            merged.append(run)
    # A run with no time sorts with the run before it, so it keeps its place.
    keys, last = [], float("-inf")
    for run in merged:
        last = created if (created := _created(run)) is not None else last
        keys.append(last)
    order = sorted(range(len(merged)), key=lambda i: keys[i])
    return [merged[i] for i in order]


def _merge_messages(stored: list[Any], incoming: list[Any]) -> list[Any]:
    seen = {_canon(message) for message in stored}
    return stored + [m for m in incoming if _canon(m) not in seen]


def _merge_memory(stored: Any, incoming: Any) -> Any:
    merged = _merge_keys(stored, incoming)
    if not (isinstance(stored, dict) and isinstance(incoming, dict)):
        return merged
    for key, value in incoming.items():
        before = stored.get(key)
        if key == "runs" and isinstance(value, list) and isinstance(before, list):
            merged[key] = merge_runs(before, value)
        elif key == "messages" and isinstance(value, list) and isinstance(before, list):
            merged[key] = _merge_messages(before, value)
        else:
            merged[key] = _merge_keys(before, value)
    return merged


def merge_sessions(stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """The session to store when `incoming` meets `stored` (both as Agno's `to_dict()`
    gives them); see the module's doc for the rule."""
    merged = {**stored, **incoming}
    for column, value in incoming.items():
        before = stored.get(column)
        if column == "memory":
            merged[column] = _merge_memory(before, value)
        elif column in ("session_data", "extra_data", "agent_data", "team_data"):
            merged[column] = _merge_keys(before, value, _NESTED.get(column, ()))
    created = [t for t in (stored.get("created_at"), incoming.get("created_at")) if t]
    merged["created_at"] = min(created) if created else None
    return merged
