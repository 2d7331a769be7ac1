"""Agno 1.7 on the plan's tables (extra `agno`): what PagBank's app plugs in where it used
SqliteStorage and SqliteMemoryDb.

* `PostgresStorage`: Agno's `Storage` (agent and team mode) over `agent_sessions` /
  `team_sessions`. Rows are written by the importer's mapping, so they look exactly like
  imported ones; an agent session holding runs of several agents (route-mode specialists
  sharing one storage) is kept as one row per `(session_id, agent_id)` and read back whole,
  as Agno's own storage would give it. An upsert merges with what is stored (`merge`), so
  two replicas serving one session at once both keep their runs.
* `PostgresMemoryDb`: memory v2's `MemoryDb` over `user_memories`.
* `PostgresSessionManager`: PagBank's session manager over `user_sessions`.
* `DualWriteStorage`, `DualWriteMemoryDb`: write to two stores, read from one (the cutover).
* `PostgresManager`: one pool, and all of the above from it.
"""

from .merge import merge_sessions
from .storage import (
    DualWriteMemoryDb,
    DualWriteStorage,
    PostgresManager,
    PostgresMemoryDb,
    PostgresSessionManager,
    PostgresStorage,
)

__all__ = [
    "DualWriteMemoryDb",
    "DualWriteStorage",
    "PostgresManager",
    "PostgresMemoryDb",
    "PostgresSessionManager",
    "PostgresStorage",
    "merge_sessions",
]
