-- Undo 0011: the Agno sessions' JSON columns back to the server's default compression (pglz
-- unless default_toast_compression says otherwise). Values written with lz4 stay so, and
-- readable, until they are next written.

ALTER TABLE agent_sessions
    ALTER COLUMN messages SET COMPRESSION default,
    ALTER COLUMN agent_session_state SET COMPRESSION default,
    ALTER COLUMN metadata SET COMPRESSION default;

ALTER TABLE team_sessions
    ALTER COLUMN messages SET COMPRESSION default,
    ALTER COLUMN team_session_state SET COMPRESSION default,
    ALTER COLUMN metadata SET COMPRESSION default;
