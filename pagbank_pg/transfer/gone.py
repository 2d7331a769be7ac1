"""Rows deleted in SQLite after they were imported: `verify-import` lists them, and
`import-sqlite --prune` deletes them. Only rows the import wrote from that very file and table
count (see the statements); what the app wrote to PostgreSQL came from no file and is never
touched."""

import sqlite3
from typing import Any

from .. import mapping
from ..query.types import TransferQueries
from . import source as sqlite_source
from .kinds import KINDS
from .source import SourceTable

_KEYS_AT_A_TIME = 10_000  # keys read per short SQLite read transaction


def source_keys(conn: sqlite3.Connection, table: SourceTable) -> list[str]:
    """Every key `table` holds now, as text, read a slice of rowids at a time."""
    column = sqlite_source.quote(KINDS[table.kind].key)
    name = sqlite_source.quote(table.table)
    if not table.rowid:
        return [str(_text(k)) for (k,) in conn.execute(f"SELECT {column} FROM {name}") if k]
    keys: list[str] = []
    last = -(2**63)
    while True:
        rows = conn.execute(
            f"SELECT rowid, {column} FROM {name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last, _KEYS_AT_A_TIME),
        ).fetchall()
        keys += [str(_text(k)) for _, k in rows if k is not None]
        if len(rows) < _KEYS_AT_A_TIME:
            return keys
        last = rows[-1][0]


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def gone(
    queries: TransferQueries, table: SourceTable, keys: list[str], *, prune: bool = False
) -> list[str]:
    """The source keys of the rows imported from `table` that are no longer among `keys` (its
    keys now), sorted; deleted when `prune`."""
    kind, origin = KINDS[table.kind], mapping.Source(table.path.name, table.table)
    statement = kind.statement(queries, "prune" if prune else "gone")
    rows = statement(
        **kind.stored_keys(origin, keys), source_file=origin.file, source_table=origin.table
    )
    return sorted({row["key"] for row in rows})


def gone_by_source(
    queries: TransferQueries,
    tables: list[SourceTable],
    unreadable: dict[str, str],
    *,
    prune: bool = False,
) -> dict[str, list[str]]:
    """Per source (`SourceTable.name`: the tables of one file name and table in several
    folders count together, as the import counts them one source), the keys of the rows
    imported from it that none of them holds now; deleted when `prune`. A source with a table
    in `unreadable` is passed over (a table that cannot be read to its end is added to it)."""
    groups: dict[str, list[SourceTable]] = {}
    for table in tables:
        groups.setdefault(table.name, []).append(table)
    found = {}
    for name, group in groups.items():
        keys: list[str] = []
        try:
            for table in group:
                conn = sqlite_source.connect(table.path)
                try:
                    keys += source_keys(conn, table)
                finally:
                    conn.close()
        except sqlite3.DatabaseError as error:
            unreadable.setdefault(name, str(error))
        if name not in unreadable:
            found[name] = gone(queries, group[0], keys, prune=prune)
    return found
