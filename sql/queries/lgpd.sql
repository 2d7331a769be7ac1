-- LGPD (Brazil's data-protection law): everything held about a user, across the six tables,
-- exported or erased. A user's data is the rows with its user_id, plus the team and agent
-- sessions of its user_sessions (Agno rows may lack a user_id), plus its id inside
-- interaction_patterns.user_ids.

-- name: export_user :scalar
-- Everything held about a user, as one JSON document: a list of rows per table (patterns:
-- those the user appears in, with no other user's id).
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
    'interaction_patterns', (SELECT coalesce(jsonb_agg(to_jsonb(p)
                                    || jsonb_build_object('user_ids', jsonb_build_array(:user_id::text))
                                    ORDER BY p.first_seen), '[]')
                             FROM interaction_patterns p
                             WHERE p.user_ids @> ARRAY[:user_id::text]));

-- name: record_erasure :one
-- The first step of an erasure, committed on its own: record the user and every session of
-- it (its user_sessions, and the Agno sessions with its id; as keyed hashes, erased_ids) so that from now on no writer can bring them back (the
-- keep_erased_out trigger). Returns how many sessions were recorded.
WITH own_sessions AS (
    SELECT session_id FROM user_sessions WHERE user_id = :user_id
    UNION SELECT session_id FROM team_sessions WHERE user_id = :user_id
    UNION SELECT session_id FROM agent_sessions WHERE user_id = :user_id
),
recorded AS (
    INSERT INTO erased_ids (id_hash, kind)
    SELECT erased_id_hash('user', :user_id), 'user'
    UNION ALL
    SELECT erased_id_hash('session', session_id), 'session' FROM own_sessions
    ON CONFLICT (id_hash) DO UPDATE SET erased_at = now()
    RETURNING kind
)
SELECT count(*) FILTER (WHERE kind = 'session') AS sessions FROM recorded;

-- name: hold_writers :exec
-- The second step of an erasure, in its own transaction: wait for every writer that started
-- before the erasure was recorded (it might have missed it), and hold new ones back until
-- the erasure commits. Writers wait a few milliseconds; nothing waits over 10 s.
DO $$
BEGIN
    SET LOCAL lock_timeout = '10s';
    LOCK TABLE team_sessions, agent_sessions, user_memories, user_sessions,
        interaction_patterns, escalation_history IN SHARE MODE;
END
$$;

-- name: forget_user :one
-- Erase a user from all six tables in one statement (so one transaction): delete its rows
-- and the Agno rows of its sessions (a row an app appended to one, even without a user id),
-- remove its id from interaction_patterns.user_ids, and delete the patterns left with no
-- user.
-- Returns how many rows each table lost (patterns: removed from, and deleted).
WITH own_sessions AS (
    SELECT session_id FROM user_sessions WHERE user_id = :user_id
    UNION SELECT session_id FROM team_sessions WHERE user_id = :user_id
    UNION SELECT session_id FROM agent_sessions WHERE user_id = :user_id
),
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

-- name: is_erased :scalar
-- Whether a row of this user or session (either may be NULL) belongs to an erasure: what the
-- importer and the Agno storage pass over, and count.
SELECT is_erased(:user_id, :session_id);
