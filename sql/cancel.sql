--
-- cancel: cancel_task and its cascade through parent_task_id.
--
SELECT durable_tasks.create_queue('ca_q');

-- Every task and run of the queue, by task name.
CREATE FUNCTION pg_temp.tasks() RETURNS TABLE (task_name text, state text, attempts int,
                                               finished boolean, runs text)
LANGUAGE sql AS $fn$
    SELECT t.task_name, t.state, t.attempts, t.finished_at IS NOT NULL,
           (SELECT string_agg(r.attempt || ':' || r.state, ', ' ORDER BY r.attempt)
              FROM durable_tasks.r_ca_q r WHERE r.task_id = t.task_id)
      FROM durable_tasks.t_ca_q t
     ORDER BY t.task_name
$fn$;

--
-- A tree:
--   parent
--   ├── c1 (pending)
--   │   └── c1_g1 (pending)
--   │       └── c1_g1_gg (pending)
--   ├── c2 (running)
--   │   └── c2_g2 (pending, delayed)
--   ├── c3 (completed)
--   │   └── c3_g3 (pending)
--   ├── c4 (failed)
--   └── c5 (pending retry after a failed attempt)
-- and an unrelated task.
--
SELECT task_id AS parent FROM durable_tasks.spawn_task('ca_q', 'parent',
         options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS c1 FROM durable_tasks.spawn_task('ca_q', 'c1',
         options => jsonb_build_object('parent_task_id', :'parent', 'delay_seconds', 3600)) \gset
SELECT task_id AS c1_g1 FROM durable_tasks.spawn_task('ca_q', 'c1_g1',
         options => jsonb_build_object('parent_task_id', :'c1', 'delay_seconds', 3600)) \gset
SELECT task_id AS c1_g1_gg FROM durable_tasks.spawn_task('ca_q', 'c1_g1_gg',
         options => jsonb_build_object('parent_task_id', :'c1_g1', 'delay_seconds', 3600)) \gset
SELECT task_id AS c2, run_id AS c2_run FROM durable_tasks.spawn_task('ca_q', 'c2',
         options => jsonb_build_object('parent_task_id', :'parent')) \gset
SELECT task_name FROM durable_tasks.claim_task('ca_q', 'w1');
SELECT task_id AS c2_g2 FROM durable_tasks.spawn_task('ca_q', 'c2_g2',
         options => jsonb_build_object('parent_task_id', :'c2', 'delay_seconds', 3600)) \gset
SELECT task_id AS c3, run_id AS c3_run FROM durable_tasks.spawn_task('ca_q', 'c3',
         options => jsonb_build_object('parent_task_id', :'parent')) \gset
-- (c3_g3 before c3 completes: a finished task refuses new children)
SELECT task_id AS c3_g3 FROM durable_tasks.spawn_task('ca_q', 'c3_g3',
         options => jsonb_build_object('parent_task_id', :'c3', 'delay_seconds', 3600)) \gset
SELECT task_name FROM durable_tasks.claim_task('ca_q', 'w1');
SELECT durable_tasks.complete_run('ca_q', :'c3_run', '{"done": true}');
SELECT task_id AS c4, run_id AS c4_run FROM durable_tasks.spawn_task('ca_q', 'c4',
         options => jsonb_build_object('parent_task_id', :'parent', 'max_attempts', 1)) \gset
SELECT task_name FROM durable_tasks.claim_task('ca_q', 'w1');
SELECT task_state FROM durable_tasks.fail_run('ca_q', :'c4_run', '{"error": "x"}');
SELECT task_id AS c5, run_id AS c5_run FROM durable_tasks.spawn_task('ca_q', 'c5',
         options => jsonb_build_object('parent_task_id', :'parent',
                                       'retry_strategy', '{"kind": "fixed", "base_seconds": 3600}'::jsonb)) \gset
SELECT task_name FROM durable_tasks.claim_task('ca_q', 'w1');
SELECT task_state, retry_attempt FROM durable_tasks.fail_run('ca_q', :'c5_run', '{"error": "y"}');
SELECT task_id AS other, run_id AS other_run FROM durable_tasks.spawn_task('ca_q', 'unrelated') \gset
SELECT * FROM pg_temp.tasks();

-- cancelling the parent cancels it and every non-terminal descendant:
-- parent, c1, c1_g1, c1_g1_gg, c2, c2_g2, c3_g3, c5 = 8 tasks
SELECT durable_tasks.cancel_task('ca_q', :'parent') AS cancelled;
SELECT * FROM pg_temp.tasks();
-- the terminal children kept their result and failure
SELECT task_name, state, result, failure FROM durable_tasks.t_ca_q
 WHERE task_id IN (:'c3', :'c4') ORDER BY task_name;
-- the cancelled running run (c2) cannot be completed, failed or extended
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L, %L)', 'ca_q', :'c2_run', '{"late": true}'));
SELECT public.err(format('SELECT durable_tasks.fail_run(%L, %L)', 'ca_q', :'c2_run'));
SELECT public.err(format('SELECT durable_tasks.extend_claim(%L, %L, 30)', 'ca_q', :'c2_run'));
SELECT state, result FROM durable_tasks.get_task('ca_q', :'c2');
-- cancelled runs are never handed out: only the unrelated task is claimable
UPDATE durable_tasks.r_ca_q SET available_at = now() - interval '1 hour';
SELECT task_name FROM durable_tasks.claim_task('ca_q', 'w2', qty => 100);

-- cancelling again, or cancelling any terminal task, returns 0
SELECT durable_tasks.cancel_task('ca_q', :'parent') AS cancelled;
SELECT durable_tasks.cancel_task('ca_q', :'c1_g1') AS cancelled;
SELECT durable_tasks.cancel_task('ca_q', :'c3') AS cancelled_completed;
SELECT durable_tasks.cancel_task('ca_q', :'c4') AS cancelled_failed;
SELECT state FROM durable_tasks.get_task('ca_q', :'c3');
SELECT state FROM durable_tasks.get_task('ca_q', :'c4');

-- cancelling a child leaves its parent and siblings alone
SELECT task_id AS p2 FROM durable_tasks.spawn_task('ca_q', 'p2', options => '{"delay_seconds": 3600}') \gset
SELECT task_id AS p2_a FROM durable_tasks.spawn_task('ca_q', 'p2_a',
         options => jsonb_build_object('parent_task_id', :'p2', 'delay_seconds', 3600)) \gset
SELECT task_id AS p2_b FROM durable_tasks.spawn_task('ca_q', 'p2_b',
         options => jsonb_build_object('parent_task_id', :'p2', 'delay_seconds', 3600)) \gset
SELECT task_id AS p2_a_x FROM durable_tasks.spawn_task('ca_q', 'p2_a_x',
         options => jsonb_build_object('parent_task_id', :'p2_a', 'delay_seconds', 3600)) \gset
SELECT durable_tasks.cancel_task('ca_q', :'p2_a') AS cancelled;
SELECT task_name, state FROM durable_tasks.t_ca_q WHERE task_name LIKE 'p2%' ORDER BY task_name;
-- a task without children: 1
SELECT durable_tasks.cancel_task(queue_name => 'ca_q', task_id => :'p2_b') AS cancelled;
SELECT task_name, state FROM durable_tasks.t_ca_q WHERE task_name LIKE 'p2%' ORDER BY task_name;

-- the running unrelated task, cancelled by id: its worker loses the run
SELECT run_id AS other_run FROM durable_tasks.r_ca_q WHERE task_id = :'other' \gset
SELECT durable_tasks.cancel_task('ca_q', :'other') AS cancelled;
SELECT public.err(format('SELECT durable_tasks.complete_run(%L, %L)', 'ca_q', :'other_run'));
SELECT state, attempts, finished_at IS NOT NULL AS finished FROM durable_tasks.get_task('ca_q', :'other');
SELECT state, claim_expires_at IS NULL AS lease_cleared, finished_at IS NOT NULL AS finished
  FROM durable_tasks.r_ca_q WHERE run_id = :'other_run';

-- errors: unknown task (P0002), a task of another queue, NULL task id
SELECT public.err($$SELECT durable_tasks.cancel_task('ca_q', '00000000-0000-7000-8000-000000000000')$$);
SELECT durable_tasks.create_queue('ca_other');
SELECT task_id AS foreign_task FROM durable_tasks.spawn_task('ca_other', 'x') \gset
SELECT public.err(format('SELECT durable_tasks.cancel_task(%L, %L)', 'ca_q', :'foreign_task'));
SELECT state FROM durable_tasks.get_task('ca_other', :'foreign_task');
SELECT public.err($$SELECT durable_tasks.cancel_task('ca_q', NULL)$$);
SELECT durable_tasks.drop_queue('ca_other');

SELECT durable_tasks.drop_queue('ca_q');
