-- transactional: false
-- The identity of an interaction pattern (beyond the plan's DDL, which gives none):
-- its pattern_type plus the md5 of its pattern_data as jsonb text. jsonb text is canonical
-- (keys sorted, no insignificant white space), so equal JSON values always hash alike, and
-- the hash keeps the key small whatever the size of the data (a btree entry of the whole
-- JSON would fail past about 2.7 kB). record_pattern relies on this unique index for its
-- atomic INSERT … ON CONFLICT; it also serves look-ups of one pattern.
--
-- Built CONCURRENTLY, so that it can be added to a live table; an interrupted build leaves an
-- INVALID index that the first statement drops, so a re-run always ends with a valid one.
-- On a table that already holds duplicates the build fails: merge them first.

DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid AND c.relname = 'idx_patterns_identity'
          AND c.relnamespace = current_schema()::regnamespace
    ) THEN
        DROP INDEX idx_patterns_identity;
    END IF;
END
$$;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_patterns_identity
    ON interaction_patterns (pattern_type, md5(pattern_data::text));
