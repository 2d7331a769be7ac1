-- Statements of every kind, for the query layer's tests.

-- name: put_memory :one
-- Insert a memory with a given id and creation time; returns it.
INSERT INTO user_memories (id, user_id, memory, memory_tags, created_at, metadata)
VALUES (:id, :user_id, :memory, :tags, :created_at, :metadata::jsonb)
RETURNING id, user_id, memory, memory_tags, created_at, metadata;

-- name: memories_of :many
-- A user's memories, oldest first.
SELECT id, memory FROM user_memories WHERE user_id = :user_id ORDER BY created_at, memory;

-- name: count_memories :scalar
SELECT count(*) FROM user_memories WHERE user_id = :user_id;

-- name: tag_all :exec
-- Add a tag to every memory of a user.
UPDATE user_memories SET memory_tags = array_append(memory_tags, :tag) WHERE user_id = :user_id;

-- name: forget :execrows
DELETE FROM user_memories WHERE user_id = :user_id;

-- name: echo_json :scalar
SELECT :value::jsonb;

-- name: tricky :one
-- Text that looks like placeholders but is not, next to a real one.
SELECT ':no' AS s, '100%' AS pct, 5 % 3 AS modulo, (ARRAY[1,2,3])[2:3] AS slice,
       $$ :no $$ AS body, "user_id" AS "col:no", :yes::text AS yes
FROM (SELECT 'x' AS user_id) t; -- :no

-- name: slow :scalar
SELECT pg_sleep(:seconds) IS NOT NULL;

-- name: divide :scalar
-- A read that fails on the server, whichever server runs it.
SELECT 100 / :n::int;
