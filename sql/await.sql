--
-- await: await_task (SPEC 5.4) in a single session.  A terminal task is
-- returned at once; a pending one is waited for until the timeout; the
-- duplicate-caller pattern; REPEATABLE READ/SERIALIZABLE refuse to wait;
-- statement_timeout ends a wait; every bad argument.
--
-- Ids and timestamps are never printed: only comparisons, and elapsed
-- times as booleans.
--
SELECT durable_tasks.create_queue('aw_q');

-- The SQLSTATE of a statement that is expected to be cancelled (plpgsql's
-- OTHERS does not catch query_canceled), or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION
    WHEN query_canceled THEN
        RETURN SQLSTATE;
    WHEN OTHERS THEN
        RETURN SQLSTATE;
END
$fn$;

-- one task in each state; the pending ones are delayed, so that no claim
-- below hands them out
SELECT task_id AS tc FROM durable_tasks.spawn_task('aw_q', 'will_complete', '{"n": 1}') \gset
SELECT durable_tasks.complete_run('aw_q', public.claim_one('aw_q', :'tc'), '{"answer": 42}');
SELECT task_id AS tf FROM durable_tasks.spawn_task('aw_q', 'will_fail', '{"n": 2}',
         options => '{"max_attempts": 1}') \gset
SELECT task_state FROM durable_tasks.fail_run('aw_q', public.claim_one('aw_q', :'tf'), '{"error": "boom"}');
SELECT task_id AS tx FROM durable_tasks.spawn_task('aw_q', 'will_cancel', '{"n": 3}',
         options => '{"delay_seconds": 3600}') \gset
SELECT durable_tasks.cancel_task('aw_q', :'tx');
SELECT task_id AS tp FROM durable_tasks.spawn_task('aw_q', 'stays_pending', '{"n": 4}',
         options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS tr FROM durable_tasks.spawn_task('aw_q', 'stays_running', '{"n": 5}') \gset
SELECT public.claim_one('aw_q', :'tr') IS NOT NULL AS claimed;

--
-- Terminal tasks: one row at once, timed_out false, as get_task shows them
--
SELECT clock_timestamp() AS t0 \gset
SELECT task_id = :'tc' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tc');
SELECT task_id = :'tf' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tf');
SELECT task_id = :'tx' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tx');
-- (the three calls with the default 30 s timeout did not wait)
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 seconds' AS at_once;
-- the same with an explicit timeout, 0 and the largest allowed
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tc', 0);
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tf', 86400);
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tx', timeout_seconds => 0.5);
-- exactly what get_task shows
SELECT a.task_id = g.task_id AS same_task, a.state = g.state AS same_state,
       a.result IS NOT DISTINCT FROM g.result AS same_result,
       a.failure IS NOT DISTINCT FROM g.failure AS same_failure
  FROM (VALUES (:'tc'::uuid), (:'tf'::uuid), (:'tx'::uuid)) v(id),
       LATERAL durable_tasks.await_task('aw_q', v.id) a,
       LATERAL durable_tasks.get_task('aw_q', v.id) g;

--
-- Non-terminal tasks: the current state and timed_out true
--
-- timeout 0: one check, no wait
SELECT clock_timestamp() AS t0 \gset
SELECT task_id = :'tp' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tp', 0);
SELECT task_id = :'tr' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tr', 0);
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 seconds' AS at_once;
-- timeout 0.2 s: waits at least about 0.2 s, then gives up
SELECT clock_timestamp() AS t0 \gset
SELECT task_id = :'tp' AS same_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'tp', 0.2);
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '190 milliseconds' AS waited,
       clock_timestamp() - :'t0'::timestamptz < interval '2 seconds' AS not_too_long;
-- the task is untouched
SELECT state, attempts FROM durable_tasks.get_task('aw_q', :'tp');

--
-- The duplicate caller: A spawns with only_once (created), B spawns the
-- same (not created) and awaits the task_id it got; a worker completes it;
-- B's await returns A's task's result
--
SELECT task_id AS da, created AS da_created
  FROM durable_tasks.spawn_task('aw_q', 'charge', '{"order": 7}', only_once => true) \gset
SELECT task_id AS db, created AS db_created
  FROM durable_tasks.spawn_task('aw_q', 'charge', '{"order": 7}', only_once => true) \gset
SELECT :'da_created' AS a_created, :'db_created' AS b_created, :'da'::uuid = :'db'::uuid AS same_task;
-- before the worker: B would wait
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'db', 0);
SELECT durable_tasks.complete_run('aw_q', public.claim_one('aw_q', :'da'), '{"charged": 7}');
SELECT task_id = :'da' AS a_task, state, result, failure, timed_out
  FROM durable_tasks.await_task('aw_q', :'db', 5);

--
-- REPEATABLE READ and SERIALIZABLE: a non-terminal task is refused (the
-- wait could never see the change); a terminal one is returned
--
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, 1)', 'aw_q', :'tp'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, 0)', 'aw_q', :'tr'));
SELECT state, result, timed_out FROM durable_tasks.await_task('aw_q', :'tc', 1);
SELECT state, failure, timed_out FROM durable_tasks.await_task('aw_q', :'tf');
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, 1)', 'aw_q', :'tp'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, 0)', 'aw_q', :'tr'));
SELECT state, result, timed_out FROM durable_tasks.await_task('aw_q', :'tc', 1);
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tx');
COMMIT;
-- READ COMMITTED inside a transaction block waits as usual
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tp', 0.05);
COMMIT;

--
-- statement_timeout ends a wait at once (57014)
--
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '100ms';
SELECT pg_temp.sqlstate_of(format('SELECT * FROM durable_tasks.await_task(%L, %L, 10)', 'aw_q', :'tp')) AS sqlstate;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '2 seconds' AS ended_early;

--
-- Bad input
--
-- NULLs
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(NULL, %L)', :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(NULL, %L, 0)', :'tc'));
SELECT public.err($$SELECT * FROM durable_tasks.await_task('aw_q', NULL)$$);
SELECT public.err($$SELECT * FROM durable_tasks.await_task('aw_q', NULL, 0)$$);
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, NULL)', 'aw_q', :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, timeout_seconds => NULL)', 'aw_q', :'tp'));
-- queue names
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', '', :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', 'AW_Q', :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', 'aw-q', :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', repeat('a', 49), :'tc'));
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', 'aw_nosuch', :'tc'));
-- unknown task (and a run id is not a task id; a task of another queue is unknown here)
SELECT public.err($$SELECT * FROM durable_tasks.await_task('aw_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT public.err($$SELECT * FROM durable_tasks.await_task('aw_q', '00000000-0000-7000-8000-000000000000', 0)$$);
SELECT run_id AS tc_run FROM durable_tasks.r_aw_q WHERE task_id = :'tc' \gset
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', 'aw_q', :'tc_run'));
SELECT durable_tasks.create_queue('aw_other');
SELECT public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L)', 'aw_other', :'tc'));
SELECT durable_tasks.drop_queue('aw_other');
SELECT public.err($$SELECT * FROM durable_tasks.await_task('aw_q', 'not-a-uuid')$$);
-- timeouts out of range (on a pending task and on a terminal one: the
-- argument is checked before the task is looked at)
SELECT v.timeout, public.err(format('SELECT * FROM durable_tasks.await_task(%L, %L, %s)', 'aw_q', v.task, v.timeout)) AS result
  FROM (VALUES (1, '-1', :'tp'),
               (2, '-0.001', :'tp'),
               (3, '''NaN''', :'tp'),
               (4, '''Infinity''', :'tp'),
               (5, '''-Infinity''', :'tp'),
               (6, '86400.001', :'tp'),
               (7, '86401', :'tp'),
               (8, '1e300', :'tp'),
               (9, '-1', :'tc'),
               (10, '''NaN''', :'tc'),
               (11, '86401', :'tc')) v(n, timeout, task)
 ORDER BY v.n;
-- the boundaries are fine
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tc', 86400);
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tc', 0);
SELECT state, timed_out FROM durable_tasks.await_task('aw_q', :'tp', 0);
-- nothing changed
SELECT task_name, state, attempts FROM durable_tasks.t_aw_q ORDER BY task_id;

SELECT durable_tasks.drop_queue('aw_q');
