"""Agno on the plan's tables. Which classes this module holds depends on the Agno installed:

Agno 2 or 3 (extras `agno2`, `agno3`):
* `PagbankDb`, `AsyncPagbankDb`: Agno's `db` (a `BaseDb` / `AsyncBaseDb`). Agent sessions in
  `agent_sessions`, team sessions in `team_sessions`, memories in `user_memories`, written as
  the importer and the 1.7 storage write them; everything else in Agno's own tables, in a
  schema of their own (`agno_schema`) of the same database.

Agno 1.7 (extra `agno`): what PagBank's app plugs in where it used SqliteStorage and
SqliteMemoryDb.
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

from importlib.util import find_spec

from .merge import merge_sessions

if find_spec("agno.storage") is not None:  # Agno 1.x
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
else:  # Agno 2 or 3
    from .db import PagbankDb
    from .db_async import AsyncPagbankDb

    __all__ = ["AsyncPagbankDb", "PagbankDb", "merge_sessions"]
