-- Undo 0008: drop the guard triggers and functions. The watermarks keep their hashed
-- anchors (the ids cannot be read back): the next import compares those tables in full, once.

DROP TRIGGER IF EXISTS interaction_patterns_keep_erased_out ON interaction_patterns;
DROP FUNCTION IF EXISTS keep_erased_out_of_patterns();
DROP FUNCTION IF EXISTS personal_key_in(JSONB);
DROP FUNCTION IF EXISTS names_id(JSONB, TEXT);
DROP TRIGGER IF EXISTS escalation_history_before_erasure_guard ON escalation_history;
DROP TRIGGER IF EXISTS user_sessions_before_erasure_guard ON user_sessions;
DROP TRIGGER IF EXISTS user_memories_before_erasure_guard ON user_memories;
DROP TRIGGER IF EXISTS agent_sessions_before_erasure_guard ON agent_sessions;
DROP TRIGGER IF EXISTS team_sessions_before_erasure_guard ON team_sessions;
DROP FUNCTION IF EXISTS before_erasure_guard();
DROP FUNCTION IF EXISTS lock_for_erasure(TEXT);
DROP FUNCTION IF EXISTS erasure_guard(TEXT, TEXT);
DROP FUNCTION IF EXISTS sessions_of_user(TEXT);
