"""Connection strings: where the database is, `--dsn` > `DATABASE_URL` > the embedded server.

Accepted forms: libpq URLs (`postgresql://…`, `postgres://…`), SQLAlchemy-style URLs
(`postgresql+psycopg://…`, as in the migration plan) and libpq `key=value` strings.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import config
from .errors import ConfigurationError, ConnectionFailed

# `postgresql+psycopg://`, `postgres+psycopg2://`…: SQLAlchemy names a driver after a `+`.
_SQLALCHEMY_SCHEME = re.compile(r"^(postgres(?:ql)?)\+\w+://", re.IGNORECASE)
# The password of a URL (`//user:secret@`, up to the last `@` of the URL: a password may hold
# `#`, `/`, `?` or `@`) or of a key=value string (`password=secret`).
_URL_PASSWORD = re.compile(r"(//[^:/?#@\s]*:)(\S*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with every password of a URL or key=value string in it, and each of `secrets`
    wherever it stands, replaced by `***`."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\3", text))


def passwords_in(dsn: str) -> tuple[str, ...]:
    """The passwords a connection string spells (as written, and percent-decoded): what an
    error about it must not repeat, even quoted in pieces by libpq."""
    found = [m[2] for m in _URL_PASSWORD.finditer(dsn)] + [
        m[2].strip("'") for m in _KV_PASSWORD.finditer(dsn)
    ]
    found += [unquote(p) for p in found]
    return tuple(p for p in set(found) if p)


def error_line(error: BaseException) -> str:
    """The message of `error` on one line, its passwords redacted."""
    return redact(" ".join(str(error).split()))


def to_conninfo(dsn: str) -> str:
    """A libpq connection string for any accepted form of `dsn`; raise ConfigurationError."""
    libpq = _SQLALCHEMY_SCHEME.sub(r"\1://", dsn.strip())
    try:
        conninfo = make_conninfo(libpq)
        if "connect_timeout" in conninfo_to_dict(conninfo):
            return conninfo
        return make_conninfo(conninfo, connect_timeout=config.connect_timeout())
    except psycopg.ProgrammingError as error:
        secrets = passwords_in(dsn)
        reason = redact(" ".join(str(error).split()), secrets)
        raise ConfigurationError(
            f"invalid database URL {redact(dsn, secrets)!r}: {reason}; "
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
    if "timeout expired" in reason:
        waited = conninfo_to_dict(conninfo).get("connect_timeout") or "?"
        return ConnectionFailed(
            f"could not connect to {describe(conninfo)}: no answer within {waited} s "
            f"(connect_timeout; {config.CONNECT_TIMEOUT_ENV} sets it); check that the server "
            "runs and that --dsn or DATABASE_URL names it"
        )
    return ConnectionFailed(
        f"could not connect to {describe(conninfo)}: {reason}; "
        "check that the server runs and that --dsn or DATABASE_URL names it"
    )


def not_connected(conninfo: str, timeout: float) -> ConnectionFailed:
    """The error for a pool that could not open, with the server's own reason when it has one."""
    try:
        psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))).close()
        reason = f"no connection within {timeout:g}s"
    except psycopg.Error as error:
        reason = error_line(error)
    return connection_failed(conninfo, reason)


def resolve_dsn(dsn: str | None = None, on_start: Callable[[Path], None] | None = None) -> str:
    """The connection string to use: `dsn`, else `DATABASE_URL`, else the embedded server's
    (started when it is not running: then `on_start(its data folder)`)."""
    chosen = dsn or config.database_url()
    if chosen:
        return to_conninfo(chosen)
    from .schema import embedded  # the default server, started on demand (extra `embedded`)

    return to_conninfo(embedded.ensure_running(on_start=on_start))
