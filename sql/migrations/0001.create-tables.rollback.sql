-- Undo 0001: drop the six tables (their constraints, comments and any index
-- left on them go with them). Destroys all data in them.
-- In the reverse order of creation.

DROP TABLE IF EXISTS escalation_history;
DROP TABLE IF EXISTS interaction_patterns;
DROP TABLE IF EXISTS user_sessions;
DROP TABLE IF EXISTS user_memories;
DROP TABLE IF EXISTS agent_sessions;
DROP TABLE IF EXISTS team_sessions;
