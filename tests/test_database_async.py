"""AsyncDatabase: the twin of Database, awaited."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest

from pagbank_pg import AsyncDatabase, ConnectionFailed, PoolTimeout, QueryArgumentError, QueryError

from .helpers import QUERIES


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[AsyncDatabase]:
    async with AsyncDatabase.connect(db_dsn, queries=QUERIES, max_size=4, timeout=5) as database:
        yield database


async def add(db: AsyncDatabase, text: str, user: str = "u-1") -> dict:
    return await db.queries.put_memory(
        id=uuid.uuid4(),
        user_id=user,
        memory=text,
        tags=["a"],
        created_at=datetime.now(UTC),
        metadata={"text": text},
    )


async def test_every_kind(db: AsyncDatabase) -> None:
    row = await add(db, "b")
    assert row["metadata"] == {"text": "b"} and row["memory_tags"] == ["a"]
    await add(db, "a")
    assert [r["memory"] for r in await db.queries.memories_of(user_id="u-1")] == ["b", "a"]
    assert await db.queries.count_memories(user_id="u-1") == 2
    assert await db.queries.tag_all(tag="t", user_id="u-1") is None
    assert await db.queries.echo_json(value=[1, {"x": None}]) == [1, {"x": None}]
    assert await db.queries.forget(user_id="u-1") == 2
    assert await db.queries.get_user_session(session_id="none") is None


async def test_errors(db: AsyncDatabase) -> None:
    with pytest.raises(QueryArgumentError, match="missing parameter 'user_id'"):
        await db.queries.count_memories()
    with pytest.raises(QueryError, match=r"^query put_memory \(.*value too long") as raised:
        await add(db, "x", user="u" * 300)
    assert isinstance(raised.value.original, psycopg.errors.StringDataRightTruncation)
    with pytest.raises(ConnectionFailed, match=r"could not connect to ai@127\.0\.0\.1:1/ai"):
        await AsyncDatabase.open("postgresql://ai:pw@127.0.0.1:1/ai", timeout=1)


async def test_transaction_commit_rollback_many_and_stream(db: AsyncDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.queries.create_user_session(
                session_id="s-1", user_id="u-1", team_id=None, session_context=None, metadata=None
            )
            raise RuntimeError("boom")
    assert await db.queries.get_user_session(session_id="s-1") is None
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": "u-1",
            "memory": f"m{i:04}",
            "tags": [],
            "created_at": datetime.now(UTC),
            "metadata": {},
        }
        for i in range(1500)
    ]
    await db.queries.put_memory.many(rows)
    async with db.transaction() as tx:
        streamed = [r["memory"] async for r in tx.queries.memories_of.stream(user_id="u-1")]
    assert streamed == sorted(r["memory"] for r in rows)
    with pytest.raises(QueryError, match="needs a transaction"):
        db.queries.memories_of.stream(user_id="u-1")


async def test_pool_timeout_and_recovery(db_dsn: str) -> None:
    async with AsyncDatabase.connect(db_dsn, queries=QUERIES, max_size=1, timeout=0.5) as db:
        async with db.transaction():
            with pytest.raises(PoolTimeout):
                await db.queries.count_memories(user_id="u-1")
        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert await db.queries.count_memories(user_id="u-1") == 0


async def test_many_tasks_at_once(db: AsyncDatabase) -> None:
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
