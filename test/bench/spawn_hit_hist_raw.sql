-- figure 18, baseline: figure 3's raw index lookup of the key's holder, on queue h.
\set k random(1, :hkeys)
SELECT task_id, state, last_run_id, attempts FROM durable_tasks.t_h WHERE idempotency_key = 'hist-' || :k AND key_released_at IS NULL;
