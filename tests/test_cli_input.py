"""Bad input on the command line gets one line saying what to do, never a traceback and never
a password; what destroys data asks first."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from .helpers import MIGRATION_IDS, run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "f.db:t=agents"], "unknown kind 'agents'; use one of agent, team"),
        (["--table", "t=agent"], "expected FILE:TABLE=KIND"),
    ],
)
def test_a_bad_table_option_is_one_line(
    db_dsn: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "f.db").write_bytes(b"")
    code, _, err = run("import-sqlite", str(tmp_path / "f.db"), "--dsn", db_dsn, *args)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not a readable JSON file"), (b'["pix"]', "expected a JSON object")],
)
def test_a_bad_units_file_is_one_line(
    db_dsn: str, agno_data: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    units = tmp_path / "units.json"
    units.write_bytes(content)
    code, _, err = run("import-sqlite", str(agno_data), "--dsn", db_dsn, "--units", str(units))
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["import-sqlite", "verify-import", "export-sqlite"])
def test_a_bad_source_timezone_is_one_line_before_any_work(
    db_dsn: str, tmp_path: Path, command: str
) -> None:
    target = tmp_path / "out"
    code, out, err = run(command, str(target), "--dsn", db_dsn, "--source-timezone", "Mars/Base")
    assert code == 2 and "Traceback" not in err and out == ""
    assert "unknown zone 'Mars/Base'; give an IANA zone name, such as America/Sao_Paulo" in err
    assert not target.exists()  # nothing was written


def test_a_table_name_that_is_not_utf8_is_passed_over_with_a_note(
    db_dsn: str, tmp_path: Path
) -> None:
    file = tmp_path / "odd.db"
    conn = sqlite3.connect(file)
    conn.execute("PRAGMA encoding")
    conn.execute("CREATE TABLE ok (x)")
    conn.commit()
    conn.close()
    raw = file.read_bytes().replace(b"CREATE TABLE ok (x)", b"CREATE TABLE \xff\xfe (x)")
    raw = raw.replace(b"tableokok", b"table\xff\xfe\xff\xfe")  # the name in sqlite_master
    file.write_bytes(raw)
    code, _, err = run("import-sqlite", str(file), "--dsn", db_dsn)
    assert code == 0 and "Traceback" not in err
    assert "not UTF-8), skipped" in err


def test_same_named_tables_of_two_files_keep_their_own_rows(db_dsn: str, tmp_path: Path) -> None:
    for name in ("a.db", "b.db"):
        conn = sqlite3.connect(tmp_path / name)
        conn.execute(
            "CREATE TABLE memories (id VARCHAR PRIMARY KEY, user_id VARCHAR, memory VARCHAR, "
            "created_at DATETIME, updated_at DATETIME)"
        )
        conn.execute(
            "INSERT INTO memories (id, user_id, memory) VALUES ('1', 'u-1', ?)",
            (f"{{'memory': 'from {name}'}}",),
        )
        conn.commit()
        conn.close()
    code, _, err = run("import-sqlite", str(tmp_path), "--dsn", db_dsn)
    assert code == 0, err
    code, out, _ = run("export-user", "u-1", "--dsn", db_dsn)
    assert "from a.db" in out and "from b.db" in out


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://ai:pa%zzss@127.0.0.1:1/ai",  # libpq quotes the bad token back
        "postgresql://ai:se#cret@127.0.0.1:1/ai",  # a # in the password
        "host=127.0.0.1 port=1 user=ai password=se#cret%zz",
    ],
)
def test_no_password_in_any_error(dsn: str) -> None:
    code, out, err = run("status", "--dsn", dsn)
    assert code == 1 and "Traceback" not in err
    for piece in ("zzss", "cret", "se#"):
        assert piece not in err + out


def test_rollback_all_asks_first(db_dsn: str) -> None:
    code, _, err = run("rollback", "--all", "--dsn", db_dsn)
    assert code == 1 and "nothing rolled back: no terminal to confirm on; pass --yes" in err
    code, out, _ = run("status", "--dsn", db_dsn)
    assert f"{len(MIGRATION_IDS)} applied, 0 pending" in out


def test_names_from_a_file_reach_the_terminal_with_control_characters_escaped(
    db_dsn: str, tmp_path: Path
) -> None:
    from pagbank_pg.transfer.kinds import KINDS

    from .agno_files import sample_agent_row

    file = tmp_path / "evil.db"
    conn = sqlite3.connect(file)
    loud = "agents\x1b[2J\x1b]0;pwned\x07"  # clears the screen, retitles the terminal
    conn.executescript(KINDS["agent"].ddl(loud))
    conn.execute(f'INSERT INTO "{loud}" VALUES (?,?,?,?,?,?,?,?,?,?)', sample_agent_row())
    conn.execute('CREATE TABLE "odd\x1b[31m[bold]" (x)')  # not recognised: a note names it
    conn.commit()
    conn.close()
    for command in ("import-sqlite", "verify-import"):
        code, out, err = run(command, str(file), "--dsn", db_dsn)
        assert code == 0, err
        assert "\x1b" not in out + err and "\x07" not in out + err
        assert "evil.db:agents\\x1b[2J\\x1b]0;pwned\\x07" in out
    code, out, err = run("import-sqlite", str(file), "--dsn", db_dsn)
    assert "odd\\x1b[31m[bold]: not recognised by its columns" in err


@pytest.mark.parametrize("command", ["import-sqlite", "verify-import"])
@pytest.mark.parametrize("content", ["nothing", "text files"])
def test_a_folder_with_no_sqlite_file_fails_in_one_line(
    db_dsn: str, tmp_path: Path, command: str, content: str
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    if content == "text files":
        (folder / "README.txt").write_text("the data lives elsewhere\n")
    code, out, err = run(command, str(folder), "--dsn", db_dsn)
    assert code == 1 and out == "" and "Traceback" not in err
    assert err == (
        f"pagbank-pg: error: {folder}: no SQLite file in this folder (files named *.db, "
        "*.sqlite, *.sqlite3 or *.db3, holding SQLite's header); check the path\n"
    )


def test_sqlite_files_are_found_by_name_and_content(db_dsn: str, tmp_path: Path) -> None:
    from .agno_files import SAMPLES

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "sub").mkdir()
    shutil.copy(SAMPLES / "pagbank.db", folder / "sub" / "pagbank.sqlite3")
    shutil.copy(SAMPLES / "ana_memory.db", folder / "ana_memory.sqlite")
    shutil.copy(SAMPLES / "pagbank.db", folder / "pagbank.db.bak")  # a stale copy: passed over
    for command in ("import-sqlite", "verify-import"):
        code, out, err = run(command, str(folder), "--dsn", db_dsn)
        assert code == 0, err
        assert "pagbank.sqlite3:agent_sessions" in out and "ana_memory.sqlite:" in out
        assert "pagbank.db.bak:" not in out
        assert (
            f"note: {folder / 'pagbank.db.bak'}: a SQLite file by its content, passed over: its "
            "name does not end in .db, .sqlite, .sqlite3 or .db3 (name the file itself to "
            "read it)" in err
        )
    code, out, err = run("import-sqlite", str(folder / "pagbank.db.bak"), "--dsn", db_dsn)
    assert code == 0 and "pagbank.db.bak:agent_sessions" in out, err
