--
-- search_path: a hostile schema first in search_path, with tables named
-- like ours and functions and operators named like the ones our SQL uses,
-- all of which raise if called.  Every entry point works unchanged and
-- calls none of them.
--
-- This session starts with the hostile path set, so every plan the
-- extension prepares in this backend is prepared under it.
--
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile trigger called'; END $$;

-- tables named like the extension's
CREATE TABLE hostile.queues (queue_name text, key_reuse text, dedup_ttl_seconds int, on_params_mismatch text);
CREATE TABLE hostile.t_sq (LIKE pg_catalog.pg_class);
CREATE TABLE hostile.r_sq (LIKE pg_catalog.pg_class);
INSERT INTO hostile.queues VALUES ('sq', 'never', 1, 'error');
CREATE TRIGGER trap BEFORE INSERT OR UPDATE OR DELETE ON hostile.queues
    FOR EACH STATEMENT EXECUTE FUNCTION hostile.trap();

-- functions named like the ones our SQL calls
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile now() called'; END $$;
CREATE FUNCTION hostile.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile jsonb_build_object() called'; END $$;
CREATE FUNCTION hostile.jsonb_build_object(text, text, text, text, text, timestamptz) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile jsonb_build_object(6) called'; END $$;
CREATE FUNCTION hostile.make_interval(years int DEFAULT 0, months int DEFAULT 0, weeks int DEFAULT 0,
                                      days int DEFAULT 0, hours int DEFAULT 0, mins int DEFAULT 0,
                                      secs double precision DEFAULT 0) RETURNS interval LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile make_interval() called'; END $$;
CREATE FUNCTION hostile.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile format() called'; END $$;
CREATE FUNCTION hostile.array_agg_trap(uuid, uuid) RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile array_agg called'; END $$;
CREATE AGGREGATE hostile.array_agg(uuid) (SFUNC = hostile.array_agg_trap, STYPE = uuid);
CREATE FUNCTION hostile.uuid_v7() RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile uuid_v7() called'; END $$;
CREATE FUNCTION hostile.float8(text) RETURNS double precision LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile float8() called'; END $$;
CREATE FUNCTION hostile.float8(jsonb) RETURNS double precision LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile float8(jsonb) called'; END $$;

-- operators named like the ones our SQL uses, for the types it uses them on
DO $do$
DECLARE
    op  text;
    typ text;
    n   int := 0;
BEGIN
    FOREACH typ IN ARRAY ARRAY['text', 'uuid', 'timestamptz', 'jsonb', 'integer', 'boolean'] LOOP
        FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>='] LOOP
            n := n + 1;
            EXECUTE format($f$CREATE FUNCTION hostile.op_%s(%s, %s) RETURNS boolean LANGUAGE plpgsql AS
                              $b$BEGIN RAISE EXCEPTION 'hostile %s %s called'; END$b$$f$,
                           n, typ, typ, typ, op);
            EXECUTE format('CREATE OPERATOR hostile.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = hostile.op_%s)',
                           op, typ, typ, n);
        END LOOP;
    END LOOP;
END
$do$;
CREATE FUNCTION hostile.ts_plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile timestamptz + interval called'; END $$;
CREATE OPERATOR hostile.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = hostile.ts_plus);
CREATE FUNCTION hostile.jsonb_get_text(jsonb, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile jsonb ->> text called'; END $$;
CREATE OPERATOR hostile.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = hostile.jsonb_get_text);
CREATE FUNCTION hostile.jsonb_get(jsonb, text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile jsonb -> text called'; END $$;
CREATE OPERATOR hostile.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = hostile.jsonb_get);
CREATE FUNCTION hostile.jsonb_has(jsonb, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile jsonb ? text called'; END $$;
CREATE OPERATOR hostile.? (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = hostile.jsonb_has);
CREATE FUNCTION hostile.text_concat(text, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hostile text || text called'; END $$;
CREATE OPERATOR hostile.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.text_concat);
SELECT count(*) AS hostile_operators FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
 WHERE n.nspname = 'hostile';

-- temporary tables named like ours come first in any search path for
-- relations that does not name pg_temp explicitly
CREATE TEMP TABLE queues (queue_name text, key_reuse text, dedup_ttl_seconds int, on_params_mismatch text);
INSERT INTO queues VALUES ('sq', 'never', 1, 'error');
CREATE TEMP TABLE t_sq (x int);
CREATE TEMP TABLE r_sq (x int);

-- Results are collected under the hostile path without any operator, then
-- compared with the normal path.
CREATE TEMP TABLE ids (name text, id uuid);

SET search_path = hostile, pg_catalog, public;

-- the traps work: unqualified names resolve to them
DO $$
DECLARE
    tests text[] := ARRAY[
        'SELECT now()',
        $q$SELECT jsonb_build_object('a', 'b')$q$,
        'SELECT make_interval(secs => 1)',
        $q$SELECT 'a'::text = 'b'::text$q$,
        $q$SELECT 'a'::text <> 'b'::text$q$,
        $q$SELECT 'a'::text || 'b'::text$q$,
        $q$SELECT '00000000-0000-0000-0000-000000000000'::uuid = '00000000-0000-0000-0000-000000000000'::uuid$q$,
        $q$SELECT '2000-01-01'::timestamptz <= '2000-01-01'::timestamptz$q$,
        $q$SELECT '2000-01-01'::timestamptz + '1 second'::interval$q$,
        $q$SELECT '{"a": 1}'::jsonb ->> 'a'::text$q$,
        $q$SELECT '{"a": 1}'::jsonb -> 'a'::text$q$,
        $q$SELECT 1 < 2$q$,
        $q$SELECT format('%s', 'x'::text)$q$];
    t   text;
    msg text;
BEGIN
    FOREACH t IN ARRAY tests LOOP
        BEGIN
            EXECUTE t;
            RAISE NOTICE '%: no trap', t;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            RAISE NOTICE '%: %', t, msg;
        END;
    END LOOP;
END
$$;
SHOW search_path;
-- (an unqualified "queues" is the temporary table)
SELECT count(*) AS unqualified_queues_rows FROM queues;

--
-- The whole API under the hostile path
--
SELECT durable_tasks.create_queue('sq');
SELECT durable_tasks.create_queue('sq', '{"key_reuse": "after_failure"}');
SELECT durable_tasks.create_queue('sq_two', '{"key_reuse": "after_finish", "dedup_ttl_seconds": 60}');
SELECT durable_tasks.alter_queue('sq_two', '{"on_params_mismatch": "error", "dedup_ttl_seconds": null}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name OPERATOR(pg_catalog.=) ANY (ARRAY['sq', 'sq_two']);
-- spawns: plain, with every option, with a key, only_once
INSERT INTO ids SELECT 'plain', task_id FROM durable_tasks.spawn_task('sq', 'plain', '{"a": 1}');
INSERT INTO ids SELECT 'past', task_id FROM durable_tasks.spawn_task('sq', 'past', '{"p": 1}',
         options => '{"available_at": "2000-01-01 00:00:00+00"}');
INSERT INTO ids SELECT 'parent', task_id FROM durable_tasks.spawn_task('sq', 'parent',
         options => '{"delay_seconds": 3600}');
INSERT INTO ids SELECT 'child', task_id FROM durable_tasks.spawn_task('sq', 'child', '{}',
         options => pg_catalog.jsonb_build_object('parent_task_id', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'parent'),
                                                  'headers', '{"h": 1}'::jsonb, 'max_attempts', 3,
                                                  'retry_strategy', '{"kind": "none"}'::jsonb,
                                                  'cancellation', '{"max_delay": 3600, "max_duration": 3600}'::jsonb));
INSERT INTO ids SELECT 'keyed', task_id FROM durable_tasks.spawn_task('sq', 'keyed', '{"k": 1}',
         idempotency_key => 'k1', options => '{"retry_strategy": {"kind": "none"}, "max_attempts": 2}');
SELECT created, state FROM durable_tasks.spawn_task('sq', 'keyed', '{"k": 1}', idempotency_key => 'k1');
SELECT created, state FROM durable_tasks.spawn_task('sq', 'keyed', '{"k": 2}', idempotency_key => 'k1',
         options => '{"on_params_mismatch": "ignore"}');
INSERT INTO ids SELECT 'once', task_id FROM durable_tasks.spawn_task('sq', 'once', '{"o": 1}', only_once => true);
SELECT created, state FROM durable_tasks.spawn_task('sq', 'once', '{"o": 1.0}', only_once => true);
-- the mismatch error path
DO $$
BEGIN
    PERFORM durable_tasks.spawn_task('sq', 'keyed', '{"k": 3}', idempotency_key => 'k1',
                                     options => '{"on_params_mismatch": "error"}');
EXCEPTION WHEN SQLSTATE 'TD001' THEN
    RAISE NOTICE 'TD001 raised';
END
$$;
-- claims, with a lease expiry and the cancellation deadlines evaluated
BEGIN;
INSERT INTO ids SELECT pg_catalog.concat('claimed_', task_name), run_id
  FROM durable_tasks.claim_task('sq', 'w1', claim_timeout_seconds => 1, qty => 10);
SELECT name FROM ids WHERE name LIKE 'claimed\_%' ORDER BY name;
SELECT durable_tasks.extend_claim('sq', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'claimed_plain'), 1) IS NOT NULL AS extended;
COMMIT;
SELECT pg_sleep(1.1);
-- the leases expired: the next claim fails them and hands out the retries
-- (child and keyed retry at once; past, plain and once wait 1 second)
INSERT INTO ids SELECT pg_catalog.concat('reclaimed_', task_name), run_id
  FROM durable_tasks.claim_task('sq', 'w2', qty => 10);
SELECT name FROM ids WHERE name LIKE 'reclaimed\_%' ORDER BY name;
SELECT durable_tasks.complete_run('sq', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'reclaimed_child'), '{"ok": true}');
SELECT task_state, retry_attempt FROM durable_tasks.fail_run('sq',
         (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'reclaimed_keyed'), '{"e": 1}');
-- the failed key is released by the next keyed spawn
INSERT INTO ids SELECT 'keyed2', task_id FROM durable_tasks.spawn_task('sq', 'keyed', '{"k": 1}', idempotency_key => 'k1');
-- per-spawn dedup options on a hit
SELECT created, state FROM durable_tasks.spawn_task('sq', 'once', '{"o": 1}', only_once => true,
         options => '{"dedup_ttl_seconds": 1, "key_reuse": "after_finish"}');
-- cancel and get_task
SELECT durable_tasks.cancel_task('sq', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'parent')) AS cancelled;
CREATE TEMP TABLE got AS
SELECT i.name, t.* FROM ids i, LATERAL durable_tasks.get_task('sq', i.id) t
 WHERE i.name NOT LIKE '%claimed%';
SELECT fp FROM durable_tasks.task_fingerprint('once', '{"o": 1}') fp \gset
-- the 1.2 functions: bulk spawn, await, checkpoints, privileges
SELECT ordinal, created, state FROM durable_tasks.spawn_tasks('sq',
         '[{"task_name": "bulk", "params": {"b": 1}, "idempotency_key": "bk"},
           {"task_name": "bulk", "params": {"b": 1}, "idempotency_key": "bk"},
           {"task_name": "ckpt"}]');
SELECT state, timed_out FROM durable_tasks.await_task('sq', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'parent'), 0);
INSERT INTO ids SELECT 'ckpt_run', run_id FROM durable_tasks.claim_task('sq', 'w3', qty => 10)
 WHERE task_name OPERATOR(pg_catalog.=) 'ckpt';
SELECT durable_tasks.set_checkpoint('sq', (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'ckpt_run'),
         'step1', '{"s": 1}', 60);
SELECT step_name, state FROM durable_tasks.get_checkpoints('sq',
         (SELECT r.task_id FROM durable_tasks.r_sq r WHERE r.run_id OPERATOR(pg_catalog.=) (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'ckpt_run')));
SELECT durable_tasks.get_checkpoint('sq',
         (SELECT r.task_id FROM durable_tasks.r_sq r WHERE r.run_id OPERATOR(pg_catalog.=) (SELECT id FROM ids WHERE name OPERATOR(pg_catalog.=) 'ckpt_run')),
         'step1') AS step1;
CREATE ROLE sp_grantee;
SELECT durable_tasks.grant_queue('sq', 'sp_grantee', 'worker');
SELECT durable_tasks.grant_queue(NULL, 'sp_grantee', 'producer');
SELECT queue_name, role_name, privilege FROM durable_tasks.list_queue_grants('sq');
SELECT durable_tasks.revoke_queue('sq', 'sp_grantee', 'worker');
SELECT durable_tasks.revoke_queue(NULL, 'sp_grantee', 'producer');
SELECT count(*) AS grants_left FROM durable_tasks.list_queue_grants();
DROP ROLE sp_grantee;
-- the hostile tables were never written to (the trigger on hostile.queues
-- would have raised)
SELECT count(*) AS hostile_queues_rows FROM hostile.queues;
SELECT count(*) AS temp_queues_rows FROM pg_temp.queues;
SELECT count(*) AS hostile_t_rows FROM hostile.t_sq;
SELECT count(*) AS temp_t_rows FROM pg_temp.t_sq;

RESET search_path;

--
-- The results, checked under the normal search path
--
SELECT name, task_name, state, attempts, params, result, headers, max_attempts,
       failure ->> 'error' AS failure, idempotency_key IS NOT NULL AS has_key,
       key_released_at IS NOT NULL AS key_released,
       parent_task_id = (SELECT id FROM ids WHERE name = 'parent') AS child_of_parent
  FROM got ORDER BY name;
SELECT idempotency_key = :'fp' AS once_key_is_fingerprint FROM got WHERE name = 'once';
SELECT idempotency_key FROM got WHERE name IN ('keyed', 'keyed2') ORDER BY name;
-- the runs: every first attempt lost its lease
SELECT t.task_name, r.attempt, r.state, r.claimed_by, r.failure ->> 'error' AS error
  FROM durable_tasks.r_sq r JOIN durable_tasks.t_sq t USING (task_id)
 ORDER BY t.task_name, t.task_id, r.attempt;
-- time arithmetic was right
SELECT r.available_at = '2000-01-01 00:00:00+00' AS past_available_2000
  FROM durable_tasks.r_sq r JOIN got g USING (task_id)
 WHERE g.name = 'past' AND r.attempt = 1;
SELECT g.name, extract(epoch FROM r.available_at - f.finished_at) AS retry_delay
  FROM durable_tasks.r_sq r JOIN got g USING (task_id)
  JOIN durable_tasks.r_sq f ON f.task_id = r.task_id AND f.attempt = 1
 WHERE r.attempt = 2 ORDER BY g.name;
SELECT extract(epoch FROM r.available_at - t.created_at) AS parent_delay
  FROM durable_tasks.r_sq r JOIN got t USING (task_id) WHERE t.name = 'parent';
-- and the registry is the real one
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.queues WHERE queue_name IN ('sq', 'sq_two') ORDER BY queue_name;

-- drop_queue under the hostile path
SET search_path = hostile, pg_catalog, public;
SELECT durable_tasks.drop_queue('sq');
SELECT durable_tasks.drop_queue('sq_two');
RESET search_path;
SELECT count(*) AS queues_left FROM durable_tasks.queues WHERE queue_name IN ('sq', 'sq_two');
SELECT count(*) AS tables_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'durable_tasks' AND c.relname ~ '^[tr]_sq';
SELECT count(*) AS hostile_tables_kept FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'hostile' AND c.relkind = 'r';

SET client_min_messages = warning;
DROP SCHEMA hostile CASCADE;
RESET client_min_messages;
