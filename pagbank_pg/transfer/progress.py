"""Progress of long work (import, export, verify): a bar with rows/s and ETA on a terminal,
plain log lines elsewhere."""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rich.progress
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

Progress = Callable[[str, int, int], None]  # (table name, rows done, rows in all)


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


@contextmanager
def progress_reporter() -> Iterator[Progress]:
    """A progress callback (table, done, total): rich bars on a terminal, log lines otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield LogProgress(lambda line: print(line, file=sys.stderr, flush=True))
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with rich.progress.Progress(*columns, console=console) as bars:

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total, rate="")
            task = tasks[name]
            bars.update(task, completed=done)
            speed = bars.tasks[task].speed
            bars.update(task, rate=f"{speed:,.0f} rows/s" if speed else "")

        yield update
