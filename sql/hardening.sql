--
-- hardening: the edges of the promise (SPEC 4.1), one section each:
--   1. many spawns of one key inside one statement (generate_series,
--      LATERAL): one creates, the others hit; a repeat with a bogus parent
--      hits instead of failing
--   2. the key index replaced by something else, or dropped: a clear error;
--      the hinted CREATE UNIQUE INDEX repairs it
--   3. a damaged column type (or a dropped column): a clear error from
--      every function, never a crash
--   4. times a worker sees come from the clock at the call, not from the
--      start of a long transaction
--   5. bad queue names and non-integer numbers that float rounding would
--      hide
--   6. a bogus retry_strategy (set by hand) fails its task for good, in the
--      lease sweep and in fail_run, instead of breaking claim_task
--   7. terminal parents refuse new children
--   8. create_queue registers orphaned tables only if they are a queue's
--
-- Errors are shown as "SQLSTATE: message" by public.err() (uuids masked),
-- or with their detail by pg_temp.errd().  Nothing printed depends on
-- generated ids or on wall-clock values: clock checks print booleans.
-- All queues are named h_* and dropped at the end.
--

-- public.err(sql), with the error's detail appended.
CREATE FUNCTION pg_temp.errd(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    st  text;
    msg text;
    det text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN regexp_replace(st || ': ' || msg || COALESCE(' / ' || NULLIF(det, ''), ''),
                          '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                          '<uuid>', 'g');
END
$fn$;

-- The message of the error sql raises, unmasked ('ok' if none).
CREATE FUNCTION pg_temp.err_raw(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    msg text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RETURN msg;
END
$fn$;

-- The hint of the error sql raises (NULL if none, or no error).
CREATE FUNCTION pg_temp.err_hint(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END
$fn$;

--
-- 1. Same-statement spawns of one key (READ COMMITTED).
--
SELECT durable_tasks.create_queue('h_st');

-- In the target list: five calls, one creates.
SELECT count(*) FILTER (WHERE (s).created) AS created, count(*) AS spawns,
       count(DISTINCT (s).task_id) AS tasks
  FROM (SELECT durable_tasks.spawn_task('h_st', 't', jsonb_build_object('g', g),
                                        idempotency_key => 'same_tl') AS s
          FROM generate_series(1, 5) g OFFSET 0) x;
-- In a LATERAL join (params name g: the function is called once per row).
SELECT count(*) FILTER (WHERE s.created) AS created, count(*) AS spawns,
       count(DISTINCT s.task_id) AS tasks
  FROM generate_series(1, 5) g,
       LATERAL durable_tasks.spawn_task('h_st', 't', jsonb_build_object('g', g),
                                        idempotency_key => 'same_lat') s;
-- The same, with keys that repeat: a, b, a, b, a.
SELECT count(*) FILTER (WHERE s.created) AS created, count(*) AS spawns,
       count(DISTINCT s.task_id) AS tasks
  FROM generate_series(1, 5) g,
       LATERAL durable_tasks.spawn_task('h_st', 't', jsonb_build_object('g', g),
                                        idempotency_key => 'rep_' || (g % 2)) s;
-- One task and one run per key, nothing else written.
SELECT t.idempotency_key, count(*) AS tasks,
       sum((SELECT count(*) FROM durable_tasks.r_h_st r WHERE r.task_id = t.task_id)) AS runs
  FROM durable_tasks.t_h_st t
 GROUP BY t.idempotency_key ORDER BY t.idempotency_key;

-- A repeat of a key in the same statement with a bogus parent_task_id hits
-- (the hit path never looks at the parent).
SELECT g, s.created, s.state
  FROM generate_series(1, 3) g,
       LATERAL durable_tasks.spawn_task('h_st', 't', jsonb_build_object('g', g),
           idempotency_key => 'bogus_parent',
           options => CASE WHEN g = 1 THEN '{}'::jsonb
                           ELSE '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}'::jsonb
                      END) s
 ORDER BY g;
-- ... and in a later statement too
SELECT created, state FROM durable_tasks.spawn_task('h_st', 't', idempotency_key => 'bogus_parent',
         options => '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}');
-- a new key with that parent: P0002 (nothing written)
SELECT public.err($$SELECT durable_tasks.spawn_task('h_st', 't', idempotency_key => 'bogus_new',
         options => '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}')$$);
SELECT count(*) AS tasks FROM durable_tasks.t_h_st;
SELECT count(*) AS bogus_new FROM durable_tasks.t_h_st WHERE idempotency_key = 'bogus_new';

--
-- 2. The key index.
--
SELECT durable_tasks.create_queue('h_ki');
SELECT durable_tasks.create_queue('h_kj');
SELECT task_id AS ki_k1 FROM durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k1') \gset

-- a keyed spawn of a held key (k1) and of a new key (k2), and an only_once spawn
CREATE FUNCTION pg_temp.ki_spawns() RETURNS TABLE (spawn text, result text)
LANGUAGE sql AS $fn$
    VALUES ('k1', public.err($$SELECT durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k1')$$)),
           ('k2', public.err($$SELECT durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k2')$$)),
           ('only_once', public.err($$SELECT durable_tasks.spawn_task('h_ki', 't', '{"o": 1}', only_once => true)$$))
$fn$;

-- not unique, same name, columns and predicate
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key)
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- unique, on another column
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (task_id)
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- unique, on (idempotency_key, task_name)
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key, task_name)
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- unique, another predicate
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key)
 WHERE idempotency_key IS NOT NULL;
SELECT * FROM pg_temp.ki_spawns();
-- unique, no predicate
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key);
SELECT * FROM pg_temp.ki_spawns();
-- a hash index
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki USING hash (idempotency_key)
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- another collation than the column's
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key COLLATE "POSIX")
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- the right definition, on another queue's table
DROP INDEX durable_tasks.ti_h_ki_ikey;
CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_kj (idempotency_key)
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL;
SELECT * FROM pg_temp.ki_spawns();
-- no index of that name
DROP INDEX durable_tasks.ti_h_ki_ikey;
SELECT * FROM pg_temp.ki_spawns();
-- nothing was written by the refused spawns
SELECT count(*) AS tasks, count(*) FILTER (WHERE idempotency_key = 'k1') AS k1
  FROM durable_tasks.t_h_ki;
SELECT count(*) AS kj_tasks FROM durable_tasks.t_h_kj;

-- The hint gives the statement that repairs it; run it.
SELECT set_config('h.hint',
                  COALESCE(pg_temp.err_hint($$SELECT durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k1')$$), ''),
                  false) LIKE '%CREATE UNIQUE INDEX%' AS hint_has_create_unique_index;
DO $do$
DECLARE
    stmt text := regexp_replace(substring(current_setting('h.hint') FROM 'CREATE UNIQUE INDEX [^;]*'),
                                '\.$', '');
BEGIN
    -- without one, the definition create_queue uses, so that the rest runs
    EXECUTE COALESCE(stmt, 'CREATE UNIQUE INDEX ti_h_ki_ikey ON durable_tasks.t_h_ki (idempotency_key) '
                           'WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL');
END
$do$;
SELECT indisunique, pg_get_indexdef(indexrelid, 1, true) AS key,
       pg_get_expr(indpred, indrelid) AS predicate
  FROM pg_index WHERE indexrelid = 'durable_tasks.ti_h_ki_ikey'::regclass;
-- spawns work again: k1 hits the task it had, k3 creates
SELECT task_id = :'ki_k1' AS same_task, created
  FROM durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k1');
SELECT created FROM durable_tasks.spawn_task('h_ki', 't', idempotency_key => 'k3');
SELECT created FROM durable_tasks.spawn_task('h_ki', 't', '{"o": 1}', only_once => true);
SELECT created FROM durable_tasks.spawn_task('h_ki', 't', '{"o": 1}', only_once => true);

--
-- 3. Damaged column types.
--
SELECT durable_tasks.create_queue('h_ty1');
SELECT durable_tasks.create_queue('h_ty2');
SELECT durable_tasks.create_queue('h_ty3');
SELECT task_id AS ty1_task FROM durable_tasks.spawn_task('h_ty1', 't', idempotency_key => 'k') \gset
SELECT task_id AS ty2_task FROM durable_tasks.spawn_task('h_ty2', 't', '{"a": 1}', idempotency_key => 'k') \gset
SELECT task_id AS ty3_task FROM durable_tasks.spawn_task('h_ty3', 't', idempotency_key => 'k') \gset

-- every function, on queue q, for the task tid
CREATE FUNCTION pg_temp.all_calls(q text, tid uuid) RETURNS TABLE (call text, result text)
LANGUAGE sql AS $fn$
    VALUES ('spawn keyed', pg_temp.errd(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)', q, 't', 'k'))),
           ('spawn keyed new', pg_temp.errd(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L)', q, 't', 'k_new'))),
           ('spawn', pg_temp.errd(format('SELECT durable_tasks.spawn_task(%L, %L)', q, 't'))),
           ('get_task', pg_temp.errd(format('SELECT durable_tasks.get_task(%L, %L)', q, tid))),
           ('claim_task', pg_temp.errd(format('SELECT durable_tasks.claim_task(%L, %L)', q, 'w')))
$fn$;

-- state integer
ALTER TABLE durable_tasks.t_h_ty1 DROP CONSTRAINT t_h_ty1_state,
    ALTER COLUMN state TYPE integer USING 0;
SELECT * FROM pg_temp.all_calls('h_ty1', :'ty1_task');
-- params text
ALTER TABLE durable_tasks.t_h_ty2 ALTER COLUMN params TYPE text;
SELECT * FROM pg_temp.all_calls('h_ty2', :'ty2_task');
-- state dropped (the message only)
ALTER TABLE durable_tasks.t_h_ty3 DROP COLUMN state;
SELECT call, split_part(result, ' / ', 1) AS result FROM pg_temp.all_calls('h_ty3', :'ty3_task');
-- the server is still up, and nothing was written
SELECT (SELECT count(*) FROM durable_tasks.t_h_ty1) AS ty1,
       (SELECT count(*) FROM durable_tasks.r_h_ty1 WHERE state = 'pending') AS ty1_pending,
       (SELECT count(*) FROM durable_tasks.t_h_ty2) AS ty2,
       (SELECT count(*) FROM durable_tasks.r_h_ty2 WHERE state = 'pending') AS ty2_pending,
       (SELECT count(*) FROM durable_tasks.t_h_ty3) AS ty3,
       (SELECT count(*) FROM durable_tasks.r_h_ty3 WHERE state = 'pending') AS ty3_pending;

--
-- 4. Times come from the clock at the call.
--
SELECT durable_tasks.create_queue('h_ck1');
SELECT durable_tasks.create_queue('h_ck2');
SELECT durable_tasks.create_queue('h_ck3');
SELECT 1 AS one FROM durable_tasks.spawn_task('h_ck1', 't');
SELECT 1 AS one FROM durable_tasks.spawn_task('h_ck2', 't');
SELECT 1 AS one FROM durable_tasks.spawn_task('h_ck3', 't',
         options => '{"retry_strategy": {"kind": "fixed", "base_seconds": 1}}');

-- a 1 s lease taken 1.2 s into a transaction ends 1 s after the call
BEGIN;
SELECT pg_sleep(1.2);
SELECT claim_expires_at > clock_timestamp() AS lease_after_clock,
       claim_expires_at <= clock_timestamp() + interval '1 s' AS lease_within_1s
  FROM durable_tasks.claim_task('h_ck1', 'w', 1);
COMMIT;

-- a lease that ran out on the wall clock cannot be extended, even inside
-- the transaction that took it
BEGIN;
SELECT run_id AS ck2_run FROM durable_tasks.claim_task('h_ck2', 'w', 1) \gset
SELECT pg_sleep(1.5);
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 30)', 'h_ck2', :'ck2_run'));
ROLLBACK;

-- fail_run 1.2 s into a transaction: the retry is 1 s after the call
BEGIN;
SELECT run_id AS ck3_run FROM durable_tasks.claim_task('h_ck3', 'w') \gset
SELECT pg_sleep(1.2);
SELECT task_state, retry_attempt,
       retry_available_at > clock_timestamp() AS retry_after_clock,
       retry_available_at <= clock_timestamp() + interval '1 s' AS retry_within_1s
  FROM durable_tasks.fail_run('h_ck3', :'ck3_run', '{"error": "x"}');
COMMIT;

--
-- 5. Bad input.
--
-- queue names of 48 (the most), 49 and 100 bytes
SELECT public.err(format('SELECT durable_tasks.create_queue(%L)', 'h_' || repeat('n', 46)));
SELECT public.err(format('SELECT durable_tasks.drop_queue(%L)', 'h_' || repeat('n', 46)));
SELECT pg_temp.errd(format('SELECT durable_tasks.create_queue(%L)', 'h_' || repeat('n', 47)));
SELECT pg_temp.errd(format('SELECT durable_tasks.create_queue(%L)', 'h_' || repeat('n', 98)));
SELECT pg_temp.errd(format('SELECT durable_tasks.spawn_task(%L, %L)', 'h_' || repeat('n', 47), 't'));
SELECT pg_temp.errd(format('SELECT durable_tasks.spawn_task(%L, %L)', 'h_' || repeat('n', 98), 't'));
SELECT pg_temp.errd(format('SELECT durable_tasks.drop_queue(%L)', 'h_' || repeat('n', 47)));
SELECT count(*) AS long_queues FROM durable_tasks.list_queues() WHERE queue_name LIKE 'h\_nnn%';

-- numbers that are not integers, however close
SELECT durable_tasks.create_queue('h_bn');
SELECT n, opts, public.err(format('SELECT durable_tasks.%s', call)) AS result
  FROM (VALUES
    (1, 'spawn', '{"dedup_ttl_seconds": 0.99999999999999999999}',
        format('spawn_task(%L, %L, idempotency_key => %L, options => %L)', 'h_bn', 't', 'k1',
               '{"dedup_ttl_seconds": 0.99999999999999999999}')),
    (2, 'spawn', '{"max_attempts": 1.0000000000000000001}',
        format('spawn_task(%L, %L, options => %L)', 'h_bn', 't',
               '{"max_attempts": 1.0000000000000000001}')),
    (3, 'spawn', '{"max_attempts": 1.0000000000000000001} (keyed)',
        format('spawn_task(%L, %L, idempotency_key => %L, options => %L)', 'h_bn', 't', 'k3',
               '{"max_attempts": 1.0000000000000000001}')),
    (4, 'create_queue', '{"dedup_ttl_seconds": 0.99999999999999999999}',
        format('create_queue(%L, %L)', 'h_bn2', '{"dedup_ttl_seconds": 0.99999999999999999999}')),
    (5, 'create_queue', '{"dedup_ttl_seconds": 60.0000000000000000001}',
        format('create_queue(%L, %L)', 'h_bn2', '{"dedup_ttl_seconds": 60.0000000000000000001}')),
    (6, 'alter_queue', '{"dedup_ttl_seconds": 0.99999999999999999999}',
        format('alter_queue(%L, %L)', 'h_bn', '{"dedup_ttl_seconds": 0.99999999999999999999}')),
    (7, 'alter_queue', '{"dedup_ttl_seconds": 60.0000000000000000001}',
        format('alter_queue(%L, %L)', 'h_bn', '{"dedup_ttl_seconds": 60.0000000000000000001}'))
  ) v(n, fn, opts, call)
 ORDER BY n;
-- nothing written, nothing created or changed
SELECT count(*) AS tasks FROM durable_tasks.t_h_bn;
SELECT queue_name, dedup_ttl_seconds FROM durable_tasks.list_queues()
 WHERE queue_name IN ('h_bn', 'h_bn2') ORDER BY queue_name;
SELECT public.err($$SELECT durable_tasks.drop_queue('h_bn2')$$);

--
-- 6. A bogus retry_strategy, set by hand.
--
SELECT durable_tasks.create_queue('h_ls');
-- the lease sweep: a's lease ran out and its task cannot be retried
SELECT task_id AS ls_a, run_id AS ls_a_run FROM durable_tasks.spawn_task('h_ls', 'a') \gset
SELECT task_name FROM durable_tasks.claim_task('h_ls', 'w1');
UPDATE durable_tasks.t_h_ls SET retry_strategy = '{"kind": "bogus"}' WHERE task_id = :'ls_a';
UPDATE durable_tasks.r_h_ls SET claim_expires_at = now() - interval '1 minute'
 WHERE run_id = :'ls_a_run';
-- (a direct write, behind this backend's sweep floor: sweep it all)
SET durable_tasks.claim_full_scan_interval = 0;
SELECT task_id AS ls_b FROM durable_tasks.spawn_task('h_ls', 'b') \gset
-- (the sweep logs a WARNING)
SET client_min_messages = error;
SELECT task_name FROM durable_tasks.claim_task('h_ls', 'w2');
RESET client_min_messages;
SELECT task_name, state FROM durable_tasks.t_h_ls ORDER BY task_name;
SELECT state, attempts, failure ? 'retry_strategy_error' AS has_retry_strategy_error,
       failure ->> 'error' AS error, finished_at IS NOT NULL AS finished
  FROM durable_tasks.get_task('h_ls', :'ls_a');
SELECT attempt, state FROM durable_tasks.r_h_ls WHERE task_id = :'ls_a' ORDER BY attempt;
-- claim_task keeps working
SELECT task_id AS ls_c FROM durable_tasks.spawn_task('h_ls', 'c') \gset
SELECT task_name FROM durable_tasks.claim_task('h_ls', 'w3');

-- fail_run of a held run whose task has a bogus strategy: failed for good
SELECT task_id AS ls_d, run_id AS ls_d_run FROM durable_tasks.spawn_task('h_ls', 'd') \gset
SELECT task_name FROM durable_tasks.claim_task('h_ls', 'w4');
UPDATE durable_tasks.t_h_ls SET retry_strategy = '{"kind": "bogus"}' WHERE task_id = :'ls_d';
SET client_min_messages = error;
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L, %L)', 'h_ls', :'ls_d_run', '{"error": "boom"}'));
RESET client_min_messages;
SELECT state, attempts, failure ? 'retry_strategy_error' AS has_retry_strategy_error,
       finished_at IS NOT NULL AS finished
  FROM durable_tasks.get_task('h_ls', :'ls_d');
SELECT attempt, state FROM durable_tasks.r_h_ls WHERE task_id = :'ls_d' ORDER BY attempt;

--
-- 7. Terminal parents refuse new children.
--
SELECT durable_tasks.create_queue('h_tp');
SELECT task_id AS tp_done, run_id AS tp_done_run FROM durable_tasks.spawn_task('h_tp', 'done') \gset
SELECT task_name FROM durable_tasks.claim_task('h_tp', 'w');
SELECT durable_tasks.complete_run('h_tp', :'tp_done_run', '{"ok": true}');
SELECT task_id AS tp_failed, run_id AS tp_failed_run FROM durable_tasks.spawn_task('h_tp', 'failed',
         options => '{"max_attempts": 1}') \gset
SELECT task_name FROM durable_tasks.claim_task('h_tp', 'w');
SELECT task_state FROM durable_tasks.fail_run('h_tp', :'tp_failed_run', '{"error": "x"}');
SELECT task_id AS tp_cancelled FROM durable_tasks.spawn_task('h_tp', 'cancelled') \gset
SELECT durable_tasks.cancel_task('h_tp', :'tp_cancelled');
SELECT task_id AS tp_running FROM durable_tasks.spawn_task('h_tp', 'running') \gset
SELECT task_name FROM durable_tasks.claim_task('h_tp', 'w');
SELECT task_id AS tp_pending FROM durable_tasks.spawn_task('h_tp', 'pending',
         options => '{"delay_seconds": 3600}') \gset
SELECT task_name, state FROM durable_tasks.t_h_tp ORDER BY task_name;

-- a child spawn of each parent, unkeyed and keyed; the error names the
-- parent's state (uuid masked)
SELECT p.task_name AS parent, k.keyed,
       public.err(format('SELECT durable_tasks.spawn_task(%L, %L, idempotency_key => %L, options => %L)',
                         'h_tp', 'child', CASE WHEN k.keyed THEN 'child_of_' || p.task_name END,
                         jsonb_build_object('parent_task_id', p.task_id))) AS result
  FROM durable_tasks.t_h_tp p CROSS JOIN (VALUES (false), (true)) k(keyed)
 WHERE p.task_name IN ('done', 'failed', 'cancelled', 'running', 'pending')
 ORDER BY p.task_name, k.keyed;
-- the same message for the exact uuid
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L, options => %L)', 'h_tp', 'child',
                         jsonb_build_object('parent_task_id', :'tp_cancelled')))
       = '55000: parent task <uuid> is cancelled' AS masked_message_matches;
SELECT pg_temp.err_raw(format('SELECT durable_tasks.spawn_task(%L, %L, options => %L)', 'h_tp', 'child',
                             jsonb_build_object('parent_task_id', :'tp_done')))
       = format('parent task %s is completed', :'tp_done') AS exact_message;
-- only the children of the live parents were written
SELECT p.task_name AS parent, count(c.task_id) AS children
  FROM durable_tasks.t_h_tp p
  LEFT JOIN durable_tasks.t_h_tp c ON c.parent_task_id = p.task_id
 WHERE p.parent_task_id IS NULL
 GROUP BY p.task_name ORDER BY p.task_name;
SELECT state FROM durable_tasks.get_task('h_tp', :'tp_cancelled');

--
-- 8. Registering tables that lost their registry row: only tables that
-- are a queue's, with nothing attached that others' calls would run.
--
SELECT durable_tasks.create_queue('h_ad');
SELECT count(*) FROM durable_tasks.spawn_task('h_ad', 'kept', idempotency_key => 'ad1');
DELETE FROM durable_tasks.queues WHERE queue_name = 'h_ad';
SELECT public.err($$SELECT durable_tasks.spawn_task('h_ad', 'x')$$);
-- a trigger on the run table: refused
CREATE FUNCTION public.h_ad_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER h_ad_trg BEFORE INSERT ON durable_tasks.r_h_ad
    FOR EACH ROW EXECUTE FUNCTION public.h_ad_trg();
SELECT public.err($$SELECT durable_tasks.create_queue('h_ad')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'h_ad';
DROP TRIGGER h_ad_trg ON durable_tasks.r_h_ad;
DROP FUNCTION public.h_ad_trg();
-- tables another role owns: refused, to an admin of every queue and to a
-- superuser alike (only the extension owner's tables are registered)
CREATE ROLE h_ad_owner;
SELECT durable_tasks.grant_queue(NULL, 'h_ad_owner', 'admin');
ALTER TABLE durable_tasks.t_h_ad OWNER TO h_ad_owner;
ALTER TABLE durable_tasks.r_h_ad OWNER TO h_ad_owner;
SET ROLE h_ad_owner;
SELECT public.err($$SELECT durable_tasks.create_queue('h_ad')$$);
RESET ROLE;
SELECT public.err($$SELECT durable_tasks.create_queue('h_ad')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'h_ad';
ALTER TABLE durable_tasks.t_h_ad OWNER TO CURRENT_USER;
ALTER TABLE durable_tasks.r_h_ad OWNER TO CURRENT_USER;
SELECT durable_tasks.revoke_queue(NULL, 'h_ad_owner', 'admin');
DROP ROLE h_ad_owner;
-- now they are registered, with their task
SELECT durable_tasks.create_queue('h_ad');
SELECT created FROM durable_tasks.spawn_task('h_ad', 'kept', idempotency_key => 'ad1');

--
-- Clean up.
--
SELECT durable_tasks.drop_queue(q)
  FROM unnest(ARRAY['h_st', 'h_ki', 'h_kj', 'h_ty1', 'h_ty2', 'h_ty3', 'h_ck1', 'h_ck2',
                    'h_ck3', 'h_bn', 'h_ls', 'h_tp', 'h_ad']) q;
SELECT count(*) AS h_queues FROM durable_tasks.list_queues() WHERE queue_name LIKE 'h\_%';
