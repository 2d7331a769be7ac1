-- Statements of `pagbank-pg export-sqlite`: every row, grouped by the SQLite file and table
-- it was imported from (rows written only in PostgreSQL: pagbank.db and the Agno table), and
-- by session, so that one session's rows come together.

-- name: export_agent_sessions :many
SELECT * FROM agent_sessions
ORDER BY coalesce(metadata -> 'agno' -> 'source' ->> 'file', 'pagbank.db'),
         coalesce(metadata -> 'agno' -> 'source' ->> 'table', 'agent_sessions'),
         session_id, agent_id;

-- name: count_export_agent_sessions :one
SELECT count(*) AS n FROM agent_sessions;

-- name: export_team_sessions :many
SELECT * FROM team_sessions
ORDER BY coalesce(metadata -> 'agno' -> 'source' ->> 'file', 'pagbank.db'),
         coalesce(metadata -> 'agno' -> 'source' ->> 'table', 'team_sessions'),
         session_id, team_id;

-- name: count_export_team_sessions :one
SELECT count(*) AS n FROM team_sessions;

-- name: export_user_memories :many
SELECT * FROM user_memories ORDER BY created_at, id;

-- name: count_export_user_memories :one
SELECT count(*) AS n FROM user_memories;

-- name: export_user_sessions :many
SELECT * FROM user_sessions ORDER BY created_at, session_id;

-- name: count_export_user_sessions :one
SELECT count(*) AS n FROM user_sessions;
