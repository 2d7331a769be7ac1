-- transactional: false
-- Memory search that understands words (beyond the plan's DDL): the named statement
-- search_memories finds what Agno's ILIKE '%…%' finds, ignoring case and accents, and the word
-- forms Portuguese full-text search matches ("limites" finds "limite", "creditos" finds
-- "crédito"), both through an index:
--
-- * the extensions unaccent and pg_trgm (PostgreSQL contrib, trusted: a login with CREATE on
--   the database may create them; else a superuser creates them once, and this migration
--   then uses them). When they cannot be created, the migration stops with an error naming
--   the statements to run.
-- * pagbank_portuguese: the text search configuration portuguese with accents removed
--   before stemming; idx_user_memories_memory_words, a GIN index of the memory's words.
-- * search_folded(text): lower-cased, accents removed (unaccent is STABLE, so an index needs
--   this IMMUTABLE wrapper; its body is bound at creation, whatever the search_path);
--   idx_user_memories_memory_trgm, a pg_trgm GIN index of the folded memory for substrings.
-- * memory_search_order: the orders search_memories knows, so an unknown one is an error.
--
-- Run outside a transaction so that the indexes are built CONCURRENTLY (the table stays
-- writable). Every statement can run again: an extension or configuration already there is
-- kept, the function is CREATE OR REPLACE, and an index an interrupted build left INVALID is
-- dropped first. An extension this migration created is marked so in its comment; the
-- rollback drops only those (and keeps one that other objects came to use).

DO $$
BEGIN
    CREATE EXTENSION unaccent;
    COMMENT ON EXTENSION unaccent IS
        'text search dictionary that removes accents (created by migration 0009.create-memory-search: its rollback drops it)';
EXCEPTION
    WHEN duplicate_object THEN NULL;  -- there already (created by a DBA, or a re-run): kept
    WHEN insufficient_privilege OR undefined_file THEN
        RAISE EXCEPTION 'migration 0009.create-memory-search cannot create the extension unaccent in database %: %',
            current_database(), SQLERRM
            USING ERRCODE = SQLSTATE,
                  HINT = format('A superuser runs, in database %s: CREATE EXTENSION unaccent; '
                                'CREATE EXTENSION pg_trgm; (on Debian, both come with postgresql-contrib '
                                'or the server package), or grants CREATE ON DATABASE %s to %s; then run '
                                'pagbank-pg migrate again.', current_database(), current_database(),
                                current_user);
END
$$;

DO $$
BEGIN
    CREATE EXTENSION pg_trgm;
    COMMENT ON EXTENSION pg_trgm IS
        'text similarity measurement and index searching based on trigrams (created by migration 0009.create-memory-search: its rollback drops it)';
EXCEPTION
    WHEN duplicate_object THEN NULL;
    WHEN insufficient_privilege OR undefined_file THEN
        RAISE EXCEPTION 'migration 0009.create-memory-search cannot create the extension pg_trgm in database %: %',
            current_database(), SQLERRM
            USING ERRCODE = SQLSTATE,
                  HINT = format('A superuser runs, in database %s: CREATE EXTENSION pg_trgm; '
                                'or grants CREATE ON DATABASE %s to %s; then run pagbank-pg migrate again.',
                                current_database(), current_database(), current_user);
END
$$;

DO $$
BEGIN
    CREATE TEXT SEARCH CONFIGURATION pagbank_portuguese (COPY = portuguese);
    ALTER TEXT SEARCH CONFIGURATION pagbank_portuguese
        ALTER MAPPING FOR hword, hword_part, word WITH unaccent, portuguese_stem;
    COMMENT ON TEXT SEARCH CONFIGURATION pagbank_portuguese IS
        'portuguese with accents removed before stemming: "crédito" and "creditos" share a lexeme. '
        'Indexed for user_memories.memory by idx_user_memories_memory_words.';
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- a re-run: made already
END
$$;

CREATE OR REPLACE FUNCTION search_folded(value TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN lower(unaccent('unaccent'::regdictionary, value));

COMMENT ON FUNCTION search_folded(TEXT) IS
    'The text lower-cased, accents removed (IMMUTABLE, for idx_user_memories_memory_trgm): '
    'search_folded(memory) LIKE ''%cartao%'' finds "Cartão".';

DO $$
BEGIN
    CREATE TYPE memory_search_order AS ENUM
        ('relevance', 'created_at', 'updated_at', 'memory', 'user_id');
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

DO $$
DECLARE
    leftover regclass;
BEGIN
    FOR leftover IN
        SELECT i.indexrelid::regclass
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid
          AND c.relnamespace = current_schema()::regnamespace
          AND c.relname IN ('idx_user_memories_memory_words', 'idx_user_memories_memory_trgm')
    LOOP
        EXECUTE format('DROP INDEX %s', leftover);
    END LOOP;
END
$$;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_memory_words
    ON user_memories USING GIN (to_tsvector('pagbank_portuguese', memory));

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_memory_trgm
    ON user_memories USING GIN (search_folded(memory) gin_trgm_ops);
