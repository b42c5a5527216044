#!/usr/bin/env bash
# 045_cleanup_hammer.sh - cleanup_tasks under constant key collisions (SPEC 5.5).
#
# For DT_CLEANUP_SECONDS (default 10) s, on one queue with the default
# key_reuse after_failure:
#   * 8 pgbench clients spawn (keys drawn from 200 values, one spawn in ten
#     without a key, max_attempts 1) and work: claim and complete (rarely,
#     so that keys keep failing and being re-created), claim and fail, or
#     cancel a key's pending holder;
#   * 1 pgbench client runs cleanup_tasks(q, '0', 100) in a loop;
#   * a checker samples the queue every 0.3 s in one REPEATABLE READ
#     snapshot: never two holders for one key, queue_stats equal to a
#     GROUP BY of the task table.
# Every spawn, every finish and every cleanup call logs what it was told in
# its own transaction (public.spawn_log, work_log, cleanup_log), so the
# logs are exactly what committed.  Afterwards:
#   * no client saw an error;
#   * the tasks that disappeared are exactly the ones cleanup says it
#     deleted, and there were some;
#   * none of them was live or a completed holder of its key (the only
#     tasks that block under after_failure); per key, over every task ever
#     created, at most one was not failed/cancelled;
#   * every hit was on a task created with that key, never on a failed or
#     cancelled holder, and a hit on a completed holder left a task that
#     still exists;
#   * every key that ever completed is still a hit on that very task
#     (spawn again: created = f, same task_id), also after cleanup is
#     drained to 0, which then left only completed holders;
#   * queue_stats equals a GROUP BY of the task table.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

DB=dt_t045_cleanup
dt_newdb "$DB"
q "$DB" "CREATE EXTENSION durable_tasks;
         SELECT durable_tasks.create_queue('cq');
         CREATE TABLE public.spawn_log (k text, task_id uuid, created boolean, state text,
                                        at timestamptz DEFAULT clock_timestamp());
         CREATE TABLE public.work_log (task_id uuid PRIMARY KEY, outcome text NOT NULL,
                                       at timestamptz DEFAULT clock_timestamp());
         CREATE TABLE public.cleanup_log (n integer, at timestamptz DEFAULT clock_timestamp());
         CREATE TABLE public.check_log (two_holders bigint, stats_ok boolean, stats text, grouped text,
                                        at timestamptz DEFAULT clock_timestamp());" >/dev/null

DUR=${DT_CLEANUP_SECONDS:-10}

# pgbench_ok LABEL LOGFILE STATUS: no failed transaction, no aborted client
pgbench_ok() {
    local label=$1 log=$2 st=$3 processed failed
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
    if [ "$st" -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${processed:-0}" -gt 0 ] &&
        ! grep -qE 'aborted|ERROR' "$log"; then
        ok "$label: pgbench $processed transactions, 0 failed, no client aborted"
    else
        not_ok "$label: pgbench reports no failed transaction and no error (status $st, processed ${processed:-?}, failed ${failed:-?})"
        diag "$(grep -E 'ERROR|DETAIL|CONTEXT|aborted|failed|processed' "$log" | sort | uniq -c | sort -rn | head -15)"
    fi
}

# spawn: key-1 .. key-200, one in ten without a key
cat >"$T_SCRATCH/spawn.sql" <<'EOF'
\set k random(1, 200)
\set kind random(1, 10)
WITH s AS (SELECT * FROM durable_tasks.spawn_task('cq', 'job', jsonb_build_object('k', :k),
        idempotency_key => CASE WHEN :kind > 1 THEN 'key-' || :k END,
        options => '{"max_attempts": 1}')),
     ins AS (INSERT INTO public.spawn_log (k, task_id, created, state)
             SELECT CASE WHEN :kind > 1 THEN 'key-' || :k END, s.task_id, s.created, s.state
               FROM s RETURNING 1)
SELECT 1 / ((SELECT count(*) FROM ins) = 1)::int AS exactly_one_row;
EOF
# work: 1 in 80 completes (so that keys keep failing and being re-created
# through most of the run), 71 fail, 8 cancel a key's pending holder.  The
# cancel holds the task FOR KEY SHARE first: else cleanup may delete it
# (claimed, failed) between the read and cancel_task, which then rightly
# says it does not exist.  A claim's update is not blocked by that lock,
# cleanup's FOR UPDATE SKIP LOCKED skips the task.
cat >"$T_SCRATCH/work.sql" <<'EOF'
\set act random(1, 80)
\if :act = 1
WITH c AS (SELECT c.task_id, c.run_id FROM durable_tasks.claim_task('cq', 'worker', 30, 1) c),
     x AS (SELECT c.task_id, durable_tasks.complete_run('cq', c.run_id, '{"ok": true}') FROM c)
INSERT INTO public.work_log (task_id, outcome) SELECT task_id, 'completed' FROM x;
\elif :act <= 72
WITH c AS (SELECT c.task_id, c.run_id FROM durable_tasks.claim_task('cq', 'worker', 30, 1) c),
     x AS (SELECT f.task_id, f.task_state FROM c, durable_tasks.fail_run('cq', c.run_id, '{"error": "boom"}') f)
INSERT INTO public.work_log (task_id, outcome) SELECT task_id, task_state FROM x;
\else
\set k random(1, 200)
WITH h AS (SELECT t.task_id FROM durable_tasks.t_cq t
            WHERE t.idempotency_key = 'key-' || :k AND t.key_released_at IS NULL AND t.state = 'pending'
            FOR KEY SHARE),
     x AS (SELECT h.task_id, durable_tasks.cancel_task('cq', h.task_id) AS n FROM h)
INSERT INTO public.work_log (task_id, outcome) SELECT task_id, 'cancelled' FROM x WHERE n > 0;
\endif
EOF
cat >"$T_SCRATCH/cleanup.sql" <<'EOF'
INSERT INTO public.cleanup_log (n) SELECT durable_tasks.cleanup_tasks('cq', '0', 100);
EOF
cat >"$T_SCRATCH/check.sql" <<'EOF'
BEGIN ISOLATION LEVEL REPEATABLE READ;
WITH s AS (SELECT concat_ws(' ', pending, running, sleeping, completed, failed, cancelled) AS v
             FROM durable_tasks.queue_stats('cq')),
     g AS (SELECT concat_ws(' ', count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'running'),
                                 count(*) FILTER (WHERE state = 'sleeping'), count(*) FILTER (WHERE state = 'completed'),
                                 count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'cancelled')) AS v
             FROM durable_tasks.t_cq)
INSERT INTO public.check_log (two_holders, stats_ok, stats, grouped)
SELECT (SELECT count(*) FROM (SELECT idempotency_key FROM durable_tasks.t_cq
          WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY 1 HAVING count(*) > 1) d),
       s.v = g.v, s.v, g.v
  FROM s, g;
COMMIT;
EOF

# the checker: every 0.3 s until the file "stop" appears (or the run is
# long overdue, or the scratch directory is gone)
(
    end=$((SECONDS + DUR + 60))
    while [ ! -e "$T_SCRATCH/stop" ] && [ -d "$T_SCRATCH" ] && [ "$SECONDS" -lt "$end" ]; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$T_SCRATCH/check.sql" >>"$T_SCRATCH/check.log" 2>&1 ||
            echo "CHECKER ERROR status $?" >>"$T_SCRATCH/check.log"
        sleep 0.3
    done
) &
checker=$!

st_w=0 st_c=0
PGOPTIONS='-c default_transaction_isolation=read\ committed' \
    pgbench -n -c 8 -j 2 -T "$DUR" -f "$T_SCRATCH/spawn.sql@2" -f "$T_SCRATCH/work.sql@2" "$DB" \
    >"$T_SCRATCH/work.log" 2>&1 &
pw=$!
PGOPTIONS='-c default_transaction_isolation=read\ committed' \
    pgbench -n -c 1 -T "$DUR" -f "$T_SCRATCH/cleanup.sql" "$DB" >"$T_SCRATCH/cleanup.log" 2>&1 &
pc=$!
wait "$pw" || st_w=$?
wait "$pc" || st_c=$?
touch "$T_SCRATCH/stop"
wait "$checker" || true

pgbench_ok "8 spawners/workers" "$T_SCRATCH/work.log" "$st_w"
pgbench_ok "cleanup loop" "$T_SCRATCH/cleanup.log" "$st_c"

# --- the checker's samples during the run
is "$(grep -c 'ERROR' "$T_SCRATCH/check.log" 2>/dev/null || true)" "0" "checker: no error while sampling"
[ -s "$T_SCRATCH/check.log" ] && diag "$(grep ERROR "$T_SCRATCH/check.log" | sort | uniq -c | head -5)"
samples=$(q "$DB" "SELECT count(*) FROM check_log")
if [ "$samples" -ge 3 ]; then ok "checker: $samples samples during the run"; else not_ok "checker: at least 3 samples during the run (got $samples)"; fi
is "$(q "$DB" "SELECT count(*) FROM check_log WHERE two_holders <> 0")" "0" \
    "during the run: never two holders (key set, not released) for one key"
is "$(q "$DB" "SELECT count(*) FROM check_log WHERE NOT stats_ok")" "0" \
    "during the run: queue_stats equals a GROUP BY of the task table in the same snapshot"
diag "$(q "$DB" "SELECT 'bad sample: stats ' || stats || ' / grouped ' || grouped FROM check_log WHERE NOT stats_ok LIMIT 3")"

# --- what happened
q "$DB" "CREATE INDEX ON spawn_log (task_id); CREATE INDEX ON spawn_log (k); ANALYZE spawn_log, work_log;
         CREATE TABLE ever AS
           SELECT l.task_id, l.k, w.outcome,
                  EXISTS (SELECT FROM durable_tasks.t_cq t WHERE t.task_id = l.task_id) AS exists_now
             FROM spawn_log l LEFT JOIN work_log w USING (task_id) WHERE l.created;" >/dev/null
diag "run: $(q "$DB" "SELECT count(*) || ' spawns (' || count(*) FILTER (WHERE created) || ' created, '
                              || count(*) FILTER (WHERE NOT created) || ' hits), '
                              || count(*) FILTER (WHERE k IS NULL) || ' without key' FROM spawn_log"); \
$(q "$DB" "SELECT string_agg(outcome || '=' || n, ' ' ORDER BY outcome) FROM (SELECT outcome, count(*) n FROM work_log GROUP BY 1) x"); \
cleanup: $(q "$DB" "SELECT count(*) || ' calls, ' || COALESCE(sum(n), 0) || ' deleted, ' || count(*) FILTER (WHERE n = 100) || ' full batches' FROM cleanup_log"); \
keys completed: $(q "$DB" "SELECT count(DISTINCT k) FROM ever WHERE outcome = 'completed' AND k IS NOT NULL"); \
keyed tasks created in the last quarter of the run: $(q "$DB" "SELECT count(*) FROM spawn_log WHERE created AND k IS NOT NULL
      AND at > (SELECT max(at) - (max(at) - min(at)) / 4 FROM spawn_log)")"

is "$(q "$DB" "SELECT count(*) FROM spawn_log WHERE task_id IS NULL OR created IS NULL OR state IS NULL")" "0" \
    "every spawn returned a complete row"
is "$(q "$DB" "SELECT count(*) FROM (SELECT task_id FROM ever GROUP BY 1 HAVING count(*) > 1) d")
$(q "$DB" "SELECT count(*) FROM durable_tasks.t_cq t WHERE NOT EXISTS (SELECT FROM ever e WHERE e.task_id = t.task_id)")" "0
0" "every task was reported created = t to exactly one spawner (none appeared from nowhere)"

deleted=$(q "$DB" "SELECT COALESCE(sum(n), 0) FROM cleanup_log")
is "$(q "$DB" "SELECT count(*) FROM ever WHERE NOT exists_now")" "$deleted" \
    "the tasks that disappeared are exactly as many as cleanup_tasks says it deleted"
if [ "$deleted" -gt 0 ]; then ok "cleanup deleted something during the run ($deleted tasks)"; else not_ok "cleanup deleted something during the run"; fi
is "$(q "$DB" "SELECT count(*) FROM ever WHERE NOT exists_now AND outcome IS NULL")" "0" \
    "cleanup deleted no live task (every deleted task had completed, failed or been cancelled)"
is "$(q "$DB" "SELECT count(*) FROM ever WHERE NOT exists_now AND outcome = 'completed' AND k IS NOT NULL")" "0" \
    "cleanup deleted no completed holder (after_failure: its key still blocks)"
diag "deleted: $(q "$DB" "SELECT string_agg(c || '=' || n, ' ' ORDER BY c) FROM
                            (SELECT COALESCE(outcome, 'live') || CASE WHEN k IS NULL THEN '/nokey' ELSE '/key' END AS c, count(*) AS n
                               FROM ever WHERE NOT exists_now GROUP BY 1) d")"
is "$(q "$DB" "SELECT count(*) FROM (SELECT k FROM ever WHERE k IS NOT NULL
                                     AND outcome IS DISTINCT FROM 'failed' AND outcome IS DISTINCT FROM 'cancelled'
                                     GROUP BY k HAVING count(*) > 1) d")" "0" \
    "per key, over every task ever created: at most one not failed/cancelled (no completed or live holder was replaced)"
is "$(q "$DB" "SELECT count(*) FROM work_log WHERE outcome NOT IN ('completed', 'failed', 'cancelled')")" "0" \
    "every fail_run of a max_attempts 1 task left it failed"

# hits
is "$(q "$DB" "SELECT count(*) FROM spawn_log h WHERE NOT h.created AND NOT EXISTS
                 (SELECT FROM ever e WHERE e.task_id = h.task_id AND e.k = h.k)")" "0" \
    "every hit returned a task created with the requested key"
is "$(q "$DB" "SELECT count(*) FROM spawn_log h WHERE NOT h.created AND (h.k IS NULL OR h.state NOT IN ('pending', 'running', 'completed'))")" "0" \
    "no hit was on a failed or cancelled holder, and no keyless spawn hit"
is "$(q "$DB" "SELECT count(*) FROM spawn_log h WHERE NOT h.created AND h.state = 'completed'
                 AND NOT EXISTS (SELECT FROM durable_tasks.t_cq t WHERE t.task_id = h.task_id)")" "0" \
    "every task a spawn was given as a completed hit still exists"

# at the end
is "$(q "$DB" "SELECT count(*) FROM (SELECT idempotency_key FROM durable_tasks.t_cq
                WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY 1 HAVING count(*) > 1) d")" "0" \
    "at the end: at most one holder per key"
stats_vs_group() {
    q "$DB" "SELECT (SELECT concat_ws(' ', pending, running, sleeping, completed, failed, cancelled)
                       FROM durable_tasks.queue_stats('cq'))
                    || ' | ' ||
                    (SELECT concat_ws(' ', count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'running'),
                                      count(*) FILTER (WHERE state = 'sleeping'), count(*) FILTER (WHERE state = 'completed'),
                                      count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'cancelled'))
                       FROM durable_tasks.t_cq)"
}
s=$(stats_vs_group)
is "${s%% | *}" "${s##* | }" "at the end: queue_stats equals a GROUP BY of the task table"

# every key that ever completed: spawning it again hits that very task
hits_again() {
    q "$DB" "SELECT count(*) || ' ' || count(*) FILTER (WHERE s.created OR s.task_id IS DISTINCT FROM e.task_id OR s.state <> 'completed')
               FROM ever e LEFT JOIN LATERAL durable_tasks.spawn_task('cq', 'job',
                        jsonb_build_object('k', substr(e.k, 5)::int), idempotency_key => e.k,
                        options => '{\"max_attempts\": 1}') s ON true
              WHERE e.outcome = 'completed' AND e.k IS NOT NULL"
}
completed_keys=$(q "$DB" "SELECT count(*) FROM ever WHERE outcome = 'completed' AND k IS NOT NULL")
if [ "$completed_keys" -gt 0 ]; then ok "some keys completed ($completed_keys)"; else not_ok "some keys completed"; fi
is "$(hits_again)" "$completed_keys 0" \
    "every completed-and-held key is still a hit afterwards: created = f, the same task ($completed_keys keys)"

# drain the cleanup: then only completed holders (and live tasks) are left
drained=$(q "$DB" "DO \$\$ DECLARE n int; total int := 0; BEGIN
                     LOOP n := durable_tasks.cleanup_tasks('cq', '0', 100); total := total + n; EXIT WHEN n = 0; END LOOP;
                     RAISE NOTICE 'drained %', total; END \$\$" 2>&1 | sed -n 's/.*drained \([0-9]*\).*/\1/p')
diag "drain: ${drained:-?} more deleted"
is "$(q "$DB" "SELECT count(*) FROM durable_tasks.t_cq
                WHERE state IN ('completed', 'failed', 'cancelled')
                  AND NOT (state = 'completed' AND idempotency_key IS NOT NULL AND key_released_at IS NULL)")
$(q "$DB" "SELECT count(*) FROM durable_tasks.t_cq WHERE state = 'completed' AND idempotency_key IS NOT NULL AND key_released_at IS NULL")" "0
$completed_keys" "after cleanup is drained to 0: no deletable task left, every completed holder kept"
is "$(hits_again)" "$completed_keys 0" \
    "after the drain, every completed key is still a hit on the same task"
s=$(stats_vs_group)
is "${s%% | *}" "${s##* | }" "after the drain: queue_stats equals a GROUP BY of the task table"
is "$(q "$DB" "SELECT (SELECT count(*) FROM durable_tasks.r_cq r
                        WHERE NOT EXISTS (SELECT FROM durable_tasks.t_cq t WHERE t.task_id = r.task_id))
                   || ' ' || (SELECT count(*) FROM durable_tasks.t_cq t
                        WHERE NOT EXISTS (SELECT FROM durable_tasks.r_cq r WHERE r.run_id = t.last_run_id))")" "0 0" \
    "no orphan run, and every task's last run exists"

dt_finish
