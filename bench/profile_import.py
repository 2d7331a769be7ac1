"""The import's client work on one file, without a server: read, map and encode every session
row as a worker does, one process, and say where the CPU seconds go per MB.

    python -m bench.profile_import FILE.db [--profile]

Prints, per table: MB read, MB of COPY text made, CPU seconds, and with --profile the
functions that took the most of them (cProfile, cumulative and own time)."""

import cProfile
import pstats
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pagbank_pg import mapping
from pagbank_pg.transfer import batches, source
from pagbank_pg.transfer.kinds import KINDS


def encoded(path: Path) -> Iterator[tuple[source.SourceTable, str, int, list[bytes]]]:
    """Each batch of the file's tables as the import's workers encode it: the source table,
    the target table, the bytes read and the COPY text of its target rows (JSON as sent)."""
    for table in source.discover([path]).tables:
        conn = source.connect(path)
        try:
            for batch in source.read_rows(conn, table, 500):
                read = sum(len(v) for row in batch.rows for v in row if isinstance(v, bytes))
                mapped = batches.map_batch(table, "UTC", mapping.DEFAULT_UNITS, batch.rows)
                lines = [m.lines for m in mapped if m.lines is not None]
                yield table, KINDS[table.kind].target.table, read, lines
        finally:
            conn.close()


def run(path: Path) -> None:
    totals: dict[str, list[float]] = {}
    started = time.process_time()
    for table, _, read, lines in encoded(path):
        total = totals.setdefault(table.name, [0, 0, 0])
        total[0] += read
        total[1] += sum(map(len, lines))
        total[2] += time.process_time() - started
        started = time.process_time()
    for name, (read, made, seconds) in totals.items():
        print(
            f"{name}: {read / 1e6:.1f} MB read, {made / 1e6:.1f} MB of COPY text, "
            f"{seconds:.2f} CPU s: {seconds / (read / 1e6) * 1000:.1f} ms per MB read, "
            f"{seconds / (made / 1e6) * 1000:.1f} ms per MB sent"
        )


def main() -> None:
    path = Path(sys.argv[1])
    if "--profile" not in sys.argv:
        run(path)
        return
    profile = cProfile.Profile()
    profile.runcall(run, path)
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
