--
-- cleanup: cleanup_tasks (SPEC 5.5, issue 8) in a single session.
--   1. the policy table: every queue default (after_failure without and
--      with dedup_ttl_seconds, after_finish, never) x final state
--      (completed, failed, cancelled) x key (held, none, released): which
--      tasks one call deletes; live tasks (pending, running) never go
--   2. the key afterwards: a deleted holder's key makes a new task, a kept
--      holder's key hits it
--   3. older_than boundaries: a task finished just now is kept with
--      '1 hour' and deleted with '0'; backdated tasks around the cutoff;
--      dedup_ttl_seconds past and not yet past
--   4. the queue's defaults at the call decide (alter_queue), not the
--      spawn's options
--   5. batch_size: exactly batch_size per call, repeated until 0
--   6. runs and checkpoints go with their task; the failed runs (and the
--      checkpoints) of a live retried task stay
--   7. privileges: producer and worker 42501, admin allowed, denial before
--      lookup; a denied call deletes nothing
--   8. bad input for every argument; nothing deleted
-- and after each section queue_stats agrees with the task table.
--
-- To make a task "old" the suite, running as superuser, backdates
-- finished_at of the task (t_<q>) and of its runs (r_<q>) directly:
-- pg_temp.backdate(q, task_id, interval).  Otherwise it uses older_than
-- '0' (everything finished before the call).
--
-- Ids and timestamps are never printed: only comparisons and counts.
-- Queues are cl_*, roles cl_*; all are dropped at the end.
--
SELECT durable_tasks.create_queue('cl_af');
SELECT durable_tasks.create_queue('cl_ttl', '{"dedup_ttl_seconds": 3600}');
SELECT durable_tasks.create_queue('cl_fin', '{"key_reuse": "after_finish"}');
SELECT durable_tasks.create_queue('cl_nev', '{"key_reuse": "never"}');
SELECT queue_name, key_reuse, dedup_ttl_seconds FROM durable_tasks.list_queues()
 WHERE queue_name LIKE 'cl\_%' ORDER BY queue_name;

-- make_task(q, kind, final_state): a task of queue q that ends in
-- final_state (pending, running, completed, failed, cancelled).  kind:
--   keyed     it holds the key <kind>-<state>
--   unkeyed   no key
--   released  it had the key <kind>-<state> and gave it up: a second
--             spawn with key_reuse 'after_finish' made a new (pending)
--             holder of the key
CREATE FUNCTION pg_temp.make_task(q text, kind text, final_state text) RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
    k text := CASE WHEN kind = 'unkeyed' THEN NULL ELSE kind || '-' || final_state END;
    s record;
    c uuid;
    n record;
BEGIN
    SELECT * INTO s FROM durable_tasks.spawn_task(q, 'job', jsonb_build_object('kind', kind),
                          idempotency_key => k,
                          options => '{"max_attempts": 1, "delay_seconds": 3600}');
    IF NOT s.created THEN
        RAISE EXCEPTION 'make_task: % % % was not created', q, kind, final_state;
    END IF;
    IF final_state = 'cancelled' THEN
        PERFORM durable_tasks.cancel_task(q, s.task_id);
    ELSIF final_state <> 'pending' THEN
        c := public.claim_one(q, s.task_id);
        IF final_state = 'completed' THEN
            PERFORM durable_tasks.complete_run(q, c, '{"done": true}');
        ELSIF final_state = 'failed' THEN
            PERFORM durable_tasks.fail_run(q, c, '{"error": "x"}');
        END IF;
    END IF;
    IF kind = 'released' THEN
        SELECT * INTO n FROM durable_tasks.spawn_task(q, 'job', jsonb_build_object('kind', 'new holder'),
                              idempotency_key => k,
                              options => '{"key_reuse": "after_finish", "delay_seconds": 3600}');
        IF NOT n.created OR n.task_id = s.task_id THEN
            RAISE EXCEPTION 'make_task: % % % did not release its key', q, kind, final_state;
        END IF;
    END IF;
    RETURN s.task_id;
END
$fn$;

-- Backdate a task's finish, and its runs' (superuser only: a direct write
-- to the queue tables).
CREATE FUNCTION pg_temp.backdate(q text, tid uuid, ago interval) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('UPDATE durable_tasks.%I SET finished_at = finished_at - $2 WHERE task_id = $1', 't_' || q)
      USING tid, ago;
    EXECUTE format('UPDATE durable_tasks.%I SET finished_at = finished_at - $2,
                                               started_at = started_at - $2
                     WHERE task_id = $1 AND finished_at IS NOT NULL', 'r_' || q)
      USING tid, ago;
END
$fn$;

-- Is the task still there?  How many runs, checkpoints does it have?
CREATE FUNCTION pg_temp.exists(q text, tid uuid) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    b boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM durable_tasks.%I WHERE task_id = $1)', 't_' || q)
      INTO b USING tid;
    RETURN b;
END
$fn$;
CREATE FUNCTION pg_temp.nruns(q text, tid uuid) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I WHERE task_id = $1', 'r_' || q)
      INTO n USING tid;
    RETURN n;
END
$fn$;
CREATE FUNCTION pg_temp.ncheckpoints(q text, tid uuid) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I WHERE task_id = $1', 'c_' || q)
      INTO n USING tid;
    RETURN n;
END
$fn$;
-- All the tasks, runs and checkpoints of a queue.
CREATE FUNCTION pg_temp.counts(q text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    t bigint;
    r bigint;
    c bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I', 't_' || q) INTO t;
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I', 'r_' || q) INTO r;
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I', 'c_' || q) INTO c;
    RETURN t || ' tasks, ' || r || ' runs, ' || c || ' checkpoints';
END
$fn$;
-- queue_stats against the task table itself (as in the stats suite).
CREATE FUNCTION pg_temp.stats_match(q text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    truth bigint[];
BEGIN
    EXECUTE format('SELECT array_agg((SELECT count(*) FROM durable_tasks.%I t WHERE t.state = s.state) ORDER BY s.n)
                      FROM unnest(ARRAY[''pending'', ''running'', ''sleeping'', ''completed'', ''failed'', ''cancelled''])
                           WITH ORDINALITY s(state, n)', 't_' || q) INTO truth;
    RETURN truth = (SELECT ARRAY[s.pending, s.running, s.sleeping, s.completed, s.failed, s.cancelled]
                      FROM durable_tasks.queue_stats(q) s);
END
$fn$;

--
-- 1. The policy table
--
-- Per queue: one task per (kind, final state), and two live holders and a
-- live task without key.
CREATE TEMP TABLE cases AS
SELECT q.qn, q.queue, k.kind, s.state, pg_temp.make_task(q.queue, k.kind, s.state) AS task_id
  FROM (VALUES (1, 'cl_af'), (2, 'cl_ttl'), (3, 'cl_fin'), (4, 'cl_nev')) q(qn, queue),
       (VALUES (1, 'keyed'), (2, 'unkeyed'), (3, 'released')) k(kn, kind),
       (VALUES (1, 'completed'), (2, 'failed'), (3, 'cancelled')) s(sn, state)
 ORDER BY q.qn, k.kn, s.sn;
INSERT INTO cases
SELECT q.qn, q.queue, k.kind, s.state, pg_temp.make_task(q.queue, k.kind, s.state)
  FROM (VALUES (1, 'cl_af'), (2, 'cl_ttl'), (3, 'cl_fin'), (4, 'cl_nev')) q(qn, queue),
       (VALUES (1, 'keyed'), (2, 'unkeyed')) k(kn, kind),
       (VALUES (1, 'pending'), (2, 'running')) s(sn, state)
 ORDER BY q.qn, k.kn, s.sn;
-- every task is in its state, holding its key or not
SELECT c.kind, c.state,
       bool_and(t.state = c.state) AS in_state,
       bool_and((t.idempotency_key IS NOT NULL) = (c.kind <> 'unkeyed')) AS key_ok,
       bool_and((t.key_released_at IS NOT NULL) = (c.kind = 'released')) AS released_ok,
       bool_and(t.finished_at IS NOT NULL) AS finished,
       count(*) AS queues
  FROM cases c, LATERAL durable_tasks.get_task(c.queue, c.task_id) t
 GROUP BY c.kind, c.state ORDER BY c.kind, c.state;
SELECT queue, pg_temp.counts(queue) FROM cases GROUP BY qn, queue ORDER BY qn;

-- everything finished just now: older_than '1 hour' deletes nothing
SELECT q AS queue, durable_tasks.cleanup_tasks(q, '1 hour') AS deleted
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;
SELECT count(*) FILTER (WHERE pg_temp.exists(queue, task_id)) AS still_there, count(*) AS tasks FROM cases;
-- ... and neither does any large older_than
SELECT q AS queue, durable_tasks.cleanup_tasks(q, '100 years') AS deleted
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;

-- older_than '0': every task that finished before the call, unless its key
-- still blocks under the queue's defaults.  Expected:
--   cl_af  (after_failure):        keeps keyed-completed
--   cl_ttl (after_failure, 1 h):   keeps keyed-completed (finished < 1 h ago)
--   cl_fin (after_finish):         keeps none
--   cl_nev (never):                keeps every keyed
-- and no queue deletes a pending or running task.
SELECT q AS queue, durable_tasks.cleanup_tasks(q, '0') AS deleted
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;
SELECT c.queue, c.kind, c.state, pg_temp.exists(c.queue, c.task_id) AS kept,
       pg_temp.nruns(c.queue, c.task_id) AS runs
  FROM cases c ORDER BY c.qn, c.kind, c.state;
-- again: nothing left to delete
SELECT q AS queue, durable_tasks.cleanup_tasks(q, '0') AS deleted
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;
-- no run is left without its task
SELECT q AS queue,
       (SELECT count(*) FROM durable_tasks.r_cl_af r WHERE q = 'cl_af'
           AND NOT EXISTS (SELECT 1 FROM durable_tasks.t_cl_af t WHERE t.task_id = r.task_id))
     + (SELECT count(*) FROM durable_tasks.r_cl_ttl r WHERE q = 'cl_ttl'
           AND NOT EXISTS (SELECT 1 FROM durable_tasks.t_cl_ttl t WHERE t.task_id = r.task_id))
     + (SELECT count(*) FROM durable_tasks.r_cl_fin r WHERE q = 'cl_fin'
           AND NOT EXISTS (SELECT 1 FROM durable_tasks.t_cl_fin t WHERE t.task_id = r.task_id))
     + (SELECT count(*) FROM durable_tasks.r_cl_nev r WHERE q = 'cl_nev'
           AND NOT EXISTS (SELECT 1 FROM durable_tasks.t_cl_nev t WHERE t.task_id = r.task_id)) AS orphan_runs
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;
-- queue_stats agrees with the task tables
SELECT q AS queue, pg_temp.stats_match(q) AS stats_match
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q;
SELECT s.queue_name, s.pending, s.running, s.completed, s.failed, s.cancelled
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q, LATERAL durable_tasks.queue_stats(q) s;

--
-- 2. The key afterwards: spawn every key of the table again with the
-- queue's defaults.  A deleted holder: a new task (created = t).  A kept
-- holder: a hit on it.  A released key: a hit on the new holder that
-- make_task left.
--
CREATE TEMP TABLE respawn AS
SELECT c.qn, c.queue, c.kind, c.state, pg_temp.exists(c.queue, c.task_id) AS holder_kept,
       s.created, s.task_id = c.task_id AS returned_holder, s.state AS returned_state
  FROM cases c,
       LATERAL durable_tasks.spawn_task(c.queue, 'job', jsonb_build_object('kind', c.kind),
                 idempotency_key => c.kind || '-' || c.state) s
 WHERE c.kind <> 'unkeyed';
SELECT queue, kind, state, holder_kept, created, returned_holder, returned_state
  FROM respawn ORDER BY qn, kind, state;
-- every key has exactly one holder
SELECT q AS queue, max(n) AS max_holders_per_key
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev']) q,
       LATERAL (SELECT count(*) AS n FROM durable_tasks.t_cl_af WHERE q = 'cl_af' AND idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY idempotency_key
                UNION ALL SELECT count(*) FROM durable_tasks.t_cl_ttl WHERE q = 'cl_ttl' AND idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY idempotency_key
                UNION ALL SELECT count(*) FROM durable_tasks.t_cl_fin WHERE q = 'cl_fin' AND idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY idempotency_key
                UNION ALL SELECT count(*) FROM durable_tasks.t_cl_nev WHERE q = 'cl_nev' AND idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY idempotency_key) x
 GROUP BY q ORDER BY q;

--
-- 3. older_than boundaries
--
-- A task (no key) finished just now: kept with '1 hour', deleted with '0'.
SELECT pg_temp.make_task('cl_af', 'unkeyed', 'completed') AS b1 \gset
SELECT durable_tasks.cleanup_tasks('cl_af', '1 hour') AS deleted_1h,
       pg_temp.exists('cl_af', :'b1') AS kept;
SELECT durable_tasks.cleanup_tasks('cl_af', '0') AS deleted_0,
       pg_temp.exists('cl_af', :'b1') AS kept;
-- Finished 2 hours ago: kept with '3 hours', deleted with '1 hour'.
SELECT pg_temp.make_task('cl_af', 'unkeyed', 'failed') AS b2 \gset
SELECT pg_temp.backdate('cl_af', :'b2', '2 hours');
SELECT durable_tasks.cleanup_tasks('cl_af', '3 hours') AS deleted_3h,
       pg_temp.exists('cl_af', :'b2') AS kept;
SELECT durable_tasks.cleanup_tasks('cl_af', '1 hour') AS deleted_1h,
       pg_temp.exists('cl_af', :'b2') AS kept;
-- interval arithmetic: '1 day' and '1 mon' around a task 2 days old
SELECT pg_temp.make_task('cl_af', 'unkeyed', 'cancelled') AS b3 \gset
SELECT pg_temp.backdate('cl_af', :'b3', '2 days');
SELECT durable_tasks.cleanup_tasks('cl_af', '1 mon') AS deleted_1mon,
       durable_tasks.cleanup_tasks('cl_af', '3 days') AS deleted_3d,
       pg_temp.exists('cl_af', :'b3') AS kept;
SELECT durable_tasks.cleanup_tasks('cl_af', '1 day') AS deleted_1d,
       pg_temp.exists('cl_af', :'b3') AS kept;
-- A completed holder without TTL blocks forever: not even 10 years old goes.
SELECT task_id AS af_hold FROM cases WHERE queue = 'cl_af' AND kind = 'keyed' AND state = 'completed' \gset
SELECT pg_temp.backdate('cl_af', :'af_hold', '10 years');
SELECT durable_tasks.cleanup_tasks('cl_af', '0') AS deleted,
       pg_temp.exists('cl_af', :'af_hold') AS kept;
-- Nor does any holder under 'never'.
SELECT pg_temp.backdate('cl_nev', task_id, '10 years') FROM cases
 WHERE queue = 'cl_nev' AND kind = 'keyed' AND state IN ('completed', 'failed', 'cancelled');
SELECT durable_tasks.cleanup_tasks('cl_nev', '0') AS deleted,
       (SELECT count(*) FROM cases WHERE queue = 'cl_nev' AND kind = 'keyed'
           AND pg_temp.exists(queue, task_id)) AS holders_kept;
-- dedup_ttl_seconds 3600: a completed holder 30 minutes old still blocks
-- (kept even with older_than '0'); one 2 hours old no longer does.
SELECT task_id AS ttl_hold FROM cases WHERE queue = 'cl_ttl' AND kind = 'keyed' AND state = 'completed' \gset
SELECT task_id AS ttl_30m FROM durable_tasks.spawn_task('cl_ttl', 'job', idempotency_key => 'ttl-30m',
         options => '{"max_attempts": 1, "delay_seconds": 3600}') \gset
SELECT durable_tasks.complete_run('cl_ttl', public.claim_one('cl_ttl', :'ttl_30m'), '{}');
SELECT pg_temp.backdate('cl_ttl', :'ttl_30m', '30 minutes');
SELECT pg_temp.backdate('cl_ttl', :'ttl_hold', '2 hours');
-- '3 hours': too young for the cutoff, both kept
SELECT durable_tasks.cleanup_tasks('cl_ttl', '3 hours') AS deleted_3h,
       pg_temp.exists('cl_ttl', :'ttl_hold') AS hold_2h_kept,
       pg_temp.exists('cl_ttl', :'ttl_30m') AS hold_30m_kept;
SELECT durable_tasks.cleanup_tasks('cl_ttl', '0') AS deleted_0,
       pg_temp.exists('cl_ttl', :'ttl_hold') AS hold_2h_kept,
       pg_temp.exists('cl_ttl', :'ttl_30m') AS hold_30m_kept;
-- the deleted TTL holder's key is free, the young one's still hits
SELECT created FROM durable_tasks.spawn_task('cl_ttl', 'job', jsonb_build_object('kind', 'keyed'),
                                             idempotency_key => 'keyed-completed');
SELECT created, task_id = :'ttl_30m' AS returned_holder
  FROM durable_tasks.spawn_task('cl_ttl', 'job', idempotency_key => 'ttl-30m');

--
-- 4. The queue's defaults at the call decide, not the spawn's options
--
SELECT durable_tasks.create_queue('cl_alt');
-- a holder spawned with key_reuse 'never' fails: under the queue's
-- after_failure it no longer blocks, so it goes (and its key is free)
SELECT task_id AS alt_nev FROM durable_tasks.spawn_task('cl_alt', 'job', idempotency_key => 'spawned-never',
         options => '{"key_reuse": "never", "max_attempts": 1, "delay_seconds": 3600}') \gset
SELECT task_state FROM durable_tasks.fail_run('cl_alt', public.claim_one('cl_alt', :'alt_nev'), '{}');
-- a failed and a completed holder, spawned with the defaults
SELECT pg_temp.make_task('cl_alt', 'keyed', 'failed') AS alt_f \gset
SELECT pg_temp.make_task('cl_alt', 'keyed', 'completed') AS alt_c \gset
-- the queue now says 'never': nothing goes
SELECT durable_tasks.alter_queue('cl_alt', '{"key_reuse": "never"}');
SELECT durable_tasks.cleanup_tasks('cl_alt', '0') AS deleted_never;
-- after_failure again: the two failed holders go, the completed one stays
SELECT durable_tasks.alter_queue('cl_alt', '{"key_reuse": "after_failure"}');
SELECT durable_tasks.cleanup_tasks('cl_alt', '0') AS deleted_after_failure,
       pg_temp.exists('cl_alt', :'alt_nev') AS spawned_never_kept,
       pg_temp.exists('cl_alt', :'alt_f') AS failed_kept,
       pg_temp.exists('cl_alt', :'alt_c') AS completed_kept;
SELECT created FROM durable_tasks.spawn_task('cl_alt', 'job', idempotency_key => 'spawned-never',
                                             options => '{"key_reuse": "never"}');
-- a TTL of 1 hour, the completed holder backdated 2 hours: it goes
SELECT pg_temp.backdate('cl_alt', :'alt_c', '2 hours');
SELECT durable_tasks.cleanup_tasks('cl_alt', '0') AS deleted_no_ttl;
SELECT durable_tasks.alter_queue('cl_alt', '{"dedup_ttl_seconds": 3600}');
SELECT durable_tasks.cleanup_tasks('cl_alt', '0') AS deleted_ttl_past,
       pg_temp.exists('cl_alt', :'alt_c') AS completed_kept;
-- after_finish: a fresh completed holder goes at once
SELECT durable_tasks.alter_queue('cl_alt', '{"key_reuse": "after_finish", "dedup_ttl_seconds": null}');
SELECT pg_temp.make_task('cl_alt', 'keyed', 'completed') AS alt_c2 \gset
SELECT durable_tasks.cleanup_tasks('cl_alt', '0') AS deleted_after_finish,
       pg_temp.exists('cl_alt', :'alt_c2') AS completed_kept;
SELECT pg_temp.stats_match('cl_alt') AS stats_match;

--
-- 5. batch_size
--
SELECT durable_tasks.create_queue('cl_batch');
SELECT count(*) AS spawned FROM generate_series(1, 25) g,
       LATERAL durable_tasks.spawn_task('cl_batch', 'job', jsonb_build_object('g', g));
-- and 3 live ones, 2 holders that block
SELECT count(*) AS live FROM generate_series(1, 3) g,
       LATERAL durable_tasks.spawn_task('cl_batch', 'live', jsonb_build_object('g', g),
                 options => '{"delay_seconds": 3600}');
SELECT count(*) AS claimed_and_completed FROM durable_tasks.claim_task('cl_batch', 'w', qty => 100) c,
       LATERAL durable_tasks.complete_run('cl_batch', c.run_id, '{}');
SELECT pg_temp.make_task('cl_batch', 'keyed', 'completed') IS NOT NULL AS holder1,
       pg_temp.make_task('cl_batch', 'keyed', 'failed') IS NOT NULL AS holder2;
SELECT pg_temp.counts('cl_batch');
-- 26 eligible (25 + the failed holder), batches of 10: 10, 10, 6, 0
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 10) AS batch1;
SELECT pg_temp.stats_match('cl_batch') AS stats_match_1;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 10) AS batch2;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 10) AS batch3;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 10) AS batch4;
SELECT pg_temp.counts('cl_batch');
SELECT state, count(*) FROM durable_tasks.t_cl_batch GROUP BY state ORDER BY state;
-- batch_size 1 and the default (1000)
SELECT count(*) AS spawned FROM generate_series(1, 3) g,
       LATERAL durable_tasks.spawn_task('cl_batch', 'job2', jsonb_build_object('g', g));
SELECT count(*) AS claimed_and_completed FROM durable_tasks.claim_task('cl_batch', 'w', qty => 100) c,
       LATERAL durable_tasks.complete_run('cl_batch', c.run_id, '{}');
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 1) AS batch_of_1;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0') AS default_batch;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0', 100000) AS max_batch;
SELECT pg_temp.stats_match('cl_batch') AS stats_match;
SELECT pending, running, completed, failed, cancelled FROM durable_tasks.queue_stats('cl_batch');
-- a batch rolled back deletes nothing
SELECT pg_temp.make_task('cl_batch', 'unkeyed', 'completed') AS rb \gset
BEGIN;
SELECT durable_tasks.cleanup_tasks('cl_batch', '0') AS deleted_in_tx,
       pg_temp.exists('cl_batch', :'rb') AS kept_in_tx;
ROLLBACK;
SELECT pg_temp.exists('cl_batch', :'rb') AS kept_after_rollback;

--
-- 6. Runs and checkpoints go with their task
--
SELECT durable_tasks.create_queue('cl_runs');
-- done: 3 attempts (failed, failed, completed), 2 checkpoints
SELECT task_id AS done FROM durable_tasks.spawn_task('cl_runs', 'job', '{}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "none"}}') \gset
SELECT public.claim_one('cl_runs', :'done') AS d1 \gset
SELECT durable_tasks.set_checkpoint('cl_runs', :'d1', 'step1', '1');
SELECT task_state FROM durable_tasks.fail_run('cl_runs', :'d1', '{"e": 1}');
SELECT public.claim_one('cl_runs', :'done') AS d2 \gset
SELECT durable_tasks.set_checkpoint('cl_runs', :'d2', 'step2', '2');
SELECT task_state FROM durable_tasks.fail_run('cl_runs', :'d2', '{"e": 2}');
SELECT durable_tasks.complete_run('cl_runs', public.claim_one('cl_runs', :'done'), '{}');
-- live: attempt 1 failed (2 hours ago), attempt 2 pending, 1 checkpoint
SELECT task_id AS live FROM durable_tasks.spawn_task('cl_runs', 'job', '{}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 3600}}') \gset
SELECT public.claim_one('cl_runs', :'live') AS l1 \gset
SELECT durable_tasks.set_checkpoint('cl_runs', :'l1', 'step1', '1');
SELECT task_state FROM durable_tasks.fail_run('cl_runs', :'l1', '{"e": 1}');
SELECT pg_temp.backdate('cl_runs', :'live', '2 hours');
-- live2: attempt 1 failed, attempt 2 running
SELECT task_id AS live2 FROM durable_tasks.spawn_task('cl_runs', 'job', '{}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "none"}}') \gset
SELECT task_state FROM durable_tasks.fail_run('cl_runs', public.claim_one('cl_runs', :'live2'), '{"e": 1}');
SELECT public.claim_one('cl_runs', :'live2') IS NOT NULL AS live2_running;
SELECT pg_temp.backdate('cl_runs', :'live2', '2 hours');
SELECT t.task, pg_temp.nruns('cl_runs', t.id) AS runs, pg_temp.ncheckpoints('cl_runs', t.id) AS checkpoints
  FROM (VALUES ('done', :'done'::uuid), ('live', :'live'::uuid), ('live2', :'live2'::uuid)) t(task, id);
SELECT durable_tasks.cleanup_tasks('cl_runs', '1 hour') AS deleted_1h;
SELECT durable_tasks.cleanup_tasks('cl_runs', '0') AS deleted_0;
SELECT t.task, pg_temp.exists('cl_runs', t.id) AS kept,
       pg_temp.nruns('cl_runs', t.id) AS runs, pg_temp.ncheckpoints('cl_runs', t.id) AS checkpoints
  FROM (VALUES ('done', :'done'::uuid), ('live', :'live'::uuid), ('live2', :'live2'::uuid)) t(task, id);
SELECT pg_temp.counts('cl_runs');
SELECT state, count(*) FROM durable_tasks.r_cl_runs GROUP BY state ORDER BY state;
SELECT pg_temp.stats_match('cl_runs') AS stats_match;
-- get_task of the deleted task: not found
SELECT public.err(format('SELECT * FROM durable_tasks.get_task(%L, %L)', 'cl_runs', :'done'));

--
-- 7. Privileges
--
CREATE ROLE cl_producer;
CREATE ROLE cl_worker;
CREATE ROLE cl_admin;
CREATE ROLE cl_none;
SELECT durable_tasks.grant_queue('cl_af', 'cl_producer', 'producer');
SELECT durable_tasks.grant_queue('cl_af', 'cl_worker', 'worker');
SELECT durable_tasks.grant_queue('cl_af', 'cl_admin', 'admin');
GRANT USAGE ON SCHEMA durable_tasks TO cl_none;
SELECT pg_temp.make_task('cl_af', 'unkeyed', 'completed') AS pv \gset
SET ROLE cl_producer;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_af', '0')$$) AS producer;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_nosuch', '0')$$) AS producer_unknown;
SET ROLE cl_worker;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_af', '0')$$) AS worker;
SET ROLE cl_none;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_af', '0')$$) AS none;
-- denial before lookup: an unknown queue and bad arguments give 42501 too
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_nosuch', '0')$$) AS none_unknown;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_af', '-1 day')$$) AS none_negative;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_af', '0', 0)$$) AS none_bad_batch;
RESET ROLE;
SELECT pg_temp.exists('cl_af', :'pv') AS kept_after_denials;
SET ROLE cl_admin;
-- an admin of another queue is not an admin of this one
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_nev', '0')$$) AS admin_other_queue;
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_nosuch', '0')$$) AS admin_unknown;
SELECT durable_tasks.cleanup_tasks('cl_af', '0') AS admin_deleted;
RESET ROLE;
SELECT pg_temp.exists('cl_af', :'pv') AS kept_after_admin;
SELECT durable_tasks.revoke_queue('cl_af', r, p)
  FROM (VALUES ('cl_producer', 'producer'), ('cl_worker', 'worker'), ('cl_admin', 'admin')) g(r, p);
REVOKE USAGE ON SCHEMA durable_tasks FROM cl_none;
DROP ROLE cl_producer, cl_worker, cl_admin, cl_none;

--
-- 8. Bad input: each argument; nothing deleted
--
SELECT durable_tasks.create_queue('cl_bad');
SELECT count(pg_temp.make_task('cl_bad', 'unkeyed', 'completed')) AS eligible
  FROM generate_series(1, 3);
SELECT pg_temp.counts('cl_bad');
CREATE FUNCTION pg_temp.try(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    before text := pg_temp.counts('cl_bad');
    res    text := public.err(sql);
BEGIN
    IF pg_temp.counts('cl_bad') <> before THEN
        res := res || '  ** DELETED: ' || before || ' -> ' || pg_temp.counts('cl_bad') || ' **';
    END IF;
    RETURN res;
END
$fn$;
SELECT a.n, a.sql, pg_temp.try(a.sql) AS result
  FROM (VALUES
    ( 1, $$SELECT durable_tasks.cleanup_tasks(NULL, '0')$$),
    ( 2, $$SELECT durable_tasks.cleanup_tasks('', '0')$$),
    ( 3, $$SELECT durable_tasks.cleanup_tasks('CL_BAD', '0')$$),
    ( 4, $$SELECT durable_tasks.cleanup_tasks('cl-bad', '0')$$),
    ( 5, $$SELECT durable_tasks.cleanup_tasks(repeat('a', 49), '0')$$),
    ( 6, $$SELECT durable_tasks.cleanup_tasks('cl_nosuch', '0')$$),
    ( 7, $$SELECT durable_tasks.cleanup_tasks('cl_bad', NULL)$$),
    ( 8, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '-1 second')$$),
    ( 9, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '-1 day')$$),
    (10, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '1 day -25 hours')$$),
    (11, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '1 mon -31 days')$$),
    (12, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '-1 microsecond')$$),
    (13, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', NULL)$$),
    (14, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', 0)$$),
    (15, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', -1)$$),
    (16, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', 100001)$$),
    (17, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', 2147483647)$$),
    (18, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', -2147483648)$$),
    (19, $$SELECT durable_tasks.cleanup_tasks(NULL, NULL, NULL)$$),
    (20, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '-1 second', 0)$$),
    -- not errors, and nothing is that old: the cutoff may lie before any
    -- timestamp (now() - 1000000 years is out of range), which means
    -- "delete nothing", not a timestamp overflow
    (21, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '1 hour')$$),
    (22, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '1 day -23 hours', 100000)$$),
    (23, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '10000 years')$$),
    (24, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '1000000 years')$$),
    (25, $$SELECT durable_tasks.cleanup_tasks('cl_bad', '178000000 years', 100000)$$)
  ) a(n, sql)
 ORDER BY a.n;
-- the errors are the contract's
SELECT public.err($$SELECT durable_tasks.cleanup_tasks('cl_bad', NULL)$$) = '22004: older_than must not be null' AS older_than_null,
       public.err($$SELECT durable_tasks.cleanup_tasks('cl_bad', '-1 day')$$) = '22023: older_than must not be negative' AS older_than_negative,
       public.err($$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', NULL)$$) = '22004: batch_size must not be null' AS batch_null,
       public.err($$SELECT durable_tasks.cleanup_tasks('cl_bad', '0', 0)$$) = '22023: batch_size must be between 1 and 100000' AS batch_range;
SELECT pg_temp.counts('cl_bad');
-- '-0 seconds' is zero, not negative: one batch of 1, then the rest
SELECT durable_tasks.cleanup_tasks('cl_bad', '-0 seconds', 1) AS deleted_minus_zero;
SELECT durable_tasks.cleanup_tasks('cl_bad', '0') AS deleted_at_last;
SELECT pg_temp.counts('cl_bad');

SELECT durable_tasks.drop_queue(q)
  FROM unnest(ARRAY['cl_af', 'cl_ttl', 'cl_fin', 'cl_nev', 'cl_alt', 'cl_batch', 'cl_runs', 'cl_bad']) q;
