"""LGPD (Brazil's data-protection law): export everything held about a user, and erase a user
so that it stays erased.

`forget_user` works in two steps. First it records the user and its sessions as erased
(keyed hashes in `erased_ids`, committed at once): from then on the `keep_erased_out` triggers
drop any row of theirs that a re-import, a dual write or an app replica in flight would
write. Then, in one transaction, it takes the locks of that user and of its sessions (the
writers in flight of those, and only those, are waited for: no other customer waits) and
deletes every row, in the six tables and in the schemas of Agno's own tables (`agno_schemas`,
where Agno 2/3's PostgresDb keeps workflow sessions, metrics, evals, traces, …: every table
of it with a user_id column, the spans of the user's traces, and the transcripts of its
sessions); its sessions in Agno's tables are recorded as erased too. What erasure cannot reach
is outside PostgreSQL: `REACH` says so, and the CLI prints it.

`export_user` streams: one table after another, one row at a time (COPY), into a file.
"""

import contextlib
import json
from collections.abc import Sequence
from typing import IO, Any, NamedTuple

import psycopg
from psycopg import sql

from .config import AGNO_SCHEMA, ERASURE_LOCK_TIMEOUT
from .errors import ErasureIncomplete, NothingToErase, QueryError
from .query import Database, Transaction, load_queries
from .query.base import translated
from .query.types import lgpd_queries

REACH = (
    "erasure reaches PostgreSQL only: this user's data may still be in the app's SQLite files, "
    "in files written by export-sqlite or export-user, in import reject files and in backups; "
    "delete it there too (a re-import of those SQLite files passes the user over)"
)

_GAVE_UP = ("55P03", "40P01")  # lock_not_available (the lock timeout), deadlock_detected

# The export's lists, in the document's order, and the statement streaming each.
EXPORTED = (
    ("user_sessions", "export_user_sessions"),
    ("team_sessions", "export_user_team_sessions"),
    ("agent_sessions", "export_user_agent_sessions"),
    ("user_memories", "export_user_memories"),
    ("escalation_history", "export_user_escalations"),
    ("interaction_patterns", "export_user_patterns"),
)


def absent_agno_schemas(db: Database, agno_schemas: Sequence[str] = (AGNO_SCHEMA,)) -> list[str]:
    """The schemas of `agno_schemas` that do not exist (an app on Agno 1.7 has none):
    forget-user and export-user pass them over."""
    lgpd = lgpd_queries(db)
    return [s for s in agno_schemas if not lgpd.agno_schema_exists(agno_schema=s)]


class _AgnoRows(NamedTuple):
    """A table of Agno's schemas that holds rows of a user."""

    name: str  # qualified, `schema.table`
    rows: sql.Composed  # `table t WHERE …`, the user's rows (parameters: `_agno_params`)
    sessions: bool  # it names sessions (a session_id column): the user's are found there


# How each kind of table finds a user's rows (agno_user_tables' `found_by`); {} is the schema's
# traces table.
_FOUND_BY = {
    "user": "t.user_id = %(user_id)s",
    "trace": "t.trace_id IN (SELECT x.trace_id FROM {} x WHERE x.user_id = %(user_id)s)",
    "session": "t.agno_session_id = ANY(%(session_ids)s)",
}


def _agno_tables(tx: Transaction, agno_schemas: Sequence[str]) -> list[_AgnoRows]:
    """Each table of Agno's schemas that holds rows of a user, in the order to delete in."""
    found = []
    for schema in dict.fromkeys(agno_schemas):
        for table in lgpd_queries(tx).agno_user_tables(agno_schema=schema):
            where = sql.SQL(_FOUND_BY[table["found_by"]]).format(
                sql.Identifier(schema, "agno_traces")
            )
            rows = sql.SQL("{} t WHERE {}").format(
                sql.Identifier(schema, table["table_name"]), where
            )
            found.append(_AgnoRows(f"{schema}.{table['table_name']}", rows, table["sessions"]))
    return found


def _agno_params(tx: Transaction, user_id: str, tables: Sequence[_AgnoRows]) -> dict[str, Any]:
    """The parameters of the tables' conditions: the user, and its session ids, those of the
    six tables and those Agno's tables name (workflow sessions), read before any is deleted.
    With no table of Agno's, the user alone."""
    if not tables:
        return {"user_id": user_id}
    named = [sql.SQL("SELECT t.session_id FROM {}").format(t.rows) for t in tables if t.sessions]
    sessions = sql.SQL(" UNION ").join(
        [sql.SQL("SELECT s FROM sessions_of_user(%(user_id)s) s"), *named]
    )
    params = {"user_id": user_id}
    found = tx.connection.execute(sql.SQL("SELECT ARRAY({}) AS ids").format(sessions), params)
    return {**params, "session_ids": [s for s in found.fetchone()["ids"] if s is not None]}


def _holds_agno_rows(tx: Transaction, tables: Sequence[_AgnoRows], params: Any) -> bool:
    """Whether any of Agno's tables holds a row of the user: one probe for all of them."""
    if not tables:
        return False
    some = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT FROM {}").format(t.rows) for t in tables)
    probe = sql.SQL("SELECT EXISTS ({}) AS held").format(some)
    return bool(tx.connection.execute(probe, params).fetchone()["held"])


def forget_user(
    db: Database,
    user_id: str,
    *,
    record_anyway: bool = False,
    lock_timeout: float = ERASURE_LOCK_TIMEOUT,
    agno_schemas: Sequence[str] = (AGNO_SCHEMA,),
) -> dict[str, Any]:
    """Erase `user_id` from the six tables and from Agno's own tables in `agno_schemas` (a
    schema that does not exist is passed over: `absent_agno_schemas`), and keep it out; how
    many rows each table lost (empty: it was erased before, and nothing of it is left).

    An id with no row is refused (NothingToErase: a typo would otherwise erase no one and
    drop that id's writes for good) unless `record_anyway`. ErasureIncomplete when a writer
    of the user holds its rows past `lock_timeout` seconds: run it again."""
    held = db.queries.held_about_user(user_id=user_id)
    with db.transaction() as tx:
        tables = _agno_tables(tx, agno_schemas)
        params = _agno_params(tx, user_id, tables)
        if held != "rows" and _holds_agno_rows(tx, tables, params):
            held = "rows"
    if held == "erased":
        return {}  # erased before, and nothing of it is left
    if held == "nothing" and not record_anyway:
        raise NothingToErase(
            f"nothing found for user {user_id!r}: no row of the six tables or of Agno's tables "
            f"(schemas {', '.join(agno_schemas)}) holds this id (a typo?); nothing was erased "
            "or recorded. To record the erasure anyway, so that no row of this id is ever "
            "written, pass --record-anyway"
        )
    lgpd_queries(db).record_erasure(user_id=user_id, session_ids=params.get("session_ids"))
    try:
        with db.transaction() as tx:
            lgpd = lgpd_queries(tx)
            lgpd.lock_for_erasure(user_id=user_id, lock_timeout=f"{lock_timeout * 1000:.0f}ms")
            tables = _agno_tables(tx, agno_schemas)
            params = _agno_params(tx, user_id, tables)  # with sessions begun meanwhile
            lgpd.record_erasure(user_id=user_id, session_ids=params.get("session_ids"))
            removed = tx.queries.forget_user(user_id=user_id)
            assert removed is not None  # one row of counts, always
            for table in tables:
                delete = sql.SQL("DELETE FROM {}").format(table.rows)
                removed[table.name] = tx.connection.execute(delete, params).rowcount
    except (QueryError, psycopg.Error) as error:  # psycopg's: a delete in Agno's tables
        if error.sqlstate not in _GAVE_UP:
            raise
        raise ErasureIncomplete(
            f"the erasure of user {user_id!r} is incomplete: a writer of this user held its "
            f"rows for over {lock_timeout:g} s ({error}); the user is recorded as erased, so no "
            "new row of it is written, but its rows are still there. Run the same command "
            "again to finish the erasure"
        ) from error
    return removed


def export_user(
    db: Database,
    user_id: str,
    out: IO[bytes],
    agno_schemas: Sequence[str] = (AGNO_SCHEMA,),
) -> dict[str, int]:
    """Write everything held about `user_id` to `out` as one JSON document (the user id, when,
    and a list of rows per table: the six tables, then each table of Agno's own in
    `agno_schemas` that holds rows of users, as `schema.table`), table by table and row by
    row, from one snapshot: the client holds one row at a time, whatever the size. Returns the
    rows of each list."""
    queries = load_queries()
    counts: dict[str, int] = {}
    with db.transaction() as tx:
        tx.queries.export_user_snapshot()
        header = tx.queries.export_user_header(user_id=user_id)
        assert header is not None
        out.write(b'{\n  "user_id": %s,\n  "exported_at": %s' % (
            header["user_id"].encode(), header["exported_at"].encode()
        ))  # fmt: skip
        lists: list[tuple[str, sql.Composable, Any, Any]] = []
        for key, name in EXPORTED:
            query = queries[name]
            text = query.compiled.sql.rstrip().rstrip(";")
            lists.append(
                (
                    key,
                    sql.SQL(f"COPY ({text}) TO STDOUT"),
                    query.bind({"user_id": user_id}),
                    translated(query),
                )
            )
        tables = _agno_tables(tx, agno_schemas)
        params = _agno_params(tx, user_id, tables)
        for table in tables:
            rows_copy = sql.SQL("COPY (SELECT to_jsonb(t)::text FROM {}) TO STDOUT").format(
                table.rows
            )
            lists.append((table.name, rows_copy, params, contextlib.nullcontext()))
        with tx.connection.cursor() as cursor:
            for key, copy_sql, params, errors in lists:
                out.write(b",\n  %s: [" % json.dumps(key).encode())  # a schema name: any text
                counts[key] = 0
                with errors, cursor.copy(copy_sql, params) as copy:
                    copy.set_types(["text"])
                    for (row,) in copy.rows():
                        out.write(b"%s\n    %s" % (b"," if counts[key] else b"", row.encode()))
                        counts[key] += 1
                out.write(b"\n  ]" if counts[key] else b"]")
    out.write(b"\n}\n")
    return counts
