--
-- stats: queue_stats (SPEC 5.7).  Exact counts of a queue's tasks by
-- state, checked against the task table itself in every state a task can
-- reach (retried, failed for good, cancelled pending and running,
-- delayed); through the runs' (state, attempt) index, not a scan of the
-- tables; the spawn counters are NULL without the preload; one row per
-- queue the caller may see; bad input.
--
SELECT durable_tasks.create_queue('st_q');
SELECT durable_tasks.create_queue('st_empty');

-- the ground truth: the task table counted by state
CREATE FUNCTION pg_temp.truth(q text) RETURNS TABLE (state text, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT s.state, (SELECT count(*) FROM durable_tasks.%I t WHERE t.state = s.state)
                                   FROM unnest(ARRAY[''pending'', ''running'', ''sleeping'', ''completed'', ''failed'', ''cancelled'']) s(state)', 't_' || q);
END $$;
CREATE FUNCTION pg_temp.stats_match(q text) RETURNS boolean
LANGUAGE sql AS $$
    SELECT (SELECT array_agg(n ORDER BY state) FROM pg_temp.truth(q))
         = (SELECT array_agg(v.n ORDER BY v.state)
              FROM durable_tasks.queue_stats(q) s,
                   LATERAL (VALUES ('pending', s.pending), ('running', s.running),
                                   ('sleeping', s.sleeping), ('completed', s.completed),
                                   ('failed', s.failed), ('cancelled', s.cancelled)) v(state, n))
$$;

-- an empty queue
SELECT queue_name, pending, running, sleeping, completed, failed, cancelled,
       oldest_pending_at, spawned, dedup_hits, dedup_misses
  FROM durable_tasks.queue_stats('st_empty');

-- 30 tasks, 2 attempts each, retried at once
SELECT count(*) FROM generate_series(1, 30) g,
       LATERAL durable_tasks.spawn_task('st_q', 'job', jsonb_build_object('g', g),
                   options => '{"max_attempts": 2, "retry_strategy": {"kind": "none"}}');
-- and 2 delayed ones
SELECT count(*) FROM generate_series(31, 32) g,
       LATERAL durable_tasks.spawn_task('st_q', 'later', jsonb_build_object('g', g),
                   options => '{"delay_seconds": 3600}');
SELECT pg_temp.stats_match('st_q') AS all_pending;
-- claim 20: complete 5, fail 10 (retried: attempt 2 pending)
CREATE TEMP TABLE c1 AS SELECT run_id, task_id FROM durable_tasks.claim_task('st_q', 'w1', qty => 20);
SELECT count(*) FROM (SELECT run_id FROM c1 ORDER BY run_id LIMIT 5) x,
       LATERAL durable_tasks.complete_run('st_q', x.run_id, '{}');
SELECT count(*) FROM (SELECT run_id FROM c1 ORDER BY run_id OFFSET 5 LIMIT 10) x,
       LATERAL durable_tasks.fail_run('st_q', x.run_id, '{"e": 1}');
SELECT pg_temp.stats_match('st_q') AS after_first_round;
-- claim the retries (and the rest): fail 4 of the second attempts for good,
-- complete 3
CREATE TEMP TABLE c2 AS SELECT run_id, attempt FROM durable_tasks.claim_task('st_q', 'w2', qty => 50);
SELECT count(*) FROM (SELECT run_id FROM c2 WHERE attempt = 2 ORDER BY run_id LIMIT 4) x,
       LATERAL durable_tasks.fail_run('st_q', x.run_id, '{"e": 2}');
SELECT count(*) FROM (SELECT run_id FROM c2 WHERE attempt = 2 ORDER BY run_id OFFSET 4 LIMIT 3) x,
       LATERAL durable_tasks.complete_run('st_q', x.run_id, '{}');
-- cancel a running task and a delayed (pending) one
SELECT durable_tasks.cancel_task('st_q', (SELECT t.task_id FROM durable_tasks.t_st_q t
                                           WHERE t.state = 'running' ORDER BY t.task_id LIMIT 1));
SELECT durable_tasks.cancel_task('st_q', (SELECT t.task_id FROM durable_tasks.t_st_q t
                                           WHERE t.task_name = 'later' ORDER BY t.task_id LIMIT 1));
SELECT pg_temp.stats_match('st_q') AS after_second_round;
SELECT pending, running, sleeping, completed, failed, cancelled FROM durable_tasks.queue_stats('st_q');
SELECT * FROM pg_temp.truth('st_q') ORDER BY state;
-- oldest_pending_at: the earliest available_at of a pending run
SELECT s.oldest_pending_at = (SELECT min(r.available_at) FROM durable_tasks.r_st_q r WHERE r.state = 'pending')
       AS oldest_is_min_available
  FROM durable_tasks.queue_stats('st_q') s;
-- inside a transaction: its own spawns count
BEGIN;
SELECT count(*) FROM durable_tasks.spawn_task('st_q', 'in_tx');
SELECT pg_temp.stats_match('st_q') AS in_transaction;
ROLLBACK;
SELECT pg_temp.stats_match('st_q') AS after_rollback;

-- NULL: one row per queue, by name; the counters are NULL
SELECT queue_name, spawned IS NULL AND dedup_hits IS NULL AND dedup_misses IS NULL AS counters_null
  FROM durable_tasks.queue_stats() WHERE queue_name LIKE 'st\_%' ORDER BY queue_name;
SELECT count(*) = (SELECT count(*) FROM durable_tasks.list_queues()) AS one_row_per_queue
  FROM durable_tasks.queue_stats(NULL);
-- with many queues, the names are exactly those of list_queues(), in order
-- (they were once read from memory freed after the registry's scan)
SELECT count(*) FROM generate_series(1, 30) g,
       LATERAL durable_tasks.create_queue('st_many_' || lpad(g::text, 2, '0'));
SELECT (SELECT array_agg(queue_name ORDER BY queue_name) FROM durable_tasks.list_queues())
     = (SELECT array_agg(queue_name) FROM durable_tasks.queue_stats()) AS same_names_in_order;
SELECT count(*) FROM durable_tasks.queue_stats() WHERE queue_name LIKE 'st\_many\_%';
SELECT count(*) FROM generate_series(1, 30) g,
       LATERAL durable_tasks.drop_queue('st_many_' || lpad(g::text, 2, '0'));

-- through the index, not a scan: a queue of 5,000 finished tasks
SELECT count(*) FROM generate_series(1, 5000) g,
       LATERAL durable_tasks.spawn_task('st_empty', 'bulk', jsonb_build_object('g', g));
UPDATE durable_tasks.r_st_empty SET state = 'completed', finished_at = now(), started_at = now();
UPDATE durable_tasks.t_st_empty SET state = 'completed', finished_at = now(), first_started_at = now();
VACUUM (ANALYZE) durable_tasks.r_st_empty, durable_tasks.t_st_empty;
SELECT pg_stat_force_next_flush();
SELECT seq_scan AS seq_before FROM pg_stat_user_tables WHERE relid = 'durable_tasks.r_st_empty'::regclass \gset
SELECT seq_scan AS tseq_before FROM pg_stat_user_tables WHERE relid = 'durable_tasks.t_st_empty'::regclass \gset
SELECT completed, pending FROM durable_tasks.queue_stats('st_empty');
SELECT pg_stat_force_next_flush();
SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'durable_tasks.r_st_empty'::regclass) - :seq_before AS run_seq_scans,
       (SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'durable_tasks.t_st_empty'::regclass) - :tseq_before AS task_seq_scans;

-- privileges: producer sees its queue, others are denied or not listed
CREATE ROLE st_producer;
SELECT durable_tasks.grant_queue('st_q', 'st_producer', 'producer');
SET ROLE st_producer;
SELECT queue_name FROM durable_tasks.queue_stats();
SELECT pending >= 0 AS allowed FROM durable_tasks.queue_stats('st_q');
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats('st_empty')$$);
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats('st_nosuch')$$);
RESET ROLE;
SELECT durable_tasks.revoke_queue('st_q', 'st_producer', 'producer');
DROP ROLE st_producer;

-- bad input
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats('')$$);
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats('ST_Q')$$);
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats(repeat('a', 49))$$);
SELECT public.err($$SELECT * FROM durable_tasks.queue_stats('st_nosuch')$$);

SELECT durable_tasks.drop_queue(q) FROM unnest(ARRAY['st_q', 'st_empty']) q;
