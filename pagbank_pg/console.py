"""Terminal output of long work: a progress bar with rows/s and ETA on a terminal, plain log
lines elsewhere; result tables."""

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .importer import LogProgress
from .importer import Progress as ProgressCallback


@contextmanager
def progress_reporter() -> Iterator[ProgressCallback]:
    """A progress callback (table, done, total): rich bars on a terminal, log lines otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield LogProgress(lambda line: print(line, file=sys.stderr, flush=True))
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console) as bars:

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total, rate="")
            task = tasks[name]
            bars.update(task, completed=done)
            speed = bars.tasks[task].speed
            bars.update(task, rate=f"{speed:,.0f} rows/s" if speed else "")

        yield update


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout; numbers right-aligned with thousands separators."""
    table = Table(*headers, box=None, pad_edge=False)
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    Console(width=200).print(table)
