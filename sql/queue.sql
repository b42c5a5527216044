--
-- queue: create_queue, drop_queue, list_queues, alter_queue, queue checks,
-- queue-name validation, the tables and indexes a queue owns.
--
-- Errors are shown as "SQLSTATE: message" by public.err(), with uuids
-- masked; nothing printed depends on time or on generated ids.
--
-- The relations a queue owns: its tables t_<q> and r_<q> and their indexes
-- (ti_<q>_* and ri_<q>_*).
CREATE FUNCTION pg_temp.queue_relations(q text)
RETURNS TABLE (relname name, relkind "char")
LANGUAGE sql AS $fn$
    SELECT c.relname, c.relkind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'durable_tasks'
       AND (c.relname IN ('t_' || q, 'r_' || q)
            OR left(c.relname, length(q) + 4) IN ('ti_' || q || '_', 'ri_' || q || '_'))
     ORDER BY c.relname
$fn$;

-- a fresh queue: no tables yet
SELECT count(*) AS relations FROM pg_temp.queue_relations('qu_main');

-- create_queue: tables, indexes, registry row
SELECT durable_tasks.create_queue('qu_main');
SELECT * FROM pg_temp.queue_relations('qu_main');
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'durable_tasks' AND tablename IN ('t_qu_main', 'r_qu_main')
 ORDER BY indexname;
-- the idempotency key is a partial unique index
SELECT i.indexrelid::regclass AS index, i.indisunique,
       pg_get_indexdef(i.indexrelid, 1, true) AS key,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
  FROM pg_index i
 WHERE i.indrelid = 'durable_tasks.t_qu_main'::regclass AND i.indpred IS NOT NULL
   AND i.indisunique;
-- the columns of the task and run tables
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute
 WHERE attrelid = 'durable_tasks.t_qu_main'::regclass AND attnum > 0
   AND NOT attisdropped
 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute
 WHERE attrelid = 'durable_tasks.r_qu_main'::regclass AND attnum > 0
   AND NOT attisdropped
 ORDER BY attnum;
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.queues WHERE queue_name LIKE 'qu\_%' ORDER BY queue_name;
SELECT queue_name, created_at <= now() AS created_in_past, key_reuse,
       dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name LIKE 'qu\_%';

-- create_queue is idempotent: a second call changes nothing, not even the
-- settings, and keeps the tasks
SELECT created FROM durable_tasks.spawn_task('qu_main', 'keep_me');
SELECT durable_tasks.create_queue('qu_main');
SELECT durable_tasks.create_queue('qu_main', '{"key_reuse": "never"}');
SELECT count(*) AS relations FROM pg_temp.queue_relations('qu_main');
SELECT count(*) AS tasks FROM durable_tasks.t_qu_main;
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name LIKE 'qu\_%';
-- options => NULL means no options
SELECT durable_tasks.create_queue('qu_nullopts', NULL);
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'qu_nullopts';

-- create_queue with options; list_queues shows them
SELECT durable_tasks.create_queue('qu_opts',
         '{"key_reuse": "after_finish", "dedup_ttl_seconds": 60, "on_params_mismatch": "error"}');
SELECT durable_tasks.create_queue(queue_name => 'qu_opts2',
         options => '{"key_reuse": "never"}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name LIKE 'qu\_%';

-- alter_queue: only the given settings change; a JSON null clears the TTL
SELECT durable_tasks.alter_queue('qu_opts', '{"key_reuse": "never"}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
SELECT durable_tasks.alter_queue('qu_opts', '{"dedup_ttl_seconds": null, "on_params_mismatch": "ignore"}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
SELECT durable_tasks.alter_queue('qu_opts', '{}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
SELECT durable_tasks.alter_queue('qu_opts',
         '{"key_reuse": "after_failure", "dedup_ttl_seconds": 3600, "on_params_mismatch": "error"}');
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
-- a TTL written as 10.0 or 1e1 is the integer 10 (jsonb-equal numbers)
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '{"dedup_ttl_seconds": 1e1}')$$);
SELECT dedup_ttl_seconds FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '{"dedup_ttl_seconds": 20.0}')$$);
SELECT dedup_ttl_seconds FROM durable_tasks.list_queues() WHERE queue_name = 'qu_opts';
SELECT public.err($$SELECT durable_tasks.create_queue('qu_ttl_float', '{"dedup_ttl_seconds": 30.0}')$$);
SELECT queue_name, dedup_ttl_seconds FROM durable_tasks.list_queues() WHERE queue_name = 'qu_ttl_float';
-- bad options are refused and change nothing
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '{"key_reuse": "sometimes"}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '{"dedup_ttl_seconds": 0}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '{"max_attempts": 3}')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', '[]')$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_opts', NULL)$$);
SELECT public.err($$SELECT durable_tasks.alter_queue('qu_nosuch', '{}')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu_badopts', '{"on_params_mismatch": "raise"}')$$);
SELECT queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch
  FROM durable_tasks.list_queues() WHERE queue_name LIKE 'qu\_%';
SELECT count(*) AS relations FROM pg_temp.queue_relations('qu_badopts');

-- check_queue: the name check and the existence check
-- (from 1.2 on internal: get_task makes the same checks)
SELECT public.err($$SELECT durable_tasks.get_task('qu_main', gen_random_uuid())$$);
SELECT public.err($$SELECT durable_tasks.get_task('qu_nosuch', gen_random_uuid())$$);
SELECT public.err($$SELECT durable_tasks.get_task('QU', gen_random_uuid())$$);

--
-- Queue names: ^[a-z][a-z0-9_]{0,47}$
--
-- 48 characters: the longest name; all its relation names fit in NAMEDATALEN
SELECT durable_tasks.create_queue(repeat('q', 48));
SELECT replace(relname, repeat('q', 48), '<48 x q>') AS relname,
       length(relname) AS len, relkind
  FROM pg_temp.queue_relations(repeat('q', 48));
SELECT created, state FROM durable_tasks.spawn_task(repeat('q', 48), 'long');
SELECT count(*) AS claimed FROM durable_tasks.claim_task(repeat('q', 48), 'w');
SELECT durable_tasks.drop_queue(repeat('q', 48));
SELECT count(*) AS relations FROM pg_temp.queue_relations(repeat('q', 48));
-- 49 characters, and other invalid names: 22023, before any SQL is built
SELECT public.err(format('SELECT durable_tasks.create_queue(%L)', repeat('q', 49)));
SELECT public.err(format('SELECT durable_tasks.drop_queue(%L)', repeat('q', 49)));
SELECT public.err(format('SELECT durable_tasks.spawn_task(%L, %L)', repeat('q', 49), 't'));
SELECT public.err(format('SELECT durable_tasks.create_queue(%L)', repeat('q', 1000)));
SELECT public.err($$SELECT durable_tasks.create_queue('Qu_upper')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu_UPPER')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('1qu')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('_qu')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu-hyphen')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu space')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu.dot')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu"quote')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qu;drop')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('quü')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('')$$);
SELECT public.err($$SELECT durable_tasks.create_queue(NULL)$$);
-- one-character and digit/underscore names are fine
SELECT durable_tasks.create_queue('z');
SELECT durable_tasks.create_queue('z0_9');
SELECT queue_name FROM durable_tasks.list_queues() WHERE queue_name IN ('z', 'z0_9');
SELECT durable_tasks.drop_queue('z');
SELECT durable_tasks.drop_queue('z0_9');
-- nothing was created for any invalid name
SELECT count(*) AS bad_rows FROM durable_tasks.queues
 WHERE queue_name !~ '^[a-z][a-z0-9_]{0,47}$';

--
-- Unknown queue: 42704 from every entry point
--
SELECT public.err($$SELECT durable_tasks.spawn_task('qu_nosuch', 't')$$);
SELECT public.err($$SELECT durable_tasks.claim_task('qu_nosuch', 'w')$$);
SELECT public.err($$SELECT durable_tasks.extend_claim('qu_nosuch', '00000000-0000-0000-0000-000000000000', 10)$$);
SELECT public.err($$SELECT durable_tasks.complete_run('qu_nosuch', '00000000-0000-0000-0000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.fail_run('qu_nosuch', '00000000-0000-0000-0000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.cancel_task('qu_nosuch', '00000000-0000-0000-0000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.get_task('qu_nosuch', '00000000-0000-0000-0000-000000000000')$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('qu_nosuch')$$);

--
-- drop_queue removes the tables, their indexes and the registry row, with
-- the tasks; the queue can then be created again, empty, in this session
-- (which has cached plans and settings for it)
--
SELECT durable_tasks.drop_queue('qu_main');
SELECT count(*) AS relations FROM pg_temp.queue_relations('qu_main');
SELECT count(*) AS registry_rows FROM durable_tasks.queues WHERE queue_name = 'qu_main';
SELECT public.err($$SELECT durable_tasks.spawn_task('qu_main', 't')$$);
SELECT public.err($$SELECT durable_tasks.drop_queue('qu_main')$$);
SELECT durable_tasks.create_queue('qu_main', '{"key_reuse": "never"}');
SELECT count(*) AS tasks FROM durable_tasks.t_qu_main;
SELECT created, state FROM durable_tasks.spawn_task('qu_main', 't', idempotency_key => 'k');
SELECT created, state FROM durable_tasks.spawn_task('qu_main', 't', idempotency_key => 'k');
SELECT count(*) AS claimed FROM durable_tasks.claim_task('qu_main', 'w');
SELECT queue_name, key_reuse FROM durable_tasks.list_queues() WHERE queue_name = 'qu_main';

--
-- Every valid name is its own queue: names that look like another queue's
-- table or index names (t_<q>_pkey, r_<q>_ready, ...) must neither be taken
-- for an existing queue nor be refused.
--
SELECT durable_tasks.create_queue('qc');
SELECT public.err($$SELECT durable_tasks.get_task('qc_pkey', gen_random_uuid())$$);
SELECT public.err($$SELECT durable_tasks.spawn_task('qc_pkey', 't')$$);
SELECT public.err($$SELECT durable_tasks.claim_task('qc_parent', 'w')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qc_ikey')$$);
SELECT public.err($$SELECT durable_tasks.create_queue('qc_ready')$$);
SELECT durable_tasks.create_queue('qd_task');
SELECT public.err($$SELECT durable_tasks.create_queue('qd')$$);
SELECT queue_name FROM durable_tasks.list_queues()
 WHERE queue_name IN ('qc', 'qc_ikey', 'qc_ready', 'qd', 'qd_task');
-- and each of them works on its own tables
SELECT public.err($$SELECT durable_tasks.spawn_task('qc_ikey', 't')$$);
SELECT public.err($$SELECT durable_tasks.spawn_task('qd', 't')$$);
SELECT count(*) AS qc_tasks FROM durable_tasks.t_qc;
SELECT count(*) AS qd_task_tasks FROM durable_tasks.t_qd_task;

-- clean up
DO $$
DECLARE q text;
BEGIN
    FOR q IN SELECT queue_name FROM durable_tasks.list_queues()
              WHERE queue_name IN ('qc', 'qc_ikey', 'qc_ready', 'qd', 'qd_task')
                 OR queue_name LIKE 'qu\_%'
    LOOP
        PERFORM durable_tasks.drop_queue(q);
    END LOOP;
END
$$;
SELECT count(*) AS queues_left FROM durable_tasks.list_queues()
 WHERE queue_name IN ('qc', 'qc_ikey', 'qc_ready', 'qd', 'qd_task')
    OR queue_name LIKE 'qu\_%';
