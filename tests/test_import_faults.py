"""import-sqlite under faults and hostile rows: a server fault is never a bad row, one row
never stops an import, a dead worker never hangs it, and the live app is never blocked."""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pagbank_pg import ImportInterrupted
from pagbank_pg.transfer import workers as import_workers
from pagbank_pg.transfer.importer import import_sqlite
from pagbank_pg.transfer.kinds import KINDS
from pagbank_pg.transfer.verify import verify_import

from .agno_files import big_copy, hostile_files, sample_agent_row
from .helpers import row_count, run, wait_for


def test_a_lost_connection_is_retried_not_rejected(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=5)
    killed: list[tuple[bool]] = []

    def kill_the_import_once(name: str, done: int, total: int) -> None:
        if done and not killed:  # the server drops the import's connections mid-run
            with psycopg.connect(db_dsn, autocommit=True) as admin:
                killed.extend(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'pagbank-pg' AND pid <> pg_backend_pid()"
                    ).fetchall()
                )

    notes: list[str] = []
    report = import_sqlite(
        db_dsn, [data], reject_file=tmp_path / "r.jsonl", batch_size=20,
        progress=kill_the_import_once, retry_delays=(0.2, 0.2), warn=notes.append,
    )  # fmt: skip
    assert killed and set(killed) == {(True,)}  # every connection of the import: its own,
    assert report.rejected == 0  # and each worker process's and not (tmp_path / "r.jsonl").exists()
    assert any("PostgreSQL fault" in note for note in notes)
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 0, err + out


def test_a_fault_that_goes_on_stops_the_import_and_a_rerun_completes_it(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    complete = _indexes(db_dsn)
    with psycopg.connect(db_dsn, autocommit=True) as admin:  # a login that cannot write
        admin.execute("DROP ROLE IF EXISTS importer_ro")
        admin.execute("CREATE ROLE importer_ro LOGIN")
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO importer_ro")
    params = psycopg.conninfo.conninfo_to_dict(db_dsn)
    reader = psycopg.conninfo.make_conninfo(db_dsn, user="importer_ro", password=None)
    reject_file = tmp_path / "r.jsonl"
    try:
        with pytest.raises(ImportInterrupted, match=r"permission denied.*no row was rejected"):
            import_sqlite(reader, [agno_data], reject_file=reject_file, retry_delays=(0.1,))
        code, _, err = run(
            "import-sqlite", str(agno_data), "--dsn", reader, "--accept-rejects",
            "--reject-file", str(reject_file),
        )  # fmt: skip
        assert code == 1 and "run the same command again to resume" in err
        assert "Traceback" not in err and not reject_file.exists()
        with psycopg.connect(db_dsn, autocommit=True) as admin:
            admin.execute("GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO importer_ro")
        code, _, err = run("import-sqlite", str(agno_data), "--dsn", reader)
        assert code == 0, err
        assert _indexes(db_dsn) == complete  # not the owner: it may not drop them, it kept them
        assert run("verify-import", str(agno_data), "--dsn", db_dsn)[0] == 0
    finally:
        with psycopg.connect(db_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("REASSIGN OWNED BY importer_ro TO {}").format(
                    sql.Identifier(params.get("user") or "postgres")
                )
            )
            admin.execute("DROP OWNED BY importer_ro")
            admin.execute("DROP ROLE importer_ro")


def test_one_row_never_stops_an_import(db_dsn: str, tmp_path: Path) -> None:
    folder = hostile_files(tmp_path / "hostile")
    reject_file = tmp_path / "r.jsonl"
    code, _, err = run(
        "import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file", str(reject_file)
    )
    assert code == 1 and "Traceback" not in err, err
    assert "4 row(s) rejected" in err
    reasons = {
        line.split('"reason":')[1].split('","row"')[0]
        for line in reject_file.read_text().splitlines()
    }
    assert any("Integer exceeds 64-bit range" in r for r in reasons)
    assert any("Recursion limit" in r for r in reasons)
    assert any("over the 262,144 one may hold" in r for r in reasons)
    assert any("OverflowError" in r for r in reasons)
    assert row_count(db_dsn, "agent_sessions") == 1
    assert row_count(db_dsn, "user_memories") == 1
    assert row_count(db_dsn, "user_sessions") == 2  # s-good, and c-1 of the generated-column table


def test_a_value_over_the_cap_is_rejected_before_it_is_read(db_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    conn = sqlite3.connect(folder / "pagbank.db")
    conn.executescript(KINDS["sessions"].ddl("sessions"))
    conn.execute(
        "INSERT INTO sessions (session_id, user_id, created_at, last_activity, session_context) "
        "VALUES ('s-big', 'u-1', '2026-01-02T03:04:05', '2026-01-02T03:04:05', ?)",
        ('"' + "x" * (17 << 20) + '"',),
    )
    conn.commit()
    conn.close()
    code, _, err = run(
        "import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file", str(tmp_path / "r")
    )
    assert code == 1 and "1 row(s) rejected" in err
    rejected = (tmp_path / "r").read_text()
    assert "over the 16,777,216 a value may hold" in rejected
    assert '"oversized_bytes":17825794' in rejected and len(rejected) < 2000


def test_a_dead_worker_stops_the_import_clearly(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=10)
    script = (
        "import multiprocessing, os, signal, sys\n"
        "from pathlib import Path\n"
        "from pagbank_pg.transfer.importer import import_sqlite\n"
        "def kill(name, done, total):\n"
        "    if done:\n"
        "        for child in multiprocessing.active_children():\n"
        "            os.kill(child.pid, signal.SIGKILL)\n"
        "try:\n"
        f"    import_sqlite({db_dsn!r}, [Path({str(data)!r})], batch_size=10, processes=1,\n"
        f"                  reject_file=Path({str(tmp_path / 'r')!r}), progress=kill)\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
        "    sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("ImportInterrupted the import stopped: a worker process")


def test_the_live_app_writes_between_any_two_batches_of_an_import_and_a_verify(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=30)
    with sqlite3.connect(data / "pagbank.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # rollback journal
        first, rows = conn.execute("SELECT min(rowid), count(*) FROM agent_sessions").fetchone()
    # The app, as Agno's SqliteStorage writes, but waiting for no one: a read transaction of
    # the import or the verify left open between two batches fails its write at once
    # ("database is locked"). It writes at each batch's progress: between two batches.
    app = sqlite3.connect(data / "pagbank.db", timeout=0, isolation_level=None)
    writes: list[int] = []
    failures: list[str] = []

    def app_writes(table: str, done: int, total: int) -> None:
        if table == "pagbank.db:agent_sessions" and done:
            try:
                app.execute(
                    "UPDATE agent_sessions SET updated_at = unixepoch() WHERE rowid = ?", [first]
                )
            except sqlite3.OperationalError as error:
                failures.append(f"{done}: {error}")
            writes.append(done)

    import_sqlite(
        db_dsn, [data], batch_size=50, processes=0, reject_file=tmp_path / "r",
        progress=app_writes,
    )  # fmt: skip
    assert failures == []
    assert writes == [*range(50, rows, 50), rows]  # one range of 50 rowids at a time
    writes.clear()
    checks = verify_import(db_dsn, [data], progress=app_writes).checks
    assert failures == []
    # two batches (VERIFY_BATCH rows at most, or cut at BATCH_BYTES), the app writing after each
    assert len(writes) == 2 and writes[-1] == rows
    agents = checks["pagbank.db:agent_sessions"]
    # the first row, changed since it was imported, differs: that is the verify's answer
    assert (agents.different, agents.identical, agents.missing) == (1, rows - 1, 0)
    app.close()
    assert run("import-sqlite", str(data), "--dsn", db_dsn)[0] == 0  # the catch-up
    assert verify_import(db_dsn, [data]).checks["pagbank.db:agent_sessions"].identical == rows


def _indexes(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}


def _deferred(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT index_name FROM import_deferred_indexes ORDER BY 1")
        return [r[0] for r in rows]


@pytest.mark.parametrize("finisher", ["import-sqlite", "migrate"])
def test_a_killed_first_import_leaves_its_indexes_recorded_and_they_are_built_again(
    db_dsn: str, agno_data: Path, tmp_path: Path, finisher: str
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=10)
    complete = _indexes(db_dsn)
    script = (
        "import os, signal\n"
        "from pathlib import Path\n"
        "from pagbank_pg.transfer.importer import import_sqlite\n"
        "def die(name, done, total):\n"
        "    if done:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"import_sqlite({db_dsn!r}, [Path({str(data)!r})], batch_size=10,\n"
        f"              reject_file=Path({str(tmp_path / 'r')!r}), progress=die)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr
    deferred = _deferred(db_dsn)  # the table being loaded: recorded with the drop, at once
    assert deferred and all(name.startswith("idx_") for name in deferred)
    assert complete - _indexes(db_dsn) == set(deferred)
    code, out, _ = run("status", "--dsn", db_dsn)
    assert code == 0 and f"{len(deferred)} index(es) deferred by an interrupted import" in out
    assert deferred[0] in out
    built = f"built {len(deferred)} index(es) an interrupted import had deferred"
    if finisher == "migrate":
        code, out, err = run("migrate", "--dsn", db_dsn)
        assert code == 0 and built in out, err
    else:
        code, out, err = run("import-sqlite", str(data), "--dsn", db_dsn,
                             "--reject-file", str(tmp_path / "r"))  # fmt: skip
        assert code == 0, err
        assert built in err + out
    assert _indexes(db_dsn) == complete and _deferred(db_dsn) == []
    assert "deferred by an interrupted import" not in run("status", "--dsn", db_dsn)[1]


def test_a_completed_first_import_builds_every_index_it_deferred(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    complete = _indexes(db_dsn)
    report = import_sqlite(db_dsn, [agno_data], reject_file=tmp_path / "r")
    assert any("secondary index(es) of agent_sessions built after the load" in n
               for n in report.notes)  # fmt: skip
    assert _indexes(db_dsn) == complete and _deferred(db_dsn) == []


def unreadable_files(folder: Path) -> Path:
    """A good agent table, a virtual table of a module this SQLite lacks, and a sessions table
    whose pages are damaged past its 20th row (counted fine, read to the end: not)."""
    folder.mkdir()
    conn = sqlite3.connect(folder / "good.db")
    conn.executescript(KINDS["agent"].ddl("agent_sessions"))
    conn.execute("INSERT INTO agent_sessions VALUES (?,?,?,?,?,?,?,?,?,?)", sample_agent_row())
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "INSERT INTO sqlite_master VALUES ('table', 'chats', 'chats', 0, "
        "'CREATE VIRTUAL TABLE chats USING nosuchmodule(session_id, user_id)')"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(folder / "pagbank.db")
    conn.executescript(KINDS["sessions"].ddl("sessions"))
    conn.executemany(
        "INSERT INTO sessions (session_id, user_id, created_at, last_activity, session_context) "
        "VALUES (?, 'u-1', '2026-01-02T03:04:05', '2026-01-02T03:04:05', ?)",
        [(f"s-{n:02}", '"' + "x" * 20000 + '"') for n in range(50)],
    )
    conn.commit()
    conn.close()
    with (folder / "pagbank.db").open("r+b") as file:  # overflow pages of the rows past ~20
        file.seek(4096 * 120)
        file.write(b"\xde\xad" * 4096)
    return folder


@pytest.mark.parametrize("processes", ["0", "2"])
def test_an_unreadable_table_is_one_line_and_the_others_are_imported(
    db_dsn: str, tmp_path: Path, processes: str
) -> None:
    folder = unreadable_files(tmp_path / "data")
    env = {"PAGBANK_PG_IMPORT_PROCESSES": processes}
    code, out, err = run("import-sqlite", str(folder), "--dsn", db_dsn, "--batch-size", "5",
                         "--reject-file", str(tmp_path / "r"), env=env)  # fmt: skip
    assert code == 1 and "Traceback" not in err, err
    assert "good.db:agent_sessions" in out
    last = err.splitlines()[-1]
    assert last.startswith("pagbank-pg: error: 2 table(s) could not be read: ")
    assert "good.db:chats (no such module: nosuchmodule)" in last
    assert "pagbank.db:sessions (database disk image is malformed)" in last
    assert last.endswith("; every other table was imported (fix the file and run again)")
    assert row_count(db_dsn, "agent_sessions") == 1
    assert 10 <= row_count(db_dsn, "user_sessions") < 50  # the rows before the damage
    assert _deferred(db_dsn) == []  # the indexes deferred for the table are built again
    code, _, err = run("verify-import", str(folder), "--dsn", db_dsn)
    assert code == 1 and "Traceback" not in err
    assert "good.db:chats (no such module: nosuchmodule)" in err.splitlines()[-1]


def test_a_second_import_stops_in_one_line_and_builds_no_index_under_a_running_one(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=30)
    complete = _indexes(db_dsn)
    first = subprocess.Popen(
        [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(data), "--batch-size", "5",
         "--reject-file", str(tmp_path / "r"), "--dsn", db_dsn],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(  # loading, its indexes deferred
            lambda: first.poll() is not None or row_count(db_dsn, "agent_sessions") >= 20,
            what="the first import loading agent_sessions",
        )
        # Held there (its process and its workers stopped) while the others run: it cannot
        # move on to the next table meanwhile.
        os.killpg(first.pid, signal.SIGSTOP)
        wait_for(lambda: stopped(first.pid), timeout=10, what="the first import stopped")
        deferred = _deferred(db_dsn)
        assert first.poll() is None and deferred
        for second in (["import-sqlite", str(data), "--reject-file", str(tmp_path / "r2")],
                       ["migrate"]):  # fmt: skip
            # a lock the held import holds is waited for 10 s at most (an error, not a hang)
            code, out, err = run(*second, "--dsn", db_dsn, env={"PGOPTIONS": "-c lock_timeout=10s"})
            assert _deferred(db_dsn) == deferred  # none was built under the running import
            assert complete - _indexes(db_dsn) == set(deferred)
            if second[0] == "import-sqlite":
                assert code == 1 and out == "" and len(err.splitlines()) == 1, err
                assert err.startswith("pagbank-pg: error: another import-sqlite is writing to ")
                assert "(pid " in err and err.endswith(
                    "; wait for it to end (or stop it), then run this again\n"
                )
            else:
                assert code == 0 and "an interrupted import had deferred" not in out, err
                assert "an import is running: the indexes it deferred are built when it ends" in out
    finally:
        os.killpg(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert _indexes(db_dsn) == complete and _deferred(db_dsn) == []


def stopped(group: int) -> bool:
    """Every process of process group `group` is stopped (SIGSTOP)."""
    states = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            states.append(fields[0])
    return bool(states) and all(state in "Tt" for state in states)


def test_ctrl_c_says_what_was_committed_and_a_rerun_resumes(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = big_copy(agno_data, tmp_path / "data", copies=30)
    args = [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(data), "--batch-size", "5",
            "--reject-file", str(tmp_path / "r"), "--dsn", db_dsn]  # fmt: skip
    victim = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    wait_for(
        lambda: victim.poll() is not None or row_count(db_dsn, "agent_sessions") >= 20,
        what="the import loading agent_sessions",
    )
    assert victim.poll() is None  # still importing
    os.killpg(victim.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 1 and "Traceback" not in err and "Aborted!" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("pagbank-pg: error: the import was stopped (Ctrl-C); committed: ")
    assert "pagbank.db:agent_sessions " in last and " of 1,200 row(s)" in last
    assert last.endswith("run the same command again to resume it")
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    code, out, err = run("verify-import", str(data), "--dsn", db_dsn)
    assert code == 0, out + err


def test_worker_processes_start_fresh_not_as_copies_of_a_threaded_parent(
    monkeypatch: pytest.MonkeyPatch, db_dsn: str
) -> None:
    """A forked worker copies the locks the parent's other threads hold at that instant
    (SQLite's among them: the live app's writer thread above once left a worker waiting
    forever in sqlite3.connect). Workers are spawned: they hold nothing of the parent's."""
    monkeypatch.setattr(import_workers, "_parent_only", True, raising=False)
    job = import_workers.Job(db_dsn, "UTC", {}, 10, ())
    workers = import_workers.start_workers(1, job)
    assert workers is not None
    try:
        probe = "hasattr(__import__('pagbank_pg.transfer.workers', fromlist=['_']), '_parent_only')"
        assert workers.submit(eval, probe).result(timeout=60) is False
    finally:
        workers.shutdown()
