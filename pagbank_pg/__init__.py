"""pagbank-pg: the PostgreSQL data layer of PagBank's multi-agent assistant."""

from .errors import (
    ConfigurationError,
    ConnectionFailed,
    EmbeddedServerError,
    MigrationError,
    MigrationLockTimeout,
    PagbankPgError,
)
from .settings import resolve_dsn

__all__ = [
    "ConfigurationError",
    "ConnectionFailed",
    "EmbeddedServerError",
    "MigrationError",
    "MigrationLockTimeout",
    "PagbankPgError",
    "resolve_dsn",
]
