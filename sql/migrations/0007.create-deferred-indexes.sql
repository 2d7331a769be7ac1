-- The secondary indexes a first import builds after its load, as pg_restore does (beyond the
-- plan's DDL): loading into an empty table without them, then building each in one pass, is
-- about a tenth faster than keeping them up to date row by row. Crash-safe: an index is
-- recorded here in the same transaction that drops it, and dropped from here in the one that
-- builds it again, so a killed import leaves its definition behind; the next import-sqlite
-- or migrate builds it (and `status` names it meanwhile).
--
-- defer_secondary_indexes(t) drops the secondary indexes of an empty table (not unique, not
-- primary, backing no constraint), recording each, and returns their names (none when the
-- table holds rows, or the login may not drop them: then the import keeps them);
-- restore_deferred_indexes(t) builds the recorded indexes of a table (NULL: of every table),
-- forgets them, and returns their names.
--
-- Re-runnable (IF NOT EXISTS, CREATE OR REPLACE); a new table and two functions only.

CREATE TABLE IF NOT EXISTS import_deferred_indexes (
    index_name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    definition TEXT NOT NULL,
    deferred_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

CREATE OR REPLACE FUNCTION defer_secondary_indexes(target REGCLASS) RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    found RECORD;
    has_rows BOOLEAN;
BEGIN
    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = target), 'USAGE')
       OR NOT has_table_privilege('import_deferred_indexes', 'INSERT') THEN
        RETURN;  -- a login that may not drop them (not the table's owner) keeps them
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM %s)', target) INTO has_rows;
    IF has_rows THEN
        RETURN;  -- only an empty table is loaded faster without them
    END IF;
    FOR found IN
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i
        WHERE i.indrelid = target AND NOT i.indisunique AND NOT i.indisprimary
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
    LOOP
        INSERT INTO import_deferred_indexes (index_name, table_name, definition)
        VALUES (found.name, target::text, found.definition);
        EXECUTE format('DROP INDEX %s', found.name);
        RETURN NEXT found.name;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION restore_deferred_indexes(target REGCLASS DEFAULT NULL)
RETURNS SETOF TEXT LANGUAGE plpgsql AS $$
DECLARE
    found RECORD;
BEGIN
    IF NOT EXISTS (SELECT FROM import_deferred_indexes
                   WHERE target IS NULL OR table_name = target::text) THEN
        RETURN;  -- nothing deferred: no privilege needed beyond reading
    END IF;
    FOR found IN
        DELETE FROM import_deferred_indexes
        WHERE target IS NULL OR table_name = target::text
        RETURNING index_name, definition
    LOOP
        EXECUTE replace(found.definition, 'CREATE INDEX ', 'CREATE INDEX IF NOT EXISTS ');
        RETURN NEXT found.index_name;
    END LOOP;
END
$$;
