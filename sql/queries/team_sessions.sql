-- Statements on team_sessions: the routing team's conversations, one row per
-- (session_id, team_id). updated_at is set by the statements, never by the caller.

-- name: upsert_team_session :one
-- Create a team session, or replace its name, user, messages, state and metadata.
-- NULL messages/state/metadata mean empty ([] / {} / {}). Returns the row.
INSERT INTO team_sessions
    (session_id, team_id, team_name, user_id, messages, team_session_state, metadata)
VALUES (:session_id, :team_id, :team_name, :user_id,
        coalesce(:messages::jsonb, '[]'), coalesce(:team_session_state::jsonb, '{}'),
        coalesce(:metadata::jsonb, '{}'))
ON CONFLICT (session_id, team_id) DO UPDATE
SET team_name = EXCLUDED.team_name,
    user_id = EXCLUDED.user_id,
    messages = EXCLUDED.messages,
    team_session_state = EXCLUDED.team_session_state,
    metadata = EXCLUDED.metadata,
    updated_at = now()
RETURNING *;

-- name: append_team_messages :one
-- Append messages (a JSON array) to a team session's conversation, atomically: concurrent
-- appenders lose nothing. Creates the session when missing. Returns id and message_count.
INSERT INTO team_sessions (session_id, team_id, messages)
SELECT :session_id, :team_id, appended
FROM (SELECT :messages::jsonb AS appended) given
WHERE jsonb_array_length(appended) >= 0  -- raises unless messages is a JSON array
ON CONFLICT (session_id, team_id) DO UPDATE
SET messages = coalesce(team_sessions.messages, '[]') || EXCLUDED.messages,
    updated_at = now()
RETURNING id, session_id, team_id, jsonb_array_length(messages) AS message_count, updated_at;

-- name: get_team_session :one
-- One team session by (session_id, team_id), or nothing.
SELECT * FROM team_sessions WHERE session_id = :session_id AND team_id = :team_id;

-- name: team_sessions_of_user :many
-- A user's team sessions, newest first, page_size at a time. First page: after_created_at and
-- after_id NULL; next page: the created_at and id of the last row of the previous one.
SELECT * FROM team_sessions
WHERE user_id = :user_id
  AND (created_at, id) < (coalesce(:after_created_at::timestamptz, 'infinity'),
                          coalesce(:after_id::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: team_sessions_of_team :many
-- The newest sessions of a team.
SELECT * FROM team_sessions WHERE team_id = :team_id ORDER BY created_at DESC LIMIT :limit;

-- name: team_sessions_created_between :many
-- Team sessions created in [since, until), oldest first.
SELECT * FROM team_sessions
WHERE created_at >= :since AND created_at < :until
ORDER BY created_at
LIMIT :limit;

-- name: delete_team_session :execrows
-- Delete one team session; returns 1, or 0 when there was none.
DELETE FROM team_sessions WHERE session_id = :session_id AND team_id = :team_id;

-- name: count_team_sessions :scalar
-- How many team sessions there are.
SELECT count(*) FROM team_sessions;
