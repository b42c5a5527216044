--
-- bulk: spawn_tasks (SPEC 5.6) in a single session.  One row per element
-- in order; each element with spawn_task's semantics (keys hitting holders
-- and each other within the batch, options merged over the call's,
-- key_reuse per element); all or nothing; every bad input.
--
-- Ids and timestamps are never printed: only comparisons and counts.
--
SELECT durable_tasks.create_queue('bk_q');

-- Tasks and runs in the queue bk_q.
CREATE FUNCTION pg_temp.counts() RETURNS text
LANGUAGE sql AS $fn$
    SELECT (SELECT count(*) FROM durable_tasks.t_bk_q) || ' tasks, '
           || (SELECT count(*) FROM durable_tasks.r_bk_q) || ' runs'
$fn$;

-- Like public.err(sql), but with every context line that names the
-- element ("element N of tasks") or the option ("while parsing option
-- ..."), innermost first, and a warning if the queue's row counts changed.
CREATE FUNCTION pg_temp.check(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    before text := pg_temp.counts();
    st     text;
    msg    text;
    ctx    text;
    res    text;
BEGIN
    BEGIN
        EXECUTE sql;
        res := 'ok';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                ctx = PG_EXCEPTION_CONTEXT;
        msg := regexp_replace(msg, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                              '<uuid>', 'g');
        SELECT string_agg(l, '; ' ORDER BY n) INTO ctx
          FROM regexp_split_to_table(ctx, E'\n') WITH ORDINALITY c(l, n)
         WHERE l LIKE 'while %' OR l LIKE 'element % of tasks';
        IF ctx IS NOT NULL THEN
            msg := msg || ' [' || ctx || ']';
        END IF;
        res := st || ': ' || msg;
    END;
    IF pg_temp.counts() <> before THEN
        res := res || '  ** WROTE ROWS: ' || before || ' -> ' || pg_temp.counts() || ' **';
    END IF;
    RETURN res;
END
$fn$;

-- spawn_tasks('bk_q', tasks, options) through pg_temp.check
CREATE FUNCTION pg_temp.bulk(tasks text, opts text DEFAULT '{}') RETURNS text
LANGUAGE sql AS $fn$
    SELECT pg_temp.check(format('SELECT * FROM durable_tasks.spawn_tasks(%L, %L::jsonb, %L::jsonb)',
                                'bk_q', tasks, opts))
$fn$;

-- The SQLSTATE, message and detail of a statement expected to fail.
CREATE FUNCTION pg_temp.err_detail(sql text) RETURNS TABLE (sqlstate text, message text, detail text)
LANGUAGE plpgsql AS $fn$
DECLARE
    st  text;
    msg text;
    det text;
BEGIN
    EXECUTE sql;
    RETURN QUERY SELECT 'no error'::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL;
    RETURN QUERY SELECT st, msg, det;
END
$fn$;

--
-- Unkeyed elements: each creates a task, rows in element order
--
CREATE TEMP TABLE b1 AS
SELECT row_number() OVER () AS rn, s.*
  FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "first"},
         {"task_name": "second", "params": {"x": 1}},
         {"task_name": "third", "params": {"y": [1, 2]}, "only_once": false},
         {"task_name": "first"}
       ]') s;
SELECT rn = ordinal AS in_order, ordinal, attempt, created, state,
       task_id IS NOT NULL AS has_task, run_id IS NOT NULL AS has_run
  FROM b1 ORDER BY rn;
SELECT count(*) AS rows, count(DISTINCT task_id) AS tasks, count(DISTINCT run_id) AS runs,
       count(*) FILTER (WHERE task_id = run_id) AS task_is_run
  FROM b1;
-- the tasks and their runs, as spawn_task would have written them
SELECT b.ordinal, t.task_name, t.params, t.state, t.attempts, t.max_attempts,
       t.idempotency_key, t.last_run_id = b.run_id AS last_run
  FROM b1 b JOIN durable_tasks.t_bk_q t USING (task_id) ORDER BY b.ordinal;
SELECT b.ordinal, r.task_id = b.task_id AS run_of_task, r.attempt, r.state
  FROM b1 b JOIN durable_tasks.r_bk_q r USING (run_id) ORDER BY b.ordinal;
SELECT pg_temp.counts();
-- a single element; options NULL is the same as {}
SELECT ordinal, attempt, created, state
  FROM durable_tasks.spawn_tasks('bk_q', '[{"task_name": "single"}]');
SELECT ordinal, attempt, created, state
  FROM durable_tasks.spawn_tasks('bk_q', '[{"task_name": "single", "options": {}}]', NULL);
SELECT count(*) AS tasks, bool_and(max_attempts = 5) AS default_attempts
  FROM durable_tasks.t_bk_q WHERE task_name = 'single';

--
-- Keyed elements hitting existing holders
--
SELECT task_id AS hk FROM durable_tasks.spawn_task('bk_q', 'held', '{"h": 1}', idempotency_key => 'bk-held') \gset
SELECT task_id AS ho FROM durable_tasks.spawn_task('bk_q', 'once', '{"a": 1}', only_once => true) \gset
SELECT pg_temp.counts();
CREATE TEMP TABLE b2 AS
SELECT * FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "held", "params": {"h": 2}, "idempotency_key": "bk-held"},
         {"task_name": "once", "params": {"a": 1}, "only_once": true},
         {"task_name": "fresh", "idempotency_key": "bk-fresh"},
         {"task_name": "once", "params": {"a": 2}, "only_once": true}
       ]');
SELECT ordinal, created, state, attempt,
       task_id = :'hk' AS is_key_holder, task_id = :'ho' AS is_once_holder
  FROM b2 ORDER BY ordinal;
SELECT pg_temp.counts();
-- the holders are unchanged; the new tasks hold their keys
SELECT task_name, params,
       CASE WHEN idempotency_key = durable_tasks.task_fingerprint(task_name, params)
            THEN 'fingerprint' ELSE idempotency_key END AS idempotency_key
  FROM durable_tasks.t_bk_q WHERE task_name IN ('held', 'once', 'fresh') ORDER BY task_id;
-- the same batch again: every element hits
SELECT ordinal, created, state
  FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "held", "params": {"h": 2}, "idempotency_key": "bk-held"},
         {"task_name": "once", "params": {"a": 1}, "only_once": true},
         {"task_name": "fresh", "idempotency_key": "bk-fresh"},
         {"task_name": "once", "params": {"a": 2}, "only_once": true}
       ]');
SELECT pg_temp.counts();

--
-- Duplicates within one batch: the first creates, the later ones get the
-- same task with created = false (never 21000, never 23505)
--
CREATE TEMP TABLE b3 AS
SELECT * FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "dup", "params": {"n": 1}, "idempotency_key": "bk-dup"},
         {"task_name": "dup", "params": {"n": 2}, "idempotency_key": "bk-dup"},
         {"task_name": "o", "params": {"a": 1, "b": {"c": 2, "d": 3}}, "only_once": true},
         {"task_name": "o", "params": {"b": {"d": 3.0, "c": 2}, "a": 1}, "only_once": true},
         {"task_name": "other", "idempotency_key": "bk-dup"},
         {"task_name": "o", "params": {"a": 1, "b": {"c": 2, "d": 3}}, "only_once": false},
         {"task_name": "o", "params": {"a": 1, "b": {"c": 2, "d": 3}}, "only_once": true,
          "idempotency_key": "bk-dup"}
       ]');
SELECT ordinal, created, state, attempt FROM b3 ORDER BY ordinal;
SELECT (SELECT task_id FROM b3 WHERE ordinal = 2) = (SELECT task_id FROM b3 WHERE ordinal = 1) AS dup2_is_1,
       (SELECT task_id FROM b3 WHERE ordinal = 5) = (SELECT task_id FROM b3 WHERE ordinal = 1) AS dup5_is_1,
       (SELECT task_id FROM b3 WHERE ordinal = 7) = (SELECT task_id FROM b3 WHERE ordinal = 1) AS dup7_is_1,
       (SELECT task_id FROM b3 WHERE ordinal = 4) = (SELECT task_id FROM b3 WHERE ordinal = 3) AS once4_is_3,
       (SELECT task_id FROM b3 WHERE ordinal = 3) <> (SELECT task_id FROM b3 WHERE ordinal = 1) AS once_not_dup,
       (SELECT task_id FROM b3 WHERE ordinal = 6) NOT IN (SELECT task_id FROM b3 WHERE ordinal <> 6) AS unkeyed_new,
       (SELECT run_id FROM b3 WHERE ordinal = 2) = (SELECT run_id FROM b3 WHERE ordinal = 1) AS same_run;
-- one task per key; the holder is the first element's
SELECT task_name, params, idempotency_key = 'bk-dup' AS explicit_key
  FROM durable_tasks.t_bk_q WHERE task_name IN ('dup', 'o', 'other') ORDER BY task_id;

--
-- Element options override the call's options, key by key
--
CREATE TEMP TABLE b4 AS
SELECT * FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "opt"},
         {"task_name": "opt", "options": {"max_attempts": 1}},
         {"task_name": "opt", "options": {"headers": {"e": 2}}},
         {"task_name": "opt", "options": {"retry_strategy": {"kind": "none"}, "delay_seconds": 3600}},
         {"task_name": "opt", "options": {}}
       ]', '{"max_attempts": 3, "headers": {"h": 1}, "retry_strategy": {"kind": "fixed", "base_seconds": 5}}');
SELECT b.ordinal, g.max_attempts, g.headers, g.retry_strategy
  FROM b4 b, LATERAL durable_tasks.get_task('bk_q', b.task_id) g ORDER BY b.ordinal;
SELECT b.ordinal, r.available_at > now() + interval '1800 seconds' AS delayed
  FROM b4 b JOIN durable_tasks.r_bk_q r USING (run_id) ORDER BY b.ordinal;

-- parent_task_id, in the call's options and in an element's
SELECT task_id AS parent FROM durable_tasks.spawn_task('bk_q', 'parent', options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS parent2 FROM durable_tasks.spawn_task('bk_q', 'parent2', options => '{"delay_seconds": 3600}') \gset
CREATE TEMP TABLE b5 AS
SELECT * FROM durable_tasks.spawn_tasks('bk_q',
         jsonb_build_array(
             jsonb_build_object('task_name', 'child'),
             jsonb_build_object('task_name', 'child', 'options', jsonb_build_object('parent_task_id', :'parent2')),
             jsonb_build_object('task_name', 'child', 'options', '{"max_attempts": 2}'::jsonb)),
         jsonb_build_object('parent_task_id', :'parent'));
SELECT b.ordinal, g.parent_task_id = :'parent' AS parent_1, g.parent_task_id = :'parent2' AS parent_2,
       g.max_attempts
  FROM b5 b, LATERAL durable_tasks.get_task('bk_q', b.task_id) g ORDER BY b.ordinal;
-- the children are cancelled with their parent
SELECT durable_tasks.cancel_task('bk_q', :'parent');
SELECT b.ordinal, g.state FROM b5 b, LATERAL durable_tasks.get_task('bk_q', b.task_id) g ORDER BY b.ordinal;
-- an unknown parent
SELECT pg_temp.bulk('[{"task_name": "a"}, {"task_name": "b", "options": {"parent_task_id": "00000000-0000-7000-8000-000000000000"}}]');
SELECT pg_temp.bulk('[{"task_name": "a"}]', '{"parent_task_id": "00000000-0000-7000-8000-000000000000"}');

--
-- key_reuse per element: which holders block
--
SELECT task_id AS kf FROM durable_tasks.spawn_task('bk_q', 'kr', '{"k": "failed"}', idempotency_key => 'bk-kr-failed',
         options => '{"max_attempts": 1}') \gset
SELECT task_state FROM durable_tasks.fail_run('bk_q', public.claim_one('bk_q', :'kf'), '{"error": "x"}');
SELECT task_id AS kc FROM durable_tasks.spawn_task('bk_q', 'kr', '{"k": "completed"}', idempotency_key => 'bk-kr-completed') \gset
SELECT durable_tasks.complete_run('bk_q', public.claim_one('bk_q', :'kc'), '{"ok": true}');
SELECT task_id AS kc2 FROM durable_tasks.spawn_task('bk_q', 'kr', '{"k": "completed2"}', idempotency_key => 'bk-kr-completed2') \gset
SELECT durable_tasks.complete_run('bk_q', public.claim_one('bk_q', :'kc2'), '{"ok": true}');
-- the call says never; elements 1 and 3 say after_finish
CREATE TEMP TABLE b6 AS
SELECT * FROM durable_tasks.spawn_tasks('bk_q', '[
         {"task_name": "kr", "idempotency_key": "bk-kr-failed", "options": {"key_reuse": "after_finish"}},
         {"task_name": "kr", "idempotency_key": "bk-kr-completed"},
         {"task_name": "kr", "idempotency_key": "bk-kr-completed2", "options": {"key_reuse": "after_finish"}},
         {"task_name": "kr", "idempotency_key": "bk-kr-failed"}
       ]', '{"key_reuse": "never"}');
SELECT ordinal, created, state,
       task_id = :'kf' AS old_failed, task_id = :'kc' AS old_completed, task_id = :'kc2' AS old_completed2
  FROM b6 ORDER BY ordinal;
SELECT (SELECT task_id FROM b6 WHERE ordinal = 4) = (SELECT task_id FROM b6 WHERE ordinal = 1) AS same_new_task;
SELECT task_name, state, idempotency_key, key_released_at IS NOT NULL AS released
  FROM durable_tasks.t_bk_q WHERE task_name = 'kr' ORDER BY task_id;

--
-- All or nothing: a bad element 3 writes nothing, not even elements 1 and 2
--
SELECT count(*) AS tasks_before FROM durable_tasks.t_bk_q \gset
SELECT pg_temp.bulk('[{"task_name": "aon"}, {"task_name": "aon", "idempotency_key": "bk-aon"}, {"task_name": ""}]');
SELECT pg_temp.bulk('[{"task_name": "aon"}, {"task_name": "aon", "idempotency_key": "bk-aon"}, {"task_name": "aon", "options": {"max_attempts": 0}}]');
SELECT pg_temp.bulk('[{"task_name": "aon"}, {"task_name": "aon", "idempotency_key": "bk-aon"}, 42]');
SELECT count(*) = :tasks_before AS nothing_written,
       count(*) FILTER (WHERE task_name = 'aon') AS aon_tasks
  FROM durable_tasks.t_bk_q;
SELECT created FROM durable_tasks.spawn_task('bk_q', 'aon', idempotency_key => 'bk-aon');

--
-- Bad input
--
-- queue_name
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks(NULL, '[{"task_name": "a"}]')$$);
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('', '[{"task_name": "a"}]')$$);
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('BK_Q', '[{"task_name": "a"}]')$$);
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('bk q', '[{"task_name": "a"}]')$$);
SELECT pg_temp.check(format('SELECT * FROM durable_tasks.spawn_tasks(%L, %L)', repeat('b', 49), '[{"task_name": "a"}]'));
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('bk_nosuch', '[{"task_name": "a"}]')$$);
-- tasks
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('bk_q', NULL)$$);
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('bk_q', NULL, '{}')$$);
SELECT n, tasks, pg_temp.bulk(tasks) AS result
  FROM (VALUES
    (1,  '{}'),
    (2,  '{"task_name": "a"}'),
    (3,  '"[]"'),
    (4,  '1'),
    (5,  'null'),
    (6,  'true')
  ) v(n, tasks) ORDER BY n;
-- the number of elements
SELECT * FROM pg_temp.err_detail($$SELECT * FROM durable_tasks.spawn_tasks('bk_q', '[]')$$);
SELECT * FROM pg_temp.err_detail($$SELECT * FROM durable_tasks.spawn_tasks('bk_q',
           (SELECT jsonb_agg(jsonb_build_object('task_name', 'many')) FROM generate_series(1, 10001)))$$);
SELECT pg_temp.check($$SELECT * FROM durable_tasks.spawn_tasks('bk_q',
           (SELECT jsonb_agg(jsonb_build_object('task_name', 'many')) FROM generate_series(1, 10001)))$$);
-- the elements
SELECT n, tasks, pg_temp.bulk(tasks) AS result
  FROM (VALUES
    -- not an object
    (1,  '[1]'),
    (2,  '[{"task_name": "a"}, "b"]'),
    (3,  '[{"task_name": "a"}, {"task_name": "b"}, []]'),
    (4,  '[null]'),
    (5,  '[[{"task_name": "a"}]]'),
    -- no task_name
    (6,  '[{}]'),
    (7,  '[{"task_name": "a"}, {"params": {"x": 1}}]'),
    (8,  '[{"task_name": "a"}, {"only_once": true, "idempotency_key": "k"}]'),
    -- unknown keys
    (9,  '[{"task_name": "a", "bogus": 1}]'),
    (10, '[{"task_name": "a"}, {"task_name": "b", "max_attempts": 3}]'),
    (11, '[{"task_name": "a", "": 1}]'),
    -- wrong types
    (12, '[{"task_name": 5}]'),
    (13, '[{"task_name": ["a"]}]'),
    (14, '[{"task_name": "a", "params": "x"}]'),
    (15, '[{"task_name": "a", "params": [1, 2]}]'),
    (16, '[{"task_name": "a", "params": 1}]'),
    (17, '[{"task_name": "a", "only_once": "true"}]'),
    (18, '[{"task_name": "a", "only_once": 1}]'),
    (19, '[{"task_name": "a", "idempotency_key": 5}]'),
    (20, '[{"task_name": "a", "idempotency_key": {"k": 1}}]'),
    (21, '[{"task_name": "a", "options": []}]'),
    (22, '[{"task_name": "a", "options": "x"}]'),
    -- empty or too long names and keys
    (23, '[{"task_name": ""}]'),
    (24, '[{"task_name": "a"}, {"task_name": "a", "idempotency_key": ""}]'),
    -- bad options in an element
    (25, '[{"task_name": "a", "options": {"bogus": 1}}]'),
    (26, '[{"task_name": "a"}, {"task_name": "a", "options": {"max_attempts": 0}}]'),
    (27, '[{"task_name": "a", "options": {"available_at": "garbage"}}]'),
    (28, '[{"task_name": "a", "options": {"key_reuse": "sometimes"}}]'),
    (29, '[{"task_name": "a", "idempotency_key": "bk-held", "options": {"bogus": 1}}]')
  ) v(n, tasks) ORDER BY n;
-- JSON null: task_name is required; an optional field given as null is
-- absent (as SQL NULL is for spawn_task's arguments)
SELECT pg_temp.bulk('[{"task_name": null}]') AS result;
SELECT task_id AS nulls_task, created AS nulls_created
  FROM durable_tasks.spawn_tasks('bk_q', '[{"task_name": "nulls", "params": null, "only_once": null,
                                             "idempotency_key": null, "options": null}]') \gset
SELECT :'nulls_created' AS created, params, idempotency_key IS NULL AS no_key, max_attempts
  FROM durable_tasks.t_bk_q WHERE task_id = :'nulls_task';
-- a repeated key in the batch gets spawn_task's checks too: with
-- on_params_mismatch = 'error' a second element with another task_name is
-- refused (TD001), and the whole call with it
SELECT pg_temp.bulk('[{"task_name": "a", "idempotency_key": "bk-mm"},
                      {"task_name": "b", "idempotency_key": "bk-mm",
                       "options": {"on_params_mismatch": "error"}}]');
SELECT pg_temp.bulk(format('[{"task_name": "a"}, {"task_name": "%s"}]', repeat('t', 256)));
SELECT pg_temp.bulk(format('[{"task_name": "a"}, {"task_name": "a", "idempotency_key": "%s"}]', repeat('k', 513)));
-- bad options in the call: reported for the first element
SELECT pg_temp.bulk('[{"task_name": "a"}, {"task_name": "b"}]', '{"bogus": 1}');
SELECT pg_temp.bulk('[{"task_name": "a"}, {"task_name": "b"}]', '{"max_attempts": 0}');
SELECT pg_temp.bulk('[{"task_name": "a"}, {"task_name": "b"}]', '{"delay_seconds": "10"}');
SELECT pg_temp.bulk('[{"task_name": "a"}, {"task_name": "b"}]', '{"available_at": "garbage"}');
-- an element that overrides the bad value is fine; the next one is not
SELECT pg_temp.bulk('[{"task_name": "a", "options": {"max_attempts": 2}}, {"task_name": "b"}]', '{"max_attempts": 0}');
-- the merged options are checked as a whole
SELECT pg_temp.bulk('[{"task_name": "a", "options": {"delay_seconds": 10}}]', '{"available_at": "2030-01-01 00:00:00+00"}');
-- the boundaries that are fine: 255-byte task name, 512-byte key
SELECT pg_temp.counts();
SELECT ordinal, created, state
  FROM durable_tasks.spawn_tasks('bk_q', jsonb_build_array(
         jsonb_build_object('task_name', repeat('t', 255)),
         jsonb_build_object('task_name', 'a', 'idempotency_key', repeat('k', 512))));
SELECT pg_temp.counts();

--
-- 10000 elements
--
SELECT count(*) AS rows, count(*) FILTER (WHERE created) AS created,
       min(ordinal) AS first, max(ordinal) AS last, count(DISTINCT task_id) AS tasks
  FROM durable_tasks.spawn_tasks('bk_q',
         (SELECT jsonb_agg(jsonb_build_object('task_name', 'bulk', 'params', jsonb_build_object('i', i)) ORDER BY i)
            FROM generate_series(1, 10000) i));
SELECT count(*) AS tasks, count(DISTINCT params) AS distinct_params
  FROM durable_tasks.t_bk_q WHERE task_name = 'bulk';
SELECT count(*) AS runs FROM durable_tasks.r_bk_q r JOIN durable_tasks.t_bk_q t USING (task_id)
 WHERE t.task_name = 'bulk' AND r.attempt = 1 AND r.state = 'pending';

SELECT durable_tasks.drop_queue('bk_q');
