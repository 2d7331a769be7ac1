"""Named-call overhead: a `:one` primary-key lookup through `db.queries` against the same SQL
run with raw psycopg on a connection from the same pool (prepared, autocommit, dict rows).

    pytest bench/test_query_layer.py --benchmark-only --benchmark-group-by=group
"""

from collections.abc import Iterator
from typing import Any

import pytest

from pagbank_pg import Database

SESSION = "s-bench-1"


@pytest.fixture(scope="module")
def db(bench_dsn: str) -> Iterator[Database]:
    with Database.open(bench_dsn, min_size=1, max_size=1) as database:
        with database.pool.connection() as conn:
            conn.execute(
                "INSERT INTO user_sessions (session_id, user_id, session_context) "
                "SELECT 's-bench-' || i, 'u-' || i % 100, jsonb_build_object('i', i) "
                "FROM generate_series(1, 10000) i ON CONFLICT DO NOTHING"
            )
        yield database


def raw_lookup(db: Database) -> Any:
    sql = db.queries.get_user_session.query.compiled.sql
    with db.pool.connection() as conn:
        return conn.execute(sql, {"session_id": SESSION}, prepare=True).fetchone()


@pytest.mark.benchmark(group="pk lookup :one")
def test_named_query(benchmark: Any, db: Database) -> None:
    expected = raw_lookup(db)
    assert expected["session_context"] == {"i": 1}
    assert db.queries.get_user_session(session_id=SESSION) == expected
    benchmark.pedantic(
        db.queries.get_user_session, kwargs={"session_id": SESSION}, rounds=3000, warmup_rounds=200
    )


@pytest.mark.benchmark(group="pk lookup :one")
def test_raw_psycopg(benchmark: Any, db: Database) -> None:
    assert raw_lookup(db)["session_id"] == SESSION
    benchmark.pedantic(raw_lookup, args=(db,), rounds=3000, warmup_rounds=200)
