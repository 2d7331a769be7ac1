"""`pagbank-pg verify-import`: per source table, how many rows PostgreSQL holds, and whether
each restores to exactly the source row's values (JSON compared as values)."""

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .. import mapping
from ..config import SOURCE_TIMEZONE, VERIFY_BATCH
from ..errors import RejectedRow
from ..query import connect_direct
from ..query.types import TransferQueries, transfer_queries
from . import gone
from . import source as sqlite_source
from .progress import Progress
from .restore import restore
from .source import SourceTable


@dataclass
class Check:
    """One source table's verdict."""

    source_rows: int = 0
    identical: int = 0
    different: int = 0
    missing: int = 0
    erased: int = 0  # rows of users or sessions erased since (LGPD): gone, as they should be
    gone: list[str] = field(default_factory=list)  # keys in PostgreSQL no longer in SQLite
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.different == 0 and self.missing == 0 and not self.gone


def _source_values(table: SourceTable, values: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
    """(key, values as the restore gives them back) of one source row."""
    if table.kind in ("agent", "team"):
        raw, json_nulls = sqlite_source.agno_values(table, values)
        return raw["session_id"], {**raw, "$nulls": set(json_nulls)}
    plain = sqlite_source.plain_values(table, values)
    if table.kind == "memory":
        plain["memory"] = mapping.parse_memory_literal(plain["memory"])
        return plain["id"], plain
    nulls: set[str] = set()
    for column in ("session_context", "metadata"):
        if plain[column] is None:
            nulls.add(column)
        else:
            plain[column] = sqlite_source.json_value(plain[column], column)
    return plain["session_id"], {**plain, "$nulls": nulls}


def _fetch(
    queries: TransferQueries, table: SourceTable, keys: list[Any]
) -> list[list[dict[str, Any]]]:
    """The PostgreSQL rows of the given source keys, grouped per source row."""
    if table.kind in ("agent", "team"):
        imported = (
            queries.imported_agent_sessions
            if table.kind == "agent"
            else queries.imported_team_sessions
        )
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in imported(session_ids=keys, source_table=table.table):
            groups.setdefault(row["session_id"], []).append(row)
        return list(groups.values())
    if table.kind == "memory":
        origin = mapping.Source(table.path.name, table.table)
        ids = [str(mapping.memory_id(origin, k)) for k in keys]
        return [[row] for row in queries.imported_user_memories(ids=ids)]
    return [[row] for row in queries.imported_user_sessions(session_ids=keys)]


def _restored(
    table: SourceTable, group: list[dict[str, Any]], zone: ZoneInfo
) -> tuple[Any, dict[str, Any]]:
    (restored,) = list(restore(table.kind, group, zone))
    values = restored.values
    if table.kind == "memory":
        values = {**values, "memory": mapping.parse_memory_literal(values["memory"])}
        return values["id"], values
    return values["session_id"], {**values, "$nulls": restored.nulls}


@dataclass
class Verification:
    """Each source table's verdict, a note per thing passed over, and why each table SQLite
    could not read (to its end) could not."""

    checks: dict[str, Check]
    notes: list[str]
    unreadable: dict[str, str]


def verify_import(
    conninfo: str,
    paths: list[Path],
    *,
    explicit: dict[tuple[str, str], str] | None = None,
    source_timezone: str = SOURCE_TIMEZONE,
    progress: Progress = lambda name, done, total: None,
) -> Verification:
    """Compare every source row with what PostgreSQL restores of it, and find the rows
    imported from each source table that it no longer holds."""
    zone = ZoneInfo(source_timezone)
    tables, notes, unreadable = sqlite_source.discover(paths, explicit)
    checks: dict[str, Check] = {}
    with connect_direct(conninfo) as pg:
        queries = transfer_queries(pg)
        for table in tables:  # same-named tables of several folders: one source, one check
            check = checks.setdefault(table.name, Check())
            conn = sqlite_source.connect(table.path)
            try:
                total = sqlite_source.count_rows(conn, table)
                for batch in sqlite_source.read_rows(conn, table, VERIFY_BATCH):
                    _check_batch(queries, table, batch.rows, zone, check)
                    progress(table.name, check.source_rows, total)
            except sqlite3.DatabaseError as error:
                unreadable[table.name] = str(error)
            finally:
                conn.close()
        for name, keys in gone.gone_by_source(queries, tables, unreadable).items():
            checks[name].gone = keys
    return Verification(checks, notes, unreadable)


def _erased(queries: TransferQueries, table: SourceTable, absent: list[dict[str, Any]]) -> set[int]:
    """The ids of the source rows in `absent` whose user or session was erased."""
    if not absent:
        return set()
    sessions = [None if table.kind == "memory" else p.get("session_id") for p in absent]
    rows = queries.erased_among(user_ids=[p.get("user_id") for p in absent], session_ids=sessions)
    return {id(absent[row["n"] - 1]) for row in rows}


def _check_batch(
    queries: TransferQueries,
    table: SourceTable,
    batch: list[tuple[Any, ...]],
    zone: ZoneInfo,
    check: Check,
) -> None:
    expected: dict[Any, dict[str, Any]] = {}
    for values in batch:
        check.source_rows += 1
        try:
            key, parsed = _source_values(table, values)
        except RejectedRow:
            check.missing += 1  # not importable: it is in the reject file, not in PostgreSQL
            continue
        expected[key] = parsed
    found = {}
    for group in _fetch(queries, table, list(expected)):
        try:
            key, restored = _restored(table, group, zone)
        except (RejectedRow, KeyError, ValueError) as error:
            key, restored = group[0].get("session_id", group[0].get("id")), {"$error": str(error)}
        found[key] = restored
    absent = [parsed for key, parsed in expected.items() if key not in found]
    erased = _erased(queries, table, absent)
    for key, parsed in expected.items():
        if key not in found:
            if id(parsed) in erased:
                check.erased += 1
            else:
                check.missing += 1
        elif found[key] == parsed:
            check.identical += 1
        else:
            check.different += 1
            if len(check.examples) < 5:
                columns = sorted(c for c in parsed if parsed.get(c) != found[key].get(c))
                check.examples.append(f"{table.name} {key}: differs in {', '.join(columns)}")
