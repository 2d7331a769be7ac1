"""search_memories (migration 0009): what Agno's ILIKE finds and the Portuguese word forms,
accents ignored, through the indexes; odd queries; a login that may not create extensions."""

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pagbank_pg import Database, QueryError
from pagbank_pg.errors import MigrationError
from pagbank_pg.schema import migrations

from .helpers import MIGRATION_IDS, QUERIES, fresh_database

# The migrations before 0009, and 0009 with the ones after it.
BEFORE_0009 = MIGRATION_IDS[: MIGRATION_IDS.index("0009.create-memory-search")]
FROM_0009 = MIGRATION_IDS[len(BEFORE_0009) :]

MEMORIES = [
    "o cliente pediu aumento do limite",
    "O limite do meu cartão é baixo",
    "Tem créditos a receber de 2025",
    "prefere PIX para pagar contas",
    "Cartão bloqueado em viagem",
    "cobrança de 100% da fatura",
    "cobrança de 1000 reais",
    "código a_b do convênio",
    "código axb do convênio",
    "pasta C:\\dados\\extratos",
    "perguntou?! e não esperou",
    "quer débito automático",
]
ARGS: dict[str, Any] = {
    "user_id": None,
    "agent_id": None,
    "team_id": None,
    "topics": None,
    "sort_by": None,
    "sort_order": None,
    "limit": None,
    "offset": None,
}


@pytest.fixture
def db(db_dsn: str) -> Iterator[Database]:
    with Database.open(db_dsn, queries=QUERIES, max_size=2, timeout=5) as database:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with database.transaction() as tx:
            for n, text in enumerate(MEMORIES):
                row = tx.queries.add_memory(
                    id=None, user_id=f"u-{n % 2}", memory=text, memory_tags=["t", f"t{n % 3}"],
                    business_units=None, importance_score=None, metadata=None,
                )  # fmt: skip
                tx.connection.execute(
                    "UPDATE user_memories SET created_at = %s, updated_at = %s WHERE id = %s",
                    [start + timedelta(days=n), start + timedelta(days=30 - n), row["id"]],
                )
        yield database


def found(db: Database, query: str | None, **args: Any) -> list[str]:
    rows = db.queries.search_memories(query=query, **(ARGS | args))
    return [row["memory"] for row in rows]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limites", {"o cliente pediu aumento do limite", "O limite do meu cartão é baixo"}),
        ("creditos", {"Tem créditos a receber de 2025"}),
        ("crédito", {"Tem créditos a receber de 2025"}),
        ("cartão limite", {"O limite do meu cartão é baixo"}),
        ("limite cartao", {"O limite do meu cartão é baixo"}),
        ("CARTAO", {"O limite do meu cartão é baixo", "Cartão bloqueado em viagem"}),
        ("bloqueados", {"Cartão bloqueado em viagem"}),
        ("imit", {"o cliente pediu aumento do limite", "O limite do meu cartão é baixo"}),
        ("Pix para", {"prefere PIX para pagar contas"}),
        ("débitos automáticos", {"quer débito automático"}),
        ("convenio", {"código a_b do convênio", "código axb do convênio"}),
        ("transferência", set()),
    ],
)
def test_words_and_substrings_ignoring_case_and_accents(
    db: Database, query: str, expected: set[str]
) -> None:
    assert set(found(db, query)) == expected


@pytest.mark.parametrize(
    "query", ["limite", "LIMITE", "do ", "ão", "2025", "%", "_", "a_b", "100%", "r", " ", "?!"]
)
def test_finds_everything_agnos_ilike_finds(db: Database, query: str) -> None:
    with db.pool.connection() as conn:
        ilike = {
            row["memory"]
            for row in conn.execute(
                "SELECT memory FROM user_memories WHERE memory ILIKE %s", [f"%{query}%"]
            )
        }
    literal = {text for text in ilike if query.lower() in text.lower()}  # % and _ literal
    assert literal <= set(found(db, query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("100%", {"cobrança de 100% da fatura"}),
        ("%", {"cobrança de 100% da fatura"}),
        ("a_b", {"código a_b do convênio"}),
        ("_", {"código a_b do convênio"}),
        ("C:\\dados", {"pasta C:\\dados\\extratos"}),
        ("\\", {"pasta C:\\dados\\extratos"}),
        ("?!", {"perguntou?! e não esperou"}),
        ("...", set()),
        ("'; DROP TABLE user_memories; --", set()),
    ],
)
def test_wildcards_backslashes_and_punctuation_are_literal(
    db: Database, query: str, expected: set[str]
) -> None:
    assert set(found(db, query)) == expected
    assert len(found(db, "")) == len(MEMORIES)  # and nothing was touched


@pytest.mark.parametrize("query", [None, ""])
def test_no_query_finds_every_memory_like_agnos_empty_ilike(
    db: Database, query: str | None
) -> None:
    assert sorted(found(db, query)) == sorted(MEMORIES)
    assert sorted(found(db, query, user_id="u-0")) == sorted(MEMORIES[::2])


def test_blanks_are_a_substring_like_any_other(db: Database) -> None:
    assert found(db, "   ") == []  # no memory holds three blanks, and no word to match
    assert set(found(db, " do ")) == {m for m in MEMORIES if " do " in m}


def folded(text: str) -> str:
    """Lower-cased, accents removed (what search_folded does, for these texts)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def test_stop_words_alone_match_as_substrings_only(db: Database) -> None:
    assert set(found(db, "de")) == {m for m in MEMORIES if "de" in folded(m)}  # "débito" too
    assert "quer débito automático" in found(db, "de")


def test_user_and_topics_narrow_the_search(db: Database) -> None:
    assert found(db, "limite", user_id="u-1") == ["O limite do meu cartão é baixo"]
    assert found(db, "limite", user_id="u-9") == []
    # topics: every one of them (Agno's filter), t0 on memories 0, 3, 6, 9
    assert found(db, "limite", topics=["t", "t0"]) == ["o cliente pediu aumento do limite"]
    assert found(db, "limite", topics=["t0", "t1"]) == []
    assert len(found(db, None, topics=["t2"])) == 4


def test_order_limit_offset_and_total(db: Database) -> None:
    by = {
        (sort_by, sort_order): found(db, "cobrança", sort_by=sort_by, sort_order=sort_order)
        for sort_by in ("created_at", "updated_at")
        for sort_order in ("asc", "desc", None)
    }
    older, newer = "cobrança de 100% da fatura", "cobrança de 1000 reais"  # created 5, 6 days in
    assert by["created_at", "asc"] == [older, newer]
    assert by["created_at", "desc"] == by["created_at", None] == [newer, older]
    assert by["updated_at", "asc"] == [newer, older]  # updated 30 - n days in
    assert by["updated_at", "desc"] == [older, newer]
    page = db.queries.search_memories(
        query="", **(ARGS | {"sort_by": "created_at", "sort_order": "asc", "limit": 3, "offset": 3})
    )
    assert [row["memory"] for row in page] == MEMORIES[3:6]
    assert {row["total"] for row in page} == {len(MEMORIES)}


def test_order_by_text_and_no_rank_computed_unless_by_relevance(db: Database) -> None:
    convenio = ["código a_b do convênio", "código axb do convênio"]
    assert found(db, "convenio", sort_by="memory", sort_order="asc") == convenio
    assert found(db, "convenio", sort_by="memory") == convenio[::-1]
    assert found(db, "", sort_by="user_id", sort_order="asc")[:6] == MEMORIES[::2][:6]
    rows = db.queries.search_memories(query="limite", **ARGS | {"sort_by": "created_at"})
    assert [row["rank"] for row in rows] == [None, None]


def test_agent_and_team_as_pagbank_db_stores_them(db: Database) -> None:
    with db.pool.connection() as conn:
        conn.execute(
            "UPDATE user_memories SET metadata = jsonb_build_object('agno', jsonb_build_object("
            "'rest', jsonb_build_object('agent_id', 'cartoes', 'team_id', 'ana'))) "
            "WHERE memory LIKE 'O limite%'"
        )
    assert found(db, "limite", agent_id="cartoes") == ["O limite do meu cartão é baixo"]
    assert found(db, "limite", team_id="ana", agent_id="cartoes") == [
        "O limite do meu cartão é baixo"
    ]
    assert found(db, "limite", team_id="pix") == []


def test_relevance_puts_word_matches_first(db: Database) -> None:
    rows = db.queries.search_memories(query="limite", **ARGS)
    assert [row["rank"] > 0 for row in rows] == [True, True]
    # "cartao": a word of both memories holding "cartão" / "Cartão", accents and case ignored
    rows = db.queries.search_memories(query="cartao", **ARGS | {"sort_by": "relevance"})
    assert [row["rank"] > 0 for row in rows] == [True, True]
    # "imit" only inside words: found as a substring, rank 0
    assert [row["rank"] for row in db.queries.search_memories(query="imit", **ARGS)] == [0, 0]
    # a word match before a substring-only one, newer as it is
    db.queries.add_memory(
        id=None, user_id="u-1", memory="sublimite aprovado", memory_tags=None,
        business_units=None, importance_score=None, metadata=None,
    )  # fmt: skip
    assert found(db, "limite", user_id="u-1") == [
        "O limite do meu cartão é baixo",
        "sublimite aprovado",
    ]
    assert found(db, "limite", user_id="u-1", sort_by="updated_at")[0] == "sublimite aprovado"


def test_an_unknown_order_is_an_error_naming_the_query(db: Database) -> None:
    # the value itself is left out of the message, as every input value is (customer data)
    with pytest.raises(QueryError, match=r"search_memories.*memory_search_order.*22P02") as raised:
        found(db, "limite", sort_by="importance")
    assert "importance" not in str(raised.value)
    assert len(found(db, "")) == len(MEMORIES)


# --- the plan -------------------------------------------------------------------------------

LOAD = """
INSERT INTO user_memories (user_id, memory, memory_tags)
SELECT 'u-' || i % 1000,
       (ARRAY['o cliente prefere PIX', 'pediu aumento do limite do cartão',
              'tem créditos a receber', 'reclamou da fatura'])[i % 4 + 1] || ' ' || i,
       ARRAY['t' || i % 100]
FROM generate_series(1, 20000) i;
ANALYZE user_memories;
"""


@pytest.fixture(scope="module")
def loaded(server_dsn: str, template_db: str) -> Iterator[psycopg.Connection[Any]]:
    """20,000 memories, analysed."""
    for dsn in fresh_database(server_dsn, template_db):
        with psycopg.connect(dsn) as conn:
            conn.execute(LOAD)
            conn.commit()
            yield conn


def indexes_in(plan: dict[str, Any]) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= indexes_in(child)
    return found


def plan_of(conn: psycopg.Connection[Any], query: str, **args: Any) -> dict[str, Any]:
    statement = QUERIES["search_memories"]
    row = conn.execute(
        "EXPLAIN (FORMAT JSON) " + statement.compiled.sql,
        statement.bind({"query": query, **(ARGS | args)}),
    ).fetchone()
    assert row is not None
    return row[0][0]["Plan"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("query", ["crédito 17", "limites", "999"])
def test_the_plan_uses_both_search_indexes(loaded: psycopg.Connection[Any], query: str) -> None:
    assert {
        "idx_user_memories_memory_words",
        "idx_user_memories_memory_trgm",
    } <= indexes_in(plan_of(loaded, query))
    topics = indexes_in(plan_of(loaded, query, topics=["t7"]))
    assert "idx_user_memories_memory_words" in topics or "idx_user_memories_tags" in topics


def test_the_indexes_give_the_answers_a_sequential_scan_gives(
    loaded: psycopg.Connection[Any],
) -> None:
    with loaded.transaction(force_rollback=True):
        conn = loaded
        statement = QUERIES["search_memories"]

        def ids(query: str) -> list[Any]:
            args = statement.bind({"query": query, **ARGS})
            return [row[0] for row in conn.execute(statement.compiled.sql, args)]

        with_indexes = {q: ids(q) for q in ("créditos 18", "limites", "999", "CARTAO", "")}
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        assert {q: ids(q) for q in with_indexes} == with_indexes
        assert len(with_indexes["créditos 18"]) == 1 and len(with_indexes["limites"]) == 5000


# --- a login that may not create the extensions ---------------------------------------------


@pytest.fixture
def limited_login(empty_dsn: str) -> Iterator[str]:
    """A login that may create tables in the public schema but not extensions (no CREATE on
    the database), on an empty database."""
    role = "memory_search_limited"
    with psycopg.connect(empty_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    try:
        yield make_conninfo(empty_dsn, user=role, password=None)
    finally:
        with psycopg.connect(empty_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_without_the_extensions_the_migration_says_what_to_run(
    empty_dsn: str, limited_login: str
) -> None:
    with pytest.raises(MigrationError) as raised:
        migrations.apply(limited_login)
    message = str(raised.value)
    assert "0009.create-memory-search cannot create the extension unaccent" in message
    assert "permission denied" in message and "CREATE EXTENSION unaccent;" in message
    assert [s.id for s in migrations.status(limited_login) if s.applied_at] == BEFORE_0009
    with psycopg.connect(empty_dsn, autocommit=True) as admin:  # what the message asks for
        admin.execute("CREATE EXTENSION unaccent")
        admin.execute("CREATE EXTENSION pg_trgm")
    assert migrations.apply(limited_login) == FROM_0009
    with Database.open(limited_login, max_size=1) as db:
        db.queries.add_memory(
            id=None, user_id="u-1", memory="Tem créditos", memory_tags=None,
            business_units=None, importance_score=None, metadata=None,
        )  # fmt: skip
        assert [r["memory"] for r in db.queries.search_memories(query="credito", **ARGS)] == [
            "Tem créditos"
        ]
    # the rollback drops what the migration made, and keeps the extensions it did not create
    assert migrations.rollback(limited_login, to=BEFORE_0009[-1]) == FROM_0009[::-1]
    with psycopg.connect(empty_dsn) as admin:
        kept = admin.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall()
        config = admin.execute("SELECT to_regclass('idx_user_memories_memory_trgm')").fetchone()
    assert kept == [("pg_trgm",), ("plpgsql",), ("unaccent",)] and config == (None,)


def test_the_rollback_drops_the_extensions_it_created(db_dsn: str) -> None:
    assert migrations.rollback(db_dsn, to=BEFORE_0009[-1]) == FROM_0009[::-1]
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute(
            "SELECT extname FROM pg_extension UNION ALL "
            "SELECT cfgname FROM pg_ts_config WHERE cfgname = 'pagbank_portuguese'"
        ).fetchall()
    assert left == [("plpgsql",)]


def test_the_rollback_keeps_an_extension_other_objects_use(db_dsn: str) -> None:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("CREATE INDEX notes_trgm ON notes USING GIN (body gin_trgm_ops)")
    assert migrations.rollback(db_dsn, to=BEFORE_0009[-1]) == FROM_0009[::-1]
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall()
        assert left == [("pg_trgm",), ("plpgsql",)]
        conn.execute("DROP TABLE notes")
    assert migrations.apply(db_dsn) == FROM_0009


def test_a_first_import_defers_the_search_indexes_and_builds_them_the_same(db_dsn: str) -> None:
    definitions = (
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'user_memories' ORDER BY 1"
    )
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        before = conn.execute(definitions).fetchall()
        deferred = conn.execute("SELECT defer_secondary_indexes('user_memories')").fetchall()
        assert {("idx_user_memories_memory_words",), ("idx_user_memories_memory_trgm",)} <= set(
            deferred
        )
        restored = conn.execute("SELECT restore_deferred_indexes('user_memories')").fetchall()
        assert sorted(restored) == sorted(deferred)
        assert conn.execute(definitions).fetchall() == before
