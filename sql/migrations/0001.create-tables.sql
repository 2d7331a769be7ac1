-- Create the six tables of the PostgreSQL migration plan
-- (shared spec: postgres-migration-plan.md, "Tables Structure").
--
-- Columns, types, lengths, defaults, NOT NULL, primary keys and UNIQUE
-- constraints are exactly the plan's DDL; nothing is added here. The plan's
-- secondary indexes come in 0002, built CONCURRENTLY so that they can also be
-- (re)built on live tables.
--
-- Every statement is idempotent (IF NOT EXISTS; COMMENT ON overwrites): yoyo
-- commits a migration's statements and records it as applied in two separate
-- transactions, so a process killed between the two must be able to apply
-- this migration again without error.
-- gen_random_uuid() is built into PostgreSQL 13 and later.

CREATE TABLE IF NOT EXISTS team_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id VARCHAR(255) NOT NULL,
    team_id VARCHAR(255) NOT NULL,
    team_name VARCHAR(255),
    user_id VARCHAR(255),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    messages JSONB DEFAULT '[]'::jsonb,
    team_session_state JSONB DEFAULT '{}'::jsonb,
    metadata JSONB DEFAULT '{}'::jsonb,
    UNIQUE (session_id, team_id)
);

COMMENT ON TABLE team_sessions IS
    'Conversations of the routing team (Agno team mode), one row per (session_id, team_id).';
COMMENT ON COLUMN team_sessions.messages IS
    'The conversation: messages of all runs in order, without from_history copies, system prompt once.';
COMMENT ON COLUMN team_sessions.team_session_state IS
    'Agno session_data.team_session_state / session_state of the team.';
COMMENT ON COLUMN team_sessions.metadata IS
    'Everything of the Agno row that has no column of its own (compact, never the conversation twice).';

CREATE TABLE IF NOT EXISTS agent_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id VARCHAR(255) NOT NULL,
    agent_id VARCHAR(255) NOT NULL,
    agent_name VARCHAR(255),
    user_id VARCHAR(255),
    business_unit VARCHAR(50),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    messages JSONB DEFAULT '[]'::jsonb,
    agent_session_state JSONB DEFAULT '{}'::jsonb,
    metadata JSONB DEFAULT '{}'::jsonb,
    UNIQUE (session_id, agent_id)
);

COMMENT ON TABLE agent_sessions IS
    'Conversations of specialist agents, one row per (session_id, agent_id): route-mode specialists of one team session do not overwrite each other.';
COMMENT ON COLUMN agent_sessions.business_unit IS
    'PagBank business unit served by the agent (for example cartoes, conta_digital, investimentos).';
COMMENT ON COLUMN agent_sessions.messages IS
    'The conversation: messages of the agent''s runs in order, without from_history copies, system prompt once.';
COMMENT ON COLUMN agent_sessions.metadata IS
    'Everything of the Agno row that has no column of its own (compact, never the conversation twice).';

CREATE TABLE IF NOT EXISTS user_memories (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id VARCHAR(255) NOT NULL,
    memory TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    metadata JSONB DEFAULT '{}'::jsonb,
    memory_tags TEXT[],
    business_units TEXT[],
    importance_score FLOAT DEFAULT 0.5
);

COMMENT ON TABLE user_memories IS
    'User memories (Agno memory v2 compatible); id is the Agno memory_id.';
COMMENT ON COLUMN user_memories.memory_tags IS
    'Agno memory topics; searched with the GIN index (&& any of, @> all of).';
COMMENT ON COLUMN user_memories.importance_score IS
    'Relevance weight from 0 to 1, higher is more important; 0.5 when unknown.';

CREATE TABLE IF NOT EXISTS user_sessions (
    session_id VARCHAR(255) PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    team_id VARCHAR(255),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_activity TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    interaction_count INTEGER DEFAULT 0,
    session_context JSONB DEFAULT '{}'::jsonb,
    is_active BOOLEAN DEFAULT TRUE,
    metadata JSONB DEFAULT '{}'::jsonb
);

COMMENT ON TABLE user_sessions IS
    'PagBank session manager: one row per customer session, expired after a period of inactivity.';
COMMENT ON COLUMN user_sessions.session_context IS
    'Merged context of the session (team_id, last_query, last_response, pattern_insights, ...).';
COMMENT ON COLUMN user_sessions.is_active IS
    'False once the session was deactivated or expired for inactivity.';

CREATE TABLE IF NOT EXISTS interaction_patterns (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    pattern_type VARCHAR(100) NOT NULL,
    pattern_data JSONB NOT NULL,
    occurrence_count INTEGER DEFAULT 1,
    first_seen TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_seen TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    user_ids TEXT[],
    business_units TEXT[],
    metadata JSONB DEFAULT '{}'::jsonb
);

COMMENT ON TABLE interaction_patterns IS
    'Interaction patterns detected across users, counted by occurrence.';
COMMENT ON COLUMN interaction_patterns.user_ids IS
    'Users in whom the pattern was seen, each once.';
COMMENT ON COLUMN interaction_patterns.business_units IS
    'Business units in which the pattern was seen, each once.';

CREATE TABLE IF NOT EXISTS escalation_history (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id VARCHAR(255) UNIQUE NOT NULL,
    session_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    escalation_reason VARCHAR(255),
    escalation_type VARCHAR(50),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    resolved_at TIMESTAMP WITH TIME ZONE,
    resolution_notes TEXT,
    whatsapp_notification_sent BOOLEAN DEFAULT FALSE,
    conversation_context JSONB,
    metadata JSONB DEFAULT '{}'::jsonb
);

COMMENT ON TABLE escalation_history IS
    'Hand-offs of a customer to a human agent, one row per ticket.';
COMMENT ON COLUMN escalation_history.escalation_type IS
    'One of explicit_request, frustration_language, caps_lock_yelling.';
COMMENT ON COLUMN escalation_history.resolved_at IS
    'NULL while the escalation is open.';
COMMENT ON COLUMN escalation_history.conversation_context IS
    'The conversation excerpt handed to the human agent.';
