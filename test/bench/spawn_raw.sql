-- figure 1, baseline: the task row and the run row spawn_task writes, as one
-- raw INSERT into tables like the queue's (same columns, indexes, FK).
WITH t AS (
    INSERT INTO bench.t (task_id, task_name, params, headers, retry_strategy, max_attempts,
                         cancellation, parent_task_id, state, attempts, last_run_id, created_at)
    VALUES (gen_random_uuid(), 'send_email', '{"user_id": 42, "template": "welcome"}', NULL,
            '{"kind": "exponential", "base_seconds": 1, "factor": 2, "max_seconds": 3600}',
            5, NULL, NULL, 'pending', 1, gen_random_uuid(), now())
    RETURNING task_id, last_run_id)
INSERT INTO bench.r (run_id, task_id, attempt, state, available_at, created_at)
SELECT t.last_run_id, t.task_id, 1, 'pending', now(), now() FROM t
RETURNING task_id, run_id;
