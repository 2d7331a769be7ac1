"""Call latency in PagBank's topology (.ci/topology: PostgreSQL 15, a streaming standby,
PgBouncer in transaction mode): a `:one` primary-key lookup direct (prepared or not), through
PgBouncer (where "auto" never prepares), and routed to the standby; and what read-your-writes
costs: a write with and without a replica (its WAL position is read after it), and a write
followed at once by a read (the standby has not replayed it: the read is checked there, then
served by the primary).

    PAGBANK_PG_BENCH_DSN=... PAGBANK_PG_BENCH_PGBOUNCER=... PAGBANK_PG_BENCH_REPLICA=... \\
        pytest -m topology bench/test_topology_latency.py --benchmark-only
"""

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pagbank_pg import Database
from tests.helpers import on_server

pytestmark = pytest.mark.topology
SESSION = "s-bench-1"


@pytest.fixture(scope="module")
def dsns(bench_dsn: str) -> dict[str, str]:
    with psycopg.connect(bench_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_sessions (session_id, user_id, session_context) "
            "SELECT 's-bench-' || i, 'u-' || i % 100, jsonb_build_object('i', i) "
            "FROM generate_series(1, 10000) i ON CONFLICT DO NOTHING"
        )
    replica = on_server("PAGBANK_PG_BENCH_REPLICA", bench_dsn)
    deadline = time.monotonic() + 30
    while True:  # the standby has the rows
        try:
            with psycopg.connect(replica) as conn:
                if conn.execute("SELECT count(*) FROM user_sessions").fetchone() == (10000,):
                    break
        except psycopg.Error:
            pass
        assert time.monotonic() < deadline, "the standby did not replay the benchmark's rows"
        time.sleep(0.1)
    return {
        "direct": bench_dsn,
        "pgbouncer": on_server("PAGBANK_PG_BENCH_PGBOUNCER", bench_dsn),
        "replica": replica,
    }


@pytest.fixture(scope="module")
def databases(dsns: dict[str, str]) -> Iterator[dict[str, Database]]:
    opened = {
        "direct, prepared": Database.open(dsns["direct"], max_size=1, prepare="on"),
        "direct, not prepared": Database.open(dsns["direct"], max_size=1, prepare="off"),
        "pgbouncer (auto: not prepared)": Database.open(dsns["pgbouncer"], max_size=1),
        "routed to the standby": Database.open(
            dsns["direct"], max_size=1, replica_dsn=dsns["replica"]
        ),
    }
    yield opened
    for db in opened.values():
        db.close()


@pytest.mark.parametrize("name", [
    "direct, prepared", "direct, not prepared", "pgbouncer (auto: not prepared)",
    "routed to the standby",
])  # fmt: skip
@pytest.mark.benchmark(group="pk lookup :one, by topology")
def test_lookup(benchmark: Any, databases: dict[str, Database], name: str) -> None:
    db = databases[name]
    found = db.queries.get_user_session(session_id=SESSION)
    assert found["session_context"] == {"i": 1}
    if db.routing is not None:
        assert db.routing.counts["replica"] == 1, dict(db.routing.counts)
    benchmark.pedantic(
        db.queries.get_user_session, kwargs={"session_id": SESSION}, rounds=2000, warmup_rounds=100
    )
    if db.routing is not None:  # every timed call was served by the standby
        assert db.routing.counts["replica"] == 1 + 2100


@pytest.fixture(scope="module")
def writers(dsns: dict[str, str]) -> Iterator[dict[str, Database]]:
    opened = {
        "no replica": Database.open(dsns["direct"], max_size=1, replica_dsn=""),
        "with a replica": Database.open(dsns["direct"], max_size=1, replica_dsn=dsns["replica"]),
    }
    yield opened
    for db in opened.values():
        db.close()


@pytest.mark.parametrize("name", ["no replica", "with a replica"])
@pytest.mark.benchmark(group="read-your-writes: a write")
def test_write(benchmark: Any, writers: dict[str, Database], name: str) -> None:
    db = writers[name]
    before = db.queries.get_user_session(session_id="s-bench-2")["interaction_count"]
    touched = db.queries.touch_user_session(session_id="s-bench-2", context={"t": 1})
    assert touched["interaction_count"] == before + 1
    benchmark.pedantic(
        db.queries.touch_user_session,
        kwargs={"session_id": "s-bench-2", "context": {"t": 1}},
        rounds=1000,
        warmup_rounds=50,
    )


def write_then_read(db: Database, n: list[int]) -> Any:
    n[0] += 1
    db.queries.touch_user_session(session_id="s-bench-3", context={"n": n[0]})
    return db.queries.get_user_session(session_id="s-bench-3")


@pytest.mark.parametrize("name", ["no replica", "with a replica"])
@pytest.mark.benchmark(group="read-your-writes: a write, then a read of it")
def test_write_then_read(benchmark: Any, writers: dict[str, Database], name: str) -> None:
    db = writers[name]
    n = [0]
    for _ in range(50):  # each read sees the write just before it, wherever it ran
        assert write_then_read(db, n)["session_context"]["n"] == n[0]
    benchmark.pedantic(write_then_read, args=(db, n), rounds=1000, warmup_rounds=50)
    assert write_then_read(db, n)["session_context"]["n"] == n[0]
