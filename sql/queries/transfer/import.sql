-- Statements of `pagbank-pg import-sqlite` and `verify-import`: rows are COPied into
-- temporary stage tables, then moved into the six tables by one set-based upsert per batch
-- that writes only rows whose content changed (so a re-run changes nothing, and an import
-- resumed after a crash ends as an uninterrupted one would). Rows of erased users (LGPD,
-- erased_ids) are passed over and counted. A row the import wrote keeps the file name it was
-- first imported from: a renamed or moved copy of the file, holding the same data, changes
-- nothing (and export-sqlite writes the row back to the first name).

-- name: prefer_lz4 :exec
-- Compress what this session writes with lz4 where the server has it (PostgreSQL 14 and
-- later, built with lz4): faster to write than the default pglz. The data stays readable by
-- any session; a server without lz4 keeps pglz.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4'::text = ANY (enumvals)) THEN
        SET default_toast_compression = 'lz4';
    END IF;
END
$$;

-- name: bulk_writer :exec
-- This session writes in bulk: its rows take one shared erasure lock per transaction instead
-- of one per user and session (erasure_guard, migration 0008), which an erasure waits for.
SELECT set_config('pagbank_pg.bulk_writer', 'on', false);

-- name: create_import_stages :exec
-- Stage tables of this connection, emptied at each commit.
DO $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS stage_agent_sessions
        (LIKE agent_sessions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS stage_team_sessions
        (LIKE team_sessions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS stage_user_memories
        (LIKE user_memories INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS stage_user_sessions
        (LIKE user_sessions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
END
$$;

-- name: copy_stage_agent_sessions :copy
-- COPY's text format: the importer's worker processes encode the rows.
COPY stage_agent_sessions (id, session_id, agent_id, agent_name, user_id, business_unit,
    created_at, updated_at, messages, agent_session_state, metadata) FROM STDIN;

-- name: copy_stage_team_sessions :copy
COPY stage_team_sessions (id, session_id, team_id, team_name, user_id, created_at, updated_at,
    messages, team_session_state, metadata) FROM STDIN;

-- name: copy_stage_user_memories :copy
COPY stage_user_memories (id, user_id, memory, created_at, updated_at, metadata, memory_tags,
    business_units, importance_score) FROM STDIN;

-- name: copy_stage_user_sessions :copy
COPY stage_user_sessions (session_id, user_id, team_id, created_at, last_activity,
    interaction_count, session_context, is_active, metadata) FROM STDIN;

-- name: copy_agent_sessions :copy
-- Straight into the table: for batches of rows that are all new.
COPY agent_sessions (id, session_id, agent_id, agent_name, user_id, business_unit,
    created_at, updated_at, messages, agent_session_state, metadata) FROM STDIN;

-- name: copy_team_sessions :copy
COPY team_sessions (id, session_id, team_id, team_name, user_id, created_at, updated_at,
    messages, team_session_state, metadata) FROM STDIN;

-- name: copy_user_memories :copy
COPY user_memories (id, user_id, memory, created_at, updated_at, metadata, memory_tags,
    business_units, importance_score) FROM STDIN;

-- name: copy_user_sessions :copy
COPY user_sessions (session_id, user_id, team_id, created_at, last_activity,
    interaction_count, session_context, is_active, metadata) FROM STDIN;

-- name: upsert_staged_agent_sessions :one
-- Move the staged agent sessions in; returns how many were inserted and updated.
WITH moved AS (
    INSERT INTO agent_sessions AS t (id, session_id, agent_id, agent_name, user_id,
        business_unit, created_at, updated_at, messages, agent_session_state, metadata)
    SELECT id, session_id, agent_id, agent_name, user_id, business_unit, created_at,
        updated_at, messages, agent_session_state, metadata
    FROM stage_agent_sessions
    WHERE (NOT EXISTS (SELECT FROM erased_ids) OR NOT is_erased(user_id, session_id))
    ON CONFLICT (session_id, agent_id) DO UPDATE
    SET agent_name = EXCLUDED.agent_name, user_id = EXCLUDED.user_id,
        business_unit = EXCLUDED.business_unit, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at, messages = EXCLUDED.messages,
        agent_session_state = EXCLUDED.agent_session_state,
        metadata = CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                 THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                t.metadata #> '{agno,source,file}')
                 ELSE EXCLUDED.metadata END
    WHERE (t.agent_name, t.user_id, t.business_unit, t.created_at, t.updated_at, t.messages,
           t.agent_session_state, t.metadata)
        IS DISTINCT FROM (EXCLUDED.agent_name, EXCLUDED.user_id, EXCLUDED.business_unit,
           EXCLUDED.created_at, EXCLUDED.updated_at, EXCLUDED.messages,
           EXCLUDED.agent_session_state,
           CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                    THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                   t.metadata #> '{agno,source,file}')
                    ELSE EXCLUDED.metadata END)
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM stage_agent_sessions
        WHERE EXISTS (SELECT FROM erased_ids) AND is_erased(user_id, session_id))
           AS erased
FROM moved;

-- name: upsert_staged_team_sessions :one
-- Move the staged team sessions in; returns how many were inserted and updated.
WITH moved AS (
    INSERT INTO team_sessions AS t (id, session_id, team_id, team_name, user_id, created_at,
        updated_at, messages, team_session_state, metadata)
    SELECT id, session_id, team_id, team_name, user_id, created_at, updated_at, messages,
        team_session_state, metadata
    FROM stage_team_sessions
    WHERE (NOT EXISTS (SELECT FROM erased_ids) OR NOT is_erased(user_id, session_id))
    ON CONFLICT (session_id, team_id) DO UPDATE
    SET team_name = EXCLUDED.team_name, user_id = EXCLUDED.user_id,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        messages = EXCLUDED.messages, team_session_state = EXCLUDED.team_session_state,
        metadata = CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                 THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                t.metadata #> '{agno,source,file}')
                 ELSE EXCLUDED.metadata END
    WHERE (t.team_name, t.user_id, t.created_at, t.updated_at, t.messages,
           t.team_session_state, t.metadata)
        IS DISTINCT FROM (EXCLUDED.team_name, EXCLUDED.user_id, EXCLUDED.created_at,
           EXCLUDED.updated_at, EXCLUDED.messages, EXCLUDED.team_session_state,
           CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                    THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                   t.metadata #> '{agno,source,file}')
                    ELSE EXCLUDED.metadata END)
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM stage_team_sessions
        WHERE EXISTS (SELECT FROM erased_ids) AND is_erased(user_id, session_id))
           AS erased
FROM moved;

-- name: upsert_staged_user_memories :one
-- Move the staged memories in (their Agno ids kept); returns inserted and updated counts.
-- importance_score and business_units are the app's own once imported: a re-import keeps them.
WITH moved AS (
    INSERT INTO user_memories AS t (id, user_id, memory, created_at, updated_at, metadata,
        memory_tags, business_units, importance_score)
    SELECT id, user_id, memory, created_at, updated_at, metadata, memory_tags,
        business_units, importance_score
    FROM stage_user_memories
    WHERE (NOT EXISTS (SELECT FROM erased_ids) OR NOT is_erased(user_id, NULL))
    ON CONFLICT (id) DO UPDATE
    SET user_id = EXCLUDED.user_id, memory = EXCLUDED.memory,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
        memory_tags = EXCLUDED.memory_tags,
        metadata = CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                 THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                t.metadata #> '{agno,source,file}')
                 ELSE EXCLUDED.metadata END
    WHERE (t.user_id, t.memory, t.created_at, t.updated_at, t.metadata, t.memory_tags)
        IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.memory, EXCLUDED.created_at,
           EXCLUDED.updated_at,
           CASE WHEN t.metadata @> '{"agno": {"source": {"imported": true}}}'
                    THEN jsonb_set(EXCLUDED.metadata, '{agno,source,file}',
                                   t.metadata #> '{agno,source,file}')
                    ELSE EXCLUDED.metadata END,
           EXCLUDED.memory_tags)
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM stage_user_memories
        WHERE EXISTS (SELECT FROM erased_ids) AND is_erased(user_id, NULL))
           AS erased
FROM moved;

-- name: upsert_staged_user_sessions :one
-- Move the staged PagBank sessions in; returns how many were inserted and updated.
WITH moved AS (
    INSERT INTO user_sessions AS t (session_id, user_id, team_id, created_at, last_activity,
        interaction_count, session_context, is_active, metadata)
    SELECT session_id, user_id, team_id, created_at, last_activity, interaction_count,
        session_context, is_active, metadata
    FROM stage_user_sessions
    WHERE (NOT EXISTS (SELECT FROM erased_ids) OR NOT is_erased(user_id, session_id))
    ON CONFLICT (session_id) DO UPDATE
    SET user_id = EXCLUDED.user_id, team_id = EXCLUDED.team_id,
        created_at = EXCLUDED.created_at, last_activity = EXCLUDED.last_activity,
        interaction_count = EXCLUDED.interaction_count,
        session_context = EXCLUDED.session_context, is_active = EXCLUDED.is_active,
        metadata = CASE WHEN t.metadata ? '_pagbank_import'
                 THEN jsonb_set(EXCLUDED.metadata, '{_pagbank_import,file}',
                                t.metadata #> '{_pagbank_import,file}')
                 ELSE EXCLUDED.metadata END
    WHERE (t.user_id, t.team_id, t.created_at, t.last_activity, t.interaction_count,
           t.session_context, t.is_active, t.metadata)
        IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.team_id, EXCLUDED.created_at,
           EXCLUDED.last_activity, EXCLUDED.interaction_count, EXCLUDED.session_context,
           EXCLUDED.is_active,
           CASE WHEN t.metadata ? '_pagbank_import'
                    THEN jsonb_set(EXCLUDED.metadata, '{_pagbank_import,file}',
                                   t.metadata #> '{_pagbank_import,file}')
                    ELSE EXCLUDED.metadata END)
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM stage_user_sessions
        WHERE EXISTS (SELECT FROM erased_ids) AND is_erased(user_id, session_id))
           AS erased
FROM moved;

-- name: imported_agent_sessions :many
-- The agent session rows imported from a source table of this name, for the given session
-- ids, whatever file they were first imported from (a renamed copy verifies the same).
SELECT * FROM agent_sessions
WHERE session_id = ANY(:session_ids::text[])
  AND metadata -> 'agno' -> 'source' ->> 'table' = :source_table;

-- name: imported_team_sessions :many
-- The team session rows imported from a source table of this name, for the given session
-- ids, whatever file they were first imported from (a renamed copy verifies the same).
SELECT * FROM team_sessions
WHERE session_id = ANY(:session_ids::text[])
  AND metadata -> 'agno' -> 'source' ->> 'table' = :source_table;

-- name: imported_user_memories :many
-- The memories with the given ids.
SELECT * FROM user_memories WHERE id = ANY(:ids::uuid[]);

-- name: imported_user_sessions :many
-- The PagBank sessions with the given ids.
SELECT * FROM user_sessions WHERE session_id = ANY(:session_ids::text[]);

-- name: get_watermark :one
-- Where the import of one source table got to, or nothing (a first import).
SELECT * FROM import_watermarks WHERE source_file = :source_file AND source_table = :source_table;

-- name: anchor_hash :scalar
-- The form a watermark keeps the key of its row in: a keyed hash (no session or memory id is
-- kept readable), compared only.
SELECT encode(erased_id_hash('anchor', :anchor_key), 'hex');

-- name: save_watermark :exec
-- Record where the import of one source table got to (in the transaction of the batch); the
-- key of the row at max_rowid as its anchor_hash.
INSERT INTO import_watermarks AS w (source_file, source_table, file_identity, max_rowid,
    anchor_key, time_mark, source_rows)
VALUES (:source_file, :source_table, :file_identity, :max_rowid,
    encode(erased_id_hash('anchor', :anchor_key), 'hex'), :time_mark, :source_rows)
ON CONFLICT (source_file, source_table) DO UPDATE
SET file_identity = EXCLUDED.file_identity, max_rowid = EXCLUDED.max_rowid,
    anchor_key = EXCLUDED.anchor_key, time_mark = EXCLUDED.time_mark,
    source_rows = EXCLUDED.source_rows, updated_at = now();

-- name: defer_indexes :many primary
-- Before a first import: drop the secondary indexes of a table that holds no row, recorded in
-- the same transaction (import_deferred_indexes), to build them after the load.
SELECT defer_secondary_indexes(:table_name::regclass) AS index_name;


-- Rows deleted in SQLite: `verify-import` lists them, `import-sqlite --prune` deletes them.
-- Only rows the import wrote from that very file and table count (the import marks them); a
-- row the app wrote to PostgreSQL came from no file and is never listed nor deleted. The key
-- array holds every key the source table has now; the rows whose key is not in it are found
-- first (a scan of the keys), and only those have their metadata read, by primary key: 0.13 s
-- for 17,250 rows against 10,000 keys, where reading every row's metadata took 1.1 s.

-- name: gone_agent_sessions :many
-- The sessions imported from one source table whose key is no longer in it (by their source key).
WITH candidates AS MATERIALIZED (
    SELECT id FROM agent_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
SELECT DISTINCT session_id AS key FROM agent_sessions
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
ORDER BY 1;

-- name: prune_agent_sessions :many
-- Delete the sessions imported from one source table whose key is no longer in it; their keys.
WITH candidates AS MATERIALIZED (
    SELECT id FROM agent_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
DELETE FROM agent_sessions
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
RETURNING session_id AS key;

-- name: gone_team_sessions :many
-- The sessions imported from one source table whose key is no longer in it (by their source key).
WITH candidates AS MATERIALIZED (
    SELECT id FROM team_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
SELECT DISTINCT session_id AS key FROM team_sessions
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
ORDER BY 1;

-- name: prune_team_sessions :many
-- Delete the sessions imported from one source table whose key is no longer in it; their keys.
WITH candidates AS MATERIALIZED (
    SELECT id FROM team_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
DELETE FROM team_sessions
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
RETURNING session_id AS key;

-- name: gone_user_memories :many
-- The memories imported from one source table whose key is no longer in it (by their source key).
WITH candidates AS MATERIALIZED (
    SELECT id FROM user_memories t
    WHERE NOT EXISTS (SELECT FROM unnest(:ids::uuid[]) AS k(key) WHERE k.key = t.id)
)
SELECT DISTINCT coalesce(metadata #>> '{agno,raw,id}', id::text) AS key FROM user_memories
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
ORDER BY 1;

-- name: prune_user_memories :many
-- Delete the memories imported from one source table whose key is no longer in it; their keys.
WITH candidates AS MATERIALIZED (
    SELECT id FROM user_memories t
    WHERE NOT EXISTS (SELECT FROM unnest(:ids::uuid[]) AS k(key) WHERE k.key = t.id)
)
DELETE FROM user_memories
WHERE id = ANY(ARRAY(SELECT id FROM candidates))
  AND metadata #>> '{agno,source,file}' = :source_file
  AND metadata #>> '{agno,source,table}' = :source_table
  AND metadata @> '{"agno": {"source": {"imported": true}}}'
RETURNING coalesce(metadata #>> '{agno,raw,id}', id::text) AS key;

-- name: gone_user_sessions :many
-- The sessions imported from one source table whose key is no longer in it (by their source key).
WITH candidates AS MATERIALIZED (
    SELECT session_id FROM user_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
SELECT DISTINCT session_id AS key FROM user_sessions
WHERE session_id = ANY(ARRAY(SELECT session_id FROM candidates))
  AND metadata #>> '{_pagbank_import,file}' = :source_file
  AND metadata #>> '{_pagbank_import,table}' = :source_table
ORDER BY 1;

-- name: prune_user_sessions :many
-- Delete the sessions imported from one source table whose key is no longer in it; their keys.
WITH candidates AS MATERIALIZED (
    SELECT session_id FROM user_sessions t
    WHERE NOT EXISTS (SELECT FROM unnest(:session_ids::text[]) AS k(key) WHERE k.key = t.session_id)
)
DELETE FROM user_sessions
WHERE session_id = ANY(ARRAY(SELECT session_id FROM candidates))
  AND metadata #>> '{_pagbank_import,file}' = :source_file
  AND metadata #>> '{_pagbank_import,table}' = :source_table
RETURNING session_id AS key;

-- name: erased_among :many
-- Which of these source rows (a user id and a session id each, either NULL) belong to an
-- erasure (LGPD, is_erased): verify-import counts them as erased, not missing. Their
-- positions in the arrays, from 1.
SELECT r.n FROM unnest(:user_ids::text[], :session_ids::text[]) WITH ORDINALITY
    AS r(user_id, session_id, n)
WHERE EXISTS (SELECT FROM erased_ids) AND is_erased(r.user_id, r.session_id);

-- name: lock_import :one primary
-- Take the import's lock on this database, a session advisory lock held until the import's
-- connection closes (so a direct connection, or a pooler in session mode): whether it was
-- free, and when not, the backend that holds it and since when. Building the indexes an
-- import deferred needs the same lock (restore_indexes): never under a running import.
SELECT pg_try_advisory_lock(1768779892, 0) AS taken,
       (SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.classid = 1768779892 AND l.objid = 0
          AND l.objsubid = 2 AND l.granted AND l.pid <> pg_backend_pid()
        LIMIT 1) AS holder,
       (SELECT a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.classid = 1768779892 AND l.objid = 0
          AND l.objsubid = 2 AND l.granted AND l.pid <> pg_backend_pid()
        LIMIT 1) AS since;
