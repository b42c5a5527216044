--
-- finish: complete_run, fail_run, retry strategies, max_attempts,
-- cancellation deadlines (max_delay, max_duration).
--
-- Run a task through failures: claim its newest run, fail it, record the
-- retry delay (retry_available_at - clock_timestamp() right after the
-- call, which computed it from the clock; rounded to 0.1 s), make the
-- retry due at once, until the task fails for good.
CREATE TEMP TABLE delays (label text, attempt int, task_state text,
                          delay_seconds numeric, retry_attempt int);
CREATE FUNCTION pg_temp.fail_until_done(q text, label text, tid uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    c  record;
    f  record;
BEGIN
    LOOP
        SELECT * INTO c FROM durable_tasks.claim_task(q, 'w-' || label) cl
         WHERE cl.task_id = tid;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'nothing claimed for %', label;
        END IF;
        SELECT * INTO f FROM durable_tasks.fail_run(q, c.run_id,
                                 jsonb_build_object('attempt', c.attempt));
        INSERT INTO delays VALUES (label, c.attempt, f.task_state,
                                   round(extract(epoch FROM f.retry_available_at - clock_timestamp()), 1),
                                   f.retry_attempt);
        EXIT WHEN f.retry_run_id IS NULL;
        EXECUTE format('UPDATE durable_tasks.%I SET available_at = now() WHERE run_id = $1',
                       'r_' || q) USING f.retry_run_id;
    END LOOP;
END
$fn$;

SELECT durable_tasks.create_queue('fi_q');

--
-- complete_run: the run and its task are completed with the result
--
SELECT task_id AS ct, run_id AS cr FROM durable_tasks.spawn_task('fi_q', 'complete_me', '{"x": 1}') \gset
SELECT run_id = :'cr' AS claimed_it FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT durable_tasks.complete_run('fi_q', :'cr', '{"answer": 42, "list": [1, 2]}');
SELECT state, attempts, result, failure, finished_at IS NOT NULL AS finished,
       finished_at >= first_started_at AS finished_after_start
  FROM durable_tasks.get_task('fi_q', :'ct');
SELECT state, result, claimed_by, finished_at IS NOT NULL AS finished
  FROM durable_tasks.r_fi_q WHERE run_id = :'cr';
-- completing or failing it again is an error (55000), nothing changes
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L, %L)', 'fi_q', :'cr', '{"answer": 0}'));
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L, %L)', 'fi_q', :'cr', '{"e": 1}'));
SELECT state, result, failure FROM durable_tasks.get_task('fi_q', :'ct');
-- a completed task is not claimable again
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1', qty => 10);
-- a NULL (or omitted) result is allowed
SELECT task_id AS nt, run_id AS nr FROM durable_tasks.spawn_task('fi_q', 'no_result') \gset
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT durable_tasks.complete_run('fi_q', :'nr');
SELECT state, result IS NULL AS null_result FROM durable_tasks.get_task('fi_q', :'nt');
-- a pending (never claimed) run cannot be completed; an unknown run is P0002
SELECT task_id AS pt, run_id AS pr FROM durable_tasks.spawn_task('fi_q', 'pending',
         options => '{"delay_seconds": 3600}') \gset
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'fi_q', :'pr'));
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'fi_q', :'pr'));
SELECT public.err($$SELECT durable_tasks.complete_run('fi_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.fail_run('fi_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT state, attempts FROM durable_tasks.get_task('fi_q', :'pt');
-- a task id is not a run id
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'fi_q', :'pt'));
SELECT durable_tasks.cancel_task('fi_q', :'pt');

--
-- fail_run with attempts left: the run fails, a new pending run follows
--
SELECT task_id AS ft, run_id AS fr FROM durable_tasks.spawn_task('fi_q', 'fail_me',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 7}}') \gset
BEGIN;
SELECT run_id = :'fr' AS claimed_it FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT task_id = :'ft' AS same_task, task_state, retry_run_id IS NOT NULL AS has_retry,
       retry_run_id <> :'fr' AS new_run, retry_attempt,
       round(extract(epoch FROM retry_available_at - now()), 1) = 7 AS now_plus_base
  FROM durable_tasks.fail_run('fi_q', :'fr', '{"error": "boom"}');
SELECT round(extract(epoch FROM available_at - now()), 1) = 7 AS stored_now_plus_base
  FROM durable_tasks.r_fi_q WHERE task_id = :'ft' AND attempt = 2;
COMMIT;
SELECT run_id AS fr2 FROM durable_tasks.r_fi_q WHERE task_id = :'ft' AND attempt = 2 \gset
SELECT state, attempts, failure, result, finished_at IS NULL AS not_finished,
       last_run_id = :'fr2' AS last_run_is_retry
  FROM durable_tasks.get_task('fi_q', :'ft');
SELECT attempt, state, failure, claimed_by,
       finished_at IS NOT NULL AS finished
  FROM durable_tasks.r_fi_q WHERE task_id = :'ft' ORDER BY attempt;
-- the retry is not claimable before its time
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1');
-- failing the failed run again is an error
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'fi_q', :'fr'));
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'fi_q', :'fr'));
-- once due, the retry is claimed with attempt 2; it can complete the task
UPDATE durable_tasks.r_fi_q SET available_at = now() WHERE run_id = :'fr2';
SELECT run_id = :'fr2' AS retry_run, attempt FROM durable_tasks.claim_task('fi_q', 'w2');
SELECT durable_tasks.complete_run('fi_q', :'fr2', '{"second": "time lucky"}');
SELECT state, attempts, result, failure FROM durable_tasks.get_task('fi_q', :'ft');

--
-- Retry delays, attempt by attempt, until max_attempts fails the task
--
-- fixed 7 s, 3 attempts
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'fixed',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 7}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'fixed', :'t');
-- fixed 0 s and kind none: retried at once
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'fixed0',
         options => '{"max_attempts": 2, "retry_strategy": {"kind": "fixed", "base_seconds": 0}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'fixed0', :'t');
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'none',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "none"}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'none', :'t');
-- fractional seconds
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'fixed_half',
         options => '{"max_attempts": 2, "retry_strategy": {"kind": "fixed", "base_seconds": 0.5}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'fixed_half', :'t');
-- exponential: base * factor^(attempt-1), capped at max_seconds
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'exp_capped',
         options => '{"max_attempts": 6, "retry_strategy": {"kind": "exponential", "base_seconds": 2, "factor": 3, "max_seconds": 50}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'exp_capped', :'t');
-- exponential, factor defaults to 2, no cap given
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'exp_default_factor',
         options => '{"max_attempts": 5, "retry_strategy": {"kind": "exponential", "base_seconds": 10}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'exp_default_factor', :'t');
-- without a cap the delay still stops at 10 years (315360000 s)
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'exp_uncapped',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "exponential", "base_seconds": 100000000, "factor": 100}}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'exp_uncapped', :'t');
-- the default strategy (exponential 1 s, factor 2, cap 3600 s) and the
-- default max_attempts (5)
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'defaults') \gset
SELECT pg_temp.fail_until_done('fi_q', 'defaults', :'t');
-- max_attempts 1: the first failure is final
SELECT task_id AS t FROM durable_tasks.spawn_task('fi_q', 'one_shot',
         options => '{"max_attempts": 1}') \gset
SELECT pg_temp.fail_until_done('fi_q', 'one_shot', :'t');
SELECT label, attempt, task_state, delay_seconds, retry_attempt FROM delays
 ORDER BY label, attempt;

-- the failed tasks: state failed, finished, the last reason as failure, one
-- run per attempt, all failed, nothing left to claim
SELECT t.task_name, t.state, t.attempts, t.max_attempts, t.failure,
       t.finished_at IS NOT NULL AS finished,
       (SELECT count(*) FROM durable_tasks.r_fi_q r WHERE r.task_id = t.task_id) AS runs,
       (SELECT count(*) FROM durable_tasks.r_fi_q r
         WHERE r.task_id = t.task_id AND r.state = 'failed') AS failed_runs,
       (SELECT r.attempt FROM durable_tasks.r_fi_q r WHERE r.run_id = t.last_run_id) AS last_run_attempt
  FROM durable_tasks.t_fi_q t
 WHERE t.task_name IN (SELECT label FROM delays)
 ORDER BY t.task_name;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1', qty => 100);

-- the final fail_run returns the task with state failed and no retry
SELECT task_id AS lt, run_id AS lr FROM durable_tasks.spawn_task('fi_q', 'last',
         options => '{"max_attempts": 1}') \gset
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT task_id = :'lt' AS same_task, task_state, retry_run_id, retry_attempt, retry_available_at
  FROM durable_tasks.fail_run('fi_q', :'lr', '{"fatal": true}');
SELECT state, attempts, failure FROM durable_tasks.get_task('fi_q', :'lt');
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'fi_q', :'lr'));
-- a NULL (or omitted) reason is allowed
SELECT task_id AS lt, run_id AS lr FROM durable_tasks.spawn_task('fi_q', 'no_reason',
         options => '{"max_attempts": 1}') \gset
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT task_state FROM durable_tasks.fail_run('fi_q', :'lr');
SELECT state, failure IS NULL AS null_failure FROM durable_tasks.get_task('fi_q', :'lt');

--
-- Cancellation deadlines, enforced when the run would be claimed:
--   max_delay:    the task must first start within max_delay seconds of
--                 becoming available
--   max_duration: a retry must not start more than max_duration seconds
--                 after the task first started
--
SELECT task_id AS okt FROM durable_tasks.spawn_task('fi_q', 'in_time',
         options => '{"cancellation": {"max_delay": 3600, "max_duration": 3600}}') \gset
SELECT task_name FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT task_id AS durt, run_id AS durr FROM durable_tasks.spawn_task('fi_q', 'too_long',
         options => '{"cancellation": {"max_duration": 1}, "retry_strategy": {"kind": "none"}}') \gset
SELECT task_name FROM durable_tasks.claim_task('fi_q', 'w1');
SELECT task_id AS delt, run_id AS delr FROM durable_tasks.spawn_task('fi_q', 'too_late',
         options => '{"cancellation": {"max_delay": 1}}') \gset
SELECT pg_sleep(1.1);
SELECT task_state, retry_attempt FROM durable_tasks.fail_run('fi_q', :'durr', '{"error": "slow"}');
-- nothing is handed out; both tasks are cancelled instead
SELECT count(*) AS claimed FROM durable_tasks.claim_task('fi_q', 'w1', qty => 10);
SELECT task_name, state, attempts, finished_at IS NOT NULL AS finished
  FROM durable_tasks.t_fi_q WHERE task_id IN (:'durt', :'delt', :'okt') ORDER BY task_name;
SELECT t.task_name, r.attempt, r.state, r.claimed_by, r.finished_at IS NOT NULL AS finished
  FROM durable_tasks.r_fi_q r JOIN durable_tasks.t_fi_q t USING (task_id)
 WHERE r.task_id IN (:'durt', :'delt', :'okt') ORDER BY t.task_name, r.attempt;
-- the task that was claimed in time still completes
SELECT run_id AS okr FROM durable_tasks.r_fi_q WHERE task_id = :'okt' \gset
SELECT durable_tasks.complete_run('fi_q', :'okr', '{"ok": 1}');
SELECT state FROM durable_tasks.get_task('fi_q', :'okt');

-- A run past its deadline must not use up the claim: with qty 1, a claim
-- that finds an expired run first still hands out the ready run behind it.
SELECT task_id AS late2 FROM durable_tasks.spawn_task('fi_q', 'too_late_2',
         options => '{"cancellation": {"max_delay": 1}}') \gset
SELECT pg_sleep(1.1);
SELECT task_id AS readyt FROM durable_tasks.spawn_task('fi_q', 'ready') \gset
SELECT task_name FROM durable_tasks.claim_task('fi_q', 'w1', qty => 1);
SELECT task_name FROM durable_tasks.claim_task('fi_q', 'w1', qty => 1);
SELECT task_name, state FROM durable_tasks.t_fi_q
 WHERE task_id IN (:'late2', :'readyt') ORDER BY task_name;

SELECT durable_tasks.drop_queue('fi_q');
