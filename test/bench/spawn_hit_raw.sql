-- figure 3, baseline: the raw index lookup of the key's holder.
\set k random(1, :nkeys)
SELECT task_id, state, last_run_id, attempts FROM durable_tasks.t_q WHERE idempotency_key = 'hit-' || :k AND key_released_at IS NULL;
