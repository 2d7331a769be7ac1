"""Index performance (plan Phase 4.2): each index of the schema, the statement it serves, at
two table sizes, with the index and without it (the planner steered to a sequential scan in
a transaction that is rolled back). Quick profile: 10k and 100k rows; --full: 100k and 1M.

    pytest bench/test_index_speed.py --benchmark-only [--full]
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pagbank_pg import Database

from .conftest import fresh_database

# Realistic rows for every table, made in SQL: users u-0…, 50 agents/units/teams, tags t0….
LOAD = """
INSERT INTO team_sessions (session_id, team_id, user_id, created_at, messages)
SELECT 's-' || i, 'team-' || i % 50, 'u-' || i % ({n} / 10), now() - i * interval '1 second',
       jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Oi ' || i))
FROM generate_series(1, {n}) i;
INSERT INTO agent_sessions (session_id, agent_id, user_id, business_unit, created_at, messages)
SELECT 's-' || i, 'agent-' || i % 50, 'u-' || i % ({n} / 10), 'unit-' || i % 50,
       now() - i * interval '1 second',
       jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Oi ' || i))
FROM generate_series(1, {n}) i;
INSERT INTO user_memories (id, user_id, memory, memory_tags, created_at, importance_score)
SELECT md5('m' || i)::uuid, 'u-' || i % ({n} / 10), 'o cliente prefere PIX ' || i,
       ARRAY['t' || i % 1000, 'k' || i % 37, 'r' || i % ({n} / 10)], now() - i * interval '1 second', (i % 100) / 100.0
FROM generate_series(1, {n}) i;
INSERT INTO user_sessions (session_id, user_id, is_active, last_activity)
SELECT 's-' || i, 'u-' || i % ({n} / 10), i % 10 = 0, now() - i * interval '1 second'
FROM generate_series(1, {n}) i;
INSERT INTO interaction_patterns (pattern_type, pattern_data, occurrence_count, user_ids)
SELECT 'type-' || i % 50, jsonb_build_object('n', i), i, ARRAY['u-' || i % ({n} / 10)]
FROM generate_series(1, {n}) i;
INSERT INTO escalation_history (ticket_id, session_id, user_id, escalation_type, created_at,
                                resolved_at)
SELECT 'T-' || i, 's-' || i % ({n} / 2), 'u-' || i % ({n} / 10), 'explicit_request',
       now() - i * interval '1 second', CASE WHEN i % 500 <> 0 THEN now() END
FROM generate_series(1, {n}) i;
ANALYZE;
"""

NOW = datetime.now(UTC)
PAGE = {"after_created_at": None, "after_id": None, "page_size": 20}
WINDOW = {"since": NOW - timedelta(minutes=10), "until": NOW, "limit": 1000}

# index: (named statement, arguments); statements that write run in a savepoint rolled back.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "team_sessions_session_id_team_id_key": ("get_team_session", {"session_id": "s-7", "team_id": "team-7"}),
    "idx_team_sessions_user": ("team_sessions_of_user", {"user_id": "u-7", **PAGE}),
    "idx_team_sessions_team": ("team_sessions_of_team", {"team_id": "team-7", "limit": 10_000_000}),
    "idx_team_sessions_created": ("team_sessions_created_between", WINDOW),
    "agent_sessions_session_id_agent_id_key": ("get_agent_session", {"session_id": "s-7", "agent_id": "agent-7"}),
    "idx_agent_sessions_user": ("agent_sessions_of_user", {"user_id": "u-7", **PAGE}),
    "idx_agent_sessions_agent": ("agent_sessions_of_agent", {"agent_id": "agent-7", "limit": 10_000_000}),
    "idx_agent_sessions_unit": ("agent_sessions_of_business_unit", {"business_unit": "unit-7", "limit": 10_000_000}),
    "user_memories_pkey": ("get_memory", {"id": "5f0a8c7a-8a4d-6bd9-4e2b-6b9d1e4e1f3c"}),
    "idx_user_memories_user": ("memories_of_user", {"user_id": "u-7", **PAGE}),
    "idx_user_memories_created": ("memories_created_between", WINDOW),
    "idx_user_memories_tags": ("memories_with_any_tag", {"tags": ["r7", "r8"], "limit": 100}),
    "user_sessions_pkey": ("get_user_session", {"session_id": "s-7"}),
    "idx_user_sessions_user": ("active_sessions_of_user", {"user_id": "u-7"}),
    "idx_user_sessions_active": ("expire_user_sessions", {"timeout_minutes": 60 * 24 * 7}),
    "idx_patterns_type": ("top_patterns_of_type", {"pattern_type": "type-7", "limit": 10}),
    "idx_patterns_count": ("top_patterns", {"limit": 10}),
    "idx_patterns_identity": ("get_pattern", {"pattern_type": "type-7", "pattern_data": {"n": 7}}),
    "escalation_history_ticket_id_key": ("get_escalation", {"ticket_id": "T-7"}),
    "idx_escalation_session": ("escalations_of_session", {"session_id": "s-7"}),
    "idx_escalation_user": ("escalations_of_user", {"user_id": "u-7"}),
    "idx_escalation_created": ("open_escalations", {"limit": 10}),
}  # fmt: skip
WRITES = {"expire_user_sessions"}
NO_INDEX = (
    "SET LOCAL enable_indexscan = off",
    "SET LOCAL enable_bitmapscan = off",
    "SET LOCAL enable_indexonlyscan = off",
)


@pytest.fixture(scope="module", params=["small", "large"])
def sized_db(
    request: pytest.FixtureRequest, bench_server: str, full: bool
) -> Iterator[tuple[int, Database]]:
    rows = {"small": 100_000 if full else 10_000, "large": 1_000_000 if full else 100_000}[
        request.param
    ]
    for dsn in fresh_database(bench_server):
        with Database.open(dsn, min_size=1, max_size=1) as db:
            with db.pool.connection() as conn:
                conn.execute(LOAD.format(n=rows))
            yield rows, db


def call_of(tx: Any, name: str, args: dict[str, Any]) -> Callable[[], Any]:
    query = getattr(tx.queries, name)
    if name not in WRITES:
        return lambda: query(**args)

    def in_savepoint() -> Any:  # a write, measured and undone
        with tx.connection.transaction(force_rollback=True):
            return query(**args)

    return in_savepoint


def plan_uses(tx: Any, name: str, args: dict[str, Any], index: str) -> bool:
    query = tx.queries.__getattr__(name).query
    with tx.connection.transaction(force_rollback=True):
        rows = tx.connection.execute(
            "EXPLAIN (FORMAT JSON) " + query.compiled.sql, query.bind(args)
        )
        return f'"Index Name": "{index}"' in str(rows.fetchone()).replace("'", '"')


@pytest.mark.parametrize("index", list(CASES))
@pytest.mark.parametrize("with_index", [True, False], ids=["with-index", "without-index"])
def test_index(
    benchmark: Any, sized_db: tuple[int, Database], index: str, with_index: bool
) -> None:
    rows, db = sized_db
    name, args = CASES[index]
    benchmark.group = f"index {index} ({name})"
    benchmark.extra_info.update(index=index, statement=name, rows=rows, with_index=with_index)
    with db.transaction() as tx:
        expected = call_of(tx, name, args)()
        if not with_index:
            for setting in NO_INDEX:
                tx.connection.execute(setting)
        # the right answer first; without the index, no index scan at all. With it, the
        # planner may still prefer another plan on a small table: the report says so.
        assert call_of(tx, name, args)() == expected
        used = plan_uses(tx, name, args, index)
        assert with_index or not used
        benchmark.extra_info["index_used"] = used
        benchmark.pedantic(call_of(tx, name, args), rounds=30 if with_index else 5, warmup_rounds=1)
