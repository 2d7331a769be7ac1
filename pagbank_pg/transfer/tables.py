"""Each table's columns, declared once: the six target tables as the importer writes them, and
Agno's and PagBank's SQLite tables as the exporter writes them and the importer recognises
them. The statements that list columns are checked against this at load (`check_copy`)."""

import re
from dataclasses import dataclass
from typing import Any

from ..errors import QueryLoadError


@dataclass(frozen=True)
class Target:
    """A table of the plan as the importer writes it: its columns (in COPY order) and types."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]


TARGETS: dict[str, Target] = {
    "agent": Target(
        "agent_sessions",
        ("id", "session_id", "agent_id", "agent_name", "user_id", "business_unit",
         "created_at", "updated_at", "messages", "agent_session_state", "metadata"),
        ("uuid", "text", "text", "text", "text", "text", "timestamptz", "timestamptz",
         "jsonb", "jsonb", "jsonb"),
    ),
    "team": Target(
        "team_sessions",
        ("id", "session_id", "team_id", "team_name", "user_id", "created_at", "updated_at",
         "messages", "team_session_state", "metadata"),
        ("uuid", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb",
         "jsonb", "jsonb"),
    ),
    "memory": Target(
        "user_memories",
        ("id", "user_id", "memory", "created_at", "updated_at", "metadata", "memory_tags",
         "business_units", "importance_score"),
        ("uuid", "text", "text", "timestamptz", "timestamptz", "jsonb", "text[]", "text[]",
         "float8"),
    ),
    "sessions": Target(
        "user_sessions",
        ("session_id", "user_id", "team_id", "created_at", "last_activity",
         "interaction_count", "session_context", "is_active", "metadata"),
        ("text", "text", "text", "timestamptz", "timestamptz", "int4", "jsonb", "bool",
         "jsonb"),
    ),
}  # fmt: skip

# The columns of the SQLite tables Agno 1.7 (SqliteStorage, SqliteMemoryDb) and PagBank's
# session manager create, in their order, and those an older or leaner table may lack.
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "agent": ("session_id", "user_id", "memory", "session_data", "extra_data", "created_at",
              "updated_at", "agent_id", "agent_data", "team_session_id"),
    "team": ("session_id", "user_id", "memory", "session_data", "extra_data", "created_at",
             "updated_at", "agent_id", "agent_data", "team_session_id", "team_id", "team_data"),
    "memory": ("id", "user_id", "memory", "created_at", "updated_at"),
    "sessions": ("session_id", "user_id", "team_id", "created_at", "last_activity",
                 "interaction_count", "session_context", "is_active", "metadata"),
}  # fmt: skip
OPTIONAL_COLUMNS: dict[str, frozenset[str]] = {
    "agent": frozenset({"extra_data", "team_session_id"}),
    "team": frozenset({"extra_data", "team_session_id", "agent_id", "agent_data"}),
    "memory": frozenset(),
    "sessions": frozenset(),
}


def required_columns(kind: str) -> frozenset[str]:
    """The columns that make a SQLite table one of `kind` (it may have more)."""
    return frozenset(SOURCE_COLUMNS[kind]) - OPTIONAL_COLUMNS[kind]


# `COPY table (a, b, …) FROM STDIN`: the column list of a copy statement.
_COPY_COLUMNS = re.compile(r"^\s*COPY\s+\w+\s*\((?P<columns>[^)]*)\)\s+FROM\s+STDIN", re.I)


def check_copy(query: Any, target: Target) -> None:
    """Check that a `:copy` statement (a `Query`, or a bound one) copies exactly `target`'s
    columns in their order."""
    found = _COPY_COLUMNS.match(query.sql)
    columns = tuple(c.strip() for c in found["columns"].split(",")) if found else ()
    if columns != target.columns:
        raise QueryLoadError(
            f"{query.file}:{query.line}: query {query.name} copies ({', '.join(columns)}), "
            f"but {target.table} is declared with ({', '.join(target.columns)}) "
            "in pagbank_pg/transfer/tables.py"
        )
