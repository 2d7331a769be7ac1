"""An import's plan: each source table in ranges of rowids, each read, mapped and written on
its own (by a worker process: `workers`)."""

from collections.abc import Iterator
from typing import Any, NamedTuple

from . import source as sqlite_source
from .source import SourceTable


class Range(NamedTuple):
    """A slice of a source table: the rows of rowids after `after` up to `upto` (None: the
    whole table), those written since `since` when it is a catch-up."""

    table: SourceTable
    after: int | None
    upto: int | None
    since: sqlite_source.Since | None


def plan_ranges(
    source: Any, table: SourceTable, batch_size: int, since: sqlite_source.Since | None
) -> Iterator[Range]:
    """The table in slices of about `batch_size` rows, by rowid (a WITHOUT ROWID table: one
    slice). Rows the app adds past the last slice are the next run's."""
    if not table.rowid:
        yield Range(table, None, None, since)
        return
    span = sqlite_source.rowid_span(source, table)
    if span is None:
        return
    low, high = span
    rows = sqlite_source.count_rows(source, table)
    step = max(batch_size, (high - low + 1) * batch_size // max(rows, 1))  # sparse rowids
    for after in range(low - 1, high, step):
        yield Range(table, after, min(after + step, high), since)
