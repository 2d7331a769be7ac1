"""The wheel carries sql/ and migrates from outside the repository; the embedded default."""

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import APPLIED_LINES, REPO, snapshot


def sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wheel_installed_in_a_fresh_venv_outside_the_repo_migrates(
    tmp_path: Path, empty_dsn: str, db_dsn: str
) -> None:
    dist = tmp_path / "dist"
    sh(sys.executable, "-m", "build", "--wheel", "--outdir", dist, REPO, cwd=tmp_path)
    (wheel,) = dist.glob("pagbank_pg-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    sh(bin_dir / "pip", "install", "--quiet", wheel, cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = sh(bin_dir / "pagbank-pg", "migrate", "--dsn", empty_dsn, cwd=work)
    assert out.splitlines()[: len(APPLIED_LINES)] == APPLIED_LINES
    assert snapshot(empty_dsn) == snapshot(db_dsn)
    where = sh(
        bin_dir / "python", "-c", "import pagbank_pg.config as p; print(p.MIGRATIONS_DIR)", cwd=work
    )
    assert where.strip().startswith(str(tmp_path / "venv"))


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder others may enter (pytest's own are 0700): where a root-run embedded server,
    which runs as its own user, may keep its data without loosening any parent."""
    folder = Path(tempfile.mkdtemp(prefix="pagbank-pg-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_server_is_the_default_and_is_managed_by_the_cli(open_folder: Path) -> None:
    tmp_path = open_folder
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PAGBANK_PG_HOME"] = str(tmp_path / "home")
    cli = [sys.executable, "-m", "pagbank_pg"]
    try:
        out = sh(*cli, "migrate", cwd=tmp_path, env=env)
        assert out.splitlines()[: len(APPLIED_LINES)] == APPLIED_LINES
        url = sh(*cli, "server", "url", cwd=tmp_path, env=env).strip()
        assert url.startswith("postgresql://postgres@/pagbank?host=")
        assert str(tmp_path / "home" / "pgdata") in url
        status = sh(*cli, "server", "status", cwd=tmp_path, env=env)
        assert status.startswith("running, pid ")
        assert sh(*cli, "server", "start", cwd=tmp_path, env=env).strip() == url
        assert len(snapshot(url)["indexes"]) == 18  # the plan's 16, and 0009's two
        assert "nothing to apply" in sh(*cli, "migrate", "--dsn", url, cwd=tmp_path, env=env)
    finally:
        stopped = sh(*cli, "server", "stop", cwd=tmp_path, env=env)
    assert stopped.startswith("stopped the server in ")
    done = subprocess.run(
        [*cli, "server", "status"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 3 and done.stdout.startswith("not running")
