"""Tests of `PagbankDb` and `AsyncPagbankDb`, the storage for Agno 2.x and 3.x, on a fresh
migrated database per test.

Only an Agno 2 or 3 venv collects this folder (tests/conftest.py decides by the Agno generation
installed); here the Agno 3 only file is left out under Agno 2. Every test runs against a real
server.
"""

import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from pagbank_pg.agno import PagbankDb

from ..helpers import run
from .backends import Backend, backend, own_backend, sync_backend  # noqa: F401  (fixtures)
from .sessions import SAMPLES

if int(version("agno").split(".")[0]) < 3:
    # upsert_run, runs_limit and the runs API are Agno 3's
    collect_ignore = ["test_runs.py", "test_run_api.py", "test_fallbacks.py"]


@pytest.fixture
def pdb(db_dsn: str) -> Iterator[PagbankDb]:
    db = PagbankDb(db_dsn, agno_schema="agno")
    yield db
    db.close()


@pytest.fixture
def imported(own_backend: Backend, tmp_path: Path) -> Backend:  # noqa: F811  (the fixture)
    shutil.copytree(SAMPLES, tmp_path / "data")
    code, _, err = run(
        "import-sqlite",
        str(tmp_path / "data"),
        "--dsn",
        own_backend.dsn,
        "--reject-file",
        str(tmp_path / "rejects"),
    )
    assert code == 0, err
    return own_backend
