"""LGPD and the schema of Agno's own tables, whatever Agno wrote them (tests/agno_v2 writes
them with real Agno 2/3 objects): a schema that does not exist (an app on Agno 1.7 has none)
is passed over and said so, and a schema's name is an identifier, never SQL."""

import json
import re
from pathlib import Path

import psycopg
import pytest

from pagbank_pg import Database
from pagbank_pg.errors import ErasureIncomplete
from pagbank_pg.lgpd import forget_user

from .helpers import run

ODD = 'agno "x"; DROP TABLE user_sessions; --'  # a hostile schema name: quoted, never run


def test_an_absent_agno_schema_is_skipped_and_reported(db_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(db_dsn) as conn:
        conn.execute("INSERT INTO user_sessions (session_id, user_id) VALUES ('s1', 'ana')")
    code, out, err = run("export-user", "ana", "--dsn", db_dsn, "--out", str(tmp_path / "a.json"))
    assert code == 0, err
    assert "skipped Agno schema 'agno': it does not exist" in err
    document = json.loads((tmp_path / "a.json").read_text())
    assert [k for k in document if k.startswith("agno")] == []
    assert [r["session_id"] for r in document["user_sessions"]] == ["s1"]
    code, out, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes", "--agno-schema", "nope")
    assert code == 0, err
    assert "skipped Agno schema 'nope': it does not exist" in err
    assert "user_sessions                 1" in out


def test_the_schema_name_is_quoted_and_each_user_id_table_is_reached(
    db_dsn: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_dsn) as conn:
        conn.execute(f'CREATE SCHEMA "{ODD.replace(chr(34), chr(34) * 2)}"')
        schema = psycopg.sql.Identifier(ODD)
        for table in ("agno_sessions", "agno_traces", "agno_knowledge"):
            key = psycopg.sql.Identifier("trace_id" if table == "agno_traces" else "id")
            conn.execute(psycopg.sql.SQL(
                "CREATE TABLE {}.{} ({} TEXT PRIMARY KEY, user_id TEXT)"
            ).format(schema, psycopg.sql.Identifier(table), key))  # fmt: skip
        conn.execute(psycopg.sql.SQL(
            "CREATE TABLE {}.agno_spans (span_id TEXT PRIMARY KEY, "
            "trace_id TEXT REFERENCES {}.agno_traces)"
        ).format(schema, schema))  # fmt: skip
        conn.execute(psycopg.sql.SQL(
            "CREATE TABLE {}.agno_schema_versions (table_name TEXT, version TEXT)"
        ).format(schema))  # fmt: skip
        for table, rows in {
            "agno_sessions": [("w1", "ana"), ("w2", "bia")],
            "agno_traces": [("t1", "ana"), ("t2", "bia")],
            "agno_knowledge": [("k1", "ana")],
        }.items():
            for row in rows:
                conn.execute(psycopg.sql.SQL("INSERT INTO {}.{} VALUES (%s, %s)").format(
                    schema, psycopg.sql.Identifier(table)), row)  # fmt: skip
        conn.execute(psycopg.sql.SQL("INSERT INTO {}.agno_spans VALUES ('p1', 't1'), ('p2', 't2')")
                     .format(schema))  # fmt: skip
    out_file = tmp_path / "a.json"
    code, _, err = run("export-user", "ana", "--dsn", db_dsn, "--agno-schema", ODD,
                       "--out", str(out_file))  # fmt: skip
    assert code == 0, err
    assert "skipped" not in err
    document = json.loads(out_file.read_text())
    keys = {"agno_spans": "span_id", "agno_traces": "trace_id"}
    assert {
        k: [r[keys.get(k.rsplit(".", 1)[1], "id")] for r in v]
        for k, v in document.items() if k.startswith(ODD)
    } == {
        f"{ODD}.agno_spans": ["p1"], f"{ODD}.agno_knowledge": ["k1"],
        f"{ODD}.agno_sessions": ["w1"], f"{ODD}.agno_traces": ["t1"],
    }  # fmt: skip
    code, out, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes", "--agno-schema", ODD)
    assert code == 0, err  # ana has rows in that schema only: found there
    assert f"{ODD}.agno_spans" in out and "skipped" not in err
    with psycopg.connect(db_dsn) as conn:
        left = {
            table: conn.execute(
                psycopg.sql.SQL("SELECT * FROM {}.{} ORDER BY 1").format(
                    schema, psycopg.sql.Identifier(table)
                )
            ).fetchall()
            for table in ("agno_sessions", "agno_traces", "agno_knowledge", "agno_spans")
        }
        assert conn.execute("SELECT to_regclass('user_sessions') IS NOT NULL").fetchone() == (True,)
    assert left == {
        "agno_sessions": [("w2", "bia")], "agno_traces": [("t2", "bia")],
        "agno_knowledge": [], "agno_spans": [("p2", "t2")],
    }  # fmt: skip


def test_a_row_held_in_agnos_tables_past_the_timeout_leaves_the_erasure_incomplete(
    db_dsn: str,
) -> None:
    """A writer that holds the user's row in Agno's tables past the erasure's lock timeout:
    the erasure stops as it does in the six tables (run it again), and nothing is deleted."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA agno")
        conn.execute("CREATE TABLE agno.agno_sessions (session_id TEXT PRIMARY KEY, user_id TEXT)")
        conn.execute("INSERT INTO agno.agno_sessions VALUES ('w1', 'ana')")
    with psycopg.connect(db_dsn) as holder, Database.open(db_dsn, max_size=2) as db:
        holder.execute("SELECT * FROM agno.agno_sessions FOR UPDATE")
        with pytest.raises(ErasureIncomplete, match=r"(?s)user .ana. is incomplete.*Run the same"):
            forget_user(db, "ana", lock_timeout=0.2)
        holder.rollback()
        assert forget_user(db, "ana")["agno.agno_sessions"] == 1  # again: finished


def test_the_transcripts_of_the_users_sessions_go_and_its_workflow_sessions_stay_erased(
    db_dsn: str, tmp_path: Path
) -> None:
    """A table of Agno's keyed by session alone (Agno 3's transcripts: `agno_session_id`, no
    user id) loses the rows of the user's sessions, those of the six tables and those Agno's
    tables name; and those workflow sessions are recorded as erased."""
    with psycopg.connect(db_dsn) as conn:
        conn.execute("CREATE SCHEMA agno")
        conn.execute("CREATE TABLE agno.agno_sessions (session_id TEXT PRIMARY KEY, user_id TEXT)")
        conn.execute("INSERT INTO agno.agno_sessions VALUES ('w1', 'ana'), ('w2', 'bia')")
        conn.execute(
            "CREATE TABLE agno.agno_transcripts (session_id TEXT, position INT, entry TEXT, "
            "agno_session_id TEXT NOT NULL)"  # session_id: the external framework's own
        )
        conn.execute(
            "INSERT INTO agno.agno_transcripts VALUES ('x1', 1, 'oi', 's1'), "
            "('x2', 1, 'ola', 'w1'), ('s1', 1, 'not ana''s', 'w2'), ('x3', 1, 'bia', 's2')"
        )
        conn.execute(
            "INSERT INTO user_sessions (session_id, user_id) VALUES ('s1', 'ana'), ('s2', 'bia')"
        )
    out_file = tmp_path / "a.json"
    code, _, err = run("export-user", "ana", "--dsn", db_dsn, "--out", str(out_file))
    assert code == 0, err
    document = json.loads(out_file.read_text())
    assert sorted(r["entry"] for r in document["agno.agno_transcripts"]) == ["oi", "ola"]
    code, out, err = run("forget-user", "ana", "--dsn", db_dsn, "--yes")
    assert code == 0, err
    assert re.search(r"^agno\.agno_transcripts +2$", out, re.MULTILINE), out
    with psycopg.connect(db_dsn) as conn:
        left = conn.execute("SELECT entry FROM agno.agno_transcripts ORDER BY 1").fetchall()
        erased = conn.execute(
            "SELECT s, is_erased(NULL, s) FROM unnest(ARRAY['s1', 'w1', 's2', 'w2']) s"
        ).fetchall()
    assert left == [("bia",), ("not ana's",)]
    assert erased == [("s1", True), ("w1", True), ("s2", False), ("w2", False)]
