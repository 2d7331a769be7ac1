"""`pagbank-pg export-sqlite`: the rollback path. Writes Agno 1.7-format SQLite files (the
tables, columns and encodings Agno and PagBank's session manager write) from what is in
PostgreSQL, imported rows and rows written since alike.

Imported rows go back to the file and table they came from, exactly as they were (plus what
the app changed since); rows written only in PostgreSQL go to `pagbank.db` (team_sessions,
agent_sessions, sessions, pagbank_memories).
"""

import json
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import psycopg

from ..config import DEFAULT_FILE, EXPORT_BATCH, SOURCE_TIMEZONE
from ..errors import ExportError
from ..private import create_private, replace_durably, scratch_folder
from ..query import connect_direct
from ..query.types import TransferQueries, transfer_queries
from .kinds import KINDS, KindName
from .progress import Progress
from .restore import Restored, restore, source_of
from .source import quote


def _exports(queries: TransferQueries) -> Iterator[tuple[KindName, Any, Any]]:
    """Per kind: the statement counting its PostgreSQL rows, and the one streaming them
    grouped by source."""
    for name, kind in KINDS.items():
        yield name, kind.statement(queries, "count_export"), kind.statement(queries, "export")


def _groups(kind: KindName, rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows of one source row together (sessions: by source and session id)."""
    if not KINDS[kind].split:
        for row in rows:
            yield [row]
        return
    for _, group in groupby(rows, key=lambda r: (source_of(r, kind), r["session_id"])):
        yield list(group)


def _encode(value: Any, sql_null: bool, is_json: bool) -> Any:
    """A value as Agno stores it: JSON columns as json.dumps text (None as `null`)."""
    if sql_null:
        return None
    return json.dumps(value) if is_json else value


def _file_name(file: str) -> str:
    """The bare file name an exported row goes to: never a folder, never outside OUTDIR."""
    name = Path(file).name
    return name if name not in ("", ".", "..") else DEFAULT_FILE


class _ExportFiles:
    """SQLite files being written in a private scratch folder, one table at a time."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.files: dict[str, sqlite3.Connection] = {}
        self.files_written: list[str] = []
        self.tables: dict[tuple[str, str], list[str]] = {}
        self.counts: dict[str, int] = {}

    def write(self, kind: KindName, restored: Restored) -> None:
        file, table, values, nulls = restored
        name = _file_name(file)
        conn = self.files.get(name)
        if conn is None:
            create_private(self.scratch / name)  # 0600 before SQLite opens it
            conn = self.files[name] = sqlite3.connect(self.scratch / name)
            self.files_written.append(name)
        columns = self.tables.get((name, table))
        if columns is None:
            conn.executescript(KINDS[kind].ddl(table))
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
            self.tables[(name, table)] = columns
        for extra in [c for c in values if c not in columns]:  # columns of a newer schema
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(extra)}")
            columns.append(extra)
        json_columns = KINDS[kind].json_columns
        encoded = [_encode(values.get(c), c in nulls, c in json_columns) for c in columns]
        marks = ", ".join("?" for _ in columns)
        conn.execute(f"INSERT INTO {quote(table)} VALUES ({marks})", encoded)
        where = f"{name}:{table}"
        self.counts[where] = self.counts.get(where, 0) + 1

    def close(self) -> None:
        for conn in self.files.values():
            conn.commit()
            conn.close()
        self.files.clear()


class Export(NamedTuple):
    """What an export wrote (rows per file:table), and the rows it could not restore."""

    counts: dict[str, int]
    rejected: list[str]


def export_sqlite(
    conninfo: str,
    outdir: Path,
    *,
    source_timezone: str = SOURCE_TIMEZONE,
    overwrite: bool = False,
    progress: Progress = lambda name, done, total: None,
) -> Export:
    """Write the export into `outdir`: every table read in one snapshot, the files written in
    a new private scratch folder (0700, files 0600), then moved in; nothing is left behind on
    a failure (a SIGKILL leaves the scratch folder, ours and private: remove it). A row that
    cannot be restored is left out and named in `Export.rejected`."""
    zone = ZoneInfo(source_timezone)
    outdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = scratch_folder(outdir, ".pagbank-pg-export.")  # new, ours, 0700
    writer = _ExportFiles(scratch)
    rejected: list[str] = []
    try:
        with connect_direct(conninfo) as pg:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
            pg.read_only = True
            queries = transfer_queries(pg)
            with pg.transaction():
                for kind, count, export in _exports(queries):
                    total = int(count()["n"])
                    done = 0
                    for group in _groups(kind, export.stream()):
                        try:
                            restored = list(restore(kind, group, zone))
                        except Exception as error:  # one bad row, not the whole export
                            rejected.append(_rejected(kind, group, error))
                            restored = []
                        for row in restored:
                            writer.write(kind, row)
                        done += len(group)
                        if done % EXPORT_BATCH < len(group):
                            progress(kind, done, total)
                    progress(kind, done, done)
        writer.close()
        written = sorted(writer.files_written)
        clashes = [f for f in written if (outdir / f).exists() or (outdir / f).is_symlink()]
        if clashes and not overwrite:
            raise ExportError(
                f"{outdir} already holds {', '.join(clashes)}; pass --overwrite to replace"
            )
        for file in written:
            for stale in ("-wal", "-shm", "-journal"):  # of a replaced file: not ours to keep
                (outdir / (file + stale)).unlink(missing_ok=True)
            replace_durably(scratch / file, outdir / file)
    finally:
        writer.close()
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    return Export(writer.counts, rejected)


def _rejected(kind: str, group: list[dict[str, Any]], error: Exception) -> str:
    first = group[0]
    key = first.get("session_id", first.get("id"))
    return f"{kind} {key}: cannot be restored ({type(error).__name__}: {error})"
