-- Undo 0010: drop the run-write functions (put_agent_runs and put_team_runs need them: roll
-- back only with an app that does not write Agno 2/3 runs).

DROP FUNCTION IF EXISTS run_replaceable(JSONB, INTEGER, TEXT, TEXT, TEXT[]);
DROP FUNCTION IF EXISTS session_with_runs(JSONB, JSONB, JSONB, TEXT, INTEGER, JSONB, JSONB, JSONB,
                                          TEXT, INTEGER, JSONB, JSONB);
