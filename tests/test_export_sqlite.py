"""export-sqlite against hostile names and rows: quoted names, one snapshot, no stale WAL
files next to a replaced file, one bad row left out alone."""

import sqlite3
from pathlib import Path

import psycopg

from pagbank_pg.transfer.exporter import export_sqlite
from pagbank_pg.transfer.kinds import KINDS

from .agno_files import sample_agent_row
from .helpers import run


def test_a_table_name_with_quotes_round_trips(db_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = 'my "agents"; DROP TABLE x; --'
    conn = sqlite3.connect(folder / "pagbank.db")
    conn.executescript(KINDS["agent"].ddl(name))
    good = sample_agent_row()
    conn.execute(
        f'INSERT INTO "{name.replace(chr(34), chr(34) * 2)}" VALUES (?,?,?,?,?,?,?,?,?,?)', good
    )
    conn.commit()
    conn.close()
    assert run("import-sqlite", str(folder), "--dsn", db_dsn)[0] == 0
    code, _, err = run("export-sqlite", str(tmp_path / "out"), "--dsn", db_dsn)
    assert code == 0, err
    out = sqlite3.connect(tmp_path / "out" / "pagbank.db")
    tables = {r[0] for r in out.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert name in tables
    assert out.execute(
        f'SELECT session_id FROM "{name.replace(chr(34), chr(34) * 2)}"'
    ).fetchall() == [(good[0],)]


def test_every_table_is_read_in_one_snapshot(db_dsn: str, agno_data: Path, tmp_path: Path) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    with psycopg.connect(db_dsn) as conn:
        before = conn.execute("SELECT count(*) FROM user_memories").fetchone()[0]
    written = []

    def write_meanwhile(kind: str, done: int, total: int) -> None:
        if kind == "agent" and not written:  # the app writes while the export runs
            with psycopg.connect(db_dsn, autocommit=True) as app:
                app.execute("INSERT INTO user_memories (user_id, memory) VALUES ('u-9', 'new')")
            written.append(kind)

    export = export_sqlite(db_dsn, tmp_path / "out", progress=write_meanwhile)
    assert written and export.rejected == []
    exported = sum(n for where, n in export.counts.items() if "memories" in where)
    assert exported == before


def test_stale_wal_files_of_a_replaced_file_are_removed(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    out = tmp_path / "out"
    assert run("export-sqlite", str(out), "--dsn", db_dsn)[0] == 0
    for stale in ("pagbank.db-wal", "pagbank.db-shm"):
        (out / stale).write_bytes(b"stale pages of the old file")
    code, _, err = run("export-sqlite", str(out), "--dsn", db_dsn, "--overwrite")
    assert code == 0, err
    assert not (out / "pagbank.db-wal").exists() and not (out / "pagbank.db-shm").exists()
    assert sqlite3.connect(out / "pagbank.db").execute("PRAGMA integrity_check").fetchone() == (
        "ok",
    )


def test_a_row_whose_metadata_is_not_an_object_is_left_out_alone(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    with psycopg.connect(db_dsn) as conn:
        sessions = conn.execute("SELECT count(*) FROM user_sessions").fetchone()[0]
        conn.execute(
            "UPDATE user_sessions SET metadata = '[1, 2]' "
            "WHERE session_id = (SELECT min(session_id) FROM user_sessions)"
        )
        conn.execute(
            "UPDATE user_memories SET metadata = '\"text\"' "
            "WHERE id = (SELECT min(id::text)::uuid FROM user_memories)"
        )
    code, _, err = run("export-sqlite", str(tmp_path / "out"), "--dsn", db_dsn)
    assert code == 1 and "2 row(s) could not be exported" in err and "Traceback" not in err
    out = sqlite3.connect(tmp_path / "out" / "pagbank.db")
    assert out.execute("SELECT count(*) FROM sessions").fetchone()[0] == sessions - 1
