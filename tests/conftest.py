"""One PostgreSQL server per test session, a template database migrated once, a fresh
database per test.

The server is the one named by PAGBANK_PG_TEST_DSN (a superuser connection: the suite creates
databases), else an embedded server started by the package in a temporary folder. When neither
can be had the suite errors out: it never skips.
"""

import os
import shutil
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import psycopg
import pytest

from pagbank_pg import Database
from pagbank_pg.errors import ConfigurationError
from pagbank_pg.schema import embedded, migrations

from .helpers import (
    MODES_AT_START,
    QUERIES,
    TEST_DSN_ENV,
    claim_test_server,
    create_database,
    drop_database,
    folder_modes,
    fresh_database,
    server_home_for_tests,
    stop_abandoned_test_servers,
)


def pytest_configure(config: pytest.Config) -> None:
    MODES_AT_START.update(folder_modes())


# Each Agno generation has its own tests: Agno 1.7's venv runs the suite but tests/agno_v2,
# an Agno 2 or 3 venv runs tests/agno_v2 alone (the rest runs on Agno 1.7).
if find_spec("agno.storage") is not None:
    collect_ignore = ["agno_v2"]
else:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A superuser connection string to the test server's maintenance database."""
    dsn = os.environ.get(TEST_DSN_ENV)
    if dsn:
        yield dsn
        return
    # A run killed before its teardown left its server running: stop it now.
    stop_abandoned_test_servers()
    # Started through the package, as every user's server is: in a folder of its own, which
    # the package creates (so that, run as root, the server's user may enter it).
    home = server_home_for_tests()
    try:
        embedded.ensure_running(home)
    except ConfigurationError as error:
        raise RuntimeError(f"no test server: set {TEST_DSN_ENV} ({error})") from error
    claim_test_server(home)
    state = embedded.status(home)
    assert state is not None
    try:
        yield state.admin_url
    finally:
        embedded.stop(home)
        shutil.rmtree(home, ignore_errors=True)


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
def db(db_dsn: str) -> Iterator[Database]:
    """The package's Database on a fresh migrated database, with the test statements too."""
    with Database.open(db_dsn, queries=QUERIES, max_size=4, timeout=10) as database:
        yield database


@pytest.fixture
def empty_dsn(server_dsn: str) -> Iterator[str]:
    """A fresh database with nothing migrated."""
    yield from fresh_database(server_dsn, None)


@pytest.fixture(scope="session")
def agno_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of SQLite files written by Agno 1.7's own code (40 sessions)."""
    from .agno_files import write_agno_files  # Agno 1.7's own code

    return write_agno_files(tmp_path_factory.mktemp("agno"), sessions=40)
