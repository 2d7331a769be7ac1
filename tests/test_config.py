"""Settings: one parsing rule for every number (argument, else environment, else default), 0
meaning zero, and errors that name the setting."""

import pytest

from pagbank_pg import ConfigurationError
from pagbank_pg.config import import_processes, lock_timeout, pool_settings
from pagbank_pg.conninfo import describe


def test_pool_settings_come_from_the_arguments_else_the_environment_else_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MIN_SIZE", "MAX_SIZE", "TIMEOUT"):
        monkeypatch.delenv(f"PAGBANK_PG_POOL_{name}", raising=False)
    assert pool_settings(None, None, None) == (1, 10, 30.0)
    assert pool_settings(12, None, None) == (12, 12, 30.0)  # the default max grows, as psycopg's
    monkeypatch.setenv("PAGBANK_PG_POOL_MAX_SIZE", "3")
    monkeypatch.setenv("PAGBANK_PG_POOL_TIMEOUT", "2.5")
    assert pool_settings(2, None, None) == (2, 3, 2.5)
    assert pool_settings(2, 4, 1) == (2, 4, 1)


def test_a_pool_max_size_below_its_min_size_is_an_error_as_in_psycopg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAGBANK_PG_POOL_MAX_SIZE", raising=False)
    with pytest.raises(ConfigurationError, match="max_size 2 is below min_size 5"):
        pool_settings(5, 2, None)
    monkeypatch.setenv("PAGBANK_PG_POOL_MAX_SIZE", "4")
    with pytest.raises(ConfigurationError, match="PAGBANK_PG_POOL_MAX_SIZE"):
        pool_settings(8, None, None)


def test_a_bad_number_in_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAGBANK_PG_POOL_MIN_SIZE", "many")
    with pytest.raises(ConfigurationError, match="invalid PAGBANK_PG_POOL_MIN_SIZE"):
        pool_settings(None, None, None)


def test_zero_means_zero_for_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGBANK_PG_MIGRATE_LOCK_TIMEOUT", "30")
    monkeypatch.setenv("PAGBANK_PG_IMPORT_PROCESSES", "2")
    assert lock_timeout(0) == 0 and import_processes(0) == 0
    assert lock_timeout(None) == 30 and import_processes(None) == 2


def test_messages_name_the_user_pguser_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGUSER", "ana")
    assert describe("postgresql://db.example:5433/app") == "ana@db.example:5433/app"
    monkeypatch.delenv("PGUSER")
    assert describe("host=db.example") == "(default user)@db.example:5432/(default database)"
