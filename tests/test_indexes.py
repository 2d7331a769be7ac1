"""Every read the plan's indexes cover uses them: EXPLAIN each statement over a few thousand
realistic rows and find the expected index in its plan."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pagbank_pg import load_queries

QUERIES = load_queries()
ROWS = 5000

LOAD = f"""
INSERT INTO team_sessions (session_id, team_id, user_id, created_at)
SELECT 's-' || i, 'team-' || i % 50, 'u-' || i % 1000, now() - i * interval '1 minute'
FROM generate_series(1, {ROWS}) i;
INSERT INTO agent_sessions (session_id, agent_id, user_id, business_unit, created_at)
SELECT 's-' || i, 'agent-' || i % 50, 'u-' || i % 1000, 'unit-' || i % 50,
       now() - i * interval '1 minute'
FROM generate_series(1, {ROWS}) i;
INSERT INTO user_memories (user_id, memory, memory_tags, business_units, created_at)
SELECT 'u-' || i % 1000, repeat('o cliente prefere PIX ', 10) || i,
       ARRAY['t' || i % 1000, 'k' || i % 37], ARRAY['unit-' || i % 50],
       now() - i * interval '1 minute'
FROM generate_series(1, {4 * ROWS}) i;
INSERT INTO user_sessions (session_id, user_id, is_active, last_activity)
SELECT 's-' || i, 'u-' || i % 1000, i % 10 = 0, now() - i * interval '1 minute'
FROM generate_series(1, {ROWS}) i;
INSERT INTO interaction_patterns (pattern_type, pattern_data, occurrence_count, user_ids)
SELECT 'type-' || i % 50, jsonb_build_object('n', i), i, ARRAY['u-' || i % 1000]
FROM generate_series(1, {ROWS}) i;
INSERT INTO escalation_history (ticket_id, session_id, user_id, escalation_type, created_at,
                                resolved_at)
SELECT 'T-' || i, 's-' || i % 2000, 'u-' || i % 1000, 'explicit_request',
       now() - i * interval '1 minute',
       CASE WHEN i % 50 <> 0 THEN now() END
FROM generate_series(1, {ROWS}) i;
ANALYZE;
"""

NOW = datetime.now(UTC)
PAGE = {"after_created_at": None, "after_id": None, "page_size": 20}

# query, its arguments, and the index its plan must use
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "get_team_session",
        {"session_id": "s-1", "team_id": "team-1"},
        "team_sessions_session_id_team_id_key",
    ),
    ("team_sessions_of_user", {"user_id": "u-7", **PAGE}, "idx_team_sessions_user"),
    ("team_sessions_of_team", {"team_id": "team-7", "limit": 100}, "idx_team_sessions_team"),
    (
        "team_sessions_created_between",
        {"since": NOW - timedelta(hours=1), "until": NOW, "limit": 100},
        "idx_team_sessions_created",
    ),
    (
        "get_agent_session",
        {"session_id": "s-1", "agent_id": "agent-1"},
        "agent_sessions_session_id_agent_id_key",
    ),
    ("agent_sessions_of_session", {"session_id": "s-1"}, "agent_sessions_session_id_agent_id_key"),
    ("agent_sessions_of_user", {"user_id": "u-7", **PAGE}, "idx_agent_sessions_user"),
    ("agent_sessions_of_agent", {"agent_id": "agent-7", "limit": 100}, "idx_agent_sessions_agent"),
    (
        "agent_sessions_of_business_unit",
        {"business_unit": "unit-7", "limit": 100},
        "idx_agent_sessions_unit",
    ),
    ("get_memory", {"id": "00000000-0000-0000-0000-000000000001"}, "user_memories_pkey"),
    ("memories_of_user", {"user_id": "u-7", **PAGE}, "idx_user_memories_user"),
    ("memories_with_any_tag", {"tags": ["t7", "t8"], "limit": 100}, "idx_user_memories_tags"),
    ("memories_with_all_tags", {"tags": ["t7", "k7"], "limit": 100}, "idx_user_memories_tags"),
    ("top_memories_of_user", {"user_id": "u-7", "limit": 5}, "idx_user_memories_user"),
    (
        "memories_created_between",
        {"since": NOW - timedelta(hours=1), "until": NOW, "limit": 100},
        "idx_user_memories_created",
    ),
    ("get_user_session", {"session_id": "s-1"}, "user_sessions_pkey"),
    ("active_sessions_of_user", {"user_id": "u-7"}, "idx_user_sessions_user"),
    ("expire_user_sessions", {"timeout_minutes": 60 * 24 * 3}, "idx_user_sessions_active"),
    ("top_patterns", {"limit": 10}, "idx_patterns_count"),
    ("top_patterns_of_type", {"pattern_type": "type-7", "limit": 100}, "idx_patterns_type"),
    ("get_pattern", {"pattern_type": "type-7", "pattern_data": {"n": 7}}, "idx_patterns_identity"),
    ("get_escalation", {"ticket_id": "T-7"}, "escalation_history_ticket_id_key"),
    ("open_escalations", {"limit": 10}, "idx_escalation_created"),
    ("escalations_of_user", {"user_id": "u-7"}, "idx_escalation_user"),
    ("escalations_of_session", {"session_id": "s-7"}, "idx_escalation_session"),
    ("escalation_counts_by_day", {"since": NOW - timedelta(hours=1)}, "idx_escalation_created"),
]


@pytest.fixture(scope="module")
def loaded(server_dsn: str, template_db: str) -> Iterator[psycopg.Connection[Any]]:
    from .helpers import fresh_database as _fresh

    for dsn in _fresh(server_dsn, template_db):
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            conn.execute(LOAD)
            conn.commit()
            yield conn


def indexes_in(plan: dict[str, Any]) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= indexes_in(child)
    return found


def test_every_case_names_a_real_query() -> None:
    assert {name for name, _, _ in CASES} <= set(QUERIES)


@pytest.mark.parametrize(("name", "args", "index"), CASES, ids=[c[0] for c in CASES])
def test_the_plan_uses_the_index(
    loaded: psycopg.Connection[Any], name: str, args: dict[str, Any], index: str
) -> None:
    query = QUERIES[name]
    with loaded.transaction(force_rollback=True):  # EXPLAIN of an UPDATE does not run it
        row = loaded.execute(
            "EXPLAIN (FORMAT JSON) " + query.compiled.sql, query.bind(args)
        ).fetchone()
    plan = row["QUERY PLAN"][0]["Plan"]
    assert index in indexes_in(plan), plan
