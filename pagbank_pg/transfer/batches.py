"""A batch of source rows on its way to PostgreSQL: mapped and encoded (`map_batch`), then
written in one transaction (`BatchWriter.write`): straight into the table while its rows are
new, else through a stage table and one upsert that writes only what changed. A batch refused
for a row's data is written again a row at a time, so that the bad row is refused alone; any
other fault is retried on a new connection (`ImportConnection.retrying`), with backoff."""

import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg.types.json import set_json_dumps

from .. import mapping
from ..conninfo import describe, error_line
from ..errors import ConnectionFailed, ImportInterrupted, ImportRunning, QueryError, RejectedRow
from ..mapping import Source
from ..query import connect_direct
from ..query.types import schema_queries, transfer_queries
from .copytext import encode_rows
from .kinds import KINDS, KindName, Mapper, check_copy
from .source import SourceTable

_REFUSED = (QueryError, psycopg.Error)  # what a batch's statements or its commit raise
T = TypeVar("T")


class MappedRow(NamedTuple):
    """One source row, mapped: its COPY lines and target row count, or why it was rejected."""

    values: tuple[Any, ...]
    lines: bytes | None
    rows: int
    reason: str | None


def map_batch(
    table: SourceTable, zone_name: str, units: Mapping[str, str], batch: list[tuple[Any, ...]]
) -> list[MappedRow]:
    """Map and encode one batch of source rows (run in worker processes)."""
    to_rows = row_mapper(table, ZoneInfo(zone_name), units)
    out: list[MappedRow] = []
    for values in batch:
        try:
            rows = to_rows(values)
            out.append(MappedRow(values, encode_rows(table.kind, rows), len(rows), None))
        except RejectedRow as error:
            out.append(MappedRow(values, None, 0, str(error)))
        except Exception as error:  # whatever one row makes fail rejects that row alone
            reason = f"cannot be mapped: {type(error).__name__}: {error_line(error)}"
            out.append(MappedRow(values, None, 0, reason))
    return out


def row_mapper(
    table: SourceTable, zone: ZoneInfo, units: Mapping[str, str] = mapping.DEFAULT_UNITS
) -> Mapper:
    """The function mapping one raw row of `table` to its target rows (raising RejectedRow)."""

    def unit_of(agent_id: str) -> str | None:
        return mapping.business_unit_of(agent_id, units)

    source = Source(table.path.name, table.table)
    return KINDS[table.kind].mapper(table.columns, source, zone, unit_of)


class BatchResult(NamedTuple):
    """What became of a batch's target rows, and the source rows PostgreSQL refused."""

    inserted: int = 0
    updated: int = 0
    erased: int = 0  # of erased users: passed over
    rows: int = 0  # target rows written in all (the rest were already there, unchanged)
    refused: tuple[tuple[MappedRow, str], ...] = ()

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated - self.erased

    def plus(self, other: "BatchResult") -> "BatchResult":
        return BatchResult(
            self.inserted + other.inserted, self.updated + other.updated,
            self.erased + other.erased, self.rows + other.rows, self.refused + other.refused,
        )  # fmt: skip


_ROW_FAULTS = ("22", "23", "54")  # SQLSTATE classes about a row's own data


def is_row_fault(error: BaseException) -> bool:
    """Whether PostgreSQL refused `error`'s statement for the data of the rows it carried."""
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _ROW_FAULTS


class ImportConnection:
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


class BatchWriter:
    """Writes mapped rows of one kind through a stage table, one transaction per batch."""

    def __init__(self, pg: ImportConnection, kind: KindName) -> None:
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

    def _upsert(self, lines: bytes) -> BatchResult:
        self.copy_stage(lines)
        result = self.upsert_staged()
        assert result is not None
        return BatchResult(int(result["inserted"]), int(result["updated"]), int(result["erased"]))

    def write(
        self, batch: list[MappedRow], retry_delays: tuple[float, ...], warn: Callable[[str], None]
    ) -> BatchResult:
        """Write a batch of mapped source rows. A fault that is not a row's is retried on a
        new connection after each of `retry_delays`; then ImportInterrupted."""

        def attempt() -> BatchResult:
            self._bind()
            return self._write_once(batch)

        return self.pg.retrying(attempt, retry_delays, warn)

    def _write_once(self, batch: list[MappedRow]) -> BatchResult:
        good = [m for m in batch if m.lines is not None]
        rows = sum(m.rows for m in good)
        lines = b"".join(m.lines or b"" for m in good)
        conn = self.pg.conn
        if self.direct:
            try:
                with conn.transaction():
                    copied = self.copy_direct(lines)  # rows of erased users are dropped
                return BatchResult(copied, 0, rows - copied, rows)
            except _REFUSED as error:
                if getattr(error, "sqlstate", None) == "23505":  # unique_violation
                    self.direct = False  # rows already there
                elif not is_row_fault(error):
                    raise
        try:
            with conn.transaction():
                written = self._upsert(lines)._replace(rows=rows)
            return written
        except _REFUSED as error:
            if not is_row_fault(error):
                raise  # find the bad rows below: one source row at a time
        total = BatchResult()
        for one in good:
            try:
                with conn.transaction():
                    written = self._upsert(one.lines or b"")
            except _REFUSED as error:
                if not is_row_fault(error):
                    raise
                reason = f"refused by PostgreSQL: {error_line(error)}"
                written = BatchResult(refused=((one, reason),))
            total = total.plus(written._replace(rows=one.rows if not written.refused else 0))
        return total
