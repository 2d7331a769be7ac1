"""pagbank-pg: the PostgreSQL data layer of PagBank's multi-agent assistant."""

from .conninfo import resolve_dsn
from .errors import (
    ConfigurationError,
    ConnectionFailed,
    EmbeddedServerError,
    ExportError,
    InvalidRecord,
    MigrationError,
    MigrationLockTimeout,
    PagbankPgError,
    PoolTimeout,
    QueryArgumentError,
    QueryError,
    QueryLoadError,
    RejectedRow,
    SourceError,
)
from .query import (
    AsyncDatabase,
    AsyncTransaction,
    Database,
    Queries,
    Query,
    Transaction,
    load_queries,
)

__all__ = [
    "AsyncDatabase",
    "AsyncTransaction",
    "ConfigurationError",
    "ConnectionFailed",
    "Database",
    "EmbeddedServerError",
    "ExportError",
    "InvalidRecord",
    "MigrationError",
    "MigrationLockTimeout",
    "PagbankPgError",
    "PoolTimeout",
    "Queries",
    "Query",
    "QueryArgumentError",
    "QueryError",
    "QueryLoadError",
    "RejectedRow",
    "SourceError",
    "Transaction",
    "load_queries",
    "resolve_dsn",
]
