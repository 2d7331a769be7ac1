"""What the session writes of every Agno generation share and that does no I/O: the kind of
a session (`Kind`) and the runs a storage was served (`Served`). writes_async.py and the
writes.py generated from it import them from here. No Agno import here."""

import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any, Literal

from .merge import fingerprints

Kind = Literal["agent", "team"]

# How many sessions a storage remembers the served runs of (the rest are written as given).
SERVED_SESSIONS = 10_000


class Served:
    """The fingerprints of the runs a storage was served (read or written), per session:
    what tells a writer's unchanged copy of a run from its own edit (`merge`). Thread-safe;
    the least recently used sessions are forgotten first."""

    def __init__(self, size: int = SERVED_SESSIONS) -> None:
        self.size = size
        self._sessions: OrderedDict[str, set[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session_id: str, session: dict[str, Any]) -> None:
        runs = fingerprints(session)
        with self._lock:
            self._sessions[session_id] = self._sessions.pop(session_id, set()) | runs
            while len(self._sessions) > self.size:
                self._sessions.popitem(last=False)

    def of(self, session_id: str) -> Collection[bytes] | None:
        with self._lock:
            served = self._sessions.get(session_id)
            return frozenset(served) if served is not None else None
