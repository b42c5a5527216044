--
-- claim: claim_task (order, qty, claim_timeout), extend_claim, lease expiry.
--
SELECT durable_tasks.create_queue('cl_q');

-- nothing to claim in an empty queue
SELECT count(*) AS claimed FROM durable_tasks.claim_task('cl_q', 'w1');

--
-- Ready runs come out in order of availability (then of run id, which is
-- spawn order); future runs are not ready
--
SELECT created FROM durable_tasks.spawn_task('cl_q', 'a', '{"n": 1}',
         options => '{"headers": {"h": "a"}, "max_attempts": 2}');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'b', '{"n": 2}');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'future', '{"n": 0}',
         options => '{"available_at": "2999-01-01 00:00:00+00"}');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'c', '{"n": 3}');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'early', '{"n": 4}',
         options => '{"available_at": "2000-01-01 00:00:00+00"}');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'delayed', '{"n": 5}',
         options => '{"delay_seconds": 3600}');
BEGIN;
SELECT task_name, attempt, params, headers, max_attempts,
       round(extract(epoch FROM claim_expires_at - now()), 1) AS lease_seconds
  FROM durable_tasks.claim_task('cl_q', 'w1', qty => 10);
COMMIT;
-- the claimed runs are running, leased to w1; their tasks are running
SELECT t.task_name, r.state AS run_state, r.claimed_by, t.state AS task_state,
       r.started_at IS NOT NULL AS run_started,
       t.first_started_at IS NOT NULL AS task_started
  FROM durable_tasks.r_cl_q r JOIN durable_tasks.t_cl_q t USING (task_id)
 ORDER BY t.task_name;
-- never handed out twice
SELECT count(*) AS claimed FROM durable_tasks.claim_task('cl_q', 'w2', qty => 10);

-- within one transaction all spawns share now(): run id order decides
BEGIN;
SELECT created FROM durable_tasks.spawn_task('cl_q', 'x1');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'x2');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'x3');
SELECT task_name FROM durable_tasks.claim_task('cl_q', 'w1', qty => 10);
COMMIT;

--
-- qty: at most qty runs per call; successive calls get disjoint runs
--
CREATE TEMP TABLE claimed (call int, run_id uuid, task_id uuid, task_name text);
SELECT count(*) AS spawned
  FROM generate_series(1, 5) i,
       LATERAL durable_tasks.spawn_task('cl_q', 'batch', jsonb_build_object('i', i));
INSERT INTO claimed SELECT 1, run_id, task_id, task_name FROM durable_tasks.claim_task('cl_q', 'w1', qty => 2);
INSERT INTO claimed SELECT 2, run_id, task_id, task_name FROM durable_tasks.claim_task('cl_q', 'w2', qty => 2);
INSERT INTO claimed SELECT 3, run_id, task_id, task_name FROM durable_tasks.claim_task('cl_q', 'w3', qty => 2);
INSERT INTO claimed SELECT 4, run_id, task_id, task_name FROM durable_tasks.claim_task('cl_q', 'w4', qty => 2);
SELECT call, count(*) AS runs FROM claimed GROUP BY call ORDER BY call;
SELECT count(*) AS runs, count(DISTINCT run_id) AS distinct_runs,
       count(DISTINCT task_id) AS distinct_tasks
  FROM claimed;
-- each claimed run belongs to the claiming worker
SELECT c.call, r.claimed_by, count(*) AS runs
  FROM claimed c JOIN durable_tasks.r_cl_q r USING (run_id)
 GROUP BY c.call, r.claimed_by ORDER BY c.call;
-- in spawn order: the params show it
SELECT c.call, t.params
  FROM claimed c JOIN durable_tasks.t_cl_q t USING (task_id)
 ORDER BY c.call, (t.params ->> 'i')::int;

--
-- claim_timeout_seconds sets the lease; the default is 30 seconds
--
SELECT created FROM durable_tasks.spawn_task('cl_q', 'lease');
SELECT created FROM durable_tasks.spawn_task('cl_q', 'lease');
BEGIN;
SELECT task_name, round(extract(epoch FROM claim_expires_at - now()), 1) AS lease_seconds
  FROM durable_tasks.claim_task('cl_q', 'w1', claim_timeout_seconds => 120);
SELECT task_name, round(extract(epoch FROM claim_expires_at - now()), 1) AS lease_seconds
  FROM durable_tasks.claim_task('cl_q', 'w1', 86400);
COMMIT;

--
-- extend_claim: moves the expiry to now() + seconds and returns it
--
SELECT task_id AS et, run_id AS er FROM durable_tasks.spawn_task('cl_q', 'extend') \gset
SELECT run_id = :'er' AS same_run FROM durable_tasks.claim_task('cl_q', 'w1', 10);
BEGIN;
SELECT round(extract(epoch FROM durable_tasks.extend_claim('cl_q', :'er', 300) - now()), 1) AS new_lease_seconds;
SELECT round(extract(epoch FROM claim_expires_at - now()), 1) AS stored_lease_seconds FROM durable_tasks.r_cl_q WHERE run_id = :'er';
COMMIT;
BEGIN;
SELECT round(extract(epoch FROM durable_tasks.extend_claim('cl_q', :'er', 5) - now()), 1) AS shorter_lease_seconds;
SELECT round(extract(epoch FROM claim_expires_at - now()), 1) AS stored_lease_seconds FROM durable_tasks.r_cl_q WHERE run_id = :'er';
COMMIT;
SELECT durable_tasks.extend_claim(queue_name => 'cl_q', run_id => :'er', seconds => 60) > now() AS named_args;
-- the run is still running for w1
SELECT state, claimed_by FROM durable_tasks.r_cl_q WHERE run_id = :'er';
-- errors: unknown run (P0002), a run that is not running (55000)
SELECT public.err($$SELECT durable_tasks.extend_claim('cl_q', '00000000-0000-7000-8000-000000000000', 10)$$);
SELECT run_id AS pr FROM durable_tasks.spawn_task('cl_q', 'pending_one',
         options => '{"delay_seconds": 3600}') \gset
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 10)', 'cl_q', :'pr'));
SELECT durable_tasks.complete_run('cl_q', :'er', '{"ok": true}');
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 10)', 'cl_q', :'er'));
-- a run of another queue is unknown here
SELECT durable_tasks.create_queue('cl_other');
SELECT run_id AS orun FROM durable_tasks.spawn_task('cl_other', 'o') \gset
SELECT count(*) FROM durable_tasks.claim_task('cl_other', 'w1');
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 10)', 'cl_q', :'orun'));
SELECT durable_tasks.drop_queue('cl_other');

--
-- Lease expiry.  Three tasks are claimed with a 1 second lease:
--   le_retry   retries at once (kind none), 3 attempts
--   le_last    max_attempts 1: the expiry fails the task
--   le_backoff fixed 3600 s: the retry waits an hour
--
SELECT task_id AS lt, run_id AS lr FROM durable_tasks.spawn_task('cl_q', 'le_retry',
         options => '{"retry_strategy": {"kind": "none"}, "max_attempts": 3}') \gset
SELECT task_id AS mt, run_id AS mr FROM durable_tasks.spawn_task('cl_q', 'le_last',
         options => '{"max_attempts": 1}') \gset
SELECT task_id AS bt, run_id AS br FROM durable_tasks.spawn_task('cl_q', 'le_backoff',
         options => '{"retry_strategy": {"kind": "fixed", "base_seconds": 3600}}') \gset
-- (one transaction: now() does not move, so the leases cannot run out
-- before the extend_claim, however slow the machine)
BEGIN;
SELECT task_name, attempt FROM durable_tasks.claim_task('cl_q', 'w1',
         claim_timeout_seconds => 1, qty => 3);
-- w1 holds the leases
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 1)', 'cl_q', :'lr'));
COMMIT;
SELECT pg_sleep(1.1);
-- expired but not yet handed out again: completing, failing or extending
-- the run is refused (55000), and changes nothing
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'cl_q', :'lr'));
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'cl_q', :'lr'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 30)', 'cl_q', :'lr'));
SELECT state, claimed_by FROM durable_tasks.r_cl_q WHERE run_id = :'lr';
-- another worker's claim fails the expired runs and gets le_retry's retry
-- (attempt 2) at once
SELECT task_id = :'lt' AS same_task, run_id <> :'lr' AS new_run, task_name, attempt
  FROM durable_tasks.claim_task('cl_q', 'w2', qty => 3);
-- the expired runs failed with reason 'lease expired'
SELECT t.task_name, r.attempt, r.state, r.failure ->> 'error' AS error,
       r.failure ->> 'worker_id' AS worker_id,
       (r.failure ->> 'claim_expires_at')::timestamptz < now() AS expired_in_past,
       r.finished_at IS NOT NULL AS finished
  FROM durable_tasks.r_cl_q r JOIN durable_tasks.t_cl_q t USING (task_id)
 WHERE r.run_id IN (:'lr', :'mr', :'br') ORDER BY t.task_name;
-- the tasks: le_retry is running attempt 2, le_last failed, le_backoff waits
SELECT task_name, state, attempts, failure ->> 'error' AS failure,
       finished_at IS NOT NULL AS finished
  FROM durable_tasks.t_cl_q WHERE task_id IN (:'lt', :'mt', :'bt') ORDER BY task_name;
SELECT t.task_name, r.attempt, r.state, r.claimed_by,
       extract(epoch FROM r.available_at -
               (SELECT finished_at FROM durable_tasks.r_cl_q WHERE run_id = :'br'))
         AS seconds_after_failure
  FROM durable_tasks.r_cl_q r JOIN durable_tasks.t_cl_q t USING (task_id)
 WHERE r.task_id IN (:'lt', :'bt') AND r.attempt = 2 ORDER BY t.task_name;
-- the old run can no longer be finished: it failed (55000)
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'cl_q', :'lr'));
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'cl_q', :'lr'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 30)', 'cl_q', :'lr'));
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'cl_q', :'mr'));
-- the new run can
SELECT run_id AS lr2 FROM durable_tasks.r_cl_q WHERE task_id = :'lt' AND attempt = 2 \gset
SELECT durable_tasks.complete_run('cl_q', :'lr2', '{"done": 2}');
SELECT state, attempts, result, last_run_id = :'lr2' AS last_run_is_retry
  FROM durable_tasks.get_task('cl_q', :'lt');

-- nothing is left to claim now (le_backoff's retry is not due yet)
SELECT count(*) AS claimed FROM durable_tasks.claim_task('cl_q', 'w3', qty => 100);

--
-- scan floors: a backend's claims start where its last claim ended, and
-- from the start of the claim index again at the latest after
-- durable_tasks.claim_full_scan_interval
--
SHOW durable_tasks.claim_full_scan_interval;
SELECT durable_tasks.create_queue('cl_fl');
SELECT task_id AS fa FROM durable_tasks.spawn_task('cl_fl', 'a') \gset
SELECT task_id AS fb FROM durable_tasks.spawn_task('cl_fl', 'b') \gset
SELECT task_id AS fc FROM durable_tasks.spawn_task('cl_fl', 'c') \gset
SELECT task_id AS fd FROM durable_tasks.spawn_task('cl_fl', 'd') \gset
-- (an hour: no full scan falls due by the clock while this runs)
SET durable_tasks.claim_full_scan_interval = '1h';
-- claims a (oldest first): the floor is a's run
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
-- b becomes due before a, behind the floor, as a late commit would
-- (written directly, as superuser): the next claim starts at the floor
-- and hands out c; a full scan finds b
UPDATE durable_tasks.r_cl_fl SET available_at = '2000-01-01 00:00:00+00'
 WHERE task_id = :'fb';
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
SET durable_tasks.claim_full_scan_interval = 0;
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
SET durable_tasks.claim_full_scan_interval = '1h';
-- this backend's own spawn of a task due earlier lowers its floor
SELECT task_id AS fe FROM durable_tasks.spawn_task('cl_fl', 'e',
         options => '{"available_at": "2000-01-01 00:00:00+00"}') \gset
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
-- after the interval a claim scans it all: h, due behind the floor (a
-- direct write), is found once the interval has passed
SELECT task_id AS ff FROM durable_tasks.spawn_task('cl_fl', 'f') \gset
SELECT task_id AS fg FROM durable_tasks.spawn_task('cl_fl', 'g') \gset
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
SELECT task_id AS fh FROM durable_tasks.spawn_task('cl_fl', 'h') \gset
UPDATE durable_tasks.r_cl_fl SET available_at = '1999-01-01 00:00:00+00'
 WHERE task_id = :'fh';
SET durable_tasks.claim_full_scan_interval = '100ms';
SELECT pg_sleep(0.2);
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
RESET durable_tasks.claim_full_scan_interval;
-- a claim that finds nothing at or above its floor scans it all: the
-- floor is g's run, i is due behind it
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1', qty => 2);
SELECT task_id AS fi FROM durable_tasks.spawn_task('cl_fl', 'i') \gset
UPDATE durable_tasks.r_cl_fl SET available_at = '1999-01-01 00:00:00+00'
 WHERE task_id = :'fi';
SELECT task_name FROM durable_tasks.claim_task('cl_fl', 'w1');
SELECT count(*) AS claimed FROM durable_tasks.claim_task('cl_fl', 'w1');
-- bad settings
SET durable_tasks.claim_full_scan_interval = -1;
SET durable_tasks.claim_full_scan_interval = '2h';
SELECT durable_tasks.drop_queue('cl_fl');

--
-- The lease probe (leaseprobe.c): a claim runs the sweep's statement only
-- if the lease index ri_<q>_lease may hold an expired lease.  With the
-- layout's index, an expired lease is swept by the next claim; so it is
-- with an index that is not the layout's (no probe: the statement always
-- runs), and with none.
--
SELECT durable_tasks.create_queue('cl_lp');
CREATE FUNCTION pg_temp.expire_and_reclaim(n text) RETURNS TABLE (task_name text, attempt integer)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM durable_tasks.spawn_task('cl_lp', n,
              options => '{"retry_strategy": {"kind": "none"}}');
    PERFORM durable_tasks.claim_task('cl_lp', 'w1', claim_timeout_seconds => 1);
    -- the lease runs out (a direct write, as superuser; now() is the
    -- transaction's clock, and the claim's clock is later)
    UPDATE durable_tasks.r_cl_lp r SET claim_expires_at = now() - interval '1 s'
     WHERE r.state = 'running';
    RETURN QUERY SELECT c.task_name, c.attempt FROM durable_tasks.claim_task('cl_lp', 'w2') c;
END
$$;
-- (the direct write is behind this backend's sweep floor: sweep it all)
SET durable_tasks.claim_full_scan_interval = 0;
SELECT * FROM pg_temp.expire_and_reclaim('layout_index');
-- nothing expired: nothing swept, the claim finds nothing
SELECT count(*) AS claimed FROM durable_tasks.claim_task('cl_lp', 'w3');
SELECT r.state, r.attempt, r.failure ->> 'error' AS error
  FROM durable_tasks.r_cl_lp r ORDER BY r.attempt;
SELECT durable_tasks.complete_run('cl_lp', run_id) FROM durable_tasks.r_cl_lp WHERE state = 'running';
DROP INDEX durable_tasks.ri_cl_lp_lease;
CREATE INDEX ri_cl_lp_lease ON durable_tasks.r_cl_lp (claim_expires_at, run_id) WHERE state = 'running';
SELECT * FROM pg_temp.expire_and_reclaim('other_index');
SELECT durable_tasks.complete_run('cl_lp', run_id) FROM durable_tasks.r_cl_lp WHERE state = 'running';
DROP INDEX durable_tasks.ri_cl_lp_lease;
SELECT * FROM pg_temp.expire_and_reclaim('no_index');
RESET durable_tasks.claim_full_scan_interval;
SELECT t.task_name, r.attempt, r.state, r.failure ->> 'error' AS error
  FROM durable_tasks.r_cl_lp r JOIN durable_tasks.t_cl_lp t USING (task_id)
 ORDER BY r.created_at, r.attempt;
SELECT durable_tasks.drop_queue('cl_lp');

SELECT durable_tasks.drop_queue('cl_q');
