-- figure 5, baseline: raw SKIP LOCKED claim (run and task row), then complete
-- (run and task row), on tables like the queue's, filled with the same rows.
WITH c AS (
    SELECT run_id FROM bench.r
     WHERE state = 'pending' AND available_at <= now()
     ORDER BY available_at, run_id LIMIT 1
       FOR UPDATE SKIP LOCKED),
u AS (
    UPDATE bench.r r SET state = 'running', claimed_by = 'w',
           claim_expires_at = now() + interval '30 s', started_at = now()
      FROM c WHERE r.run_id = c.run_id
    RETURNING r.run_id, r.task_id, r.attempt, r.claim_expires_at),
k AS (
    UPDATE bench.t t SET state = 'running', first_started_at = COALESCE(t.first_started_at, now())
      FROM u WHERE t.task_id = u.task_id
    RETURNING t.task_id, t.task_name, t.params, t.headers, t.max_attempts)
SELECT u.run_id, u.task_id, u.attempt, k.task_name, k.params, k.headers, k.max_attempts,
       u.claim_expires_at
  FROM u JOIN k ON k.task_id = u.task_id \gset
WITH r AS (
    UPDATE bench.r r SET state = 'completed', result = '{}', finished_at = now()
     WHERE r.run_id = :run_id AND r.state = 'running' AND r.claim_expires_at > now()
    RETURNING r.task_id)
UPDATE bench.t t SET state = 'completed', result = '{}', finished_at = now()
  FROM r WHERE t.task_id = r.task_id;
