"""Turn a pytest-benchmark JSON file into bench/REPORT.md and PNG charts in bench/charts/.

pytest bench/ --benchmark-only --benchmark-json=bench/results.json [--full]
python -m bench.report bench/results.json
"""

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).parent


def _median_ms(bench: dict[str, Any]) -> float:
    return float(bench["stats"]["median"]) * 1000


def _by_test(benchmarks: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [b for b in benchmarks if b["name"].startswith(prefix)]


def index_section(benchmarks: list[dict[str, Any]], charts: Path) -> list[str]:
    runs: dict[str, dict[tuple[int, bool], dict[str, Any]]] = defaultdict(dict)
    for b in _by_test(benchmarks, "test_index["):
        info = b["extra_info"]
        runs[info["index"]][(info["rows"], info["with_index"])] = {**info, "ms": _median_ms(b)}
    if not runs:
        return []
    sizes = sorted({rows for cases in runs.values() for rows, _ in cases})
    lines = ["## Indexes", "",
             "Median latency of the statement each index serves, with the index and with the "
             "planner steered to a sequential scan (`*`: the planner chose another plan than "
             "this index even when it could use it).", "",
             "| index | statement | " + " | ".join(f"{n:,} rows: with / without (speedup)" for n in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]  # fmt: skip
    for index, cases in sorted(runs.items()):
        cells = []
        for n in sizes:
            with_, without = cases.get((n, True)), cases.get((n, False))
            if with_ and without:
                mark = "" if with_.get("index_used") else "*"
                cells.append(
                    f"{with_['ms']:.2f} / {without['ms']:.2f} ms ({without['ms'] / with_['ms']:.1f}x){mark}"
                )
            else:
                cells.append("")
        statement = next(iter(cases.values()))["statement"]
        lines.append(f"| `{index}` | `{statement}` | " + " | ".join(cells) + " |")
    columns = 4
    rows_of_plots = (len(runs) + columns - 1) // columns
    figure, axes = plt.subplots(
        rows_of_plots, columns, figsize=(16, 3.2 * rows_of_plots), squeeze=False
    )
    for axis, (index, cases) in zip(axes.flat, sorted(runs.items()), strict=False):
        for with_index, style in ((True, "o-"), (False, "s--")):
            points = sorted((n, c["ms"]) for (n, w), c in cases.items() if w is with_index)
            axis.plot([p[0] for p in points], [p[1] for p in points], style,
                      label="with index" if with_index else "without")  # fmt: skip
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(index, fontsize=8)
        axis.set_xlabel("rows", fontsize=7)
        axis.set_ylabel("ms", fontsize=7)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6)
    for axis in list(axes.flat)[len(runs) :]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(charts / "indexes.png", dpi=80)
    plt.close(figure)
    return [*lines, "", "![latency vs rows, with and without each index](charts/indexes.png)", ""]


def concurrency_section(benchmarks: list[dict[str, Any]], charts: Path) -> list[str]:
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in _by_test(benchmarks, "test_postgres_hot_path") + _by_test(
        benchmarks, "test_sqlite_hot_path"
    ):
        series[b["extra_info"]["backend"]].append(b["extra_info"])
    if not series:
        return []
    lines = ["## Concurrent sessions", "",
             "The hot path (touch the user session, append to the agent session, record the "
             "pattern) by N clients at once: turns per second, and latency of one turn.", "",
             "| clients | PostgreSQL turns/s | p50 ms | p99 ms | SQLite turns/s | p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    by_clients = {b: {i["clients"]: i for i in items} for b, items in series.items()}
    for clients in sorted({c for items in by_clients.values() for c in items}):
        cells = []
        for backend in ("postgres", "sqlite"):
            info = by_clients.get(backend, {}).get(clients)
            cells += (
                [f"{info['turns_per_s']:,.0f}", f"{info['p50_ms']}", f"{info['p99_ms']}"]
                if info
                else ["", "", ""]
            )
        lines.append(f"| {clients} | " + " | ".join(cells) + " |")
    for b in _by_test(benchmarks, "test_pgbench_ceiling"):
        lines += ["", f"pgbench (TPC-B-like, {b['extra_info']['clients']} clients) on the same server: "
                  f"**{b['extra_info']['tps']:,} TPS**, the ceiling."]  # fmt: skip
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for backend, items in sorted(series.items()):
        items.sort(key=lambda i: i["clients"])
        clients = [i["clients"] for i in items]
        left.plot(clients, [i["turns_per_s"] for i in items], "o-", label=backend)
        right.plot(clients, [i["p99_ms"] for i in items], "o-", label=backend)
    left.set(xscale="log", xlabel="clients", ylabel="turns/s", title="throughput")
    right.set(xscale="log", yscale="log", xlabel="clients", ylabel="p99 ms", title="p99 latency")
    for axis in (left, right):
        axis.set_xticks([1, 2, 4, 8, 16, 32], labels=["1", "2", "4", "8", "16", "32"])
        axis.legend()
    figure.tight_layout()
    figure.savefig(charts / "concurrency.png", dpi=80)
    plt.close(figure)
    return [*lines, "", "![throughput and p99 vs clients](charts/concurrency.png)", ""]


def memory_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    lines = []
    client = {b["extra_info"]["backend"]: b["extra_info"]["peak_rss_mb"]
              for b in _by_test(benchmarks, "test_client_memory")}  # fmt: skip
    if client:
        lines += ["## Memory", "",
                  f"Peak resident memory of a client running the hot path with 8 clients: "
                  f"PostgreSQL {client.get('postgres')} MB (psycopg and its pool), "
                  f"SQLite {client.get('sqlite')} MB."]  # fmt: skip
    for b in _by_test(benchmarks, "test_bytes_on_disk"):
        info = b["extra_info"]
        lines += ["", f"Bytes on disk per 1,000 Agno agent sessions ({info['sessions']} measured): "
                  f"SQLite {info['sqlite_bytes_per_1000'] / 1e6:.2f} MB, PostgreSQL "
                  f"{info['postgres_bytes_per_1000'] / 1e6:.2f} MB (table, TOAST and indexes)."]  # fmt: skip
    return [*lines, ""] if lines else []


_LOADERS = (
    ("test_import_sqlite", "pagbank-pg import-sqlite (maps every row)"),
    ("test_copy_floor", "floor: psql \\copy of import-sqlite's own rows"),
    ("test_pgloader", "pgloader 3.6 (raw copy, JSON cast to jsonb)"),
    ("test_duckdb", "DuckDB 1.5.5 (raw copy into jsonb columns)"),
)


def import_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    found = {b["name"]: b["extra_info"] for b in benchmarks}
    if "test_import_sqlite" not in found:
        return []
    lines = [
        "## Import",
        "",
        "| loader | sessions | seconds | rows/s | peak resident MB |",
        "|---|---|---|---|---|",
    ]
    for name, label in _LOADERS:
        if name in found:
            i = found[name]
            lines.append(
                f"| {label} | {i['rows']:,} | {i['seconds']} | {i['rows_per_s']:,} | {i['peak_rss_mb']} |"
            )
    ratios = found.get("test_ratios")
    if ratios:
        lines += ["", f"import-sqlite is {ratios['x_pgloader']}x pgloader and {ratios['x_duckdb']}x "
                  f"DuckDB (their time over its), and takes {ratios['x_floor']}x the floor."]  # fmt: skip
    return [*lines, ""]


def query_layer_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    named = _by_test(benchmarks, "test_named_query")
    raw = _by_test(benchmarks, "test_raw_psycopg")
    if not (named and raw):
        return []
    n, r = _median_ms(named[0]) * 1000, _median_ms(raw[0]) * 1000
    return ["## Query layer", "",
            f"A `:one` primary-key lookup through `db.queries`: median {n:.1f} µs; the same SQL "
            f"through raw psycopg on a connection of the same pool: {r:.1f} µs "
            f"({(n / r - 1) * 100:+.1f}%).", ""]  # fmt: skip


# What follows this line in REPORT.md is measured by hand, and kept when the report is rewritten.
HAND_MARKER = "<!-- measured by hand: python -m bench.report keeps everything from this line on -->"


def main(path: str, out: Path = HERE) -> None:
    data = json.loads(Path(path).read_text())
    benchmarks = data["benchmarks"]
    charts = out / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    lines = ["# Benchmark report", "",
             f"Run {data.get('datetime', '')[:19]} on {cpu.get('brand_raw', 'unknown CPU')} "
             f"({cpu.get('count', '?')} cores), Python {machine.get('python_version', '?')}. "
             "Reproduce: `pytest bench/ --benchmark-only --benchmark-json=bench/results.json` "
             "(add `--full` for the full profile), then `python -m bench.report bench/results.json`.", ""]  # fmt: skip
    for section in (index_section(benchmarks, charts), concurrency_section(benchmarks, charts),
                    memory_section(benchmarks), import_section(benchmarks), query_layer_section(benchmarks)):  # fmt: skip
        lines += section
    report = out / "REPORT.md"
    kept = report.read_text().partition(HAND_MARKER) if report.is_file() else ("", "", "")
    text = "\n".join(lines) + "\n" + (f"\n{HAND_MARKER}{kept[2]}" if kept[1] else "")
    report.write_text(text)
    print(f"wrote {out / 'REPORT.md'} and {charts}/")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else str(HERE / "results.json"),
        Path(sys.argv[2]) if len(sys.argv) > 2 else HERE,
    )
