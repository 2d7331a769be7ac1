-- LGPD (Brazil's data-protection law): everything held about a user, across the six tables,
-- exported or erased. A user's data is the rows with its user_id, plus the rows of its
-- sessions (sessions_of_user: Agno rows may lack a user_id, an escalation may carry another
-- one), plus its id inside interaction_patterns.user_ids and the patterns whose pattern_data
-- names it. Sessions are matched with `session_id = ANY(ARRAY(…))`: one index scan each.

-- name: export_user_snapshot :exec
-- An export reads every table from one snapshot, and writes nothing.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: export_user_header :one
-- The start of an export: the user id and when (the snapshot's time), as JSON texts.
SELECT to_jsonb(:user_id::text)::text AS user_id, to_jsonb(now())::text AS exported_at;

-- name: export_user_sessions :many
-- A user's sessions, one JSON text per row, oldest first (export-user streams them).
SELECT to_jsonb(s)::text AS row FROM user_sessions s
WHERE s.user_id = :user_id
ORDER BY s.created_at, s.session_id;

-- name: export_user_team_sessions :many
-- The team sessions of a user's sessions, one JSON text per row, oldest first.
SELECT to_jsonb(t)::text AS row FROM team_sessions t
WHERE t.session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
ORDER BY t.created_at, t.id;

-- name: export_user_agent_sessions :many
-- The agent sessions of a user's sessions, one JSON text per row, oldest first.
SELECT to_jsonb(a)::text AS row FROM agent_sessions a
WHERE a.session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
ORDER BY a.created_at, a.id;

-- name: export_user_memories :many
-- A user's memories, one JSON text per row, oldest first.
SELECT to_jsonb(m)::text AS row FROM user_memories m
WHERE m.user_id = :user_id
ORDER BY m.created_at, m.id;

-- name: export_user_escalations :many
-- A user's escalations, and those of its sessions, one JSON text per row, oldest first.
SELECT to_jsonb(e)::text AS row FROM escalation_history e
WHERE e.user_id = :user_id OR e.session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
ORDER BY e.created_at, e.id;

-- name: export_user_patterns :many
-- The patterns the user appears in, or whose data names it, one JSON text per row, with no
-- other user's id in user_ids.
SELECT (to_jsonb(p) || jsonb_build_object('user_ids', jsonb_build_array(:user_id::text)))::text
    AS row
FROM interaction_patterns p
WHERE p.user_ids @> ARRAY[:user_id::text] OR names_id(p.pattern_data, :user_id)
ORDER BY p.first_seen, p.id;

-- name: held_about_user :scalar primary
-- Whether any of the six tables holds a row of this user (or names it in a pattern), and
-- whether it is already erased: 'rows', 'erased' (nothing left) or 'nothing'.
SELECT CASE
    WHEN EXISTS (SELECT FROM user_sessions WHERE user_id = :user_id)
      OR EXISTS (SELECT FROM team_sessions WHERE user_id = :user_id)
      OR EXISTS (SELECT FROM agent_sessions WHERE user_id = :user_id)
      OR EXISTS (SELECT FROM user_memories WHERE user_id = :user_id)
      OR EXISTS (SELECT FROM escalation_history WHERE user_id = :user_id)
      OR EXISTS (SELECT FROM interaction_patterns
                 WHERE user_ids @> ARRAY[:user_id::text] OR names_id(pattern_data, :user_id))
    THEN 'rows'
    WHEN is_erased(:user_id, NULL) THEN 'erased'
    ELSE 'nothing' END;

-- name: forget_user :one
-- Erase a user from all six tables in one statement (so one transaction): delete its rows
-- and the rows of its sessions (an Agno row an app appended without a user id, an escalation
-- of its session held under another id), delete the patterns whose data names it or that
-- only it was seen in, and remove its id from the other patterns' user_ids.
-- Returns how many rows each table lost (patterns: removed from, and deleted).
WITH team AS (DELETE FROM team_sessions
         WHERE session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
         RETURNING 1),
agent AS (DELETE FROM agent_sessions
          WHERE session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
          RETURNING 1),
memories AS (DELETE FROM user_memories WHERE user_id = :user_id RETURNING 1),
sessions AS (DELETE FROM user_sessions WHERE user_id = :user_id RETURNING 1),
escalations AS (DELETE FROM escalation_history
                WHERE user_id = :user_id OR session_id = ANY(ARRAY(SELECT sessions_of_user(:user_id)))
                RETURNING 1),
patterns_left AS (UPDATE interaction_patterns
                  SET user_ids = array_remove(user_ids, :user_id::text)
                  WHERE user_ids @> ARRAY[:user_id::text]
                    AND NOT user_ids <@ ARRAY[:user_id::text]
                    AND NOT names_id(pattern_data, :user_id)
                  RETURNING 1),
patterns_gone AS (DELETE FROM interaction_patterns
                  WHERE (user_ids @> ARRAY[:user_id::text] AND user_ids <@ ARRAY[:user_id::text])
                     OR names_id(pattern_data, :user_id)
                  RETURNING 1)
SELECT (SELECT count(*) FROM team) AS team_sessions,
       (SELECT count(*) FROM agent) AS agent_sessions,
       (SELECT count(*) FROM memories) AS user_memories,
       (SELECT count(*) FROM sessions) AS user_sessions,
       (SELECT count(*) FROM escalations) AS escalation_history,
       (SELECT count(*) FROM patterns_left) AS interaction_patterns_updated,
       (SELECT count(*) FROM patterns_gone) AS interaction_patterns_deleted;
