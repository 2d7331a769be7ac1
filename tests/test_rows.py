"""The row types (`query/rows.py`) are the migrated tables, field for field, and every public
statement that returns a table's whole rows is typed with them (and only those are)."""

import re
import types
from datetime import datetime
from typing import Any, get_type_hints
from uuid import UUID

import psycopg
import pytest

from pagbank_pg import Database
from pagbank_pg.query.loader import compile_sql, load_queries
from pagbank_pg.query.rows import ROW_TYPES
from pagbank_pg.query.stubs import returned_table

PYTHON_TYPES = {  # what psycopg gives for each column type (JSON loaded: Any)
    "uuid": UUID,
    "text": str,
    "character varying": str,
    "timestamp with time zone": datetime,
    "jsonb": Any,
    "text[]": list[str],
    "double precision": float,
    "integer": int,
    "boolean": bool,
}


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, Any]:
    """The table's columns in order, each with the Python type a row of it holds."""
    found = conn.execute(
        "SELECT attname, format_type(atttypid, NULL), attnotnull FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    ).fetchall()
    return {
        name: PYTHON_TYPES[kind] if not_null or kind == "jsonb" else PYTHON_TYPES[kind] | None
        for name, kind, not_null in found
    }


def _described(conn: psycopg.Connection[Any], statement: str) -> list[str]:
    """The names of the columns `statement` returns, as the server describes it (unrun)."""
    compiled = compile_sql(statement)
    numbered = re.sub(
        r"%\((\w+)\)s", lambda m: f"${compiled.params.index(m[1]) + 1}", compiled.sql
    ).replace("%%", "%")
    conn.pgconn.prepare(b"", numbered.encode())
    result = conn.pgconn.describe_prepared(b"")
    return [result.fname(i).decode() for i in range(result.nfields)]  # type: ignore[union-attr]


@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_each_row_type_is_its_migrated_table(db_dsn: str, table: str) -> None:
    with psycopg.connect(db_dsn) as conn:
        columns = _columns(conn, table)
    assert get_type_hints(ROW_TYPES[table]) == columns
    assert list(get_type_hints(ROW_TYPES[table])) == list(columns)  # in the table's order


def test_the_statements_typed_with_a_row_type_return_exactly_its_table(db_dsn: str) -> None:
    typed = {}
    with psycopg.connect(db_dsn) as conn:
        whole = {table: list(_columns(conn, table)) for table in ROW_TYPES}
        for query in load_queries().values():
            returned = _described(conn, query.sql)
            table = returned_table(query)
            if table is not None:
                typed[query.name] = table
                assert returned == whole[table], query.name
            elif query.kind in ("one", "many"):
                assert returned not in whole.values(), f"{query.name} returns a whole row"
    # the statements of every table's file that return its rows are typed, beyond a doubt
    assert typed["get_user_session"] == "user_sessions"
    assert typed["touch_user_session"] == "user_sessions"
    assert typed["upsert_agent_session"] == "agent_sessions"
    assert set(typed.values()) == set(ROW_TYPES)


def test_a_row_read_holds_the_types_its_row_type_names(db_dsn: str) -> None:
    with Database.open(db_dsn) as db:
        db.queries.upsert_agent_session(
            session_id="s-1", agent_id="cartoes", agent_name="Cartões", user_id="u-1",
            business_unit="cartoes", messages=[{"role": "user", "content": "oi"}],
            agent_session_state={}, metadata={},
        )  # fmt: skip
        row = db.queries.get_agent_session(session_id="s-1", agent_id="cartoes")
    assert row is not None
    for name, hint in get_type_hints(ROW_TYPES["agent_sessions"]).items():
        if hint is not Any:
            allowed = hint.__args__ if isinstance(hint, types.UnionType) else (hint,)
            assert isinstance(row[name], tuple(getattr(t, "__origin__", t) for t in allowed))
    assert row["messages"] == [{"role": "user", "content": "oi"}]
