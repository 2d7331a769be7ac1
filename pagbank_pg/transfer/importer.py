"""`pagbank-pg import-sqlite`: PagBank's SQLite files into the six tables.

Each table is split into ranges of rowids; worker processes each read a range a batch at a
time without blocking the app (`source`), map it (`mapping`), and COPY it on a connection of
their own, one transaction per batch: straight into the table while its rows are new, else
into a stage table moved in by one upsert that writes only what changed. This process plans
the ranges and moves the watermark past each range once it is committed, in order. A first
import into an empty table builds its secondary indexes after the load (migration 0007).

What goes wrong is told apart:
* a row that cannot be mapped or encoded (any exception while mapping it) is rejected alone,
  with its reason, into the reject file;
* a batch PostgreSQL refuses for its data (SQLSTATE classes 22, 23, 54: a value, a
  constraint, a size) is retried row by row, so one bad row is rejected alone;
* any other fault (a lost connection, a restart, a full disk, a timeout, a deadlock, a
  permission) never rejects a row: the batch is retried on a new connection, with backoff,
  and when the faults go on the import stops with `ImportInterrupted` (a re-run resumes it);
  so does the death of a worker process.
"""

import ctypes
import gc
import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg.types.json import set_json_dumps

from .. import config, mapping
from ..conninfo import describe, error_line
from ..errors import ConnectionFailed, ImportInterrupted, ImportRunning, QueryError, RejectedRow
from ..mapping import Source
from ..private import private_file
from ..query import connect_direct
from ..query.types import schema_queries, transfer_queries
from . import gone
from . import source as sqlite_source
from .kinds import KINDS, KindName, Mapper, check_copy
from .progress import Progress
from .source import Batch, SourceTable
from .values import describe_row
from .watermark import Watermark

_AHEAD = 2  # ranges in flight per worker process
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
_REFUSED = (QueryError, psycopg.Error)  # what a batch's statements or its commit raise
T = TypeVar("T")


@dataclass
class Counts:
    """What became of one source table's rows (inserted/updated/unchanged count target rows)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    erased: int = 0  # rows of erased users (LGPD), passed over
    total: int = 0  # rows the table held when its import began


@dataclass
class Report:
    """The outcome of an import: counts per source table, notes, where rejects went, and why
    each table SQLite could not read (to its end) could not."""

    counts: dict[str, Counts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reject_file: Path | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    pruned: dict[str, list[str]] = field(default_factory=dict)  # keys deleted (--prune), by table

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())

    @property
    def erased(self) -> int:
        return sum(c.erased for c in self.counts.values())


class Rejects:
    """The reject file (JSON lines), created on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, table: SourceTable, values: tuple[Any, ...], reason: str) -> None:
        if self._file is None:
            self._file = private_file(self.path)  # 0600: it holds customer data
        record = {
            "file": str(table.path),
            "table": table.table,
            "kind": table.kind,
            "reason": reason,
            "row": describe_row(table.columns, values),
        }
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    @property
    def used(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


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


def encode_rows(kind: KindName, rows: list[dict[str, Any]]) -> bytes:
    """Target rows as lines of COPY's text format, in the target's column order."""
    target = KINDS[kind].target
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
        except Exception as error:  # whatever one row makes fail rejects that row alone
            reason = f"cannot be mapped: {type(error).__name__}: {error_line(error)}"
            out.append(Mapped(values, None, 0, reason))
    return out


def mapper(
    table: SourceTable, zone: ZoneInfo, units: Mapping[str, str] = mapping.DEFAULT_UNITS
) -> Mapper:
    """The function mapping one raw row of `table` to its target rows (raising RejectedRow)."""

    def unit_of(agent_id: str) -> str | None:
        return mapping.business_unit_of(agent_id, units)

    source = Source(table.path.name, table.table)
    return KINDS[table.kind].mapper(table.columns, source, zone, unit_of)


class Written(NamedTuple):
    """What became of a batch's target rows, and the source rows PostgreSQL refused."""

    inserted: int = 0
    updated: int = 0
    erased: int = 0  # of erased users: passed over
    rows: int = 0  # target rows written in all (the rest were already there, unchanged)
    refused: tuple[tuple[Mapped, str], ...] = ()

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated - self.erased

    def plus(self, other: "Written") -> "Written":
        return Written(
            self.inserted + other.inserted, self.updated + other.updated,
            self.erased + other.erased, self.rows + other.rows, self.refused + other.refused,
        )  # fmt: skip


_ROW_FAULTS = ("22", "23", "54")  # SQLSTATE classes about a row's own data


def is_row_fault(error: BaseException) -> bool:
    """Whether PostgreSQL refused `error`'s statement for the data of the rows it carried."""
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _ROW_FAULTS


class _Postgres:
    """The import's connection: dict rows, JSON written with orjson, lz4 where the server has
    it, the stage tables; opened again after a fault of the server or the network."""

    def __init__(self, conninfo: str, lock: bool = False) -> None:
        self.conninfo = conninfo
        self.lock = lock  # the import's own process: hold the import's lock (lock_import)
        self.opened = 0  # how many connections were opened: statements bound to an older one
        self.conn = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        conn = connect_direct(self.conninfo)
        set_json_dumps(orjson.dumps, conn)
        self.queries = transfer_queries(conn)
        self.schema = schema_queries(conn)
        if self.lock:
            self._take_lock(conn)
        self.queries.prefer_lz4()
        self.queries.bulk_writer()
        self.queries.create_import_stages()
        conn.commit()
        self.opened += 1
        return conn

    def _take_lock(self, conn: psycopg.Connection[Any]) -> None:
        """The import's lock, held by this connection's session: one import per database."""
        found = self.queries.lock_import()
        conn.commit()
        if found is None or found["taken"]:
            return
        conn.close()
        since = found["since"]
        started = f", started {since:%Y-%m-%d %H:%M:%S %Z}" if since else ""
        raise ImportRunning(
            f"another import-sqlite is writing to {describe(self.conninfo)} (pid "
            f"{found['holder']}{started}); wait for it to end (or stop it), then run this again"
        )

    def reopen(self) -> None:
        with suppress(psycopg.Error):
            self.conn.close()
        self.conn = self._open()

    def retrying(
        self, action: Callable[[], T], retry_delays: tuple[float, ...], warn: Callable[[str], None]
    ) -> T:
        """`action`, retried on a new connection after each of `retry_delays` when PostgreSQL
        or the network fails it for a reason that is not a row's; then ImportInterrupted."""
        for attempt, delay in enumerate((*retry_delays, None)):
            try:
                return action()
            except _REFUSED as error:
                if delay is None:
                    raise ImportInterrupted(
                        f"the import stopped: {error_line(error)} (after {attempt} "
                        "retries; no row was rejected for it); what was committed stays: run "
                        "the same command again to resume"
                    ) from error
                warn(f"PostgreSQL fault ({error_line(error)}); retrying in {delay:g}s")
            time.sleep(delay)
            with suppress(psycopg.Error, ConnectionFailed):
                self.reopen()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class Loader:
    """Writes mapped rows of one kind through a stage table, one transaction per batch."""

    def __init__(self, pg: _Postgres, kind: KindName) -> None:
        self.pg = pg
        self.kind = kind
        self._bound = -1
        self._bind()
        for copy in (self.copy_stage, self.copy_direct):
            check_copy(copy, KINDS[kind].target)
        # New rows are COPied straight into the table, saving the stage, until a batch meets
        # rows already there (a re-run, a catch-up): from then on every batch is upserted.
        self.direct = True

    def _bind(self) -> None:
        """The statements, on the current connection."""
        if self._bound == self.pg.opened:
            return
        kind, queries = KINDS[self.kind], self.pg.queries
        self.copy_stage = kind.statement(queries, "copy_stage")
        self.copy_direct = kind.statement(queries, "copy")
        self.upsert_staged = kind.statement(queries, "upsert_staged")
        self._bound = self.pg.opened

    def _write(self, lines: bytes) -> Written:
        self.copy_stage(lines)
        result = self.upsert_staged()
        assert result is not None
        return Written(int(result["inserted"]), int(result["updated"]), int(result["erased"]))

    def load(
        self, batch: list[Mapped], retry_delays: tuple[float, ...], warn: Callable[[str], None]
    ) -> Written:
        """Write a batch of mapped source rows. A fault that is not a row's is retried on a
        new connection after each of `retry_delays`; then ImportInterrupted."""

        def attempt() -> Written:
            self._bind()
            return self._load(batch)

        return self.pg.retrying(attempt, retry_delays, warn)

    def _load(self, batch: list[Mapped]) -> Written:
        good = [m for m in batch if m.lines is not None]
        rows = sum(m.rows for m in good)
        lines = b"".join(m.lines or b"" for m in good)
        conn = self.pg.conn
        if self.direct:
            try:
                with conn.transaction():
                    copied = self.copy_direct(lines)  # rows of erased users are dropped
                return Written(copied, 0, rows - copied, rows)
            except _REFUSED as error:
                if getattr(error, "sqlstate", None) == "23505":  # unique_violation
                    self.direct = False  # rows already there
                elif not is_row_fault(error):
                    raise
        try:
            with conn.transaction():
                written = self._write(lines)._replace(rows=rows)
            return written
        except _REFUSED as error:
            if not is_row_fault(error):
                raise  # find the bad rows below: one source row at a time
        total = Written()
        for one in good:
            try:
                with conn.transaction():
                    written = self._write(one.lines or b"")
            except _REFUSED as error:
                if not is_row_fault(error):
                    raise
                written = Written(refused=((one, f"refused by PostgreSQL: {error_line(error)}"),))
            total = total.plus(written._replace(rows=one.rows if not written.refused else 0))
        return total


def import_sqlite(
    conninfo: str,
    paths: list[Path],
    *,
    explicit: dict[tuple[str, str], KindName] | None = None,
    reject_file: Path = config.REJECT_FILE,
    batch_size: int = config.IMPORT_BATCH,
    source_timezone: str = config.SOURCE_TIMEZONE,
    units: Mapping[str, str] = mapping.DEFAULT_UNITS,
    progress: Progress = lambda name, done, total: None,
    processes: int | None = None,
    retry_delays: tuple[float, ...] = config.IMPORT_RETRY_DELAYS,
    warn: Callable[[str], None] = lambda line: None,
    full: bool = False,
    prune: bool = False,
) -> Report:
    """Import every recognised table of `paths`; see the module's doc. A table imported
    before is read from its watermark (`watermark`), unless `full`. `processes` worker
    processes (else PAGBANK_PG_IMPORT_PROCESSES, else one per core up to 2) each read a range
    of rows, map them and COPY them on a connection of their own, while this one plans the
    ranges and keeps the watermark (0: this process does it all); `warn` is told of each
    retried fault. `prune` deletes the rows imported from a table whose key is no longer in
    it (`gone`)."""
    zone = ZoneInfo(source_timezone)
    processes = config.import_processes(processes)
    tables, notes, unreadable = sqlite_source.discover(paths, explicit)
    report = Report(notes=notes, unreadable=unreadable)
    rejects = Rejects(reject_file)
    job = _Job(conninfo, zone.key, dict(units), batch_size, retry_delays)
    # The worker processes start before any connection opens: none may inherit one.
    workers: ProcessPoolExecutor | _Writer = _workers(processes, job) or _Writer(job)
    try:
        pg = _Postgres(conninfo, lock=True)
    except BaseException:
        _stop(workers)
        raise
    try:
        with _ctrl_c() as stop:
            left = pg.retrying(partial(_restore, pg, None), retry_delays, warn)
            if left:
                notes.append(f"built {len(left)} index(es) an interrupted import had deferred")
            for table in tables:
                run = _Run(table, job, warn, full, max(processes, 1), stop)
                run.load(workers, pg, rejects, progress, report)
            if prune:
                report.pruned = pg.retrying(partial(_prune, pg, tables, report), retry_delays, warn)
    except _Stopped as stopped:
        raise ImportInterrupted(_stopped(report, stopped.deferred)) from None
    finally:
        pg.close()
        rejects.close()
        _stop(workers)
    report.reject_file = reject_file if rejects.used else None
    return report


class _Stopped(Exception):
    """Ctrl-C: the import stopped after its last committed range (`deferred`: the indexes of
    the table it was loading, left to build)."""

    def __init__(self, deferred: list[str]) -> None:
        self.deferred = deferred


@contextmanager
def _ctrl_c() -> Iterator[list[bool]]:
    """Ctrl-C (SIGINT) asks the import to stop after the ranges in flight commit: the flag
    yielded becomes [True]; a second Ctrl-C stops at once. (In the main thread only: elsewhere
    Python delivers no signal.)"""
    stop = [False]
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def asked(signum: int, frame: Any) -> None:
        if stop[0]:
            raise KeyboardInterrupt
        stop[0] = True

    previous = signal.signal(signal.SIGINT, asked)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _stopped(report: Report, deferred: list[str]) -> str:
    """What a stopped import committed, and how to resume it."""
    done = ", ".join(f"{n} {c.read:,} of {c.total:,} row(s)" for n, c in report.counts.items())
    left = (
        f"; {len(deferred)} index(es) it deferred ({', '.join(deferred)}) are missing until then "
        "(or pagbank-pg migrate)"
        if deferred
        else ""
    )
    return (
        f"the import was stopped (Ctrl-C); committed: {done or 'nothing'}{left}; run the same "
        "command again to resume it"
    )


def _stop(workers: "ProcessPoolExecutor | _Writer") -> None:
    if isinstance(workers, _Writer):
        workers.close()
    else:
        workers.shutdown(wait=False, cancel_futures=True)


class _Job(NamedTuple):
    """What every range of an import shares (sent to the worker processes once)."""

    conninfo: str
    zone: str
    units: dict[str, str]
    batch_size: int
    retry_delays: tuple[float, ...]


class _Range(NamedTuple):
    """A slice of a source table: the rows of rowids after `after` up to `upto` (None: the
    whole table), those written since `since` when it is a catch-up."""

    table: SourceTable
    after: int | None
    upto: int | None
    since: sqlite_source.Since | None


class _Loaded(NamedTuple):
    """What became of a range: what its watermark needs (`mark`: a Batch without rows), the
    rows read, what was written, the rows rejected (with why), and the faults retried."""

    mark: Batch
    read: int
    written: Written
    rejected: list[tuple[tuple[Any, ...], str]]
    warnings: list[str]


class _Writer:
    """One process's share of an import: it reads a range of a source table (its own short
    SQLite read transactions), maps and encodes the rows, and COPies them on its own
    connection, one transaction per batch."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.pg: _Postgres | None = None  # opened on the first range: after the fork
        self.loaders: dict[KindName, Loader] = {}
        self.sources: dict[Path, Any] = {}
        self.sender = ThreadPoolExecutor(1, thread_name_prefix="copy")

    def load(self, part: _Range) -> _Loaded:
        table, job = part.table, self.job
        if self.pg is None:
            self.pg = _Postgres(job.conninfo)
        if table.kind not in self.loaders:
            self.loaders[table.kind] = Loader(self.pg, table.kind)
        if table.path not in self.sources:
            self.sources[table.path] = sqlite_source.connect(table.path)
        loader, source = self.loaders[table.kind], self.sources[table.path]
        rows = sqlite_source.read_rows(
            source, table, job.batch_size, part.since, part.after, part.upto
        )
        warnings: list[str] = []
        rejected: list[tuple[tuple[Any, ...], str]] = []
        total, read = Written(), 0
        last, last_key, latest = None, None, None
        # A batch is written by the sender thread while the next one is read and mapped here:
        # the server parses one batch while this process maps the next.
        sending: tuple[list[Mapped], Future[Written]] | None = None
        for batch in rows:
            with _collector_off():
                mapped = transform(table, job.zone, job.units, batch.rows)
            if sending is not None:
                total = total.plus(_sent(*sending, rejected))
            sending = (
                mapped,
                self.sender.submit(loader.load, mapped, job.retry_delays, warnings.append),
            )
            read += len(mapped)
            last, last_key = batch.last_rowid, batch.last_key
            latest = KINDS[table.kind].clock.later(latest, batch.latest)
        if sending is not None:
            total = total.plus(_sent(*sending, rejected))
        return _Loaded(Batch([], last, last_key, latest), read, total, rejected, warnings)

    def close(self) -> None:
        self.sender.shutdown()
        for source in self.sources.values():
            source.close()
        if self.pg is not None:
            self.pg.close()


def _sent(
    mapped: list[Mapped], sent: "Future[Written]", rejected: list[tuple[tuple[Any, ...], str]]
) -> Written:
    """What became of a batch the sender wrote (its rejects added to `rejected`)."""
    written = sent.result()
    rejected += [(m.values, m.reason) for m in mapped if m.reason is not None]
    rejected += [(m.values, reason) for m, reason in written.refused]
    return written._replace(refused=())


@contextmanager
def _collector_off() -> Iterator[None]:
    """Python's cycle collector paused while a batch is mapped: JSON trees hold no cycles,
    and scanning their millions of objects again and again costs about a tenth of the
    mapping."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_WORKER: _Writer | None = None  # in a worker process: its share of the import


def _start_worker(job: _Job, parent: int) -> None:
    """A worker's first act: on Linux, ask to be killed when the import's process (`parent`)
    dies, even by SIGKILL, so that no orphan lingers (and leave at once if it died while this
    worker was starting); then wait for ranges."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the import's to handle (_ctrl_c)
    global _WORKER
    _WORKER = _Writer(job)


def _load_in_worker(part: _Range) -> _Loaded:
    assert _WORKER is not None
    return _WORKER.load(part)


def _workers(processes: int, job: _Job) -> ProcessPoolExecutor | None:
    """The worker processes, started now. Spawned, not forked: a fork copies the locks other
    threads of this process hold at that instant (SQLite's own, for one), and a worker then
    waits forever on a lock no thread of its own will release."""
    if processes <= 0:
        return None
    # Every worker starts now, at once (the pool would start the second one mid-import, at
    # its first wait), ignoring Ctrl-C from birth: an ignored signal stays ignored in the
    # child, so one that is still starting never dies of it (Ctrl-C is the import's: _ctrl_c).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        workers = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(job, os.getpid()),
        )
        for started in [workers.submit(int) for _ in range(processes)]:
            started.result()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return workers


def _ranges(
    source: Any, table: SourceTable, batch_size: int, since: sqlite_source.Since | None
) -> Iterator[_Range]:
    """The table in slices of about `batch_size` rows, by rowid (a WITHOUT ROWID table: one
    slice). Rows the app adds past the last slice are the next run's."""
    if not table.rowid:
        yield _Range(table, None, None, since)
        return
    span = sqlite_source.rowid_span(source, table)
    if span is None:
        return
    low, high = span
    rows = sqlite_source.count_rows(source, table)
    step = max(batch_size, (high - low + 1) * batch_size // max(rows, 1))  # sparse rowids
    for after in range(low - 1, high, step):
        yield _Range(table, after, min(after + step, high), since)


def _in_order(
    workers: ProcessPoolExecutor | _Writer, parts: Iterator[_Range], ahead: int
) -> Iterator[_Loaded]:
    """Each range loaded, in order: by the worker processes, `ahead` ranges at a time, or by
    this process."""
    if isinstance(workers, _Writer):
        yield from (workers.load(part) for part in parts)
        return
    pending: deque[Future[_Loaded]] = deque()
    try:
        for part in parts:
            pending.append(workers.submit(_load_in_worker, part))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise ImportInterrupted(
            "the import stopped: a worker process died (killed, out of memory?); what was "
            "committed stays: run the same command again to resume"
        ) from None
    finally:
        for future in pending:
            future.cancel()


def _save(pg: _Postgres, mark: Watermark) -> None:
    """Record `mark`, after the rows it covers: never ahead of them."""
    with pg.conn.transaction():
        mark.save(pg.queries)


def _defer(pg: _Postgres, table: str) -> list[str]:
    """Drop the secondary indexes of `table` when it is empty (recorded: see migration 0007);
    their names."""
    with pg.conn.transaction():
        return [r["index_name"] for r in pg.queries.defer_indexes(table_name=table)]


def _prune(pg: _Postgres, tables: list[SourceTable], report: Report) -> dict[str, list[str]]:
    """Delete the rows imported from each source that it no longer holds (none of a source
    that could not be read to its end), in one transaction."""
    with pg.conn.transaction():
        return gone.gone_by_source(pg.queries, tables, report.unreadable, prune=True)


def _restore(pg: _Postgres, table: str | None) -> list[str]:
    """Build the indexes deferred on `table` (None: on every table); their names."""
    with pg.conn.transaction():
        return [r["index_name"] for r in pg.schema.restore_indexes(table_name=table)]


@dataclass
class _Run:
    """The import of one source table."""

    table: SourceTable
    job: _Job
    warn: Callable[[str], None]
    full: bool
    processes: int
    stop: list[bool]  # [True]: Ctrl-C asked the import to stop (_ctrl_c)

    def load(
        self,
        workers: ProcessPoolExecutor | _Writer,
        pg: _Postgres,
        rejects: Rejects,
        progress: Progress,
        report: Report,
    ) -> None:
        """Import the table into `report`: its counts and notes, or, when SQLite cannot read
        it to its end, why (what was committed stays; the other tables go on)."""
        counts = report.counts[self.table.name] = Counts()
        notes = report.notes
        source = sqlite_source.connect(self.table.path)
        deferred: list[str] = []
        target = KINDS[self.table.kind].target.table
        retry = self.job.retry_delays
        try:
            total = counts.total = sqlite_source.count_rows(source, self.table)
            mark = Watermark.start(
                pg.queries, source, self.table, total, ZoneInfo(self.job.zone), self.full
            )
            notes.append(f"{self.table.name}: {mark.mode}")
            if mark.deleted:
                notes.append(
                    f"{self.table.name}: {mark.deleted} row(s) fewer than at the last import: rows "
                    "deleted in SQLite are not deleted in PostgreSQL (verify-import lists them, "
                    "import-sqlite --prune removes them)"
                )
            pg.conn.commit()  # no transaction left open while the ranges run
            deferred = pg.retrying(partial(_defer, pg, target), retry, self.warn)
            progress(self.table.name, 0, total)
            parts = _ranges(source, self.table, self.job.batch_size, mark.since)
            for loaded in _in_order(workers, parts, _AHEAD * self.processes):
                for line in loaded.warnings:
                    self.warn(line)
                for values, reason in loaded.rejected:
                    counts.rejected += 1
                    rejects.write(self.table, values, reason)
                written = loaded.written
                counts.read += loaded.read
                counts.inserted += written.inserted
                counts.updated += written.updated
                counts.erased += written.erased
                counts.unchanged += written.unchanged
                mark.advance(loaded.mark)
                pg.retrying(partial(_save, pg, mark), retry, self.warn)
                progress(self.table.name, counts.read, total)
                if self.stop[0]:
                    raise _Stopped(deferred)
        except sqlite3.DatabaseError as error:  # damaged pages, a missing module: the file's
            with suppress(psycopg.Error):
                pg.conn.rollback()  # a statement of the watermark may be left open
            report.unreadable[self.table.name] = str(error)
        finally:
            source.close()
        if deferred:
            pg.retrying(partial(_restore, pg, target), retry, self.warn)
            notes.append(
                f"{self.table.name}: {len(deferred)} secondary index(es) of {target} built "
                "after the load (it was empty)"
            )
