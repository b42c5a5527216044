-- figure 1, subject: spawn_task on the create path, no key.
SELECT task_id, run_id FROM durable_tasks.spawn_task('q', 'send_email', '{"user_id": 42, "template": "welcome"}');
