-- Undo 0003: drop the resolve-once trigger and its function, the messages array checks and
-- the escalation type check. In the reverse order of 0003's statements, as yoyo pairs them
-- from the end; the empty DO blocks pair with statements that need no undoing of their own
-- (COMMENT ON, VALIDATE CONSTRAINT).

DROP TRIGGER IF EXISTS escalation_history_resolve_once ON escalation_history;

DO $$ BEGIN END $$;

DROP FUNCTION IF EXISTS escalation_history_resolve_once();

DO $$ BEGIN END $$;

ALTER TABLE agent_sessions DROP CONSTRAINT IF EXISTS agent_sessions_messages_array;

DO $$ BEGIN END $$;

ALTER TABLE team_sessions DROP CONSTRAINT IF EXISTS team_sessions_messages_array;

DO $$ BEGIN END $$;

ALTER TABLE escalation_history DROP CONSTRAINT IF EXISTS escalation_history_type_known;
