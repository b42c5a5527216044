--
-- dedup: idempotent spawn (SPEC section 4) in a single session.
--
-- A spawn expected to fail with on_params_mismatch = 'error': the SQLSTATE,
-- the message and detail with ids masked, and whether the message names
-- the holding task.
CREATE FUNCTION pg_temp.mismatch(sql text, holder uuid)
RETURNS TABLE (sqlstate text, message text, detail text, names_holder boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    st  text;
    msg text;
    det text;
BEGIN
    EXECUTE sql;
    RETURN QUERY SELECT 'no error'::text, NULL::text, NULL::text, NULL::boolean;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN QUERY SELECT st,
        regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
        regexp_replace(det, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g'),
        position(holder::text IN msg) > 0;
END
$fn$;

-- Tasks and runs of a queue: to show that a hit writes nothing.
CREATE FUNCTION pg_temp.counts(q text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    nt bigint;
    nr bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I', 't_' || q) INTO nt;
    EXECUTE format('SELECT count(*) FROM durable_tasks.%I', 'r_' || q) INTO nr;
    RETURN nt || ' tasks, ' || nr || ' runs';
END
$fn$;

SELECT durable_tasks.create_queue('dd_q');

--
-- only_once: the key is task_fingerprint(task_name, params)
--
SELECT task_id AS o1, run_id AS o1_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1}', only_once => true) \gset o1_
SELECT :'o1_created' AS created, :'o1_state' AS state, :'o1_attempt' AS attempt;
SELECT pg_temp.counts('dd_q');
-- the same arguments: a hit, the same task and run, nothing written
SELECT task_id = :'o1_o1' AS same_task, run_id = :'o1_o1_run' AS same_run,
       attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1}', only_once => true);
SELECT pg_temp.counts('dd_q');
-- jsonb-equal params hit: key order, whitespace, 1.0 = 1 = 1e0 = 10e-1
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"n": 1, "to": "a"}', only_once => true);
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', E'{\n  "n" :1 ,"to":"a"   }', only_once => true);
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1.0}', only_once => true);
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1e0}', only_once => true);
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 10e-1}', only_once => true);
SELECT task_id = :'o1_o1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "\u0061", "n": 1}', only_once => true);
SELECT pg_temp.counts('dd_q');
-- different params or task name: a miss, a new task
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 2}', only_once => true);
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": "1"}', only_once => true);
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1, "x": null}', only_once => true);
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'resend', '{"to": "a", "n": 1}', only_once => true);
-- only_once => false never deduplicates
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1}', only_once => false);
SELECT task_id <> :'o1_o1' AS new_task, created
  FROM durable_tasks.spawn_task('dd_q', 'send', '{"to": "a", "n": 1}');
SELECT pg_temp.counts('dd_q');
-- the stored key is the fingerprint (the keyless tasks have none)
SELECT task_name, params,
       CASE WHEN idempotency_key = durable_tasks.task_fingerprint(task_name, params)
            THEN 'fingerprint' ELSE coalesce(idempotency_key, '(none)') END AS idempotency_key
  FROM durable_tasks.t_dd_q ORDER BY task_id;
-- another only_once spawn of the first task, now through get_task
SELECT idempotency_key = durable_tasks.task_fingerprint('send', '{"n": 1, "to": "a"}') AS key_is_fingerprint,
       key_released_at IS NULL AS key_held
  FROM durable_tasks.get_task('dd_q', :'o1_o1');

-- several spawns of one key in a single statement: one task
SELECT count(*) AS spawns, count(*) FILTER (WHERE s.created) AS created,
       count(DISTINCT s.task_id) AS tasks, count(DISTINCT s.run_id) AS runs
  FROM generate_series(1, 5) i,
       LATERAL durable_tasks.spawn_task('dd_q', 'batch',
                 CASE WHEN i > 0 THEN '{"b": 1}'::jsonb END, only_once => true) s;
SELECT count(*) AS spawns, count(*) FILTER (WHERE s.created) AS created,
       count(DISTINCT s.task_id) AS tasks
  FROM generate_series(1, 5) i,
       LATERAL durable_tasks.spawn_task('dd_q', 'batch', jsonb_build_object('b', i),
                 idempotency_key => CASE WHEN i > 0 THEN 'one-key' END) s;
SELECT count(*) AS tasks FROM durable_tasks.t_dd_q WHERE task_name = 'batch';

--
-- An explicit key takes precedence over only_once
--
SELECT task_id AS k1 FROM durable_tasks.spawn_task('dd_q', 'charge', '{"amount": 5}',
         only_once => true, idempotency_key => 'order-1') \gset
SELECT idempotency_key FROM durable_tasks.get_task('dd_q', :'k1');
-- only_once alone with the same arguments uses the fingerprint: another task
SELECT task_id <> :'k1' AS other_task, created
  FROM durable_tasks.spawn_task('dd_q', 'charge', '{"amount": 5}', only_once => true);
-- the explicit key hits whatever the params (on_params_mismatch 'ignore')
SELECT task_id = :'k1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'charge', '{"amount": 999}',
         only_once => true, idempotency_key => 'order-1');
SELECT task_id = :'k1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'charge', '{"amount": 999}', idempotency_key => 'order-1');
-- ... and whatever the task name: within a queue a key names one task
SELECT task_id = :'k1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'refund', '{}', idempotency_key => 'order-1');
-- the holder is unchanged by the hits
SELECT task_name, params, idempotency_key FROM durable_tasks.get_task('dd_q', :'k1');
-- keys are case-, space- and byte-exact
SELECT created FROM durable_tasks.spawn_task('dd_q', 'charge', idempotency_key => 'ORDER-1');
SELECT created FROM durable_tasks.spawn_task('dd_q', 'charge', idempotency_key => 'order-1 ');
SELECT created FROM durable_tasks.spawn_task('dd_q', 'charge', idempotency_key => 'ordér-1');
SELECT created FROM durable_tasks.spawn_task('dd_q', 'charge', idempotency_key => 'ordér-1');

--
-- Keys are scoped to the queue: the same key in two queues is two tasks
--
SELECT durable_tasks.create_queue('dd_q2');
SELECT task_id <> :'k1' AS other_task, created, state
  FROM durable_tasks.spawn_task('dd_q2', 'charge', '{"amount": 5}', idempotency_key => 'order-1');
SELECT created FROM durable_tasks.spawn_task('dd_q2', 'charge', '{"amount": 5}', idempotency_key => 'order-1');
SELECT created FROM durable_tasks.spawn_task('dd_q2', 'send', '{"to": "a", "n": 1}', only_once => true);
SELECT created FROM durable_tasks.spawn_task('dd_q2', 'send', '{"to": "a", "n": 1}', only_once => true);
SELECT pg_temp.counts('dd_q2');
SELECT durable_tasks.drop_queue('dd_q2');

--
-- A hit returns the holder's current state, its newest run and attempt
--
SELECT task_id AS h, run_id AS h_run1 FROM durable_tasks.spawn_task('dd_q', 'work', '{}',
         idempotency_key => 'hold',
         options => '{"retry_strategy": {"kind": "none"}, "max_attempts": 3}') \gset
SELECT task_id = :'h' AS same_task, run_id = :'h_run1' AS first_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold');
-- running
SELECT public.claim_one('dd_q', :'h') = :'h_run1' AS claimed_first_run;
SELECT task_id = :'h' AS same_task, run_id = :'h_run1' AS first_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold');
-- failed attempt, retry pending: the retry run and attempt 2
SELECT retry_run_id AS h_run2 FROM durable_tasks.fail_run('dd_q', :'h_run1', '{"e": 1}') \gset
SELECT task_id = :'h' AS same_task, run_id = :'h_run2' AS retry_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold');
-- the retry running
SELECT public.claim_one('dd_q', :'h') = :'h_run2' AS claimed_retry;
SELECT task_id = :'h' AS same_task, run_id = :'h_run2' AS retry_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold');
-- completed: still held (key_reuse after_failure, no TTL)
SELECT durable_tasks.complete_run('dd_q', :'h_run2', '{"r": 2}');
SELECT task_id = :'h' AS same_task, run_id = :'h_run2' AS retry_run, attempt, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold');
SELECT task_id = :'h' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'work', '{}', idempotency_key => 'hold',
         options => '{"key_reuse": "after_failure"}');

--
-- key_reuse: which holders block a new spawn
--
-- Make one holder per (key_reuse, final state).  Keys are <policy>-<state>.
CREATE FUNCTION pg_temp.make_holder(key text, final_state text) RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
    s record;
    c uuid;
BEGIN
    SELECT * INTO s FROM durable_tasks.spawn_task('dd_q', 'holder', jsonb_build_object('key', key),
                          idempotency_key => key,
                          options => '{"max_attempts": 1, "delay_seconds": 3600}');
    IF final_state = 'pending' THEN
        RETURN s.task_id;
    END IF;
    IF final_state = 'cancelled' THEN
        PERFORM durable_tasks.cancel_task('dd_q', s.task_id);
        RETURN s.task_id;
    END IF;
    c := public.claim_one('dd_q', s.task_id);
    IF final_state = 'completed' THEN
        PERFORM durable_tasks.complete_run('dd_q', c, '{"done": true}');
    ELSIF final_state = 'failed' THEN
        PERFORM durable_tasks.fail_run('dd_q', c, '{"error": "x"}');
    END IF;
    RETURN s.task_id;
END
$fn$;
CREATE TEMP TABLE holders AS
SELECT p.policy, s.state, pg_temp.make_holder(p.policy || '-' || s.state, s.state) AS task_id
  FROM (VALUES (1, 'after_failure'), (2, 'after_finish'), (3, 'never')) p(pn, policy),
       (VALUES (1, 'pending'), (2, 'running'), (3, 'completed'), (4, 'failed'), (5, 'cancelled')) s(sn, state)
 ORDER BY p.pn, s.sn;
SELECT h.policy, h.state, t.state = h.state AS holder_in_state
  FROM holders h, LATERAL durable_tasks.get_task('dd_q', h.task_id) t
 ORDER BY h.policy, h.state;
-- spawn every key again under its policy
CREATE TEMP TABLE respawn AS
SELECT h.policy, h.state AS holder_state, s.created, s.state AS returned_state,
       s.task_id = h.task_id AS returned_holder
  FROM holders h,
       LATERAL durable_tasks.spawn_task('dd_q', 'holder', jsonb_build_object('key', h.policy || '-' || h.state),
                 idempotency_key => h.policy || '-' || h.state,
                 options => jsonb_build_object('key_reuse', h.policy)) s;
SELECT * FROM respawn ORDER BY policy, created, holder_state;
-- the released keys stay readable on the old task, outside the unique index
SELECT h.policy, h.state, t.idempotency_key = h.policy || '-' || h.state AS key_kept,
       t.key_released_at IS NOT NULL AS released
  FROM holders h, LATERAL durable_tasks.get_task('dd_q', h.task_id) t
 ORDER BY h.policy, h.state;
SELECT idempotency_key, count(*) AS tasks,
       count(*) FILTER (WHERE key_released_at IS NULL) AS holding,
       count(*) FILTER (WHERE key_released_at IS NOT NULL) AS released
  FROM durable_tasks.t_dd_q WHERE task_name = 'holder'
 GROUP BY idempotency_key ORDER BY idempotency_key;
-- the new holder of a released key is a fresh task, and it holds the key now
SELECT task_id AS newer FROM durable_tasks.t_dd_q
 WHERE idempotency_key = 'after_failure-failed' AND key_released_at IS NULL \gset
SELECT task_id = :'newer' AS same_new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'holder', idempotency_key => 'after_failure-failed');
-- a spawn's key_reuse decides, whatever the holder was spawned with:
-- never-failed is held under 'never' but released under 'after_failure'
SELECT task_id FROM holders WHERE policy = 'never' AND state = 'failed' \gset never_failed_
SELECT task_id <> :'never_failed_task_id' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'holder', idempotency_key => 'never-failed');
SELECT key_released_at IS NOT NULL AS released FROM durable_tasks.get_task('dd_q', :'never_failed_task_id');

--
-- dedup_ttl_seconds: how long a completed holder keeps the key
--
SELECT task_id AS ttl_done, run_id AS ttl_done_run FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}',
         idempotency_key => 'ttl-completed') \gset
SELECT task_id AS ttl_pending FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 2}',
         idempotency_key => 'ttl-pending', options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS ttl_fin FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 3}',
         idempotency_key => 'ttl-never', options => '{"key_reuse": "never"}') \gset
SELECT durable_tasks.complete_run('dd_q', public.claim_one('dd_q', :'ttl_done'), '{"ok": true}');
SELECT durable_tasks.complete_run('dd_q', public.claim_one('dd_q', :'ttl_fin'), '{"ok": true}');
SELECT task_id AS oo, run_id AS oo_run FROM durable_tasks.spawn_task('dd_q', 'ttl_once', '{"z": 1}', only_once => true) \gset
SELECT durable_tasks.complete_run('dd_q', public.claim_one('dd_q', :'oo'));
-- within the TTL the completed holder blocks
SELECT task_id = :'ttl_done' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}', idempotency_key => 'ttl-completed',
         options => '{"dedup_ttl_seconds": 3600}');
SELECT pg_sleep(1.1);
-- with no TTL (the default) it still blocks
SELECT task_id = :'ttl_done' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}', idempotency_key => 'ttl-completed');
SELECT task_id = :'ttl_done' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}', idempotency_key => 'ttl-completed',
         options => '{"dedup_ttl_seconds": null}');
-- a non-terminal holder blocks whatever its age
SELECT task_id = :'ttl_pending' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 2}', idempotency_key => 'ttl-pending',
         options => '{"dedup_ttl_seconds": 1}');
-- 'never' binds the key for good, TTL or not
SELECT task_id = :'ttl_fin' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 3}', idempotency_key => 'ttl-never',
         options => '{"key_reuse": "never", "dedup_ttl_seconds": 1}');
-- past the TTL the next spawn releases the key and creates a new task
SELECT task_id <> :'ttl_done' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}', idempotency_key => 'ttl-completed',
         options => '{"dedup_ttl_seconds": 1}');
SELECT task_id AS ttl_new FROM durable_tasks.t_dd_q
 WHERE idempotency_key = 'ttl-completed' AND key_released_at IS NULL \gset
SELECT task_id = :'ttl_new' AS same_new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl', '{"n": 1}', idempotency_key => 'ttl-completed',
         options => '{"dedup_ttl_seconds": 1}');
-- the old task keeps its key for audit, released; its result is untouched
SELECT state, result, idempotency_key, key_released_at IS NOT NULL AS released,
       key_released_at >= finished_at AS released_after_finish
  FROM durable_tasks.get_task('dd_q', :'ttl_done');
SELECT state, idempotency_key, key_released_at IS NULL AS holds
  FROM durable_tasks.get_task('dd_q', :'ttl_new');
-- only_once keys expire the same way
SELECT task_id <> :'oo' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'ttl_once', '{"z": 1}', only_once => true,
         options => '{"dedup_ttl_seconds": 1}');
SELECT key_released_at IS NOT NULL AS released FROM durable_tasks.get_task('dd_q', :'oo');

--
-- on_params_mismatch
--
SELECT task_id AS m FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 10, "cur": "EUR"}',
         idempotency_key => 'pay-1') \gset
-- 'ignore' (default): the holder comes back
SELECT task_id = :'m' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 11, "cur": "EUR"}', idempotency_key => 'pay-1');
SELECT task_id = :'m' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 11, "cur": "EUR"}', idempotency_key => 'pay-1',
         options => '{"on_params_mismatch": "ignore"}');
-- 'error': other params or another task name raise TD001 naming the holder
SELECT * FROM pg_temp.mismatch($$SELECT * FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 11, "cur": "EUR"}',
         idempotency_key => 'pay-1', options => '{"on_params_mismatch": "error"}')$$, :'m');
SELECT * FROM pg_temp.mismatch($$SELECT * FROM durable_tasks.spawn_task('dd_q', 'refund', '{"amount": 10, "cur": "EUR"}',
         idempotency_key => 'pay-1', options => '{"on_params_mismatch": "error"}')$$, :'m');
SELECT * FROM pg_temp.mismatch($$SELECT * FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 10}',
         idempotency_key => 'pay-1', options => '{"on_params_mismatch": "error"}')$$, :'m');
-- 'error' with jsonb-equal params: a hit, no error
SELECT task_id = :'m' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'pay', '{"cur": "EUR", "amount": 10.00}', idempotency_key => 'pay-1',
         options => '{"on_params_mismatch": "error"}');
-- the error is catchable by its SQLSTATE
DO $$
BEGIN
    PERFORM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 12}',
                                     idempotency_key => 'pay-1',
                                     options => '{"on_params_mismatch": "error"}');
    RAISE NOTICE 'no error';
EXCEPTION WHEN SQLSTATE 'TD001' THEN
    RAISE NOTICE 'caught TD001';
END
$$;
-- nothing was written by the failed spawns
SELECT count(*) AS pay_tasks FROM durable_tasks.t_dd_q WHERE idempotency_key = 'pay-1';
-- a holder that no longer blocks is not compared: a new task is created
SELECT task_id AS mf, run_id AS mf_run FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 20}',
         idempotency_key => 'pay-2', options => '{"max_attempts": 1}') \gset
SELECT public.claim_one('dd_q', :'mf') = :'mf_run' AS claimed;
SELECT task_state FROM durable_tasks.fail_run('dd_q', :'mf_run');
SELECT task_id <> :'mf' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 21}', idempotency_key => 'pay-2',
         options => '{"on_params_mismatch": "error"}');
-- only_once keys are never compared (the key is the params' fingerprint)
SELECT task_id AS mo FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 30}', only_once => true) \gset
SELECT task_id = :'mo' AS same_task, created
  FROM durable_tasks.spawn_task('dd_q', 'pay', '{"amount": 30}', only_once => true,
         options => '{"on_params_mismatch": "error"}');

--
-- Queue defaults (create_queue, alter_queue) and per-spawn overrides
--
SELECT durable_tasks.create_queue('dd_qd',
         '{"key_reuse": "after_finish", "on_params_mismatch": "error"}');
SELECT task_id AS qd1, run_id AS qd1_run FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}',
         idempotency_key => 'k') \gset
-- the queue's on_params_mismatch 'error' applies; a spawn can override it
SELECT * FROM pg_temp.mismatch($$SELECT * FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 2}',
         idempotency_key => 'k')$$, :'qd1');
SELECT task_id = :'qd1' AS same_task, created
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 2}', idempotency_key => 'k',
         options => '{"on_params_mismatch": "ignore"}');
SELECT public.claim_one('dd_qd', :'qd1') = :'qd1_run' AS claimed;
SELECT durable_tasks.complete_run('dd_qd', :'qd1_run');
-- the queue's key_reuse 'after_finish': a completed holder releases...
-- ...unless the spawn says 'after_failure'
SELECT task_id = :'qd1' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}', idempotency_key => 'k',
         options => '{"key_reuse": "after_failure"}');
SELECT task_id <> :'qd1' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}', idempotency_key => 'k');
SELECT task_id AS qd2, last_run_id AS qd2_run FROM durable_tasks.t_dd_qd
 WHERE idempotency_key = 'k' AND key_released_at IS NULL \gset
-- alter_queue: 'never' and 'ignore'; the change is seen at once in this
-- session (which has the old defaults cached)
SELECT durable_tasks.alter_queue('dd_qd', '{"key_reuse": "never", "on_params_mismatch": "ignore"}');
SELECT task_id = :'qd2' AS same_task, created
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 99}', idempotency_key => 'k');
SELECT public.claim_one('dd_qd', :'qd2') = :'qd2_run' AS claimed;
SELECT durable_tasks.complete_run('dd_qd', :'qd2_run');
SELECT task_id = :'qd2' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}', idempotency_key => 'k');
SELECT task_id = :'qd2' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}', idempotency_key => 'k',
         options => '{"key_reuse": "after_failure"}');
SELECT task_id <> :'qd2' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'a', '{"v": 1}', idempotency_key => 'k',
         options => '{"key_reuse": "after_finish"}');
-- a queue default TTL, and its per-spawn override
SELECT durable_tasks.alter_queue('dd_qd', '{"key_reuse": "after_failure", "dedup_ttl_seconds": 1}');
SELECT task_id AS qd3, run_id AS qd3_run FROM durable_tasks.spawn_task('dd_qd', 'b', idempotency_key => 'kt') \gset
SELECT public.claim_one('dd_qd', :'qd3') = :'qd3_run' AS claimed;
SELECT durable_tasks.complete_run('dd_qd', :'qd3_run');
SELECT pg_sleep(1.1);
SELECT task_id = :'qd3' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'b', idempotency_key => 'kt',
         options => '{"dedup_ttl_seconds": null}');
SELECT task_id = :'qd3' AS same_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'b', idempotency_key => 'kt',
         options => '{"dedup_ttl_seconds": 3600}');
SELECT task_id <> :'qd3' AS new_task, created, state
  FROM durable_tasks.spawn_task('dd_qd', 'b', idempotency_key => 'kt');
-- per-spawn dedup options of a spawn without a key are validated, and unused
SELECT created FROM durable_tasks.spawn_task('dd_qd', 'c',
         options => '{"key_reuse": "never", "dedup_ttl_seconds": 5, "on_params_mismatch": "error"}');
SELECT public.err($$SELECT durable_tasks.spawn_task('dd_qd', 'c', options => '{"key_reuse": "sometimes"}')$$);
SELECT durable_tasks.drop_queue('dd_qd');

--
-- Key arguments
--
SELECT public.err($$SELECT durable_tasks.spawn_task('dd_q', 't', idempotency_key => '')$$);
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)',
                          'dd_q', 't', repeat('k', 513)));
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)',
                          'dd_q', 't', repeat('é', 257)));
SELECT public.err($$SELECT durable_tasks.spawn_task('dd_q', 't', only_once => NULL)$$);
SELECT public.err($$SELECT durable_tasks.spawn_task('dd_q', 't', '{}', NULL)$$);
-- 512 bytes is the limit, in bytes
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => repeat('k', 512));
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => repeat('k', 512));
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => repeat('é', 256));
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => repeat('é', 256));
SELECT octet_length(idempotency_key) AS key_bytes, count(*) AS tasks
  FROM durable_tasks.t_dd_q WHERE task_name = 't' GROUP BY 1 ORDER BY 1;
-- a NULL key is no key
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => NULL);
SELECT created FROM durable_tasks.spawn_task('dd_q', 't', idempotency_key => NULL);

-- exactly one holder per key, ever
SELECT count(*) AS keys_held_twice FROM (
    SELECT idempotency_key FROM durable_tasks.t_dd_q
     WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL
     GROUP BY idempotency_key HAVING count(*) > 1) d;

SELECT durable_tasks.drop_queue('dd_q');
