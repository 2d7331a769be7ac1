-- A statement of the :copy kind, for the query layer's tests.

-- name: copy_memories :copy
-- COPY's text format: id, user_id, memory.
COPY user_memories (id, user_id, memory) FROM STDIN;
