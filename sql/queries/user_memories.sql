-- Statements on user_memories: what the assistant remembers of each user.

-- name: add_memory :one
-- Store a memory. id NULL: a new uuid; memory_tags/business_units NULL: none;
-- importance_score NULL: 0.5; metadata NULL: {}. Returns the row.
INSERT INTO user_memories
    (id, user_id, memory, memory_tags, business_units, importance_score, metadata)
VALUES (coalesce(:id::uuid, gen_random_uuid()), :user_id, :memory, :memory_tags::text[],
        :business_units::text[], coalesce(:importance_score::float8, 0.5),
        coalesce(:metadata::jsonb, '{}'))
RETURNING *;

-- name: update_memory :one
-- Change a memory's text, tags or importance (a NULL argument keeps the stored value);
-- updated_at = now(). Returns the row, or nothing when there is no such memory.
UPDATE user_memories
SET memory = coalesce(:memory, memory),
    memory_tags = coalesce(:memory_tags::text[], memory_tags),
    importance_score = coalesce(:importance_score::float8, importance_score),
    updated_at = now()
WHERE id = :id
RETURNING *;

-- name: get_memory :one
-- One memory by id, or nothing.
SELECT * FROM user_memories WHERE id = :id;

-- name: delete_memory :execrows
-- Delete one memory; returns 1, or 0 when there was none.
DELETE FROM user_memories WHERE id = :id;

-- name: memories_of_user :many
-- A user's memories, newest first, page_size at a time. First page: after_created_at and
-- after_id NULL; next page: the created_at and id of the last row of the previous one.
SELECT * FROM user_memories
WHERE user_id = :user_id
  AND (created_at, id) < (coalesce(:after_created_at::timestamptz, 'infinity'),
                          coalesce(:after_id::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY created_at DESC, id DESC
LIMIT :page_size;

-- name: memories_with_any_tag :many
-- Memories carrying at least one of the tags (GIN: &&), newest first. The matches are found
-- first (MATERIALIZED): otherwise the generic plan of this prepared statement walks
-- idx_user_memories_created backwards through the whole table when the tags are rare.
WITH matches AS MATERIALIZED (
    SELECT * FROM user_memories WHERE memory_tags && :tags::text[]
)
SELECT * FROM matches ORDER BY created_at DESC LIMIT :limit;

-- name: memories_with_all_tags :many
-- Memories carrying every one of the tags (GIN: @>), newest first; found first, as above.
WITH matches AS MATERIALIZED (
    SELECT * FROM user_memories WHERE memory_tags @> :tags::text[]
)
SELECT * FROM matches ORDER BY created_at DESC LIMIT :limit;

-- name: memories_of_business_unit :many
-- Memories that concern a business unit, newest first.
SELECT * FROM user_memories
WHERE business_units @> ARRAY[:business_unit::text]
ORDER BY created_at DESC
LIMIT :limit;

-- name: top_memories_of_user :many
-- A user's most important memories, ties newest first.
SELECT * FROM user_memories
WHERE user_id = :user_id
ORDER BY importance_score DESC NULLS LAST, created_at DESC
LIMIT :limit;

-- name: memories_created_between :many
-- Memories created in [since, until), oldest first.
SELECT * FROM user_memories
WHERE created_at >= :since AND created_at < :until
ORDER BY created_at
LIMIT :limit;

-- name: search_memories :many
-- Memories matching a query (migration 0009), as Agno's get_user_memories(search_content=…)
-- searches them, and more: a memory matches when its text holds the query ignoring case and
-- accents (everything ILIKE '%query%' finds; `%`, `_` and `\` are literal; pg_trgm GIN
-- index), or when its words hold every word of the query in Portuguese, stems matched and
-- accents ignored ("limites" finds "limite", "creditos" finds "crédito", "cartão limite"
-- finds "o limite do meu cartão"; stop words dropped; full-text GIN index).
-- query NULL or '': every memory. user_id, agent_id, team_id NULL: any (agent_id and team_id
-- as PagbankDb stores them, in metadata.agno.rest). topics NULL: any; else only memories
-- carrying every one of them (GIN on memory_tags, @>).
-- sort_by (memory_search_order): 'relevance' (NULL; word matches by ts_rank, then substring
-- matches), 'created_at', 'updated_at' (NULL: created_at), 'memory' or 'user_id'; another
-- value is an error. sort_order 'asc', else descending (NULL: descending); ties newest
-- first, then id. limit NULL: all; offset NULL: 0. Each row adds rank (ordered by
-- relevance: 0 for a substring match only; else NULL, not computed) and total: the number
-- of matches before limit and offset.
WITH matches AS MATERIALIZED (
    SELECT m.*,
           CASE WHEN coalesce(:sort_by::memory_search_order, 'relevance') = 'relevance'
                THEN ts_rank(to_tsvector('pagbank_portuguese', m.memory),
                             plainto_tsquery('pagbank_portuguese', coalesce(:query::text, '')))
           END AS rank
    FROM user_memories m
    WHERE (search_folded(m.memory) LIKE '%' || replace(replace(replace(
               search_folded(coalesce(:query::text, '')), '\', '\\'), '%', '\%'), '_', '\_') || '%'
           OR to_tsvector('pagbank_portuguese', m.memory)
              @@ plainto_tsquery('pagbank_portuguese', coalesce(:query::text, '')))
      AND (:user_id::text IS NULL OR m.user_id = :user_id::text)
      AND (:agent_id::text IS NULL OR m.metadata->'agno'->'rest'->>'agent_id' = :agent_id::text)
      AND (:team_id::text IS NULL OR m.metadata->'agno'->'rest'->>'team_id' = :team_id::text)
      AND (:topics::text[] IS NULL OR m.memory_tags @> :topics::text[])
),
ordered AS (
    SELECT *,
           CASE coalesce(:sort_by::memory_search_order, 'relevance')
               WHEN 'relevance' THEN rank::numeric
               WHEN 'created_at' THEN extract(epoch FROM created_at)
               WHEN 'updated_at' THEN extract(epoch FROM coalesce(updated_at, created_at))
           END AS number_key,
           CASE :sort_by::memory_search_order
               WHEN 'memory' THEN memory WHEN 'user_id' THEN user_id::text
           END AS text_key,
           lower(:sort_order::text) IS NOT DISTINCT FROM 'asc' AS ascending
    FROM matches
)
SELECT id, user_id, memory, created_at, updated_at, metadata, memory_tags, business_units,
       importance_score, rank, count(*) OVER () AS total
FROM ordered
ORDER BY
    CASE WHEN ascending THEN number_key END ASC NULLS LAST,
    CASE WHEN NOT ascending THEN number_key END DESC NULLS LAST,
    CASE WHEN ascending THEN text_key END ASC,
    CASE WHEN NOT ascending THEN text_key END DESC,
    coalesce(updated_at, created_at) DESC, id
LIMIT :limit::bigint OFFSET coalesce(:offset::bigint, 0);
