-- Undo 0002: drop the plan's secondary indexes, CONCURRENTLY (this rollback
-- runs outside a transaction, like its migration), so the tables stay
-- writable while it runs. Statements stand in the reverse order of 0002's, as
-- yoyo pairs them from the end; the last pairs with 0002's clean-up of
-- interrupted builds and has nothing to undo.

DROP INDEX CONCURRENTLY IF EXISTS idx_escalation_created;
DROP INDEX CONCURRENTLY IF EXISTS idx_escalation_user;
DROP INDEX CONCURRENTLY IF EXISTS idx_escalation_session;
DROP INDEX CONCURRENTLY IF EXISTS idx_patterns_count;
DROP INDEX CONCURRENTLY IF EXISTS idx_patterns_type;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_sessions_active;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_sessions_user;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_memories_tags;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_memories_created;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_memories_user;
DROP INDEX CONCURRENTLY IF EXISTS idx_agent_sessions_unit;
DROP INDEX CONCURRENTLY IF EXISTS idx_agent_sessions_agent;
DROP INDEX CONCURRENTLY IF EXISTS idx_agent_sessions_user;
DROP INDEX CONCURRENTLY IF EXISTS idx_team_sessions_created;
DROP INDEX CONCURRENTLY IF EXISTS idx_team_sessions_team;
DROP INDEX CONCURRENTLY IF EXISTS idx_team_sessions_user;

DO $$ BEGIN END $$;
