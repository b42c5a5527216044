-- figure 18, subject: figure 3's hit, on queue h, whose :hkeys finished
-- (completed) tasks hold keys hist-1 .. hist-:hkeys (seeded by the runner).
\set k random(1, :hkeys)
SELECT task_id, run_id FROM durable_tasks.spawn_task('h', 'send_email', '{"user_id": 42, "template": "welcome"}', idempotency_key => 'hist-' || :k);
