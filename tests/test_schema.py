"""The migrated schema is the plan's DDL, and rolling it back leaves nothing behind.

The expected description below is written from postgres-migration-plan.md, not read back from
our migration files.
"""

import psycopg
import pytest

from pagbank_pg.schema import migrations

from .helpers import MIGRATION_IDS, snapshot

VC255 = "character varying(255)"
TSTZ = "timestamp with time zone"
NOW = "now()"
UUID_PK = ("uuid", True, "gen_random_uuid()")
EMPTY_OBJECT = ("jsonb", False, "'{}'::jsonb")

PLAN_COLUMNS = {
    "team_sessions": {
        "id": UUID_PK,
        "session_id": (VC255, True, None),
        "team_id": (VC255, True, None),
        "team_name": (VC255, False, None),
        "user_id": (VC255, False, None),
        "created_at": (TSTZ, False, NOW),
        "updated_at": (TSTZ, False, NOW),
        "messages": ("jsonb", False, "'[]'::jsonb"),
        "team_session_state": EMPTY_OBJECT,
        "metadata": EMPTY_OBJECT,
    },
    "agent_sessions": {
        "id": UUID_PK,
        "session_id": (VC255, True, None),
        "agent_id": (VC255, True, None),
        "agent_name": (VC255, False, None),
        "user_id": (VC255, False, None),
        "business_unit": ("character varying(50)", False, None),
        "created_at": (TSTZ, False, NOW),
        "updated_at": (TSTZ, False, NOW),
        "messages": ("jsonb", False, "'[]'::jsonb"),
        "agent_session_state": EMPTY_OBJECT,
        "metadata": EMPTY_OBJECT,
    },
    "user_memories": {
        "id": UUID_PK,
        "user_id": (VC255, True, None),
        "memory": ("text", True, None),
        "created_at": (TSTZ, False, NOW),
        "updated_at": (TSTZ, False, NOW),
        "metadata": EMPTY_OBJECT,
        "memory_tags": ("text[]", False, None),
        "business_units": ("text[]", False, None),
        "importance_score": ("double precision", False, "0.5"),
    },
    "user_sessions": {
        "session_id": (VC255, True, None),
        "user_id": (VC255, True, None),
        "team_id": (VC255, False, None),
        "created_at": (TSTZ, False, NOW),
        "last_activity": (TSTZ, False, NOW),
        "interaction_count": ("integer", False, "0"),
        "session_context": EMPTY_OBJECT,
        "is_active": ("boolean", False, "true"),
        "metadata": EMPTY_OBJECT,
    },
    "interaction_patterns": {
        "id": UUID_PK,
        "pattern_type": ("character varying(100)", True, None),
        "pattern_data": ("jsonb", True, None),
        "occurrence_count": ("integer", False, "1"),
        "first_seen": (TSTZ, False, NOW),
        "last_seen": (TSTZ, False, NOW),
        "user_ids": ("text[]", False, None),
        "business_units": ("text[]", False, None),
        "metadata": EMPTY_OBJECT,
    },
    "escalation_history": {
        "id": UUID_PK,
        "ticket_id": (VC255, True, None),
        "session_id": (VC255, True, None),
        "user_id": (VC255, True, None),
        "escalation_reason": (VC255, False, None),
        "escalation_type": ("character varying(50)", False, None),
        "created_at": (TSTZ, False, NOW),
        "resolved_at": (TSTZ, False, None),
        "resolution_notes": ("text", False, None),
        "whatsapp_notification_sent": ("boolean", False, "false"),
        "conversation_context": ("jsonb", False, None),
        "metadata": EMPTY_OBJECT,
    },
}

PLAN_CONSTRAINTS = {
    ("team_sessions", "p", ("id",)),
    ("team_sessions", "u", ("session_id", "team_id")),
    ("agent_sessions", "p", ("id",)),
    ("agent_sessions", "u", ("session_id", "agent_id")),
    ("user_memories", "p", ("id",)),
    ("user_sessions", "p", ("session_id",)),
    ("interaction_patterns", "p", ("id",)),
    ("escalation_history", "p", ("id",)),
    ("escalation_history", "u", ("ticket_id",)),
}

# Beyond the plan, each with its reason in its migration (0003 to 0010).
ADDED_COLUMNS = {
    ("erased_ids", "id_hash"): ("bytea", True, None),
    ("erased_ids", "kind"): ("character varying(10)", True, None),
    ("erased_ids", "erased_at"): ("timestamp with time zone", True, "now()"),
    ("erasure_key", "singleton"): ("boolean", True, "true"),
    ("erasure_key", "secret"): ("bytea", True, None),
    ("import_watermarks", "source_file"): ("text", True, None),
    ("import_watermarks", "source_table"): ("text", True, None),
    ("import_watermarks", "file_identity"): ("text", True, None),
    ("import_watermarks", "max_rowid"): ("bigint", False, None),
    ("import_watermarks", "anchor_key"): ("text", False, None),
    ("import_watermarks", "time_mark"): ("text", False, None),
    ("import_watermarks", "source_rows"): ("bigint", True, None),
    ("import_watermarks", "updated_at"): ("timestamp with time zone", True, "now()"),
    ("import_deferred_indexes", "index_name"): ("text", True, None),
    ("import_deferred_indexes", "table_name"): ("text", True, None),
    ("import_deferred_indexes", "definition"): ("text", True, None),
    ("import_deferred_indexes", "deferred_at"): ("timestamp with time zone", True, "now()"),
}
ADDED_CONSTRAINTS = {
    ("escalation_history", "c", ("escalation_type",)),
    ("team_sessions", "c", ("messages",)),
    ("agent_sessions", "c", ("messages",)),
    ("erased_ids", "p", ("id_hash",)),
    ("erased_ids", "c", ("kind",)),
    ("erasure_key", "p", ("singleton",)),
    ("erasure_key", "c", ("singleton",)),
    ("import_watermarks", "p", ("source_file", "source_table")),
    ("import_deferred_indexes", "p", ("index_name",)),
}
ADDED_OBJECTS = {
    ("i", "idx_patterns_identity"),
    ("function", "escalation_history_resolve_once"),
    ("function", "keep_erased_out"),
    ("function", "is_erased"),
    ("function", "erased_id_hash"),
    ("function", "defer_secondary_indexes"),
    ("function", "restore_deferred_indexes"),
    ("function", "sessions_of_user"),
    ("function", "erasure_guard"),
    ("function", "lock_for_erasure"),
    ("function", "before_erasure_guard"),
    ("function", "names_id"),
    ("function", "personal_key_in"),
    ("function", "keep_erased_out_of_patterns"),
    ("function", "search_folded"),
    ("function", "session_with_runs"),
    ("function", "run_replaceable"),
    ("type", "memory_search_order"),
    ("text search configuration", "pagbank_portuguese"),
    ("extension", "unaccent"),
    ("extension", "pg_trgm"),
}
# name: (table, definition) of the indexes beyond the plan's (0009: memory search)
ADDED_INDEXES = {
    "idx_user_memories_memory_words": (
        "user_memories",
        "CREATE INDEX idx_user_memories_memory_words ON public.user_memories USING gin "
        "(to_tsvector('pagbank_portuguese'::regconfig, memory))",
    ),
    "idx_user_memories_memory_trgm": (
        "user_memories",
        "CREATE INDEX idx_user_memories_memory_trgm ON public.user_memories USING gin "
        "(search_folded(memory) gin_trgm_ops)",
    ),
}

# name: (table, method, key) as the plan's CREATE INDEX statements give them
PLAN_INDEXES = {
    "idx_team_sessions_user": ("team_sessions", "btree", "user_id"),
    "idx_team_sessions_team": ("team_sessions", "btree", "team_id"),
    "idx_team_sessions_created": ("team_sessions", "btree", "created_at"),
    "idx_agent_sessions_user": ("agent_sessions", "btree", "user_id"),
    "idx_agent_sessions_agent": ("agent_sessions", "btree", "agent_id"),
    "idx_agent_sessions_unit": ("agent_sessions", "btree", "business_unit"),
    "idx_user_memories_user": ("user_memories", "btree", "user_id"),
    "idx_user_memories_created": ("user_memories", "btree", "created_at"),
    "idx_user_memories_tags": ("user_memories", "gin", "memory_tags"),
    "idx_user_sessions_user": ("user_sessions", "btree", "user_id"),
    "idx_user_sessions_active": ("user_sessions", "btree", "is_active, last_activity"),
    "idx_patterns_type": ("interaction_patterns", "btree", "pattern_type"),
    "idx_patterns_count": ("interaction_patterns", "btree", "occurrence_count DESC"),
    "idx_escalation_session": ("escalation_history", "btree", "session_id"),
    "idx_escalation_user": ("escalation_history", "btree", "user_id"),
    "idx_escalation_created": ("escalation_history", "btree", "created_at"),
}


def test_columns_are_the_plans(db_dsn: str) -> None:
    expected = {
        (table, column): spec
        for table, columns in PLAN_COLUMNS.items()
        for column, spec in columns.items()
    }
    assert snapshot(db_dsn)["columns"] == expected | ADDED_COLUMNS


def test_primary_keys_and_unique_constraints_are_the_plans(db_dsn: str) -> None:
    assert snapshot(db_dsn)["constraints"] == PLAN_CONSTRAINTS | ADDED_CONSTRAINTS


def test_indexes_are_the_plans_and_valid(db_dsn: str) -> None:
    expected = {
        name: (table, f"CREATE INDEX {name} ON public.{table} USING {method} ({key})", True)
        for name, (table, method, key) in PLAN_INDEXES.items()
    } | {name: (table, definition, True) for name, (table, definition) in ADDED_INDEXES.items()}
    assert snapshot(db_dsn)["indexes"] == expected


def test_tables_and_columns_are_documented(db_dsn: str) -> None:
    with psycopg.connect(db_dsn) as conn:
        undocumented = conn.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
            "AND obj_description(oid, 'pg_class') IS NULL",
            [list(PLAN_COLUMNS)],
        ).fetchall()
        comment = conn.execute(
            "SELECT col_description('escalation_history'::regclass, 6)"  # escalation_type
        ).fetchone()
    assert undocumented == []
    assert comment is not None and "caps_lock_yelling" in comment[0]


def test_rollback_all_then_apply_again_gives_the_same_schema(db_dsn: str) -> None:
    before = snapshot(db_dsn)
    rolled_back = migrations.rollback(db_dsn, everything=True)
    assert rolled_back == list(reversed(MIGRATION_IDS))
    emptied = snapshot(db_dsn)
    assert emptied == {"columns": {}, "constraints": set(), "indexes": {}, "objects": set()}
    assert migrations.apply(db_dsn) == MIGRATION_IDS
    assert snapshot(db_dsn) == before


def test_additions_beyond_the_plan(db_dsn: str) -> None:
    with psycopg.connect(db_dsn) as conn:
        identity = conn.execute(
            "SELECT pg_get_indexdef('idx_patterns_identity'::regclass)"
        ).fetchone()
        trigger = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'escalation_history'::regclass "
            "AND NOT tgisinternal"
        ).fetchall()
    assert identity == (
        "CREATE UNIQUE INDEX idx_patterns_identity ON public.interaction_patterns "
        "USING btree (pattern_type, md5((pattern_data)::text))",
    )
    assert sorted(trigger) == [
        ("escalation_history_before_erasure_guard",),
        ("escalation_history_keep_erased_out",),
        ("escalation_history_resolve_once",),
    ]
    assert snapshot(db_dsn)["objects"] >= ADDED_OBJECTS


def test_rollback_of_the_indexes_keeps_the_tables_and_their_rows(db_dsn: str) -> None:
    with psycopg.connect(db_dsn) as conn:
        conn.execute("INSERT INTO user_sessions (session_id, user_id) VALUES ('s-1', 'u-1')")
    assert migrations.rollback(db_dsn, to="0001.create-tables") == list(reversed(MIGRATION_IDS[1:]))
    after = snapshot(db_dsn)
    assert after["indexes"] == {}
    assert len(after["columns"]) == sum(len(columns) for columns in PLAN_COLUMNS.values())
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT user_id FROM user_sessions").fetchall() == [("u-1",)]


def test_an_index_left_invalid_by_an_interrupted_build_is_rebuilt(db_dsn: str) -> None:
    # What a migrate killed during CREATE INDEX CONCURRENTLY leaves: an INVALID index and
    # 0002 not recorded as applied.
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "UPDATE pg_index SET indisvalid = false "
            "WHERE indexrelid = 'idx_user_memories_tags'::regclass"
        )
        conn.execute("DELETE FROM _yoyo_migration WHERE migration_id = '0002.create-indexes'")
    assert snapshot(db_dsn)["indexes"]["idx_user_memories_tags"][2] is False
    assert migrations.apply(db_dsn) == ["0002.create-indexes"]
    indexes = snapshot(db_dsn)["indexes"]
    assert all(valid for _table, _definition, valid in indexes.values())
    assert set(indexes) == set(PLAN_INDEXES) | set(ADDED_INDEXES)


def test_applying_twice_applies_nothing(db_dsn: str) -> None:
    assert migrations.apply(db_dsn) == []
    states = migrations.status(db_dsn)
    assert [state.id for state in states] == MIGRATION_IDS
    assert all(state.applied_at is not None for state in states)


@pytest.mark.parametrize("migration", MIGRATION_IDS)
def test_a_migration_applied_but_not_recorded_applies_again(db_dsn: str, migration: str) -> None:
    # What a migrate killed after yoyo committed a migration but before it recorded it leaves.
    before = snapshot(db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("DELETE FROM _yoyo_migration WHERE migration_id = %s", [migration])
    assert migrations.apply(db_dsn) == [migration]
    assert snapshot(db_dsn) == before
