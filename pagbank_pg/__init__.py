"""pagbank-pg: the PostgreSQL data layer of PagBank's multi-agent assistant."""

from .db import Database, Transaction
from .db_async import AsyncDatabase, AsyncTransaction
from .errors import (
    ConfigurationError,
    ConnectionFailed,
    EmbeddedServerError,
    MigrationError,
    MigrationLockTimeout,
    PagbankPgError,
    PoolTimeout,
    QueryArgumentError,
    QueryError,
    QueryLoadError,
)
from .queries import Queries, Query, load_queries
from .settings import resolve_dsn

__all__ = [
    "AsyncDatabase",
    "AsyncTransaction",
    "ConfigurationError",
    "ConnectionFailed",
    "Database",
    "EmbeddedServerError",
    "MigrationError",
    "MigrationLockTimeout",
    "PagbankPgError",
    "PoolTimeout",
    "Queries",
    "Query",
    "QueryArgumentError",
    "QueryError",
    "QueryLoadError",
    "Transaction",
    "load_queries",
    "resolve_dsn",
]
