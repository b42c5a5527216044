--
-- badinput: every SQL function, given NULLs, wrong values and malformed
-- options.  Each error shows as "SQLSTATE: message" (ids masked; for
-- errors raised while parsing an option, the "while parsing option" context
-- is appended in brackets).  Spawns that fail must write nothing.
--
SELECT durable_tasks.create_queue('bi_q');

-- Tasks and runs in the queue bi_q.
CREATE FUNCTION pg_temp.counts() RETURNS text
LANGUAGE sql AS $fn$
    SELECT (SELECT count(*) FROM durable_tasks.t_bi_q) || ' tasks, '
           || (SELECT count(*) FROM durable_tasks.r_bi_q) || ' runs'
$fn$;

-- public.err(sql), and a warning if the queue's row counts changed.
CREATE FUNCTION pg_temp.check(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    before text := pg_temp.counts();
    res    text := public.err(sql);
BEGIN
    IF pg_temp.counts() <> before THEN
        res := res || '  ** WROTE ROWS: ' || before || ' -> ' || pg_temp.counts() || ' **';
    END IF;
    RETURN res;
END
$fn$;

-- spawn_task('bi_q', 'bad', options => opts), without and with a key
CREATE FUNCTION pg_temp.spawn_opts(opts text, key text DEFAULT NULL) RETURNS text
LANGUAGE sql AS $fn$
    SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L, options => %L::jsonb)',
                                'bi_q', 'bad', key, opts))
$fn$;

SELECT pg_temp.counts();

--
-- create_queue(queue_name text, options jsonb DEFAULT '{}')
--
SELECT public.err($$SELECT durable_tasks.create_queue(NULL)$$);
SELECT public.err($$SELECT durable_tasks.create_queue(NULL, '{}')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('Bi_bad')$$);
SELECT public.err(format('SELECT durable_tasks.create_queue(%L)', repeat('b', 49)));
SELECT public.err(format('SELECT durable_tasks.create_queue(%L)', repeat('b', 100000)));
SELECT n, options, public.err(format('SELECT durable_tasks.create_queue(%L, %L::jsonb)', 'bi_bad', options)) AS result
  FROM (VALUES
    (1,  '[]'),
    (2,  '"after_finish"'),
    (3,  '1'),
    (4,  'null'),
    (5,  '{"bogus": 1}'),
    (6,  '{"max_attempts": 3}'),
    (7,  '{"key_reuse": 5}'),
    (8,  '{"key_reuse": null}'),
    (9,  '{"key_reuse": "sometimes"}'),
    (10, '{"key_reuse": "NEVER"}'),
    (11, '{"dedup_ttl_seconds": 0}'),
    (12, '{"dedup_ttl_seconds": -1}'),
    (13, '{"dedup_ttl_seconds": 1.5}'),
    (14, '{"dedup_ttl_seconds": "60"}'),
    (15, '{"dedup_ttl_seconds": 1e10}'),
    (16, '{"dedup_ttl_seconds": true}'),
    (17, '{"on_params_mismatch": "raise"}'),
    (18, '{"on_params_mismatch": 1}'),
    (19, '{"key_reuse": "never", "bogus": 1}')
  ) v(n, options) ORDER BY n;
-- nothing was created
SELECT count(*) AS bad_queues FROM durable_tasks.list_queues() WHERE queue_name NOT LIKE 'bi\_%' AND queue_name LIKE 'b%';
SELECT count(*) AS bi_bad FROM durable_tasks.list_queues() WHERE queue_name = 'bi_bad';

--
-- drop_queue(queue_name text)
--
SELECT public.err($$SELECT durable_tasks.drop_queue(NULL)$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('')$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('bi-q')$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('bi_nosuch')$$);

--
-- list_queues(): no arguments
--
SELECT count(*) >= 1 AS lists FROM durable_tasks.list_queues();
SELECT public.err($$SELECT durable_tasks.list_queues('bi_q')$$);

--
-- alter_queue(queue_name text, options jsonb)
--
SELECT public.err($$SELECT durable_tasks.alter_queue(NULL, '{}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', NULL)$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('', '{}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi q', '{}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_nosuch', '{}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', '[]')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', '{"key_reuse": "x"}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', '{"dedup_ttl_seconds": 0}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', '{"on_params_mismatch": null}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('bi_q', '{"delay_seconds": 1}')$$);
-- the settings did not change
SELECT key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'bi_q';

--
-- 1.2: check_queue and check_queue_options are internal, not SQL
-- functions; their checks are made by the functions that need them
SELECT to_regprocedure('durable_tasks.check_queue(text,boolean)') IS NULL AS check_queue_gone,
       to_regprocedure('durable_tasks.check_queue_options(jsonb)') IS NULL AS check_queue_options_gone;
-- the same options checks, through create_queue
SELECT public.err($$SELECT durable_tasks.create_queue('bi_opts', '[]')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('bi_opts', '"x"')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('bi_opts', '{"bogus": 1}')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('bi_opts', '{"headers": {}}')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('bi_opts', '{"key_reuse": "after_finish", "dedup_ttl_seconds": null, "on_params_mismatch": "error"}')$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('bi_opts')$$);

--
-- spawn_task(queue_name, task_name, params, only_once, idempotency_key, options)
--
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task(NULL, 't')$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 't', NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 't', '{}', NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 't', only_once => NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('', 't')$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('BI_Q', 't')$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_nosuch', 't')$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', '')$$);
SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L)', 'bi_q', repeat('t', 256)));
SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L)', 'bi_q', repeat('é', 128)));
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 't', idempotency_key => '')$$);
SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)', 'bi_q', 't', repeat('k', 513)));
SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)', 'bi_q', 't', repeat('k', 100000)));
-- boundaries that are fine: 255-byte task name, 512-byte key, NULL options
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L)', 'bi_q', repeat('t', 255)));
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)', 'bi_q', 't', repeat('k', 512)));
SELECT public.err($$SELECT durable_tasks.spawn_task('bi_q', 't', options => NULL)$$);
SELECT pg_temp.counts();

-- options: every option with a wrong type and with an out-of-range value
SELECT n, options, pg_temp.spawn_opts(options) AS result
  FROM (VALUES
    -- options itself
    (1,  '[]'),
    (2,  '[{"max_attempts": 1}]'),
    (3,  '"max_attempts"'),
    (4,  '5'),
    (5,  'null'),
    (6,  'true'),
    -- unknown options
    (7,  '{"bogus": 1}'),
    (8,  '{"maxAttempts": 3}'),
    (9,  '{"max_attempts": 3, "delay": 5}'),
    (10, '{"": 1}'),
    -- headers
    (11, '{"headers": "x"}'),
    (12, '{"headers": [1, 2]}'),
    (13, '{"headers": 1}'),
    (14, '{"headers": null}'),
    -- max_attempts
    (15, '{"max_attempts": "3"}'),
    (16, '{"max_attempts": true}'),
    (17, '{"max_attempts": null}'),
    (18, '{"max_attempts": 0}'),
    (19, '{"max_attempts": -1}'),
    (20, '{"max_attempts": 1.5}'),
    (21, '{"max_attempts": 10001}'),
    (22, '{"max_attempts": 2147483648}'),
    (23, '{"max_attempts": 1e400}'),
    -- retry_strategy
    (24, '{"retry_strategy": "fixed"}'),
    (25, '{"retry_strategy": ["fixed", 1]}'),
    (26, '{"retry_strategy": null}'),
    (27, '{"retry_strategy": {}}'),
    (28, '{"retry_strategy": {"base_seconds": 1}}'),
    (29, '{"retry_strategy": {"kind": "linear"}}'),
    (30, '{"retry_strategy": {"kind": "FIXED", "base_seconds": 1}}'),
    (31, '{"retry_strategy": {"kind": 1}}'),
    (32, '{"retry_strategy": {"kind": "fixed"}}'),
    (33, '{"retry_strategy": {"kind": "exponential"}}'),
    (34, '{"retry_strategy": {"kind": "fixed", "base_seconds": -1}}'),
    (35, '{"retry_strategy": {"kind": "fixed", "base_seconds": "5"}}'),
    (36, '{"retry_strategy": {"kind": "fixed", "base_seconds": 315360001}}'),
    (37, '{"retry_strategy": {"kind": "exponential", "base_seconds": 1, "factor": 0.5}}'),
    (38, '{"retry_strategy": {"kind": "exponential", "base_seconds": 1, "factor": 101}}'),
    (39, '{"retry_strategy": {"kind": "exponential", "base_seconds": 1, "factor": "2"}}'),
    (40, '{"retry_strategy": {"kind": "exponential", "base_seconds": 1, "max_seconds": -5}}'),
    (41, '{"retry_strategy": {"kind": "exponential", "base_seconds": 10, "max_seconds": 5}}'),
    (42, '{"retry_strategy": {"kind": "fixed", "base_seconds": 1, "jitter": true}}'),
    -- available_at and delay_seconds
    (43, '{"available_at": 1700000000}'),
    (44, '{"available_at": "garbage"}'),
    (45, '{"available_at": ""}'),
    (46, '{"available_at": null}'),
    (47, '{"available_at": "2030-02-30 00:00:00+00"}'),
    (48, '{"available_at": "2030-01-01 00:00:00+00", "delay_seconds": 10}'),
    (49, '{"delay_seconds": 0, "available_at": "2030-01-01 00:00:00+00"}'),
    (50, '{"delay_seconds": -1}'),
    (51, '{"delay_seconds": "10"}'),
    (52, '{"delay_seconds": null}'),
    (53, '{"delay_seconds": 315360001}'),
    (54, '{"delay_seconds": 1e400}'),
    -- cancellation
    (55, '{"cancellation": 60}'),
    (56, '{"cancellation": "max_delay"}'),
    (57, '{"cancellation": null}'),
    (58, '{"cancellation": {"max_delay": 0}}'),
    (59, '{"cancellation": {"max_delay": -1}}'),
    (60, '{"cancellation": {"max_delay": "60"}}'),
    (61, '{"cancellation": {"max_duration": 0.5}}'),
    (62, '{"cancellation": {"max_duration": 315360001}}'),
    (63, '{"cancellation": {"timeout": 60}}'),
    -- parent_task_id
    (64, '{"parent_task_id": "not-a-uuid"}'),
    (65, '{"parent_task_id": 42}'),
    (66, '{"parent_task_id": null}'),
    (67, '{"parent_task_id": ""}'),
    (68, '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}'),
    -- deduplication options
    (69, '{"key_reuse": "sometimes"}'),
    (70, '{"key_reuse": 1}'),
    (71, '{"key_reuse": null}'),
    (72, '{"dedup_ttl_seconds": 0}'),
    (73, '{"dedup_ttl_seconds": -5}'),
    (74, '{"dedup_ttl_seconds": 2.5}'),
    (75, '{"dedup_ttl_seconds": "60"}'),
    (76, '{"dedup_ttl_seconds": 315360001}'),
    (77, '{"on_params_mismatch": "raise"}'),
    (78, '{"on_params_mismatch": false}'),
    -- one bad option among good ones
    (79, '{"headers": {}, "max_attempts": 3, "retry_strategy": {"kind": "none"}, "bogus": 1}'),
    (80, '{"headers": {}, "max_attempts": 3, "cancellation": {"max_delay": 10, "max_duration": 0}}')
  ) v(n, options) ORDER BY n;
SELECT pg_temp.counts();
-- the same options with an idempotency key (a miss: a new key)
SELECT n, options, pg_temp.spawn_opts(options, 'bi-miss-' || n) AS result
  FROM (VALUES
    (1,  '[]'),
    (2,  '{"bogus": 1}'),
    (3,  '{"max_attempts": 0}'),
    (4,  '{"headers": "x"}'),
    (5,  '{"retry_strategy": {"kind": "linear"}}'),
    (6,  '{"available_at": "garbage"}'),
    (7,  '{"available_at": "2030-01-01 00:00:00+00", "delay_seconds": 10}'),
    (8,  '{"cancellation": {"max_delay": 0}}'),
    (9,  '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}'),
    (10, '{"key_reuse": "sometimes"}'),
    (11, '{"dedup_ttl_seconds": 0}'),
    (12, '{"on_params_mismatch": "raise"}')
  ) v(n, options) ORDER BY n;
SELECT pg_temp.counts();
-- ... and when the key is already held (a hit): the options are checked all
-- the same, whether or not a task has to be created
SELECT created FROM durable_tasks.spawn_task('bi_q', 'held', idempotency_key => 'bi-held');
SELECT created FROM durable_tasks.spawn_task('bi_q', 'held', only_once => true);
SELECT n, options, pg_temp.spawn_opts(options, 'bi-held') AS result
  FROM (VALUES
    (1,  '[]'),
    (2,  '{"bogus": 1}'),
    (3,  '{"max_attempts": 0}'),
    (4,  '{"headers": "x"}'),
    (5,  '{"retry_strategy": {"kind": "linear"}}'),
    (6,  '{"available_at": "garbage"}'),
    (7,  '{"available_at": "2030-01-01 00:00:00+00", "delay_seconds": 10}'),
    (8,  '{"cancellation": {"max_delay": 0}}'),
    (9,  '{"key_reuse": "sometimes"}'),
    (10, '{"dedup_ttl_seconds": 0}'),
    (11, '{"on_params_mismatch": "raise"}')
  ) v(n, options) ORDER BY n;
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 'held', only_once => true, options => '{"bogus": 1}')$$);
SELECT pg_temp.check($$SELECT durable_tasks.spawn_task('bi_q', 'held', only_once => true, options => '{"max_attempts": -1}')$$);
SELECT pg_temp.counts();
-- a parent in another queue is unknown here
SELECT durable_tasks.create_queue('bi_other');
SELECT task_id AS other_task FROM durable_tasks.spawn_task('bi_other', 'x') \gset
SELECT pg_temp.check(format('SELECT durable_tasks.spawn_task(%L, %L, options => %L)', 'bi_q', 't',
                            jsonb_build_object('parent_task_id', :'other_task')));
SELECT durable_tasks.drop_queue('bi_other');
SELECT pg_temp.counts();

--
-- claim_task(queue_name, worker_id, claim_timeout_seconds DEFAULT 30, qty DEFAULT 1)
--
SELECT pg_temp.check($$SELECT durable_tasks.claim_task(NULL, 'w')$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', '')$$);
SELECT pg_temp.check(format('SELECT durable_tasks.claim_task(%L, %L)', 'bi_q', repeat('w', 256)));
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', 0)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', -30)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', 86401)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', 2147483647)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', qty => NULL)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', qty => 0)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', qty => -1)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', qty => 1001)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_q', 'w', qty => -2147483648)$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('', 'w')$$);
SELECT pg_temp.check($$SELECT durable_tasks.claim_task('bi_nosuch', 'w')$$);
-- none of them claimed anything
SELECT count(*) AS running FROM durable_tasks.r_bi_q WHERE state <> 'pending';
-- the boundaries are fine: a 255-byte worker id, 1 and 86400 seconds, qty 1 and 1000
SELECT count(*) AS claimed FROM durable_tasks.claim_task('bi_q', repeat('w', 255), 1, 1);
SELECT count(*) AS claimed FROM durable_tasks.claim_task('bi_q', 'w', 86400, 1000);

--
-- extend_claim(queue_name, run_id, seconds)
--
SELECT run_id AS run FROM durable_tasks.r_bi_q WHERE claimed_by = 'w' ORDER BY run_id LIMIT 1 \gset
SELECT public.err(format('SELECT durable_tasks.extend_claim(NULL, %L, 10)', :'run'));
SELECT public.err($$SELECT durable_tasks.extend_claim('bi_q', NULL, 10)$$);
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, NULL)', 'bi_q', :'run'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 0)', 'bi_q', :'run'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, -10)', 'bi_q', :'run'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 86401)', 'bi_q', :'run'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 10)', 'bi_nosuch', :'run'));
SELECT public.err($$SELECT durable_tasks.extend_claim('bi_q', '00000000-0000-7000-8000-000000000000', 10)$$);
SELECT public.err($$SELECT durable_tasks.extend_claim('bi_q', 'not-a-uuid', 10)$$);

--
-- complete_run(queue_name, run_id, result DEFAULT NULL)
--
SELECT public.err(format('SELECT durable_tasks.complete_run(NULL, %L)', :'run'));
SELECT public.err($$SELECT durable_tasks.complete_run('bi_q', NULL)$$);
SELECT public.err($$SELECT durable_tasks.complete_run('bi_q', NULL, '{}')$$);
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', '', :'run'));
SELECT public.err($$SELECT durable_tasks.complete_run('bi_q', '00000000-0000-7000-8000-000000000000', '{}')$$);

--
-- fail_run(queue_name, run_id, reason DEFAULT NULL)
--
SELECT public.err(format('SELECT durable_tasks.fail_run(NULL, %L)', :'run'));
SELECT public.err($$SELECT durable_tasks.fail_run('bi_q', NULL)$$);
SELECT public.err($$SELECT durable_tasks.fail_run('bi_q', NULL, '{}')$$);
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'BI_Q', :'run'));
SELECT public.err($$SELECT durable_tasks.fail_run('bi_q', '00000000-0000-7000-8000-000000000000', '{}')$$);
-- the run is untouched by all of the above
SELECT state, length(claimed_by) AS worker_id_length FROM durable_tasks.r_bi_q WHERE run_id = :'run';

--
-- cancel_task(queue_name, task_id)
--
SELECT task_id AS task FROM durable_tasks.r_bi_q WHERE run_id = :'run' \gset
SELECT public.err(format('SELECT durable_tasks.cancel_task(NULL, %L)', :'task'));
SELECT public.err($$SELECT durable_tasks.cancel_task('bi_q', NULL)$$);
SELECT public.err(format('SELECT durable_tasks.cancel_task(%L, %L)', '', :'task'));
SELECT public.err(format('SELECT durable_tasks.cancel_task(%L, %L)', 'bi_nosuch', :'task'));
SELECT public.err($$SELECT durable_tasks.cancel_task('bi_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT state FROM durable_tasks.get_task('bi_q', :'task');

--
-- get_task(queue_name, task_id)
--
SELECT public.err(format('SELECT durable_tasks.get_task(NULL, %L)', :'task'));
SELECT public.err($$SELECT durable_tasks.get_task('bi_q', NULL)$$);
SELECT public.err(format('SELECT durable_tasks.get_task(%L, %L)', '', :'task'));
SELECT public.err(format('SELECT durable_tasks.get_task(%L, %L)', 'bi_nosuch', :'task'));
SELECT public.err($$SELECT durable_tasks.get_task('bi_q', '00000000-0000-7000-8000-000000000000')$$);
-- a run id is not a task id
SELECT public.err(format('SELECT durable_tasks.get_task(%L, %L)', 'bi_q', :'run'));

--
-- task_fingerprint(task_name, params)
--
SELECT public.err($$SELECT durable_tasks.task_fingerprint(NULL, '{}')$$);
SELECT public.err($$SELECT durable_tasks.task_fingerprint('t', NULL)$$);
SELECT public.err($$SELECT durable_tasks.task_fingerprint(NULL, NULL)$$);
SELECT public.err($$SELECT durable_tasks.task_fingerprint('', '{}')$$);
SELECT public.err(format('SELECT durable_tasks.task_fingerprint(%L, %L)', repeat('t', 256), '{}'));

-- nothing was half-written: every task has its runs and its last run
SELECT count(*) AS tasks,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM durable_tasks.r_bi_q r
                                       WHERE r.run_id = t.last_run_id AND r.task_id = t.task_id)) AS with_last_run,
       (SELECT count(*) FROM durable_tasks.r_bi_q r
         WHERE NOT EXISTS (SELECT 1 FROM durable_tasks.t_bi_q t2 WHERE t2.task_id = r.task_id)) AS orphan_runs
  FROM durable_tasks.t_bi_q t;
SELECT pg_temp.counts();

SELECT durable_tasks.drop_queue('bi_q');
