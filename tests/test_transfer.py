"""import-sqlite, verify-import and export-sqlite on real Agno-written files: lossless round
trip, idempotence, incremental catch-up, bad input, SIGKILL and resume."""

import ast
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pagbank_pg.transfer.kinds import KINDS

from .agno_files import SAMPLES, big_copy, sample_agent_row
from .helpers import row_count, run, table_contents, wait_for

AGNO_JSON = {"memory", "session_data", "extra_data", "agent_data", "team_data"}
SESSIONS_JSON = {"session_context", "metadata"}


def table_rows(path: Path) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every table of a SQLite file: rows by primary key, JSON and memory literals parsed."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    tables = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        rows = {}
        for row in conn.execute(f'SELECT * FROM "{name}"'):
            values = dict(row)
            json_columns = AGNO_JSON if "session_data" in values else SESSIONS_JSON
            for column, value in values.items():
                if column in json_columns and value is not None:
                    values[column] = json.loads(value)
            if "id" in values:  # Agno memory: str(dict)
                values["memory"] = ast.literal_eval(values["memory"])
            rows[values.get("session_id", values.get("id"))] = values
        tables[name] = rows
    conn.close()
    return tables


def test_round_trip_is_lossless(db_dsn: str, agno_data: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples)
    for source in (samples, agno_data):
        code, _, err = run("import-sqlite", str(source), "--dsn", db_dsn,
                           "--reject-file", str(tmp_path / "r.jsonl"))  # fmt: skip
        assert code == 0, err
    # Both folders hold pagbank.db and ana_memory.db: one source each, verified together.
    code, out, err = run("verify-import", str(samples), str(agno_data), "--dsn", db_dsn)
    assert code == 0, err
    assert out.count(" ok") == 6 and "DIFFERS" not in out
    exported = tmp_path / "exported"
    code, _, err = run("export-sqlite", str(exported), "--dsn", db_dsn)
    assert code == 0, err
    # Both sources hold pagbank.db and ana_memory.db: the export merges them by table.
    originals: dict[str, dict[Any, dict[str, Any]]] = {}
    for source in (samples, agno_data):
        for file in source.rglob("*.db"):
            for table, rows in table_rows(file).items():
                originals.setdefault(f"{file.name}:{table}", {}).update(rows)
    compared = 0
    for file in exported.glob("*.db"):
        for table, rows in table_rows(file).items():
            expected = originals.pop(f"{file.name}:{table}")
            assert rows.keys() == expected.keys()
            for key, row in rows.items():
                assert {
                    k: v for k, v in row.items() if v is not None or k in expected[key]
                } == expected[key], key
                compared += 1
    assert originals == {}
    assert compared == 7 + 4 + 6 + 6 + 6 + 5 * 40


def test_exported_files_are_read_by_agno(db_dsn: str, agno_data: Path, tmp_path: Path) -> None:
    from agno.memory.v2.db.sqlite import SqliteMemoryDb
    from agno.storage.sqlite import SqliteStorage

    run("import-sqlite", str(agno_data), "--dsn", db_dsn, "--reject-file", str(tmp_path / "r"))
    run("export-sqlite", str(tmp_path / "out"), "--dsn", db_dsn)
    storage = SqliteStorage(
        table_name="agent_sessions", db_file=str(tmp_path / "out" / "pagbank.db"), mode="agent"
    )
    sessions = storage.get_all_sessions()
    assert len(sessions) == 40
    assert all(s.memory and s.memory["runs"] for s in sessions)
    memories = SqliteMemoryDb(
        table_name="ana_user_memories", db_file=str(tmp_path / "out" / "ana_memory.db")
    )
    assert len(memories.read_memories()) == 40


def test_second_import_changes_nothing_and_catch_up_moves_only_changes(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    reject = str(tmp_path / "r.jsonl")
    _, out, _ = run("import-sqlite", str(data), "--dsn", db_dsn, "--reject-file", reject)
    first = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    agent_rows = first["pagbank.db:agent_sessions"][1]  # route-mode rows split per agent
    assert int(agent_rows) > 40
    before = table_contents(db_dsn)
    code, out, _ = run("import-sqlite", str(data), "--dsn", db_dsn, "--reject-file", reject)
    assert code == 0
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert lines["pagbank.db:agent_sessions"] == ["40", "0", "0", agent_rows, "0"]
    assert all(cells[1:3] == ["0", "0"] for cells in lines.values())
    assert table_contents(db_dsn) == before
    # The app goes on writing: one more run in one session, one new team session.
    from agno.storage.session.team import TeamSession
    from agno.storage.sqlite import SqliteStorage

    teams = SqliteStorage(table_name="team_sessions", db_file=str(data / "pagbank.db"), mode="team")
    first = teams.get_all_sessions()[0]
    first.memory["runs"].append(first.memory["runs"][-1])
    teams.upsert(first)
    teams.upsert(TeamSession.from_dict({**first.to_dict(), "session_id": "new-session"}))
    code, out, _ = run("import-sqlite", str(data), "--dsn", db_dsn, "--reject-file", reject)
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert lines["pagbank.db:team_sessions"] == ["41", "1", "1", "39", "0"]
    assert lines["pagbank.db:agent_sessions"][1:] == ["0", "0", agent_rows, "0"]


def bad_files(folder: Path) -> Path:
    """A data folder whose tables hold one of each kind of bad row, next to good ones."""
    folder.mkdir()
    conn = sqlite3.connect(folder / "pagbank.db")
    conn.executescript(KINDS["agent"].ddl("agent_sessions"))
    conn.executescript(KINDS["memory"].ddl("pagbank_memories"))
    good = sample_agent_row()

    def agent(session_id: str, **changes: Any) -> None:
        values = dict(zip(["session_id", "user_id", "memory", "session_data", "extra_data",
                           "created_at", "updated_at", "agent_id", "agent_data", "team_session_id"],
                          good, strict=True))  # fmt: skip
        values.update(session_id=session_id, **changes)
        conn.execute(
            "INSERT INTO agent_sessions VALUES (?,?,?,?,?,?,?,?,?,?)", list(values.values())
        )

    agent("good-1")
    agent("bad-json", memory='{"runs": [')
    agent("bad-nul", memory=good[2].replace('"content": "', '"content": "\\u0000', 1))
    agent("bad-utf8", user_id=b"user-\xff\xfe".decode("latin-1").encode("latin-1"))
    agent("x" * 300)
    agent("bad-time", created_at="yesterday")
    conn.execute(
        "UPDATE agent_sessions SET user_id = CAST(X'75736572FF' AS TEXT) "
        "WHERE session_id = 'bad-utf8'"
    )
    literal = "{'memory_id': 'm-1', 'memory': 'gosta de PIX', 'topics': ['pix']}"
    evil = "__import__('pathlib').Path('" + str(folder / "pwned") + "').touch()"
    memories = [
        ("7e2ba00f-30c3-4719-a5c8-b1591ccd49b8", literal),
        ("m-evil", evil),
        ("m-list", "['not', 'a', 'dict']"),
        ("m-set", "{'memory': 'x', 'topics': {1, 2}}"),
    ]
    for row_id, memory in memories:
        conn.execute(
            "INSERT INTO pagbank_memories (id, user_id, memory) VALUES (?, 'u-1', ?)",
            (row_id, memory),
        )
    conn.commit()
    conn.close()
    (folder / "notes.db").write_text("this is not a database")
    (folder / "empty.db").write_bytes(b"")
    return folder


def test_bad_rows_are_rejected_with_reasons_and_the_rest_imported(
    db_dsn: str, tmp_path: Path
) -> None:
    folder = bad_files(tmp_path / "bad")
    (folder / "notes.db").unlink()  # the not-a-database case has its own test
    reject_file = tmp_path / "rejects.jsonl"
    code, _, err = run(
        "import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file", str(reject_file)
    )
    assert code == 1
    assert err.strip().endswith(
        f"8 row(s) rejected; see {reject_file} (pass --accept-rejects to accept them)"
    )
    rejects = [json.loads(line) for line in reject_file.read_text().splitlines()]
    reasons = {
        r["row"]["session_id"] if "session_id" in r["row"] else r["row"]["id"]: r["reason"]
        for r in rejects
    }
    assert reasons["bad-json"].startswith("memory is not valid JSON")
    assert reasons["bad-nul"] == "memory holds a U+0000 character, which PostgreSQL cannot store"
    assert reasons["bad-utf8"].startswith("user_id is not valid UTF-8")
    assert reasons["x" * 300] == "session_id is longer than 255 characters"
    assert reasons["bad-time"].startswith("created_at is not epoch seconds")
    assert reasons["m-evil"].startswith("memory is not a plain Python literal")
    assert reasons["m-list"].startswith("memory is not a dict")
    assert reasons["m-set"].startswith("memory is not a dict of plain values")
    assert len(rejects) == 8
    assert not (folder / "pwned").exists()  # the literal was parsed, never evaluated
    bad_utf8 = next(r for r in rejects if r["row"]["session_id"] == "bad-utf8")
    assert bad_utf8["row"]["user_id"] == {"base64": "dXNlcv8="}
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT session_id FROM agent_sessions").fetchall() == [("good-1",)]
        assert conn.execute("SELECT memory FROM user_memories").fetchall() == [("gosta de PIX",)]
    assert "note: " in err and "empty.db: no tables" in err
    code, _, _ = run("import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file",
                     str(reject_file), "--accept-rejects")  # fmt: skip
    assert code == 0


def test_a_file_that_is_not_sqlite_stops_before_writing(db_dsn: str, tmp_path: Path) -> None:
    folder = bad_files(tmp_path / "bad")
    code, _, err = run("import-sqlite", str(folder), "--dsn", db_dsn)
    assert code == 1
    assert "notes.db: not a readable SQLite database (file is not a database)" in err
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM agent_sessions").fetchone() == (0,)


def test_a_named_table_lacking_columns_is_refused(db_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    sqlite3.connect(folder / "x.db").execute("CREATE TABLE chats (session_id TEXT, memory TEXT)")
    code, _, err = run(
        "import-sqlite", str(folder / "x.db"), "--dsn", db_dsn, "--table", "x.db:chats=agent"
    )
    assert code == 1
    assert (
        "x.db:chats is not a agent table: it lacks the columns agent_data, agent_id, created_at"
        in err
    )
    code, _, err = run("import-sqlite", str(folder / "x.db"), "--dsn", db_dsn)
    assert code == 0 and "x.db:chats: not recognised by its columns, skipped" in err


def assert_no_process_left(marker: str) -> None:
    """No process whose command line holds `marker` is alive (5 s at most to die)."""

    def alive() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "cmdline").read_text():
                    found.append(proc.name)
            except OSError:
                continue
        return found

    wait_for(lambda: alive() == [], timeout=5, what=f"every process of {marker} gone")


def ended_or_past(victim: subprocess.Popen[bytes], dsn: str, rows: int) -> bool:
    """The import `victim` ended, or it has imported `rows` agent sessions."""
    return victim.poll() is not None or row_count(dsn, "agent_sessions") >= rows


def test_killed_import_resumes_to_the_same_end(
    db_dsn: str, server_dsn: str, template_db: str, agno_data: Path, tmp_path: Path
) -> None:
    from .helpers import fresh_database as _fresh

    data = big_copy(agno_data, tmp_path / "data", copies=40)
    args = [sys.executable, "-m", "pagbank_pg", "import-sqlite", str(data), "--batch-size", "20",
            "--reject-file", str(tmp_path / "r.jsonl")]  # fmt: skip
    for threshold in (100, 800, 1500):  # kill at several points of one import, then resume
        victim = subprocess.Popen(
            [*args, "--dsn", db_dsn], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(
            partial(ended_or_past, victim, db_dsn, threshold),
            what=f"{threshold} agent sessions imported",
        )
        victim.send_signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL  # killed mid-way, not finished
        assert_no_process_left(str(data))  # its workers die with it, holding no connection
    done = subprocess.run([*args, "--dsn", db_dsn], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for reference_dsn in _fresh(server_dsn, template_db):
        whole = subprocess.run(
            [*args, "--dsn", reference_dsn], capture_output=True, text=True, check=False
        )
        assert whole.returncode == 0, whole.stderr
        assert table_contents(db_dsn) == table_contents(reference_dsn)


@pytest.mark.parametrize(
    "command",
    [["import-sqlite", str(SAMPLES)], ["verify-import", str(SAMPLES)], ["export-sqlite", "out"]],
    ids=["import", "verify", "export"],
)
def test_bulk_commands_say_what_to_do_without_a_schema_or_a_server(
    empty_dsn: str, tmp_path: Path, command: list[str]
) -> None:
    args = [a if a != "out" else str(tmp_path / "out") for a in command]
    code, _, err = run(*args, "--dsn", empty_dsn)
    assert code == 1 and "Traceback" not in err
    assert err.endswith("has no table agent_sessions; run: pagbank-pg migrate\n")
    code, _, err = run(*args, "--dsn", "postgresql://ai:secret@127.0.0.1:1/ai")
    assert code == 1 and "secret" not in err
    assert err.startswith("pagbank-pg: error: could not connect to ai@127.0.0.1:1/ai: ")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_file_in_use_by_the_app_shows_only_committed_rows(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(agno_data, data)
    app = sqlite3.connect(data / "pagbank.db", isolation_level=None)
    app.execute("PRAGMA journal_mode = WAL")
    app.execute("BEGIN IMMEDIATE")  # the app is in the middle of writing a session
    app.execute("UPDATE agent_sessions SET user_id = 'changed' WHERE rowid = 1")
    app.execute(
        "INSERT INTO agent_sessions (session_id, user_id, memory, created_at, agent_id) "
        "SELECT 'uncommitted', user_id, memory, created_at, agent_id FROM agent_sessions LIMIT 1"
    )
    code, _, err = run(
        "import-sqlite", str(data / "pagbank.db"), "--dsn", db_dsn,
        "--reject-file", str(tmp_path / "r.jsonl"),
    )  # fmt: skip
    app.execute("COMMIT")  # the writer was never blocked
    app.close()
    assert code == 0, err
    with psycopg.connect(db_dsn) as conn:
        users = {r[0] for r in conn.execute("SELECT user_id FROM agent_sessions")}
        sessions = conn.execute(
            "SELECT count(*) FROM agent_sessions WHERE session_id = 'uncommitted'"
        )
        assert sessions.fetchone() == (0,)
    assert "changed" not in users


def test_rows_of_an_erased_user_verify_as_erased_and_ok(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    assert run("import-sqlite", str(agno_data), "--dsn", db_dsn)[0] == 0
    with psycopg.connect(db_dsn) as conn:
        (user,) = conn.execute(
            "SELECT m.user_id FROM user_memories m JOIN user_sessions s USING (user_id) "
            "ORDER BY 1 LIMIT 1"
        ).fetchone()
        before = conn.execute(
            "SELECT (SELECT count(*) FROM user_memories WHERE user_id = %(u)s) "
            "+ (SELECT count(*) FROM user_sessions WHERE user_id = %(u)s)",
            {"u": user},
        ).fetchone()[0]
    code, _, err = run("forget-user", user, "--yes", "--dsn", db_dsn)
    assert code == 0, err
    code, out, err = run("verify-import", str(agno_data), "--dsn", db_dsn)
    assert code == 0, out + err
    rows = [line.split() for line in out.splitlines()[1:]]
    header = out.splitlines()[0].split()
    erased = header.index("erased") - 1  # a row's cells: "source rows" is two header words
    assert sum(int(cells[erased]) for cells in rows) >= before >= 2
    assert all(cells[-1] == "ok" and cells[erased - 1] == "0" for cells in rows)  # none missing
