"""Read routing without a standby: where the loader sends each statement, and a `Database`
whose replica is the primary itself (a server not in recovery serves at its own position) or
cannot be reached (reads go to the primary, with no error). The routing against a real
streaming standby is in test_topology_replicas.py."""

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pagbank_pg import AsyncDatabase, Database, QueryError, QueryLoadError, load_queries
from pagbank_pg.query.loader import internal_queries, parse_queries

from .helpers import QUERIES, closed_port, done


def wal_position(dsn: str) -> int:
    """The server's WAL insert position, in bytes (as the routing keeps a write's)."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint")
        return int(found.fetchone()[0])


def _route(sql: str, header: str = "-- name: q :many") -> str:
    return parse_queries(f"{header}\n{sql}")[0].route


@pytest.mark.parametrize("sql", [
    "SELECT * FROM user_sessions WHERE user_id = :u;",
    "  (SELECT 1) UNION (SELECT 2);",
    "WITH s AS (SELECT 1 AS x) SELECT x FROM s;",
    "VALUES (1), (2);",
    "SELECT 'insert into t' AS text, \"update\" FROM t -- delete\n;",
    "SELECT $$ DELETE FROM t $$ /* for update */;",
    "SELECT deleted_at, updated_at, into_x FROM t;",
])  # fmt: skip
def test_a_statement_that_only_reads_may_go_to_a_replica(sql: str) -> None:
    assert _route(sql) == "replica"


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (1) RETURNING *;",
    "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone;",
    "WITH x AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM x;",
    "SELECT * FROM t FOR UPDATE;",
    "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED;",
    "SELECT * FROM t FOR SHARE;",
    "SELECT * INTO copy_of_t FROM t;",
    "SELECT nextval('s');",
    "SELECT pg_advisory_xact_lock(1);",
    "LOCK TABLE t;",
    "DO $$ BEGIN PERFORM 1; END $$;",
])  # fmt: skip
def test_a_statement_that_writes_or_locks_runs_on_the_primary(sql: str) -> None:
    assert _route(sql) == "primary"


def test_the_header_overrides_the_rule_and_a_wrong_word_is_named() -> None:
    assert _route("SELECT my_counter_bump();", "-- name: q :scalar primary") == "primary"
    assert _route("SELECT 1;", "-- name: q :scalar replica") == "replica"
    with pytest.raises(QueryLoadError, match=r"<string>:1: query q: 'standby' after the kind"):
        parse_queries("-- name: q :one standby\nSELECT 1;")


def test_the_package_routes_its_reads_and_keeps_its_writes_on_the_primary() -> None:
    public = load_queries()
    assert public["get_user_session"].route == "replica"
    assert public["export_user_sessions"].route == "replica"
    for write in ("touch_user_session", "forget_user"):
        assert public[write].route == "primary", write
    lgpd = internal_queries("lgpd")  # the erasure's plumbing: internal, not in db.queries
    for write in ("record_erasure", "lock_for_erasure", "guard_writer"):
        assert write not in public, write
        assert lgpd[write].route == "primary", write
    assert "is_erased" not in public
    assert internal_queries("agno")["lock_agno_session"].route == "primary"
    assert internal_queries("agno")["agent_session_rows"].route == "replica"


@pytest.fixture(params=[Database, AsyncDatabase], ids=["sync", "async"])
def twin_class(request: pytest.FixtureRequest) -> Any:
    return request.param


async def _open(cls: Any, dsn: str, replica: str, **options: Any) -> Any:
    return await done(
        cls.open(dsn, queries=QUERIES, max_size=2, timeout=5, replica_dsn=replica, **options)
    )


async def test_a_replica_that_is_not_in_recovery_serves_reads_at_once(
    twin_class: Any, db_dsn: str
) -> None:
    db = await _open(twin_class, db_dsn, db_dsn)
    try:
        assert await done(db.queries.count_memories(user_id="u-1")) == 0
        before = wal_position(db_dsn)
        await done(db.queries.tag_all(tag="t", user_id="u-1"))  # a write: its position is kept
        assert 0 < before <= db.routing.written <= wal_position(db_dsn)
        assert await done(db.queries.count_memories(user_id="u-1")) == 0
        assert db.routing.counts["replica"] == 2
        with pytest.raises(QueryError, match="division by zero"):  # its own error, not a fault
            await done(db.queries.divide(n=0))
    finally:
        await done(db.close())


async def test_a_replica_that_cannot_be_reached_sends_reads_to_the_primary(
    twin_class: Any, db_dsn: str
) -> None:
    nowhere = f"host=127.0.0.1 port={closed_port()} dbname=x connect_timeout=1"
    db = await _open(twin_class, db_dsn, nowhere)
    try:
        await done(db.queries.tag_all(tag="t", user_id="u-1"))
        for _ in range(3):
            assert await done(db.queries.count_memories(user_id="u-1")) == 0
        assert db.routing.counts["primary: replica unreachable"] == 1
        assert db.routing.counts["primary: replica resting"] == 2  # not asked again at once
        assert db.routing.counts["replica"] == 0
    finally:
        await done(db.close())


def test_a_replica_fall_back_is_logged_under_the_query_logger(
    db_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"host=127.0.0.1 port={closed_port()} dbname=x connect_timeout=1"
    opened = Database.open(db_dsn, queries=QUERIES, replica_dsn=nowhere, timeout=5)
    with opened as db, caplog.at_level(logging.DEBUG, logger="pagbank_pg.query"):
        db.queries.count_memories(user_id="u-1")
        db.queries.count_memories(user_id="u-1")  # resting: counted, not logged again
    ours = [r for r in caplog.records if r.name == "pagbank_pg.query"]
    logged = [(r.name, r.levelname, r.getMessage()) for r in ours]
    assert logged == [
        ("pagbank_pg.query", "WARNING", "read replica unreachable: reads go to the primary for 5s")
    ]


def test_an_empty_replica_url_means_none_and_the_environment_names_one(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = conninfo_to_dict(db_dsn)  # the URL forms DATABASE_URL takes, SQLAlchemy's too
    url = f"postgresql+psycopg://{params['user']}@/{params['dbname']}?host={params['host']}"
    if "port" in params:
        url += f"&port={params['port']}"
    monkeypatch.setenv("DATABASE_REPLICA_URL", url)
    with Database.open(db_dsn, queries=QUERIES, max_size=1) as db:
        assert db.routing is not None and db.replica_pool is not None
        assert db.queries.count_memories(user_id="u") == 0
        assert db.routing.counts["replica"] == 1
    with Database.open(db_dsn, queries=QUERIES, max_size=1, replica_dsn="") as db:
        assert db.routing is None and db.replica_pool is None


def test_a_write_whose_position_is_unknown_keeps_reads_on_the_primary_until_the_next() -> None:
    from pagbank_pg.query.base import ReadRouting

    class Conn:  # any object a weak reference can name: the routing keeps no connection
        pass

    routing, conn = ReadRouting(max_lag=5), Conn()
    routing.wrote(100)
    routing.checked(conn, {"replayed": 200, "lag_seconds": 0.0})
    assert routing.serves(conn)
    routing.wrote(None)  # the write committed; reading its position failed
    assert not routing.serves(conn)
    routing.wrote(150)  # a later write's position covers the unknown one
    assert routing.serves(conn)
    routing.checked(conn, {"replayed": 200, "lag_seconds": 9.0})
    assert not routing.serves(conn)
    assert routing.counts == {
        "replica": 2, "primary: replica behind": 1, "primary: replica lags": 1
    }  # fmt: skip


async def test_a_select_of_a_function_that_writes_is_run_again_on_the_primary(
    twin_class: Any, db_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(db_dsn, autocommit=True) as admin:
        admin.execute(
            "CREATE TABLE counters (k text PRIMARY KEY, n int NOT NULL);"
            "CREATE FUNCTION bump(key text) RETURNS int LANGUAGE sql AS $$"
            " INSERT INTO counters VALUES (key, 1)"
            " ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING n $$"
        )
    (tmp_path / "counters.sql").write_text(
        "-- name: bump :scalar\n-- Count one, through a function: a SELECT that writes.\n"
        "SELECT bump(:key);\n\n"
        "-- name: count_of :scalar\nSELECT n FROM counters WHERE k = :key;\n"
    )
    queries = load_queries(tmp_path)
    assert queries["bump"].route == "replica"  # what the loader sees: a plain SELECT
    # The replica: this same server in read-only sessions, as a standby refuses writes.
    replica = make_conninfo(db_dsn, options="-c default_transaction_read_only=on")
    db = await done(twin_class.open(db_dsn, queries=queries, max_size=2, replica_dsn=replica))
    try:
        before = wal_position(db_dsn)
        assert await done(db.queries.bump(key="a")) == 1  # refused there, run on the primary
        assert await done(db.queries.bump(key="a")) == 2  # straight to the primary now
        assert db.routing.counts["primary: a write the replica refused"] == 1
        assert db.routing.writers == {"bump"}
        # It counts as a write: the read after it waits for a replica that replayed it.
        assert 0 < before <= db.routing.written <= wal_position(db_dsn)
        served = db.routing.counts["replica"]
        assert await done(db.queries.count_of(key="a")) == 2  # a read: on the replica
        assert db.routing.counts["replica"] == served + 1
    finally:
        await done(db.close())
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT n FROM counters WHERE k = 'a'").fetchone() == (2,)
    warned = [r.getMessage() for r in caplog.records if "SQLSTATE 25006" in r.getMessage()]
    assert len(warned) == 1 and "write 'primary' after its kind" in warned[0]
