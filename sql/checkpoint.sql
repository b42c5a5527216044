--
-- checkpoint: set_checkpoint, get_checkpoints and get_checkpoint (SPEC 5.1)
-- in a single session.  The per-queue table c_<queue> comes and goes with
-- its queue; steps are saved, overwritten and read back in (updated_at,
-- step_name) order; extend_claim_seconds extends the lease in the same
-- call; a retried run sees (and may overwrite) what attempt 1 saved; only
-- the holder of a live lease writes (pending, completed, failed,
-- cancelled runs and an expired lease are refused); every bad input; a
-- refused call writes nothing; checkpoints go with their task.
--
-- Ids and timestamps are never printed: only comparisons and counts.
--
SELECT durable_tasks.create_queue('ck_q');

--
-- The table: made by create_queue (the layout of the contract)
--
SELECT to_regclass('durable_tasks.c_ck_q') IS NOT NULL AS has_checkpoints;
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
 WHERE a.attrelid = 'durable_tasks.c_ck_q'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attname;
SELECT c.contype, pg_get_constraintdef(c.oid) AS definition
  FROM pg_constraint c
 WHERE c.conrelid = 'durable_tasks.c_ck_q'::regclass
   AND (c.contype = 'p' OR c.confrelid = 'durable_tasks.t_ck_q'::regclass)
 ORDER BY c.contype, definition;

-- A digest of the checkpoints and the runs of ck_q (their leases
-- included): what a refused call must leave alone.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE plpgsql AS $fn$
BEGIN
    RETURN (SELECT count(*) FROM durable_tasks.c_ck_q) || ' checkpoints '
        || md5((SELECT coalesce(string_agg(c::text, ';' ORDER BY c.task_id, c.step_name), '')
                  FROM durable_tasks.c_ck_q c)
               || '|' ||
               (SELECT coalesce(string_agg(r::text, ';' ORDER BY r.run_id), '')
                  FROM durable_tasks.r_ck_q r));
END
$fn$;

-- Like public.err(sql), but a refused call that changed a checkpoint or a
-- run of ck_q says so.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    before text := pg_temp.digest();
    res    text := public.err(sql);
BEGIN
    IF res <> 'ok' AND pg_temp.digest() <> before THEN
        res := res || '  ** WROTE: ' || split_part(before, ' ', 1) || ' -> '
               || split_part(pg_temp.digest(), ' ', 1) || ' checkpoints **';
    END IF;
    RETURN res;
END
$fn$;

--
-- Save and read back several steps
--
SELECT task_id AS t1 FROM durable_tasks.spawn_task('ck_q', 'etl', '{"n": 1}') \gset
SELECT public.claim_one('ck_q', :'t1') AS r1 \gset
-- nothing saved yet: no rows, NULL
SELECT count(*) AS saved FROM durable_tasks.get_checkpoints('ck_q', :'t1');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') IS NULL AS not_saved;
SELECT clock_timestamp() AS c0 \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'fetch', '{"rows": 10}');
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'transform', '[1, 2, 3]');
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'load', '"done"');
-- in the order they were saved, each with this run and attempt 1
SELECT step_name, state, run_id = :'r1' AS this_run, attempt,
       updated_at > :'c0'::timestamptz AND updated_at <= clock_timestamp() AS at_the_call
  FROM durable_tasks.get_checkpoints('ck_q', :'t1');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') AS fetch,
       durable_tasks.get_checkpoint('ck_q', :'t1', 'transform') AS transform,
       durable_tasks.get_checkpoint('ck_q', :'t1', 'load') AS load,
       durable_tasks.get_checkpoint('ck_q', :'t1', 'missing') IS NULL AS missing_is_null;
-- the table holds the same rows, keyed by the task
SELECT step_name, task_id = :'t1' AS this_task, run_id = :'r1' AS this_run, attempt, state
  FROM durable_tasks.c_ck_q ORDER BY step_name;
-- step names are case sensitive, and any text up to 255 bytes
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'Fetch') IS NULL AS other_case_not_saved;
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'Fetch', '{"case": "upper"}');
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'step with spaces / and "quotes"', 'true');
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', repeat('s', 255), '255');
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', repeat('é', 127) || 's', '"255 bytes"');
SELECT octet_length(step_name) AS bytes, state
  FROM durable_tasks.get_checkpoints('ck_q', :'t1')
 WHERE step_name NOT IN ('fetch', 'transform', 'load');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') AS fetch,
       durable_tasks.get_checkpoint('ck_q', :'t1', 'Fetch') AS "Fetch",
       durable_tasks.get_checkpoint('ck_q', :'t1', repeat('s', 255)) AS s255,
       durable_tasks.get_checkpoint('ck_q', :'t1', repeat('é', 127) || 's') AS e255;
-- any JSON value is a state, JSON null included (it is not SQL NULL)
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'json_null', 'null');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'json_null') AS state,
       durable_tasks.get_checkpoint('ck_q', :'t1', 'json_null') IS NULL AS is_sql_null;
SELECT count(*) AS saved FROM durable_tasks.get_checkpoints('ck_q', :'t1');

--
-- Overwrite: the same step again replaces its state and updated_at, and
-- moves it to the end of the order
--
SELECT updated_at AS fetch_at FROM durable_tasks.c_ck_q WHERE task_id = :'t1' AND step_name = 'fetch' \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'r1', 'fetch', '{"rows": 20}');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') AS fetch;
SELECT count(*) AS saved, count(*) FILTER (WHERE step_name = 'fetch') AS fetch_rows
  FROM durable_tasks.get_checkpoints('ck_q', :'t1');
SELECT updated_at > :'fetch_at'::timestamptz AS later, run_id = :'r1' AS this_run, attempt
  FROM durable_tasks.c_ck_q WHERE task_id = :'t1' AND step_name = 'fetch';
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'t1')
 WHERE step_name IN ('fetch', 'transform', 'load');

--
-- Order: by updated_at, then step_name.  updated_at is the clock at the
-- call, so two writes in one transaction are in the order they were made
-- (zeta before alpha); equal times are ordered by step_name.
--
SELECT task_id AS t2 FROM durable_tasks.spawn_task('ck_q', 'order', '{"n": 2}') \gset
SELECT public.claim_one('ck_q', :'t2') AS r2 \gset
BEGIN;
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'zeta', '1');
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'alpha', '2');
COMMIT;
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'mid', '3');
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'t2');
SELECT count(DISTINCT updated_at) AS distinct_times FROM durable_tasks.get_checkpoints('ck_q', :'t2');
-- overwriting zeta moves it last
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'zeta', '4');
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'t2');
-- the tasks' checkpoints are separate: the same step name in two tasks
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'fetch', '{"task": 2}');
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'t2');
-- the same time for every step (by hand): by step_name
UPDATE durable_tasks.c_ck_q SET updated_at = '2001-01-01 00:00:00+00' WHERE task_id = :'t2';
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'t2');
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') AS t1_fetch,
       durable_tasks.get_checkpoint('ck_q', :'t2', 'fetch') AS t2_fetch,
       durable_tasks.get_checkpoint('ck_q', :'t2', 'load') IS NULL AS t2_has_no_load;
SELECT (SELECT count(*) FROM durable_tasks.get_checkpoints('ck_q', :'t1')) AS t1_saved,
       (SELECT count(*) FROM durable_tasks.get_checkpoints('ck_q', :'t2')) AS t2_saved;

--
-- extend_claim_seconds: the lease ends that many seconds after the call;
-- NULL (or left out) leaves it as it was
--
SELECT claim_expires_at AS e0 FROM durable_tasks.r_ck_q WHERE run_id = :'r2' \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'lease', '"default"');
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'lease', '"null"', NULL);
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'lease', '"named null"', extend_claim_seconds => NULL);
SELECT claim_expires_at = :'e0'::timestamptz AS unchanged, state
  FROM durable_tasks.r_ck_q WHERE run_id = :'r2';
SELECT clock_timestamp() AS c0 \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'lease', '"3600"', 3600);
SELECT claim_expires_at >= :'c0'::timestamptz + interval '3600 s'
       AND claim_expires_at <= clock_timestamp() + interval '3600 s' AS extended_3600,
       state
  FROM durable_tasks.r_ck_q WHERE run_id = :'r2';
SELECT clock_timestamp() AS c0 \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'r2', 'lease', '"86400"', extend_claim_seconds => 86400);
SELECT claim_expires_at >= :'c0'::timestamptz + interval '86400 s'
       AND claim_expires_at <= clock_timestamp() + interval '86400 s' AS extended_86400
  FROM durable_tasks.r_ck_q WHERE run_id = :'r2';
-- the write itself was made
SELECT durable_tasks.get_checkpoint('ck_q', :'t2', 'lease') AS lease;
-- out of range: refused, the lease and the checkpoints unchanged
SELECT claim_expires_at AS e1 FROM durable_tasks.r_ck_q WHERE run_id = :'r2' \gset
SELECT v.seconds, pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, %s)',
                                     'ck_q', :'r2', 'lease', '"bad"', v.seconds)) AS result
  FROM (VALUES (1, '0'), (2, '-1'), (3, '86401'), (4, '2147483647')) v(n, seconds)
 ORDER BY v.n;
SELECT claim_expires_at = :'e1'::timestamptz AS lease_unchanged,
       durable_tasks.get_checkpoint('ck_q', :'t2', 'lease') AS lease
  FROM durable_tasks.r_ck_q WHERE run_id = :'r2';

--
-- Retries: attempt 1 saves three steps and fails; attempt 2 sees them
-- (attempt 1, its run) and overwrites one
--
SELECT task_id AS tr FROM durable_tasks.spawn_task('ck_q', 'retry_me', '{"n": 3}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "none"}}') \gset
SELECT public.claim_one('ck_q', :'tr') AS tr1 \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'tr1', 'a', '{"by": 1}');
SELECT durable_tasks.set_checkpoint('ck_q', :'tr1', 'b', '{"by": 1}');
SELECT durable_tasks.set_checkpoint('ck_q', :'tr1', 'c', '{"by": 1}');
SELECT retry_run_id AS tr2_expected FROM durable_tasks.fail_run('ck_q', :'tr1', '{"error": "flaky"}') \gset
SELECT public.claim_one('ck_q', :'tr') AS tr2 \gset
SELECT :'tr2'::uuid = :'tr2_expected'::uuid AS retry_run, attempt, state
  FROM durable_tasks.r_ck_q WHERE run_id = :'tr2';
-- attempt 2 sees attempt 1's steps
SELECT step_name, state, run_id = :'tr1' AS attempt1_run, attempt
  FROM durable_tasks.get_checkpoints('ck_q', :'tr');
SELECT durable_tasks.get_checkpoint('ck_q', :'tr', 'b') AS b;
-- attempt 1's run (failed) can no longer write
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tr1', 'b', '{"late": 1}'));
-- attempt 2 overwrites b and adds d
SELECT durable_tasks.set_checkpoint('ck_q', :'tr2', 'b', '{"by": 2}');
SELECT durable_tasks.set_checkpoint('ck_q', :'tr2', 'd', '{"by": 2}');
SELECT step_name, state, run_id = :'tr1' AS attempt1_run, run_id = :'tr2' AS attempt2_run, attempt
  FROM durable_tasks.get_checkpoints('ck_q', :'tr');
-- a write and complete_run in one transaction
BEGIN;
SELECT durable_tasks.set_checkpoint('ck_q', :'tr2', 'e', '{"by": 2}');
SELECT durable_tasks.complete_run('ck_q', :'tr2', '{"done": true}');
COMMIT;
SELECT state FROM durable_tasks.get_task('ck_q', :'tr');
SELECT step_name, attempt FROM durable_tasks.get_checkpoints('ck_q', :'tr');

--
-- Only a running run with a live lease writes (55000), and nothing is
-- written; the checkpoints of a finished task can still be read
--
-- a pending run (never claimed: delayed)
SELECT task_id AS tp, run_id AS tp_run
  FROM durable_tasks.spawn_task('ck_q', 'pending', '{"n": 4}', options => '{"delay_seconds": 3600}') \gset
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tp_run', 'x', '{}'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, 60)', 'ck_q', :'tp_run', 'x', '{}'));
SELECT state, claim_expires_at IS NULL AS no_lease FROM durable_tasks.r_ck_q WHERE run_id = :'tp_run';
SELECT count(*) AS saved FROM durable_tasks.get_checkpoints('ck_q', :'tp');
-- a completed run (attempt 2 of tr, above)
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tr2', 'x', '{}'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tr2', 'b', '{"after": "complete"}'));
-- a run that failed for good (max_attempts 1)
SELECT task_id AS tf FROM durable_tasks.spawn_task('ck_q', 'fail', '{"n": 5}',
         options => '{"max_attempts": 1}') \gset
SELECT public.claim_one('ck_q', :'tf') AS tf_run \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'tf_run', 'before_failure', '{"ok": true}');
SELECT task_state, retry_run_id IS NULL AS no_retry
  FROM durable_tasks.fail_run('ck_q', :'tf_run', '{"error": "boom"}');
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tf_run', 'x', '{}'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, 60)', 'ck_q', :'tf_run', 'before_failure', '{}'));
SELECT step_name, state, attempt FROM durable_tasks.get_checkpoints('ck_q', :'tf');
-- the running run of a cancelled task
SELECT task_id AS tx FROM durable_tasks.spawn_task('ck_q', 'cancel', '{"n": 6}') \gset
SELECT public.claim_one('ck_q', :'tx') AS tx_run \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'tx_run', 'before_cancel', '1');
SELECT durable_tasks.cancel_task('ck_q', :'tx');
SELECT state FROM durable_tasks.r_ck_q WHERE run_id = :'tx_run';
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tx_run', 'x', '{}'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'tx_run', 'before_cancel', '2'));
SELECT step_name, state FROM durable_tasks.get_checkpoints('ck_q', :'tx');
SELECT durable_tasks.get_checkpoint('ck_q', :'tx', 'before_cancel') AS before_cancel;

--
-- Unknown runs and tasks (P0002)
--
SELECT pg_temp.try($$SELECT durable_tasks.set_checkpoint('ck_q', '00000000-0000-7000-8000-000000000000', 'x', '{}')$$);
SELECT pg_temp.try($$SELECT durable_tasks.set_checkpoint('ck_q', '00000000-0000-7000-8000-000000000000', 'x', '{}', 60)$$);
-- a task id is not a run id
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'t2', 'x', '{}'));
-- a run of another queue is unknown here; in its own queue it writes there
SELECT durable_tasks.create_queue('ck_other');
SELECT to_regclass('durable_tasks.c_ck_other') IS NOT NULL AS has_checkpoints;
SELECT task_id AS to_task FROM durable_tasks.spawn_task('ck_other', 'elsewhere', '{"n": 7}') \gset
SELECT run_id AS to_run FROM durable_tasks.claim_task('ck_other', 'ck-worker') \gset
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'to_run', 'x', '{}'));
SELECT durable_tasks.set_checkpoint('ck_other', :'to_run', 'x', '{"queue": "other"}');
SELECT step_name, state, attempt FROM durable_tasks.get_checkpoints('ck_other', :'to_task');
SELECT public.err(format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_q', :'to_task'));
SELECT public.err(format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', :'to_task', 'x'));
SELECT public.err(format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_other', :'t1'));
SELECT count(*) AS other_rows FROM durable_tasks.c_ck_other;
SELECT durable_tasks.drop_queue('ck_other');
SELECT to_regclass('durable_tasks.c_ck_other') IS NULL AS checkpoints_dropped;
-- unknown tasks
SELECT public.err($$SELECT * FROM durable_tasks.get_checkpoints('ck_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.get_checkpoint('ck_q', '00000000-0000-7000-8000-000000000000', 'fetch')$$);
-- a run id is not a task id
SELECT public.err(format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_q', :'r1'));
SELECT public.err(format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', :'r1', 'fetch'));

--
-- Bad input: every argument of the three functions
--
SELECT count(*) AS rows_before FROM durable_tasks.c_ck_q \gset
SELECT v.n, v.what, pg_temp.try(v.sql) AS result
  FROM (VALUES
    (1, 'queue NULL', format('SELECT durable_tasks.set_checkpoint(NULL, %L, %L, %L)', :'r1', 'fetch', '{}')),
    (2, 'queue empty', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', '', :'r1', 'fetch', '{}')),
    (3, 'queue upper case', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'CK_Q', :'r1', 'fetch', '{}')),
    (4, 'queue with dash', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck-q', :'r1', 'fetch', '{}')),
    (5, 'queue too long', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', repeat('a', 49), :'r1', 'fetch', '{}')),
    (6, 'queue unknown', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_nosuch', :'r1', 'fetch', '{}')),
    (7, 'run_id NULL', format('SELECT durable_tasks.set_checkpoint(%L, NULL, %L, %L)', 'ck_q', 'fetch', '{}')),
    (8, 'run_id not a uuid', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', 'not-a-uuid', 'fetch', '{}')),
    (9, 'step_name NULL', format('SELECT durable_tasks.set_checkpoint(%L, %L, NULL, %L)', 'ck_q', :'r1', '{}')),
    (10, 'step_name empty', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'r1', '', '{}')),
    (11, 'step_name 256 bytes', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'r1', repeat('s', 256), '{}')),
    (12, 'step_name 128 x é', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'r1', repeat('é', 128), '{}')),
    (13, 'step_name 1000 bytes', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'r1', repeat('s', 1000), '{}')),
    (14, 'state NULL', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, NULL)', 'ck_q', :'r1', 'fetch')),
    (15, 'state NULL, named', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, state => NULL)', 'ck_q', :'r1', 'fetch')),
    (16, 'state not JSON', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'r1', 'fetch', '{oops')),
    (17, 'extend 0', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, 0)', 'ck_q', :'r1', 'fetch', '{}')),
    (18, 'extend 86401', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, extend_claim_seconds => 86401)', 'ck_q', :'r1', 'fetch', '{}'))
  ) v(n, what, sql)
 ORDER BY v.n;
SELECT v.n, v.what, public.err(v.sql) AS result
  FROM (VALUES
    (1, 'queue NULL', format('SELECT * FROM durable_tasks.get_checkpoints(NULL, %L)', :'t1')),
    (2, 'queue empty', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', '', :'t1')),
    (3, 'queue upper case', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'CK_Q', :'t1')),
    (4, 'queue with dash', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck-q', :'t1')),
    (5, 'queue too long', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', repeat('a', 49), :'t1')),
    (6, 'queue unknown', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_nosuch', :'t1')),
    (7, 'task_id NULL', format('SELECT * FROM durable_tasks.get_checkpoints(%L, NULL)', 'ck_q')),
    (8, 'task_id not a uuid', format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_q', 'not-a-uuid'))
  ) v(n, what, sql)
 ORDER BY v.n;
SELECT v.n, v.what, public.err(v.sql) AS result
  FROM (VALUES
    (1, 'queue NULL', format('SELECT durable_tasks.get_checkpoint(NULL, %L, %L)', :'t1', 'fetch')),
    (2, 'queue empty', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', '', :'t1', 'fetch')),
    (3, 'queue upper case', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'CK_Q', :'t1', 'fetch')),
    (4, 'queue with dash', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck-q', :'t1', 'fetch')),
    (5, 'queue too long', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', repeat('a', 49), :'t1', 'fetch')),
    (6, 'queue unknown', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_nosuch', :'t1', 'fetch')),
    (7, 'task_id NULL', format('SELECT durable_tasks.get_checkpoint(%L, NULL, %L)', 'ck_q', 'fetch')),
    (8, 'task_id not a uuid', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', 'not-a-uuid', 'fetch')),
    (9, 'step_name NULL', format('SELECT durable_tasks.get_checkpoint(%L, %L, NULL)', 'ck_q', :'t1')),
    (10, 'step_name empty', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', :'t1', '')),
    (11, 'step_name 256 bytes', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', :'t1', repeat('s', 256))),
    (12, 'step_name 128 x é', format('SELECT durable_tasks.get_checkpoint(%L, %L, %L)', 'ck_q', :'t1', repeat('é', 128)))
  ) v(n, what, sql)
 ORDER BY v.n;
-- nothing was written, the lease of r1 was not touched, and what was
-- saved is unchanged
SELECT count(*) - :rows_before AS rows_written FROM durable_tasks.c_ck_q;
SELECT durable_tasks.get_checkpoint('ck_q', :'t1', 'fetch') AS fetch;
SELECT state FROM durable_tasks.r_ck_q WHERE run_id = :'r1';

--
-- Checkpoints go with their task (a completed one, as cleanup will
-- delete it); the other tasks' stay
--
SELECT durable_tasks.complete_run('ck_q', :'r2', '{}');
SELECT count(*) AS t2_rows FROM durable_tasks.c_ck_q WHERE task_id = :'t2';
SELECT count(*) AS other_rows FROM durable_tasks.c_ck_q WHERE task_id <> :'t2' \gset
DELETE FROM durable_tasks.t_ck_q WHERE task_id = :'t2';
SELECT count(*) AS t2_rows FROM durable_tasks.c_ck_q WHERE task_id = :'t2';
SELECT count(*) = :other_rows AS others_kept FROM durable_tasks.c_ck_q;
SELECT public.err(format('SELECT * FROM durable_tasks.get_checkpoints(%L, %L)', 'ck_q', :'t2'));
-- a running task too
DELETE FROM durable_tasks.t_ck_q WHERE task_id = :'t1';
SELECT count(*) AS t1_rows FROM durable_tasks.c_ck_q WHERE task_id = :'t1';

--
-- An expired lease (55000): a run claimed for 1 second, and a run whose
-- lease set_checkpoint shortened to 1 second.  No claim_task runs after
-- the sleep, so nobody sweeps them: they are still running.
--
SELECT task_id AS te1 FROM durable_tasks.spawn_task('ck_q', 'expire', '{"n": 8}',
         options => '{"max_attempts": 1}') \gset
SELECT task_id AS te2 FROM durable_tasks.spawn_task('ck_q', 'expire', '{"n": 9}',
         options => '{"max_attempts": 1}') \gset
SELECT public.claim_one('ck_q', :'te2') AS te2_run \gset
SELECT public.claim_one('ck_q', :'te1', lease => 1) AS te1_run \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'te1_run', 'early', '1');
SELECT clock_timestamp() AS c0 \gset
SELECT durable_tasks.set_checkpoint('ck_q', :'te2_run', 'early', '1', 1);
SELECT claim_expires_at >= :'c0'::timestamptz + interval '1 s'
       AND claim_expires_at <= clock_timestamp() + interval '1 s' AS shortened_to_1s
  FROM durable_tasks.r_ck_q WHERE run_id = :'te2_run';
SELECT pg_sleep(1.1);
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'te1_run', 'late', '2'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'te1_run', 'early', '2'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, 60)', 'ck_q', :'te1_run', 'late', '2'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'ck_q', :'te2_run', 'late', '2'));
SELECT pg_temp.try(format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L, 3600)', 'ck_q', :'te2_run', 'early', '2'));
-- still running, still expired; only the early steps were saved
SELECT state, claim_expires_at < clock_timestamp() AS expired
  FROM durable_tasks.r_ck_q WHERE run_id IN (:'te1_run', :'te2_run') ORDER BY task_id;
SELECT t.n, c.step_name, c.state
  FROM (VALUES (1, :'te1'::uuid), (2, :'te2'::uuid)) t(n, task),
       LATERAL durable_tasks.get_checkpoints('ck_q', t.task) c
 ORDER BY t.n, c.step_name;

SELECT durable_tasks.drop_queue('ck_q');
SELECT to_regclass('durable_tasks.c_ck_q') IS NULL AS checkpoints_dropped;
