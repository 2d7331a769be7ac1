-- Statements on agent_sessions: specialist agents' conversations, one row per
-- (session_id, agent_id), so route-mode specialists of one team session never overwrite each
-- other. updated_at is set by the statements, never by the caller.

-- name: upsert_agent_session :one
-- Create an agent session, or replace its name, user, business unit, messages, state and
-- metadata. NULL messages/state/metadata mean empty ([] / {} / {}). Returns the row.
INSERT INTO agent_sessions
    (session_id, agent_id, agent_name, user_id, business_unit, messages, agent_session_state,
     metadata)
VALUES (:session_id, :agent_id, :agent_name, :user_id, :business_unit,
        coalesce(:messages::jsonb, '[]'), coalesce(:agent_session_state::jsonb, '{}'),
        coalesce(:metadata::jsonb, '{}'))
ON CONFLICT (session_id, agent_id) DO UPDATE
SET agent_name = EXCLUDED.agent_name,
    user_id = EXCLUDED.user_id,
    business_unit = EXCLUDED.business_unit,
    messages = EXCLUDED.messages,
    agent_session_state = EXCLUDED.agent_session_state,
    metadata = EXCLUDED.metadata,
    updated_at = now()
RETURNING *;

-- name: append_agent_messages :one
-- Append messages (a JSON array) to an agent session's conversation, atomically: concurrent
-- appenders lose nothing. Creates the session when missing. Returns id and message_count.
INSERT INTO agent_sessions (session_id, agent_id, messages)
SELECT :session_id, :agent_id, appended
FROM (SELECT :messages::jsonb AS appended) given
WHERE jsonb_array_length(appended) >= 0  -- raises unless messages is a JSON array
ON CONFLICT (session_id, agent_id) DO UPDATE
SET messages = coalesce(agent_sessions.messages, '[]') || EXCLUDED.messages,
    updated_at = now()
RETURNING id, session_id, agent_id, jsonb_array_length(messages) AS message_count, updated_at;

-- name: get_agent_session :one
-- One agent session by (session_id, agent_id), or nothing.
SELECT * FROM agent_sessions WHERE session_id = :session_id AND agent_id = :agent_id;

-- name: agent_sessions_of_session :many
-- Every agent's row of one (team) session: the specialists that served it.
SELECT * FROM agent_sessions WHERE session_id = :session_id ORDER BY created_at, agent_id;

-- name: agent_sessions_of_user :many
-- A user's agent sessions, newest first, page_size at a time. First page: after_created_at
-- and after_id NULL; next page: the created_at and id of the last row of the previous one.
SELECT * FROM agent_sessions
WHERE user_id = :user_id
  AND (created_at, id) < (coalesce(:after_created_at::timestamptz, 'infinity'),
                          coalesce(:after_id::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: agent_sessions_of_agent :many
-- The newest sessions of an agent.
SELECT * FROM agent_sessions WHERE agent_id = :agent_id ORDER BY created_at DESC LIMIT :limit;

-- name: agent_sessions_of_business_unit :many
-- The newest sessions of a business unit.
SELECT * FROM agent_sessions
WHERE business_unit = :business_unit
ORDER BY created_at DESC
LIMIT :limit;

-- name: delete_agent_session :execrows
-- Delete one agent session; returns 1, or 0 when there was none.
DELETE FROM agent_sessions WHERE session_id = :session_id AND agent_id = :agent_id;

-- name: count_agent_sessions :scalar
-- How many agent sessions there are.
SELECT count(*) FROM agent_sessions;
