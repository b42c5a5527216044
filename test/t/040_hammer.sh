#!/usr/bin/env bash
# 040_hammer.sh - first-served deduplication under constant key collisions.
#
# (1) pgbench, 8 clients, READ COMMITTED: every transaction spawns with
#     only_once or an explicit key drawn from 50 values, so keys collide all
#     the time.  No transaction may fail, every spawn returns exactly one
#     row, and afterwards each key names exactly one task, the one every
#     spawn of that key was given; exactly one spawn per key saw created = t.
# (2) spawners mixed with workers that claim and fail (or complete) tasks,
#     key_reuse after_failure: a failed holder releases its key and a new
#     task is created.  At the end: at most one holder per key, only failed
#     tasks ever gave their key up, and at most one non-failed task per key.
# (3) the same collisions under REPEATABLE READ: the only error allowed is
#     40001 (pgbench retries it), never a duplicate.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

DB=dt_t040_hammer
dt_newdb "$DB"
q "$DB" "CREATE EXTENSION durable_tasks;
         SELECT durable_tasks.create_queue('ham');
         SELECT durable_tasks.create_queue('mix');
         SELECT durable_tasks.create_queue('rr');
         CREATE TABLE public.spawn_log (q text, k text, task_id uuid, run_id uuid, attempt int,
                                        created boolean, state text);" >/dev/null

DUR=${DT_HAMMER_SECONDS:-5}

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
        diag "$(grep -E 'ERROR|DETAIL|aborted|failed|processed' "$log" | sort | uniq -c | sort -rn | head -15)"
    fi
}

# ---------------------------------------------------------------------------
# (1) spawners only, READ COMMITTED
# ---------------------------------------------------------------------------
cat >"$T_SCRATCH/spawn.sql" <<'EOF'
\set k random(1, 50)
\set kind random(1, 2)
WITH s AS (SELECT * FROM durable_tasks.spawn_task('ham', 'job', jsonb_build_object('k', :k),
        only_once => (:kind = 1),
        idempotency_key => CASE WHEN :kind = 2 THEN 'key-' || :k END)),
     ins AS (INSERT INTO public.spawn_log
             SELECT 'ham', CASE WHEN :kind = 1 THEN 'once-' ELSE 'key-' END || :k,
                    s.task_id, s.run_id, s.attempt, s.created, s.state FROM s RETURNING 1)
SELECT 1 / ((SELECT count(*) FROM ins) = 1)::int AS exactly_one_row;
EOF
# a quarter of the transactions spawn and roll back: a spawner waiting on
# their key must then create the task itself
cat >"$T_SCRATCH/rollback.sql" <<'EOF'
\set k random(1, 50)
\set kind random(1, 2)
BEGIN;
SELECT s.created FROM durable_tasks.spawn_task('ham', 'job', jsonb_build_object('k', :k),
        only_once => (:kind = 1),
        idempotency_key => CASE WHEN :kind = 2 THEN 'key-' || :k END) s;
SELECT pg_sleep(0.001);
ROLLBACK;
EOF
st=0
PGOPTIONS='-c default_transaction_isolation=read\ committed' \
    pgbench -n -c 8 -j 2 -T "$DUR" -f "$T_SCRATCH/spawn.sql@3" -f "$T_SCRATCH/rollback.sql@1" "$DB" \
    >"$T_SCRATCH/p1.log" 2>&1 || st=$?
pgbench_ok "RC spawners (some rolling back)" "$T_SCRATCH/p1.log" "$st"
# transactions of script 1 (the committed spawns)
SPAWNS=$(sed -n '/^SQL script 1:/,/^SQL script 2:/s/^ - \([0-9]*\) transactions .*/\1/p' "$T_SCRATCH/p1.log")

# (each spawn checks it got exactly one row, else divides by zero; pgbench
# does not count the transactions in flight when its time is up: one per
# client, but once 9 were seen for 8 clients, so allow two per client)
LOGGED=$(q "$DB" "SELECT count(*) FROM spawn_log WHERE q = 'ham'")
if [ -n "$SPAWNS" ] && [ "$LOGGED" -ge "$SPAWNS" ] && [ "$LOGGED" -le $((SPAWNS + 16)) ]; then
    ok "RC spawners: every spawn returned exactly one row ($LOGGED logged, $SPAWNS counted by pgbench)"
else
    not_ok "RC spawners: every spawn returned exactly one row ($LOGGED logged, ${SPAWNS:-?} counted by pgbench)"
fi
is "$(q "$DB" "SELECT count(*) FROM spawn_log WHERE q = 'ham'
                AND (task_id IS NULL OR run_id IS NULL OR attempt IS DISTINCT FROM 1
                     OR created IS NULL OR state IS DISTINCT FROM 'pending')")" "0" \
    "RC spawners: every row is complete (task, run, attempt 1, created, state pending)"
is "$(q "$DB" "SELECT count(*) || ' tasks, ' || count(DISTINCT idempotency_key) || ' keys, '
                      || count(*) FILTER (WHERE idempotency_key IS NULL OR key_released_at IS NOT NULL) || ' unkeyed/released'
                 FROM durable_tasks.t_ham")" \
    "$(q "$DB" "SELECT count(DISTINCT k) FROM spawn_log WHERE q = 'ham'") tasks, $(q "$DB" "SELECT count(DISTINCT k) FROM spawn_log WHERE q = 'ham'") keys, 0 unkeyed/released" \
    "RC spawners: one task per key used, none unkeyed or released"
is "$(q "$DB" "SELECT count(DISTINCT k) FROM spawn_log WHERE q = 'ham'")" "100" \
    "RC spawners: all 100 keys were used"
is "$(q "$DB" "SELECT count(*) FROM (SELECT k FROM spawn_log WHERE q = 'ham' GROUP BY k
                                     HAVING count(*) FILTER (WHERE created) <> 1) x")" "0" \
    "RC spawners: exactly one spawn per key saw created = t (first-served)"
is "$(q "$DB" "SELECT count(*) FROM spawn_log l JOIN durable_tasks.t_ham t
                  ON t.idempotency_key = CASE WHEN l.k LIKE 'key-%' THEN l.k
                                              ELSE durable_tasks.task_fingerprint('job', jsonb_build_object('k', substr(l.k, 6)::int)) END
                WHERE l.q = 'ham' AND (l.task_id <> t.task_id OR l.run_id <> t.last_run_id)")" "0" \
    "RC spawners: every spawn of a key was given the key's single task and its run"
is "$(q "$DB" "SELECT count(*) FROM durable_tasks.r_ham")" "$(q "$DB" "SELECT count(*) FROM durable_tasks.t_ham")" \
    "RC spawners: one run per task (losers wrote nothing)"
is "$(q "$DB" "SELECT count(*) FROM (SELECT idempotency_key FROM durable_tasks.t_ham
                WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL
                GROUP BY 1 HAVING count(*) > 1) d")" "0" "RC spawners: count(*) = count(DISTINCT key) over held keys"

# ---------------------------------------------------------------------------
# (2) spawners and workers, key_reuse after_failure
# ---------------------------------------------------------------------------
cat >"$T_SCRATCH/mixspawn.sql" <<'EOF'
\set k random(1, 50)
\set kind random(1, 2)
WITH s AS (SELECT * FROM durable_tasks.spawn_task('mix', 'job', jsonb_build_object('k', :k),
        only_once => (:kind = 1),
        idempotency_key => CASE WHEN :kind = 2 THEN 'key-' || :k END,
        options => '{"max_attempts": 1, "key_reuse": "after_failure"}')),
     ins AS (INSERT INTO public.spawn_log
             SELECT 'mix', CASE WHEN :kind = 1 THEN 'once-' ELSE 'key-' END || :k,
                    s.task_id, s.run_id, s.attempt, s.created, s.state FROM s RETURNING 1)
SELECT 1 / ((SELECT count(*) FROM ins) = 1)::int AS exactly_one_row;
EOF
cat >"$T_SCRATCH/mixwork.sql" <<'EOF'
\set act random(1, 100)
\if :act = 1
SELECT count(*) FROM durable_tasks.claim_task('mix', 'worker', 30, 2) c,
       durable_tasks.complete_run('mix', c.run_id, '{"ok": true}') x;
\else
SELECT count(*) FROM durable_tasks.claim_task('mix', 'worker', 30, 2) c,
       durable_tasks.fail_run('mix', c.run_id, '{"error": "boom"}') f;
\endif
EOF
st=0
PGOPTIONS='-c default_transaction_isolation=read\ committed' \
    pgbench -n -c 8 -j 2 -T "$DUR" -f "$T_SCRATCH/mixspawn.sql@1" -f "$T_SCRATCH/mixwork.sql@1" "$DB" \
    >"$T_SCRATCH/p2.log" 2>&1 || st=$?
pgbench_ok "spawners + failing workers" "$T_SCRATCH/p2.log" "$st"

q "$DB" "CREATE INDEX ON spawn_log (task_id); ANALYZE spawn_log"
out=$(q "$DB" "
WITH t AS (SELECT * FROM durable_tasks.t_mix)
SELECT 'tasks:' || (count(*) > (SELECT count(DISTINCT k) FROM spawn_log WHERE q = 'mix')) FROM t
UNION ALL
SELECT 'released:' || (count(*) > 0) FROM t WHERE key_released_at IS NOT NULL
UNION ALL
SELECT 'keys_with_two_holders:' || count(*) FROM (SELECT idempotency_key FROM t
  WHERE key_released_at IS NULL GROUP BY 1 HAVING count(*) > 1) d
UNION ALL
SELECT 'released_but_not_failed:' || count(*) FROM t WHERE key_released_at IS NOT NULL AND state <> 'failed'
UNION ALL
SELECT 'keys_with_two_unfailed_tasks:' || count(*) FROM (SELECT idempotency_key FROM t
  WHERE state <> 'failed' GROUP BY 1 HAVING count(*) > 1) d
UNION ALL
SELECT 'keyless:' || count(*) FROM t WHERE idempotency_key IS NULL
UNION ALL
SELECT 'keys_without_holder:' || count(*) FROM (SELECT idempotency_key FROM t GROUP BY 1
  HAVING count(*) FILTER (WHERE key_released_at IS NULL) = 0) d")
is "$out" "tasks:true
released:true
keys_with_two_holders:0
released_but_not_failed:0
keys_with_two_unfailed_tasks:0
keyless:0
keys_without_holder:0" "spawners + failing workers: at most one holder per key, failures released and re-created"
diag "mix: $(q "$DB" "SELECT state || '=' || count(*) FROM durable_tasks.t_mix GROUP BY state ORDER BY state" | tr '\n' ' ')released=$(q "$DB" "SELECT count(*) FROM durable_tasks.t_mix WHERE key_released_at IS NOT NULL")"

# what the spawners were told: every returned task exists and carries the
# key asked for; each task was reported created = t to exactly one spawner
is "$(q "$DB" "SELECT count(*) FROM spawn_log l LEFT JOIN durable_tasks.t_mix t ON t.task_id = l.task_id
                WHERE l.q = 'mix' AND (t.task_id IS NULL OR t.idempotency_key <>
                      CASE WHEN l.k LIKE 'key-%' THEN l.k
                           ELSE durable_tasks.task_fingerprint('job', jsonb_build_object('k', substr(l.k, 6)::int)) END)")" \
    "0" "spawners + failing workers: every spawn returned an existing task with the requested key"
is "$(q "$DB" "SELECT count(*) FROM spawn_log WHERE q = 'mix' AND state NOT IN ('pending', 'running', 'completed')")" "0" \
    "spawners + failing workers: no spawn was handed a failed holder (after_failure)"
is "$(q "$DB" "SELECT count(*) FROM spawn_log l WHERE l.q = 'mix' AND l.created
                AND l.task_id NOT IN (SELECT task_id FROM durable_tasks.t_mix)")" "0" \
    "spawners + failing workers: created = t only for tasks that exist"
is "$(q "$DB" "SELECT count(*) FROM durable_tasks.t_mix t
                LEFT JOIN (SELECT task_id, count(*) AS n FROM spawn_log WHERE q = 'mix' AND created GROUP BY task_id) l
                USING (task_id) WHERE l.n IS DISTINCT FROM 1")" "0" \
    "spawners + failing workers: every task was reported created = t to exactly one spawner"

# ---------------------------------------------------------------------------
# (3) REPEATABLE READ: 40001 is the only error, retried by pgbench
# ---------------------------------------------------------------------------
sed 's/'"'"'ham'"'"'/'"'"'rr'"'"'/g' "$T_SCRATCH/spawn.sql" >"$T_SCRATCH/rr.sql"
st=0
PGOPTIONS='-c default_transaction_isolation=repeatable\ read' \
    pgbench -n -c 8 -j 2 -T 3 --max-tries=1000 -f "$T_SCRATCH/rr.sql" "$DB" >"$T_SCRATCH/p3.log" 2>&1 || st=$?
pgbench_ok "REPEATABLE READ spawners (retrying 40001)" "$T_SCRATCH/p3.log" "$st"
diag "RR: $(grep -E 'retried|retries' "$T_SCRATCH/p3.log" | tr '\n' ' ')"
is "$(q "$DB" "SELECT count(*) FROM (SELECT idempotency_key FROM durable_tasks.t_rr
                GROUP BY 1 HAVING count(*) > 1) d")
$(q "$DB" "SELECT (SELECT count(*) FROM durable_tasks.t_rr) = (SELECT count(DISTINCT k) FROM spawn_log WHERE q = 'rr')")
$(q "$DB" "SELECT count(*) FROM (SELECT k FROM spawn_log WHERE q = 'rr' GROUP BY k
                                 HAVING count(*) FILTER (WHERE created) <> 1) x")" "0
t
0" "REPEATABLE READ spawners: one task per key, one creator per key"

dt_finish
