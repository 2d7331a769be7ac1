"""Migration 0011: the Agno sessions' JSON columns are compressed with lz4 where the server has
it (Debian's PostgreSQL 15 has; a server built without lz4 keeps pglz), and its rollback gives
them back the server's default."""

import psycopg

from pagbank_pg.schema import migrations

from .helpers import MIGRATION_IDS

COLUMNS = [
    ("agent_sessions", "agent_session_state"),
    ("agent_sessions", "messages"),
    ("agent_sessions", "metadata"),
    ("team_sessions", "messages"),
    ("team_sessions", "metadata"),
    ("team_sessions", "team_session_state"),
]
# A conversation long enough to be stored out of line, compressed (TOAST).
MESSAGES = [{"role": "user", "content": f"qual o limite do meu cartão? ({n})"} for n in range(400)]


def _has_lz4(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).fetchone()
    return bool(row and row[0])


def _settings(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return conn.execute(
        "SELECT attrelid::regclass::text, attname, attcompression::text FROM pg_attribute"
        " WHERE attrelid IN ('agent_sessions'::regclass, 'team_sessions'::regclass)"
        " AND attname IN ('messages', 'metadata', 'agent_session_state', 'team_session_state')"
        " ORDER BY 1, 2"
    ).fetchall()


def _stored_with(conn: psycopg.Connection, session_id: str) -> str:
    conn.execute(
        "INSERT INTO agent_sessions (id, session_id, agent_id, messages)"
        " VALUES (gen_random_uuid(), %s, 'pix', %s::jsonb)",
        (session_id, psycopg.types.json.Jsonb(MESSAGES)),
    )
    row = conn.execute(
        "SELECT pg_column_compression(messages) FROM agent_sessions WHERE session_id = %s",
        (session_id,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_the_session_columns_are_written_with_lz4_where_the_server_has_it(db_dsn: str) -> None:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        lz4 = _has_lz4(conn)
        assert _settings(conn) == [(t, c, "l" if lz4 else "") for t, c in COLUMNS]
        assert _stored_with(conn, "sessao-longa") == ("lz4" if lz4 else "pglz")


def test_the_rollback_gives_the_columns_back_the_servers_default(db_dsn: str) -> None:
    assert migrations.rollback(db_dsn) == [MIGRATION_IDS[-1]] == ["0011.compress-sessions-lz4"]
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        assert _settings(conn) == [(t, c, "") for t, c in COLUMNS]
        assert _stored_with(conn, "sessao-depois") == "pglz"  # the server's default
    assert migrations.apply(db_dsn) == ["0011.compress-sessions-lz4"]
