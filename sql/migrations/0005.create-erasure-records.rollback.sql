-- Undo 0005: drop the triggers, the functions and the erasure records. Erased users then no
-- longer stay erased: a re-import could bring them back.

DROP TRIGGER IF EXISTS escalation_history_keep_erased_out ON escalation_history;
DROP TRIGGER IF EXISTS user_sessions_keep_erased_out ON user_sessions;
DROP TRIGGER IF EXISTS user_memories_keep_erased_out ON user_memories;
DROP TRIGGER IF EXISTS agent_sessions_keep_erased_out ON agent_sessions;
DROP TRIGGER IF EXISTS team_sessions_keep_erased_out ON team_sessions;
DROP FUNCTION IF EXISTS keep_erased_out();
DROP FUNCTION IF EXISTS is_erased(TEXT, TEXT);
DROP FUNCTION IF EXISTS erased_id_hash(TEXT, TEXT);
DROP TABLE IF EXISTS erased_ids;
DROP TABLE IF EXISTS erasure_key;
