-- Undo 0003: drop the resolve-once trigger and its function, and the escalation type check.
-- In the reverse order of 0003's statements, as yoyo pairs them from the end.

DROP TRIGGER IF EXISTS escalation_history_resolve_once ON escalation_history;

DROP FUNCTION IF EXISTS escalation_history_resolve_once();

DO $$ BEGIN END $$;

ALTER TABLE escalation_history DROP CONSTRAINT IF EXISTS escalation_history_type_known;
