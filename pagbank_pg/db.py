"""`Database`: the named statements of `sql/queries`, run through a psycopg connection pool.

A call outside `transaction()` runs alone, in autocommit, as a prepared statement on a pooled
connection; inside, all calls share one connection and commit together. `db_async.py` is the
same with `await`.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import orjson
import psycopg
import psycopg_pool
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from .calls import QueryNamespace, fetches, query_error, shape
from .errors import ConfigurationError, ConnectionFailed, PoolTimeout, QueryError
from .queries import Queries, Query, load_queries
from .query_types import PackageQueries
from .settings import connection_failed, describe, error_line, pool_settings, resolve_dsn

STREAM_BATCH = 1000  # rows a streaming read fetches from the server at a time


def configure(conn: psycopg.Connection[Any]) -> None:
    """Set up a new pooled connection: JSON read with orjson."""
    set_json_loads(orjson.loads, conn)


def pool_arguments(
    dsn: str | None,
    min_size: int | None,
    max_size: int | None,
    timeout: float | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """What the sync and async pools are opened with: the resolved connection string, sizes
    and timeout (arguments, else environment, else defaults) and the connections' settings."""
    min_size, max_size, timeout = pool_settings(min_size, max_size, timeout)
    return {
        "conninfo": resolve_dsn(dsn),
        "min_size": min_size,
        "max_size": max_size,
        "timeout": timeout,
        "open": False,
        "kwargs": {"autocommit": True, "row_factory": dict_row},
        "name": "pagbank-pg",
        **options,
    }


def not_connected(conninfo: str, timeout: float) -> ConnectionFailed:
    """The error for a pool that could not open, with the server's own reason when it has one."""
    try:
        psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))).close()
        reason = f"no connection within {timeout:g}s"
    except psycopg.Error as error:
        reason = error_line(error)
    return connection_failed(conninfo, reason)


@contextmanager
def direct_connection(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    """One connection outside any pool, for bulk work (import, export, verify): dict rows, a
    clear error when the server cannot be reached or the schema is not migrated."""
    try:
        conn = psycopg.connect(conninfo, row_factory=dict_row)
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    with conn:
        query = load_queries()["table_exists"]
        for table in ("agent_sessions", "user_memories"):
            found = conn.execute(query.compiled.sql, query.bind({"table_name": table})).fetchone()
            if not (found and found["present"]):
                raise ConfigurationError(
                    f"{describe(conninfo)} has no table {table}; run: pagbank-pg migrate"
                )
        conn.commit()
        yield conn


def _execute(conn: psycopg.Connection[Any], query: Query, bound: dict[str, Any]) -> Any:
    try:
        cursor = conn.execute(query.compiled.sql, bound, prepare=True)
        rows = cursor.fetchall() if fetches(query) else None
    except psycopg.Error as error:
        raise query_error(query, error) from error
    return shape(query, rows, cursor.rowcount)


def _execute_many(
    conn: psycopg.Connection[Any], query: Query, rows: Iterable[Mapping[str, Any]]
) -> int:
    bound = [query.bind(row) for row in rows]
    try:
        with conn.cursor() as cursor:
            cursor.executemany(query.compiled.sql, bound)
            return cursor.rowcount
    except psycopg.Error as error:
        raise query_error(query, error) from error


class _PoolRunner:
    """Runs each call alone on a connection borrowed from the pool."""

    def __init__(self, pool: psycopg_pool.ConnectionPool[Any]) -> None:
        self.pool = pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout:
            raise PoolTimeout(
                f"no pooled connection became free within {self.pool.timeout:g}s "
                f"(max_size {self.pool.max_size}); raise the pool's max_size or timeout"
            ) from None

    def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        bound = query.bind(params)  # a bad call fails before a connection is borrowed
        with self.connection() as conn:
            return _execute(conn, query, bound)

    def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        with self.connection() as conn, conn.transaction():
            return _execute_many(conn, query, rows)

    def stream(self, query: Query, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        raise QueryError(
            f"query {query.where}: stream() reads through a server-side cursor and needs a "
            "transaction: with db.transaction() as tx: tx.queries."
            f"{query.name}.stream(...)"
        )


class _ConnectionRunner:
    """Runs calls on the one connection of a transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        return _execute(self.conn, query, query.bind(params))

    def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        return _execute_many(self.conn, query, rows)

    def stream(self, query: Query, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        bound = query.bind(params)
        try:
            with self.conn.cursor(name=f"stream_{query.name}") as cursor:
                cursor.itersize = STREAM_BATCH
                cursor.execute(query.compiled.sql, bound)
                yield from cursor
        except psycopg.Error as error:
            raise query_error(query, error) from error


class Transaction:
    """One connection, one transaction: `tx.queries.<name>(…)` calls share both."""

    def __init__(self, conn: psycopg.Connection[Any], queries: Queries) -> None:
        self.connection = conn
        self.queries = cast(PackageQueries, QueryNamespace(queries, _ConnectionRunner(conn)))


class Database:
    """Named statements over a psycopg `ConnectionPool` (`db.pool`)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool[Any], queries: Queries) -> None:
        self.pool = pool
        self._runner = _PoolRunner(pool)
        self._queries = queries
        self.queries = cast(PackageQueries, QueryNamespace(queries, self._runner))

    @classmethod
    def connect(
        cls,
        dsn: str | None = None,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float | None = None,
        queries: Queries | None = None,
        **pool_options: Any,
    ) -> "Database":
        """Open a pool on `dsn` (default: DATABASE_URL, else the embedded server) and wait for it.

        Pool sizes and the timeout (seconds, for opening and for borrowing a connection) come
        from the arguments, else PAGBANK_PG_POOL_MIN_SIZE / _MAX_SIZE / _TIMEOUT, else 1, 10, 30.
        """
        args = pool_arguments(dsn, min_size, max_size, timeout, pool_options)
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            **args, configure=configure, check=psycopg_pool.ConnectionPool.check_connection
        )
        try:
            pool.open(wait=True, timeout=args["timeout"])
        except psycopg_pool.PoolTimeout:
            pool.close()
            raise not_connected(args["conninfo"], args["timeout"]) from None
        return cls(pool, queries if queries is not None else load_queries())

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One connection and one transaction: committed on exit, rolled back on an exception."""
        with self._runner.connection() as conn, conn.transaction():
            yield Transaction(conn, self._queries)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
