"""How import-sqlite splits a table among its worker processes: ranges of rowids that cover
every row once, whatever the rowids (dense, sparse, a WITHOUT ROWID table), and an import
over them that misses nothing."""

import sqlite3
from pathlib import Path

import pytest

from pagbank_pg.transfer import ranges
from pagbank_pg.transfer import source as sqlite_source

from .agno_files import big_copy
from .helpers import fresh_database, run, table_contents


@pytest.mark.parametrize("spread", [1, 7, 1_000_003])
def test_ranges_cover_every_row_once_whatever_the_rowids(tmp_path: Path, spread: int) -> None:
    path = tmp_path / "pagbank.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
                     " team_id TEXT, created_at TEXT NOT NULL, last_activity TEXT NOT NULL,"
                     " interaction_count INTEGER, session_context TEXT, is_active BOOLEAN,"
                     " metadata TEXT)")  # fmt: skip
        conn.executemany(
            "INSERT INTO sessions (rowid, session_id, user_id, created_at, last_activity) "
            "VALUES (?, ?, 'u', '2026-01-01T00:00:00', '2026-01-01T00:00:00')",
            [(5 + i * spread, f"s-{i}") for i in range(95)],
        )
    (table,) = sqlite_source.discover([path], None).tables
    conn = sqlite_source.connect(path)
    read: list[int] = []
    parts = list(ranges.plan_ranges(conn, table, 10, None))
    for part in parts:
        statement = "SELECT rowid FROM sessions WHERE rowid > ? AND rowid <= ? ORDER BY rowid"
        read += [r[0] for r in conn.execute(statement, (part.after, part.upto))]
    conn.close()
    assert read == [5 + i * spread for i in range(95)]  # each once, in order
    assert len(parts) <= 95 // 10 + 2  # sparse rowids: ranges widen, not multiply


def test_a_sparse_table_and_a_without_rowid_one_import_whole(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=3)
    with sqlite3.connect(data / "pagbank.db") as conn:  # rowids far apart, as after deletes
        conn.execute("UPDATE agent_sessions SET rowid = rowid * 100003")
    memory = next((data / "memory").glob("*.db"))
    with sqlite3.connect(memory) as conn:
        (name,) = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        conn.execute(f"ALTER TABLE {name} RENAME TO old")
        conn.execute(ddl.rstrip().rstrip(";") + " WITHOUT ROWID")
        conn.execute(f"INSERT INTO {name} SELECT * FROM old")
        conn.execute("DROP TABLE old")
    code, out, err = run("import-sqlite", str(data), "--dsn", db_dsn, "--batch-size", "7",
                         "--reject-file", str(tmp_path / "r"))  # fmt: skip
    assert code == 0, err
    assert "a WITHOUT ROWID table" in out + err
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 0, err + out


def test_workers_or_none_the_same_rows_land(
    server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    landed = []
    for processes in (0, 2):
        for dsn in fresh_database(server_dsn, template_db):
            monkeypatch.setenv("PAGBANK_PG_IMPORT_PROCESSES", str(processes))
            code, _, err = run("import-sqlite", str(agno_data), "--dsn", dsn, "--batch-size",
                               "5", "--reject-file", str(tmp_path / "r"))  # fmt: skip
            assert code == 0, err
            landed.append(table_contents(dsn))
    assert landed[0] == landed[1] and landed[0]["agent_sessions"]
