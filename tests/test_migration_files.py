"""The migration files, read as yoyo reads them, without a server: each rollback undoes its
migration, statement for statement where yoyo pairs them."""

import re
from pathlib import Path

import pytest
from yoyo.migrations import read_sql_migration

from pagbank_pg.config import MIGRATIONS_DIR

MIGRATIONS = sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql"))
# The kinds of object a migration creates and its rollback drops.
_KINDS = r"TABLE|INDEX|FUNCTION|TRIGGER|TYPE|EXTENSION|TEXT\s+SEARCH\s+CONFIGURATION"
_CREATES = re.compile(
    rf"^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?P<kind>{_KINDS})"
    r"(?:\s+CONCURRENTLY)?(?:\s+IF\s+NOT\s+EXISTS)?\s+(?P<name>\w+)"
    r"|ALTER\s+TABLE\s+\w+\s+ADD\s+(?P<constraint>CONSTRAINT)\s+(?P<cname>\w+))",
    re.IGNORECASE,
)
_DROPS = re.compile(
    rf"^\s*(?:DROP\s+(?P<kind>{_KINDS})(?:\s+CONCURRENTLY)?"
    r"(?:\s+IF\s+EXISTS)?\s+(?P<name>\w+)"
    r"|ALTER\s+TABLE\s+\w+\s+DROP\s+(?P<constraint>CONSTRAINT)(?:\s+IF\s+EXISTS)?\s+(?P<cname>\w+))",
    re.IGNORECASE,
)
_NO_OP = "DO $$ BEGIN END $$"
# What a rollback may do besides dropping: build what an interrupted import deferred (0007).
_RESTORE = "PERFORM restore_deferred_indexes();"
# Or give columns back the server's default compression (what 0011 set).
_RESET = re.compile(
    r"^ALTER TABLE \w+ ALTER COLUMN \w+ SET COMPRESSION default"
    r"(?:, ALTER COLUMN \w+ SET COMPRESSION default)*$",
    re.IGNORECASE,
)


# A DO block whose first statement (under an IF, maybe) creates or drops, with a handler.
_IN_A_BLOCK = re.compile(
    r"^DO \$\$ BEGIN (?:IF .*? THEN )?(?P<body>.*?;) (?:END IF; )?EXCEPTION", re.IGNORECASE
)


def _object(pattern: re.Pattern[str], statement: str) -> tuple[str, str] | None:
    """(kind, name) of what a statement creates or drops (also as the first statement of a
    DO block that passes over a duplicate or keeps what others use), or None."""
    block = _IN_A_BLOCK.match(statement)
    found = pattern.match(block["body"] if block else statement)
    if found is None:
        return None
    if found["constraint"]:
        return "CONSTRAINT", found["cname"].lower()
    return " ".join(found["kind"].upper().split()), found["name"].lower()


def _statements(path: Path) -> tuple[bool, list[str]]:
    directives, _, statements = read_sql_migration(str(path))
    transactional = directives.get("transactional", "true").lower() != "false"
    return transactional, [" ".join(s.split()).rstrip(";") for s in statements]


@pytest.mark.parametrize("migration", MIGRATIONS, ids=[p.stem for p in MIGRATIONS])
def test_every_rollback_undoes_its_migration(migration: Path) -> None:
    transactional, applied = _statements(migration)
    _, undone = _statements(migration.with_name(migration.stem + ".rollback.sql"))
    created = [o for s in applied if (o := _object(_CREATES, s))]
    dropped = [o for s in undone if (o := _object(_DROPS, s))]
    assert sorted(created) == sorted(dropped), "the rollback drops what the migration creates"
    assert all(
        s == _NO_OP or _RESTORE in s or _RESET.match(s) or _object(_DROPS, s) for s in undone
    ), "nothing else in a rollback"
    if transactional:
        return  # one transaction: yoyo runs every rollback statement, their pairing is moot
    # Outside a transaction yoyo pairs the rollback's statements, from the end, with the
    # migration's, and undoes a failed run step by step: each pair must match.
    assert len(undone) == len(applied)
    for statement, rollback in zip(applied, reversed(undone), strict=True):
        made = _object(_CREATES, statement)
        assert (_object(_DROPS, rollback) if made else rollback) == (made or _NO_OP), statement


def test_the_pairing_rule_is_yoyos(tmp_path: Path) -> None:
    """yoyo pairs rollback statements from the end (what the test above relies on)."""
    (tmp_path / "0001.x.sql").write_text("-- transactional: false\nSELECT 1;\nSELECT 2;\n")
    (tmp_path / "0001.x.rollback.sql").write_text("SELECT 'undo 2';\nSELECT 'undo 1';\n")
    from yoyo import read_migrations

    (migration,) = read_migrations(str(tmp_path))
    migration.load()
    steps = [wrapper.step for wrapper in migration.steps]  # each outside a transaction
    pairs = [(step._apply.strip(), step._rollback.strip()) for step in steps]
    assert pairs == [("SELECT 1;", "SELECT 'undo 1';"), ("SELECT 2;", "SELECT 'undo 2';")]
