-- figure 2, baseline: the same raw INSERT as spawn_raw.sql, with the key, into
-- a table with the same partial unique index on idempotency_key.
\set k random(1, 4611686018427387904)
WITH t AS (
    INSERT INTO bench.t (task_id, task_name, params, headers, retry_strategy, max_attempts,
                         cancellation, parent_task_id, state, attempts, last_run_id, created_at,
                         idempotency_key)
    VALUES (gen_random_uuid(), 'send_email', '{"user_id": 42, "template": "welcome"}', NULL,
            '{"kind": "exponential", "base_seconds": 1, "factor": 2, "max_seconds": 3600}',
            5, NULL, NULL, 'pending', 1, gen_random_uuid(), now(), :k::text)
    RETURNING task_id, last_run_id)
INSERT INTO bench.r (run_id, task_id, attempt, state, available_at, created_at)
SELECT t.last_run_id, t.task_id, 1, 'pending', now(), now() FROM t
RETURNING task_id, run_id;
