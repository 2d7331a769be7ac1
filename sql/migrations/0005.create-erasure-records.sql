-- What LGPD erasure leaves behind so that an erased user stays erased (beyond the plan's DDL):
--
-- * erased_ids: one row per erased user id and per session id of an erased user, as a keyed
--   SHA-256 hash (the key, in erasure_key, is random per database), so the table holds no
--   readable id. forget-user writes it before it deletes anything.
-- * keep_erased_out(), a BEFORE INSERT OR UPDATE trigger on the five tables that hold a
--   user's rows: a row of an erased user or of an erased session is dropped silently, whoever
--   writes it (a re-import of the old SQLite files, a dual write, an app replica in flight).
--   An erased user id stays erased: a customer served again after an erasure needs a new
--   user id (or a DBA lifts the erasure: DELETE FROM erased_ids WHERE id_hash =
--   erased_id_hash('user', 'the-id')).
--
-- Every statement can run again (IF NOT EXISTS, OR REPLACE, ON CONFLICT DO NOTHING): yoyo
-- commits a migration and records it in separate steps. New tables and triggers only: no
-- table is scanned.

CREATE TABLE IF NOT EXISTS erasure_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    secret BYTEA NOT NULL
);

INSERT INTO erasure_key (secret)
VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS erased_ids (
    id_hash BYTEA PRIMARY KEY,
    kind VARCHAR(10) NOT NULL CHECK (kind IN ('user', 'session')),
    erased_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

COMMENT ON TABLE erased_ids IS
    'LGPD: users and sessions erased by forget-user, as keyed hashes (erased_id_hash); their rows are kept out of the six tables.';

CREATE OR REPLACE FUNCTION erased_id_hash(kind TEXT, id TEXT) RETURNS BYTEA
LANGUAGE sql STABLE AS $$
    SELECT sha256(secret || convert_to(kind || ':' || id, 'UTF8')) FROM erasure_key
$$;

CREATE OR REPLACE FUNCTION is_erased(user_id TEXT, session_id TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT FROM erased_ids
                   WHERE id_hash IN (erased_id_hash('user', user_id),
                                     erased_id_hash('session', session_id)))
$$;

COMMENT ON FUNCTION is_erased(TEXT, TEXT) IS
    'Whether a row of this user or session (either may be NULL) belongs to an erasure.';

CREATE OR REPLACE FUNCTION keep_erased_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM erased_ids) THEN
        RETURN NEW;
    END IF;
    IF TG_ARGV[0] = 'no session' THEN  -- user_memories: rows of a user, not of a session
        IF is_erased(NEW.user_id, NULL) THEN
            RETURN NULL;  -- dropped: the user asked to be forgotten
        END IF;
    ELSIF is_erased(NEW.user_id, NEW.session_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER team_sessions_keep_erased_out
    BEFORE INSERT OR UPDATE ON team_sessions
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out();

CREATE OR REPLACE TRIGGER agent_sessions_keep_erased_out
    BEFORE INSERT OR UPDATE ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out();

CREATE OR REPLACE TRIGGER user_memories_keep_erased_out
    BEFORE INSERT OR UPDATE ON user_memories
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out('no session');

CREATE OR REPLACE TRIGGER user_sessions_keep_erased_out
    BEFORE INSERT OR UPDATE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out();

CREATE OR REPLACE TRIGGER escalation_history_keep_erased_out
    BEFORE INSERT OR UPDATE ON escalation_history
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out();
