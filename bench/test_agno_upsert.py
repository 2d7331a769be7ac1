"""What the merge costs: one Agno session upsert through PostgresStorage at 10 and 200 runs per
session, merged with what is stored (`upsert`, under the session's lock), against writing the
session as given (`replace`) and against the write as the storage did it before the merge (the
rows, then the session read back; no lock: the last writer won).

    pytest bench/test_agno_upsert.py --benchmark-only --benchmark-group-by=group
"""

import copy
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from agno.storage.session.agent import AgentSession

from pagbank_pg import Database, mapping
from pagbank_pg.agno import PostgresStorage
from pagbank_pg.agno.storage import _FIELDS
from pagbank_pg.query import internal_queries
from pagbank_pg.query.types import AgnoQueries

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "agno-1.7" / "pagbank.db"


def _sample_run() -> dict[str, Any]:
    """A run Agno 1.7 wrote (two messages, metrics), from the shared sample file."""
    with sqlite3.connect(SAMPLE) as conn:
        memory = conn.execute("SELECT memory FROM agent_sessions LIMIT 1").fetchone()[0]
    return cast(dict[str, Any], orjson.loads(memory)["runs"][0])


def session_of(runs: int) -> AgentSession:
    sample = _sample_run()
    made = []
    for index in range(runs):
        run = copy.deepcopy(sample)
        run.update(run_id=str(uuid.uuid4()), agent_id="pix", created_at=1_795_000_000 + index)
        run["messages"][0]["content"] = f"turn {index}: {run['messages'][0]['content']}"
        made.append(run)
    return AgentSession(
        session_id=f"bench-{runs}-{uuid.uuid4().hex[:8]}",
        agent_id="pix",
        user_id="u-1",
        memory={"runs": made, "summaries": {}, "memories": {}},
        session_data={"session_state": {"turns": runs}},
        agent_data={"name": "Especialista pix"},
    )


@pytest.fixture(scope="module")
def storage(bench_dsn: str) -> Iterator[PostgresStorage]:
    with Database.connect(bench_dsn, min_size=1, max_size=1) as db:
        yield PostgresStorage("agent", db=db)


def _rows_only(storage: PostgresStorage, session: AgentSession) -> Any:
    """The write before the merge: the rows of the session as given, in one transaction, then
    the session read back (what the storage returned)."""
    given = session.to_dict()
    values = {column: given.get(column) for column in _FIELDS["agent"]}
    rows = mapping.agno_session_rows(
        values, "agent", mapping.Source("pagbank.db", "agent_sessions")
    )
    with storage.db.transaction() as tx:
        save = cast(AgnoQueries, tx.bind(internal_queries("agno"))).save_agent_session_row
        for row in rows:
            save(**{p: row[p] for p in save.params})
    return storage.read(session.session_id)


@pytest.mark.parametrize("runs", [10, 200])
@pytest.mark.parametrize("how", ["merge (upsert)", "as given (replace)", "rows only (before)"])
def test_upsert(benchmark: Any, storage: PostgresStorage, runs: int, how: str) -> None:
    benchmark.group = f"agno upsert: {runs} runs"
    session = session_of(runs)
    write = {
        "merge (upsert)": storage.upsert,
        "as given (replace)": storage.replace,
        "rows only (before)": lambda s: _rows_only(storage, s),
    }[how]
    write(session)
    stored = storage.read(session.session_id)
    assert stored is not None and len(stored.memory["runs"]) == runs
    last = session.memory["runs"][-1]

    def turn() -> None:  # Agno's write at the end of a run: the last run, updated
        last["status"] = "COMPLETED" if last.get("status") != "COMPLETED" else "RUNNING"
        write(session)

    benchmark.pedantic(turn, rounds=60 if runs == 200 else 300, warmup_rounds=5)
    again = storage.read(session.session_id)
    assert again is not None and len(again.memory["runs"]) == runs  # a run replaced, not added
    assert again.memory["runs"][-1]["status"] == last["status"]
