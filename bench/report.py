"""Turn a pytest-benchmark JSON file into bench/REPORT.md and PNG charts in bench/charts/.

pytest bench/ --benchmark-only --benchmark-json=bench/results.json [--full]
python -m bench.report bench/results.json [out-folder] [more results, e.g. bench/results-agno3.json]
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
    ("test_copy_as_sent", "as sent: psql \\copy of those rows as import-sqlite encodes them"),
    ("test_pgloader", "pgloader 3.6 (raw copy, JSON cast to jsonb)"),
    ("test_duckdb", "DuckDB 1.5.5 (raw copy into jsonb columns)"),
)


def import_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    by_file: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for b in benchmarks:
        name = b["name"].partition("[")[0]
        if name in dict(_LOADERS) or name == "test_ratios":
            info = b["extra_info"]
            by_file[info.get("server", "PostgreSQL 18"), info.get("file", "simple")][name] = info
    if not by_file:
        return []
    lines = ["## Import", "",
             "Each file loaded by each loader into a new database of the same server, one after "
             "the other; CPU seconds are the loader's processes and the server's.", "",
             "| server | file | loader | sessions | seconds | rows/s | peak resident MB | CPU s (loader / server) |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (server, file), found in sorted(by_file.items()):
        for name, label in _LOADERS:
            if name in found:
                i = found[name]
                cpu = f"{i['cpu_s']} / {i['server_cpu_s']}" if "cpu_s" in i else "-"
                lines.append(
                    f"| {server} | {file} | {label} | {i['rows']:,} | {i['seconds']} | {i['rows_per_s']:,} | {i['peak_rss_mb']} | {cpu} |"
                )
    for (server, file), found in sorted(by_file.items()):
        ratios = found.get("test_ratios")
        if ratios:
            lines += ["", f"{server}, {file}: import-sqlite is {ratios['x_pgloader']}x pgloader and "
                      f"{ratios['x_duckdb']}x DuckDB (their time over its), and takes {ratios['x_floor']}x the floor "
                      f"and {ratios.get('x_as_sent', '-')}x the floor as sent (which takes {ratios.get('as_sent_x_floor', '-')}x the floor)."]  # fmt: skip
            for loader, short in (ratios.get("incomplete") or {}).items():
                lines += [
                    f"{server}, {file}: {loader} left sessions out ({short}): its time covers less work."
                ]
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


def memory_search_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    ours = {(b["extra_info"]["case"], b["extra_info"]["with_indexes"]): b
            for b in _by_test(benchmarks, "test_memory_search[")}  # fmt: skip
    agno = {b["extra_info"]["case"]: b for b in _by_test(benchmarks, "test_agno_ilike_search[")}
    cases = sorted({case for case, _ in ours})
    if not cases:
        return []
    rows = next(iter(ours.values()))["extra_info"]["rows"]
    lines = ["## Memory search", "",
             f"`search_memories` (a page of 20 by relevance) at {rows:,} memories, with the two "
             "indexes of migration 0009 and in a database without them, and Agno's own search "
             "(`ILIKE '%…%'`: a count, then a page) for reference (`*`: the planner chose "
             "not to use both indexes).", "",
             "| case | query | matches (Agno's) | with indexes | without | speedup | Agno's ILIKE |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for case in cases:
        with_, without = ours.get((case, True)), ours.get((case, False))
        if not (with_ and without):
            continue
        info, ilike = with_["extra_info"], agno.get(case)
        mark = "" if len(info.get("indexes_used", [])) == 2 else "*"
        agno_ms = f"{_median_ms(ilike):.1f} ms" if ilike else ""
        agno_n = ilike["extra_info"]["agno_matches"] if ilike else "?"
        lines.append(
            f"| {case} | `{info['query']}` | {info['matches']:,} ({agno_n}) | {_median_ms(with_):.1f} ms{mark} "
            f"| {_median_ms(without):.1f} ms | {_median_ms(without) / _median_ms(with_):.1f}x | {agno_ms} |"
        )
    return [*lines, ""]


def agno_turn_section(benchmarks: list[dict[str, Any]]) -> list[str]:
    runs = {(b["extra_info"]["db"], b["extra_info"]["runs"]): b["extra_info"]
            for b in _by_test(benchmarks, "test_agno_turn[")}  # fmt: skip
    if not runs:
        return []
    lines = ["## Agno 3 turn", "",
             "One `Agent.run` turn (offline model, history of 5 runs) on a session holding N runs: "
             "median time of the turn and of its database calls, statements sent (queries; "
             "transactions in brackets), WAL bytes written. PagbankDb against Agno 3.1's "
             "own PostgresDb, same database.", "",
             "| runs | ours: turn / db ms | Agno's: turn / db ms | ours: statements | Agno's: statements | ours: WAL bytes | Agno's: WAL bytes |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for n in sorted({n for _, n in runs}):
        ours, agno = runs.get(("pagbank", n)), runs.get(("agno", n))
        if not (ours and agno):
            continue
        lines.append(
            f"| {n} | {ours['turn_ms']} / {ours['db_ms']} | {agno['turn_ms']} / {agno['db_ms']} "
            f"| {ours['statements']:g} ({ours['transactions']:g}) | {agno['statements']:g} ({agno['transactions']:g}) "
            f"| {ours['wal_bytes']:,} | {agno['wal_bytes']:,} |"
        )
    ours_calls = next((i["calls"] for (db, _), i in runs.items() if db == "pagbank"), [])
    agno_calls = next((i["calls"] for (db, _), i in runs.items() if db == "agno"), [])
    return [*lines, "", f"Database calls of a turn: ours `{', '.join(ours_calls)}`; "
            f"Agno's `{', '.join(agno_calls)}`.", ""]  # fmt: skip


# What follows this line in REPORT.md is measured by hand, and kept when the report is rewritten.
HAND_MARKER = "<!-- measured by hand: python -m bench.report keeps everything from this line on -->"


def main(path: str, out: Path = HERE, more: tuple[str, ...] = ()) -> None:
    data = json.loads(Path(path).read_text())
    benchmarks = data["benchmarks"]
    for extra in more:  # another run's results (the Agno 3 turn, from its own environment)
        benchmarks = benchmarks + json.loads(Path(extra).read_text())["benchmarks"]
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
                    memory_section(benchmarks), import_section(benchmarks), query_layer_section(benchmarks),
                    memory_search_section(benchmarks), agno_turn_section(benchmarks)):  # fmt: skip
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
        tuple(sys.argv[3:]),
    )
