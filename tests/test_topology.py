"""Through a real PgBouncer in transaction pooling mode (PAGBANK_PG_TEST_PGBOUNCER, started by
.ci/run in front of the PostgreSQL 15 server): every named call runs its own statement, and
migrations refuse to run through it. `pytest -m topology` runs these; a plain `pytest` does not
collect them (they need the pooler, which .ci/run installs)."""

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pagbank_pg import AsyncDatabase, Database

from .helpers import MIGRATION_IDS, QUERIES, on_server, run

pytestmark = pytest.mark.topology
POOLER_ENV = "PAGBANK_PG_TEST_PGBOUNCER"


@pytest.fixture
def pooled_dsn(db_dsn: str) -> str:
    """The test database, reached through PgBouncer."""
    return on_server(POOLER_ENV, db_dsn)


@pytest.fixture
def pooled(pooled_dsn: str) -> Iterator[Database]:
    with Database.open(pooled_dsn, queries=QUERIES, min_size=4, max_size=8, timeout=10) as db:
        yield db


def test_statements_are_not_prepared_through_the_pooler_and_are_direct(
    pooled: Database, db_dsn: str
) -> None:
    with pooled.pool.connection() as conn:
        assert conn.prepare_threshold is None
    with (
        Database.open(db_dsn, queries=QUERIES, max_size=1) as direct,
        direct.pool.connection() as conn,
    ):
        assert conn.prepare_threshold is not None


def test_eight_threads_each_run_their_own_statement(pooled: Database) -> None:
    pooled.queries.create_user_session(
        session_id="s-1", user_id="u-1", team_id="ana", session_context=None, metadata=None
    )
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(60):
                if (n + i) % 3 == 0:  # one parameter
                    assert pooled.queries.get_user_session(session_id="s-1")["user_id"] == "u-1"
                elif (n + i) % 3 == 1:  # two parameters, another result
                    assert pooled.queries.tag_all(tag=f"t{n}", user_id="nobody") is None
                else:
                    assert pooled.queries.echo_json(value={"n": n, "i": i}) == {"n": n, "i": i}
                with pooled.transaction() as tx:
                    tx.queries.touch_user_session(session_id="s-1", context={"n": n})
                    rows = list(tx.queries.memories_of.stream(user_id="nobody"))
                    assert rows == []
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "calls hung through the pooler"
    assert failures == []
    assert pooled.queries.get_user_session(session_id="s-1")["interaction_count"] == 8 * 60
    rows = [{"id": uuid.uuid4(), "user_id": "u-2", "memory": "m", "tags": [],
             "created_at": None, "metadata": None} for _ in range(50)]  # fmt: skip
    assert pooled.queries.put_memory.many(rows) == 50
    assert pooled.queries.count_memories(user_id="u-2") == 50


def test_the_async_twin_runs_through_the_pooler(pooled_dsn: str) -> None:
    async def calls() -> list[Any]:
        async with AsyncDatabase.open(pooled_dsn, queries=QUERIES, max_size=4) as db:
            results = await asyncio.gather(*(db.queries.echo_json(value=[n]) for n in range(40)))
            async with db.transaction() as tx:
                streamed = [r async for r in tx.queries.memories_of.stream(user_id="x")]
            return [*results, streamed]

    assert asyncio.run(calls()) == [*([n] for n in range(40)), []]


def test_migrate_refuses_a_pooler_with_one_line(pooled_dsn: str) -> None:
    for command in (["migrate"], ["rollback"]):
        code, _, err = run(*command, "--dsn", pooled_dsn)
        assert code == 1 and "Traceback" not in err
        assert "through a connection pooler" in err and "direct URL" in err
    with psycopg.connect(pooled_dsn) as conn:  # nothing was changed: all still applied
        applied = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()[0]
        assert applied == len(MIGRATION_IDS)
