-- LGPD (Brazil's data-protection law): everything held about a user, across the six tables,
-- exported or erased. A user's data is the rows with its user_id, plus the team and agent
-- sessions of its user_sessions (Agno rows may lack a user_id), plus its id inside
-- interaction_patterns.user_ids.

-- name: export_user :scalar
-- Everything held about a user, as one JSON document: a list of rows per table (patterns:
-- those the user appears in).
WITH own_sessions AS (SELECT session_id FROM user_sessions WHERE user_id = :user_id)
SELECT jsonb_build_object(
    'user_id', :user_id::text,
    'exported_at', now(),
    'user_sessions', (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.created_at), '[]')
                      FROM user_sessions s WHERE s.user_id = :user_id),
    'team_sessions', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.created_at), '[]')
                      FROM team_sessions t
                      WHERE t.user_id = :user_id
                         OR t.session_id IN (SELECT session_id FROM own_sessions)),
    'agent_sessions', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.created_at), '[]')
                       FROM agent_sessions a
                       WHERE a.user_id = :user_id
                          OR a.session_id IN (SELECT session_id FROM own_sessions)),
    'user_memories', (SELECT coalesce(jsonb_agg(to_jsonb(m) ORDER BY m.created_at), '[]')
                      FROM user_memories m WHERE m.user_id = :user_id),
    'escalation_history', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.created_at), '[]')
                           FROM escalation_history e WHERE e.user_id = :user_id),
    'interaction_patterns', (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.first_seen), '[]')
                             FROM interaction_patterns p
                             WHERE p.user_ids @> ARRAY[:user_id::text]));

-- name: forget_user :one
-- Erase a user from all six tables in one statement (so one transaction): delete its rows,
-- remove its id from interaction_patterns.user_ids, and delete the patterns left with no
-- user. Returns how many rows each table lost (patterns: removed from, and deleted).
WITH own_sessions AS (SELECT session_id FROM user_sessions WHERE user_id = :user_id),
team AS (DELETE FROM team_sessions
         WHERE user_id = :user_id OR session_id IN (SELECT session_id FROM own_sessions)
         RETURNING 1),
agent AS (DELETE FROM agent_sessions
          WHERE user_id = :user_id OR session_id IN (SELECT session_id FROM own_sessions)
          RETURNING 1),
memories AS (DELETE FROM user_memories WHERE user_id = :user_id RETURNING 1),
sessions AS (DELETE FROM user_sessions WHERE user_id = :user_id RETURNING 1),
escalations AS (DELETE FROM escalation_history WHERE user_id = :user_id RETURNING 1),
patterns_left AS (UPDATE interaction_patterns
                  SET user_ids = array_remove(user_ids, :user_id::text)
                  WHERE user_ids @> ARRAY[:user_id::text]
                    AND user_ids <> ARRAY[:user_id::text]
                  RETURNING 1),
patterns_gone AS (DELETE FROM interaction_patterns
                  WHERE user_ids @> ARRAY[:user_id::text]
                    AND user_ids <@ ARRAY[:user_id::text]
                  RETURNING 1)
SELECT (SELECT count(*) FROM team) AS team_sessions,
       (SELECT count(*) FROM agent) AS agent_sessions,
       (SELECT count(*) FROM memories) AS user_memories,
       (SELECT count(*) FROM sessions) AS user_sessions,
       (SELECT count(*) FROM escalations) AS escalation_history,
       (SELECT count(*) FROM patterns_left) AS interaction_patterns_updated,
       (SELECT count(*) FROM patterns_gone) AS interaction_patterns_deleted;
