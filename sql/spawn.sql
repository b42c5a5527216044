--
-- spawn: spawn_task (1.1 signature) without an idempotency key, every
-- spawn option, the stored defaults, time-ordered ids, call forms.
--
-- Ids and timestamps are never printed: only comparisons, counts, and
-- values that do not depend on time.
--
SELECT durable_tasks.create_queue('sp_q');

--
-- A plain spawn: a new task with one pending run, attempt 1
--
SELECT task_id IS NOT NULL AS has_task, run_id IS NOT NULL AS has_run,
       task_id <> run_id AS distinct_ids, attempt, created, state
  FROM durable_tasks.spawn_task('sp_q', 'send', '{"to": "a@example.com"}');
-- (inside one transaction; times come from the clock at the call, so they
-- lie between the transaction start now() and clock_timestamp())
BEGIN;
SELECT task_id AS t1, run_id AS r1
  FROM durable_tasks.spawn_task('sp_q', 'send', '{"to": "b@example.com"}') \gset
-- the task as get_task shows it: the defaults are stored
SELECT task_name, state, attempts, params, result, failure, headers,
       max_attempts, retry_strategy, cancellation, parent_task_id,
       last_run_id = :'r1' AS last_run_is_first_run,
       created_at BETWEEN now() AND clock_timestamp() AS created_now,
       first_started_at, finished_at, idempotency_key, key_released_at
  FROM durable_tasks.get_task('sp_q', :'t1');
-- the run row
SELECT task_id = :'t1' AS same_task, attempt, state, available_at BETWEEN now() AND clock_timestamp() AS available_now,
       claimed_by, claim_expires_at, started_at, finished_at, result, failure
  FROM durable_tasks.r_sp_q WHERE run_id = :'r1';
COMMIT;
-- the default retry strategy is the one fail_run applies
SELECT retry_strategy = '{"kind": "exponential", "base_seconds": 1, "factor": 2, "max_seconds": 3600}'
       AS default_strategy
  FROM durable_tasks.t_sp_q WHERE task_id = :'t1';
-- params default to {} and options to {}
SELECT task_id AS t2 FROM durable_tasks.spawn_task('sp_q', 'noparams') \gset
SELECT params, headers, max_attempts FROM durable_tasks.get_task('sp_q', :'t2');
-- scalar and array params are stored as given
SELECT task_id AS t3 FROM durable_tasks.spawn_task('sp_q', 'scalar', '42') \gset
SELECT task_id AS t4 FROM durable_tasks.spawn_task('sp_q', 'array', '[1, "two", null, {"x": [true]}]') \gset
SELECT params FROM durable_tasks.get_task('sp_q', :'t3');
SELECT params FROM durable_tasks.get_task('sp_q', :'t4');
-- without a key every spawn creates a new task, even with equal arguments
-- (the CASE makes the call depend on i, so that it runs once per row)
SELECT count(*) AS spawns, count(DISTINCT s.task_id) AS tasks, bool_and(s.created) AS all_created
  FROM generate_series(1, 5) i,
       LATERAL durable_tasks.spawn_task('sp_q', 'same',
                 CASE WHEN i > 0 THEN '{"k": 1}'::jsonb END) s;
SELECT count(*) AS tasks, count(DISTINCT task_id) AS distinct_ids,
       bool_and(idempotency_key IS NULL) AS no_keys
  FROM durable_tasks.t_sp_q WHERE task_name = 'same';

--
-- Options
--
-- headers
SELECT task_id AS th FROM durable_tasks.spawn_task('sp_q', 'h', options => '{"headers": {"trace": "abc", "n": 1}}') \gset
SELECT headers FROM durable_tasks.get_task('sp_q', :'th');
SELECT task_id AS th2 FROM durable_tasks.spawn_task('sp_q', 'h', options => '{"headers": {}}') \gset
SELECT headers FROM durable_tasks.get_task('sp_q', :'th2');
-- max_attempts
SELECT task_id AS tm FROM durable_tasks.spawn_task('sp_q', 'm', options => '{"max_attempts": 1}') \gset
SELECT max_attempts FROM durable_tasks.get_task('sp_q', :'tm');
SELECT task_id AS tm2 FROM durable_tasks.spawn_task('sp_q', 'm', options => '{"max_attempts": 10000}') \gset
SELECT max_attempts FROM durable_tasks.get_task('sp_q', :'tm2');
SELECT task_id AS tm3 FROM durable_tasks.spawn_task('sp_q', 'm', options => '{"max_attempts": 3.0}') \gset
SELECT max_attempts FROM durable_tasks.get_task('sp_q', :'tm3');
-- retry_strategy: stored as given
SELECT task_id AS tr1 FROM durable_tasks.spawn_task('sp_q', 'r', options => '{"retry_strategy": {"kind": "none"}}') \gset
SELECT task_id AS tr2 FROM durable_tasks.spawn_task('sp_q', 'r', options => '{"retry_strategy": {"kind": "fixed", "base_seconds": 5}}') \gset
SELECT task_id AS tr3 FROM durable_tasks.spawn_task('sp_q', 'r', options => '{"retry_strategy": {"kind": "exponential", "base_seconds": 2, "factor": 3, "max_seconds": 60}}') \gset
SELECT task_id AS tr4 FROM durable_tasks.spawn_task('sp_q', 'r', options => '{"retry_strategy": {"kind": "exponential", "base_seconds": 0.5}}') \gset
SELECT retry_strategy FROM durable_tasks.get_task('sp_q', :'tr1');
SELECT retry_strategy FROM durable_tasks.get_task('sp_q', :'tr2');
SELECT retry_strategy FROM durable_tasks.get_task('sp_q', :'tr3');
SELECT retry_strategy FROM durable_tasks.get_task('sp_q', :'tr4');
-- cancellation: stored as given
SELECT task_id AS tc FROM durable_tasks.spawn_task('sp_q', 'c', options => '{"cancellation": {"max_delay": 60, "max_duration": 3600}}') \gset
SELECT cancellation FROM durable_tasks.get_task('sp_q', :'tc');
-- parent_task_id
SELECT task_id AS tchild FROM durable_tasks.spawn_task('sp_q', 'child',
         options => jsonb_build_object('parent_task_id', :'t1')) \gset
SELECT parent_task_id = :'t1' AS parent_is_t1 FROM durable_tasks.get_task('sp_q', :'tchild');
SELECT public.err($$SELECT durable_tasks.spawn_task('sp_q', 'orphan',
         options => '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}')$$);
-- every option at once
SELECT task_id AS tall FROM durable_tasks.spawn_task('sp_q', 'all', '{"p": 1}',
         options => jsonb_build_object(
             'headers', '{"h": 1}'::jsonb,
             'max_attempts', 7,
             'retry_strategy', '{"kind": "fixed", "base_seconds": 1}'::jsonb,
             'delay_seconds', 30,
             'cancellation', '{"max_delay": 600}'::jsonb,
             'parent_task_id', :'t1')) \gset
SELECT task_name, state, attempts, params, headers, max_attempts, retry_strategy,
       cancellation, parent_task_id = :'t1' AS parent_is_t1
  FROM durable_tasks.get_task('sp_q', :'tall');

--
-- Scheduling: delay_seconds and available_at set the first run's
-- available_at (from the clock at the call: rounded to 0.1 s)
--
BEGIN;
SELECT task_id AS td, run_id AS rd FROM durable_tasks.spawn_task('sp_q', 'delayed', options => '{"delay_seconds": 3600}') \gset
SELECT round(extract(epoch FROM available_at - now()), 1) AS delay_seconds FROM durable_tasks.r_sp_q WHERE run_id = :'rd';
SELECT task_id AS td2, run_id AS rd2 FROM durable_tasks.spawn_task('sp_q', 'delayed', options => '{"delay_seconds": 0.25}') \gset
SELECT round(extract(epoch FROM available_at - now()), 1) AS delay_seconds FROM durable_tasks.r_sp_q WHERE run_id = :'rd2';
SELECT task_id AS td3, run_id AS rd3 FROM durable_tasks.spawn_task('sp_q', 'delayed', options => '{"delay_seconds": 0}') \gset
SELECT round(extract(epoch FROM available_at - now()), 1) AS delay_seconds FROM durable_tasks.r_sp_q WHERE run_id = :'rd3';
SELECT state FROM durable_tasks.get_task('sp_q', :'td');
COMMIT;
SELECT run_id AS rfuture FROM durable_tasks.spawn_task('sp_q', 'future',
         options => '{"available_at": "2999-01-01 00:00:00+00"}') \gset
SELECT run_id AS rpast FROM durable_tasks.spawn_task('sp_q', 'past',
         options => '{"available_at": "2000-01-01 00:00:00+00"}') \gset
SELECT available_at = '2999-01-01 00:00:00+00' AS future_stored
  FROM durable_tasks.r_sp_q WHERE run_id = :'rfuture';
SELECT available_at = '2000-01-01 00:00:00+00' AS past_stored
  FROM durable_tasks.r_sp_q WHERE run_id = :'rpast';
-- available_at in another time zone notation names the same instant
SELECT run_id AS rtz FROM durable_tasks.spawn_task('sp_q', 'tz',
         options => '{"available_at": "2999-01-01T02:00:00+02:00"}') \gset
SELECT available_at = '2999-01-01 00:00:00+00' AS same_instant
  FROM durable_tasks.r_sp_q WHERE run_id = :'rtz';
-- a claim hands out everything that is due and nothing that is not:
-- the delayed (3600 s) and future runs stay pending; the 0.25 s one is due
SELECT pg_sleep(0.3);
SELECT count(*) AS due_runs FROM durable_tasks.r_sp_q
 WHERE state = 'pending' AND available_at <= clock_timestamp();
SELECT count(*) AS claimed,
       bool_or(run_id = :'rd') AS got_delayed,
       bool_or(run_id = :'rfuture') AS got_future,
       bool_or(run_id = :'rtz') AS got_future_tz,
       bool_or(run_id = :'rpast') AS got_past,
       bool_or(run_id = :'rd2') AS got_quarter_second,
       bool_or(run_id = :'rd3') AS got_zero_delay
  FROM durable_tasks.claim_task('sp_q', 'w', qty => 1000);
SELECT count(*) AS claimable_now FROM durable_tasks.claim_task('sp_q', 'w', qty => 1000);
SELECT run_id = :'rd' AS delayed_is_pending, state
  FROM durable_tasks.r_sp_q WHERE run_id IN (:'rd', :'rfuture', :'rtz') ORDER BY 1 DESC, run_id;

--
-- Time-ordered task ids: version 7 layout, timestamp close to now, and
-- strictly increasing within a session (also within one millisecond)
--
CREATE TEMP TABLE ids AS
SELECT i, s.task_id, s.run_id
  FROM generate_series(1, 200) i,
       LATERAL durable_tasks.spawn_task('sp_q', 'series', jsonb_build_object('i', i)) s;
SELECT count(*) AS spawned,
       bool_and(substr(task_id::text, 15, 1) = '7') AS task_v7,
       bool_and(substr(run_id::text, 15, 1) = '7') AS run_v7,
       bool_and(substr(task_id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS task_variant,
       bool_and(substr(run_id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS run_variant
  FROM ids;
-- 48-bit millisecond timestamp within a minute of now
SELECT bool_and(abs(('x' || lpad(replace(substr(task_id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                    - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000) AS near_now
  FROM ids;
-- each task id is greater than the previous one, and its run id falls between
SELECT count(*) FILTER (WHERE task_id > prev_task) AS increasing,
       count(*) FILTER (WHERE run_id > task_id) AS run_after_task,
       count(*) FILTER (WHERE prev_run < task_id) AS previous_run_before_task
  FROM (SELECT i, task_id, run_id,
               lag(task_id) OVER (ORDER BY i) AS prev_task,
               lag(run_id) OVER (ORDER BY i) AS prev_run
          FROM ids) s
 WHERE i > 1;
-- across statements too
SELECT task_id AS ta FROM durable_tasks.spawn_task('sp_q', 'order') \gset
SELECT task_id AS tb FROM durable_tasks.spawn_task('sp_q', 'order') \gset
SELECT :'ta'::uuid < :'tb'::uuid AS increasing,
       (SELECT task_id FROM ids ORDER BY task_id DESC LIMIT 1) < :'ta'::uuid AS after_series;
-- durable_tasks.uuid_v7() shares the same generator
SELECT count(*) FILTER (WHERE u > prev) AS increasing
  FROM (SELECT i, u, lag(u) OVER (ORDER BY i) AS prev
          FROM (SELECT i, durable_tasks.uuid_v7() AS u FROM generate_series(1, 1000) i) g) s
 WHERE i > 1;
SELECT durable_tasks.uuid_v7() > :'tb'::uuid AS after_last_task;

--
-- Call forms
--
-- positional: (queue, task_name, params, only_once)
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'send', '{"a":1}', true);
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'send', '{"a":1}', true);
-- positional with a key and options
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'send', '{"a":2}', false, 'pos-key', '{"max_attempts": 2}');
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'send', '{"a":2}', false, 'pos-key', '{"max_attempts": 2}');
SELECT max_attempts FROM durable_tasks.t_sp_q WHERE idempotency_key = 'pos-key';
-- named arguments, in any order
SELECT created, state FROM durable_tasks.spawn_task(
    options => '{"max_attempts": 4}', task_name => 'named', queue_name => 'sp_q',
    params => '{"n": 1}');
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'named', params => '{"n": 2}',
    idempotency_key => 'named-key');
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'named', only_once => true,
    params => '{"n": 3}');
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'named', only_once => true,
    params => '{"n": 3}');
SELECT task_name, params, max_attempts,
       CASE WHEN idempotency_key = durable_tasks.task_fingerprint(task_name, params)
            THEN 'task_fingerprint(task_name, params)'
            ELSE idempotency_key END AS idempotency_key
  FROM durable_tasks.t_sp_q WHERE task_name = 'named' ORDER BY task_id;
-- a NULL options or a NULL key is the same as leaving them out
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'nulls', '{}', false, NULL, NULL);
SELECT created, state FROM durable_tasks.spawn_task('sp_q', 'nulls', '{}', false, NULL, NULL);
SELECT count(*) AS tasks, bool_and(max_attempts = 5) AS default_attempts,
       bool_and(idempotency_key IS NULL) AS no_key
  FROM durable_tasks.t_sp_q WHERE task_name = 'nulls';

-- every task has exactly one run, attempt 1, and the first run is its last run
SELECT count(*) AS tasks,
       count(*) FILTER (WHERE (SELECT count(*) FROM durable_tasks.r_sp_q r
                                WHERE r.task_id = t.task_id) = 1) AS one_run,
       count(*) FILTER (WHERE t.attempts = 1) AS attempt_one,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM durable_tasks.r_sp_q r
                                       WHERE r.run_id = t.last_run_id
                                         AND r.task_id = t.task_id
                                         AND r.attempt = 1)) AS last_run_ok
  FROM durable_tasks.t_sp_q t;

SELECT durable_tasks.drop_queue('sp_q');
