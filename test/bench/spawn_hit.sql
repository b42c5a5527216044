-- figure 3, subject: spawn_task whose key is already held (hit path).  The
-- runner pre-populates keys hit-1 .. hit-:nkeys.
\set k random(1, :nkeys)
SELECT task_id, run_id FROM durable_tasks.spawn_task('q', 'send_email', '{"user_id": 42, "template": "welcome"}', idempotency_key => 'hit-' || :k);
