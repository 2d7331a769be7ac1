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
-- Create or replace a memory written by Agno 2/3, with its timestamps (NULL: now()). A
-- memory stored already keeps its user, created_at and the app's importance_score and
-- business_units, and is replaced only by its own user's write (none: no row back);
-- updated_at becomes now(), or the one given with keep_updated_at.
INSERT INTO user_memories (id, user_id, memory, memory_tags, metadata, created_at, updated_at)
VALUES (:id, :user_id, :memory, :memory_tags::text[], :metadata::jsonb,
    coalesce(:created_at::timestamptz, now()), coalesce(:updated_at::timestamptz, now()))
ON CONFLICT (id) DO UPDATE
SET memory = EXCLUDED.memory, memory_tags = EXCLUDED.memory_tags, metadata = EXCLUDED.metadata,
    updated_at = CASE WHEN :keep_updated_at::boolean THEN EXCLUDED.updated_at ELSE now() END
WHERE user_memories.user_id IS NOT DISTINCT FROM EXCLUDED.user_id
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
WHERE (:user_id::text IS NULL OR user_id = :user_id) AND user_id <> ''  -- '': no user
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
-- list), its runs' ids in order, the message references of its last run, and where its
-- conversation first holds the message `system` and that message (NULL: nowhere, or none
-- given). The row's `metadata->'agno'` is read once (MATERIALIZED): each use of a column
-- stored out of line (TOAST) would fetch and decompress the whole value again.
WITH found AS MATERIALIZED (
    SELECT id, user_id, agent_id AS component_id, messages, metadata->'agno' AS agno
    FROM agent_sessions
    WHERE :mode::text = 'agent' AND session_id = :session_id
    UNION ALL
    SELECT id, user_id, team_id, messages, metadata->'agno' FROM team_sessions
    WHERE :mode::text = 'team' AND session_id = :session_id
), shaped AS MATERIALIZED (
    SELECT id, user_id, component_id, messages, agno #> '{row,memory}' AS memory,
        jsonb_typeof(messages) = 'array'
        AND jsonb_typeof(agno #> '{row,memory,runs}') = 'array'
        AND NOT coalesce(agno ? 'split', false)
        AND NOT coalesce(agno #> '{row,memory}' ? 'messages', false) AS whole
    FROM found
)
SELECT id, user_id, component_id, whole,
    CASE WHEN whole THEN jsonb_array_length(messages) END AS message_count,
    CASE WHEN whole THEN memory #> '{runs,-1,messages}' END AS last_refs,
    coalesce((SELECT array_agg(r->>'run_id' ORDER BY i)
              FROM jsonb_array_elements(CASE WHEN whole THEN memory->'runs' ELSE '[]' END)
                   WITH ORDINALITY AS e(r, i)), '{}') AS run_ids,
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
-- In one whole agent row (id): runs put as session_with_runs says (migration 0010): `runs`
-- appended, or the run at `position` replaced by `run` when run_replaceable allows it (the
-- stored run is `run_id`, and the writer's copy `fp` is newer than any it was `served`); the
-- conversation cut to `keep` messages and `messages` appended; given `metadata` (the session
-- without its runs), `state` and `name` in place of the stored ones.
UPDATE agent_sessions SET (messages, metadata, agent_session_state, agent_name, updated_at) = (
    SELECT *, now() FROM session_with_runs(messages, metadata, agent_session_state, agent_name,
        :keep::int, :messages::jsonb, :metadata::jsonb, :state::jsonb, :name::text,
        :position::int, :run::jsonb, :runs::jsonb))
WHERE id = :id AND run_replaceable(metadata, :position::int, :run_id::text, :fp::text, :served::text[]);

-- name: put_team_runs :execrows
-- In one whole team row (id): as put_agent_runs.
UPDATE team_sessions SET (messages, metadata, team_session_state, team_name, updated_at) = (
    SELECT *, now() FROM session_with_runs(messages, metadata, team_session_state, team_name,
        :keep::int, :messages::jsonb, :metadata::jsonb, :state::jsonb, :name::text,
        :position::int, :run::jsonb, :runs::jsonb))
WHERE id = :id AND run_replaceable(metadata, :position::int, :run_id::text, :fp::text, :served::text[]);

-- name: agent_session_owners :many primary
-- The owner of each stored row of the given agent session ids (NULL: written without a
-- user): one read for a bulk write's ownership check.
SELECT session_id, user_id FROM agent_sessions WHERE session_id = ANY(:session_ids::text[]);

-- name: team_session_owners :many primary
-- The owner of each stored row of the given team session ids, as agent_session_owners.
SELECT session_id, user_id FROM team_sessions WHERE session_id = ANY(:session_ids::text[]);

-- name: agno_run_page :many primary
-- One page of the runs stored in agent and team rows (`mode` 'agent' or 'team': that table
-- only; NULL: both), as Agno's runs table lists them: one row per run, with the run's id, its
-- run_type ('agent' or 'team', as Agno's get_run_type names a run dict; else the table's), its
-- agent, team, workflow, parent run and status, its position in its session (run_index, from
-- 0; a route-mode run kept in another agent's row counts at the place its session shows it),
-- and its created_at (epoch; the row's when the run has none; updated_at: the same, runs
-- carry no time of change). An Agno 1.7 run of the legacy format is read from its `response`.
-- Filters (NULL: any): run ids, session id, the row's owner (user_id), the run's agent, team,
-- workflow and status. Sorted by sort_by (a column of this result; NULL or another name:
-- run_index, then created_at, as Agno's own), newest first unless sort_asc (sort_by NULL:
-- ascending); limit NULL: all. `total`: how many match, before the page. Runs without a
-- run_id are not listed.
WITH found AS (
    SELECT 'agent' AS kind, id, session_id, user_id, agent_id AS component_id, metadata,
        created_at
    FROM agent_sessions
    WHERE coalesce(:mode::text, 'agent') = 'agent'
      AND (:session_id::text IS NULL OR session_id = :session_id)
      AND (:user_id::text IS NULL OR user_id = :user_id)
    UNION ALL
    SELECT 'team', id, session_id, user_id, team_id, metadata, created_at FROM team_sessions
    WHERE coalesce(:mode::text, 'team') = 'team'
      AND (:session_id::text IS NULL OR session_id = :session_id)
      AND (:user_id::text IS NULL OR user_id = :user_id)
), matched AS (  -- the sessions holding one of the runs asked for (NULL: every session)
    SELECT DISTINCT kind, session_id FROM found
    WHERE :run_ids::text[] IS NULL
       OR jsonb_path_exists(metadata,
              'lax $.agno.row.memory.runs[*]
                   ? (@.run_id == $ids[*] || @.response.run_id == $ids[*])',
              jsonb_build_object('ids', to_jsonb(:run_ids::text[])))
       OR jsonb_path_exists(metadata,
              'lax $.agno.runs[*] ? (@.run_id == $ids[*] || @.response.run_id == $ids[*])',
              jsonb_build_object('ids', to_jsonb(:run_ids::text[])))
), holding AS (  -- every row of those sessions (a route-mode run is placed by its primary row)
    SELECT found.* FROM found JOIN matched USING (kind, session_id)
), slots AS (  -- each row's own list of runs (a route-mode placeholder names the agent's row)
    SELECT h.kind, h.session_id, h.user_id, h.component_id, h.created_at AS row_created,
        e.run, e.i - 1 AS run_index, e.run->>'$pagbank_split' AS split_to,
        row_number() OVER (PARTITION BY h.id, e.run->>'$pagbank_split' ORDER BY e.i) AS split_n
    FROM holding AS h,
        jsonb_array_elements(CASE WHEN jsonb_typeof(h.metadata #> '{agno,row,memory,runs}')
                                       = 'array'
                                  THEN h.metadata #> '{agno,row,memory,runs}' ELSE '[]' END)
            WITH ORDINALITY AS e(run, i)
), kept AS (  -- the runs of a route-mode session's other agents, in their rows, in order
    SELECT h.session_id, h.component_id, e.run, e.i AS n, h.created_at AS row_created
    FROM holding AS h,
        jsonb_array_elements(CASE WHEN jsonb_typeof(h.metadata #> '{agno,runs}') = 'array'
                                  THEN h.metadata #> '{agno,runs}' ELSE '[]' END)
            WITH ORDINALITY AS e(run, i)
    WHERE h.kind = 'agent'
), placed AS (
    SELECT s.kind, s.session_id, s.user_id, s.run_index,
        coalesce(k.component_id, s.component_id) AS component_id,
        coalesce(k.row_created, s.row_created) AS row_created,
        coalesce(k.run, s.run) AS stored
    FROM slots AS s
    LEFT JOIN kept AS k ON s.split_to IS NOT NULL AND k.session_id = s.session_id
        AND k.component_id = s.split_to AND k.n = s.split_n
    WHERE jsonb_typeof(s.run) = 'object' AND (s.split_to IS NULL OR k.run IS NOT NULL)
), shaped AS (
    SELECT kind, session_id, user_id, run_index, component_id, row_created,
        stored ? '$pagbank_v2' AS v2,
        CASE WHEN NOT stored ? 'run_id' AND jsonb_typeof(stored->'response') = 'object'
             THEN stored->'response' ELSE stored END AS r
    FROM placed
    WHERE jsonb_typeof(stored) = 'object'
), runs AS (
    SELECT kind, session_id, user_id, run_index, r->>'run_id' AS run_id,
        CASE WHEN coalesce(r->>'agent_id', r->>'agent_name', '') <> '' THEN 'agent'
             WHEN coalesce(r->>'team_id', r->>'team_name', '') <> '' THEN 'team'
             ELSE kind END AS run_type,
        coalesce(nullif(r->>'agent_id', ''),
                 CASE WHEN kind = 'agent' THEN nullif(component_id, '') END) AS agent_id,
        CASE WHEN NOT v2 AND r->>'agent_id' IS NOT NULL THEN NULL  -- Agno's v1-to-v2 rule
             ELSE coalesce(nullif(r->>'team_id', ''),
                           CASE WHEN kind = 'team' AND coalesce(r->>'agent_id', '') = ''
                                THEN nullif(component_id, '') END) END AS team_id,
        r->>'workflow_id' AS workflow_id, r->>'parent_run_id' AS parent_run_id,
        r->>'status' AS status,
        coalesce(CASE WHEN jsonb_typeof(r->'created_at') = 'number'
                      THEN floor((r->>'created_at')::numeric)::bigint END,
                 extract(epoch FROM row_created)::bigint) AS created_at
    FROM shaped
    WHERE r->>'run_id' IS NOT NULL
)
SELECT kind, session_id, user_id, run_id, run_type, agent_id, team_id, workflow_id,
    parent_run_id, status, run_index, created_at, created_at AS updated_at,
    count(*) OVER () AS total
FROM runs
WHERE (:run_ids::text[] IS NULL OR run_id = ANY(:run_ids::text[]))
  AND (:agent_id::text IS NULL OR agent_id = :agent_id)
  AND (:team_id::text IS NULL OR team_id = :team_id)
  AND (:workflow_id::text IS NULL OR workflow_id = :workflow_id)
  AND (:status::text IS NULL OR status = :status)
ORDER BY
    CASE WHEN :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'created_at' THEN created_at WHEN 'updated_at' THEN created_at
        WHEN 'run_index' THEN run_index END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'created_at' THEN created_at WHEN 'updated_at' THEN created_at
        WHEN 'run_index' THEN run_index END END DESC,
    CASE WHEN :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'run_id' THEN run_id WHEN 'session_id' THEN session_id WHEN 'user_id' THEN user_id
        WHEN 'status' THEN status WHEN 'agent_id' THEN agent_id WHEN 'team_id' THEN team_id
        WHEN 'workflow_id' THEN workflow_id WHEN 'run_type' THEN run_type
        WHEN 'parent_run_id' THEN parent_run_id END END ASC,
    CASE WHEN NOT :sort_asc::boolean THEN CASE :sort_by::text
        WHEN 'run_id' THEN run_id WHEN 'session_id' THEN session_id WHEN 'user_id' THEN user_id
        WHEN 'status' THEN status WHEN 'agent_id' THEN agent_id WHEN 'team_id' THEN team_id
        WHEN 'workflow_id' THEN workflow_id WHEN 'run_type' THEN run_type
        WHEN 'parent_run_id' THEN parent_run_id END END DESC,
    run_index, created_at, session_id, kind
LIMIT :limit OFFSET :offset;

-- name: cancel_agno_run :scalar
-- Cancel one run of a session, in its agent or team row, in one statement (the caller holds
-- the session's locks): only a run Agno 2/3 wrote whose stored status is `expected_status`,
-- in a row of `user_id` or of no user (as Agno's own). Its status becomes CANCELLED, `reason`
-- its content when it has none; the rest of the run is kept, and its fingerprint dropped (a
-- writer's unchanged copy of the run it was served still cannot set the run back). Returns
-- how many runs were cancelled.
WITH lists AS (  -- each list of runs of the session's rows, and where it is in `metadata`
    SELECT 'agent' AS kind, id, user_id, '{agno,row,memory,runs}'::text[] AS at,
        metadata #> '{agno,row,memory,runs}' AS runs
    FROM agent_sessions WHERE session_id = :session_id
    UNION ALL
    SELECT 'agent', id, user_id, '{agno,runs}', metadata #> '{agno,runs}'
    FROM agent_sessions WHERE session_id = :session_id
    UNION ALL
    SELECT 'team', id, user_id, '{agno,row,memory,runs}', metadata #> '{agno,row,memory,runs}'
    FROM team_sessions WHERE session_id = :session_id
), target AS (
    SELECT l.kind, l.id, l.at || (e.i - 1)::text AS path,
        (e.run - '$pagbank_fp') || jsonb_build_object('status', 'CANCELLED')
        || CASE WHEN coalesce(e.run->>'content', '') = ''
                THEN jsonb_build_object('content', :reason::text) ELSE '{}' END AS run
    FROM lists AS l,
        jsonb_array_elements(CASE WHEN jsonb_typeof(l.runs) = 'array' THEN l.runs ELSE '[]' END)
            WITH ORDINALITY AS e(run, i)
    WHERE (l.user_id = :user_id OR l.user_id IS NULL)
      AND e.run->>'run_id' = :run_id AND e.run->>'status' = :expected_status
      AND e.run->'$pagbank_v2' = 'true'
), cancelled_agent AS (
    UPDATE agent_sessions AS s SET metadata = jsonb_set(s.metadata, t.path, t.run),
        updated_at = now()
    FROM target AS t WHERE t.kind = 'agent' AND s.id = t.id RETURNING s.id
), cancelled_team AS (
    UPDATE team_sessions AS s SET metadata = jsonb_set(s.metadata, t.path, t.run),
        updated_at = now()
    FROM target AS t WHERE t.kind = 'team' AND s.id = t.id RETURNING s.id
)
SELECT (SELECT count(*) FROM cancelled_agent) + (SELECT count(*) FROM cancelled_team);

-- name: reassign_agno_session :scalar
-- Give the agent and team rows of a session to `user_id` (NULL: no user), only where their
-- owner is still `previous_user_id`, the session is idle (none of its runs that Agno 2/3
-- wrote is PENDING, RUNNING or PAUSED) and neither the new owner nor the session is erased
-- (the erasure triggers keep those rows out too). One statement; returns how many rows changed.
WITH active AS (
    SELECT EXISTS (
        SELECT FROM (SELECT metadata FROM agent_sessions WHERE session_id = :session_id
                     UNION ALL
                     SELECT metadata FROM team_sessions WHERE session_id = :session_id) AS s
        WHERE jsonb_path_exists(s.metadata, 'lax $.agno.row.memory.runs[*]
                  ? (@."$pagbank_v2" == true
                     && (@.status == "PENDING" || @.status == "RUNNING" || @.status == "PAUSED"))')
           OR jsonb_path_exists(s.metadata, 'lax $.agno.runs[*]
                  ? (@."$pagbank_v2" == true
                     && (@.status == "PENDING" || @.status == "RUNNING" || @.status == "PAUSED"))')
    ) AS busy
), agent_rows AS (
    UPDATE agent_sessions SET user_id = :user_id, updated_at = now()
    WHERE session_id = :session_id AND user_id = :previous_user_id
      AND NOT (SELECT busy FROM active) AND NOT is_erased(:user_id, :session_id)
    RETURNING 1
), team_rows AS (
    UPDATE team_sessions SET user_id = :user_id, updated_at = now()
    WHERE session_id = :session_id AND user_id = :previous_user_id
      AND NOT (SELECT busy FROM active) AND NOT is_erased(:user_id, :session_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM agent_rows) + (SELECT count(*) FROM team_rows);

-- name: agno_table_found :scalar primary
-- Whether Agno's own table `table_name` is in the schema `agno_schema` (Agno makes its tables
-- on first use): what is read there (a workflow session's owner) is read only then. The names
-- as given, quoted here.
SELECT to_regclass(format('%I.%I', :agno_schema::text, :table_name::text)) IS NOT NULL;

-- name: agno_session_check :one primary
-- Whether a write of this user to one agent (mode 'agent') or team session is passed over
-- (`erased`: the user or the session belongs to an erasure), and the owners of the session's
-- stored rows (`owners`: one per row, NULL for a row written without a user; none: no row):
-- the checks of a write that has nothing to store, without the session's lock.
SELECT is_erased(:user_id, :session_id) AS erased,
    CASE WHEN :mode::text = 'team'
        THEN ARRAY(SELECT user_id FROM team_sessions WHERE session_id = :session_id)
        ELSE ARRAY(SELECT user_id FROM agent_sessions WHERE session_id = :session_id)
    END AS owners;
