"""`pagbank-pg import-sqlite`: PagBank's SQLite files into the six tables.

Each file is read as one snapshot; each batch of rows is mapped (`mapping`), COPied into a
stage table and moved in by one upsert that writes only what changed, in one transaction. A
batch that the database refuses is retried row by row, so one bad row is rejected alone. Rows
that cannot be mapped are skipped, counted and written to the reject file with their reason.
"""

import sqlite3
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import IO, Any, NamedTuple, cast
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg.types.json import set_json_dumps

from .. import config
from ..errors import QueryError, RejectedRow
from ..query import Transaction, direct_connection, internal_queries
from ..query.types import TransferQueries
from . import mapping
from . import source as sqlite_source
from .mapping import Source
from .progress import Progress
from .source import SourceTable
from .tables import TARGETS, check_copy

_AHEAD = 4  # batches mapped ahead of the one being written
_REFUSED = (QueryError, psycopg.Error)  # what a batch's statements or its commit raise


@dataclass
class Counts:
    """What became of one source table's rows (inserted/updated/unchanged count target rows)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass
class Report:
    """The outcome of an import: counts per source table, notes, and where rejects went."""

    counts: dict[str, Counts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reject_file: Path | None = None

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())


class Rejects:
    """The reject file (JSON lines), created on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, table: SourceTable, values: tuple[Any, ...], reason: str) -> None:
        if self._file is None:
            self._file = self.path.open("wb")
        record = {
            "file": str(table.path),
            "table": table.table,
            "kind": table.kind,
            "reason": reason,
            "row": sqlite_source.describe_row(table, values),
        }
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    @property
    def used(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


Mapper = Callable[[tuple[Any, ...]], list[dict[str, Any]]]


def _escape(text: bytes) -> bytes:
    """A value for COPY's text format: backslash, newline, carriage return and tab escaped."""
    return (
        text.replace(b"\\", b"\\\\")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


def _array(items: list[Any]) -> bytes:
    quoted = (
        b"NULL"
        if item is None
        else b'"' + str(item).encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        for item in items
    )
    return _escape(b"{" + b",".join(quoted) + b"}")


# COPY text encoders by column type (JSON text from orjson holds no raw control characters).
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "uuid": lambda v: str(v).encode(),
    "text": lambda v: _escape(v.encode()),
    "timestamptz": lambda v: v.isoformat().encode(),
    "jsonb": lambda v: orjson.dumps(v).replace(b"\\", b"\\\\"),
    "text[]": _array,
    "float8": lambda v: repr(float(v)).encode(),
    "int4": lambda v: str(int(v)).encode(),
    "bool": lambda v: b"t" if v else b"f",
}


def encode_rows(kind: str, rows: list[dict[str, Any]]) -> bytes:
    """Target rows as lines of COPY's text format, in TARGETS' column order."""
    target = TARGETS[kind]
    encoders = [ENCODERS[t] for t in target.types]
    lines = []
    for row in rows:
        fields = [
            b"\\N" if row[c] is None else encode(row[c])
            for c, encode in zip(target.columns, encoders, strict=True)
        ]
        lines.append(b"\t".join(fields) + b"\n")
    return b"".join(lines)


class Mapped(NamedTuple):
    """One source row, mapped: its COPY lines and target row count, or why it was rejected."""

    values: tuple[Any, ...]
    lines: bytes | None
    rows: int
    reason: str | None


def transform(
    table: SourceTable, zone_name: str, units: Mapping[str, str], batch: list[tuple[Any, ...]]
) -> list[Mapped]:
    """Map and encode one batch of source rows (run in worker processes)."""
    to_rows = mapper(table, ZoneInfo(zone_name), units)
    out: list[Mapped] = []
    for values in batch:
        try:
            rows = to_rows(values)
            out.append(Mapped(values, encode_rows(table.kind, rows), len(rows), None))
        except RejectedRow as error:
            out.append(Mapped(values, None, 0, str(error)))
    return out


def mapper(
    table: SourceTable, zone: ZoneInfo, units: Mapping[str, str] = mapping.DEFAULT_UNITS
) -> Mapper:
    """The function mapping one raw row of `table` to its target rows (raising RejectedRow)."""
    source = Source(table.path.name, table.table)

    def unit_of(agent_id: str) -> str | None:
        return mapping.business_unit_of(agent_id, units)

    if table.kind in ("agent", "team"):

        def session(values: tuple[Any, ...]) -> list[dict[str, Any]]:
            raw, nulls = sqlite_source.agno_values(table, values)
            return mapping.agno_session_rows(raw, table.kind, source, nulls, unit_of)

        return session
    if table.kind == "memory":
        return lambda values: [
            mapping.agno_memory_row(sqlite_source.plain_values(table, values), source)
        ]
    return lambda values: [
        mapping.pagbank_session_row(
            sqlite_source.plain_values(table, values), source, zone, sqlite_source.json_value
        )
    ]


class Loader:
    """Writes mapped rows of one kind through a stage table, one transaction per batch."""

    def __init__(self, conn: psycopg.Connection[Any], kind: str) -> None:
        self.conn = conn
        self.kind = kind
        queries = cast(TransferQueries, Transaction(conn).bind(internal_queries("transfer")))
        table = TARGETS[kind].table
        statements = {
            "agent_sessions": (queries.copy_stage_agent_sessions, queries.copy_agent_sessions,
                               queries.upsert_staged_agent_sessions),
            "team_sessions": (queries.copy_stage_team_sessions, queries.copy_team_sessions,
                              queries.upsert_staged_team_sessions),
            "user_memories": (queries.copy_stage_user_memories, queries.copy_user_memories,
                              queries.upsert_staged_user_memories),
            "user_sessions": (queries.copy_stage_user_sessions, queries.copy_user_sessions,
                              queries.upsert_staged_user_sessions),
        }  # fmt: skip
        self.copy_stage, self.copy_direct, self.upsert_staged = statements[table]
        for copy in (self.copy_stage, self.copy_direct):
            check_copy(copy, TARGETS[kind])
        # New rows are COPied straight into the table, saving the stage, until a batch meets
        # rows already there (a re-run, a catch-up): from then on every batch is upserted.
        self.direct = True

    def _write(self, lines: bytes) -> tuple[int, int]:
        self.copy_stage(lines)
        result = self.upsert_staged()
        assert result is not None
        return int(result["inserted"]), int(result["updated"])

    def load(self, batch: list[Mapped], reject: Callable[..., None]) -> tuple[int, int, int]:
        """Write a batch of mapped source rows; (inserted, updated, target rows written)."""
        good = [m for m in batch if m.lines is not None]
        written = sum(m.rows for m in good)
        lines = b"".join(m.lines or b"" for m in good)
        if self.direct:
            try:
                with self.conn.transaction():
                    self.copy_direct(lines)
                return written, 0, written
            except _REFUSED as error:
                if getattr(error, "sqlstate", None) == "23505":  # unique_violation
                    self.direct = False  # rows already there
                # else a bad row: the upsert below finds it
        try:
            with self.conn.transaction():
                inserted, updated = self._write(lines)
            return inserted, updated, written
        except _REFUSED:
            pass  # find the bad rows: one source row at a time
        inserted = updated = written = 0
        for one in good:
            try:
                with self.conn.transaction():
                    one_inserted, one_updated = self._write(one.lines or b"")
            except _REFUSED as error:
                reject(one.values, f"refused by PostgreSQL: {' '.join(str(error).split())}")
                continue
            inserted, updated, written = (
                inserted + one_inserted, updated + one_updated, written + one.rows
            )  # fmt: skip
        return inserted, updated, written


@contextmanager
def _postgres(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with direct_connection(conninfo) as conn:
        set_json_dumps(orjson.dumps, conn)
        queries = cast(TransferQueries, Transaction(conn).bind(internal_queries("transfer")))
        queries.prefer_lz4()
        queries.create_import_stages()
        conn.commit()
        yield conn


def import_sqlite(
    conninfo: str,
    paths: list[Path],
    *,
    explicit: dict[tuple[str, str], str] | None = None,
    reject_file: Path = config.REJECT_FILE,
    batch_size: int = config.IMPORT_BATCH,
    source_timezone: str = config.SOURCE_TIMEZONE,
    units: Mapping[str, str] = mapping.DEFAULT_UNITS,
    progress: Progress = lambda name, done, total: None,
    processes: int = config.IMPORT_PROCESSES,
) -> Report:
    """Import every recognised table of `paths`; see the module's doc. `processes` worker
    processes map and encode rows while this one reads SQLite and writes PostgreSQL (0: none)."""
    zone = ZoneInfo(source_timezone)
    tables, notes = sqlite_source.discover(paths, explicit)
    report = Report(notes=notes)
    rejects = Rejects(reject_file)
    by_file: dict[Path, list[SourceTable]] = {}
    for table in tables:
        by_file.setdefault(table.path, []).append(table)
    workers = Pool(processes) if processes > 0 else None
    try:
        with _postgres(conninfo) as pg:
            for path, file_tables in by_file.items():
                source = sqlite_source.connect(path)
                try:
                    source.execute("BEGIN")  # one snapshot for all the file's tables
                    for table in file_tables:
                        report.counts[table.name] = _import_table(
                            workers, source, pg, table, zone, units, batch_size, rejects, progress
                        )
                    source.execute("COMMIT")
                finally:
                    source.close()
    finally:
        rejects.close()
        if workers is not None:
            workers.terminate()
    report.reject_file = reject_file if rejects.used else None
    return report


def _pipeline(
    workers: Pool | None,
    work: Callable[[list[tuple[Any, ...]]], list[Mapped]],
    batches: Iterator[list[tuple[Any, ...]]],
) -> Iterator[list[Mapped]]:
    """`work` applied to each batch, in order, by the worker processes (a few batches ahead,
    so memory stays bounded while PostgreSQL writes the previous one)."""
    if workers is None:
        yield from map(work, batches)
        return
    pending: deque[AsyncResult[list[Mapped]]] = deque()
    for batch in batches:
        pending.append(workers.apply_async(work, (batch,)))
        if len(pending) >= _AHEAD:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _import_table(
    workers: Pool | None,
    source: sqlite3.Connection,
    pg: psycopg.Connection[Any],
    table: SourceTable,
    zone: ZoneInfo,
    units: Mapping[str, str],
    batch_size: int,
    rejects: Rejects,
    progress: Progress,
) -> Counts:
    counts = Counts()
    total = sqlite_source.count_rows(source, table)
    loader = Loader(pg, table.kind)

    def reject(values: tuple[Any, ...], reason: str) -> None:
        counts.rejected += 1
        rejects.write(table, values, reason)

    progress(table.name, 0, total)
    work = partial(transform, table, zone.key, dict(units))
    for batch in _pipeline(workers, work, sqlite_source.read_rows(source, table, batch_size)):
        for mapped in batch:
            if mapped.reason is not None:
                reject(mapped.values, mapped.reason)
        counts.read += len(batch)
        inserted, updated, written = loader.load(batch, reject)
        counts.inserted += inserted
        counts.updated += updated
        counts.unchanged += written - inserted - updated
        progress(table.name, counts.read, total)
    return counts
