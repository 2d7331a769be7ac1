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

ALTER TABLE escalation_history
    ADD CONSTRAINT escalation_history_type_known
    CHECK (escalation_type IN ('explicit_request', 'frustration_language', 'caps_lock_yelling'))
    NOT VALID;

ALTER TABLE escalation_history VALIDATE CONSTRAINT escalation_history_type_known;

ALTER TABLE team_sessions
    ADD CONSTRAINT team_sessions_messages_array CHECK (jsonb_typeof(messages) = 'array')
    NOT VALID;

ALTER TABLE team_sessions VALIDATE CONSTRAINT team_sessions_messages_array;

ALTER TABLE agent_sessions
    ADD CONSTRAINT agent_sessions_messages_array CHECK (jsonb_typeof(messages) = 'array')
    NOT VALID;

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

CREATE TRIGGER escalation_history_resolve_once
    BEFORE UPDATE OF resolved_at ON escalation_history
    FOR EACH ROW EXECUTE FUNCTION escalation_history_resolve_once();
