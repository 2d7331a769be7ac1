"""What the session writes of every Agno generation share and that does no I/O: the kind of
a session (`Kind`) and the runs a storage was served (`Served`). writes_async.py and the
writes.py generated from it import them from here. No Agno import here."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal

import orjson

from ..mapping import REFS, V2
from ..mapping.agno2 import FP, NO_ID
from .merge import fingerprint, fingerprints

Kind = Literal["agent", "team"]

# How many sessions a storage remembers the served runs of (the rest are written as given).
SERVED_SESSIONS = 10_000


class Served:
    """The fingerprints of the runs a storage was served (read or written), per session:
    what tells a writer's unchanged copy of a run from its own edit (`merge`). Thread-safe;
    the least recently used sessions are forgotten first."""

    def __init__(self, size: int = SERVED_SESSIONS) -> None:
        self.size = size
        self._sessions: OrderedDict[str, tuple[set[bytes], set[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session_id: str, session: dict[str, Any]) -> None:
        """Remember the runs of an Agno 1.7 session dict as served."""
        self.remember(session_id, fingerprints(session))

    def remember(self, session_id: str, runs: Iterable[bytes], ids: Iterable[str] = ()) -> None:
        """Remember the run fingerprints `runs` and the run ids `ids` as served."""
        with self._lock:
            fps, known = self._sessions.pop(session_id, (set(), set()))
            self._sessions[session_id] = (fps | set(runs), known | set(ids))
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)

    def of(self, session_id: str) -> Collection[bytes] | None:
        with self._lock:
            served = self._sessions.get(session_id)
            return frozenset(served[0]) if served is not None else None

    def ids_of(self, session_id: str) -> frozenset[str]:
        """The ids of the runs served for the session (the ones a writer did not add)."""
        with self._lock:
            served = self._sessions.get(session_id)
            return frozenset(served[1]) if served is not None else frozenset()


def marked_run(run: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An Agno 2/3 run dict as stored (marked as theirs, `V2`, with its fingerprint, `FP`) and
    that fingerprint (hex): what a reader of the run is served."""
    marked = {**run, V2: True}
    fp = fingerprint(marked).hex()
    return {**marked, FP: fp}, fp


def served_fingerprint(run: dict[str, Any], stored: Any) -> bytes:
    """The fingerprint of a run read back: the one stored with it (`stored`, hex), else (a run
    written whole, or by Agno 1.7) made from it."""
    if isinstance(stored, str):
        try:
            return bytes.fromhex(stored)
        except ValueError:
            pass  # not ours: made from the run below
    return fingerprint({**run, V2: True})


def first_system(runs: list[dict[str, Any]]) -> Any:
    """The first system message of the runs (None: none): the conversation may hold it."""
    for run in runs:
        messages = run.get("messages")
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, dict) and message.get("role") == "system":
                return message
    return None


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _own_tail(count: int, last_refs: Any) -> int | None:
    """Where the messages the last run added begin (it holds the conversation's end), or None
    when the conversation does not end with them (the app appended messages, or an older
    shape): the row is then written whole."""
    refs = last_refs.get(REFS) if isinstance(last_refs, dict) else None
    if count == 0:
        return 0
    if not isinstance(refs, list):
        return None
    held = {r for r in refs if isinstance(r, int) and not isinstance(r, bool)}
    start = count
    while start - 1 in held:
        start -= 1
    return start if start < count else None


def run_write(
    rows: list[dict[str, Any]],
    kind: Kind,
    runs: list[dict[str, Any]],
    system: Any,
    *,
    replace: bool,
) -> dict[str, Any] | None:
    """The parameters of put_agent_runs / put_team_runs that store `runs` (marked, `marked_run`)
    in the session's row (`rows`: agno_session_runs), one SQL statement: the new runs appended
    (their messages to the conversation, their references to them), or (`replace`, one run) the
    session's last run replaced when it is that run (else the run is appended). None when the
    row cannot take them so (no row yet, several rows, a route-mode split, a run of another
    agent, a conversation that does not end with the last run, a replaced run that is not the
    last): the caller writes the whole session."""
    if len(rows) != 1 or not rows[0]["whole"]:
        return None
    row = rows[0]
    key = "team_id" if kind == "team" else "agent_id"
    if any(run.get(key) not in (None, NO_ID, row["component_id"]) for run in runs):
        return None
    if any(run.get("run_id") is None for run in runs):
        return None
    count, run_ids = row["message_count"], list(row["run_ids"])
    tail = _own_tail(count, row["last_refs"])
    if tail is None:
        return None
    position = None
    if replace and len(runs) != 1:
        return None
    if replace and runs[0]["run_id"] in run_ids:
        position = run_ids.index(runs[0]["run_id"])
        if position != len(run_ids) - 1:
            return None
        base = tail
    else:
        runs = [run for run in runs if run["run_id"] not in run_ids]
        base = count
    system_at = row["system_at"]
    if system_at is not None and (
        system_at >= base or _canon(system) != _canon(row["system_message"])
    ):
        system_at = None
    added: list[Any] = []
    compacted = []
    for run in runs:
        messages = run.get("messages")
        if not isinstance(messages, list):
            compacted.append(run)
            continue
        refs: list[Any] = []
        for message in messages:
            if not isinstance(message, dict) or message.get("from_history") is True:
                refs.append({"m": message})
            elif (
                message.get("role") == "system"
                and system_at is not None
                and _canon(message) == _canon(system)
            ):
                refs.append(system_at)
            else:
                first = message.get("role") == "system" and system_at is None
                if first and _canon(message) == _canon(system):
                    system_at = base + len(added)  # the next runs' copies refer to it
                refs.append(base + len(added))
                added.append(message)
        compacted.append({**run, "messages": {REFS: refs}})
    placed = position is not None
    return {
        "id": row["id"],
        "keep": base if placed else None,
        "messages": added,
        "position": position,
        "run": compacted[0] if placed else None,
        "runs": [] if placed else compacted,
        "run_id": runs[0]["run_id"] if placed else None,
        "fp": runs[0].get(FP) if placed else None,
    }


class RunObjects:
    """The run objects a storage built for the sessions it read, each kept with the stored
    fingerprint of its run: a run read again with the same fingerprint is the same object, not
    built again (as Agno 3's own `SessionRunObjectCache`: shared objects are not changed in
    place by Agno, which copies a run before it changes it). Runs without a stored fingerprint
    are built each time. Thread-safe; the least recently read sessions are forgotten first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._sessions: OrderedDict[str, dict[str, tuple[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def objects(
        self,
        session_id: str,
        runs: list[Any],
        fps: dict[Any, Any],
        build: Callable[[dict[str, Any]], Any],
    ) -> list[Any]:
        """The objects of `runs` (dicts; `fps`: their stored fingerprints by run id), built
        by `build` (None: left out) unless known by the same fingerprint."""
        with self._lock:
            known = self._sessions.pop(session_id, {})
        kept: dict[str, tuple[str, Any]] = {}
        objects = []
        for run in runs:
            if not isinstance(run, dict):
                continue
            run_id, fp = run.get("run_id"), fps.get(run.get("run_id"))
            if not (isinstance(fp, str) and isinstance(run_id, str)):
                built = build(run)
            elif run_id in known and known[run_id][0] == fp:
                built = kept.setdefault(run_id, known[run_id])[1]
            else:
                built = kept.setdefault(run_id, (fp, build(run)))[1]
            if built is not None:
                objects.append(built)
        with self._lock:
            self._sessions[session_id] = kept
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)
        return objects
