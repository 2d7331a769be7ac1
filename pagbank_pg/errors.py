"""The errors this package raises: one hierarchy under `PagbankPgError`.

Messages say what happened, to which object, and what to do. They never carry a password.
`PoolTimeout` and `ConnectionFailed` also derive from psycopg's own classes, so `except`
clauses written for psycopg keep working.
"""

import psycopg
import psycopg_pool


class PagbankPgError(Exception):
    """Base class of every error raised by pagbank_pg."""


class ConfigurationError(PagbankPgError):
    """No usable database location: a malformed URL, or neither a URL nor the embedded server."""


class ConnectionFailed(PagbankPgError, psycopg.OperationalError):
    """The database server could not be reached, or refused the login."""


class EmbeddedServerError(PagbankPgError):
    """The embedded PostgreSQL server could not be started, stopped or read."""


class MigrationError(PagbankPgError):
    """A migration could not be found, applied or rolled back."""


class MigrationLockTimeout(MigrationError):
    """Another process held the migration lock for longer than the wait allowed."""


class QueryLoadError(PagbankPgError):
    """A file of named statements is malformed; the message names its file:line."""


class QueryArgumentError(PagbankPgError, TypeError):
    """A named query was called with a missing or unknown parameter; nothing was sent."""


class QueryError(PagbankPgError):
    """The database raised an error inside a named query; the message leaves row values out."""

    def __init__(
        self,
        message: str,
        sqlstate: str | None = None,
        *,
        query: str | None = None,
        constraint: str | None = None,
        table: str | None = None,
        original: psycopg.Error | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.query = query
        self.constraint = constraint
        self.table = table
        # psycopg's error, whose text may quote a row's values (its DETAIL): kept for a caller
        # who asks for it, never chained, so that a logged traceback does not print it.
        self.original = original


class PoolTimeout(PagbankPgError, psycopg_pool.PoolTimeout):
    """No pooled connection became free within the pool's timeout."""


class SourceError(PagbankPgError):
    """A SQLite file or table cannot be read: not SQLite, missing, or lacking columns."""


class RejectedRow(PagbankPgError, ValueError):
    """A source row that cannot be mapped; the message says why (it goes to the reject file)."""


class ExportError(PagbankPgError):
    """The export could not be written; nothing was left in the output folder."""


class InvalidRecord(PagbankPgError, ValueError):
    """A session or memory handed to the Agno storage cannot be stored; the message says why."""


class SessionOwnershipError(PagbankPgError):
    """A session id (or an Agno 2/3 memory id) already belongs to another user: nothing was
    written, nothing of the other user's was read; the caller should start a new id."""


class PrivateFileError(PagbankPgError):
    """A file or folder for customer data cannot be written safely (a link at its path, or no
    permission); nothing was written through it."""


class ImportRunning(PagbankPgError):
    """Another import into the same database is running; this one did nothing."""


class ImportInterrupted(PagbankPgError):
    """An import stopped on a fault of the server, the network or a worker process, not of a
    row: what was committed stays, nothing was rejected for it, and running the same command
    again resumes it."""


class NothingToErase(PagbankPgError):
    """forget-user found no row of the user id: nothing was erased, and nothing recorded."""


class ErasureIncomplete(PagbankPgError):
    """An erasure stopped before it deleted the rows; running it again finishes it."""
