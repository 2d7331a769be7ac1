"""Every atomic statement under many threads at once: counts must be exact, nothing lost."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pagbank_pg import Database, QueryError

THREADS = 16
EACH = 50


@pytest.fixture
def db(db_dsn: str) -> Iterator[Database]:
    with Database.open(db_dsn, min_size=THREADS, max_size=THREADS, timeout=30) as database:
        yield database


def hammer(work: Callable[[int, int], Any]) -> list[Any]:
    """Run work(thread, i) EACH times in each of THREADS threads; return every result."""

    def thread(t: int) -> list[Any]:
        return [work(t, i) for i in range(EACH)]

    with ThreadPoolExecutor(THREADS) as pool:
        return [r for results in pool.map(thread, range(THREADS)) for r in results]


@pytest.mark.parametrize(
    ("query", "key"), [("append_agent_messages", "agent_id"), ("append_team_messages", "team_id")]
)
def test_concurrent_appends_lose_nothing(db: Database, query: str, key: str) -> None:
    append = getattr(db.queries, query)
    hammer(lambda t, i: append(session_id="s-1", **{key: "x"}, messages=[{"t": t, "i": i}]))
    getter = db.queries.get_agent_session if key == "agent_id" else db.queries.get_team_session
    messages = getter(session_id="s-1", **{key: "x"})["messages"]
    assert len(messages) == THREADS * EACH
    assert sorted((m["t"], m["i"]) for m in messages) == [
        (t, i) for t in range(THREADS) for i in range(EACH)
    ]
    for t in range(THREADS):  # each thread's messages stay in its own order
        assert [m["i"] for m in messages if m["t"] == t] == list(range(EACH))


def test_concurrent_touches_are_all_counted(db: Database) -> None:
    db.queries.create_user_session(
        session_id="s-1", user_id="u-1", team_id=None, session_context=None, metadata=None
    )
    hammer(lambda t, i: db.queries.touch_user_session(session_id="s-1", context={f"t{t}": i}))
    row = db.queries.get_user_session(session_id="s-1")
    assert row["interaction_count"] == THREADS * EACH
    assert row["session_context"] == {f"t{t}": EACH - 1 for t in range(THREADS)}


def test_concurrent_recorders_lose_nothing(db: Database) -> None:
    # Every thread starts with the same pattern, which none has created yet.
    hammer(
        lambda t, i: db.queries.record_pattern(
            pattern_type="intent",
            pattern_data={"i": i % 5},
            user_id=f"u-{t}",
            business_unit=f"unit-{i % 3}",
        )
    )
    patterns = db.queries.top_patterns(limit=100)
    assert len(patterns) == 5
    assert sum(p["occurrence_count"] for p in patterns) == THREADS * EACH
    assert all(p["occurrence_count"] == THREADS * EACH // 5 for p in patterns)
    for pattern in patterns:
        assert sorted(pattern["user_ids"]) == sorted(f"u-{t}" for t in range(THREADS))
        assert sorted(pattern["business_units"]) == ["unit-0", "unit-1", "unit-2"]


def test_concurrent_upserts_of_a_new_session_all_succeed(db: Database) -> None:
    rows = hammer(
        lambda t, i: db.queries.upsert_agent_session(
            session_id=f"s-{i}",
            agent_id="pix",
            agent_name=f"writer {t}",
            user_id="u-1",
            business_unit=None,
            messages=[{"t": t}],
            agent_session_state=None,
            metadata=None,
        )
    )
    assert len(rows) == THREADS * EACH
    assert db.queries.count_agent_sessions() == EACH
    assert len({row["id"] for row in rows}) == EACH


def test_concurrent_resolutions_exactly_one_wins(db: Database) -> None:
    for n in range(EACH):
        db.queries.open_escalation(
            ticket_id=f"T-{n}",
            session_id="s-1",
            user_id="u-1",
            escalation_reason=None,
            escalation_type="explicit_request",
            conversation_context=None,
            metadata=None,
        )

    def resolve(t: int, i: int) -> str:
        try:
            db.queries.resolve_escalation(ticket_id=f"T-{i}", resolution_notes=f"by {t}")
            return "resolved"
        except QueryError as error:
            assert error.sqlstate == "55000"
            return "refused"

    outcomes = hammer(resolve)
    assert outcomes.count("resolved") == EACH
    assert outcomes.count("refused") == (THREADS - 1) * EACH
    assert db.queries.open_escalations(limit=1000) == []
