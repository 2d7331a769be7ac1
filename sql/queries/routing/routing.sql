-- Where a read may run: the WAL position of a write (read-your-writes), and how far a read
-- replica has come. Run by the database's routing, on the primary and on a replica.

-- name: wal_position :scalar primary
-- The primary's WAL position (bytes) after a write, on the connection that made it: a replica
-- serves this client's reads once it has replayed this far.
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint;

-- name: replica_state :one
-- How far this server has replayed (bytes; a server that is not a standby: its own position)
-- and its lag in seconds: 0 when it streams and has replayed all it received, else the age of
-- the last transaction it replayed.
SELECT (coalesce(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                      ELSE pg_current_wal_insert_lsn() END, '0/0') - '0/0'::pg_lsn)::bigint AS replayed,
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN (SELECT status FROM pg_stat_wal_receiver) = 'streaming'
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
                          'Infinity')
       END::float8 AS lag_seconds;
