-- Undo 0009: drop the search indexes CONCURRENTLY (outside a transaction, like the
-- migration), the order type, the function, the configuration, and each extension the
-- migration created (its comment says so). An extension that was there before, or that
-- other objects now use, is kept, with a notice. Statements stand in the reverse order of
-- 0009's, as yoyo pairs them from the end; the no-ops pair with the clean-up of interrupted
-- builds and the comment.

DROP INDEX CONCURRENTLY IF EXISTS idx_user_memories_memory_trgm;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_memories_memory_words;

DO $$ BEGIN END $$;

DROP TYPE IF EXISTS memory_search_order;

DO $$ BEGIN END $$;

DROP FUNCTION IF EXISTS search_folded(TEXT);

DROP TEXT SEARCH CONFIGURATION IF EXISTS pagbank_portuguese;

DO $$
BEGIN
    IF obj_description((SELECT oid FROM pg_extension WHERE extname = 'pg_trgm'), 'pg_extension')
       LIKE '%created by migration 0009.create-memory-search%' THEN
        DROP EXTENSION pg_trgm;
    END IF;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'extension pg_trgm kept: other objects use it (%)', SQLERRM;
END
$$;

DO $$
BEGIN
    IF obj_description((SELECT oid FROM pg_extension WHERE extname = 'unaccent'), 'pg_extension')
       LIKE '%created by migration 0009.create-memory-search%' THEN
        DROP EXTENSION unaccent;
    END IF;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'extension unaccent kept: other objects use it (%)', SQLERRM;
END
$$;
