-- LGPD plumbing (internal, not in db.queries): the erasure records and the erasure guard
-- that forget-user and every writer outside the six tables' triggers use. Run through
-- `lgpd_queries(on)`.

-- name: record_erasure :one
-- Record the user and every session of it (as keyed hashes, erased_ids) so that from now on
-- no writer can bring them back (the keep_erased_out triggers, and PagbankDb's checks before
-- it writes to Agno's tables): the sessions of the six tables, and `session_ids`, the user's
-- sessions in Agno's own tables (workflow sessions; NULL: none). forget-user commits it on
-- its own first, then again under the erasure's locks (sessions created meanwhile). Returns
-- how many sessions were recorded.
WITH recorded AS (
    INSERT INTO erased_ids (id_hash, kind)
    SELECT erased_id_hash('user', :user_id), 'user'
    UNION ALL
    SELECT erased_id_hash('session', s), 'session'
    FROM (SELECT sessions_of_user(:user_id)
          UNION SELECT unnest(:session_ids::text[])) AS sessions (s)
    WHERE s IS NOT NULL
    ON CONFLICT (id_hash) DO UPDATE SET erased_at = now()
    RETURNING kind
)
SELECT count(*) FILTER (WHERE kind = 'session') AS sessions FROM recorded;

-- name: lock_for_erasure :scalar primary
-- The second step of an erasure, in its own transaction: wait at most `lock_timeout` for the
-- writers of this user and of its sessions that are in flight (they may have missed the
-- record), and hold their new writes until the erasure commits. No other customer waits: the
-- locks are the user's and its sessions' (erasure_guard), not the tables'. Returns how many
-- sessions the user has.
SELECT lock_for_erasure(:user_id)
FROM (SELECT set_config('lock_timeout', :lock_timeout::text, true)) AS first_the_timeout;

-- name: is_erased :scalar
-- Whether a row of this user or session (either may be NULL) belongs to an erasure: what the
-- importer and the Agno storage pass over, and count.
SELECT is_erased(:user_id, :session_id);

-- name: guard_writer :exec primary
-- A writer the erasure triggers do not reach (Agno's own tables, written by Agno's
-- PostgresDb on its own connection): take the erasure guard of this user and session, as the
-- six tables' triggers do, until this transaction ends. An erasure then waits for the write
-- (and erases it), or the writer, checking `is_erased` next, sees the erasure.
SELECT erasure_guard(:user_id, :session_id);

-- name: agno_schema_exists :scalar primary
-- Whether the schema of Agno's own tables exists (an app on Agno 1.7 has none).
SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = :agno_schema);  -- the name as given

-- name: agno_user_tables :many primary
-- The tables of Agno's schema that hold a user's rows, and how each finds them (`found_by`):
-- 'user', every table with a user_id column (agno/db/postgres/schemas.py: sessions, runs,
-- memories, metrics on 3.x, evals, traces, knowledge, learnings, compactions, …); 'trace',
-- the spans of the user's traces (agno_traces); 'session', a table with no user_id that
-- keeps an Agno session's rows by `agno_session_id` (Agno 3's transcripts), rows of the
-- user's sessions. `sessions`: a 'user' table that also names sessions (a session_id
-- column), where the user's sessions in Agno's tables are found. Tables that others
-- reference come last: the order to delete in.
SELECT c.relname AS table_name,
       CASE WHEN col.user_id THEN 'user'
            WHEN c.relname = 'agno_spans' THEN 'trace'
            ELSE 'session' END AS found_by,
       col.user_id AND col.session_id AS sessions
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT coalesce(bool_or(a.attname = 'user_id'), false) AS user_id,
           coalesce(bool_or(a.attname = 'session_id'), false) AS session_id,
           coalesce(bool_or(a.attname = 'agno_session_id'), false) AS agno_session_id
    FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS col
WHERE n.nspname = :agno_schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND (col.user_id
       OR col.agno_session_id
       OR (c.relname = 'agno_spans'
           AND EXISTS (SELECT FROM pg_class t
                       WHERE t.relnamespace = n.oid AND t.relname = 'agno_traces')))
ORDER BY EXISTS (SELECT FROM pg_constraint f
                 WHERE f.confrelid = c.oid AND f.contype = 'f' AND f.conrelid <> c.oid),
         c.relname;
