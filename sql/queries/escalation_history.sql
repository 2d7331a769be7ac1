-- Statements on escalation_history: hand-offs to a human agent, one row per ticket.

-- name: open_escalation :one
-- Open an escalation. ticket_id is unique; escalation_type is one of explicit_request,
-- frustration_language, caps_lock_yelling (enforced by the schema). Returns the row.
INSERT INTO escalation_history
    (ticket_id, session_id, user_id, escalation_reason, escalation_type, conversation_context,
     metadata)
VALUES (:ticket_id, :session_id, :user_id, :escalation_reason, :escalation_type,
        :conversation_context::jsonb, coalesce(:metadata::jsonb, '{}'))
RETURNING *;

-- name: mark_whatsapp_sent :one
-- Record that the WhatsApp notification of an escalation went out. Returns the row, or
-- nothing when there is no such ticket.
UPDATE escalation_history
SET whatsapp_notification_sent = true
WHERE ticket_id = :ticket_id
RETURNING *;

-- name: resolve_escalation :one
-- Resolve an escalation with notes (resolved_at = now()). Resolving it again is an error
-- (SQLSTATE 55000, raised by the schema). Returns the row, or nothing when there is no such
-- ticket.
UPDATE escalation_history
SET resolved_at = now(), resolution_notes = :resolution_notes
WHERE ticket_id = :ticket_id
RETURNING *;

-- name: get_escalation :one
-- One escalation by ticket, or nothing.
SELECT * FROM escalation_history WHERE ticket_id = :ticket_id;

-- name: open_escalations :many
-- Escalations not yet resolved, oldest first.
SELECT * FROM escalation_history
WHERE resolved_at IS NULL
ORDER BY created_at
LIMIT :limit;

-- name: escalations_of_user :many
-- A user's escalations, newest first.
SELECT * FROM escalation_history WHERE user_id = :user_id ORDER BY created_at DESC;

-- name: escalations_of_session :many
-- A session's escalations, oldest first.
SELECT * FROM escalation_history WHERE session_id = :session_id ORDER BY created_at;

-- name: escalation_counts_by_day :many
-- Escalations per day (UTC) and type, since a moment, oldest day first.
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, escalation_type, count(*) AS escalations
FROM escalation_history
WHERE created_at >= :since
GROUP BY 1, 2
ORDER BY 1, 2;
