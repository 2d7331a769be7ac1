"""Memory search (migration 0009) at 100,000 memories: `search_memories` with its two GIN
indexes, the same statement in a database where they were dropped, and Agno's own search
(`ILIKE '%…%'`, a count then a page) for reference. Each case first checks that both
databases give the same answer.

    pytest bench/test_memory_search_speed.py --benchmark-only
"""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pagbank_pg import Database

from .conftest import fresh_database

ROWS = 100_000
# Memories of 6 to 11 words drawn from a banking vocabulary, the first words far more often
# than the last (random()^3), then the row number; every 1000th mentions a refund (estorno).
LOAD = """
SELECT setseed(0.42);
INSERT INTO user_memories (id, user_id, memory, memory_tags, created_at, updated_at)
SELECT md5('m' || i)::uuid, 'u-' || i % 10000,
       (SELECT string_agg(w[1 + floor(power(random(), 3) * array_length(w, 1))::int], ' '
                          ORDER BY g)  -- g: an aggregate of this subquery, per row
        FROM generate_series(1, 6 + i % 6) g)
       || CASE WHEN i % 1000 = 0 THEN ' pediu estorno' ELSE '' END || ' ' || i,
       ARRAY['t' || i % 100], now() - i * interval '1 minute', now() - i * interval '1 minute'
FROM generate_series(1, {rows}) i,
     LATERAL (SELECT ARRAY[
         'o', 'cliente', 'pediu', 'aumento', 'do', 'limite', 'cartão', 'crédito', 'débito',
         'fatura', 'pix', 'transferência', 'conta', 'poupança', 'investimento', 'empréstimo',
         'juros', 'parcela', 'boleto', 'pagamento', 'atrasado', 'bloqueado', 'senha',
         'aplicativo', 'maquininha', 'vendas', 'taxa', 'saque', 'depósito', 'extrato',
         'reclamou', 'prefere', 'quer', 'cancelar', 'contestar', 'compra', 'viagem',
         'internacional', 'cashback', 'salário']) v(w);
ANALYZE user_memories;
"""
SEARCH_INDEXES = ("idx_user_memories_memory_words", "idx_user_memories_memory_trgm")
# case: the query (a page of 20, by relevance)
CASES = {
    "rare word form": "estornos",
    "common word, no accent": "creditos",
    "two words": "cartão limite",
    "substring": "4242",
}
AGNO = """
SELECT count(*) FROM user_memories WHERE memory ILIKE %(pattern)s;
"""
AGNO_PAGE = "SELECT * FROM user_memories WHERE memory ILIKE %(pattern)s LIMIT 20"


@pytest.fixture(scope="module")
def databases(bench_server: str) -> Iterator[dict[bool, Database]]:
    """with the indexes: True; without: False (the same rows, the two indexes dropped)."""
    opened: dict[bool, Database] = {}
    makers = [fresh_database(bench_server), fresh_database(bench_server)]
    try:
        for with_indexes, maker in zip((True, False), makers, strict=True):
            dsn = next(maker)
            with psycopg.connect(dsn, autocommit=True) as conn:
                if not with_indexes:
                    for index in SEARCH_INDEXES:
                        conn.execute(f"DROP INDEX {index}")
                conn.execute(LOAD.format(rows=ROWS))
            opened[with_indexes] = Database.open(dsn, min_size=1, max_size=1)
        yield opened
    finally:
        for db in opened.values():
            db.close()
        for maker in makers:
            for _ in maker:  # drops the database
                pass


def search(db: Database, query: str) -> list[dict[str, Any]]:
    return db.queries.search_memories(
        query=query, user_id=None, agent_id=None, team_id=None, topics=None, sort_by=None,
        sort_order=None, limit=20, offset=None,
    )  # fmt: skip


def plan_indexes(db: Database, query: str) -> set[str]:
    statement = db.queries.search_memories.query
    args = {"query": query, "user_id": None, "agent_id": None, "team_id": None, "topics": None,
            "sort_by": None, "sort_order": None, "limit": 20, "offset": None}  # fmt: skip
    with db.pool.connection() as conn:
        row = conn.execute(
            "EXPLAIN (FORMAT JSON) " + statement.compiled.sql, statement.bind(args)
        ).fetchone()
    assert row is not None
    plan = str(next(iter(row.values())))
    return {index for index in SEARCH_INDEXES if index in plan}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("with_indexes", [True, False], ids=["with-indexes", "without-indexes"])
def test_memory_search(
    benchmark: Any, databases: dict[bool, Database], case: str, with_indexes: bool
) -> None:
    query = CASES[case]
    db = databases[with_indexes]
    expected = [(r["id"], r["total"]) for r in search(databases[True], query)]
    assert expected, f"{case}: the benchmark's rows hold no match for {query!r}"
    assert [(r["id"], r["total"]) for r in search(db, query)] == expected
    used = plan_indexes(db, query)
    assert with_indexes or not used
    benchmark.group = f"memory search: {case}"
    benchmark.extra_info.update(
        case=case, query=query, rows=ROWS, with_indexes=with_indexes, matches=expected[0][1],
        indexes_used=sorted(used),
    )  # fmt: skip
    benchmark.pedantic(search, (db, query), rounds=20 if with_indexes else 5, warmup_rounds=1)


@pytest.mark.parametrize("case", list(CASES))
def test_agno_ilike_search(benchmark: Any, databases: dict[bool, Database], case: str) -> None:
    """Agno's PostgresDb: a count, then a page, both `memory ILIKE '%query%'` (no index)."""
    query = CASES[case]
    pattern = {"pattern": f"%{query}%"}

    def agno_search() -> tuple[int, list[Any]]:
        with databases[True].pool.connection() as conn:
            count = conn.execute(AGNO, pattern).fetchone()
            page = conn.execute(AGNO_PAGE, pattern).fetchall()
        assert count is not None
        return next(iter(count.values())), page

    found, _ = agno_search()
    ours = search(databases[True], query)
    assert found <= ours[0]["total"]  # ours finds at least what Agno's finds
    benchmark.group = f"memory search: {case}"
    benchmark.extra_info.update(case=case, query=query, rows=ROWS, agno_matches=found)
    benchmark.pedantic(agno_search, rounds=5, warmup_rounds=1)
