--
-- events: emit_event, await_event, cleanup_events and fan-in (SPEC 5.3)
-- in a single session.  First emit wins (true, then false, the first
-- payload kept; any jsonb or NULL).  An await after the emit returns
-- 'emitted' with the payload and the run keeps its lease; an await before
-- it suspends the run (run and task sleeping, the lease gone, a wait row,
-- available_at 'infinity' or the timeout) and the run is not claimable
-- until the emit, which makes the same run (same run_id, same attempt)
-- claimable at once, whose next await says 'emitted'.  timeout 0: the run
-- is claimable at once and its next await says 'timed_out' (lease kept);
-- a longer timeout: not claimable before it; an event emitted after a
-- timed-out wait: the next await says 'emitted'.  An emit wakes only the
-- runs sleeping for it: not a sleep_run sleeper, not a run that resumed and
-- went to sleep for another reason, not a run waiting for another event.
-- cancel_task cancels a waiting task, and the later emit hands nothing out.
-- Fan-in: a child task (parent_task_id set) that ends -- complete_run,
-- final fail_run, lease expiry without retries left (swept by a claim),
-- cancel_task of its parent (cascade) or of itself, a claim cancelling it
-- for its deadline -- emits "$child:<task_id>" with {"state", "result",
-- "failure"}, and a parent run waiting for it becomes claimable at once; a
-- retried failure emits nothing yet; a task without a parent never emits.
-- cleanup_events deletes old emitted events no sleeping run waits for and
-- keeps recent ones, awaited-but-not-emitted ones and ones a sleeping run
-- still waits for; batch_size is honoured.  Privileges: producer may emit
-- (not await, not clean up), worker may await, admin cleans up.  Every bad
-- input of the three functions: refused, nothing written.
--
-- Ids and timestamps are never printed: only comparisons and counts.
-- Where a time must have passed, the row is backdated as superuser (said
-- so at the place); the real waits are about 1.1 seconds each, twice.
--
SELECT durable_tasks.create_queue('ev_q');

-- The layout: e_<q> keyed by event_name, w_<q> keyed by (run_id,
-- event_name) and cascading with its run
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.oid IN ('durable_tasks.e_ev_q'::regclass, 'durable_tasks.w_ev_q'::regclass)
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum;
SELECT conrelid::regclass AS tab, contype, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE conrelid IN ('durable_tasks.e_ev_q'::regclass, 'durable_tasks.w_ev_q'::regclass)
   AND contype IN ('p', 'f')
 ORDER BY 1, 2, 3;

-- The shared helpers of setup.sql for ev_q (public.run_and_task shows a
-- run beside its task).
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $fn$ SELECT public.queue_digest('ev_q') $fn$;
CREATE FUNCTION pg_temp.try(sql text) RETURNS text
LANGUAGE sql AS $fn$ SELECT public.try_in('ev_q', sql) $fn$;

-- The event row (NULL row: no such event).
CREATE FUNCTION pg_temp.ev(name text) RETURNS TABLE (present boolean, emitted boolean, payload jsonb)
LANGUAGE sql AS $fn$
    SELECT true, e.emitted_at IS NOT NULL, e.payload FROM durable_tasks.e_ev_q e WHERE e.event_name = name
    UNION ALL
    SELECT false, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM durable_tasks.e_ev_q e WHERE e.event_name = name);
$fn$;

-- claim(worker): how many runs a claim of up to 10 hands out, and whether
-- the only one is run rid (then attempt too)
CREATE FUNCTION pg_temp.claim(rid uuid, worker text DEFAULT 'w') RETURNS TABLE (claimed bigint, is_run boolean,
        attempt integer)
LANGUAGE sql AS $fn$
    WITH c AS (SELECT * FROM durable_tasks.claim_task('ev_q', worker, claim_timeout_seconds => 60, qty => 10))
    SELECT count(*), bool_and(c.run_id = rid), max(c.attempt) FROM c;
$fn$;

--
-- First emit wins: true, then false; the first payload kept
--
SELECT durable_tasks.emit_event('ev_q', 'ev_first', '{"v": 1}') AS emitted;
SELECT * FROM pg_temp.ev('ev_first');
SELECT durable_tasks.emit_event('ev_q', 'ev_first', '{"v": 2}') AS emitted_again;
SELECT durable_tasks.emit_event('ev_q', 'ev_first') AS emitted_again_null;
SELECT * FROM pg_temp.ev('ev_first');
-- any jsonb, or NULL (the default)
SELECT durable_tasks.emit_event('ev_q', 'ev_array', '[1, 2, 3]') AS a,
       durable_tasks.emit_event('ev_q', 'ev_string', '"s"') AS s,
       durable_tasks.emit_event('ev_q', 'ev_number', '42') AS n,
       durable_tasks.emit_event('ev_q', 'ev_jnull', 'null') AS jn,
       durable_tasks.emit_event('ev_q', 'ev_null') AS sql_null;
SELECT event_name, payload, payload IS NULL AS sql_null, emitted_at IS NOT NULL AS emitted
  FROM durable_tasks.e_ev_q ORDER BY event_name;
-- a NULL-payload event is emitted all the same; a later payload does not replace it
SELECT durable_tasks.emit_event('ev_q', 'ev_null', '{"late": true}') AS emitted_again;
SELECT * FROM pg_temp.ev('ev_null');
-- a name of 255 bytes is fine; event names are case and space sensitive
SELECT durable_tasks.emit_event('ev_q', repeat('n', 255)) AS long_name,
       durable_tasks.emit_event('ev_q', 'EV_FIRST') AS upper_case,
       durable_tasks.emit_event('ev_q', ' ev_first') AS leading_space;
-- emitting waits for nothing and writes no wait
SELECT count(*) AS waits FROM durable_tasks.w_ev_q;

--
-- Await after the emit: emitted with its payload, the lease kept, no wait
--
SELECT task_id AS t1 FROM durable_tasks.spawn_task('ev_q', 'after', '{"n": 1}') \gset
SELECT public.claim_one('ev_q', :'t1', 60) AS r1 \gset
SELECT claim_expires_at AS e1 FROM durable_tasks.r_ev_q WHERE run_id = :'r1' \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r1', 'ev_first');
SELECT * FROM durable_tasks.await_event('ev_q', :'r1', 'ev_array', 0);
SELECT * FROM durable_tasks.await_event('ev_q', :'r1', 'ev_null', 10);
SELECT * FROM public.run_and_task('ev_q', :'r1');
SELECT claim_expires_at = :'e1'::timestamptz AS same_lease FROM durable_tasks.r_ev_q WHERE run_id = :'r1';
SELECT count(*) AS waits FROM durable_tasks.w_ev_q;
SELECT durable_tasks.complete_run('ev_q', :'r1', '{"ok": 1}');
-- a task without a parent emits nothing when it ends
SELECT count(*) AS child_events FROM durable_tasks.e_ev_q WHERE event_name LIKE '$child:%';

--
-- Await before the emit: suspended, not claimable; the emit makes the same
-- run claimable at once; the next await says emitted
--
SELECT task_id AS t2 FROM durable_tasks.spawn_task('ev_q', 'before', '{"n": 2}',
         options => '{"max_attempts": 1}') \gset
SELECT public.claim_one('ev_q', :'t2', 60) AS r2 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r2', 'ev_b');
SELECT * FROM public.run_and_task('ev_q', :'r2');
SELECT available_at = 'infinity' AS until_infinity, finished_at IS NULL AS not_finished
  FROM durable_tasks.r_ev_q WHERE run_id = :'r2';
SELECT event_name, timeout_at IS NULL AS no_timeout, sleep_until = 'infinity' AS sleep_until_infinity
  FROM durable_tasks.w_ev_q WHERE run_id = :'r2';
-- the event row is there, awaited but not emitted
SELECT * FROM pg_temp.ev('ev_b');
SELECT pending, running, sleeping FROM durable_tasks.queue_stats('ev_q');
SELECT state FROM durable_tasks.get_task('ev_q', :'t2');
-- not before the emit: no claim sees it; the lease is gone, so no
-- await_event or complete_run of the holder either
SELECT pg_temp.digest() AS d0 \gset
SELECT * FROM pg_temp.claim(:'r2');
SELECT pg_temp.digest() = :'d0' AS unchanged;
SELECT pg_temp.try(format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'r2', 'ev_b')) AS await_again;
SELECT pg_temp.try(format('SELECT durable_tasks.complete_run(%L, %L)', 'ev_q', :'r2')) AS complete;
-- an emit of another event wakes nothing
SELECT durable_tasks.emit_event('ev_q', 'ev_other') AS other;
SELECT * FROM pg_temp.claim(:'r2');
-- the emit: true, and the same run claimable at once
SELECT durable_tasks.emit_event('ev_q', 'ev_b', '{"b": true}') AS emitted;
SELECT r.available_at <= clock_timestamp() AS due_now, r.state FROM durable_tasks.r_ev_q r WHERE run_id = :'r2';
SELECT * FROM pg_temp.claim(:'r2', 'w2');
SELECT * FROM public.run_and_task('ev_q', :'r2');
SELECT * FROM durable_tasks.await_event('ev_q', :'r2', 'ev_b');
SELECT * FROM public.run_and_task('ev_q', :'r2');
-- a second emit wakes nothing more and changes nothing
SELECT durable_tasks.emit_event('ev_q', 'ev_b', '{"b": false}') AS emitted_again;
SELECT * FROM durable_tasks.await_event('ev_q', :'r2', 'ev_b');
SELECT durable_tasks.complete_run('ev_q', :'r2', '{"done": 2}');
SELECT * FROM public.run_and_task('ev_q', :'r2');
-- max_attempts 1, one suspension: the suspension was not an attempt
SELECT state, attempts FROM durable_tasks.get_task('ev_q', :'t2');

--
-- Timeout 0: suspended, claimable at once, the next await says timed_out
-- (lease kept); an event emitted after that: the next await says emitted
--
SELECT task_id AS t3 FROM durable_tasks.spawn_task('ev_q', 'timeout0', '{"n": 3}') \gset
SELECT public.claim_one('ev_q', :'t3', 60) AS r3 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c', 0);
SELECT * FROM public.run_and_task('ev_q', :'r3');
SELECT w.timeout_at IS NOT NULL AS has_timeout, w.timeout_at = w.sleep_until AS sleeps_until_timeout,
       r.available_at = w.sleep_until AS available_at_timeout
  FROM durable_tasks.w_ev_q w JOIN durable_tasks.r_ev_q r USING (run_id) WHERE run_id = :'r3';
SELECT * FROM pg_temp.claim(:'r3', 'w3');
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c');
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c', 3600);
SELECT * FROM public.run_and_task('ev_q', :'r3');
SELECT durable_tasks.emit_event('ev_q', 'ev_c', '{"c": "late"}') AS emitted_late;
-- nothing to wake: the run is running
SELECT * FROM public.run_and_task('ev_q', :'r3');
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c');
SELECT * FROM public.run_and_task('ev_q', :'r3');
-- a different event of the same run is a new wait
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c2', 3600);
SELECT * FROM public.run_and_task('ev_q', :'r3');
SELECT event_name, timeout_at > clock_timestamp() + interval '3500 s' AS timeout_in_an_hour
  FROM durable_tasks.w_ev_q WHERE run_id = :'r3' ORDER BY event_name;
SELECT * FROM pg_temp.claim(:'r3');
SELECT durable_tasks.emit_event('ev_q', 'ev_c2', '"c2"') AS emitted;
SELECT * FROM pg_temp.claim(:'r3', 'w3');
SELECT * FROM durable_tasks.await_event('ev_q', :'r3', 'ev_c2');
SELECT durable_tasks.complete_run('ev_q', :'r3');

--
-- A timeout of 1 second, really waited for: not claimable before it,
-- claimable after, then timed_out
--
SELECT task_id AS t4 FROM durable_tasks.spawn_task('ev_q', 'timeout1', '{"n": 4}') \gset
SELECT public.claim_one('ev_q', :'t4', 60) AS r4 \gset
SELECT clock_timestamp() AS c4 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r4', 'ev_d', 1);
SELECT available_at >= :'c4'::timestamptz + interval '1 s'
       AND available_at <= clock_timestamp() + interval '1 s' AS available_at_in_1s
  FROM durable_tasks.r_ev_q WHERE run_id = :'r4';
SELECT * FROM pg_temp.claim(:'r4');
SELECT pg_sleep(greatest(0, extract(epoch FROM (SELECT available_at FROM durable_tasks.r_ev_q
                                                  WHERE run_id = :'r4') - clock_timestamp())) + 0.1) AS waited;
SELECT * FROM pg_temp.claim(:'r4', 'w4');
SELECT * FROM durable_tasks.await_event('ev_q', :'r4', 'ev_d', 1);
SELECT * FROM public.run_and_task('ev_q', :'r4');
SELECT durable_tasks.complete_run('ev_q', :'r4');

--
-- A timed-out wait whose run was not claimed yet when the event came: the
-- emit finds it due already; its next await says emitted (SPEC order)
--
SELECT task_id AS t5 FROM durable_tasks.spawn_task('ev_q', 'timeout_then_emit', '{"n": 5}') \gset
SELECT public.claim_one('ev_q', :'t5', 60) AS r5 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r5', 'ev_e', 0);
SELECT durable_tasks.emit_event('ev_q', 'ev_e', '{"e": 5}') AS emitted;
SELECT * FROM pg_temp.claim(:'r5');
SELECT * FROM durable_tasks.await_event('ev_q', :'r5', 'ev_e');
SELECT durable_tasks.complete_run('ev_q', :'r5');

--
-- An emit wakes only the runs sleeping for it
--
-- (a) a sleep_run sleeper, and a run waiting for another event
SELECT task_id AS t6 FROM durable_tasks.spawn_task('ev_q', 'sleeper', '{"n": 6}') \gset
SELECT public.claim_one('ev_q', :'t6', 60) AS r6 \gset
SELECT durable_tasks.sleep_run('ev_q', :'r6', clock_timestamp() + interval '1 hour') AS slept;
SELECT task_id AS t7 FROM durable_tasks.spawn_task('ev_q', 'other_waiter', '{"n": 7}') \gset
SELECT public.claim_one('ev_q', :'t7', 60) AS r7 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r7', 'ev_f_other');
SELECT durable_tasks.emit_event('ev_q', 'ev_f') AS emitted;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
SELECT * FROM public.run_and_task('ev_q', :'r6');
SELECT * FROM public.run_and_task('ev_q', :'r7');
-- (b) a run that timed out on ev_g, resumed, and went to sleep with
-- sleep_run: the emit of ev_g does not wake it
SELECT task_id AS t8 FROM durable_tasks.spawn_task('ev_q', 'resumed_sleeper', '{"n": 8}') \gset
SELECT public.claim_one('ev_q', :'t8', 60) AS r8 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r8', 'ev_g', 0);
SELECT * FROM pg_temp.claim(:'r8');
SELECT durable_tasks.sleep_run('ev_q', :'r8', clock_timestamp() + interval '1 hour') AS slept;
SELECT durable_tasks.emit_event('ev_q', 'ev_g') AS emitted;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
SELECT * FROM public.run_and_task('ev_q', :'r8');
-- (c) a run that was woken by ev_h1 and now waits for ev_h2: a (second)
-- emit of ev_h1 does not wake it
SELECT task_id AS t9 FROM durable_tasks.spawn_task('ev_q', 'two_events', '{"n": 9}') \gset
SELECT public.claim_one('ev_q', :'t9', 60) AS r9 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r9', 'ev_h1');
SELECT durable_tasks.emit_event('ev_q', 'ev_h1') AS emitted;
SELECT * FROM pg_temp.claim(:'r9');
SELECT * FROM durable_tasks.await_event('ev_q', :'r9', 'ev_h1');
SELECT * FROM durable_tasks.await_event('ev_q', :'r9', 'ev_h2');
SELECT durable_tasks.emit_event('ev_q', 'ev_h1') AS emitted_again;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
SELECT durable_tasks.emit_event('ev_q', 'ev_h2', '{"h": 2}') AS emitted;
SELECT * FROM pg_temp.claim(:'r9');
SELECT * FROM durable_tasks.await_event('ev_q', :'r9', 'ev_h2');
SELECT durable_tasks.complete_run('ev_q', :'r9');
-- (d) two runs waiting for one event: one emit wakes both
SELECT task_id AS t10 FROM durable_tasks.spawn_task('ev_q', 'both', '{"n": 10}') \gset
SELECT public.claim_one('ev_q', :'t10', 60) AS r10 \gset
SELECT task_id AS t11 FROM durable_tasks.spawn_task('ev_q', 'both', '{"n": 11}') \gset
SELECT public.claim_one('ev_q', :'t11', 60) AS r11 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r10', 'ev_i');
SELECT * FROM durable_tasks.await_event('ev_q', :'r11', 'ev_i', 3600);
SELECT durable_tasks.emit_event('ev_q', 'ev_i', '[10, 11]') AS emitted;
SELECT count(*) AS claimed, bool_and(run_id IN (:'r10', :'r11')) AS the_two
  FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
SELECT a.status, a.payload FROM durable_tasks.await_event('ev_q', :'r10', 'ev_i') a
UNION ALL
SELECT a.status, a.payload FROM durable_tasks.await_event('ev_q', :'r11', 'ev_i') a;
SELECT durable_tasks.complete_run('ev_q', :'r10'), durable_tasks.complete_run('ev_q', :'r11');

--
-- cancel_task of a waiting task: task and run cancelled; the later emit
-- hands nothing out
--
SELECT task_id AS t12 FROM durable_tasks.spawn_task('ev_q', 'cancel_me', '{"n": 12}') \gset
SELECT public.claim_one('ev_q', :'t12', 60) AS r12 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'r12', 'ev_j');
SELECT durable_tasks.cancel_task('ev_q', :'t12') AS cancelled;
SELECT * FROM public.run_and_task('ev_q', :'r12');
SELECT finished_at IS NOT NULL AS run_finished, claimed_by IS NULL AS no_holder
  FROM durable_tasks.r_ev_q WHERE run_id = :'r12';
SELECT durable_tasks.emit_event('ev_q', 'ev_j') AS emitted;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
SELECT * FROM public.run_and_task('ev_q', :'r12');
SELECT pg_temp.try(format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'r12', 'ev_j')) AS cancelled_run;
-- (no parent: the cancel emitted no child event)
SELECT count(*) AS child_events FROM durable_tasks.e_ev_q WHERE event_name LIKE '$child:%';

--
-- Fan-in.  A parent p and its children; each child's end emits
-- "$child:<task_id>" with state, result and failure.
--
SELECT task_id AS tp FROM durable_tasks.spawn_task('ev_q', 'parent', '{"n": 20}') \gset
SELECT public.claim_one('ev_q', :'tp', 60) AS rp \gset
CREATE FUNCTION pg_temp.child(n integer, opts jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE sql AS $fn$
    SELECT task_id FROM durable_tasks.spawn_task('ev_q', 'child', jsonb_build_object('n', n),
        options => opts || jsonb_build_object('parent_task_id',
                     (SELECT task_id FROM durable_tasks.t_ev_q WHERE task_name = 'parent')));
$fn$;
-- (1) complete_run; the parent waits for it first and is woken at once
SELECT pg_temp.child(1) AS c1 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'rp', '$child:' || :'c1');
SELECT * FROM pg_temp.ev('$child:' || :'c1');
SELECT public.claim_one('ev_q', :'c1', 60) AS rc1 \gset
SELECT durable_tasks.complete_run('ev_q', :'rc1', '{"answer": 1}');
SELECT * FROM pg_temp.ev('$child:' || :'c1');
SELECT * FROM pg_temp.claim(:'rp');
SELECT * FROM durable_tasks.await_event('ev_q', :'rp', '$child:' || :'c1');
-- (2) fail_run with a retry left: nothing yet; the final failure emits
SELECT pg_temp.child(2, '{"max_attempts": 2, "retry_strategy": {"kind": "none"}}') AS c2 \gset
SELECT public.claim_one('ev_q', :'c2', 60) AS rc2 \gset
SELECT task_state FROM durable_tasks.fail_run('ev_q', :'rc2', '{"error": "first"}');
SELECT * FROM pg_temp.ev('$child:' || :'c2');
SELECT public.claim_one('ev_q', :'c2', 60) AS rc2b \gset
SELECT task_state FROM durable_tasks.fail_run('ev_q', :'rc2b', '{"error": "final"}');
SELECT * FROM pg_temp.ev('$child:' || :'c2');
SELECT * FROM durable_tasks.await_event('ev_q', :'rp', '$child:' || :'c2');
-- (3) lease expiry without retries left, swept by another claim (a real
-- 1.1-second wait for the 1-second lease)
SELECT pg_temp.child(3, '{"max_attempts": 1}') AS c3 \gset
SELECT run_id AS rc3 FROM durable_tasks.claim_task('ev_q', 'short', claim_timeout_seconds => 1) \gset
SELECT :'rc3'::uuid = (SELECT last_run_id FROM durable_tasks.t_ev_q WHERE task_id = :'c3') AS its_run;
SELECT * FROM pg_temp.ev('$child:' || :'c3');
SELECT pg_sleep(1.1) AS waited;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'sweeper');
SELECT state FROM durable_tasks.get_task('ev_q', :'c3');
SELECT present, emitted, payload ->> 'state' AS state, payload -> 'result' AS result,
       payload -> 'failure' IS NOT NULL AND payload -> 'failure' <> 'null' AS has_failure,
       payload -> 'failure' = (SELECT failure FROM durable_tasks.get_task('ev_q', :'c3')) AS failure_as_task
  FROM pg_temp.ev('$child:' || :'c3');
-- (4) a child cancelled on its own
SELECT pg_temp.child(4) AS c4 \gset
SELECT durable_tasks.cancel_task('ev_q', :'c4') AS cancelled;
SELECT * FROM pg_temp.ev('$child:' || :'c4');
SELECT * FROM durable_tasks.await_event('ev_q', :'rp', '$child:' || :'c4');
-- (5) a claim cancelling a child for its deadline (max_duration; the
-- first start backdated as superuser)
SELECT pg_temp.child(5, '{"cancellation": {"max_duration": 1}}') AS c5 \gset
SELECT public.claim_one('ev_q', :'c5', 60) AS rc5 \gset
SELECT durable_tasks.sleep_run('ev_q', :'rc5', '2000-01-01 00:00:00+00') AS slept;
UPDATE durable_tasks.t_ev_q SET first_started_at = first_started_at - interval '10 s' WHERE task_id = :'c5';
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w');
SELECT state FROM durable_tasks.get_task('ev_q', :'c5');
SELECT * FROM pg_temp.ev('$child:' || :'c5');
-- (5b) the same for max_delay: a pending child past its deadline
SELECT pg_temp.child(6, '{"cancellation": {"max_delay": 1}}') AS c6 \gset
UPDATE durable_tasks.r_ev_q SET available_at = available_at - interval '10 s' WHERE task_id = :'c6';
UPDATE durable_tasks.t_ev_q SET created_at = created_at - interval '10 s' WHERE task_id = :'c6';
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w');
SELECT state FROM durable_tasks.get_task('ev_q', :'c6');
SELECT * FROM pg_temp.ev('$child:' || :'c6');
-- the parent, woken by none of that (it is running), reads them all
SELECT * FROM public.run_and_task('ev_q', :'rp');
SELECT n, a.status, a.payload
  FROM (VALUES (4, :'c4'::uuid), (5, :'c5'::uuid), (6, :'c6'::uuid)) v(n, c),
       durable_tasks.await_event('ev_q', :'rp', '$child:' || v.c) a
 ORDER BY n;
-- (6) cancel_task of the parent: cascades to its children (pending,
-- running, sleeping-waiting), each emits; the parent (no parent) does not
SELECT pg_temp.child(7) AS c7 \gset
SELECT pg_temp.child(8) AS c8 \gset
SELECT public.claim_one('ev_q', :'c8', 60) AS rc8 \gset
SELECT pg_temp.child(9) AS c9 \gset
SELECT public.claim_one('ev_q', :'c9', 60) AS rc9 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'rc9', 'ev_never');
SELECT * FROM durable_tasks.await_event('ev_q', :'rp', '$child:' || :'c7');
SELECT durable_tasks.cancel_task('ev_q', :'tp') AS cancelled;
SELECT n, e.*
  FROM (VALUES (7, :'c7'::uuid), (8, :'c8'::uuid), (9, :'c9'::uuid)) v(n, c), pg_temp.ev('$child:' || v.c) e
 ORDER BY n;
SELECT * FROM pg_temp.ev('$child:' || :'tp');
SELECT * FROM public.run_and_task('ev_q', :'rp');
SELECT count(*) AS claimed FROM durable_tasks.claim_task('ev_q', 'w', qty => 10);
-- the child events, one per child that ended, none for a task without a parent
SELECT count(*) AS child_events,
       count(*) FILTER (WHERE e.emitted_at IS NOT NULL) AS emitted,
       count(*) FILTER (WHERE t.parent_task_id IS NULL) AS without_parent
  FROM durable_tasks.e_ev_q e
  LEFT JOIN durable_tasks.t_ev_q t ON '$child:' || t.task_id = e.event_name
 WHERE e.event_name LIKE '$child:%';
SELECT count(*) AS ended_children FROM durable_tasks.t_ev_q
 WHERE parent_task_id IS NOT NULL AND state IN ('completed', 'failed', 'cancelled');

--
-- cleanup_events
--
SELECT durable_tasks.drop_queue('ev_q');
SELECT durable_tasks.create_queue('ev_q');
-- old: emitted, nobody waits (x1, x2, x3); recent: emitted now (x_new);
-- awaited, never emitted (x_awaited); emitted after a run's wait timed
-- out, the run not claimed yet (x_timed); emitted and its waiting run
-- woken but not claimed yet (x_woken)
SELECT durable_tasks.emit_event('ev_q', 'x1'), durable_tasks.emit_event('ev_q', 'x2'),
       durable_tasks.emit_event('ev_q', 'x3'), durable_tasks.emit_event('ev_q', 'x_new');
SELECT task_id AS u1 FROM durable_tasks.spawn_task('ev_q', 'cw', '{"n": 1}') \gset
SELECT public.claim_one('ev_q', :'u1', 60) AS ru1 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'ru1', 'x_awaited');
SELECT task_id AS u2 FROM durable_tasks.spawn_task('ev_q', 'cw', '{"n": 2}') \gset
SELECT public.claim_one('ev_q', :'u2', 60) AS ru2 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'ru2', 'x_timed', 0);
SELECT durable_tasks.emit_event('ev_q', 'x_timed', '"t"');
SELECT task_id AS u3 FROM durable_tasks.spawn_task('ev_q', 'cw', '{"n": 3}') \gset
SELECT public.claim_one('ev_q', :'u3', 60) AS ru3 \gset
SELECT * FROM durable_tasks.await_event('ev_q', :'ru3', 'x_woken');
SELECT durable_tasks.emit_event('ev_q', 'x_woken', '"w"');
-- (superuser: everything but x_new emitted / created a day ago)
UPDATE durable_tasks.e_ev_q SET emitted_at = emitted_at - interval '1 day', created_at = created_at - interval '1 day'
 WHERE event_name <> 'x_new';
SELECT durable_tasks.cleanup_events('ev_q', '1 hour', 2) AS batch1;
SELECT durable_tasks.cleanup_events('ev_q', '1 hour', 2) AS batch2;
SELECT durable_tasks.cleanup_events('ev_q', '1 hour') AS batch3;
SELECT event_name, emitted_at IS NOT NULL AS emitted FROM durable_tasks.e_ev_q ORDER BY event_name;
-- the kept ones still work: the timed-out run and the woken run (both
-- due) are handed out and see their events; the awaiting one is woken by
-- the emit
SELECT count(*) AS claimed, bool_and(run_id IN (:'ru2', :'ru3')) AS the_two
  FROM durable_tasks.claim_task('ev_q', 'w', claim_timeout_seconds => 60, qty => 10);
SELECT * FROM durable_tasks.await_event('ev_q', :'ru2', 'x_timed');
SELECT * FROM durable_tasks.await_event('ev_q', :'ru3', 'x_woken');
SELECT * FROM public.run_and_task('ev_q', :'ru3');
SELECT durable_tasks.complete_run('ev_q', :'ru2');
SELECT durable_tasks.complete_run('ev_q', :'ru3');
SELECT durable_tasks.emit_event('ev_q', 'x_awaited', '"a"');
SELECT * FROM pg_temp.claim(:'ru1');
SELECT * FROM durable_tasks.await_event('ev_q', :'ru1', 'x_awaited');
-- older_than 0 deletes every emitted event, the recent one too, but one
-- that a run of a live task waited for (ru1 is still running: its code,
-- run again after a retry, must find the event)
SELECT durable_tasks.cleanup_events('ev_q', '0') AS all_emitted;
SELECT count(*) AS events_left FROM durable_tasks.e_ev_q;
SELECT durable_tasks.cleanup_events('ev_q', '0') AS nothing_left;
-- a deleted event can be emitted again (true), and a run sees the new one
SELECT durable_tasks.emit_event('ev_q', 'x1', '"again"') AS emitted_anew;
SELECT * FROM durable_tasks.await_event('ev_q', :'ru1', 'x1');
SELECT durable_tasks.complete_run('ev_q', :'ru1');

--
-- Privileges: producer emits (not awaits, not cleans up), worker awaits
-- (not cleans up), admin cleans up
--
CREATE ROLE ev_producer;
CREATE ROLE ev_worker;
CREATE ROLE ev_admin;
SELECT durable_tasks.grant_queue('ev_q', 'ev_producer', 'producer');
SELECT durable_tasks.grant_queue('ev_q', 'ev_worker', 'worker');
SELECT durable_tasks.grant_queue('ev_q', 'ev_admin', 'admin');
SELECT task_id AS u4 FROM durable_tasks.spawn_task('ev_q', 'roles', '{"n": 4}') \gset
SELECT public.claim_one('ev_q', :'u4', 60) AS ru4 \gset
SELECT pg_temp.digest() AS d0 \gset
SET ROLE ev_producer;
SELECT public.err(format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru4', 'p1')) AS producer_await;
SELECT public.err($$SELECT * FROM durable_tasks.await_event('ev_q', '00000000-0000-7000-8000-000000000000', 'p1')$$) AS producer_await_unknown;
SELECT public.err($$SELECT durable_tasks.cleanup_events('ev_q', '0')$$) AS producer_cleanup;
RESET ROLE;
SELECT pg_temp.digest() = :'d0' AS unchanged;
SET ROLE ev_worker;
SELECT public.err($$SELECT durable_tasks.cleanup_events('ev_q', '0')$$) AS worker_cleanup;
SELECT * FROM durable_tasks.await_event('ev_q', :'ru4', 'p1');
RESET ROLE;
SELECT * FROM public.run_and_task('ev_q', :'ru4');
SET ROLE ev_producer;
SELECT durable_tasks.emit_event('ev_q', 'p1', '{"by": "producer"}') AS producer_emit;
SELECT durable_tasks.emit_event('ev_q', 'p1', '{"by": "producer again"}') AS producer_emit_again;
RESET ROLE;
SET ROLE ev_worker;
SELECT run_id = :'ru4' AS same_run FROM durable_tasks.claim_task('ev_q', 'ev-worker');
SELECT * FROM durable_tasks.await_event('ev_q', :'ru4', 'p1');
SELECT durable_tasks.emit_event('ev_q', 'p2') AS worker_emit;
SELECT durable_tasks.complete_run('ev_q', :'ru4');
RESET ROLE;
SET ROLE ev_admin;
SELECT durable_tasks.cleanup_events('ev_q', '0') AS admin_cleanup;
RESET ROLE;
-- no privilege at all: 42501 for each, nothing learnt
CREATE ROLE ev_nobody;
SET ROLE ev_nobody;
SELECT public.err($$SELECT durable_tasks.emit_event('ev_q', 'n1')$$) AS nobody_emit;
SELECT public.err(format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru4', 'n1')) AS nobody_await;
SELECT public.err($$SELECT durable_tasks.cleanup_events('ev_q', '0')$$) AS nobody_cleanup;
RESET ROLE;
SELECT count(*) AS events FROM durable_tasks.e_ev_q;
SELECT durable_tasks.revoke_queue('ev_q', 'ev_producer', 'producer');
SELECT durable_tasks.revoke_queue('ev_q', 'ev_worker', 'worker');
SELECT durable_tasks.revoke_queue('ev_q', 'ev_admin', 'admin');
DROP ROLE ev_producer;
DROP ROLE ev_worker;
DROP ROLE ev_admin;
DROP ROLE ev_nobody;

--
-- Bad input: refused, nothing written, the run still held
--
SELECT durable_tasks.create_queue('ev_other');
SELECT count(*) FROM durable_tasks.spawn_task('ev_other', 'elsewhere');
SELECT run_id AS ro FROM durable_tasks.claim_task('ev_other', 'w1') \gset
SELECT task_id AS u5 FROM durable_tasks.spawn_task('ev_q', 'bad_input', '{"n": 5}') \gset
SELECT public.claim_one('ev_q', :'u5', 60) AS ru5 \gset
SELECT task_id AS u6, run_id AS ru6 FROM durable_tasks.spawn_task('ev_q', 'pending', '{"n": 6}',
         options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS u8 FROM durable_tasks.spawn_task('ev_q', 'done', '{"n": 8}') \gset
SELECT public.claim_one('ev_q', :'u8', 60) AS ru8 \gset
SELECT durable_tasks.complete_run('ev_q', :'ru8');
SELECT task_id AS u7 FROM durable_tasks.spawn_task('ev_q', 'expired', '{"n": 7}') \gset
SELECT public.claim_one('ev_q', :'u7', 60) AS ru7 \gset
-- (superuser: the lease of ru7 ended a second ago; no claim comes after
-- this to sweep it)
UPDATE durable_tasks.r_ev_q SET claim_expires_at = clock_timestamp() - interval '1 s' WHERE run_id = :'ru7';
SELECT v.n, v.what, pg_temp.try(v.sql) AS result
  FROM (VALUES
    (1, 'emit: queue NULL', $$SELECT durable_tasks.emit_event(NULL, 'b1')$$),
    (2, 'emit: queue empty', $$SELECT durable_tasks.emit_event('', 'b1')$$),
    (3, 'emit: queue upper case', $$SELECT durable_tasks.emit_event('EV_Q', 'b1')$$),
    (4, 'emit: queue too long', format('SELECT durable_tasks.emit_event(%L, %L)', repeat('a', 49), 'b1')),
    (5, 'emit: queue unknown', $$SELECT durable_tasks.emit_event('ev_nosuch', 'b1')$$),
    (6, 'emit: event_name NULL', $$SELECT durable_tasks.emit_event('ev_q', NULL)$$),
    (7, 'emit: event_name empty', $$SELECT durable_tasks.emit_event('ev_q', '')$$),
    (8, 'emit: event_name 256 bytes', format('SELECT durable_tasks.emit_event(%L, %L)', 'ev_q', repeat('n', 256))),
    (9, 'emit: event_name 128 x 2 bytes', format('SELECT durable_tasks.emit_event(%L, %L)', 'ev_q', repeat('é', 128))),
    (10, 'emit: payload over 1 MB', format('SELECT durable_tasks.emit_event(%L, %L, jsonb_build_object(%L, repeat(%L, 1048576)))', 'ev_q', 'b1', 'x', 'y')),
    (11, 'emit: payload over 1 MB, named', format('SELECT durable_tasks.emit_event(%L, %L, payload => to_jsonb(repeat(%L, 1100000)))', 'ev_q', 'b1', 'y')),
    (12, 'emit: payload not json', $$SELECT durable_tasks.emit_event('ev_q', 'b1', '{nope')$$),
    (13, 'emit: all NULL', 'SELECT durable_tasks.emit_event(NULL, NULL, NULL)'),
    (20, 'await: queue NULL', format('SELECT * FROM durable_tasks.await_event(NULL, %L, %L)', :'ru5', 'b1')),
    (21, 'await: queue empty', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', '', :'ru5', 'b1')),
    (22, 'await: queue with dash', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev-q', :'ru5', 'b1')),
    (23, 'await: queue unknown', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_nosuch', :'ru5', 'b1')),
    (24, 'await: run_id NULL', format('SELECT * FROM durable_tasks.await_event(%L, NULL, %L)', 'ev_q', 'b1')),
    (25, 'await: run_id not a uuid', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', 'not-a-uuid', 'b1')),
    (26, 'await: event_name NULL', format('SELECT * FROM durable_tasks.await_event(%L, %L, NULL)', 'ev_q', :'ru5')),
    (27, 'await: event_name empty', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru5', '')),
    (28, 'await: event_name 256 bytes', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru5', repeat('n', 256))),
    (29, 'await: event_name 128 x 2 bytes', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru5', repeat('é', 128))),
    (30, 'await: timeout -1', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L, -1)', 'ev_q', :'ru5', 'b1')),
    (31, 'await: timeout 315360001', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L, 315360001)', 'ev_q', :'ru5', 'b1')),
    (32, 'await: timeout int max', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L, 2147483647)', 'ev_q', :'ru5', 'b1')),
    (34, 'await: unknown run', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', '00000000-0000-7000-8000-000000000000', 'b1')),
    (35, 'await: a task id', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'u5', 'b1')),
    (36, 'await: run of another queue', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ro', 'b1')),
    (37, 'await: pending run', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru6', 'b1')),
    (38, 'await: expired lease', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru7', 'b1')),
    (39, 'await: completed run', format('SELECT * FROM durable_tasks.await_event(%L, %L, %L)', 'ev_q', :'ru8', 'b1')),
    (40, 'await: all NULL', 'SELECT * FROM durable_tasks.await_event(NULL, NULL, NULL, NULL)'),
    (50, 'cleanup: queue NULL', $$SELECT durable_tasks.cleanup_events(NULL, '0')$$),
    (51, 'cleanup: queue empty', $$SELECT durable_tasks.cleanup_events('', '0')$$),
    (52, 'cleanup: queue unknown', $$SELECT durable_tasks.cleanup_events('ev_nosuch', '0')$$),
    (53, 'cleanup: older_than NULL', $$SELECT durable_tasks.cleanup_events('ev_q', NULL)$$),
    (54, 'cleanup: older_than negative', $$SELECT durable_tasks.cleanup_events('ev_q', '-1 second')$$),
    (55, 'cleanup: older_than 1 day -25 hours', $$SELECT durable_tasks.cleanup_events('ev_q', '1 day -25 hours')$$),
    (56, 'cleanup: batch_size 0', $$SELECT durable_tasks.cleanup_events('ev_q', '0', 0)$$),
    (57, 'cleanup: batch_size -1', $$SELECT durable_tasks.cleanup_events('ev_q', '0', -1)$$),
    (58, 'cleanup: batch_size 100001', $$SELECT durable_tasks.cleanup_events('ev_q', '0', 100001)$$),
    (59, 'cleanup: batch_size NULL', $$SELECT durable_tasks.cleanup_events('ev_q', '0', NULL)$$)
  ) v(n, what, sql)
 ORDER BY v.n;
SELECT * FROM public.run_and_task('ev_q', :'ru5');
SELECT * FROM public.run_and_task('ev_q', :'ru7');
SELECT count(*) AS events, count(*) FILTER (WHERE event_name = 'b1') AS b1 FROM durable_tasks.e_ev_q;
SELECT count(*) AS waits FROM durable_tasks.w_ev_q;
-- the bounds that are allowed: timeout 315360000 suspends (a wait of ten
-- years), a 1 MB payload less a little is emitted
SELECT * FROM durable_tasks.await_event('ev_q', :'ru5', 'b_long', 315360000);
SELECT timeout_at > clock_timestamp() + interval '3649 days' AS ten_years FROM durable_tasks.w_ev_q WHERE run_id = :'ru5';
SELECT durable_tasks.emit_event('ev_q', 'b_big', to_jsonb(repeat('y', 1000000))) AS big_emitted;
SELECT durable_tasks.cancel_task('ev_q', :'u5'), durable_tasks.cancel_task('ev_q', :'u6'),
       durable_tasks.cancel_task('ev_q', :'u7');
SELECT durable_tasks.drop_queue('ev_other');

-- the ground truth of ev_q at the end, and queue_stats agreeing with it
SELECT t.state AS task_state, r.state AS run_state, count(*)
  FROM durable_tasks.t_ev_q t JOIN durable_tasks.r_ev_q r ON r.run_id = t.last_run_id
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT pending, running, sleeping, completed, failed, cancelled FROM durable_tasks.queue_stats('ev_q');
-- dropping the queue drops its event tables
SELECT durable_tasks.drop_queue('ev_q');
SELECT to_regclass('durable_tasks.e_ev_q') IS NULL AS no_events, to_regclass('durable_tasks.w_ev_q') IS NULL AS no_waits;
