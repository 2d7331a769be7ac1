"""Reads routed to a real streaming standby (PAGBANK_PG_TEST_REPLICA, started by .ci/topology
beside the PostgreSQL 15 primary): reads go to it, a client reads its own writes while replay
is paused, a lagging replica is passed over, and the Agno storage, memory DB and session
manager route the same way. `pytest -m topology` runs these."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from agno.memory.v2.db.schema import MemoryRow
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pagbank_pg import AsyncDatabase, Database
from pagbank_pg.agno import PostgresMemoryDb, PostgresSessionManager, PostgresStorage
from pagbank_pg.config import REPLICA_CHECK_SECONDS

from .helpers import QUERIES, agent, on_server, run, wait_for

pytestmark = pytest.mark.topology
REPLICA_ENV = "PAGBANK_PG_TEST_REPLICA"


@pytest.fixture
def replica_dsn(db_dsn: str) -> str:
    """The test database on the standby, once the standby has replayed its creation."""
    dsn = on_server(REPLICA_ENV, db_dsn)

    def replayed() -> bool:
        with psycopg.connect(dsn) as conn:
            conn.execute("SELECT 1 FROM user_sessions LIMIT 1")
        return True

    wait_for(replayed, timeout=30, what="the standby replaying the test database's creation")
    return dsn


@pytest.fixture
def standby(replica_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the standby; replay is resumed after the test."""
    with psycopg.connect(replica_dsn, autocommit=True) as conn:
        yield conn
        conn.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture
def routed(db_dsn: str, replica_dsn: str) -> Iterator[Database]:
    with Database.open(db_dsn, replica_dsn=replica_dsn, queries=QUERIES, max_size=4) as db:
        yield db


def caught_up(db: Database, standby: psycopg.Connection[Any]) -> None:
    """Wait until the standby has replayed every write made through `db`."""
    routing = db.routing
    assert routing is not None

    def replayed() -> bool:
        found = standby.execute(
            "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
        ).fetchone()
        return bool(found and found[0] >= routing.written)

    wait_for(replayed, timeout=30, what="the standby replaying every write made through db")


def session(db: Database, session_id: str) -> None:
    db.queries.create_user_session(
        session_id=session_id, user_id="u-1", team_id="ana", session_context=None, metadata=None
    )


def test_reads_go_to_the_standby_and_writes_to_the_primary(
    routed: Database, standby: psycopg.Connection[Any]
) -> None:
    session(routed, "s-1")
    caught_up(routed, standby)
    with routed.replica_pool.connection() as conn:  # type: ignore[union-attr]
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == {"pg_is_in_recovery": True}
    assert routed.queries.get_user_session(session_id="s-1")["user_id"] == "u-1"
    assert routed.queries.active_sessions_of_user(user_id="u-1")[0]["session_id"] == "s-1"
    assert routed.routing is not None and routed.routing.counts["replica"] == 2
    with routed.transaction() as tx:  # a transaction reads on the primary
        assert tx.queries.get_user_session(session_id="s-1") is not None
    assert routed.routing.counts["replica"] == 2


def test_a_client_reads_its_own_write_while_the_standby_is_paused(
    routed: Database, standby: psycopg.Connection[Any]
) -> None:
    session(routed, "s-1")
    caught_up(routed, standby)
    standby.execute("SELECT pg_wal_replay_pause()")
    routed.queries.touch_user_session(session_id="s-1", context={"turn": 2})
    found = routed.queries.get_user_session(session_id="s-1")  # the standby has not seen it
    assert found["session_context"] == {"turn": 2} and found["interaction_count"] == 1
    assert routed.routing is not None
    assert routed.routing.counts["primary: replica behind"] == 1
    on_standby = standby.execute(
        "SELECT interaction_count FROM user_sessions WHERE session_id = 's-1'"
    ).fetchone()
    assert on_standby == (0,)  # so the primary served it
    standby.execute("SELECT pg_wal_replay_resume()")
    caught_up(routed, standby)
    assert routed.queries.get_user_session(session_id="s-1")["interaction_count"] == 1
    assert routed.routing.counts["replica"] == 1


def test_a_standby_lagging_beyond_the_bound_is_passed_over(
    db_dsn: str, replica_dsn: str, standby: psycopg.Connection[Any]
) -> None:
    with Database.open(
        db_dsn, replica_dsn=replica_dsn, replica_max_lag=0.5, queries=QUERIES, max_size=1
    ) as db:
        assert db.queries.count_memories(user_id="u-1") == 0
        assert db.routing is not None and db.routing.counts["replica"] == 1
        standby.execute("SELECT pg_wal_replay_pause()")
        with psycopg.connect(db_dsn, autocommit=True) as other:  # another client writes
            other.execute(
                "INSERT INTO user_memories (id, user_id, memory) VALUES (%s, 'u-1', 'm')",
                [uuid.uuid4()],
            )
            written = other.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        # The standby has received the write, not replayed it, and its last replayed
        # transaction is older than the bound (the lag node_state reports); then the
        # connection's state is due to be checked again.
        lagging = (
            "SELECT pg_last_wal_receive_lsn() >= %s AND pg_last_wal_replay_lsn() < %s"
            " AND now() - pg_last_xact_replay_timestamp() > interval '0.5 s'"
        )
        wait_for(
            lambda: standby.execute(lagging, [written, written]).fetchone()[0],
            what="the standby lagging past the bound",
        )
        time.sleep(REPLICA_CHECK_SECONDS)
        assert db.queries.count_memories(user_id="u-1") == 1  # fresh: from the primary
        assert db.routing.counts["primary: replica lags"] == 1


def test_the_async_twin_routes_reads_and_reads_its_writes(
    db_dsn: str, replica_dsn: str, standby: psycopg.Connection[Any]
) -> None:
    import asyncio

    async def calls() -> tuple[Any, Any, dict[str, int]]:
        async with AsyncDatabase.open(
            db_dsn, replica_dsn=replica_dsn, queries=QUERIES, max_size=2
        ) as db:
            first = await db.queries.count_memories(user_id="u-1")
            standby.execute("SELECT pg_wal_replay_pause()")
            await db.queries.forget(user_id="u-1")  # a write: later reads wait for it
            await db.queries.copy_memories(f"{uuid.uuid4()}\tu-1\tm\n".encode())
            second = await db.queries.count_memories(user_id="u-1")
            assert db.routing is not None
            return first, second, dict(db.routing.counts)

    first, second, counts = asyncio.run(calls())
    assert (first, second) == (0, 1)
    assert counts == {"replica": 1, "primary: replica behind": 1}


def test_the_agno_storage_memory_db_and_session_manager_route_the_same_way(
    db_dsn: str, replica_dsn: str, standby: psycopg.Connection[Any]
) -> None:
    with Database.open(db_dsn, replica_dsn=replica_dsn, max_size=2) as db:
        storage = PostgresStorage("agent", db=db)
        memories = PostgresMemoryDb(db=db)
        sessions = PostgresSessionManager(db)
        standby.execute("SELECT pg_wal_replay_pause()")
        agent(storage).run("quero um pix", session_id="s-1", user_id="u-1")
        memories.upsert_memory(
            MemoryRow(id=str(uuid.uuid4()), user_id="u-1", memory={"memory": "prefere pix"})
        )
        sessions.create_session("u-1", "ana", session_id="s-2")
        assert db.routing is not None
        served = db.routing.counts["replica"]
        assert served == 0  # the agent's read of its session is the primary's (the next test)
        # Replay is paused: each read is its own write's, from the primary.
        assert storage.read("s-1") is not None
        assert len(memories.read_memories(user_id="u-1")) == 1
        assert sessions.get_session("s-2") is not None
        assert db.routing.counts["replica"] == served
        standby.execute("SELECT pg_wal_replay_resume()")
        caught_up(db, standby)
        before = db.routing.counts["primary: replica behind"]
        assert storage.read("s-1") is not None  # on the primary, always
        assert storage.get_all_session_ids(user_id="u-1") == ["s-1"]
        assert len(memories.read_memories(user_id="u-1")) == 1
        assert sessions.get_active_sessions("u-1")[0]["session_id"] == "s-2"
        assert db.routing.counts["replica"] == served + 3
        assert db.routing.counts["primary: replica behind"] == before


def test_a_turn_on_another_app_replica_sees_the_turn_before_it(
    db_dsn: str, replica_dsn: str, standby: psycopg.Connection[Any]
) -> None:
    """A customer's next message lands on another app replica (its own pool, which wrote
    nothing) while the standby has not replayed the previous turn: the turn still sees it."""
    with (
        Database.open(db_dsn, replica_dsn=replica_dsn, max_size=2) as replica_a,
        Database.open(db_dsn, replica_dsn=replica_dsn, max_size=2) as replica_b,
    ):
        agent(PostgresStorage("agent", db=replica_a)).run("oi", session_id="s-1", user_id="u-1")
        caught_up(replica_a, standby)
        standby.execute("SELECT pg_wal_replay_pause()")
        agent(PostgresStorage("agent", db=replica_a)).run(
            "e o pix?", session_id="s-1", user_id="u-1"
        )
        answer = agent(PostgresStorage("agent", db=replica_b)).run(
            "e o limite?", session_id="s-1", user_id="u-1"
        )
        assert answer.content == "Entendi: e o limite? (vi 3)"  # both turns before it seen
        rows = standby.execute(
            "SELECT jsonb_array_length(messages) FROM agent_sessions WHERE session_id = 's-1'"
        ).fetchone()
        assert rows == (2,)  # the standby still had only the first turn


def test_a_multi_host_replica_url_balances_its_connections(db_dsn: str, replica_dsn: str) -> None:
    both = conninfo_to_dict(db_dsn)
    standby = conninfo_to_dict(replica_dsn)
    hosts = make_conninfo(
        db_dsn,
        host=f"{standby['host']},{both['host']}",
        port=f"{standby['port']},{both['port']}",
        load_balance_hosts="random",
    )
    with Database.open(db_dsn, replica_dsn=hosts, queries=QUERIES, min_size=16, max_size=16) as db:
        assert db.replica_pool is not None
        db.replica_pool.wait(timeout=10)
        ports = set()
        held = [db.replica_pool.getconn() for _ in range(16)]
        for conn in held:
            ports.add(conn.info.port)
            db.replica_pool.putconn(conn)
        assert ports == {int(standby["port"]), int(both["port"])}  # 2 in 2**15 it fails
        assert db.queries.count_memories(user_id="u-1") == 0
        assert db.routing is not None and db.routing.counts["replica"] == 1


def test_health_shows_the_streaming_standby_and_the_read_replica(
    db_dsn: str, replica_dsn: str
) -> None:
    code, out, err = run("health", "--dsn", db_dsn, "--replica-dsn", replica_dsn)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(")") and ": primary (PostgreSQL 15." in lines[0]
    assert lines[1].startswith("  standby ") and ": streaming, async, " in lines[1]
    assert lines[2].startswith("read replica ") and ": standby, " in lines[2]
    assert lines[3] == "migrations: up to date"
