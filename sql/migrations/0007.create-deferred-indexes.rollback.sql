-- Undo 0007: build any index an interrupted import left deferred, then drop the records and
-- the functions.

DO $$
BEGIN
    IF to_regclass('import_deferred_indexes') IS NOT NULL THEN
        PERFORM restore_deferred_indexes();
    END IF;
END
$$;
DROP FUNCTION IF EXISTS restore_deferred_indexes(REGCLASS);
DROP FUNCTION IF EXISTS defer_secondary_indexes(REGCLASS);
DROP TABLE IF EXISTS import_deferred_indexes;
