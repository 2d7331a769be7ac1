-- Statements of the Agno integration (pagbank_pg.agno): Agno's Storage and MemoryDb over the
-- plan's tables. Rows are written as the importer writes them (mapping.py); timestamps are
-- the database's.

-- name: save_agent_session_row :exec
-- Create or replace one agent's row of a session (created_at on insert, updated_at now()).
INSERT INTO agent_sessions (id, session_id, agent_id, agent_name, user_id, business_unit,
    messages, agent_session_state, metadata)
VALUES (:id, :session_id, :agent_id, :agent_name, :user_id, :business_unit,
    :messages::jsonb, :agent_session_state::jsonb, :metadata::jsonb)
ON CONFLICT (session_id, agent_id) DO UPDATE
SET agent_name = EXCLUDED.agent_name, user_id = EXCLUDED.user_id,
    business_unit = EXCLUDED.business_unit, messages = EXCLUDED.messages,
    agent_session_state = EXCLUDED.agent_session_state, metadata = EXCLUDED.metadata,
    updated_at = now();

-- name: save_team_session_row :exec
-- Create or replace a team session (created_at on insert, updated_at now()).
INSERT INTO team_sessions (id, session_id, team_id, team_name, user_id, messages,
    team_session_state, metadata)
VALUES (:id, :session_id, :team_id, :team_name, :user_id, :messages::jsonb,
    :team_session_state::jsonb, :metadata::jsonb)
ON CONFLICT (session_id, team_id) DO UPDATE
SET team_name = EXCLUDED.team_name, user_id = EXCLUDED.user_id,
    messages = EXCLUDED.messages, team_session_state = EXCLUDED.team_session_state,
    metadata = EXCLUDED.metadata, updated_at = now();

-- name: team_sessions_of_session :many primary
-- Every row of one team session id. On the primary: a turn reads the session before it writes
-- it, and must see every turn committed before it, whichever app replica wrote that one.
SELECT * FROM team_sessions WHERE session_id = :session_id ORDER BY created_at, team_id;

-- name: agent_session_rows_of_session :many primary
-- Every agent's row of one session id. On the primary, as team_sessions_of_session.
SELECT * FROM agent_sessions WHERE session_id = :session_id ORDER BY created_at, agent_id;

-- name: agent_session_ids :many
-- Session ids, newest first, of a user and/or an agent (NULL: any); limit NULL: all.
SELECT session_id FROM agent_sessions
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:agent_id::text IS NULL OR agent_id = :agent_id)
GROUP BY session_id
ORDER BY max(created_at) DESC, session_id
LIMIT :limit;

-- name: team_session_ids :many
-- Session ids, newest first, of a user and/or a team (NULL: any); limit NULL: all.
SELECT session_id FROM team_sessions
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:team_id::text IS NULL OR team_id = :team_id)
GROUP BY session_id
ORDER BY max(created_at) DESC, session_id
LIMIT :limit;

-- name: agent_session_rows :many
-- Every row of the given agent session ids.
SELECT * FROM agent_sessions WHERE session_id = ANY(:session_ids::text[])
ORDER BY session_id, created_at, agent_id;

-- name: team_session_rows :many
-- Every row of the given team session ids.
SELECT * FROM team_sessions WHERE session_id = ANY(:session_ids::text[])
ORDER BY session_id, created_at, team_id;

-- name: delete_agent_session_rows :execrows
-- Delete every agent's row of a session.
DELETE FROM agent_sessions WHERE session_id = :session_id;

-- name: delete_team_session_rows :execrows
-- Delete every row of a team session.
DELETE FROM team_sessions WHERE session_id = :session_id;

-- name: delete_all_agent_sessions :execrows
-- Empty agent_sessions (Agno's Storage.drop).
DELETE FROM agent_sessions;

-- name: delete_all_team_sessions :execrows
-- Empty team_sessions (Agno's Storage.drop).
DELETE FROM team_sessions;

-- name: save_agno_memory :exec
-- Create or replace a memory written by Agno (created_at on insert, updated_at now());
-- importance_score and business_units, the app's own, are kept on replace.
INSERT INTO user_memories (id, user_id, memory, memory_tags, metadata)
VALUES (:id, :user_id, :memory, :memory_tags::text[], :metadata::jsonb)
ON CONFLICT (id) DO UPDATE
SET user_id = EXCLUDED.user_id, memory = EXCLUDED.memory,
    memory_tags = EXCLUDED.memory_tags, metadata = EXCLUDED.metadata, updated_at = now();

-- name: agno_memories_newest :many
-- Memories of a user (NULL: everyone's), newest first; limit NULL: all.
SELECT * FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
ORDER BY created_at DESC, id
LIMIT :limit;

-- name: agno_memories_oldest :many
-- Memories of a user (NULL: everyone's), oldest first; limit NULL: all.
SELECT * FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
ORDER BY created_at, id
LIMIT :limit;

-- name: delete_all_memories :execrows
-- Empty user_memories (Agno's MemoryDb.clear).
DELETE FROM user_memories;

-- name: lock_agno_session :exec
-- Take the lock of one Agno session (of a mode) until the transaction ends: two writers of
-- one session merge one after the other. A transaction-scoped advisory lock, so it holds
-- through a transaction pooler; its two-key form never meets the migrations' one-key lock.
SELECT pg_advisory_xact_lock(1634625391, hashtext(:mode || ':' || :session_id));
