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

-- name: deactivate_user_session :one
-- End a session (is_active = false). Returns the row, or nothing when there is none.
UPDATE user_sessions SET is_active = false WHERE session_id = :session_id RETURNING *;

-- name: expire_user_sessions :execrows
-- Deactivate the active sessions idle for longer than timeout_minutes (NULL: 120, PagBank's
-- default); returns how many.
UPDATE user_sessions
SET is_active = false
WHERE is_active
  AND last_activity < now() - make_interval(mins => coalesce(:timeout_minutes::int, 120));

-- name: active_sessions_of_user :many
-- A user's active sessions, most recently active first.
SELECT * FROM user_sessions
WHERE user_id = :user_id AND is_active
ORDER BY last_activity DESC;

-- name: user_session_stats :one
-- Active sessions, all sessions, and the average interactions per session.
SELECT count(*) FILTER (WHERE is_active) AS active_sessions,
       count(*) AS total_sessions,
       coalesce(avg(interaction_count), 0)::float8 AS average_interactions
FROM user_sessions;
