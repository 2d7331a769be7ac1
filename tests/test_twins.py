"""Database and AsyncDatabase are twins: the sync module is generated from the async one, their
public surfaces and signatures match, and one body of behaviour tests runs against both."""

import asyncio
import importlib.util
import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pagbank_pg import (
    AsyncDatabase,
    AsyncTransaction,
    Database,
    QueryArgumentError,
    QueryError,
    Transaction,
)

from .helpers import QUERIES, REPO, done


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("async_to_sync", REPO / "tools/async_to_sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sync_module_is_generated_from_the_async_one() -> None:
    tool = _generator()
    assert tool.TARGET.read_text(encoding="utf-8") == tool.convert(tool.SOURCE.read_text()), (
        "database_async.py changed: run python tools/async_to_sync.py"
    )


def test_the_converter_drops_awaits_and_renames_the_async_names() -> None:
    convert = _generator().convert
    text = (
        "async def f(p: AsyncConnectionPool) -> AsyncIterator[int]:  # x\n"
        "    async with p.connection() as c:\n"
        "        await c.execute('x')\n"
        "only = 1  # async only\n"
        "x = 2  # sync: x = 3\n"
    )
    assert convert(text).splitlines()[1:] == [
        "def f(p: ConnectionPool) -> Iterator[int]:  # x",
        "    with p.connection() as c:",
        "        c.execute('x')",
        "x = 3",
    ]


def test_the_converter_merges_nested_withs_and_drops_unused_imports() -> None:
    convert = _generator().convert
    text = (
        "from collections.abc import AsyncIterator, Awaitable, Callable\n"
        "async def f(c: Callable[[], Awaitable[None]]) -> AsyncIterator[int]:\n"
        "    with translated():\n"
        "        async with c() as d:\n"
        "            yield d\n"
        "    with kept():\n"
        "        with c() as d:\n"
        "            pass\n"
        "        also = 1\n"
    )
    assert convert(text).splitlines()[1:] == [
        "from collections.abc import Callable, Iterator",
        "def f(c: Callable[[], None]) -> Iterator[int]:",
        "    with translated(), c() as d:",
        "        yield d",
        "    with kept():",
        "        with c() as d:",
        "            pass",
        "        also = 1",
    ]


def _surface(cls: type) -> dict[str, list[tuple[str, Any, Any]]]:
    """Public names of a class, each with its parameters (name, kind, default)."""
    surface = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name not in ("__init__",):
            continue
        if callable(member):
            params = inspect.signature(member).parameters.values()
            surface[name] = [(p.name, p.kind, p.default) for p in params]
    return surface


@pytest.mark.parametrize(("sync", "asynchronous"), [
    (Database, AsyncDatabase), (Transaction, AsyncTransaction)
])  # fmt: skip
def test_the_twins_have_the_same_public_surface_and_signatures(
    sync: type, asynchronous: type
) -> None:
    sync_surface, async_surface = _surface(sync), _surface(asynchronous)
    assert sync_surface.keys() == async_surface.keys()
    for name in sync_surface:
        if name != "__init__":  # the pool and connection classes differ, by name only
            assert sync_surface[name] == async_surface[name], name
    assert hasattr(Database, "__enter__") and hasattr(AsyncDatabase, "__aenter__")


# --- one body of behaviour, run against both -----------------------------------------------------


async def rows(stream: Any) -> list[dict[str, Any]]:
    if hasattr(stream, "__aiter__"):
        return [row async for row in stream]
    return list(stream)


class Twin:
    """Opens and drives either twin the same way."""

    def __init__(self, cls: Any) -> None:
        self.cls = cls

    async def open(self, dsn: str) -> Any:
        return await done(self.cls.open(dsn, queries=QUERIES, max_size=2, timeout=5))

    def transaction(self, db: Any) -> Any:
        return _Entered(db.transaction())


class _Entered:
    """`with` or `async with`, whichever the context manager takes."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    async def __aenter__(self) -> Any:
        if hasattr(self.manager, "__aenter__"):
            return await self.manager.__aenter__()
        return self.manager.__enter__()

    async def __aexit__(self, *exc: Any) -> Any:
        if hasattr(self.manager, "__aexit__"):
            return await self.manager.__aexit__(*exc)
        return self.manager.__exit__(*exc)


@pytest.fixture(params=[Database, AsyncDatabase], ids=["sync", "async"])
async def twin(request: pytest.FixtureRequest, db_dsn: str) -> AsyncIterator[tuple[Twin, Any]]:
    driver = Twin(request.param)
    db = await driver.open(db_dsn)
    try:
        yield driver, db
    finally:
        await done(db.close())


def line(user: str, text: str) -> bytes:
    return f"{uuid.uuid4()}\t{user}\t{text}\n".encode()


async def test_calls_of_every_kind(twin: tuple[Twin, Any]) -> None:
    _, db = twin
    assert await done(db.queries.copy_memories(line("u-1", "b") + line("u-1", "a"))) == 2
    assert [r["memory"] for r in await done(db.queries.memories_of(user_id="u-1"))] == ["a", "b"]
    assert await done(db.queries.count_memories(user_id="u-1")) == 2
    assert await done(db.queries.tag_all(tag="t", user_id="u-1")) is None
    assert await done(db.queries.echo_json(value={"k": [1, None]})) == {"k": [1, None]}
    assert await done(db.queries.forget(user_id="u-1")) == 2


async def test_a_transaction_commits_together_and_rolls_back_together(
    twin: tuple[Twin, Any],
) -> None:
    driver, db = twin
    async with driver.transaction(db) as tx:
        await done(tx.queries.copy_memories(line("u-1", "kept")))
        assert [r["memory"] for r in await rows(tx.queries.memories_of.stream(user_id="u-1"))] == [
            "kept"
        ]
    with pytest.raises(RuntimeError):
        async with driver.transaction(db) as tx:
            await done(tx.queries.copy_memories(line("u-1", "gone")))
            raise RuntimeError
    assert await done(db.queries.count_memories(user_id="u-1")) == 1


async def test_errors_name_the_query_and_lose_nothing(twin: tuple[Twin, Any]) -> None:
    _, db = twin
    with pytest.raises(QueryArgumentError, match="missing parameter 'user_id'"):
        await done(db.queries.count_memories())
    with pytest.raises(QueryError, match=r"^query copy_memories \(.*invalid input syntax"):
        await done(db.queries.copy_memories(b"not-a-uuid\tu-1\tx\n"))
    with pytest.raises(QueryError, match="needs a transaction"):
        await rows(db.queries.memories_of.stream(user_id="u-1"))
    assert await done(db.queries.count_memories(user_id="u-1")) == 0


def test_an_async_database_is_awaited_or_entered(db_dsn: str) -> None:
    async def both() -> list[int]:
        opened = await AsyncDatabase.open(db_dsn, queries=QUERIES, timeout=5)
        async with opened as db:
            first = await db.queries.count_memories(user_id="u")
        async with AsyncDatabase.open(db_dsn, queries=QUERIES, timeout=5) as entered:
            second = await entered.queries.count_memories(user_id="u")
        assert opened.pool.closed and entered.pool.closed
        return [first, second]

    assert asyncio.run(both()) == [0, 0]


async def first(stream: Any) -> Any:
    return await anext(stream) if hasattr(stream, "__anext__") else next(stream)


def closed(stream: Any) -> bool:
    return getattr(stream, "ag_frame", getattr(stream, "gi_frame", None)) is None


async def test_streams_have_their_own_cursors_and_close_with_their_transaction(
    twin: tuple[Twin, Any],
) -> None:
    driver, db = twin
    await done(db.queries.copy_memories(line("u-1", "a") + line("u-1", "b")))
    async with driver.transaction(db) as tx:
        one = tx.queries.memories_of.stream(user_id="u-1")
        two = tx.queries.memories_of.stream(user_id="u-1")  # the same query, a second cursor
        assert (await first(one))["memory"] == (await first(two))["memory"] == "a"
    assert closed(one) and closed(two)  # abandoned: closed on their own connection
    assert await done(db.queries.count_memories(user_id="u-1")) == 2


async def test_a_connection_whose_server_turned_read_only_is_thrown_away(
    twin: tuple[Twin, Any],
) -> None:
    driver, db = twin
    async with driver.transaction(db) as tx:  # what a switchover leaves: a read-only server
        await done(tx.connection.execute("SET SESSION default_transaction_read_only = on"))
        old = await done(tx.connection.execute("SELECT pg_backend_pid()"))
        old_pid = (await done(old.fetchone()))["pg_backend_pid"]
    with pytest.raises(QueryError, match="read-only transaction") as raised:
        await done(db.queries.copy_memories(line("u-1", "a")))
    assert raised.value.sqlstate == "25006"
    assert await done(db.queries.copy_memories(line("u-1", "b"))) == 1  # on a new connection
    async with driver.transaction(db) as tx:
        now = await done(tx.connection.execute("SELECT pg_backend_pid()"))
        assert (await done(now.fetchone()))["pg_backend_pid"] != old_pid
