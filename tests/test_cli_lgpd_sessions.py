"""`pagbank-pg export-user`, `forget-user` and `expire-sessions`."""

import json
from pathlib import Path

import psycopg

from .helpers import run


def seed(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO user_sessions (session_id, user_id, last_activity) VALUES "
            "('s-1', 'u-1', now() - interval '3 hours'), ('s-2', 'u-2', now())"
        )
        conn.execute(
            "INSERT INTO user_memories (user_id, memory, memory_tags) VALUES "
            "('u-1', 'prefere atendimento por WhatsApp', '{canal}')"
        )


def test_export_user_to_stdout_and_to_a_file(db_dsn: str, tmp_path: Path) -> None:
    seed(db_dsn)
    code, out, _ = run("export-user", "u-1", "--dsn", db_dsn)
    assert code == 0
    document = json.loads(out)
    assert document["user_id"] == "u-1"
    assert [m["memory"] for m in document["user_memories"]] == ["prefere atendimento por WhatsApp"]
    assert [s["session_id"] for s in document["user_sessions"]] == ["s-1"]
    target = tmp_path / "u-1.json"
    code, out, _ = run("export-user", "u-1", "--dsn", db_dsn, "--out", str(target))
    assert code == 0 and out.startswith(f"wrote {target}: ")
    assert "user_memories 1" in out
    assert json.loads(target.read_text())["user_sessions"] == document["user_sessions"]
    assert not (tmp_path / "u-1.json.partial").exists()


def test_forget_user_needs_confirmation_and_reports_per_table(db_dsn: str) -> None:
    seed(db_dsn)
    code, out, err = run("forget-user", "u-1", "--dsn", db_dsn)
    assert code == 1 and out == ""
    assert err == "pagbank-pg: error: nothing erased: no terminal to confirm on; pass --yes\n"
    code, out, _ = run("forget-user", "u-1", "--dsn", db_dsn, "--yes")
    assert code == 0
    lines = out.splitlines()
    assert "user_memories                 1" in lines and "user_sessions                 1" in lines
    assert lines[-1] == "erased user 'u-1': 2 row(s) changed"
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute("SELECT user_id FROM user_sessions").fetchall()
    assert left == [("u-2",)]


def test_expire_sessions_defaults_to_120_minutes(db_dsn: str) -> None:
    seed(db_dsn)
    code, out, _ = run("expire-sessions", "--dsn", db_dsn)
    assert (code, out) == (0, "expired 1 session(s) idle for over 120 minutes\n")
    code, out, _ = run("expire-sessions", "--dsn", db_dsn, "--timeout-minutes", "240")
    assert (code, out) == (0, "expired 0 session(s) idle for over 240 minutes\n")
    code, _, err = run("expire-sessions", "--dsn", db_dsn, "--timeout-minutes", "0")
    assert code == 2 and "0 is not in the range x>=1" in err


def test_an_unmigrated_database_says_what_to_do(empty_dsn: str) -> None:
    code, _, err = run("export-user", "u-1", "--dsn", empty_dsn)
    assert code == 1
    assert err.startswith("pagbank-pg: error: query export_user_sessions (")
    assert "is the schema migrated? run: pagbank-pg migrate" in err
