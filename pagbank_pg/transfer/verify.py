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
from .kinds import KINDS, KindName
from .progress import Progress
from .restore import restore
from .source import SourceTable
from .values import json_values


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
    kind = KINDS[table.kind]
    decoded, nulls = json_values(table.columns, values, kind.json_columns)
    return decoded[kind.key], {**kind.comparable(decoded), "$nulls": set(nulls)}


def _fetch(
    queries: TransferQueries, table: SourceTable, keys: list[Any]
) -> list[list[dict[str, Any]]]:
    """The PostgreSQL rows of the given source keys, grouped per source row."""
    kind = KINDS[table.kind]
    stored = kind.stored_keys(mapping.Source(table.path.name, table.table), keys)
    if not kind.split:
        return [[row] for row in kind.statement(queries, "imported")(**stored)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in kind.statement(queries, "imported")(**stored, source_table=table.table):
        groups.setdefault(row["session_id"], []).append(row)
    return list(groups.values())


def _restored(
    table: SourceTable, group: list[dict[str, Any]], zone: ZoneInfo
) -> tuple[Any, dict[str, Any]]:
    kind = KINDS[table.kind]
    (restored,) = list(restore(table.kind, group, zone))
    values = kind.comparable(restored.values)
    return values[kind.key], {**values, "$nulls": restored.nulls}


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
    explicit: dict[tuple[str, str], KindName] | None = None,
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
    sessions = [p.get("session_id") for p in absent]  # memories: None
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
