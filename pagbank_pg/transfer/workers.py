"""The import's worker processes: each reads a range of a source table (its own short SQLite
read transactions), maps and encodes its rows, and writes them on its own connection, one
transaction per batch. Spawned, and killed with the import's process (PR_SET_PDEATHSIG)."""

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ImportInterrupted
from . import source as sqlite_source
from .batches import BatchResult, BatchWriter, ImportConnection, MappedRow, map_batch
from .kinds import KINDS, KindName
from .ranges import Range
from .source import Batch

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


class Job(NamedTuple):
    """What every range of an import shares (sent to the worker processes once)."""

    conninfo: str
    zone: str
    units: dict[str, str]
    batch_size: int
    retry_delays: tuple[float, ...]


class RangeResult(NamedTuple):
    """What became of a range: what its watermark needs (`mark`: a Batch without rows), the
    rows read, what was written, the rows rejected (with why), and the faults retried."""

    mark: Batch
    read: int
    written: BatchResult
    rejected: list[tuple[tuple[Any, ...], str]]
    warnings: list[str]


class RangeWorker:
    """One process's share of an import: it reads a range of a source table (its own short
    SQLite read transactions), maps and encodes the rows, and COPies them on its own
    connection, one transaction per batch."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.pg: ImportConnection | None = None  # opened on the first range, in the worker process
        self.writers: dict[KindName, BatchWriter] = {}
        self.sources: dict[Path, Any] = {}
        self.sender = ThreadPoolExecutor(1, thread_name_prefix="copy")

    def run(self, part: Range) -> RangeResult:
        table, job = part.table, self.job
        if self.pg is None:
            self.pg = ImportConnection(job.conninfo)
        if table.kind not in self.writers:
            self.writers[table.kind] = BatchWriter(self.pg, table.kind)
        if table.path not in self.sources:
            self.sources[table.path] = sqlite_source.connect(table.path)
        writer, source = self.writers[table.kind], self.sources[table.path]
        rows = sqlite_source.read_rows(
            source, table, job.batch_size, part.since, part.after, part.upto
        )
        warnings: list[str] = []
        rejected: list[tuple[tuple[Any, ...], str]] = []
        total, read = BatchResult(), 0
        last, last_key, latest = None, None, None
        # A batch is written by the sender thread while the next one is read and mapped here:
        # the server parses one batch while this process maps the next.
        sending: tuple[list[MappedRow], Future[BatchResult]] | None = None
        for batch in rows:
            with _collector_off():
                mapped = map_batch(table, job.zone, job.units, batch.rows)
            if sending is not None:
                total = total.plus(_sent(*sending, rejected))
            sending = (
                mapped,
                self.sender.submit(writer.write, mapped, job.retry_delays, warnings.append),
            )
            read += len(mapped)
            last, last_key = batch.last_rowid, batch.last_key
            latest = KINDS[table.kind].clock.later(latest, batch.latest)
        if sending is not None:
            total = total.plus(_sent(*sending, rejected))
        return RangeResult(Batch([], last, last_key, latest), read, total, rejected, warnings)

    def close(self) -> None:
        self.sender.shutdown()
        for source in self.sources.values():
            source.close()
        if self.pg is not None:
            self.pg.close()


def _sent(
    mapped: list[MappedRow],
    sent: "Future[BatchResult]",
    rejected: list[tuple[tuple[Any, ...], str]],
) -> BatchResult:
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


# What runs the ranges: the worker processes, or (none asked for) this process alone.
Workers = ProcessPoolExecutor | RangeWorker
_WORKER: RangeWorker | None = None  # in a worker process: its share of the import


def _start_worker(job: Job, parent: int) -> None:
    """A worker's first act: on Linux, ask to be killed when the import's process (`parent`)
    dies, even by SIGKILL, so that no orphan lingers (and leave at once if it died while this
    worker was starting); then wait for ranges."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the import's to handle (_ctrl_c)
    global _WORKER
    _WORKER = RangeWorker(job)


def _run_in_worker(part: Range) -> RangeResult:
    assert _WORKER is not None
    return _WORKER.run(part)


def start_workers(processes: int, job: Job) -> ProcessPoolExecutor | None:
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


def stop_workers(workers: Workers) -> None:
    if isinstance(workers, RangeWorker):
        workers.close()
    else:
        workers.shutdown(wait=False, cancel_futures=True)


def run_in_order(workers: Workers, parts: Iterator[Range], ahead: int) -> Iterator[RangeResult]:
    """Each range loaded, in order: by the worker processes, `ahead` ranges at a time, or by
    this process."""
    if isinstance(workers, RangeWorker):
        yield from (workers.run(part) for part in parts)
        return
    pending: deque[Future[RangeResult]] = deque()
    try:
        for part in parts:
            pending.append(workers.submit(_run_in_worker, part))
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
