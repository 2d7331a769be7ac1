"""One migrated database for the benchmarks: on $PAGBANK_PG_BENCH_DSN (a superuser connection),
else on an embedded server in a temporary folder."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pagbank_pg.schema import embedded, migrations


@pytest.fixture(scope="session")
def bench_server() -> Iterator[str]:
    """A superuser connection to the server the benchmarks run on."""
    server = os.environ.get("PAGBANK_PG_BENCH_DSN")
    if server:
        yield server
        return
    # Started through the package, in a folder it creates (never around its checks).
    home = Path(tempfile.gettempdir()) / f"pagbank-pg-bench-{uuid.uuid4().hex[:12]}"
    embedded.ensure_running(home)
    state = embedded.status(home)
    assert state is not None
    try:
        yield state.admin_url
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def bench_dsn(bench_server: str) -> Iterator[str]:
    """A migrated database for the benchmarks."""
    server = bench_server
    name = f"pagbank_bench_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(server, dbname=name)
    migrations.apply(dsn)
    yield dsn
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="the full profile: 100k and 1M rows, longer runs (the quick one: 10k and 100k)",
    )


@pytest.fixture(scope="session")
def full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full")) or bool(os.environ.get("PAGBANK_PG_BENCH_FULL"))


def fresh_database(server: str, migrate: bool = True) -> Iterator[str]:
    """A new database on the benchmark server (migrated), dropped afterwards."""
    import uuid

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(server, dbname=name)
    if migrate:
        migrations.apply(dsn)
    yield dsn
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
