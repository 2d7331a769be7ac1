-- Statements on user_sessions: PagBank's session manager.

-- name: get_user_session :one
-- Fetch one session by id, or nothing.
SELECT * FROM user_sessions WHERE session_id = :session_id;

-- name: create_user_session :one
-- Open a session for a user (team_id may be NULL); returns the new row.
INSERT INTO user_sessions (session_id, user_id, team_id, session_context, metadata)
VALUES (:session_id, :user_id, :team_id,
        coalesce(:session_context::jsonb, '{}'::jsonb), coalesce(:metadata::jsonb, '{}'::jsonb))
RETURNING *;

-- name: touch_user_session :one
-- Record one interaction: last_activity = now(), interaction_count + 1, and the given
-- context merged into session_context (keys in it win). Atomic: concurrent touches all count.
-- Returns the updated row, or nothing when the session does not exist.
UPDATE user_sessions
SET last_activity = now(),
    interaction_count = interaction_count + 1,
    session_context = coalesce(session_context, '{}'::jsonb) || coalesce(:context::jsonb, '{}'::jsonb)
WHERE session_id = :session_id
RETURNING *;
