"""Each table's columns are declared once (pagbank_pg/transfer/tables.py); every statement and
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
from pagbank_pg.transfer.exporter import DDL
from pagbank_pg.transfer.tables import SOURCE_COLUMNS, TARGETS, check_copy, required_columns


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_the_copy_statements_copy_the_declared_columns(kind: str) -> None:
    transfer = internal_queries("transfer")
    table = TARGETS[kind].table
    for name in (f"copy_stage_{table}", f"copy_{table}"):
        check_copy(transfer[name], TARGETS[kind])  # raises on a mismatch


def test_a_copy_statement_that_disagrees_is_refused_with_its_place() -> None:
    (query,) = parse_queries(
        "-- name: copy_x :copy\nCOPY user_memories (id, user_id) FROM STDIN;", "x.sql"
    )
    with pytest.raises(QueryLoadError, match=r"^x.sql:1: query copy_x copies \(id, user_id\)"):
        check_copy(query, TARGETS["memory"])


@pytest.mark.parametrize("name", ["save_agent_session_row", "save_team_session_row"])
def test_the_agno_statements_write_declared_columns(name: str) -> None:
    query = internal_queries("agno")[name]
    kind = "team" if "team" in name else "agent"
    assert set(query.params) <= set(TARGETS[kind].columns)


@pytest.mark.parametrize("kind", sorted(SOURCE_COLUMNS))
def test_the_exported_tables_have_the_declared_columns(kind: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(DDL[kind].replace("{t}", "t"))
    columns = tuple(row[1] for row in conn.execute('PRAGMA table_info("t")'))
    assert columns == SOURCE_COLUMNS[kind]
    assert required_columns(kind) <= set(columns)


@pytest.mark.parametrize(("kind", "record"), [("agent", AgentSession), ("team", TeamSession)])
def test_agnos_session_records_have_the_declared_columns(kind: str, record: type) -> None:
    fields = {f.name for f in dataclasses.fields(record)}
    assert required_columns(kind) <= fields & set(SOURCE_COLUMNS[kind])
    assert set(_FIELDS[kind]) == fields & set(SOURCE_COLUMNS[kind])
