-- How one Agno 2/3 run is put in its session's row (beyond the plan's DDL; the named
-- statements put_agent_runs and put_team_runs call these for their own table, so that the
-- two tables share one definition):
--
-- * session_with_runs(...): a whole session row's new messages, metadata, state and name
--   when runs are put in it: the conversation cut to its first `keep` messages (NULL: all
--   kept) and `added_messages` appended; the run at `run_position` replaced by `run` (NULL:
--   `added_runs` appended to the runs at {agno,row,memory,runs}); `given_metadata` (the
--   session without its runs), `given_state` and `given_name` in place of the stored ones,
--   the runs and the rest of the stored memory kept. With no `given_metadata`, metadata
--   (runs aside), state and name stay.
-- * run_replaceable(...): whether the run at `run_position` may be replaced: it is `run_id`,
--   its stored fingerprint ($pagbank_fp) differs from the writer's (`fp`), and the writer's
--   copy is none it was `served` (else the writer holds an older state it read: the stored
--   one stays). Always true when runs are appended.
--
-- Both are pure functions of their arguments. Every statement can run again (OR REPLACE);
-- one transaction. No table is touched.

CREATE OR REPLACE FUNCTION session_with_runs(
    stored_messages JSONB, stored_metadata JSONB, stored_state JSONB, stored_name TEXT,
    keep INTEGER, added_messages JSONB, given_metadata JSONB, given_state JSONB,
    given_name TEXT, run_position INTEGER, run JSONB, added_runs JSONB,
    OUT messages JSONB, OUT metadata JSONB, OUT state JSONB, OUT name TEXT)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
               WHEN keep IS NULL THEN stored_messages
               WHEN keep = 0 THEN '[]'::jsonb
               ELSE jsonb_path_query_array(stored_messages, '$[0 to $last]',
                                           jsonb_build_object('last', keep - 1))
           END || added_messages,
           jsonb_set(coalesce(given_metadata, stored_metadata), '{agno,row,memory}',
               jsonb_set(stored_metadata #> '{agno,row,memory}', '{runs}', CASE
                   WHEN run_position IS NULL
                       THEN (stored_metadata #> '{agno,row,memory,runs}') || added_runs
                   ELSE jsonb_set(stored_metadata #> '{agno,row,memory,runs}',
                                  ARRAY[run_position::text], run)
               END)),
           coalesce(given_state, stored_state),
           CASE WHEN given_metadata IS NULL THEN stored_name ELSE given_name END
$$;

COMMENT ON FUNCTION session_with_runs(JSONB, JSONB, JSONB, TEXT, INTEGER, JSONB, JSONB, JSONB,
                                      TEXT, INTEGER, JSONB, JSONB) IS
    'Agno 2/3: a session row''s new messages, metadata, state and name with runs put in it (migration 0010).';

CREATE OR REPLACE FUNCTION run_replaceable(
    metadata JSONB, run_position INTEGER, run_id TEXT, fp TEXT, served TEXT[])
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE AS $$
    SELECT run_position IS NULL OR (
        metadata #>> ARRAY['agno', 'row', 'memory', 'runs', run_position::text, 'run_id'] = run_id
        AND coalesce(metadata #>> ARRAY['agno', 'row', 'memory', 'runs', run_position::text,
                                        '$pagbank_fp'], '') <> fp
        AND NOT fp = ANY(coalesce(served, '{}')))
$$;

COMMENT ON FUNCTION run_replaceable(JSONB, INTEGER, TEXT, TEXT, TEXT[]) IS
    'Agno 2/3: whether a stored run may take a writer''s copy (not a stale one it was served; migration 0010).';
