-- Statements of the Agno integration (pagbank_pg.agno): Agno's Storage and MemoryDb over the
-- plan's tables. Rows are written as the importer writes them (mapping.py); timestamps are
-- the database's.

-- name: save_agent_session_row :exec
-- Create or replace one agent's row of a session (created_at: the session's, else now(), set on
-- insert; updated_at now()).
INSERT INTO agent_sessions (id, session_id, agent_id, agent_name, user_id, business_unit,
    messages, agent_session_state, metadata, created_at)
VALUES (:id, :session_id, :agent_id, :agent_name, :user_id, :business_unit,
    :messages::jsonb, :agent_session_state::jsonb, :metadata::jsonb,
    coalesce(:created_at::timestamptz, now()))
ON CONFLICT (session_id, agent_id) DO UPDATE
SET agent_name = EXCLUDED.agent_name, user_id = EXCLUDED.user_id,
    business_unit = EXCLUDED.business_unit, messages = EXCLUDED.messages,
    agent_session_state = EXCLUDED.agent_session_state, metadata = EXCLUDED.metadata,
    updated_at = now();

-- name: save_team_session_row :exec
-- Create or replace a team session (created_at: the session's, else now(), set on insert;
-- updated_at now()).
INSERT INTO team_sessions (id, session_id, team_id, team_name, user_id, messages,
    team_session_state, metadata, created_at)
VALUES (:id, :session_id, :team_id, :team_name, :user_id, :messages::jsonb,
    :team_session_state::jsonb, :metadata::jsonb, coalesce(:created_at::timestamptz, now()))
ON CONFLICT (session_id, team_id) DO UPDATE
SET team_name = EXCLUDED.team_name, user_id = EXCLUDED.user_id,
    messages = EXCLUDED.messages, team_session_state = EXCLUDED.team_session_state,
    metadata = EXCLUDED.metadata, updated_at = now();

-- name: team_sessions_of_session :many primary
-- Every row of one team session id. On the primary: a turn reads the session before it writes
-- it, and must see every turn committed before it, whichever app replica wrote that one.
SELECT * FROM team_sessions WHERE session_id = :session_id ORDER BY created_at, team_id;

-- name: agent_session_rows_of_session :many primary
-- Every agent's row of one session id. On the primary, as team_sessions_of_session.
SELECT * FROM agent_sessions WHERE session_id = :session_id ORDER BY created_at, agent_id;

-- name: agent_session_ids :many
-- Session ids, newest first, of a user and/or an agent (NULL: any); limit NULL: all.
SELECT session_id FROM agent_sessions
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:agent_id::text IS NULL OR agent_id = :agent_id)
GROUP BY session_id
ORDER BY max(created_at) DESC, session_id
LIMIT :limit;

-- name: team_session_ids :many
-- Session ids, newest first, of a user and/or a team (NULL: any); limit NULL: all.
SELECT session_id FROM team_sessions
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:team_id::text IS NULL OR team_id = :team_id)
GROUP BY session_id
ORDER BY max(created_at) DESC, session_id
LIMIT :limit;

-- name: agent_session_rows :many
-- Every row of the given agent session ids.
SELECT * FROM agent_sessions WHERE session_id = ANY(:session_ids::text[])
ORDER BY session_id, created_at, agent_id;

-- name: team_session_rows :many
-- Every row of the given team session ids.
SELECT * FROM team_sessions WHERE session_id = ANY(:session_ids::text[])
ORDER BY session_id, created_at, team_id;

-- name: delete_agent_session_rows :execrows
-- Delete every agent's row of a session.
DELETE FROM agent_sessions WHERE session_id = :session_id;

-- name: delete_team_session_rows :execrows
-- Delete every row of a team session.
DELETE FROM team_sessions WHERE session_id = :session_id;

-- name: delete_all_agent_sessions :execrows
-- Empty agent_sessions (Agno's Storage.drop).
DELETE FROM agent_sessions;

-- name: delete_all_team_sessions :execrows
-- Empty team_sessions (Agno's Storage.drop).
DELETE FROM team_sessions;

-- name: save_agno_memory :exec
-- Create or replace a memory written by Agno (created_at on insert, updated_at now());
-- importance_score and business_units, the app's own, are kept on replace.
INSERT INTO user_memories (id, user_id, memory, memory_tags, metadata)
VALUES (:id, :user_id, :memory, :memory_tags::text[], :metadata::jsonb)
ON CONFLICT (id) DO UPDATE
SET user_id = EXCLUDED.user_id, memory = EXCLUDED.memory,
    memory_tags = EXCLUDED.memory_tags, metadata = EXCLUDED.metadata, updated_at = now();

-- name: agno_memories_newest :many
-- Memories of a user (NULL: everyone's), newest first; limit NULL: all.
SELECT * FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
ORDER BY created_at DESC, id
LIMIT :limit;

-- name: agno_memories_oldest :many
-- Memories of a user (NULL: everyone's), oldest first; limit NULL: all.
SELECT * FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
ORDER BY created_at, id
LIMIT :limit;

-- name: delete_all_memories :execrows
-- Empty user_memories (Agno's MemoryDb.clear).
DELETE FROM user_memories;

-- name: lock_agno_session :exec
-- Take the lock of one Agno session (of a mode) until the transaction ends: two writers of
-- one session merge one after the other. A transaction-scoped advisory lock, so it holds
-- through a transaction pooler; its two-key form never meets the migrations' one-key lock.
SELECT pg_advisory_xact_lock(1634625391, hashtext(:mode || ':' || :session_id));

-- Statements of PagbankDb / AsyncPagbankDb (Agno 2 and 3). Their rows have the shape above;
-- an Agno 2/3 session is mapped as an Agno 1.7 row (pagbank_pg/mapping/agno2.py).

-- name: agent_session_page :many
-- One page of agent session ids (every row of an id counts as one session) of a user, an
-- agent, a session name (substring, any case), created in [start_epoch, end_epoch] (NULL: any
-- of each), sorted by sort_by ('created_at', 'updated_at' or 'session_id'; NULL: created_at),
-- newest first unless sort_asc; limit NULL: all. `total`: how many match, before the page.
-- Epoch seconds, as Agno counts time.
WITH matched AS (
    SELECT session_id,
        extract(epoch FROM min(created_at))::bigint AS created_at,
        extract(epoch FROM max(coalesce(updated_at, created_at)))::bigint AS updated_at
    FROM agent_sessions
    WHERE (:user_id::text IS NULL OR user_id = :user_id)
      AND (:component_id::text IS NULL OR agent_id = :component_id)
      AND (:session_name::text IS NULL
           OR metadata->'agno'->'row'->'session_data'->>'session_name'
              ILIKE '%' || :session_name || '%')
    GROUP BY session_id
)
SELECT session_id, created_at, updated_at, count(*) OVER () AS total FROM matched
WHERE (:start_epoch::bigint IS NULL OR created_at >= :start_epoch)
  AND (:end_epoch::bigint IS NULL OR created_at <= :end_epoch)
ORDER BY
    CASE WHEN :sort_asc::boolean THEN
        CASE :sort_by::text WHEN 'updated_at' THEN updated_at WHEN 'session_id' THEN NULL
        ELSE created_at END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN
        CASE :sort_by::text WHEN 'updated_at' THEN updated_at WHEN 'session_id' THEN NULL
        ELSE created_at END END DESC,
    CASE WHEN :sort_asc::boolean THEN session_id END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN session_id END DESC
LIMIT :limit OFFSET :offset;

-- name: team_session_page :many
-- One page of team session ids, as agent_session_page.
WITH matched AS (
    SELECT session_id,
        extract(epoch FROM min(created_at))::bigint AS created_at,
        extract(epoch FROM max(coalesce(updated_at, created_at)))::bigint AS updated_at
    FROM team_sessions
    WHERE (:user_id::text IS NULL OR user_id = :user_id)
      AND (:component_id::text IS NULL OR team_id = :component_id)
      AND (:session_name::text IS NULL
           OR metadata->'agno'->'row'->'session_data'->>'session_name'
              ILIKE '%' || :session_name || '%')
    GROUP BY session_id
)
SELECT session_id, created_at, updated_at, count(*) OVER () AS total FROM matched
WHERE (:start_epoch::bigint IS NULL OR created_at >= :start_epoch)
  AND (:end_epoch::bigint IS NULL OR created_at <= :end_epoch)
ORDER BY
    CASE WHEN :sort_asc::boolean THEN
        CASE :sort_by::text WHEN 'updated_at' THEN updated_at WHEN 'session_id' THEN NULL
        ELSE created_at END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN
        CASE :sort_by::text WHEN 'updated_at' THEN updated_at WHEN 'session_id' THEN NULL
        ELSE created_at END END DESC,
    CASE WHEN :sort_asc::boolean THEN session_id END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN session_id END DESC
LIMIT :limit OFFSET :offset;

-- name: delete_agent_sessions_of :execrows
-- Delete every agent's row of the given session ids (of one user only, unless NULL).
DELETE FROM agent_sessions
WHERE session_id = ANY(:session_ids::text[]) AND (:user_id::text IS NULL OR user_id = :user_id);

-- name: delete_team_sessions_of :execrows
-- Delete the team rows of the given session ids (of one user only, unless NULL).
DELETE FROM team_sessions
WHERE session_id = ANY(:session_ids::text[]) AND (:user_id::text IS NULL OR user_id = :user_id);

-- name: sessions_for_metrics :many
-- The agent and team rows created in [start_epoch, end_epoch] (NULL: any), as Agno's metrics
-- read sessions: session_type, user_id, created_at (epoch), session_data, and each run's model
-- and provider (the runs of a row's own agent; a route-mode row's others are in their rows).
SELECT 'agent' AS session_type, session_id, user_id,
    extract(epoch FROM created_at)::bigint AS created_at,
    metadata->'agno'->'row'->'session_data' AS session_data,
    coalesce(metadata->'agno'->'row'->'memory'->'runs', metadata->'agno'->'runs') AS runs
FROM agent_sessions
WHERE (:start_epoch::bigint IS NULL OR created_at >= to_timestamp(:start_epoch))
  AND (:end_epoch::bigint IS NULL OR created_at <= to_timestamp(:end_epoch))
UNION ALL
SELECT 'team', session_id, user_id, extract(epoch FROM created_at)::bigint,
    metadata->'agno'->'row'->'session_data', metadata->'agno'->'row'->'memory'->'runs'
FROM team_sessions
WHERE (:start_epoch::bigint IS NULL OR created_at >= to_timestamp(:start_epoch))
  AND (:end_epoch::bigint IS NULL OR created_at <= to_timestamp(:end_epoch));

-- name: first_session_epoch :scalar
-- When the first agent or team session was created (epoch seconds), or NULL.
SELECT extract(epoch FROM least(
    (SELECT min(created_at) FROM agent_sessions), (SELECT min(created_at) FROM team_sessions)
))::bigint;

-- name: save_agno2_memory :one
-- Create or replace a memory written by Agno 2/3, with its timestamps (NULL: now()); the
-- app's importance_score and business_units are kept on replace.
INSERT INTO user_memories (id, user_id, memory, memory_tags, metadata, created_at, updated_at)
VALUES (:id, :user_id, :memory, :memory_tags::text[], :metadata::jsonb,
    coalesce(:created_at::timestamptz, now()), coalesce(:updated_at::timestamptz, now()))
ON CONFLICT (id) DO UPDATE
SET user_id = EXCLUDED.user_id, memory = EXCLUDED.memory, memory_tags = EXCLUDED.memory_tags,
    metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
RETURNING *;

-- name: agno2_memories :many
-- One page of memories of a user, an agent, a team (NULL: any of each), holding every one of
-- `topics` (NULL: any), matching `search` as search_memories does (its text holds it, case
-- and accents ignored, or its words hold every word of it in Portuguese; NULL: any), sorted by sort_by
-- ('created_at', 'updated_at', 'memory' or 'user_id'; NULL: created_at), newest first unless
-- sort_asc; limit NULL: all. `total`: how many match, before the page.
SELECT *, count(*) OVER () AS total FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
  AND (:agent_id::text IS NULL OR metadata->'agno'->'rest'->>'agent_id' = :agent_id)
  AND (:team_id::text IS NULL OR metadata->'agno'->'rest'->>'team_id' = :team_id)
  AND (:topics::text[] IS NULL OR memory_tags @> :topics::text[])
  AND (:search::text IS NULL
       OR search_folded(memory) LIKE '%' || replace(replace(replace(
              search_folded(:search::text), '\', '\\'), '%', '\%'), '_', '\_') || '%'
       OR to_tsvector('pagbank_portuguese', memory)
          @@ plainto_tsquery('pagbank_portuguese', :search::text))
ORDER BY
    CASE WHEN :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'updated_at' THEN coalesce(updated_at, created_at) WHEN 'memory' THEN NULL
        WHEN 'user_id' THEN NULL ELSE created_at END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'updated_at' THEN coalesce(updated_at, created_at) WHEN 'memory' THEN NULL
        WHEN 'user_id' THEN NULL ELSE created_at END END DESC,
    CASE WHEN :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'memory' THEN memory WHEN 'user_id' THEN user_id END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'memory' THEN memory WHEN 'user_id' THEN user_id END END DESC,
    id
LIMIT :limit OFFSET :offset;

-- name: agno2_memory_topics :many
-- The distinct topics of a user's memories (NULL: everyone's), in order.
SELECT DISTINCT unnest(memory_tags) AS topic FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
ORDER BY topic;

-- name: agno2_memory_stats :many
-- Per user (NULL: every user): how many memories and when one last changed (epoch), the
-- most recently changed first; limit NULL: all. `total`: how many users match.
SELECT user_id, count(*) AS total_memories,
    extract(epoch FROM max(coalesce(updated_at, created_at)))::bigint AS last_memory_updated_at,
    count(*) OVER () AS total
FROM user_memories
WHERE (:user_id::text IS NULL OR user_id = :user_id)
GROUP BY user_id
ORDER BY max(coalesce(updated_at, created_at)) DESC, user_id
LIMIT :limit OFFSET :offset;

-- name: delete_agno2_memories :execrows
-- Delete the given memories (of one user only, unless NULL).
DELETE FROM user_memories
WHERE id = ANY(:ids::uuid[]) AND (:user_id::text IS NULL OR user_id = :user_id);

-- name: agno_session_runs :many primary
-- The rows of one agent (mode 'agent') or team session, as a turn's write of runs needs them:
-- per row its owner, its agent or team, how many messages its conversation holds, whether it
-- holds one whole Agno session (not a route-mode split, no legacy message list, runs in a
-- list), its runs' ids and fingerprints in order, the message references of its last run, and
-- where its conversation first holds the message `system` and that message (NULL: nowhere, or
-- none given).
WITH found AS (
    SELECT id, user_id, agent_id AS component_id, messages, metadata FROM agent_sessions
    WHERE :mode::text = 'agent' AND session_id = :session_id
    UNION ALL
    SELECT id, user_id, team_id, messages, metadata FROM team_sessions
    WHERE :mode::text = 'team' AND session_id = :session_id
), shaped AS (
    SELECT *, metadata #> '{agno,row,memory}' AS memory,
        jsonb_typeof(messages) = 'array'
        AND jsonb_typeof(metadata #> '{agno,row,memory,runs}') = 'array'
        AND NOT coalesce(metadata->'agno' ? 'split', false)
        AND NOT coalesce(metadata #> '{agno,row,memory}' ? 'messages', false) AS whole
    FROM found
)
SELECT id, user_id, component_id, whole,
    CASE WHEN whole THEN jsonb_array_length(messages) END AS message_count,
    CASE WHEN whole THEN memory #> '{runs,-1,messages}' END AS last_refs,
    coalesce((SELECT array_agg(r->>'run_id' ORDER BY i)
              FROM jsonb_array_elements(CASE WHEN whole THEN memory->'runs' ELSE '[]' END)
                   WITH ORDINALITY AS e(r, i)), '{}') AS run_ids,
    coalesce((SELECT array_agg(r->>'$pagbank_fp' ORDER BY i)
              FROM jsonb_array_elements(CASE WHEN whole THEN memory->'runs' ELSE '[]' END)
                   WITH ORDINALITY AS e(r, i)), '{}') AS fingerprints,
    system_at, system_message
FROM shaped
LEFT JOIN LATERAL (
    SELECT i - 1 AS system_at, message AS system_message
    FROM jsonb_array_elements(CASE WHEN whole THEN messages ELSE '[]' END)
         WITH ORDINALITY AS m(message, i)
    WHERE :system::jsonb IS NOT NULL AND message = :system::jsonb
    ORDER BY i LIMIT 1
) AS system ON true
ORDER BY id;

-- name: put_agent_runs :execrows
-- In one whole agent row (id): the conversation cut to its first `keep` messages (NULL: all
-- kept), then `messages` appended; the run at `position` replaced by `run` (NULL: `runs`
-- appended); given `metadata` (the session without its runs), the row's metadata, state and
-- name replaced, its runs and the rest of its memory kept. A replacement is made only when
-- the stored run is `run_id` and its fingerprint differs from `fp`, and the writer's copy is
-- none it was `served` (else it is an older state the writer read: the stored one stays).
UPDATE agent_sessions SET
    messages = CASE
            WHEN :keep::int IS NULL THEN messages
            WHEN :keep::int = 0 THEN '[]'::jsonb
            ELSE jsonb_path_query_array(messages, '$[0 to $last]',
                                        jsonb_build_object('last', :keep::int - 1))
        END || :messages::jsonb,
    metadata = jsonb_set(coalesce(:metadata::jsonb, metadata), '{agno,row,memory}',
        jsonb_set(metadata #> '{agno,row,memory}', '{runs}', CASE
            WHEN :position::int IS NULL THEN (metadata #> '{agno,row,memory,runs}') || :runs::jsonb
            ELSE jsonb_set(metadata #> '{agno,row,memory,runs}', ARRAY[:position::int::text],
                           :run::jsonb)
        END)),
    agent_session_state = coalesce(:state::jsonb, agent_session_state),
    agent_name = CASE WHEN :metadata::jsonb IS NULL THEN agent_name ELSE :name::text END,
    updated_at = now()
WHERE id = :id
  AND (:position::int IS NULL OR (
      metadata #>> ARRAY['agno', 'row', 'memory', 'runs', :position::int::text, 'run_id']
          = :run_id::text
      AND coalesce(metadata #>> ARRAY['agno', 'row', 'memory', 'runs', :position::int::text,
                                      '$pagbank_fp'], '') <> :fp::text
      AND NOT :fp::text = ANY(coalesce(:served::text[], '{}'))));

-- name: put_team_runs :execrows
-- In one whole team row (id): as put_agent_runs.
UPDATE team_sessions SET
    messages = CASE
            WHEN :keep::int IS NULL THEN messages
            WHEN :keep::int = 0 THEN '[]'::jsonb
            ELSE jsonb_path_query_array(messages, '$[0 to $last]',
                                        jsonb_build_object('last', :keep::int - 1))
        END || :messages::jsonb,
    metadata = jsonb_set(coalesce(:metadata::jsonb, metadata), '{agno,row,memory}',
        jsonb_set(metadata #> '{agno,row,memory}', '{runs}', CASE
            WHEN :position::int IS NULL THEN (metadata #> '{agno,row,memory,runs}') || :runs::jsonb
            ELSE jsonb_set(metadata #> '{agno,row,memory,runs}', ARRAY[:position::int::text],
                           :run::jsonb)
        END)),
    team_session_state = coalesce(:state::jsonb, team_session_state),
    team_name = CASE WHEN :metadata::jsonb IS NULL THEN team_name ELSE :name::text END,
    updated_at = now()
WHERE id = :id
  AND (:position::int IS NULL OR (
      metadata #>> ARRAY['agno', 'row', 'memory', 'runs', :position::int::text, 'run_id']
          = :run_id::text
      AND coalesce(metadata #>> ARRAY['agno', 'row', 'memory', 'runs', :position::int::text,
                                      '$pagbank_fp'], '') <> :fp::text
      AND NOT :fp::text = ANY(coalesce(:served::text[], '{}'))));

-- name: agent_session_owners :many primary
-- The owner of each stored row of the given agent session ids (NULL: written without a
-- user): one read for a bulk write's ownership check.
SELECT session_id, user_id FROM agent_sessions WHERE session_id = ANY(:session_ids::text[]);

-- name: team_session_owners :many primary
-- The owner of each stored row of the given team session ids, as agent_session_owners.
SELECT session_id, user_id FROM team_sessions WHERE session_id = ANY(:session_ids::text[]);

-- name: agno_table_found :scalar primary
-- Whether Agno's own table `table_name` is in the schema `agno_schema` (Agno makes its tables
-- on first use): what is read there (a workflow session's owner) is read only then. The names
-- as given, quoted here.
SELECT to_regclass(format('%I.%I', :agno_schema::text, :table_name::text)) IS NOT NULL;
