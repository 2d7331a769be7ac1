-- LGPD erasure that blocks no other customer, and reaches interaction_patterns (beyond the
-- plan's DDL; 0005 holds the erasure records and keep_erased_out):
--
-- * erasure_guard(user_id, session_id): every writer takes a shared transaction-scoped
--   advisory lock per user id and per session id of the row it writes (before_erasure_guard
--   triggers, fired before 0005's keep_erased_out: triggers fire in name order), and
--   forget-user takes the same keys exclusively (lock_for_erasure). An erasure therefore
--   waits only for the writers of that user and of its sessions, and only they wait for it;
--   the erased check (keep_erased_out) runs after the lock, so erasure wins every race. A bulk
--   writer (the importer sets `pagbank_pg.bulk_writer`; any transaction past 32 keys becomes
--   one) takes one shared key instead of thousands (the lock table stays small), and an
--   erasure waits for its transaction in flight. An UPDATE that keeps a row's
--   user and session takes no lock: its row lock already orders it with the erasure's DELETE.
-- * interaction_patterns_keep_erased_out: no erased user id enters user_ids, whoever writes
--   it (an occurrence of erased users only is dropped), no pattern_data naming an erased user
--   is written, and pattern_data holding a personal key (personal_key_in) is refused.
-- * import_watermarks.anchor_key holds a keyed hash of the key (erased_id_hash('anchor', …),
--   hex), not the session or memory id itself; the catch-up only compares it.
--
-- Every statement can run again (OR REPLACE); one transaction. The watermarks' anchors are
-- hashed once (a run again would hash them twice: the next import then compares those tables
-- in full, once). No table of customer data is scanned.

CREATE OR REPLACE FUNCTION sessions_of_user(user_id TEXT) RETURNS SETOF TEXT
LANGUAGE sql STABLE AS $$
    SELECT session_id FROM user_sessions s WHERE s.user_id = sessions_of_user.user_id
    UNION SELECT session_id FROM team_sessions t WHERE t.user_id = sessions_of_user.user_id
    UNION SELECT session_id FROM agent_sessions a WHERE a.user_id = sessions_of_user.user_id
$$;

COMMENT ON FUNCTION sessions_of_user(TEXT) IS
    'LGPD: the session ids that hold rows with this user id (what an erasure also erases).';

CREATE OR REPLACE FUNCTION erasure_guard(user_id TEXT, session_id TEXT) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    mode TEXT := current_setting('pagbank_pg.bulk_writer', true);
    taken INTEGER;
BEGIN
    IF mode = 'held' THEN
        RETURN;  -- this transaction holds the bulk key already
    END IF;
    taken := coalesce(nullif(current_setting('pagbank_pg.guard_keys', true), ''), '0');
    IF mode = 'on' OR taken >= 32 THEN  -- a bulk writer: one key for the rest of it
        PERFORM pg_advisory_xact_lock_shared(1162035539, 0);
        PERFORM set_config('pagbank_pg.bulk_writer', 'held', true);
        RETURN;
    END IF;
    PERFORM set_config('pagbank_pg.guard_keys', (taken + 2)::text, true);
    IF user_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared(1162035539, hashtext('user:' || user_id));
    END IF;
    IF session_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared(1162035539, hashtext('session:' || session_id));
    END IF;
END
$$;

COMMENT ON FUNCTION erasure_guard(TEXT, TEXT) IS
    'LGPD: a writer''s shared lock on a user and a session (until its transaction ends), which an erasure of either takes exclusively.';

CREATE OR REPLACE FUNCTION lock_for_erasure(erased_user TEXT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    session TEXT;
    sessions INTEGER := 0;
BEGIN
    -- The Agno storage's own session locks first (lock_agno_session: its writers take them
    -- before the guard), so that its erased check after that lock sees the erasure.
    FOR session IN SELECT s FROM sessions_of_user(erased_user) s ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1634625391, hashtext('agent:' || session));
        PERFORM pg_advisory_xact_lock(1634625391, hashtext('team:' || session));
    END LOOP;
    PERFORM pg_advisory_xact_lock(1162035539, hashtext('user:' || erased_user));
    -- With the user's writers held, its sessions are all known now.
    FOR session IN SELECT s FROM sessions_of_user(erased_user) s ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1162035539, hashtext('session:' || session));
        sessions := sessions + 1;
    END LOOP;
    PERFORM pg_advisory_xact_lock(1162035539, 0);  -- a bulk writer's batch in flight
    RETURN sessions;
END
$$;

COMMENT ON FUNCTION lock_for_erasure(TEXT) IS
    'LGPD: wait for the writers of a user and of its sessions, and hold new ones until the transaction ends; returns how many sessions.';

CREATE OR REPLACE FUNCTION before_erasure_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('pagbank_pg.bulk_writer', true) = 'held' THEN
        RETURN NEW;  -- a bulk writer holding its key (the fast path of an import)
    END IF;
    IF TG_ARGV[0] = 'no session' THEN  -- user_memories: rows of a user, not of a session
        IF TG_OP = 'INSERT' OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
            PERFORM erasure_guard(NEW.user_id, NULL);
        END IF;
    ELSIF TG_OP = 'INSERT'
          OR (NEW.user_id, NEW.session_id) IS DISTINCT FROM (OLD.user_id, OLD.session_id) THEN
        PERFORM erasure_guard(NEW.user_id, NEW.session_id);
    END IF;
    RETURN NEW;  -- keep_erased_out, fired next, checks the erasure records under the lock
END
$$;

CREATE OR REPLACE TRIGGER team_sessions_before_erasure_guard
    BEFORE INSERT OR UPDATE ON team_sessions
    FOR EACH ROW EXECUTE FUNCTION before_erasure_guard();

CREATE OR REPLACE TRIGGER agent_sessions_before_erasure_guard
    BEFORE INSERT OR UPDATE ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION before_erasure_guard();

CREATE OR REPLACE TRIGGER user_memories_before_erasure_guard
    BEFORE INSERT OR UPDATE ON user_memories
    FOR EACH ROW EXECUTE FUNCTION before_erasure_guard('no session');

CREATE OR REPLACE TRIGGER user_sessions_before_erasure_guard
    BEFORE INSERT OR UPDATE ON user_sessions
    FOR EACH ROW EXECUTE FUNCTION before_erasure_guard();

CREATE OR REPLACE TRIGGER escalation_history_before_erasure_guard
    BEFORE INSERT OR UPDATE ON escalation_history
    FOR EACH ROW EXECUTE FUNCTION before_erasure_guard();

CREATE OR REPLACE FUNCTION names_id(data JSONB, id TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_path_exists(data, 'strict $.** ? (@ == $id)', jsonb_build_object('id', id))
$$;

COMMENT ON FUNCTION names_id(JSONB, TEXT) IS
    'LGPD: whether a JSON value holds this id as a string anywhere (a pattern that names a user).';

CREATE OR REPLACE FUNCTION personal_key_in(data JSONB) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT k #>> '{}'
    FROM jsonb_path_query(data, 'strict $.** ? (@.type() == "object").keyvalue().key') k
    WHERE lower(k #>> '{}') IN (
        'user_id', 'userid', 'session_id', 'sessionid', 'customer_id', 'cpf', 'cnpj', 'rg',
        'email', 'e_mail', 'phone', 'telefone', 'celular', 'whatsapp', 'nome', 'full_name',
        'nome_completo', 'endereco', 'address', 'cep', 'conta', 'account', 'account_number',
        'agencia', 'cartao', 'card_number', 'pix_key', 'chave_pix', 'birth_date',
        'data_nascimento', 'ip', 'password', 'senha')
    LIMIT 1
$$;

COMMENT ON FUNCTION personal_key_in(JSONB) IS
    'LGPD: the first key of a JSON value (at any depth) that names personal data, or NULL: what interaction_patterns.pattern_data may not hold.';

CREATE OR REPLACE FUNCTION keep_erased_out_of_patterns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    added TEXT[];
    erased TEXT[];
    personal TEXT;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.pattern_data IS DISTINCT FROM OLD.pattern_data THEN
        personal := personal_key_in(NEW.pattern_data);
        IF personal IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('pattern_data of a %s pattern holds the personal key %L',
                                 NEW.pattern_type, personal),
                HINT = 'a pattern describes behaviour, not a customer: leave ids and personal '
                       'data out of pattern_data (docs/lgpd.md)';
        END IF;
    END IF;
    added := CASE WHEN TG_OP = 'INSERT' THEN coalesce(NEW.user_ids, '{}')
                  ELSE ARRAY(SELECT unnest(NEW.user_ids)
                             EXCEPT SELECT unnest(OLD.user_ids)) END;
    PERFORM erasure_guard(u, NULL) FROM unnest(added) u;
    IF NOT EXISTS (SELECT FROM erased_ids) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND EXISTS (
        SELECT FROM jsonb_path_query(NEW.pattern_data, 'strict $.** ? (@.type() == "string")') v
        WHERE is_erased(v #>> '{}', NULL)) THEN
        RETURN NULL;  -- it names an erased user
    END IF;
    erased := ARRAY(SELECT u FROM unnest(added) u WHERE is_erased(u, NULL));
    IF erased = '{}' THEN
        RETURN NEW;
    ELSIF erased @> added THEN
        RETURN NULL;  -- an occurrence of erased users only: dropped
    END IF;
    NEW.user_ids := ARRAY(SELECT u FROM unnest(NEW.user_ids) WITH ORDINALITY AS x (u, n)
                          WHERE u <> ALL (erased) ORDER BY n);
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER interaction_patterns_keep_erased_out
    BEFORE INSERT OR UPDATE ON interaction_patterns
    FOR EACH ROW EXECUTE FUNCTION keep_erased_out_of_patterns();

UPDATE import_watermarks SET anchor_key = encode(erased_id_hash('anchor', anchor_key), 'hex')
WHERE anchor_key IS NOT NULL;
