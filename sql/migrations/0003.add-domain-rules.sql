-- Rules of the app's operations that the plan states in words and the schema now enforces
-- (beyond the plan's DDL, each for the reason given):
--
-- * escalation_history.escalation_type is one of the three kinds the plan lists
--   ('explicit_request', 'frustration_language', 'caps_lock_yelling'). NULL stays allowed,
--   as in the plan's column. Added NOT VALID then validated, so that on a live table the
--   check of existing rows does not block writes.
-- * team_sessions.messages and agent_sessions.messages are JSON arrays (the conversation):
--   appending to anything else would corrupt it. NULL stays allowed, as in the plan.
-- * An escalation is resolved once: resolving it again raises an error instead of silently
--   overwriting resolved_at and the notes (trigger escalation_history_resolve_once,
--   SQLSTATE 55000, object_not_in_prerequisite_state).
--
-- Every statement can run again: yoyo commits a migration and records it in separate steps,
-- and a migrate killed between the two runs it again (the constraints are added in blocks
-- that pass over one already there, the trigger is CREATE OR REPLACE). Edited in place, not
-- superseded: a database that recorded 0003 never runs it again, the schema it makes is the
-- same, and a new migration could not help one that fails before it.

DO $$
BEGIN
    ALTER TABLE escalation_history
        ADD CONSTRAINT escalation_history_type_known
        CHECK (escalation_type IN ('explicit_request', 'frustration_language', 'caps_lock_yelling'))
        NOT VALID;
EXCEPTION WHEN duplicate_object THEN NULL;  -- a re-run: added already
END
$$;

ALTER TABLE escalation_history VALIDATE CONSTRAINT escalation_history_type_known;

DO $$
BEGIN
    ALTER TABLE team_sessions
        ADD CONSTRAINT team_sessions_messages_array CHECK (jsonb_typeof(messages) = 'array')
        NOT VALID;
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

ALTER TABLE team_sessions VALIDATE CONSTRAINT team_sessions_messages_array;

DO $$
BEGIN
    ALTER TABLE agent_sessions
        ADD CONSTRAINT agent_sessions_messages_array CHECK (jsonb_typeof(messages) = 'array')
        NOT VALID;
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

ALTER TABLE agent_sessions VALIDATE CONSTRAINT agent_sessions_messages_array;

CREATE OR REPLACE FUNCTION escalation_history_resolve_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Any write of resolved_at once it is set, even of the same instant: two resolutions
    -- in transactions that started in the same microsecond carry the same now().
    IF OLD.resolved_at IS NOT NULL THEN
        RAISE EXCEPTION 'escalation % is already resolved (at %)', OLD.ticket_id, OLD.resolved_at
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'an escalation is resolved once; open a new ticket instead';
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION escalation_history_resolve_once() IS
    'Trigger function: an escalation''s resolved_at, once set, cannot be written again.';

CREATE OR REPLACE TRIGGER escalation_history_resolve_once
    BEFORE UPDATE OF resolved_at ON escalation_history
    FOR EACH ROW EXECUTE FUNCTION escalation_history_resolve_once();
