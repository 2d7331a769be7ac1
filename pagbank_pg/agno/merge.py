"""Two writers of one Agno session: what is stored when a session read earlier comes back.

Agno 1.7 reads a whole session when a run starts and writes it back whole when the run ends.
Two app replicas serving one session at the same moment would each write back what they read
plus their own run, and the last would win. Instead the storage merges what is stored with
what comes in (`merge_sessions`), under a lock of the session, so every run is kept. Pure: no
I/O.

The rule:
* **Ownership** comes first (`check_owner`): a session belongs to the user who created it. A
  write for another user, or without a user, to a session that has one is refused
  (`SessionOwnershipError`): nothing is merged, nothing of the owner's is returned.
* **Runs** are identified by `run_id`: a run stored but absent from the incoming session is
  kept; a new run is added. A run in both is the incoming one only when the writer changed
  it: when the writer's copy is one it was served (`served`: the `fingerprints` of the runs
  its storage read or wrote), it is an older state, and another writer's newer state of that
  run stays (a replica that read a run before another one completed it never sets it back).
  A writer whose reads are not known (`served` None) has its copy stored. Runs are ordered
  by their `created_at` (a stable sort, so runs of one writer keep their order).
* **The legacy `messages` list** of a memory: the stored messages, then the incoming ones not
  already there.
* **Everything else** is merged one level deep, last writer wins per key: the keys of
  `memory`, `session_data` (and of its `session_state`), `extra_data`, `agent_data` /
  `team_data`. A key the incoming session lacks keeps its stored value.
* A session that really shrinks (a run deleted on purpose) is written with
  `PostgresStorage.replace()`, which stores the session exactly as given.
"""

import hashlib
from collections.abc import Collection, Iterable
from typing import Any

import orjson

from ..errors import SessionOwnershipError
from ..mapping.agno2 import FP

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


def check_owner(
    owners: Iterable[str | None], user_id: str | None, session_id: str, table: str
) -> None:
    """Raise `SessionOwnershipError` unless `user_id` may write the session whose stored rows
    have the user ids `owners`: a session with no owner yet (new, or written without a user)
    takes anyone's; one with an owner takes only that owner's writes."""
    taken = {owner for owner in owners if owner is not None}
    if taken and taken != {user_id}:
        raise SessionOwnershipError(
            f"session {session_id!r} of {table} belongs to another user; nothing was written: "
            "start a new session id for this user"
        )


def _meaningful(value: Any) -> Any:
    """`value` without the keys that hold nothing (None, [] or {}), at every depth: Agno
    writes back a run it read with such keys dropped or added."""
    if isinstance(value, dict):
        kept = {k: _meaningful(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_meaningful(v) for v in value]
    return value


def fingerprint(run: Any) -> bytes:
    """A short digest of one run's content: equal when the run is unchanged (its stored
    fingerprint, `FP`, left out)."""
    if isinstance(run, dict) and FP in run:
        run = {k: v for k, v in run.items() if k != FP}
    return hashlib.blake2b(_canon(_meaningful(run)), digest_size=16).digest()


def fingerprints(session: dict[str, Any]) -> set[bytes]:
    """The fingerprints of the runs of an Agno session dict (what a writer was served)."""
    memory = session.get("memory")
    runs = memory.get("runs") if isinstance(memory, dict) else None
    return (
        {fingerprint(r) for r in runs if _run_id(r) is not None}
        if isinstance(runs, list)
        else set()
    )


def merge_runs(
    stored: list[Any], incoming: list[Any], served: Collection[bytes] | None = None
) -> list[Any]:
    """Stored runs with the incoming ones: replaced by `run_id` where the writer changed them
    (its copy is none it was `served`), added, ordered by creation."""
    merged = list(stored)
    position = {_run_id(run): i for i, run in enumerate(stored) if _run_id(run) is not None}
    known = {_canon(run) for run in stored if _run_id(run) is None}
    for run in incoming:
        run_id = _run_id(run)
        if run_id is not None and run_id in position:
            before = merged[position[run_id]]
            copy = fingerprint(run) if served is not None else b""
            if served is None or copy not in served or copy == fingerprint(before):
                merged[position[run_id]] = run  # else: an older state it read; stored wins
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


def _merge_memory(stored: Any, incoming: Any, served: Collection[bytes] | None) -> Any:
    merged = _merge_keys(stored, incoming)
    if not (isinstance(stored, dict) and isinstance(incoming, dict)):
        return merged
    for key, value in incoming.items():
        before = stored.get(key)
        if key == "runs" and isinstance(value, list) and isinstance(before, list):
            merged[key] = merge_runs(before, value, served)
        elif key == "messages" and isinstance(value, list) and isinstance(before, list):
            merged[key] = _merge_messages(before, value)
        else:
            merged[key] = _merge_keys(before, value)
    return merged


def merge_sessions(
    stored: dict[str, Any],
    incoming: dict[str, Any],
    served: Collection[bytes] | None = None,
    merge_data: bool = True,
) -> dict[str, Any]:
    """The session to store when `incoming` meets `stored` (both as Agno's `to_dict()`
    gives them; `served`: the fingerprints of the runs the writer was served, if known); see
    the module's doc for the rule. `merge_data` False: the session's dicts (session_data,
    extra_data, agent_data, team_data) are the incoming ones whole, as Agno 2/3 store them (a
    key the app dropped stays dropped); the runs are merged all the same."""
    merged = {**stored, **incoming}
    for column, value in incoming.items():
        before = stored.get(column)
        if column == "memory":
            merged[column] = _merge_memory(before, value, served)
        elif merge_data and column in ("session_data", "extra_data", "agent_data", "team_data"):
            merged[column] = _merge_keys(before, value, _NESTED.get(column, ()))
    created = [t for t in (stored.get("created_at"), incoming.get("created_at")) if t]
    merged["created_at"] = min(created) if created else None
    return merged
