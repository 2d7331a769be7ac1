-- transactional: false
-- Create the plan's secondary indexes (postgres-migration-plan.md), the GIN
-- index on user_memories.memory_tags included.
--
-- They are built CONCURRENTLY, outside a transaction, so that a DBA can apply
-- this migration to tables that already hold data (a bulk import, or tables
-- that the app is writing) without blocking writes. Names are the plan's:
-- idx_<table>_<column>, with "patterns" and "escalation" short for their tables.
--
-- A concurrent build that was interrupted (the process killed, the server
-- restarted) leaves an INVALID index behind, which IF NOT EXISTS would then
-- skip for good. The first statement drops such leftovers, so that running
-- this migration again always ends with every index valid.

DO $$
DECLARE
    leftover regclass;
BEGIN
    FOR leftover IN
        SELECT i.indexrelid::regclass
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid
          AND c.relnamespace = current_schema()::regnamespace
          AND c.relname IN (
              'idx_team_sessions_user', 'idx_team_sessions_team', 'idx_team_sessions_created',
              'idx_agent_sessions_user', 'idx_agent_sessions_agent', 'idx_agent_sessions_unit',
              'idx_user_memories_user', 'idx_user_memories_created', 'idx_user_memories_tags',
              'idx_user_sessions_user', 'idx_user_sessions_active',
              'idx_patterns_type', 'idx_patterns_count',
              'idx_escalation_session', 'idx_escalation_user', 'idx_escalation_created')
    LOOP
        EXECUTE format('DROP INDEX %s', leftover);
    END LOOP;
END
$$;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_team_sessions_user ON team_sessions (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_team_sessions_team ON team_sessions (team_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_team_sessions_created ON team_sessions (created_at);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_agent_sessions_user ON agent_sessions (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_agent_sessions_agent ON agent_sessions (agent_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_agent_sessions_unit ON agent_sessions (business_unit);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_user ON user_memories (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_created ON user_memories (created_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_memories_tags ON user_memories USING GIN (memory_tags);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_sessions_user ON user_sessions (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_sessions_active ON user_sessions (is_active, last_activity);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_patterns_type ON interaction_patterns (pattern_type);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_patterns_count ON interaction_patterns (occurrence_count DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_escalation_session ON escalation_history (session_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_escalation_user ON escalation_history (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_escalation_created ON escalation_history (created_at);
