-- test/demo.sql - a scripted tour of the durable_tasks API.
-- Run by test/demo:  psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f test/demo.sql
-- psql variables (\gset) carry task and run ids from one step to the next.

\echo '1. Install the extension. Everything lives in the schema durable_tasks.'
CREATE EXTENSION durable_tasks;

\echo
\echo '2. Create the queue "emails" (it gets its own task and run tables).'
SELECT 'created' AS queue_emails FROM durable_tasks.create_queue('emails');
SELECT queue_name FROM durable_tasks.list_queues();

\echo '3. Spawn three tasks: at most 3 attempts each, a failed attempt is retried at once.'
SELECT task_id AS alice_task
  FROM durable_tasks.spawn_task('emails', 'send_welcome',
         params  => '{"to": "alice@example.com"}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 0}}') \gset
SELECT task_id AS bob_task
  FROM durable_tasks.spawn_task('emails', 'send_welcome',
         params  => '{"to": "bob@example.com"}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 0}}') \gset
SELECT task_id AS carol_task
  FROM durable_tasks.spawn_task('emails', 'send_welcome',
         params  => '{"to": "carol@example.com"}',
         options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 0}}') \gset

-- A view over get_task() for the three tasks, in spawn order.
CREATE TEMP VIEW demo_tasks AS
SELECT t.params ->> 'to' AS recipient, t.state, t.attempts, t.result, t.failure
  FROM unnest(ARRAY[:'alice_task', :'bob_task', :'carol_task']::uuid[])
         WITH ORDINALITY AS u(task_id, n),
       LATERAL durable_tasks.get_task('emails', u.task_id) t
 ORDER BY u.n;

SELECT * FROM demo_tasks;

\echo '3b. Deduplication: three app instances all saw "order 42 paid" and each spawns'
\echo '    send_receipt with only_once => true.  The first creates the task; the others'
\echo '    get the same task back with created = false.  No error, no duplicate.'
SELECT 'instance-1' AS caller, task_id AS receipt_task, created, state
  FROM durable_tasks.spawn_task('emails', 'send_receipt', '{"order": 42, "total": 19.90}',
                                only_once => true) \gset
\echo '    instance-1: created =' :created ', state =' :state
SELECT 'instance-2' AS caller, created, state, task_id = :'receipt_task' AS same_task
  FROM durable_tasks.spawn_task('emails', 'send_receipt', '{"order": 42, "total": 19.90}',
                                only_once => true);
SELECT 'instance-3' AS caller, created, state, task_id = :'receipt_task' AS same_task
  FROM durable_tasks.spawn_task('emails', 'send_receipt', '{"order": 42, "total": 19.90}',
                                only_once => true);
\echo '    Key order, whitespace and 19.90 vs 19.9 do not matter: the same task again.'
SELECT created, state, task_id = :'receipt_task' AS same_task
  FROM durable_tasks.spawn_task('emails', 'send_receipt', '{ "total": 19.9, "order": 42 }',
                                only_once => true);
\echo '    An explicit idempotency_key names the operation even when params differ.'
SELECT created FROM durable_tasks.spawn_task('emails', 'send_invoice', '{"order": 42, "try": 1}',
                                             idempotency_key => 'invoice:42');
SELECT created FROM durable_tasks.spawn_task('emails', 'send_invoice', '{"order": 42, "try": 2}',
                                             idempotency_key => 'invoice:42');
\echo '    (Receipt and invoice are done elsewhere; cancel them to keep this tour short.)'
SELECT durable_tasks.cancel_task('emails', t.task_id) AS cancelled
  FROM durable_tasks.t_emails t WHERE t.idempotency_key IS NOT NULL ORDER BY t.created_at;

\echo '4. Two workers claim one task each: each claim hands out a different run.'
SELECT run_id AS a_run, task_id AS a_task, params ->> 'to' AS a_to
  FROM durable_tasks.claim_task('emails', 'worker-a', claim_timeout_seconds => 60) \gset
SELECT run_id AS b_run, task_id AS b_task, params ->> 'to' AS b_to
  FROM durable_tasks.claim_task('emails', 'worker-b', claim_timeout_seconds => 60) \gset
\echo '   worker-a got run' :a_run 'to email' :a_to
\echo '   worker-b got run' :b_run 'to email' :b_to
SELECT :'a_run' <> :'b_run' AS different_runs, :'a_task' <> :'b_task' AS different_tasks;

\echo '5. worker-a finishes its email and completes the run with a result.'
SELECT 'completed' AS worker_a_run
  FROM durable_tasks.complete_run('emails', :'a_run', result => '{"message_id": "msg-0001"}');

\echo '6. Nobody wants the third email any more: cancel the task no worker claimed.'
SELECT u.task_id AS idle_task
  FROM unnest(ARRAY[:'alice_task', :'bob_task', :'carol_task']::uuid[]) AS u(task_id),
       LATERAL durable_tasks.get_task('emails', u.task_id) t
 WHERE t.state = 'pending' \gset
SELECT durable_tasks.cancel_task('emails', :'idle_task') AS tasks_cancelled;

\echo '7. worker-b hits an SMTP timeout and fails its run.'
\echo '   Attempts remain, so fail_run creates a retry run (attempt 2).'
SELECT task_state AS b_state, retry_run_id AS retry_run, retry_attempt
  FROM durable_tasks.fail_run('emails', :'b_run', reason => '{"error": "SMTP timeout"}') \gset
\echo '   task state' :b_state '- retry run' :retry_run '- attempt' :retry_attempt
SELECT * FROM demo_tasks;

\echo '8. worker-a claims again and gets exactly that retry run, then completes it.'
SELECT run_id AS c_run, attempt AS c_attempt
  FROM durable_tasks.claim_task('emails', 'worker-a', claim_timeout_seconds => 60) \gset
SELECT :'c_run' = :'retry_run' AS got_the_retry_run, :c_attempt AS attempt;
SELECT 'completed' AS retry_run
  FROM durable_tasks.complete_run('emails', :'c_run', result => '{"message_id": "msg-0002"}');

\echo '9. The queue is drained: another claim returns no run.'
SELECT count(*) AS runs_claimed FROM durable_tasks.claim_task('emails', 'worker-b');

\echo '10. Final state of the three tasks (get_task), and of the retried task in detail.'
SELECT * FROM demo_tasks;
SELECT task_name, state, attempts, max_attempts, result, retry_strategy
  FROM durable_tasks.get_task('emails', :'b_task');

\echo '11. A duplicate caller waits for the first caller\'s result (await_task).'
\echo '    instance-1 spawns the receipt for order 43; instance-2 spawns the same and'
\echo '    gets created = false, then waits on the task while a worker (another'
\echo '    session, started in the background) claims and completes it a second later.'
SELECT task_id AS r43, created FROM durable_tasks.spawn_task('emails', 'send_receipt',
         '{"order": 43}', only_once => true) \gset
\echo '    instance-1: created =' :created
SELECT task_id = :'r43' AS same_task, created FROM durable_tasks.spawn_task('emails', 'send_receipt',
         '{"order": 43}', only_once => true);
\! (sleep 1; psql -X -q -c "SELECT durable_tasks.complete_run('emails', c.run_id, '{\"message_id\": \"msg-0043\"}') FROM durable_tasks.claim_task('emails', 'worker-c') c" >/dev/null) &
SELECT state, result, timed_out, round(extract(epoch FROM clock_timestamp() - statement_timestamp())) AS waited_seconds
  FROM durable_tasks.await_task('emails', :'r43', timeout_seconds => 10);

\echo
\echo '12. Bulk spawn: one call, one row per element, in order; a key repeated in the'
\echo '    batch gives one task (the later element gets it back, created = false).'
SELECT ordinal, created, state
  FROM durable_tasks.spawn_tasks('emails', '[
         {"task_name": "send_welcome", "params": {"to": "e@example.com"}, "idempotency_key": "welcome:e"},
         {"task_name": "send_welcome", "params": {"to": "f@example.com"}},
         {"task_name": "send_welcome", "params": {"to": "e@example.com"}, "idempotency_key": "welcome:e"}
       ]', options => '{"delay_seconds": 3600}');

\echo '13. Durable execution: a task that saves its steps, sleeps, waits for an'
\echo '    event, fails once and resumes from its checkpoints on the retry.'
SELECT durable_tasks.create_queue('orders');
SELECT task_id AS o_task FROM durable_tasks.spawn_task('orders', 'charge_and_ship', '{"order": 44}',
         options => '{"retry_strategy": {"kind": "none"}}') \gset
\echo '    worker-1 charges the card, saves the step, and sleeps for a second:'
SELECT run_id AS o_run, attempt FROM durable_tasks.claim_task('orders', 'worker-1') \gset
SELECT durable_tasks.set_checkpoint('orders', :'o_run', 'charge', '{"charge_id": "ch_44"}');
SELECT durable_tasks.sleep_run('orders', :'o_run', clock_timestamp() + interval '1 second');
SELECT state FROM durable_tasks.get_task('orders', :'o_task');
SELECT count(*) AS claimable_now FROM durable_tasks.claim_task('orders', 'worker-2');
SELECT pg_sleep(1.1);
\echo '    worker-2 gets the same run after the wake time, skips the charge (it is in'
\echo '    the checkpoints) and waits for the warehouse to say the parcel shipped:'
SELECT run_id = :'o_run' AS same_run, attempt FROM durable_tasks.claim_task('orders', 'worker-2');
SELECT step_name, state FROM durable_tasks.get_checkpoints('orders', :'o_task');
SELECT status FROM durable_tasks.await_event('orders', :'o_run', 'shipped:44', timeout_seconds => 3600);
\echo '    the warehouse emits the event (first emit wins; a second one changes nothing):'
SELECT durable_tasks.emit_event('orders', 'shipped:44', '{"tracking": "TRK-44"}') AS emitted;
SELECT durable_tasks.emit_event('orders', 'shipped:44', '{"tracking": "other"}') AS emitted_again;
\echo '    worker-3 resumes the run, which now sees the event; then it crashes (fail_run):'
SELECT run_id = :'o_run' AS same_run FROM durable_tasks.claim_task('orders', 'worker-3');
SELECT status, payload FROM durable_tasks.await_event('orders', :'o_run', 'shipped:44');
SELECT durable_tasks.set_checkpoint('orders', :'o_run', 'ship', '{"tracking": "TRK-44"}');
SELECT task_state, retry_attempt FROM durable_tasks.fail_run('orders', :'o_run', '{"error": "worker crashed"}');
\echo '    worker-4 gets attempt 2, finds both steps done, and completes the task:'
SELECT run_id AS o_run2, attempt FROM durable_tasks.claim_task('orders', 'worker-4') \gset
SELECT step_name, state, attempt AS saved_by_attempt FROM durable_tasks.get_checkpoints('orders', :'o_task');
SELECT status FROM durable_tasks.await_event('orders', :'o_run2', 'shipped:44');
SELECT durable_tasks.complete_run('orders', :'o_run2', '{"charge_id": "ch_44", "tracking": "TRK-44"}');
SELECT state, attempts, result FROM durable_tasks.get_task('orders', :'o_task');

\echo '14. Privileges: a role that may only produce, and what it is refused.'
CREATE ROLE demo_app;
SELECT durable_tasks.grant_queue('orders', 'demo_app', 'producer');
SET ROLE demo_app;
SELECT created FROM durable_tasks.spawn_task('orders', 'charge_and_ship', '{"order": 45}');
\set ON_ERROR_STOP off
SELECT * FROM durable_tasks.claim_task('orders', 'sneaky');
SELECT * FROM durable_tasks.t_orders;
\set ON_ERROR_STOP on
RESET ROLE;
SELECT * FROM durable_tasks.list_queue_grants('orders');
SELECT durable_tasks.revoke_queue('orders', 'demo_app', 'producer');
DROP ROLE demo_app;

\echo '15. Summary: exact counts by state (queue_stats), then a cleanup that keeps'
\echo '    the tasks whose keys still block (the completed receipts) and deletes the'
\echo '    rest of what has finished.'
SELECT queue_name, pending, running, sleeping, completed, failed, cancelled
  FROM durable_tasks.queue_stats();
SELECT durable_tasks.cleanup_tasks('emails', interval '0') AS deleted;
SELECT durable_tasks.cleanup_tasks('orders', interval '0') AS deleted;
SELECT task_name, state, idempotency_key IS NOT NULL AS keyed
  FROM durable_tasks.t_emails WHERE state IN ('completed', 'failed', 'cancelled') ORDER BY 1, 2;
