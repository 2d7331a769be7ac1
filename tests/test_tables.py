"""Each table's columns are declared once (pagbank_pg/transfer/kinds.py); every statement and
DDL that lists them agrees with the declaration. No server."""

import dataclasses
import sqlite3

import pytest
from agno.storage.session.agent import AgentSession
from agno.storage.session.team import TeamSession

from pagbank_pg import QueryLoadError
from pagbank_pg.agno.storage import _FIELDS
from pagbank_pg.query import internal_queries
from pagbank_pg.query.loader import parse_queries
from pagbank_pg.transfer.kinds import KINDS, check_copy


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_copy_statements_copy_the_declared_columns(kind: str) -> None:
    transfer = internal_queries("transfer")
    table = KINDS[kind].target.table
    for name in (f"copy_stage_{table}", f"copy_{table}"):
        check_copy(transfer[name], KINDS[kind].target)  # raises on a mismatch


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_the_statements_its_name_leads_to(kind: str) -> None:
    transfer = internal_queries("transfer")
    verbs = ("copy_stage", "copy", "upsert_staged", "count_export", "export", "imported", "gone")
    for verb in (*verbs, "prune"):
        assert transfer[f"{verb}_{KINDS[kind].target.table}"].name.startswith(verb)


def test_a_copy_statement_that_disagrees_is_refused_with_its_place() -> None:
    (query,) = parse_queries(
        "-- name: copy_x :copy\nCOPY user_memories (id, user_id) FROM STDIN;", "x.sql"
    )
    with pytest.raises(QueryLoadError, match=r"^x.sql:1: query copy_x copies \(id, user_id\)"):
        check_copy(query, KINDS["memory"].target)


@pytest.mark.parametrize("name", ["save_agent_session_row", "save_team_session_row"])
def test_the_agno_statements_write_declared_columns(name: str) -> None:
    query = internal_queries("agno")[name]
    kind = "team" if "team" in name else "agent"
    assert set(query.params) <= set(KINDS[kind].target.columns)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_exported_tables_have_the_declared_columns(kind: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(KINDS[kind].ddl("t"))
    columns = tuple(row[1] for row in conn.execute('PRAGMA table_info("t")'))
    assert columns == KINDS[kind].source_columns
    assert KINDS[kind].required <= set(columns)


@pytest.mark.parametrize(("kind", "record"), [("agent", AgentSession), ("team", TeamSession)])
def test_agnos_session_records_have_the_declared_columns(kind: str, record: type) -> None:
    fields = {f.name for f in dataclasses.fields(record)}
    assert KINDS[kind].required <= fields & set(KINDS[kind].source_columns)
    assert set(_FIELDS[kind]) == fields & set(KINDS[kind].source_columns)
