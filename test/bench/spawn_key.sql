-- figure 2, subject: spawn_task with a fresh explicit idempotency key (create path).
\set k random(1, 4611686018427387904)
SELECT task_id, run_id FROM durable_tasks.spawn_task('q', 'send_email', '{"user_id": 42, "template": "welcome"}', idempotency_key => :k::text);
