"""`AsyncDatabase`: `db.py`'s twin over psycopg's `AsyncConnectionPool`; the same names, awaited."""

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
import psycopg
import psycopg_pool
from psycopg.types.json import set_json_loads

from .calls import QueryNamespace, fetches, query_error, shape
from .db import STREAM_BATCH, not_connected, pool_arguments
from .errors import PoolTimeout, QueryError
from .queries import Queries, Query, load_queries
from .query_types import AsyncPackageQueries


async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
    """Set up a new pooled connection: JSON read with orjson."""
    set_json_loads(orjson.loads, conn)


async def _execute(conn: psycopg.AsyncConnection[Any], query: Query, bound: dict[str, Any]) -> Any:
    try:
        cursor = await conn.execute(query.compiled.sql, bound, prepare=True)
        rows = await cursor.fetchall() if fetches(query) else None
    except psycopg.Error as error:
        raise query_error(query, error) from error
    return shape(query, rows, cursor.rowcount)


async def _execute_many(
    conn: psycopg.AsyncConnection[Any], query: Query, rows: Iterable[Mapping[str, Any]]
) -> int:
    bound = [query.bind(row) for row in rows]
    try:
        async with conn.cursor() as cursor:
            await cursor.executemany(query.compiled.sql, bound)
            return cursor.rowcount
    except psycopg.Error as error:
        raise query_error(query, error) from error


class _PoolRunner:
    """Runs each call alone on a connection borrowed from the pool."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout:
            raise PoolTimeout(
                f"no pooled connection became free within {self.pool.timeout:g}s "
                f"(max_size {self.pool.max_size}); raise the pool's max_size or timeout"
            ) from None

    async def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        bound = query.bind(params)  # a bad call fails before a connection is borrowed
        async with self.connection() as conn:
            return await _execute(conn, query, bound)

    async def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        async with self.connection() as conn, conn.transaction():
            return await _execute_many(conn, query, rows)

    def stream(self, query: Query, params: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        raise QueryError(
            f"query {query.where}: stream() reads through a server-side cursor and needs a "
            "transaction: async with db.transaction() as tx: tx.queries."
            f"{query.name}.stream(...)"
        )


class _ConnectionRunner:
    """Runs calls on the one connection of a transaction."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def run(self, query: Query, params: Mapping[str, Any]) -> Any:
        return await _execute(self.conn, query, query.bind(params))

    async def run_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        return await _execute_many(self.conn, query, rows)

    async def stream(
        self, query: Query, params: Mapping[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        bound = query.bind(params)
        try:
            async with self.conn.cursor(name=f"stream_{query.name}") as cursor:
                cursor.itersize = STREAM_BATCH
                await cursor.execute(query.compiled.sql, bound)
                async for row in cursor:
                    yield row
        except psycopg.Error as error:
            raise query_error(query, error) from error


class AsyncTransaction:
    """One connection, one transaction: `await tx.queries.<name>(…)` calls share both."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], queries: Queries) -> None:
        self.connection = conn
        self.queries = cast(AsyncPackageQueries, QueryNamespace(queries, _ConnectionRunner(conn)))


class AsyncDatabase:
    """Named statements over a psycopg `AsyncConnectionPool` (`db.pool`)."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], queries: Queries) -> None:
        self.pool = pool
        self._runner = _PoolRunner(pool)
        self._queries = queries
        self.queries = cast(AsyncPackageQueries, QueryNamespace(queries, self._runner))

    @classmethod
    async def open(
        cls,
        dsn: str | None = None,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float | None = None,
        queries: Queries | None = None,
        **pool_options: Any,
    ) -> "AsyncDatabase":
        """Open a pool as `Database.connect` does and wait for it (`AsyncDatabase.connect`
        is the same as an `async with` context manager)."""
        args = pool_arguments(dsn, min_size, max_size, timeout, pool_options)
        pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
            **args, configure=configure, check=psycopg_pool.AsyncConnectionPool.check_connection
        )
        try:
            await pool.open(wait=True, timeout=args["timeout"])
        except psycopg_pool.PoolTimeout:
            await pool.close()
            raise not_connected(args["conninfo"], args["timeout"]) from None
        return cls(pool, queries if queries is not None else load_queries())

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, dsn: str | None = None, **options: Any
    ) -> AsyncIterator["AsyncDatabase"]:
        """`async with AsyncDatabase.connect(dsn) as db:` opens the pool and closes it on exit."""
        db = await cls.open(dsn, **options)
        try:
            yield db
        finally:
            await db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncTransaction]:
        """One connection and one transaction: committed on exit, rolled back on an exception."""
        async with self._runner.connection() as conn, conn.transaction():
            yield AsyncTransaction(conn, self._queries)

    async def close(self) -> None:
        await self.pool.close()
