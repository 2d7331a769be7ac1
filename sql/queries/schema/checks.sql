-- Statements that check the state of the schema before work starts (the Agno storage, the
-- import, export and verify).

-- name: table_exists :scalar
-- Whether a table of the plan exists (the schema is migrated).
SELECT to_regclass(:table_name) IS NOT NULL AS present;
