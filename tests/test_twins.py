"""Database and AsyncDatabase are twins: the sync module is generated from the async one, their
public surfaces and signatures match, and one body of behaviour tests runs against both."""

import asyncio
import importlib.util
import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from pagbank_pg import (
    AsyncDatabase,
    AsyncTransaction,
    ConnectionFailed,
    Database,
    PoolTimeout,
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
    assert tool.TARGET.read_text(encoding="utf-8") == tool.generated(tool.SOURCE, tool.TARGET), (
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

    async def open(self, dsn: str, **options: Any) -> Any:
        settings = {"queries": QUERIES, "max_size": 2, "timeout": 5, **options}
        return await done(self.cls.open(dsn, **settings))

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


BRT = timezone(timedelta(hours=-3))


async def put(db: Any, user: str = "u-1", text: str = "gosta de pix", **extra: Any) -> Any:
    """A memory written through put_memory; returns its row."""
    values = {
        "id": uuid.uuid4(),
        "user_id": user,
        "memory": text,
        "tags": ["pix", "cartão"],
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=BRT),
        "metadata": {"source": "test", "n": 1},
    }
    return await done(db.queries.put_memory(**{**values, **extra}))


def many_memories(count: int) -> list[dict[str, Any]]:
    return [
        {"id": uuid.uuid4(), "user_id": "u-1", "memory": f"m{i:05}", "tags": [str(i)],
         "created_at": datetime.now(UTC), "metadata": {"i": i}}
        for i in range(count)
    ]  # fmt: skip


async def test_one_round_trips_uuid_arrays_datetimes_and_json(twin: tuple[Twin, Any]) -> None:
    _, db = twin
    given = uuid.uuid4()
    row = await put(db, id=given, metadata={"a": [1, 2.5, None, "ç 😀 %s :x"], "b": {"c": True}})
    assert row["id"] == given
    assert row["memory_tags"] == ["pix", "cartão"]
    assert row["created_at"] == datetime(2026, 1, 2, 6, 4, 5, 678901, tzinfo=UTC)
    assert row["metadata"] == {"a": [1, 2.5, None, "ç 😀 %s :x"], "b": {"c": True}}


@pytest.mark.parametrize(
    "value", [{"k": "v"}, [1, "two"], [1, {"x": None}], "text", 42, 1.5, True, None]
)
async def test_json_parameters_take_any_json_value(twin: tuple[Twin, Any], value: Any) -> None:
    _, db = twin
    assert await done(db.queries.echo_json(value=value)) == value


async def test_many_scalar_exec_execrows(twin: tuple[Twin, Any], db_dsn: str) -> None:
    _, db = twin
    await put(db, text="b")
    await put(db, text="a")
    await put(db, user="u-2")
    rows = await done(db.queries.memories_of(user_id="u-1"))
    assert [r["memory"] for r in rows] == ["a", "b"]  # written at the same time: by text
    await put(db, text="z", created_at=datetime(2026, 1, 1, tzinfo=BRT))
    rows = await done(db.queries.memories_of(user_id="u-1"))
    assert [r["memory"] for r in rows] == ["z", "a", "b"]  # oldest first
    assert await done(db.queries.memories_of(user_id="nobody")) == []
    assert await done(db.queries.count_memories(user_id="u-1")) == 3
    assert await done(db.queries.tag_all(tag="vip", user_id="u-1")) is None
    with psycopg.connect(db_dsn) as conn:
        tags = conn.execute("SELECT memory_tags[3] FROM user_memories WHERE user_id = 'u-1'")
        assert tags.fetchall() == [("vip",), ("vip",), ("vip",)]
    assert await done(db.queries.forget(user_id="u-1")) == 3
    assert await done(db.queries.forget(user_id="u-1")) == 0
    assert await done(db.queries.count_memories(user_id="u-2")) == 1


async def test_one_returns_none_and_scalar_returns_none_when_no_row(
    twin: tuple[Twin, Any],
) -> None:
    _, db = twin
    assert await done(db.queries.get_user_session(session_id="missing")) is None
    assert await done(db.queries.touch_user_session(session_id="missing", context={})) is None


async def test_bad_arguments_fail_before_any_io(twin: tuple[Twin, Any]) -> None:
    _, db = twin
    with pytest.raises(QueryArgumentError) as raised:
        await done(db.queries.count_memories(user="u-1"))
    message = str(raised.value)
    assert "query count_memories (" in message and "kinds.sql:" in message
    assert "missing parameter 'user_id'; unknown parameter 'user'" in message
    with pytest.raises(TypeError):
        await done(db.queries.count_memories("u-1"))
    assert db.pool.get_stats().get("requests_num", 0) == 0


async def test_database_errors_name_the_query_and_keep_the_original(
    twin: tuple[Twin, Any],
) -> None:
    _, db = twin
    await put(db, id=uuid.UUID(int=1))
    with pytest.raises(QueryError) as raised:
        await put(db, id=uuid.UUID(int=1))
    assert str(raised.value).startswith("query put_memory (")
    assert "duplicate key value violates unique constraint" in str(raised.value)
    assert raised.value.sqlstate == "23505"
    assert isinstance(raised.value.original, psycopg.errors.UniqueViolation)
    assert raised.value.__cause__ is None
    with pytest.raises(QueryError, match=r"^query put_memory \(.*value too long") as raised:
        await put(db, user="x" * 256)
    assert isinstance(raised.value.original, psycopg.errors.StringDataRightTruncation)
    assert await done(db.queries.count_memories(user_id="u-1")) == 1


async def test_connect_fails_fast_naming_the_host_not_the_password(
    twin: tuple[Twin, Any],
) -> None:
    driver, _ = twin
    with pytest.raises(ConnectionFailed) as raised:
        await done(driver.cls.open("postgresql://ai:hunter2@127.0.0.1:1/ai", timeout=1))
    assert str(raised.value).startswith("could not connect to ai@127.0.0.1:1/ai: ")
    assert "hunter2" not in str(raised.value)


async def test_a_transaction_rolls_back_on_an_exception(twin: tuple[Twin, Any]) -> None:
    driver, db = twin
    with pytest.raises(RuntimeError):
        async with driver.transaction(db) as tx:
            row = await done(tx.queries.put_memory(
                id=uuid.uuid4(), user_id="u-1", memory="m", tags=[],
                created_at=datetime.now(UTC), metadata={},
            ))  # fmt: skip
            assert row["user_id"] == "u-1"
            await done(tx.queries.create_user_session(
                session_id="s-1", user_id="u-1", team_id=None, session_context=None,
                metadata=None,
            ))  # fmt: skip
            raise RuntimeError("boom")
    assert await done(db.queries.count_memories(user_id="u-1")) == 0
    assert await done(db.queries.get_user_session(session_id="s-1")) is None


async def test_many_is_one_transaction(twin: tuple[Twin, Any]) -> None:
    _, db = twin
    rows = many_memories(50)
    assert await done(db.queries.put_memory.many(rows)) == 50
    assert await done(db.queries.count_memories(user_id="u-1")) == 50
    bad = [{**rows[0], "id": uuid.uuid4()}, {**rows[1]}]  # the second repeats an id
    with pytest.raises(QueryError, match="duplicate key"):
        await done(db.queries.put_memory.many(bad))
    assert await done(db.queries.count_memories(user_id="u-1")) == 50


async def test_stream_reads_in_batches_inside_a_transaction_only(twin: tuple[Twin, Any]) -> None:
    driver, db = twin
    written = many_memories(2500)
    await done(db.queries.put_memory.many(written))
    async with driver.transaction(db) as tx:
        streamed = [
            row["memory"] for row in await rows(tx.queries.memories_of.stream(user_id="u-1"))
        ]
    assert len(streamed) == 2500 and streamed == sorted(r["memory"] for r in written)
    with pytest.raises(QueryError, match="needs a transaction"):
        await rows(db.queries.memories_of.stream(user_id="u-1"))


async def test_pool_timeout_when_exhausted(twin: tuple[Twin, Any], db_dsn: str) -> None:
    driver, _ = twin
    db = await driver.open(db_dsn, min_size=1, max_size=1, timeout=0.5)
    try:
        async with driver.transaction(db):
            with pytest.raises(
                PoolTimeout, match=r"no pooled connection became free within 0.5s \(max_size 1\)"
            ):
                await done(db.queries.count_memories(user_id="u-1"))
        assert await done(db.queries.count_memories(user_id="u-1")) == 0
    finally:
        await done(db.close())


async def test_broken_connections_are_replaced(twin: tuple[Twin, Any], db_dsn: str) -> None:
    _, db = twin
    assert await done(db.queries.count_memories(user_id="u-1")) == 0
    with psycopg.connect(db_dsn, autocommit=True) as admin:  # what a server restart does
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed == (1,)  # the pool's one connection (min_size 1, one call at a time)
    assert await done(db.queries.count_memories(user_id="u-1")) == 0


async def test_the_old_name_of_open_still_works_and_says_it_is_deprecated(
    twin: tuple[Twin, Any], db_dsn: str
) -> None:
    driver, _ = twin
    name = driver.cls.__name__
    with pytest.warns(DeprecationWarning, match=rf"^{name}.connect\(\) is deprecated; use"):
        opening = driver.cls.connect(db_dsn, max_size=1)
    async with _Entered(opening) as db:
        assert await done(db.queries.count_agent_sessions()) == 0


async def test_many_tasks_at_once(db_dsn: str) -> None:
    async with AsyncDatabase.open(db_dsn, queries=QUERIES, max_size=4, timeout=5) as db:
        await db.queries.create_user_session(
            session_id="s-1", user_id="u-1", team_id=None, session_context=None, metadata=None
        )

        async def worker(n: int) -> None:
            for _ in range(20):
                await db.queries.touch_user_session(session_id="s-1", context={f"k{n}": n})

        await asyncio.gather(*(worker(n) for n in range(20)))
        row = await db.queries.get_user_session(session_id="s-1")
    assert row["interaction_count"] == 400
    assert row["session_context"] == {f"k{n}": n for n in range(20)}
