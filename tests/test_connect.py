"""Opening fails fast and says why: a login the server refuses, a database it lacks or a port
nobody listens on raise ConnectionFailed from the first attempt, before any pool retries; a
server that accepts TCP and never answers costs connect_timeout (a setting), then one line."""

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pagbank_pg import AsyncDatabase, ConnectionFailed, Database, config
from pagbank_pg.conninfo import to_conninfo
from pagbank_pg.errors import ConfigurationError

from .helpers import closed_port

SECRET = "s3cr3t-Pa55"


def _bad_urls(server_dsn: str) -> dict[str, tuple[str, str]]:
    """Connection strings that no retry can mend, and what the server says of each."""
    params = conninfo_to_dict(server_dsn)
    nowhere = closed_port()
    return {
        "no such role": (
            make_conninfo(server_dsn, user="nobody", password=SECRET),
            'role "nobody" does not exist',
        ),
        "no such database": (
            make_conninfo(server_dsn, dbname="no_such_db", password=SECRET),
            'database "no_such_db" does not exist',
        ),
        "refused": (
            f"postgresql://{params.get('user', 'postgres')}:{SECRET}@127.0.0.1:{nowhere}/x",
            "Connection refused",
        ),
    }


CASES = ["no such role", "no such database", "refused"]


@pytest.mark.parametrize("case", CASES)
def test_open_fails_at_once_with_the_server_s_reason(
    server_dsn: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, reason = _bad_urls(server_dsn)[case]
    caplog.set_level(logging.DEBUG, logger="psycopg.pool")
    with pytest.raises(ConnectionFailed) as raised:
        Database.open(url)  # the default pool timeout: 30 s of retries before
    message = str(raised.value)
    assert message.startswith("could not connect to ") and reason in message
    assert SECRET not in message and "\n" not in message
    assert not [r for r in caplog.records if r.name.startswith("psycopg.pool")]  # no retries


@pytest.mark.parametrize("case", CASES)
async def test_async_open_fails_at_once_with_the_server_s_reason(
    server_dsn: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, reason = _bad_urls(server_dsn)[case]
    caplog.set_level(logging.DEBUG, logger="psycopg.pool")
    with pytest.raises(ConnectionFailed) as raised:
        await AsyncDatabase.open(url)
    assert reason in str(raised.value) and SECRET not in str(raised.value)
    assert not [r for r in caplog.records if r.name.startswith("psycopg.pool")]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_every_connection_string_gets_the_default_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert conninfo_to_dict(to_conninfo("postgresql://u@h/d"))["connect_timeout"] == "10"
    assert conninfo_to_dict(to_conninfo("host=h connect_timeout=3"))["connect_timeout"] == "3"
    monkeypatch.setenv(config.CONNECT_TIMEOUT_ENV, "4")
    assert conninfo_to_dict(to_conninfo("postgresql+psycopg://u@h/d"))["connect_timeout"] == "4"
    monkeypatch.setenv(config.CONNECT_TIMEOUT_ENV, "soon")
    with pytest.raises(ConfigurationError, match="invalid PAGBANK_PG_CONNECT_TIMEOUT"):
        to_conninfo("postgresql://u@h/d")


def test_the_cli_gives_up_on_a_silent_server_after_connect_timeout(silent_port: int) -> None:
    env = {**os.environ, config.CONNECT_TIMEOUT_ENV: "2"}
    done = subprocess.run(
        [sys.executable, "-m", "pagbank_pg", "status", "--dsn",
         f"postgresql://app@127.0.0.1:{silent_port}/pagbank"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"pagbank-pg: error: could not connect to app@127.0.0.1:{silent_port}/pagbank: no "
        "answer within 2 s (connect_timeout; PAGBANK_PG_CONNECT_TIMEOUT sets it); check that "
        "the server runs and that --dsn or DATABASE_URL names it\n"
    )


def test_the_library_gives_up_on_a_silent_server_after_connect_timeout(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.CONNECT_TIMEOUT_ENV, "2")
    with pytest.raises(ConnectionFailed, match=r"no answer within 2 s \(connect_timeout"):
        Database.open(f"postgresql://app@127.0.0.1:{silent_port}/pagbank")
