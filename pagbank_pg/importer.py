"""`pagbank-pg import-sqlite`: PagBank's SQLite files into the six tables.

Each file is read as one snapshot; each batch of rows is mapped (`mapping`), COPied into a
stage table and moved in by one upsert that writes only what changed, in one transaction. A
batch that the database refuses is retried row by row, so one bad row is rejected alone. Rows
that cannot be mapped are skipped, counted and written to the reject file with their reason.
"""

import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg.types.json import set_json_dumps

from . import mapping, sqlite_source
from .db import direct_connection
from .mapping import RejectedRow, Source
from .queries import load_queries
from .sqlite_source import SourceTable

DEFAULT_BATCH = 2000
DEFAULT_PROCESSES = max(1, (os.cpu_count() or 2) - 1)
_AHEAD = 4  # batches mapped ahead of the one being written
DEFAULT_TIMEZONE = "America/Sao_Paulo"  # where PagBank's session manager wrote local times
DEFAULT_REJECT_FILE = Path("pagbank-pg-rejects.jsonl")

# Per kind: target table, COPY columns (in order) and their types.
TARGETS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "agent": (
        "agent_sessions",
        ("id", "session_id", "agent_id", "agent_name", "user_id", "business_unit",
         "created_at", "updated_at", "messages", "agent_session_state", "metadata"),
        ("uuid", "text", "text", "text", "text", "text", "timestamptz", "timestamptz",
         "jsonb", "jsonb", "jsonb"),
    ),
    "team": (
        "team_sessions",
        ("id", "session_id", "team_id", "team_name", "user_id", "created_at", "updated_at",
         "messages", "team_session_state", "metadata"),
        ("uuid", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb",
         "jsonb", "jsonb"),
    ),
    "memory": (
        "user_memories",
        ("id", "user_id", "memory", "created_at", "updated_at", "metadata", "memory_tags",
         "business_units", "importance_score"),
        ("uuid", "text", "text", "timestamptz", "timestamptz", "jsonb", "text[]", "text[]",
         "float8"),
    ),
    "sessions": (
        "user_sessions",
        ("session_id", "user_id", "team_id", "created_at", "last_activity",
         "interaction_count", "session_context", "is_active", "metadata"),
        ("text", "text", "text", "timestamptz", "timestamptz", "int4", "jsonb", "bool",
         "jsonb"),
    ),
}  # fmt: skip


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
    _, columns, types = TARGETS[kind]
    encoders = [ENCODERS[t] for t in types]
    lines = []
    for row in rows:
        fields = [
            b"\\N" if row[c] is None else encode(row[c])
            for c, encode in zip(columns, encoders, strict=True)
        ]
        lines.append(b"\t".join(fields) + b"\n")
    return b"".join(lines)


Mapped = tuple[tuple[Any, ...], bytes | None, int, str | None]  # values, COPY lines, rows, reason


def transform(
    table: SourceTable, zone_name: str, units: Mapping[str, str], batch: list[tuple[Any, ...]]
) -> list[Mapped]:
    """Map and encode one batch of source rows (run in worker processes)."""
    to_rows = mapper(table, ZoneInfo(zone_name), units)
    out: list[Mapped] = []
    for values in batch:
        try:
            rows = to_rows(values)
            out.append((values, encode_rows(table.kind, rows), len(rows), None))
        except RejectedRow as error:
            out.append((values, None, 0, str(error)))
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
        queries = load_queries()
        self.conn = conn
        self.kind = kind
        target = TARGETS[kind]
        self.columns, self.types = target[1], target[2]
        self.copy_sql = queries[f"copy_stage_{target[0]}"].compiled.sql
        self.upsert_sql = queries[f"upsert_staged_{target[0]}"].compiled.sql
        self.direct_sql = queries[f"copy_{target[0]}"].compiled.sql
        # New rows are COPied straight into the table, saving the stage, until a batch meets
        # rows already there (a re-run, a catch-up): from then on every batch is upserted.
        self.direct = True

    def _write(self, lines: bytes) -> tuple[int, int]:
        with self.conn.cursor() as cursor:
            with cursor.copy(self.copy_sql) as copy:
                copy.write(lines)
            result = cursor.execute(self.upsert_sql).fetchone()
        assert result is not None
        return int(result["inserted"]), int(result["updated"])

    def _insert(self, lines: bytes) -> None:
        with self.conn.cursor() as cursor, cursor.copy(self.direct_sql) as copy:
            copy.write(lines)

    def load(self, batch: list[Mapped], reject: Callable[..., None]) -> tuple[int, int, int]:
        """Write a batch of mapped source rows; (inserted, updated, target rows written)."""
        good = [m for m in batch if m[1] is not None]
        written = sum(m[2] for m in good)
        if self.direct:
            try:
                with self.conn.transaction():
                    self._insert(b"".join(m[1] or b"" for m in good))
                return written, 0, written
            except psycopg.errors.UniqueViolation:
                self.direct = False
            except psycopg.Error:
                pass  # a bad row: the upsert below finds it
        try:
            with self.conn.transaction():
                inserted, updated = self._write(b"".join(m[1] or b"" for m in good))
            return inserted, updated, written
        except psycopg.Error:
            pass  # find the bad rows: one source row at a time
        inserted = updated = written = 0
        for values, lines, count, _ in good:
            try:
                with self.conn.transaction():
                    one_inserted, one_updated = self._write(lines or b"")
            except psycopg.Error as error:
                reject(values, f"refused by PostgreSQL: {' '.join(str(error).split())}")
                continue
            inserted, updated, written = (
                inserted + one_inserted, updated + one_updated, written + count
            )  # fmt: skip
        return inserted, updated, written


@contextmanager
def _postgres(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with direct_connection(conninfo) as conn:
        set_json_dumps(orjson.dumps, conn)
        conn.execute(load_queries()["prefer_lz4"].compiled.sql)
        conn.execute(load_queries()["create_import_stages"].compiled.sql)
        conn.commit()
        yield conn


Progress = Callable[[str, int, int], None]  # (table name, rows done, rows in all)


def import_sqlite(
    conninfo: str,
    paths: list[Path],
    *,
    explicit: dict[tuple[str, str], str] | None = None,
    reject_file: Path = DEFAULT_REJECT_FILE,
    batch_size: int = DEFAULT_BATCH,
    source_timezone: str = DEFAULT_TIMEZONE,
    units: Mapping[str, str] = mapping.DEFAULT_UNITS,
    progress: Progress = lambda name, done, total: None,
    processes: int = DEFAULT_PROCESSES,
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
        for values, _, _, reason in batch:
            if reason is not None:
                reject(values, reason)
        counts.read += len(batch)
        inserted, updated, written = loader.load(batch, reject)
        counts.inserted += inserted
        counts.updated += updated
        counts.unchanged += written - inserted - updated
        progress(table.name, counts.read, total)
    return counts


class LogProgress:
    """Progress as plain log lines, at most one per table every `every` seconds."""

    def __init__(self, write: Callable[[str], None], every: float = 5.0) -> None:
        self.write, self.every = write, every
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        now = time.monotonic()
        started = self._started.setdefault(name, now)
        if done == 0 or (done < total and now - self._last.get(name, 0.0) < self.every):
            return
        self._last[name] = now
        rate = done / (now - started) if now > started else 0.0
        self.write(f"{name}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)")
