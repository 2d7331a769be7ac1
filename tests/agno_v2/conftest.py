"""PagbankDb on a fresh migrated database per test."""

from collections.abc import Iterator

import pytest

from pagbank_pg.agno import PagbankDb


@pytest.fixture
def pdb(db_dsn: str) -> Iterator[PagbankDb]:
    db = PagbankDb(db_dsn, agno_schema="agno")
    yield db
    db.close()
