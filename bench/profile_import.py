"""The import's client work on one file, without a server: read, map and encode every session
row as a worker does, one process, and say where the CPU seconds go per MB.

    python -m bench.profile_import FILE.db [--profile]

Prints, per table: MB read, MB of COPY text made, CPU seconds, and with --profile the
functions that took the most of them (cProfile, cumulative and own time)."""

import cProfile
import pstats
import sys
import time
from pathlib import Path

from pagbank_pg import mapping
from pagbank_pg.transfer import batches, source


def run(path: Path) -> None:
    tables = source.discover([path]).tables
    for table in tables:
        conn = source.connect(path)
        read = made = 0
        started = time.process_time()
        for batch in source.read_rows(conn, table, 500):
            read += sum(len(v) for row in batch.rows for v in row if isinstance(v, bytes))
            mapped = batches.map_batch(table, "UTC", mapping.DEFAULT_UNITS, batch.rows)
            made += sum(len(m.lines or b"") for m in mapped)
        seconds = time.process_time() - started
        conn.close()
        print(
            f"{table.name}: {read / 1e6:.1f} MB read, {made / 1e6:.1f} MB of COPY text, "
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
