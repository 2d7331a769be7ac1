"""Where the database is: `--dsn` > `DATABASE_URL` > the embedded server.

Accepted forms: libpq URLs (`postgresql://…`, `postgres://…`), SQLAlchemy-style URLs
(`postgresql+psycopg://…`, as in the migration plan) and libpq `key=value` strings.
"""

import os
import re

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import ConfigurationError, ConnectionFailed

DATABASE_URL_ENV = "DATABASE_URL"
SESSION_TIMEOUT_MINUTES = 120  # PagBank's session manager: idle sessions expire after this

# `postgresql+psycopg://`, `postgres+psycopg2://`…: SQLAlchemy names a driver after a `+`.
_SQLALCHEMY_SCHEME = re.compile(r"^(postgres(?:ql)?)\+\w+://", re.IGNORECASE)
# The password of a URL (`//user:secret@`) or of a key=value string (`password=secret`).
_URL_PASSWORD = re.compile(r"(//[^:/?#@\s]*:)[^@/?#\s]*(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every password of a URL or key=value string in it replaced by `***`."""
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\2", text))


def error_line(error: BaseException) -> str:
    """The message of `error` on one line, its passwords redacted."""
    return redact(" ".join(str(error).split()))


def to_conninfo(dsn: str) -> str:
    """A libpq connection string for any accepted form of `dsn`; raise ConfigurationError."""
    libpq = _SQLALCHEMY_SCHEME.sub(r"\1://", dsn.strip())
    try:
        return make_conninfo(libpq)
    except psycopg.ProgrammingError as error:
        raise ConfigurationError(
            f"invalid database URL {redact(dsn)!r}: {error_line(error)}; "
            "expected postgresql://user:password@host:port/dbname or key=value pairs"
        ) from None


def describe(conninfo: str) -> str:
    """`user@host:port/dbname` of a connection string, for messages (never the password)."""
    params = conninfo_to_dict(conninfo)
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = params.get("port") or "5432"
    user = params.get("user") or os.environ.get("PGUSER") or "(default user)"
    dbname = params.get("dbname") or "(default database)"
    return f"{user}@{host}:{port}/{dbname}"


def connection_failed(conninfo: str, reason: str) -> ConnectionFailed:
    """The error for a server that could not be reached or refused the login."""
    return ConnectionFailed(
        f"could not connect to {describe(conninfo)}: {reason}; "
        "check that the server runs and that --dsn or DATABASE_URL names it"
    )


def resolve_dsn(dsn: str | None = None) -> str:
    """The connection string to use: `dsn`, else `DATABASE_URL`, else the embedded server's."""
    chosen = dsn or os.environ.get(DATABASE_URL_ENV)
    if chosen:
        return to_conninfo(chosen)
    from . import embedded

    return embedded.ensure_running()


POOL_MIN_SIZE_ENV = "PAGBANK_PG_POOL_MIN_SIZE"
POOL_MAX_SIZE_ENV = "PAGBANK_PG_POOL_MAX_SIZE"
POOL_TIMEOUT_ENV = "PAGBANK_PG_POOL_TIMEOUT"


def pool_settings(
    min_size: int | None, max_size: int | None, timeout: float | None
) -> tuple[int, int, float]:
    """(min_size, max_size, timeout): the arguments given, else the environment, else 1, 10, 30."""
    env = os.environ
    try:
        chosen_min = min_size if min_size is not None else int(env.get(POOL_MIN_SIZE_ENV, 1))
        chosen_max = max_size if max_size is not None else int(env.get(POOL_MAX_SIZE_ENV, 10))
        chosen_timeout = timeout if timeout is not None else float(env.get(POOL_TIMEOUT_ENV, 30))
    except ValueError as error:
        raise ConfigurationError(f"invalid pool setting in the environment: {error}") from None
    return chosen_min, max(chosen_max, chosen_min), chosen_timeout
