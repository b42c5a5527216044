--
-- sleep: sleep_run (SPEC 5.2) in a single session.  The lease holder puts
-- its run to sleep: run and task become sleeping, the lease ends
-- (claimed_by and claim_expires_at NULL), available_at is the wake time,
-- attempts and first_started_at are kept and no run is added.  Before the
-- wake time claims do not see the run; from then on claim_task hands out
-- the same run (same run_id, same attempt) to a new holder; a wake time in
-- the past makes it claimable at once.  A sleep is not an attempt: a
-- max_attempts 1 task sleeps three times and completes, a max_attempts 2
-- task that slept twice still gets its retry.  While it sleeps the run
-- cannot be completed, failed, extended, checkpointed or put to sleep
-- again (55000, "The run is sleeping."); cancel_task cancels it;
-- get_task, queue_stats and await_task see it sleeping; its lease never
-- expires; it keeps its idempotency key.  Checkpoints saved before the
-- sleep are seen by the woken run.
-- max_duration cancels a task that wakes past its deadline; max_delay
-- does not apply after the first start.  Only a live lease sleeps
-- (pending, finished, expired: 55000; unknown: P0002).  Privileges:
-- worker yes, producer 42501 before any lookup.  Every bad input, and a
-- queue still on the 1.1 layout (no ri_<q>_due): refused, nothing changed.
--
-- Ids and timestamps are never printed: only comparisons and counts.
-- Where a time must have passed, the row is backdated as superuser (said
-- so at the place); the one real wait is about 1.5 seconds.
--
SELECT durable_tasks.create_queue('sl_q');

-- The shared helpers of setup.sql for sl_q (public.run_and_task shows a
-- run beside its task).
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $fn$ SELECT public.queue_digest('sl_q') $fn$;
CREATE FUNCTION pg_temp.try(sql text) RETURNS text
LANGUAGE sql AS $fn$ SELECT public.try_in('sl_q', sql) $fn$;

--
-- Sleep and wake: the same run, the same attempt; a max_attempts 1 task
-- that sleeps three times and completes
--
SELECT task_id AS t1 FROM durable_tasks.spawn_task('sl_q', 'nap', '{"n": 1}',
         options => '{"max_attempts": 1}') \gset
-- a lease of 1 second, which will have run out when the run wakes: a
-- sleeping run's lease does not expire
SELECT run_id AS r1, attempt AS a1, claim_expires_at AS e1
  FROM durable_tasks.claim_task('sl_q', 'w1', claim_timeout_seconds => 1) \gset
SELECT :'a1' AS attempt, :'r1'::uuid = (SELECT last_run_id FROM durable_tasks.t_sl_q WHERE task_id = :'t1') AS its_run;
SELECT first_started_at AS fs1 FROM durable_tasks.t_sl_q WHERE task_id = :'t1' \gset
SELECT durable_tasks.set_checkpoint('sl_q', :'r1', 'before_sleep', '{"step": 1}');
SELECT clock_timestamp() + interval '1.5 s' AS wake1 \gset
SELECT durable_tasks.sleep_run('sl_q', :'r1', :'wake1') AS slept;
-- run and task sleeping, the lease gone, the wake time in available_at
SELECT * FROM public.run_and_task('sl_q', :'r1');
SELECT available_at = :'wake1'::timestamptz AS available_at_is_wake_at,
       finished_at IS NULL AS not_finished, result IS NULL AND failure IS NULL AS no_outcome
  FROM durable_tasks.r_sl_q WHERE run_id = :'r1';
SELECT first_started_at = :'fs1'::timestamptz AS first_start_kept, finished_at IS NULL AS not_finished
  FROM durable_tasks.t_sl_q WHERE task_id = :'t1';
SELECT state, attempts, last_run_id = :'r1' AS last_run, first_started_at = :'fs1'::timestamptz AS first_start_kept
  FROM durable_tasks.get_task('sl_q', :'t1');
SELECT pending, running, sleeping, completed, failed, cancelled FROM durable_tasks.queue_stats('sl_q');
-- await_task: sleeping is not terminal, the wait times out
SELECT state, timed_out FROM durable_tasks.await_task('sl_q', :'t1', 0);
-- not due yet: claims do not see it, and change nothing
SELECT pg_temp.digest() AS d0 \gset
SELECT count(*) AS claimed FROM durable_tasks.claim_task('sl_q', 'early', qty => 10);
SELECT pg_temp.digest() = :'d0' AS unchanged;
-- the sleeping run cannot be finished, extended, checkpointed or put to
-- sleep again; the checkpoint saved before the sleep is still readable
SELECT v.what, pg_temp.try(v.sql) AS result
  FROM (VALUES
    (1, 'complete_run', format('SELECT durable_tasks.complete_run(%L, %L, %L)', 'sl_q', :'r1', '{"x": 1}')),
    (2, 'fail_run', format('SELECT * FROM durable_tasks.fail_run(%L, %L, %L)', 'sl_q', :'r1', '{"x": 1}')),
    (3, 'extend_claim', format('SELECT durable_tasks.extend_claim(%L, %L, 60)', 'sl_q', :'r1')),
    (4, 'set_checkpoint', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'sl_q', :'r1', 'x', '{}')),
    (5, 'set_checkpoint (old step)', format('SELECT durable_tasks.set_checkpoint(%L, %L, %L, %L)', 'sl_q', :'r1', 'before_sleep', '{}')),
    (6, 'sleep_run (past)', format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r1', '2000-01-01 00:00:00+00')),
    (7, 'sleep_run (future)', format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r1', '2999-01-01 00:00:00+00'))
  ) v(n, what, sql)
 ORDER BY v.n;
SELECT step_name, state, run_id = :'r1' AS this_run, attempt
  FROM durable_tasks.get_checkpoints('sl_q', :'t1');
-- wait for the wake time (and past the old lease's end)
SELECT pg_sleep(greatest(0, extract(epoch FROM :'wake1'::timestamptz - clock_timestamp())) + 0.05) AS waited;
SELECT clock_timestamp() > :'e1'::timestamptz AS old_lease_over;
-- the same run, the same attempt, a new holder and lease; nothing was
-- failed by the lease sweep
SELECT clock_timestamp() AS c0 \gset
SELECT run_id AS r1b, attempt AS a1b, task_id AS t1b, task_name AS n1b, max_attempts AS m1b,
       claim_expires_at AS e1b
  FROM durable_tasks.claim_task('sl_q', 'w2', claim_timeout_seconds => 60) \gset
SELECT :'r1b'::uuid = :'r1'::uuid AS same_run, :'a1b' AS attempt, :'t1b'::uuid = :'t1'::uuid AS same_task,
       :'n1b' AS task_name, :'m1b' AS max_attempts,
       :'e1b'::timestamptz >= :'c0'::timestamptz + interval '60 s' AS new_lease;
SELECT * FROM public.run_and_task('sl_q', :'r1');
SELECT claim_expires_at = :'e1b'::timestamptz AS lease_as_returned, failure IS NULL AS no_failure
  FROM durable_tasks.r_sl_q WHERE run_id = :'r1';
SELECT state, attempts, first_started_at = :'fs1'::timestamptz AS first_start_kept
  FROM durable_tasks.get_task('sl_q', :'t1');
-- the woken run sees the checkpoint of before the sleep, and writes
SELECT durable_tasks.get_checkpoint('sl_q', :'t1', 'before_sleep') AS before_sleep;
SELECT durable_tasks.set_checkpoint('sl_q', :'r1', 'after_sleep', '{"step": 2}');
SELECT step_name, state, attempt FROM durable_tasks.get_checkpoints('sl_q', :'t1');
-- a second sleep of the same run, wake time in the past: claimable at once
SELECT durable_tasks.sleep_run('sl_q', :'r1', '2000-01-01 00:00:00+00') AS slept;
SELECT * FROM public.run_and_task('sl_q', :'r1');
SELECT run_id = :'r1' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w3');
SELECT * FROM public.run_and_task('sl_q', :'r1');
-- a third sleep, a wake time of now: claimable at once
SELECT durable_tasks.sleep_run('sl_q', :'r1', clock_timestamp()) AS slept;
SELECT run_id = :'r1' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w4');
-- and it completes: one run, one attempt, three sleeps
SELECT durable_tasks.complete_run('sl_q', :'r1', '{"slept": 3}');
SELECT * FROM public.run_and_task('sl_q', :'r1');
SELECT state, attempts, result FROM durable_tasks.get_task('sl_q', :'t1');
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r1', '2000-01-01 00:00:00+00')) AS completed_run;

--
-- A sleep is not an attempt: max_attempts 2, two sleeps, then a failure
-- still gets the retry (attempt 2)
--
SELECT task_id AS t2 FROM durable_tasks.spawn_task('sl_q', 'retry', '{"n": 2}',
         options => '{"max_attempts": 2, "retry_strategy": {"kind": "none"}}') \gset
SELECT run_id AS r2 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'r2', '2000-01-01 00:00:00+00') AS slept;
SELECT run_id = :'r2' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT durable_tasks.sleep_run('sl_q', :'r2', '2000-01-01 00:00:00+00') AS slept;
SELECT run_id = :'r2' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT task_state, retry_run_id IS NOT NULL AS retried, retry_attempt
  FROM durable_tasks.fail_run('sl_q', :'r2', '{"error": "after two sleeps"}');
SELECT run_id <> :'r2' AS new_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1') \gset r2n_
SELECT :'r2n_new_run' AS new_run, :'r2n_attempt' AS attempt;
SELECT run_id AS r2n FROM durable_tasks.r_sl_q WHERE task_id = :'t2' AND attempt = 2 \gset
-- the retry sleeps and wakes too, still attempt 2; its failure is final
SELECT durable_tasks.sleep_run('sl_q', :'r2n', '2000-01-01 00:00:00+00') AS slept;
SELECT run_id = :'r2n' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT task_state, retry_run_id IS NULL AS no_retry
  FROM durable_tasks.fail_run('sl_q', :'r2n', '{"error": "final"}');
SELECT state, attempts FROM durable_tasks.get_task('sl_q', :'t2');
SELECT attempt, state FROM durable_tasks.r_sl_q WHERE task_id = :'t2' ORDER BY attempt;

--
-- Cancel a sleeping task: task and run cancelled, never handed out
--
SELECT task_id AS t3 FROM durable_tasks.spawn_task('sl_q', 'cancel_me', '{"n": 3}') \gset
SELECT run_id AS r3 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'r3', clock_timestamp() + interval '1 hour') AS slept;
SELECT pending, running, sleeping FROM durable_tasks.queue_stats('sl_q');
SELECT durable_tasks.cancel_task('sl_q', :'t3') AS cancelled;
SELECT * FROM public.run_and_task('sl_q', :'r3');
SELECT finished_at IS NOT NULL AS run_finished, claimed_by IS NULL AS no_holder
  FROM durable_tasks.r_sl_q WHERE run_id = :'r3';
SELECT state, finished_at IS NOT NULL AS task_finished FROM durable_tasks.get_task('sl_q', :'t3');
SELECT state, timed_out FROM durable_tasks.await_task('sl_q', :'t3', 0);
SELECT pending, running, sleeping, cancelled FROM durable_tasks.queue_stats('sl_q');
-- cancelling again: nothing left to cancel
SELECT durable_tasks.cancel_task('sl_q', :'t3') AS cancelled_again;
-- the wake time passes (backdated as superuser): nothing to claim
UPDATE durable_tasks.r_sl_q SET available_at = '2000-01-01 00:00:00+00' WHERE run_id = :'r3';
SELECT count(*) AS claimed FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r3', '2000-01-01 00:00:00+00')) AS cancelled_run;

--
-- Deadlines.  max_duration: a task whose first start is longer ago than
-- max_duration when it wakes is cancelled by the claim, not handed out.
--
SELECT task_id AS t4 FROM durable_tasks.spawn_task('sl_q', 'too_long', '{"n": 4}',
         options => '{"cancellation": {"max_duration": 1}}') \gset
SELECT run_id AS r4 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'r4', '2000-01-01 00:00:00+00') AS slept;
-- (superuser: the first start 10 seconds ago, past max_duration)
UPDATE durable_tasks.t_sl_q SET first_started_at = first_started_at - interval '10 s' WHERE task_id = :'t4';
SELECT count(*) AS claimed FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT * FROM public.run_and_task('sl_q', :'r4');
SELECT state FROM durable_tasks.get_task('sl_q', :'t4');
-- within max_duration: handed out
SELECT task_id AS t5 FROM durable_tasks.spawn_task('sl_q', 'in_time', '{"n": 5}',
         options => '{"cancellation": {"max_duration": 3600}}') \gset
SELECT run_id AS r5 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'r5', '2000-01-01 00:00:00+00') AS slept;
UPDATE durable_tasks.t_sl_q SET first_started_at = first_started_at - interval '10 s' WHERE task_id = :'t5';
SELECT run_id = :'r5' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT durable_tasks.complete_run('sl_q', :'r5');
-- max_delay does not apply after the first start: a wake time far longer
-- ago than max_delay still hands the run out
SELECT task_id AS t6 FROM durable_tasks.spawn_task('sl_q', 'late_wake', '{"n": 6}',
         options => '{"cancellation": {"max_delay": 1}}') \gset
SELECT run_id AS r6 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'r6', '2000-01-01 00:00:00+00') AS slept;
SELECT run_id = :'r6' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT * FROM public.run_and_task('sl_q', :'r6');
SELECT durable_tasks.complete_run('sl_q', :'r6');

--
-- A sleeping task still holds its idempotency key (SPEC 4.1): a spawn
-- with the key returns it, sleeping, and creates nothing
--
SELECT task_id AS tk FROM durable_tasks.spawn_task('sl_q', 'keyed', '{"n": 11}', idempotency_key => 'sl-key') \gset
SELECT run_id AS rk FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT durable_tasks.sleep_run('sl_q', :'rk', clock_timestamp() + interval '1 hour') AS slept;
SELECT task_id = :'tk' AS same_task, run_id = :'rk' AS same_run, attempt, created, state
  FROM durable_tasks.spawn_task('sl_q', 'keyed', '{"n": 11}', idempotency_key => 'sl-key');
SELECT count(*) AS keyed_tasks FROM durable_tasks.t_sl_q WHERE task_name = 'keyed';
SELECT durable_tasks.cancel_task('sl_q', :'tk') AS cancelled;

--
-- Only the holder of a live lease sleeps: a pending run, an expired lease
-- (before and after the sweep), a failed run, unknown runs
--
SELECT task_id AS t7, run_id AS r7 FROM durable_tasks.spawn_task('sl_q', 'delayed', '{"n": 7}',
         options => '{"delay_seconds": 3600}') \gset
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r7', '2000-01-01 00:00:00+00')) AS pending_run;
SELECT task_id AS t8 FROM durable_tasks.spawn_task('sl_q', 'expires', '{"n": 8}',
         options => '{"max_attempts": 1}') \gset
SELECT run_id AS r8 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
-- (superuser: the lease ended a second ago; a direct write, behind this
-- backend's sweep floor, so sweeps scan it all from here on)
UPDATE durable_tasks.r_sl_q SET claim_expires_at = clock_timestamp() - interval '1 s' WHERE run_id = :'r8';
SET durable_tasks.claim_full_scan_interval = 0;
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r8', '2000-01-01 00:00:00+00')) AS expired;
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r8', '2999-01-01 00:00:00+00')) AS expired;
SELECT * FROM public.run_and_task('sl_q', :'r8');
-- the sweep fails it (max_attempts 1): failed
SELECT count(*) AS claimed FROM durable_tasks.claim_task('sl_q', 'w1');
SELECT * FROM public.run_and_task('sl_q', :'r8');
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r8', '2000-01-01 00:00:00+00')) AS failed_run;
-- unknown: a made-up id, a task id, a run of another queue
SELECT pg_temp.try($$SELECT durable_tasks.sleep_run('sl_q', '00000000-0000-7000-8000-000000000000', now())$$) AS unknown;
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_q', :'t8')) AS task_id;
SELECT durable_tasks.create_queue('sl_other');
SELECT count(*) FROM durable_tasks.spawn_task('sl_other', 'elsewhere');
SELECT run_id AS ro FROM durable_tasks.claim_task('sl_other', 'w1') \gset
SELECT pg_temp.try(format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_q', :'ro')) AS other_queue;
SELECT state FROM durable_tasks.r_sl_other WHERE run_id = :'ro';
SELECT durable_tasks.sleep_run('sl_other', :'ro', '2999-01-01 00:00:00+00') AS slept_in_its_queue;
SELECT state FROM durable_tasks.r_sl_other WHERE run_id = :'ro';
SELECT pending, running, sleeping FROM durable_tasks.queue_stats('sl_other');
SELECT durable_tasks.drop_queue('sl_other');

--
-- Bad input: refused, nothing changed, the run still held
--
SELECT task_id AS t9 FROM durable_tasks.spawn_task('sl_q', 'bad_input', '{"n": 9}') \gset
SELECT run_id AS r9 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
SELECT v.n, v.what, pg_temp.try(v.sql) AS result
  FROM (VALUES
    (1, 'queue NULL', format('SELECT durable_tasks.sleep_run(NULL, %L, now())', :'r9')),
    (2, 'queue empty', format('SELECT durable_tasks.sleep_run(%L, %L, now())', '', :'r9')),
    (3, 'queue upper case', format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'SL_Q', :'r9')),
    (4, 'queue with dash', format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl-q', :'r9')),
    (5, 'queue too long', format('SELECT durable_tasks.sleep_run(%L, %L, now())', repeat('a', 49), :'r9')),
    (6, 'queue unknown', format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_nosuch', :'r9')),
    (7, 'run_id NULL', format('SELECT durable_tasks.sleep_run(%L, NULL, now())', 'sl_q')),
    (8, 'run_id not a uuid', format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_q', 'not-a-uuid')),
    (9, 'wake_at NULL', format('SELECT durable_tasks.sleep_run(%L, %L, NULL)', 'sl_q', :'r9')),
    (10, 'wake_at NULL, named', format('SELECT durable_tasks.sleep_run(%L, %L, wake_at => NULL)', 'sl_q', :'r9')),
    (11, 'wake_at infinity', format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r9', 'infinity')),
    (12, 'wake_at -infinity', format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r9', '-infinity')),
    (13, 'wake_at not a time', format('SELECT durable_tasks.sleep_run(%L, %L, %L)', 'sl_q', :'r9', 'tomorrow-ish')),
    (14, 'all NULL', 'SELECT durable_tasks.sleep_run(NULL, NULL, NULL)')
  ) v(n, what, sql)
 ORDER BY v.n;
SELECT * FROM public.run_and_task('sl_q', :'r9');
-- still its holder's to put to sleep
SELECT durable_tasks.sleep_run('sl_q', :'r9', '2999-01-01 00:00:00+00') AS slept;
SELECT * FROM public.run_and_task('sl_q', :'r9');

--
-- Privileges: a worker may, a producer may not (42501, before any lookup)
--
CREATE ROLE sl_producer;
CREATE ROLE sl_worker;
SELECT durable_tasks.grant_queue('sl_q', 'sl_producer', 'producer');
SELECT durable_tasks.grant_queue('sl_q', 'sl_worker', 'worker');
SELECT task_id AS t10 FROM durable_tasks.spawn_task('sl_q', 'roles', '{"n": 10}') \gset
SELECT run_id AS r10 FROM durable_tasks.claim_task('sl_q', 'w1') \gset
-- (the roles cannot read the tables: public.err, and the digest compared
-- as superuser)
SELECT pg_temp.digest() AS d0 \gset
SET ROLE sl_producer;
SELECT public.err(format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_q', :'r10')) AS producer;
SELECT public.err($$SELECT durable_tasks.sleep_run('sl_q', '00000000-0000-7000-8000-000000000000', now())$$) AS producer_unknown_run;
SELECT public.err(format('SELECT durable_tasks.sleep_run(%L, %L, NULL)', 'sl_q', :'r10')) AS producer_null_wake;
RESET ROLE;
SELECT pg_temp.digest() = :'d0' AS unchanged;
SELECT * FROM public.run_and_task('sl_q', :'r10');
SET ROLE sl_worker;
SELECT durable_tasks.sleep_run('sl_q', :'r10', '2000-01-01 00:00:00+00') AS worker_slept;
RESET ROLE;
SELECT * FROM public.run_and_task('sl_q', :'r10');
SET ROLE sl_worker;
SELECT run_id = :'r10' AS same_run, attempt FROM durable_tasks.claim_task('sl_q', 'sl-worker');
SELECT public.err($$SELECT durable_tasks.sleep_run('sl_q', '00000000-0000-7000-8000-000000000000', now())$$) AS worker_unknown_run;
SELECT durable_tasks.complete_run('sl_q', :'r10');
RESET ROLE;
SELECT * FROM public.run_and_task('sl_q', :'r10');
SELECT durable_tasks.revoke_queue('sl_q', 'sl_producer', 'producer');
SELECT durable_tasks.revoke_queue('sl_q', 'sl_worker', 'worker');
DROP ROLE sl_producer;
DROP ROLE sl_worker;

--
-- A queue on the 1.1 layout (simulated: its claim index ri_<q>_due
-- dropped as superuser) cannot have sleeping runs: 55000, the run still
-- held; claim_task still works there
--
SELECT durable_tasks.create_queue('sl_old');
SELECT count(*) FROM durable_tasks.spawn_task('sl_old', 'old', '{"n": 1}');
SELECT run_id AS rold FROM durable_tasks.claim_task('sl_old', 'w1') \gset
DROP INDEX durable_tasks.ri_sl_old_due;
SELECT public.err(format('SELECT durable_tasks.sleep_run(%L, %L, now())', 'sl_old', :'rold')) AS old_layout;
SELECT state, claimed_by FROM durable_tasks.r_sl_old WHERE run_id = :'rold';
SELECT count(*) FROM durable_tasks.spawn_task('sl_old', 'old', '{"n": 2}');
SELECT attempt, task_name, params FROM durable_tasks.claim_task('sl_old', 'w1');
SELECT durable_tasks.complete_run('sl_old', :'rold');
SELECT state, count(*) FROM durable_tasks.r_sl_old GROUP BY state ORDER BY state;
SELECT durable_tasks.drop_queue('sl_old');

-- the ground truth of sl_q at the end, and queue_stats agreeing with it
SELECT t.state AS task_state, r.state AS run_state, count(*)
  FROM durable_tasks.t_sl_q t JOIN durable_tasks.r_sl_q r ON r.run_id = t.last_run_id
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT pending, running, sleeping, completed, failed, cancelled FROM durable_tasks.queue_stats('sl_q');
SELECT durable_tasks.drop_queue('sl_q');
