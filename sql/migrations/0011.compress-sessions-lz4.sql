-- The Agno sessions' JSON columns (the conversation, the session state, the rest of the
-- session in metadata) compressed with lz4 where the server has it (PostgreSQL 14 and later,
-- built with lz4; pg_settings lists it): a turn rewrites its session's whole values, each
-- stored out of line (TOAST) and compressed, and lz4 compresses and decompresses them several
-- times faster than the default pglz, at about the same size. Values already stored keep
-- pglz until they are next written; both stay readable. A server without lz4 keeps pglz.
--
-- Catalog only: no table rewrite, a brief ACCESS EXCLUSIVE lock on each table. pg_dump
-- carries the setting: a dump restored on a server without lz4 needs
-- `pg_dump --no-toast-compression`.

DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE agent_sessions
            ALTER COLUMN messages SET COMPRESSION lz4,
            ALTER COLUMN agent_session_state SET COMPRESSION lz4,
            ALTER COLUMN metadata SET COMPRESSION lz4;
        ALTER TABLE team_sessions
            ALTER COLUMN messages SET COMPRESSION lz4,
            ALTER COLUMN team_session_state SET COMPRESSION lz4,
            ALTER COLUMN metadata SET COMPRESSION lz4;
    END IF;
END $$;
