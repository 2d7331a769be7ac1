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

One verb a layer: `copytext` encodes rows, `batches` maps and writes a batch (retrying it),
`ranges` plans a table's ranges, `workers` runs a range (in a worker process, or here), and
this module imports each table (its watermark, its deferred indexes, its counts).
"""

import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from .. import config, mapping
from ..errors import ImportInterrupted
from . import gone
from . import source as sqlite_source
from .batches import ImportConnection
from .kinds import KINDS, KindName
from .progress import Progress
from .ranges import plan_ranges
from .rejects import Rejects
from .source import SourceTable
from .watermark import Watermark
from .workers import Job, RangeWorker, Workers, run_in_order, start_workers, stop_workers

_AHEAD = 2  # ranges in flight per worker process


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
    job = Job(conninfo, zone.key, dict(units), batch_size, retry_delays)
    # The worker processes start before any connection opens: none may inherit one.
    workers: Workers = start_workers(processes, job) or RangeWorker(job)
    try:
        pg = ImportConnection(conninfo, lock=True)
    except BaseException:
        stop_workers(workers)
        raise
    try:
        with _ctrl_c() as stop:
            left = pg.retrying(partial(_restore, pg, None), retry_delays, warn)
            if left:
                notes.append(f"built {len(left)} index(es) an interrupted import had deferred")
            for table in tables:
                each = _TableImport(table, job, warn, full, max(processes, 1), stop)
                each.run(workers, pg, rejects, progress, report)
            if prune:
                report.pruned = pg.retrying(partial(_prune, pg, tables, report), retry_delays, warn)
    except _Stopped as stopped:
        raise ImportInterrupted(_stopped(report, stopped.deferred)) from None
    finally:
        pg.close()
        rejects.close()
        stop_workers(workers)
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


def _save(pg: ImportConnection, mark: Watermark) -> None:
    """Record `mark`, after the rows it covers: never ahead of them."""
    with pg.conn.transaction():
        mark.save(pg.queries)


def _defer(pg: ImportConnection, table: str) -> list[str]:
    """Drop the secondary indexes of `table` when it is empty (recorded: see migration 0007);
    their names."""
    with pg.conn.transaction():
        return [r["index_name"] for r in pg.queries.defer_indexes(table_name=table)]


def _prune(pg: ImportConnection, tables: list[SourceTable], report: Report) -> dict[str, list[str]]:
    """Delete the rows imported from each source that it no longer holds (none of a source
    that could not be read to its end), in one transaction."""
    with pg.conn.transaction():
        return gone.gone_by_source(pg.queries, tables, report.unreadable, prune=True)


def _restore(pg: ImportConnection, table: str | None) -> list[str]:
    """Build the indexes deferred on `table` (None: on every table); their names."""
    with pg.conn.transaction():
        return [r["index_name"] for r in pg.schema.restore_indexes(table_name=table)]


@dataclass
class _TableImport:
    """The import of one source table."""

    table: SourceTable
    job: Job
    warn: Callable[[str], None]
    full: bool
    processes: int
    stop: list[bool]  # [True]: Ctrl-C asked the import to stop (_ctrl_c)

    def run(
        self,
        workers: Workers,
        pg: ImportConnection,
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
            parts = plan_ranges(source, self.table, self.job.batch_size, mark.since)
            for loaded in run_in_order(workers, parts, _AHEAD * self.processes):
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
