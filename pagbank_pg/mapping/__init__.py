"""Agno 1.7 and PagBank SQLite rows <-> rows of the plan's tables, losslessly. Pure: no I/O.

One mapping, split by what it maps (`sessions`, `memories`, `user_sessions`, over
`conversation` and `common`), shared by the importer, the exporter and the Agno integration:

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

from ..errors import RejectedRow
from .common import (
    AGNO_JSON_COLUMNS,
    DEFAULT_UNITS,
    IDS,
    MAX_ID,
    MAX_UNIT,
    REFS,
    SPLIT,
    Source,
    business_unit_of,
)
from .conversation import compact_memory, expand_memory, has_markers
from .memories import (
    agno_memory,
    agno_memory_dict,
    agno_memory_row,
    memory_id,
    parse_memory_literal,
    render_db_time,
)
from .sessions import agno_session, agno_session_rows, later_run, session_from_rows
from .user_sessions import IMPORT_KEY, pagbank_session, pagbank_session_row

__all__ = [
    "AGNO_JSON_COLUMNS",
    "DEFAULT_UNITS",
    "IDS",
    "IMPORT_KEY",
    "MAX_ID",
    "MAX_UNIT",
    "REFS",
    "SPLIT",
    "RejectedRow",
    "Source",
    "agno_memory",
    "agno_memory_dict",
    "agno_memory_row",
    "agno_session",
    "agno_session_rows",
    "business_unit_of",
    "compact_memory",
    "expand_memory",
    "has_markers",
    "later_run",
    "memory_id",
    "pagbank_session",
    "pagbank_session_row",
    "parse_memory_literal",
    "render_db_time",
    "session_from_rows",
]
