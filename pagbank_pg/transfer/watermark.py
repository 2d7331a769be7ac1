"""Where the import of each source table got to, kept in PostgreSQL (`import_watermarks`),
so that a cutover's catch-up reads only what was written since (`Since`) instead of the whole
file. Written in the transaction of each batch: a killed import never has a watermark ahead of
its data, and resumes from its last batch.

What a catch-up reads: rows past the highest rowid imported (new rows, and rows the app
replaced with INSERT OR REPLACE), and rows last written at the latest time seen less a margin
(rows written in the watermark's own second, and clocks that stepped back a little); the
upsert then writes only what really changed. A table is compared in full, and the summary
says why, on a first import, with `--full`, when the file is not the one imported before, for
a WITHOUT ROWID table, and when no row says when it was written.
"""

import os
import sqlite3
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from ..config import CATCHUP_MARGIN_SECONDS
from ..query.types import TransferQueries
from . import source as sqlite_source
from .kinds import KINDS
from .source import Batch, Since, SourceTable


def _identity(table: SourceTable) -> str:
    status = os.stat(table.path)
    return f"{status.st_dev}:{status.st_ino}"


@dataclass
class Watermark:
    """Where the import of one source table got to, and how this run reads it."""

    table: SourceTable
    identity: str
    source_rows: int
    max_rowid: int | None
    anchor: Any
    time_mark: Any
    now: Any
    since: Since | None
    mode: str  # what the summary says: how the table is read, and why
    deleted: int = 0  # rows fewer than at the last import (deleted in SQLite)

    @classmethod
    def start(
        cls,
        queries: TransferQueries,
        conn: sqlite3.Connection,
        table: SourceTable,
        source_rows: int,
        zone: tzinfo,
        full: bool,
    ) -> "Watermark":
        """The watermark of `table` at the start of a run, and how the run reads it."""
        stored = queries.get_watermark(source_file=table.path.name, source_table=table.table)
        identity, clock = _identity(table), KINDS[table.kind].clock
        mark = cls(table, identity, source_rows, None, None, None, clock.now(zone), None, "")
        if stored is not None:
            mark.deleted = max(0, int(stored["source_rows"]) - source_rows)
        stored_time = clock.from_text(stored["time_mark"]) if stored else None
        anchor = None  # the key of the row at the stored max_rowid (kept as a keyed hash)
        if stored is not None and stored["max_rowid"] is not None and table.rowid:
            anchor = sqlite_source.key_at(conn, table, stored["max_rowid"])
        if full:
            mark.mode = "full comparison (--full)"
        elif stored is None:
            mark.mode = "full comparison: the first import of this table"
        elif not table.rowid:
            mark.mode = "full comparison: a WITHOUT ROWID table"
        elif stored["file_identity"] != identity or (
            stored["max_rowid"] is not None
            and queries.anchor_hash(anchor_key=str(anchor)) != stored["anchor_key"]
        ):
            mark.mode = "full comparison: the file is not the one imported before (replaced?)"
        elif stored_time is None or clock.earlier(stored_time, 0) is None:
            mark.mode = "full comparison: no row says when it was written"
        else:
            mark.max_rowid, mark.anchor, mark.time_mark = (
                stored["max_rowid"], anchor, stored_time
            )  # fmt: skip
            threshold = clock.earlier(stored_time, CATCHUP_MARGIN_SECONDS)
            mark.since = Since(mark.max_rowid if mark.max_rowid is not None else -1, threshold)
            mark.mode = (
                f"catch-up: rows past rowid {mark.since.max_rowid}, or written at {threshold} or "
                f"later (the watermark less {CATCHUP_MARGIN_SECONDS} s)"
            )
        return mark

    def advance(self, batch: Batch) -> None:
        """Move past a batch about to be written."""
        if batch.last_rowid is not None and (
            self.max_rowid is None or batch.last_rowid > self.max_rowid
        ):
            self.max_rowid, self.anchor = batch.last_rowid, batch.last_key
        latest = KINDS[self.table.kind].clock.later(self.time_mark, batch.latest)
        self.time_mark = None if latest is None else min(latest, self.now)

    def save(self, queries: TransferQueries) -> None:
        """Record the watermark (call inside the transaction of the batch it covers)."""
        queries.save_watermark(
            source_file=self.table.path.name,
            source_table=self.table.table,
            file_identity=self.identity,
            max_rowid=self.max_rowid,
            anchor_key=None if self.anchor is None else str(self.anchor),
            time_mark=None if self.time_mark is None else str(self.time_mark),
            source_rows=self.source_rows,
        )
