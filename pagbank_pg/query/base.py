"""What the sync and async databases share: binding a query to a runner, shaping results,
naming the query in errors, the pool's arguments. Pure: no I/O here; `database.py` and
`database_async.py` add only the calls that do I/O, the same names, one with `await`.
"""

import inspect
import itertools
import logging
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.rows import dict_row

from ..config import REPLICA_CHECK_SECONDS, REPLICA_RETRY_SECONDS, pool_settings
from ..conninfo import error_line, redact
from ..errors import PoolTimeout, QueryError
from .loader import Queries, Query, internal_queries

_LOG = logging.getLogger("pagbank_pg")


def shape(query: Query, rows: list[dict[str, Any]] | None, rowcount: int) -> Any:
    """The result of a call of `query`, from the rows it returned and its row count."""
    if query.kind == "many":
        return rows or []
    if query.kind == "one":
        return rows[0] if rows else None
    if query.kind == "scalar":
        return next(iter(rows[0].values())) if rows else None
    if query.kind in ("execrows", "copy"):
        return rowcount
    return None


def fetches(query: Query) -> bool:
    """Whether a call of `query` reads rows back."""
    return query.kind in ("one", "many", "scalar")


# The SQLSTATE classes whose server messages quote the data: data exceptions (22: the value
# that did not parse) and integrity violations (23: "Failing row contains (...)", "Key (...)=
# (...) already exists").
_QUOTES_DATA = ("22", "23")
_QUOTED_VALUE = re.compile(r':\s*".*"$', re.DOTALL)


def query_error(query: Query, error: psycopg.Error) -> QueryError:
    """`error`, raised by the database inside `query`, as a QueryError naming the query, its
    SQLSTATE and constraint, leaving out the values of a row (a customer's data) that the
    server's message quotes. Raise it `from None`: psycopg's error is `.original`."""
    diag, sqlstate = error.diag, error.sqlstate or ""
    reason = diag.message_primary or error_line(error)
    if sqlstate.startswith(_QUOTES_DATA):
        reason = _QUOTED_VALUE.sub("", reason)
    elif diag.message_detail:
        reason += f" ({diag.message_detail})"
    where = [f"SQLSTATE {sqlstate}"] if sqlstate else []
    if diag.constraint_name:
        where.append(f"constraint {diag.constraint_name}")
    if diag.table_name:
        where.append(f"table {diag.table_name}")
    if where:
        reason += f" [{', '.join(where)}]"
    if sqlstate == "42P01":  # undefined_table
        reason += "; is the schema migrated? run: pagbank-pg migrate"
    return QueryError(
        f"query {query.where} failed: {redact(' '.join(reason.split()))}",
        error.sqlstate,
        query=query.name,
        constraint=diag.constraint_name,
        table=diag.table_name,
        original=error,
    )


@contextmanager
def translated(query: Query) -> Iterator[None]:
    """Database errors raised inside the block, as a QueryError naming `query`."""
    try:
        yield
    except psycopg.Error as error:
        raise query_error(query, error) from None


def needs_transaction(query: Query, opener: str) -> QueryError:
    """The error of `.stream()` called outside a transaction (`opener`: `with` or `async with`)."""
    return QueryError(
        f"query {query.where}: stream() reads through a server-side cursor and needs a "
        f"transaction: {opener} db.transaction() as tx: tx.queries.{query.name}.stream(...)"
    )


def pool_timeout(timeout: float, max_size: int) -> PoolTimeout:
    """The error of a pool that had no free connection in time."""
    return PoolTimeout(
        f"no pooled connection became free within {timeout:g}s "
        f"(max_size {max_size}); raise the pool's max_size or timeout"
    )


_cursor_numbers = itertools.count(1)


def cursor_name(query: Query) -> str:
    """A server-side cursor name for a stream of `query`, unique within the process."""
    return f"stream_{query.name}_{next(_cursor_numbers)}"


TOPOLOGY = internal_queries("topology")  # where a connection stands: sql/queries/topology
POOLER_CHECK = TOPOLOGY["backend_pid"].compiled.sql  # run unprepared, before preparing is set


def turned_read_only(error: BaseException) -> bool:
    """Whether `error` says the server no longer takes writes (SQLSTATE 25006: after a
    switchover the old primary comes back as a standby): its connection must not be reused."""
    return getattr(error, "sqlstate", None) == "25006"


PSYCOPG_PREPARE_THRESHOLD = 5  # psycopg's own default, for what callers run on db.pool


def prepare_threshold(prepare: str, reported_pid: int, backend_pid: int | None) -> int | None:
    """psycopg's `prepare_threshold` for a new connection: None (never prepare) when a
    pooler stands between (the pid the connection was given at login is not its server's:
    PgBouncer hands out its own) and `prepare` is "auto", or `prepare` is "off"; else
    psycopg's default. Named calls prepare at once where it is not None."""
    if prepare == "off" or (prepare == "auto" and reported_pid != backend_pid):
        return None
    return PSYCOPG_PREPARE_THRESHOLD


class ReadRouting:
    """Where the reads of one database go (I/O-free bookkeeping; `db.routing`).

    A read goes to a replica connection that has replayed this database's latest write (its
    WAL position, taken after each write: read-your-writes) and lags at most `max_lag`
    seconds; else to the primary. A replica that failed is left alone for a while. `counts`
    says where reads went, and why not to a replica.
    """

    def __init__(self, max_lag: float) -> None:
        self.max_lag = max_lag
        self.written = 0  # WAL position (bytes) of the latest write through this database
        self.unknown = False  # the latest write's position could not be read
        self.down_until = 0.0
        self.counts: Counter[str] = Counter()
        self.writers: set[str] = set()  # statements a replica refused as writes (25006)
        self._lock = threading.Lock()
        self._known: weakref.WeakKeyDictionary[Any, tuple[int, float, float]] = (
            weakref.WeakKeyDictionary()
        )  # replica connection -> (replayed, lag, checked at)

    def wrote(self, position: int | None) -> None:
        """A write reached `position` (None: its position could not be read; until a later
        write's is, no replica serves: WAL positions only grow, so that one covers it)."""
        with self._lock:
            self.unknown = position is None
            self.written = max(self.written, position or 0)

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def runs_on_replica(self, query: Query) -> bool:
        return query.route == "replica" and query.name not in self.writers

    def writes(self, query: Query) -> bool:
        """Whether a call of `query` on the primary is a write (its WAL position is kept)."""
        return query.route == "primary" or query.name in self.writers

    def refused_write(self, query: Query) -> None:
        """A replica refused `query` as a write (SQLSTATE 25006: a SELECT of a function that
        writes, say): it runs on the primary from now on, as a write. Nothing was written on
        the replica, so running it again on the primary is safe."""
        with self._lock:
            first = query.name not in self.writers
            self.writers.add(query.name)
        self.counts["primary: a write the replica refused"] += 1
        if first:
            _LOG.warning(
                "query %s writes: a read replica refused it (SQLSTATE 25006), so it now runs "
                "on the primary; write 'primary' after its kind to send it there at once",
                query.where,
            )

    def failed(self, reason: str) -> None:
        self.down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        self.counts[f"primary: replica {reason}"] += 1

    def needs_check(self, conn: Any) -> bool:
        known = self._known.get(conn)
        return (
            known is None
            or known[0] < self.written
            or time.monotonic() - known[2] > REPLICA_CHECK_SECONDS
        )

    def checked(self, conn: Any, state: dict[str, Any]) -> None:
        """Record a replica connection's `node_state` (a server that is no standby: no lag)."""
        lag = state["lag_seconds"] or 0.0
        self._known[conn] = (state["replayed"], lag, time.monotonic())

    def serves(self, conn: Any) -> bool:
        """Whether `conn` (checked) may serve a read now; counts the answer."""
        replayed, lag, _ = self._known[conn]
        behind = self.unknown or replayed < self.written
        reason = "lags" if lag > self.max_lag else "behind" if behind else ""
        self.counts[f"primary: replica {reason}" if reason else "replica"] += 1
        return not reason


UNSERVED = object()  # what a replica read returns when the primary must serve it


def pool_arguments(
    conninfo: str,
    min_size: int | None,
    max_size: int | None,
    timeout: float | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """What the sync and async pools are opened with: the connection string, sizes and
    timeout (arguments, else environment, else defaults) and the connections' settings."""
    min_size, max_size, timeout = pool_settings(min_size, max_size, timeout)
    return {
        "conninfo": conninfo,
        "min_size": min_size,
        "max_size": max_size,
        "timeout": timeout,
        "open": False,
        "kwargs": {"autocommit": True, "row_factory": dict_row},
        "name": "pagbank-pg",
        **options,
    }


def bind(query: Query, runner: Any) -> Callable[..., Any]:
    """A function calling `query` through `runner`, with the query's signature and doc.

    The function also carries `.many(rows)`, `.stream(**params)` and the query's attributes
    (`name`, `kind`, `params`, `sql`, `doc`, `file`, `line`), so `help()` and
    `inspect.signature()` describe the statement. A `:copy` query takes the data to copy as
    its one positional argument.
    """

    def run(**params: Any) -> Any:
        return runner.run(query, params)

    def copy(data: bytes, /, **params: Any) -> Any:
        return runner.copy(query, params, data)

    call: Any = copy if query.kind == "copy" else run
    leading = (
        [inspect.Parameter("data", inspect.Parameter.POSITIONAL_ONLY)]
        if query.kind == "copy"
        else []
    )

    call.__name__ = call.__qualname__ = query.name
    call.__doc__ = f"{query.doc}\n\n:{query.kind}  {query.file}:{query.line}\n\n{query.sql}"
    call.__signature__ = inspect.Signature(
        leading + [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in query.params]
    )
    for attribute in ("name", "kind", "params", "sql", "doc", "file", "line"):
        setattr(call, attribute, getattr(query, attribute))
    call.query = query
    call.many = lambda rows: runner.run_many(query, rows)
    call.stream = lambda **params: runner.stream(query, params)
    return call  # type: ignore[no-any-return]


class QueryNamespace:
    """`db.queries`: every named query as a method, bound to one way of running it."""

    def __init__(self, queries: Queries, runner: Any) -> None:
        self._queries = queries
        self._runner = runner
        self._bound: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        bound = self._bound.get(name)
        if bound is None:
            if name not in self._queries:
                raise AttributeError(
                    f"no query named {name!r}; known: {', '.join(sorted(self._queries))}"
                )
            bound = self._bound[name] = bind(self._queries[name], self._runner)
        return bound

    def __dir__(self) -> list[str]:
        return sorted(self._queries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)

    def __repr__(self) -> str:
        return f"<queries: {', '.join(self._queries)}>"


class TransactionBase:
    """One connection, one transaction: calls through `tx.queries` share both."""

    def __init__(self, conn: Any, queries: Queries, runner: Any) -> None:
        self.connection = conn
        self._runner = runner
        self._namespace = QueryNamespace(queries, runner)

    def bind(self, queries: Queries) -> Any:
        """Another set of statements (an internal area's) run on this transaction."""
        return QueryNamespace(queries, self._runner)


class DatabaseBase:
    """Named statements over a psycopg pool (`db.pool`); calls run through `runner`."""

    def __init__(self, pool: Any, queries: Queries, runner: Any) -> None:
        self.pool = pool
        self._queries = queries
        self._runner = runner
        self._namespace = QueryNamespace(queries, runner)

    def bind(self, queries: Queries) -> Any:
        """Another set of statements (an internal area's) run through this database's pool."""
        return QueryNamespace(queries, self._runner)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pool.name} {len(self._queries)} queries>"


Opened = TypeVar("Opened", bound="DatabaseBase")


class Opening(Generic[Opened]):
    """What `AsyncDatabase.open()` returns: awaited, the open database; entered with
    `async with`, the database, closed on exit."""

    def __init__(self, opening: Coroutine[Any, Any, Opened]) -> None:
        self._opening = opening
        self._db: Opened | None = None

    def __await__(self) -> Generator[Any, None, Opened]:
        return self._opening.__await__()

    async def __aenter__(self) -> Opened:
        self._db = await self._opening
        return self._db

    async def __aexit__(self, *exc: object) -> None:
        if self._db is not None:
            await self._db.close()  # type: ignore[attr-defined]
