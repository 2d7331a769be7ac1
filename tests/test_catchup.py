"""The cutover's catch-up: a second import reads only what was written since its watermark,
and ends exactly like a full re-import, at every edge: the watermark's own second, a clock
that stepped back, a replaced file, a kill in the middle."""

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from agno.storage.sqlite import SqliteStorage

from .agno_files import big_copy, write_agno_files
from .helpers import fresh_database, run, table_contents, wait_for, waiting_on


def backdate(data: Path) -> Path:
    """Agno's session rows as a real cutover meets them: written over the past days, ten
    minutes apart (the test files were all written within seconds, inside the catch-up's
    margin)."""
    conn = sqlite3.connect(data / "pagbank.db")
    for table in ("agent_sessions", "team_sessions"):
        conn.execute(
            f"UPDATE {table} SET created_at = ? - 600 * (1000 - rowid), updated_at = NULL",
            (int(time.time()) - 3600,),
        )
    conn.commit()
    conn.close()
    return data


def import_(data: Path, dsn: str, *extra: str) -> tuple[int, str]:
    code, _, err = run("import-sqlite", str(data), "--dsn", dsn, *extra)
    assert code == 0, err
    return code, err


def mark(dsn: str, table: str) -> tuple[int, str]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT max_rowid, time_mark FROM import_watermarks WHERE source_table = %s", [table]
        ).fetchone()
    assert found is not None
    return found


def same_as_a_full_import(data: Path, dsn: str, server_dsn: str, template_db: str) -> None:
    for reference in fresh_database(server_dsn, template_db):
        import_(data, reference)
        assert table_contents(dsn) == table_contents(reference)
    code, out, err = run("verify-import", str(data), "--dsn", dsn)
    assert code == 0, out + err


def test_a_catch_up_moves_what_changed_and_ends_like_a_full_import(
    db_dsn: str, server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    backdate(data)
    _, err = import_(data, db_dsn)
    assert "pagbank.db:team_sessions: full comparison: the first import of this table" in err
    teams = SqliteStorage(table_name="team_sessions", db_file=str(data / "pagbank.db"), mode="team")
    first = teams.get_all_sessions()[0]
    first.memory["runs"].append(first.memory["runs"][-1])  # the app goes on writing
    teams.upsert(first)
    code, out, err = run("import-sqlite", str(data), "--dsn", db_dsn)
    assert code == 0, err
    assert "pagbank.db:team_sessions: catch-up: rows past rowid" in err
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    read, inserted, updated = lines["pagbank.db:team_sessions"][:3]
    # the changed session, which is also the watermark's own row (the newest): not the 40 of a
    # full comparison
    assert (read, inserted, updated) == ("1", "0", "1")
    assert lines["pagbank.db:agent_sessions"][0] == "1"  # the watermark's own row
    same_as_a_full_import(data, db_dsn, server_dsn, template_db)
    _, err = import_(data, db_dsn, "--full")
    assert "pagbank.db:team_sessions: full comparison (--full)" in err


def test_a_row_of_the_watermarks_second_or_of_a_clock_stepped_back_is_not_missed(
    db_dsn: str, server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    import_(data, db_dsn)
    _, time_mark = mark(db_dsn, "agent_sessions")
    conn = sqlite3.connect(data / "pagbank.db")
    for rowid, written in ((1, int(time_mark)), (2, int(time_mark) - 120)):
        conn.execute(
            "UPDATE agent_sessions SET user_id = 'changed-' || rowid, updated_at = ? "
            "WHERE rowid = ?",
            (written, rowid),
        )
    conn.commit()
    conn.close()
    _, err = import_(data, db_dsn)
    assert "pagbank.db:agent_sessions: catch-up" in err
    with psycopg.connect(db_dsn) as pg:
        changed = pg.execute(
            "SELECT count(DISTINCT session_id) FROM agent_sessions WHERE user_id LIKE 'changed-%'"
        ).fetchone()[0]
    assert changed == 2
    same_as_a_full_import(data, db_dsn, server_dsn, template_db)


def test_a_replaced_file_and_a_table_with_no_times_are_compared_in_full(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    conn = sqlite3.connect(data / "notimes.db")  # memories that never say when they were written
    conn.execute(
        "CREATE TABLE memories (id VARCHAR PRIMARY KEY, user_id VARCHAR, memory VARCHAR, "
        "created_at DATETIME, updated_at DATETIME)"
    )
    conn.execute(
        "INSERT INTO memories (id, user_id, memory) VALUES ('1', 'u-1', \"{'memory': 'x'}\")"
    )
    conn.commit()
    conn.close()
    import_(data, db_dsn)
    other = write_agno_files(tmp_path / "other", sessions=40, seed=99)
    shutil.copy(other / "pagbank.db", data / "pagbank.db")  # another file, the same name
    _, err = import_(data, db_dsn)
    assert "pagbank.db:agent_sessions: full comparison: the file is not the one imported" in err
    assert "notimes.db:memories: full comparison: no row says when it was written" in err


def test_fewer_source_rows_than_imported_are_said(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    import_(data, db_dsn)
    conn = sqlite3.connect(data / "pagbank.db")
    conn.execute("DELETE FROM sessions WHERE rowid <= 3")
    conn.commit()
    conn.close()
    _, err = import_(data, db_dsn)
    assert "pagbank.db:sessions: 3 row(s) fewer than at the last import" in err


def test_a_catch_up_killed_midway_ends_like_an_uninterrupted_one(
    db_dsn: str, server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path
) -> None:
    def moved() -> int:  # sessions whose change has reached PostgreSQL
        with psycopg.connect(db_dsn) as pg:
            found = pg.execute("SELECT count(*) FROM agent_sessions WHERE user_id LIKE '%-x-x'")
            return int(found.fetchone()[0])

    data = big_copy(agno_data, tmp_path / "data", copies=20)
    import_(data, db_dsn)
    assert moved() == 0
    conn = sqlite3.connect(data / "pagbank.db")  # the app changes a tenth of the sessions
    conn.execute(
        "UPDATE agent_sessions SET user_id = user_id || '-x-x', updated_at = updated_at + 1000 "
        "WHERE rowid % 10 = 0"
    )
    conn.commit()
    (last,) = conn.execute(
        "SELECT session_id FROM agent_sessions WHERE rowid % 10 = 0 ORDER BY rowid DESC LIMIT 1"
    ).fetchone()
    conn.close()

    # The last changed session is held by another transaction: the catch-up writes the others
    # and then waits for it, and is killed there, with part of its work committed.
    holder = psycopg.connect(db_dsn)
    holder.execute("SELECT FROM agent_sessions WHERE session_id = %s FOR UPDATE", [last])
    holder_pid = holder.info.backend_pid
    args = [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(data), "--batch-size", "5",
            "--dsn", db_dsn]  # fmt: skip
    victim = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(
            lambda: victim.poll() is None and waiting_on(db_dsn, holder_pid) == 1 and moved(),
            what="the catch-up writing some changed sessions, then waiting for the held one",
        )
        midway = moved()
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
    finally:
        victim.kill()
        holder.close()
    import_(data, db_dsn)
    assert 0 < midway < moved()
    same_as_a_full_import(data, db_dsn, server_dsn, template_db)


def test_rows_deleted_in_sqlite_fail_verify_and_prune_removes_only_theirs(
    db_dsn: str, server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path
) -> None:
    from pagbank_pg import Database
    from pagbank_pg.agno import PostgresStorage

    from .helpers import agent

    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    import_(data, db_dsn)
    with Database.open(db_dsn, max_size=1) as db:  # the app writes to PostgreSQL directly
        agent(PostgresStorage("agent", db=db)).run("Oi", session_id="app-only", user_id="u-app")
        db.queries.create_user_session(
            session_id="app-only",
            user_id="u-app",
            team_id=None,
            session_context=None,
            metadata=None,
        )
    conn = sqlite3.connect(data / "pagbank.db")  # the old app deletes two sessions, adds one
    gone = {}
    for table in ("agent_sessions", "sessions"):
        gone[table] = conn.execute(f"SELECT session_id FROM {table} WHERE rowid = 2").fetchone()[0]
        conn.execute(f"DELETE FROM {table} WHERE rowid = 2")
    conn.execute(
        "INSERT INTO sessions (session_id, user_id, created_at, last_activity) "
        "VALUES ('s-new', 'u-1', '2026-01-02T03:04:05', '2026-01-02T03:04:05')"
    )  # as many rows as before: a count cannot tell
    conn.commit()
    conn.close()
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 1
    assert f"pagbank.db:agent_sessions: {gone['agent_sessions']} is in PostgreSQL, no " in err
    assert f"pagbank.db:sessions: {gone['sessions']} is in PostgreSQL, no longer in " in err
    assert "app-only" not in err and err.count("no longer in SQLite") == 2
    _, err = import_(data, db_dsn)  # without --prune, nothing is removed
    assert "verify-import lists them, import-sqlite --prune removes them" in err
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 1
    code, out, err = run("import-sqlite", str(data), "--dsn", db_dsn, "--prune")
    assert code == 0, err
    removed = [line for line in out.splitlines() if line.startswith("removed ")]
    assert sorted(removed) == sorted([
        f"removed pagbank.db:agent_sessions {gone['agent_sessions']} (no longer in SQLite)",
        f"removed pagbank.db:sessions {gone['sessions']} (no longer in SQLite)",
    ])  # fmt: skip
    with psycopg.connect(db_dsn) as pg:
        kept = pg.execute(
            "SELECT (SELECT count(*) FROM agent_sessions WHERE session_id = 'app-only'), "
            "(SELECT count(*) FROM user_sessions WHERE session_id = 'app-only')"
        ).fetchone()
    assert kept == (1, 1)  # what the app wrote came from no file: never pruned
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 0, out + err


def test_a_renamed_or_moved_copy_of_a_file_changes_nothing_and_verifies_under_either_name(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    import_(data, db_dsn)
    before = table_contents(db_dsn)
    renamed = tmp_path / "x" / "pagbank.sqlite3"
    moved = tmp_path / "y" / "pagbank.db"
    for copy in (renamed, moved):
        copy.parent.mkdir()
        shutil.copy(data / "pagbank.db", copy)
        code, out, err = run("import-sqlite", str(copy), "--dsn", db_dsn)
        assert code == 0, err
        lines = [line.split() for line in out.splitlines()[1:]]
        assert lines and all(cells[2:4] == ["0", "0"] for cells in lines), out  # not updated
        assert table_contents(db_dsn) == before  # the rows stay those of data/pagbank.db
        for verified in (copy, data):
            code, out, err = run("verify-import", str(verified), "--dsn", db_dsn)
            assert code == 0, out + err
    exported = tmp_path / "exported"
    assert run("export-sqlite", str(exported), "--dsn", db_dsn)[0] == 0
    assert not (exported / "pagbank.sqlite3").exists() and (exported / "pagbank.db").exists()
