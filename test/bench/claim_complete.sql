-- figure 5, subject: one worker loop iteration, claim then complete (two
-- transactions).  The runner pre-fills enough pending tasks for the run.
SELECT run_id FROM durable_tasks.claim_task('q', 'w') \gset
SELECT durable_tasks.complete_run('q', :run_id, '{}');
