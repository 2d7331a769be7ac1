"""Apply, roll back and inspect the yoyo migrations in `sql/migrations`.

yoyo itself serialises runs with a row in `yoyo_lock` that it waits 10 seconds for, and that a
killed process leaves behind. Here the lock is a PostgreSQL advisory lock instead: processes
started together (app replicas) queue for as long as a migration takes, and the server frees
the lock the moment its holder dies. The `yoyo_lock` row is still written, with the negated
server pid, so that a plain `yoyo apply` run by a DBA waits for us and we wait for it.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import DatabaseURI
from yoyo.exceptions import LockTimeout

from ..config import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV, MIGRATIONS_DIR, lock_timeout
from ..conninfo import connection_failed, describe, error_line
from ..errors import MigrationError, MigrationLockTimeout
from ..query.connection import behind_a_pooler
from ..query.types import schema_queries

_ADVISORY_LOCK_KEY = 0x7061_6762_616E_6B00  # "pagbank\0": one key for all our migrators
_POLL_SECONDS = 0.2
_MIGRATION_TABLE = "_yoyo_migration"  # yoyo's default, so plain yoyo sees the same history


@dataclass(frozen=True)
class MigrationState:
    """One migration of the folder and when it was applied (None: pending)."""

    id: str
    applied_at: datetime | None


class _Backend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's psycopg 3 backend with a lock that survives crashes and long migrations."""

    lock_wait = DEFAULT_LOCK_TIMEOUT
    _is_locked = False

    def init_connection(self, connection: Any) -> None:
        super().init_connection(connection)
        # A killed client is noticed within a second even while its statement runs, so its
        # transaction and locks go at once instead of when the statement ends.
        connection.execute("SET client_connection_check_interval = 1000")

    def _take_advisory_lock(self) -> None:
        # Polled rather than waited for: a session blocked in pg_advisory_lock() holds a
        # snapshot, and CREATE INDEX CONCURRENTLY in the holder would wait for it forever.
        deadline = time.monotonic() + self.lock_wait
        take = "SELECT pg_try_advisory_lock(:key)"
        while not self.execute(take, {"key": _ADVISORY_LOCK_KEY}).fetchone()[0]:
            if time.monotonic() > deadline:
                raise MigrationLockTimeout(
                    f"another pagbank-pg migrate or rollback held the migration lock for over "
                    f"{self.lock_wait:g}s; wait for it to finish, or raise {LOCK_TIMEOUT_ENV}"
                )
            time.sleep(_POLL_SECONDS)

    @contextmanager
    def lock(self, timeout: float = 10) -> Iterator[None]:
        if self._is_locked:
            yield
            return
        self._take_advisory_lock()
        try:
            # Only our runs write negative pids, and they hold the advisory lock while their
            # row exists: a row seen now was left by a run that died.
            self.execute(f"DELETE FROM {self.lock_table_quoted} WHERE pid < 0")
            pid = -int(self.execute("SELECT pg_backend_pid()").fetchone()[0])
            try:
                self._insert_lock_row(pid, self.lock_wait)
            except LockTimeout:
                raise MigrationLockTimeout(
                    "a plain yoyo run holds the yoyo_lock row; wait for it, or if it died "
                    "run `yoyo break-lock`"
                ) from None
            self._is_locked = True
            try:
                yield
            finally:
                self._is_locked = False
                self._delete_lock_row(pid)
        finally:
            self.execute("SELECT pg_advisory_unlock(:key)", {"key": _ADVISORY_LOCK_KEY})


def _refuse_a_pooler(conninfo: str) -> None:
    """Migrations hold a session advisory lock, which a transaction pooler does not keep:
    stop at once through one, rather than let two appliers run together."""
    try:
        with psycopg.connect(conninfo) as conn:
            pooled = behind_a_pooler(conn)
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    if pooled:
        raise MigrationError(
            f"{describe(conninfo)} is reached through a connection pooler (PgBouncer?), which "
            "does not keep the migration lock; migrate and roll back with a direct URL to the "
            "server"
        )


def _connect(conninfo: str, lock_wait: float | None) -> _Backend:
    params = conninfo_to_dict(conninfo)
    database = params.pop("dbname", None)
    uri = DatabaseURI("postgresql+psycopg", None, None, None, None, database, params)
    try:
        backend = _Backend(uri, _MIGRATION_TABLE)
        backend.lock_wait = lock_timeout(lock_wait)
        backend.init_database()
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    return backend


@contextmanager
def _session(conninfo: str, lock_wait: float | None = None) -> Iterator[_Backend]:
    backend = _connect(conninfo, lock_wait)
    try:
        yield backend
    finally:
        backend.connection.close()


def _read(migrations_dir: Path | None) -> Any:
    folder = Path(migrations_dir or MIGRATIONS_DIR)
    if not folder.is_dir() or not any(folder.glob("*.sql")):
        raise MigrationError(f"no migrations found in {folder}; pass the folder of the .sql files")
    return read_migrations(str(folder))


def _applied_at(backend: _Backend) -> dict[str, datetime]:
    backend.ensure_internal_schema_updated()
    rows = backend.execute(
        f"SELECT migration_id, applied_at_utc FROM {backend.migration_table_quoted}"
    ).fetchall()
    return {mid: when.replace(tzinfo=UTC) for mid, when in rows}


def status(conninfo: str, migrations_dir: Path | None = None) -> list[MigrationState]:
    """Each migration of the folder, in apply order, with when it was applied."""
    migrations = _read(migrations_dir)
    with _session(conninfo) as backend:
        applied = _applied_at(backend)
    return [MigrationState(m.id, applied.get(m.id)) for m in migrations]


def deferred_indexes(conninfo: str, *, restore: bool = False) -> list[str]:
    """The secondary indexes an import deferred (import_deferred_indexes): their names;
    `restore`: built first, in one transaction (then the names built), unless an import is
    running (`import_running`: they are its own)."""
    try:
        with psycopg.connect(conninfo, row_factory=dict_row) as conn:
            checks = schema_queries(conn)
            if not checks.table_exists(table_name="import_deferred_indexes"):
                return []
            if restore:
                return [r["index_name"] for r in checks.restore_indexes(table_name=None)]
            return [r["index_name"] for r in checks.deferred_indexes()]
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None


def import_running(conninfo: str) -> bool:
    """Whether an import-sqlite is writing to this database now (it holds the import's lock:
    the indexes it deferred are its own, built when it ends)."""
    try:
        with psycopg.connect(conninfo, row_factory=dict_row) as conn:
            return bool(schema_queries(conn).import_running())
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None


def _run(backend: _Backend, migration: Any, direction: str) -> None:
    step = backend.apply_one if direction == "apply" else backend.rollback_one
    try:
        step(migration)
    except psycopg.Error as error:
        raise MigrationError(
            f"{direction} of migration {migration.id} failed: {error_line(error)}; "
            "its transaction was rolled back (a non-transactional one is undone step by step), "
            "fix the cause and run the command again"
        ) from error


def apply(
    conninfo: str,
    migrations_dir: Path | None = None,
    *,
    lock_wait: float | None = None,
    on_applied: Callable[[str], None] = lambda _id: None,
) -> list[str]:
    """Apply every pending migration, in order; return their ids."""
    migrations = _read(migrations_dir)
    _refuse_a_pooler(conninfo)
    with _session(conninfo, lock_wait) as backend, backend.lock():
        done = []
        for migration in backend.to_apply(migrations):
            _run(backend, migration, "apply")
            on_applied(migration.id)
            done.append(migration.id)
    return done


def rollback(
    conninfo: str,
    migrations_dir: Path | None = None,
    *,
    to: str | None = None,
    everything: bool = False,
    lock_wait: float | None = None,
    on_rolled_back: Callable[[str], None] = lambda _id: None,
) -> list[str]:
    """Roll back the last applied migration, those applied after `to`, or `everything`."""
    migrations = _read(migrations_dir)
    known = [m.id for m in migrations]
    if to is not None and to not in known:
        raise MigrationError(f"unknown migration {to!r}; known: {', '.join(known)}")
    _refuse_a_pooler(conninfo)
    with _session(conninfo, lock_wait) as backend, backend.lock():
        applied = list(backend.to_rollback(migrations))  # newest first
        applied_ids = [m.id for m in applied]
        if to is not None:
            if to not in applied_ids:
                raise MigrationError(f"migration {to} is not applied; nothing to roll back to")
            chosen = applied[: applied_ids.index(to)]
        else:
            chosen = applied if everything else applied[:1]
        for migration in chosen:
            _run(backend, migration, "rollback")
            on_rolled_back(migration.id)
    return [m.id for m in chosen]


def schema_sql(migrations_dir: Path | None = None) -> str:
    """The DDL of every migration, in apply order, ready for review or `psql -f`."""
    parts = []
    for migration in _read(migrations_dir):
        text = Path(migration.path).read_text(encoding="utf-8").strip()
        parts.append(f"-- ===== migration {migration.id} =====\n{text}\n")
    return "\n".join(parts)
