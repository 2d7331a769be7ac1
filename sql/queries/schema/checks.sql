-- Statements that check the state of the schema before work starts (the Agno storage, the
-- import, export and verify).

-- name: table_exists :scalar
-- Whether a table of the plan exists (the schema is migrated).
SELECT to_regclass(:table_name) IS NOT NULL AS present;

-- name: restore_indexes :many primary
-- Build the indexes deferred on a table (NULL: on every table: what a killed import left),
-- in one transaction, and forget them; nothing while another session's import holds the
-- import's lock (lock_import): those are its own, built when it ends.
SELECT restore_deferred_indexes(:table_name::regclass) AS index_name
WHERE pg_try_advisory_xact_lock(1768779892, 0);

-- name: import_running :scalar
-- Whether an import holds the import's lock on this database (lock_import).
SELECT EXISTS (SELECT FROM pg_locks
               WHERE locktype = 'advisory' AND classid = 1768779892 AND objid = 0
                 AND objsubid = 2 AND granted AND pid <> pg_backend_pid()) AS running;

-- name: deferred_indexes :many
-- The indexes an interrupted import left deferred (`status` shows them; none once
-- an import has completed).
SELECT index_name, table_name, deferred_at FROM import_deferred_indexes ORDER BY index_name;
