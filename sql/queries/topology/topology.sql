-- Where a connection stands in the topology: behind a pooler or not, how far a server has
-- come (read routing, read-your-writes), and what `health` reports of a node and its standbys.

-- name: backend_pid :scalar
-- The server process this connection reaches: another than the pid given at login means a
-- pooler (PgBouncer) stands between.
SELECT pg_backend_pid() AS pid;

-- name: wal_position :scalar primary
-- The primary's WAL position (bytes) after a write, on the connection that made it: a replica
-- serves this client's reads once it has replayed this far.
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint;

-- name: node_state :one
-- A server's role and version, how far it has replayed (bytes; a server that is not a
-- standby: its own position), and its lag in seconds (NULL on a primary): 0 while its WAL
-- receiver runs and it has replayed all it received, else the age of the last transaction it
-- replayed. (pg_stat_wal_receiver shows its row to any login, its details only to some.)
SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END AS role,
       current_setting('server_version') AS version,
       (coalesce(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                      ELSE pg_current_wal_insert_lsn() END, '0/0') - '0/0'::pg_lsn)::bigint
           AS replayed,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN EXISTS (SELECT FROM pg_stat_wal_receiver)
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
                          'Infinity')
       END::float8 AS lag_seconds;

-- name: standbys :many
-- The standbys streaming from this server, and how far behind each has replayed.
SELECT application_name AS name, client_addr::text AS address, state, sync_state,
       extract(epoch FROM replay_lag)::float8 AS lag_seconds
FROM pg_stat_replication ORDER BY application_name;
