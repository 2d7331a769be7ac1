# Generated from database_async.py by tools/async_to_sync.py: do not edit.
"""`Database`: the named statements of `sql/queries`, run through a psycopg connection pool.

A call outside `transaction()` runs alone, in autocommit, as a prepared statement on a pooled
connection; inside, all calls share one connection and commit together. With a `replica_dsn`,
a call of a statement that only reads (decided when it is loaded) is served by a read replica
that has replayed this database's latest write and does not lag; anything else, everything
inside `transaction()`, and a read no replica can serve at once, run on the primary.

The twins: `database_async.py` is written by hand, and `database.py` (`Database`) is generated
from it by `tools/async_to_sync.py`: the same code without `await`. What they share without
I/O is in `base.py`.
"""

from collections.abc import Generator, Iterator, Awaitable, Callable, Iterable, Mapping
from contextlib import contextmanager
from typing import Any, cast

import orjson
import psycopg
import psycopg_pool
from psycopg.types.json import set_json_loads

from ..config import (
    REPLICA_BORROW_TIMEOUT,
    STREAM_BATCH,
    max_lag_setting,
    prepare_setting,
    replica_url,
)
from ..conninfo import connection_failed, error_line, not_connected, resolve_dsn, to_conninfo
from ..errors import QueryError
from .base import (
    POOLER_CHECK,
    TOPOLOGY,
    UNSERVED,
    DatabaseBase,
    ReadRouting,
    TransactionBase,
    cursor_name,
    fetches,
    needs_transaction,
    pool_arguments,
    pool_timeout,
    prepare_threshold,
    shape,
    translated,
    turned_read_only,
)
from .loader import Queries, Query, load_queries
from .types import PackageQueries


def configurer(prepare: str) -> Callable[[psycopg.Connection[Any]], None]:
    """How a new pooled connection is set up: JSON read with orjson; prepared statements
    (`prepare`: auto, on, off) only where they are safe."""

    def configure(conn: psycopg.Connection[Any]) -> None:
        set_json_loads(orjson.loads, conn)
        found = (conn.execute(POOLER_CHECK, prepare=False)).fetchone()
        pid = found["pid"] if found else None
        conn.prepare_threshold = prepare_threshold(prepare, conn.info.backend_pid, pid)

    return configure


def _execute(conn: psycopg.Connection[Any], query: Query, bound: dict[str, Any]) -> Any:
    with translated(query):
        safe = conn.prepare_threshold is not None  # see configurer()
        cursor = conn.execute(query.compiled.sql, bound, prepare=safe)
        return shape(query, cursor.fetchall() if fetches(query) else None, cursor.rowcount)


def _execute_many(
    conn: psycopg.Connection[Any], query: Query, rows: list[dict[str, Any]]
) -> int:
    with translated(query):
        with conn.cursor() as cursor:
            cursor.executemany(query.compiled.sql, rows)
            return cursor.rowcount


class _PoolRunner:
    """Runs each call alone on a connection borrowed from the pool (a read: from the replica
    pool, when there is one and it can serve it)."""

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool[Any],
        replica: psycopg_pool.ConnectionPool[Any] | None = None,
        routing: ReadRouting | None = None,
    ) -> None:
        self.pool = pool
        self.replica = replica
        self.routing = routing

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                try:
                    yield conn
                except Exception as error:
                    if turned_read_only(error):
                        conn.close()  # the pool throws it away: the next is a new one
                    raise
        except psycopg_pool.PoolTimeout:
            raise pool_timeout(self.pool.timeout, self.pool.max_size) from None

    def wrote(self, conn: psycopg.Connection[Any]) -> None:
        """Note the WAL position after a write on `conn`: reads wait for replicas to reach it."""
        if self.routing is None:
            return
        try:
            position = _execute(conn, TOPOLOGY["wal_position"], {})
        except QueryError:  # the write itself is done: never fail it for this
            position = None
        self.routing.wrote(position)

    def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        bound = query.bind(params)  # a bad call fails before a connection is borrowed
        routing = self.routing
        if self.replica is not None and routing is not None and routing.runs_on_replica(query):
            served = self._on_replica(query, bound)
            if served is not UNSERVED:
                return served
        with self.connection() as conn:
            result = _execute(conn, query, bound)
            if routing is not None and routing.writes(query):
                self.wrote(conn)
            return result

    def _on_replica(self, query: Query, bound: dict[str, Any]) -> Any:
        """The result of a read on a replica, or UNSERVED: it lags, has not replayed this
        database's latest write, or cannot be reached (a fault there is not the caller's)."""
        assert self.replica is not None and self.routing is not None
        routing = self.routing
        if not routing.usable():
            routing.counts["primary: replica resting"] += 1
            return UNSERVED
        try:
            with self.replica.connection(timeout=REPLICA_BORROW_TIMEOUT) as conn:
                if routing.needs_check(conn):
                    routing.checked(conn, _execute(conn, TOPOLOGY["node_state"], {}))
                if not routing.serves(conn):
                    return UNSERVED
                return _execute(conn, query, bound)
        except psycopg_pool.PoolTimeout:
            routing.failed("unreachable")
        except QueryError as error:
            if error.sqlstate == "25006":  # read-only: it writes; the primary runs it instead
                routing.refused_write(query)
                return UNSERVED
            if not isinstance(error.original, psycopg.OperationalError):
                raise  # the statement's own error: the primary would raise it too
            routing.failed("failed")
        return UNSERVED

    def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        bound = [query.bind(row) for row in rows]
        with self.connection() as conn:
            with conn.transaction():
                count = _execute_many(conn, query, bound)
            self.wrote(conn)
            return count

    def stream(self, query: Query, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        raise needs_transaction(query, "with")

    def copy(self, query: Query, params: Mapping[str, Any], data: bytes) -> int:
        with self.connection() as conn:
            with conn.transaction():
                count = _ConnectionRunner(conn).copy(query, params, data)
            self.wrote(conn)
            return count


class _ConnectionRunner:
    """Runs calls on one connection (a transaction's, or any the caller holds)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.streams: list[Generator[dict[str, Any], None]] = []

    def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        return _execute(self.conn, query, query.bind(params))

    def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        return _execute_many(self.conn, query, [query.bind(row) for row in rows])

    def stream(self, query: Query, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        rows = self._stream(query, query.bind(params))
        self.streams.append(rows)  # closed with the transaction, on this connection
        return rows

    def close_streams(self) -> None:
        """Close the server-side cursors of streams left unfinished, before the transaction
        ends (an abandoned one would otherwise be closed later, on a connection in use)."""
        for rows in self.streams:
            rows.close()
        self.streams.clear()

    def _stream(
        self, query: Query, bound: dict[str, Any]
    ) -> Generator[dict[str, Any], None]:
        with translated(query):
            with self.conn.cursor(name=cursor_name(query)) as cursor:
                cursor.itersize = STREAM_BATCH
                cursor.execute(query.compiled.sql, bound)
                for row in cursor:
                    yield row

    def copy(self, query: Query, params: Mapping[str, Any], data: bytes) -> int:
        bound = query.bind(params)
        with translated(query):
            with self.conn.cursor() as cursor:
                with cursor.copy(query.compiled.sql, bound or None) as copy:
                    copy.write(data)
                return cursor.rowcount


class Transaction(TransactionBase):
    """One connection, one transaction: `tx.queries.<name>(…)` calls share both; also
    named statements on a connection held outside any pool: `Transaction(conn)`."""

    def __init__(self, conn: psycopg.Connection[Any], queries: Queries | None = None) -> None:
        chosen = queries if queries is not None else load_queries()
        super().__init__(conn, chosen, _ConnectionRunner(conn))
        self.queries = cast(PackageQueries, self._namespace)

    def close_streams(self) -> None:
        """Close the streams of this transaction left unfinished."""
        self._runner.close_streams()


class Database(DatabaseBase):
    """Named statements over a psycopg `ConnectionPool` (`db.pool`).

    `db = Database.open(dsn)` opens it and `with` closes it;
    `with Database.open(dsn) as db:` does both. `connect` is `open`.
    """

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool[Any],
        queries: Queries,
        replica: psycopg_pool.ConnectionPool[Any] | None = None,
        routing: ReadRouting | None = None,
    ) -> None:
        super().__init__(pool, queries, _PoolRunner(pool, replica, routing))
        self.pool: psycopg_pool.ConnectionPool[Any] = pool
        self.replica_pool = replica
        self.routing = routing
        self.queries = cast(PackageQueries, self._namespace)

    @classmethod
    def open(
        cls,
        dsn: str | None = None,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float | None = None,
        queries: Queries | None = None,
        prepare: str | None = None,
        replica_dsn: str | None = None,
        replica_max_lag: float | None = None,
        **pool_options: Any,
    ) -> "Database":
        """Open a pool on `dsn` (default: DATABASE_URL, else the embedded server) and wait for it.

        Pool sizes and the timeout (seconds, for opening and for borrowing a connection) come
        from the arguments, else PAGBANK_PG_POOL_MIN_SIZE / _MAX_SIZE / _TIMEOUT, else 1, 10, 30.
        `prepare` (else PAGBANK_PG_PREPARE, else "auto"): "auto" prepares statements on
        direct connections and never through a pooler such as PgBouncer; "on", "off".
        `replica_dsn` (else DATABASE_REPLICA_URL; "" for none): read replicas, one or a libpq
        multi-host URL; a second pool of the same size, opened without waiting (a replica
        that is down only sends reads to the primary). `replica_max_lag` (else
        PAGBANK_PG_REPLICA_MAX_LAG, else 5): seconds of lag a replica read accepts.
        """
        args = pool_arguments(resolve_dsn(dsn), min_size, max_size, timeout, pool_options)
        args["configure"] = configurer(prepare_setting(prepare))
        replica = replica_url(replica_dsn)
        replica = to_conninfo(replica) if replica else None  # the forms DATABASE_URL takes
        replica_args = {**args, "conninfo": replica, "name": "pagbank-pg-replica"}
        routing = ReadRouting(max_lag_setting(replica_max_lag)) if replica else None
        chosen = queries if queries is not None else load_queries()
        opening = cls._open(args, chosen, replica_args if routing else None, routing)
        return opening

    connect = open

    @classmethod
    def _open(
        cls,
        args: dict[str, Any],
        queries: Queries,
        replica_args: dict[str, Any] | None,
        routing: ReadRouting | None,
    ) -> "Database":
        # One attempt first: a refused login, a missing database or a server that is not
        # there fails at once, with the server's reason, not after the pool's timeout.
        try:
            probe = psycopg.Connection.connect(args["conninfo"])
        except psycopg.OperationalError as error:
            raise connection_failed(args["conninfo"], error_line(error)) from None
        probe.close()
        check = psycopg_pool.ConnectionPool.check_connection
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            **args, check=check
        )
        try:
            pool.open(wait=True, timeout=args["timeout"])
        except psycopg_pool.PoolTimeout:
            pool.close()
            raise not_connected(args["conninfo"], args["timeout"]) from None
        replica = None
        if replica_args is not None:
            replica = psycopg_pool.ConnectionPool(**replica_args, check=check)
            replica.open(wait=False)
        return cls(pool, queries, replica, routing)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One connection and one transaction: committed on exit, rolled back on an exception;
        streams left unfinished are closed first."""
        with self._runner.connection() as conn:
            with conn.transaction():
                tx = Transaction(conn, self._queries)
                try:
                    yield tx
                finally:
                    tx.close_streams()
            self._runner.wrote(conn)

    def close(self) -> None:
        if self.replica_pool is not None:
            self.replica_pool.close()
        self.pool.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
