"""The one connection of bulk work (import, export, verify), outside any pool."""

import warnings
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from ..conninfo import connection_failed, describe, error_line
from ..errors import ConfigurationError
from .base import pooler_check
from .types import SchemaQueries, schema_queries


def behind_a_pooler(conn: psycopg.Connection[Any]) -> bool:
    """Whether a pooler (PgBouncer) stands between `conn` and the server: the pid it was given
    at login is not its server's (a pooler hands out its own)."""
    found = conn.cursor(row_factory=tuple_row).execute(pooler_check()).fetchone()
    conn.rollback()
    return bool(found is None or conn.info.backend_pid != found[0])


def require_tables(queries: SchemaQueries, where: str, *tables: str) -> None:
    """Raise ConfigurationError naming `where` unless every table exists (a migrated schema)."""
    for table in tables:
        if not queries.table_exists(table_name=table):
            raise ConfigurationError(f"{where} has no table {table}; run: pagbank-pg migrate")


def connect_direct(conninfo: str) -> psycopg.Connection[Any]:
    """One connection outside any pool, for bulk work (import, export, verify): dict rows, a
    clear error when the server cannot be reached or the schema is not migrated. `with`
    closes it (committed, or rolled back on an exception), as any psycopg connection."""
    try:
        conn = psycopg.connect(conninfo, row_factory=dict_row, application_name="pagbank-pg")
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    try:
        require_tables(schema_queries(conn), describe(conninfo), "agent_sessions", "user_memories")
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def direct_connection(conninfo: str) -> psycopg.Connection[Any]:
    """Deprecated: `connect_direct` (a DeprecationWarning), which `with` closes too."""
    warnings.warn(
        "direct_connection() is deprecated; use connect_direct(), which `with` closes",
        DeprecationWarning,
        stacklevel=2,
    )
    return connect_direct(conninfo)
