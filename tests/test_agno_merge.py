"""The merge of two writers' Agno sessions, pure: runs kept by run_id in creation order, the
rest last writer wins per key. No server."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pagbank_pg.agno import merge_sessions
from pagbank_pg.agno.merge import merge_runs


def run(run_id: str, created: int, text: str = "") -> dict[str, Any]:
    return {"run_id": run_id, "created_at": created, "content": text or run_id}


def session(runs: list[dict[str, Any]], **columns: Any) -> dict[str, Any]:
    return {"session_id": "s", "memory": {"runs": runs}, **columns}


def test_runs_of_both_writers_are_kept_in_creation_order() -> None:
    base = [run("r1", 10)]
    stored = session([*base, run("a", 12)])  # writer A landed first
    incoming = session([*base, run("b", 11)])  # writer B read before A wrote
    merged = merge_sessions(stored, incoming)
    assert [r["run_id"] for r in merged["memory"]["runs"]] == ["r1", "b", "a"]


def test_a_run_in_both_is_the_incoming_one() -> None:
    stored = session([run("r1", 10, "RUNNING")])
    merged = merge_sessions(stored, session([run("r1", 10, "COMPLETED")]))
    assert merged["memory"]["runs"] == [run("r1", 10, "COMPLETED")]


def test_a_run_without_a_time_keeps_its_place_and_one_without_an_id_is_kept_once() -> None:
    anonymous = {"content": "no id"}
    stored = [run("r1", 10), {"run_id": "x"}, anonymous]
    merged = merge_runs(stored, [run("r1", 10), anonymous, run("r2", 5)])
    assert merged == [run("r2", 5), run("r1", 10), {"run_id": "x"}, anonymous]


def test_everything_else_is_last_writer_wins_per_key() -> None:
    stored = session(
        [],
        user_id="u-1",
        session_data={"session_state": {"a": 1, "b": 1}, "session_metrics": {"t": 1}},
        extra_data={"kept": True},
        created_at=100,
    )
    incoming = session(
        [], user_id="u-1", session_data={"session_state": {"b": 2, "c": 2}}, created_at=200
    )
    incoming["memory"]["summaries"] = {"x": 1}
    merged = merge_sessions(stored, incoming)
    assert merged["session_data"] == {
        "session_state": {"a": 1, "b": 2, "c": 2},
        "session_metrics": {"t": 1},
    }
    assert merged["extra_data"] == {"kept": True}  # the incoming session had no extra_data
    assert merged["memory"]["summaries"] == {"x": 1}
    assert merged["created_at"] == 100


def test_legacy_messages_are_appended_without_duplicates() -> None:
    one, two, three = ({"role": "user", "content": c} for c in "123")
    stored = {"memory": {"messages": [one, two]}}
    merged = merge_sessions(stored, {"memory": {"messages": [one, three]}})
    assert merged["memory"]["messages"] == [one, two, three]


@given(
    shared=st.integers(0, 5),
    mine=st.lists(st.integers(0, 1000), max_size=6),
    theirs=st.lists(st.integers(0, 1000), max_size=6),
)
def test_racing_writers_keep_every_run_each_in_its_own_order(
    shared: int, mine: list[int], theirs: list[int]
) -> None:
    base = [run(f"s{i}", i) for i in range(shared)]
    a = [run(f"a{i}", t) for i, t in enumerate(sorted(mine))]
    b = [run(f"b{i}", t) for i, t in enumerate(sorted(theirs))]
    merged = merge_runs(base + a, base + b)
    ids = [r["run_id"] for r in merged]
    assert sorted(ids) == sorted(r["run_id"] for r in base + a + b)
    for prefix in "sab":
        own = [i for i in ids if i[0] == prefix]
        assert own == sorted(own, key=lambda i: int(i[1:]))
