-- Statements that check the state of the schema before work starts (the Agno storage, the
-- import, export and verify).

-- name: table_exists :scalar
-- Whether a table of the plan exists (the schema is migrated).
SELECT to_regclass(:table_name) IS NOT NULL AS present;

-- name: restore_indexes :many primary
-- Build the indexes deferred on a table (NULL: on every table: what a killed import left),
-- in one transaction, and forget them.
SELECT restore_deferred_indexes(:table_name::regclass) AS index_name;

-- name: deferred_indexes :many
-- The indexes an interrupted import left deferred (`status` shows them; none once
-- an import has completed).
SELECT index_name, table_name, deferred_at FROM import_deferred_indexes ORDER BY index_name;
