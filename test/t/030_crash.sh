#!/usr/bin/env bash
# 030_crash.sh - a backend killed (SIGKILL) in the middle of spawn_task.
#
# pgbench runs keyed (explicit key and only_once) and unkeyed spawns with 4
# clients, next to workers that claim and complete, fail or abandon runs.
# While it runs, one backend executing spawn_task gets kill -9, so the
# postmaster resets every backend and runs crash recovery.  Once the server
# accepts connections again the queue must be consistent: every task has its
# runs, its last run matches it, no key has two holders, every index passes
# amcheck, and spawning and claiming work again.  Three rounds (the second
# one kills a worker in claim_task + complete_run/fail_run), plus one round
# that kills a backend holding an uncommitted keyed spawn: recovery must roll
# it back and free the key.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

DB=dt_t030_crash
dt_newdb "$DB"
q "$DB" "CREATE EXTENSION durable_tasks; CREATE EXTENSION amcheck;
         SELECT durable_tasks.create_queue('crash');
         SELECT durable_tasks.create_queue('quiet')" >/dev/null

# (a key space small enough to collide, large enough to keep inserting)
cat >"$T_SCRATCH/spawn.sql" <<'EOF'
\set k random(1, 300)
\set kind random(1, 3)
SELECT task_id, created FROM durable_tasks.spawn_task('crash', 'job', jsonb_build_object('k', :k),
        only_once => (:kind = 1),
        idempotency_key => CASE WHEN :kind = 2 THEN 'key-' || :k END,
        options => '{"max_attempts": 3, "retry_strategy": {"kind": "none"}}');
EOF
cat >"$T_SCRATCH/work.sql" <<'EOF'
\set act random(1, 10)
\if :act <= 6
SELECT durable_tasks.complete_run('crash', c.run_id, jsonb_build_object('by', c.task_id))
  FROM durable_tasks.claim_task('crash', 'worker', 30) c;
\elif :act <= 9
SELECT f.task_state FROM durable_tasks.claim_task('crash', 'worker', 30) c,
       durable_tasks.fail_run('crash', c.run_id, '{"error": "boom"}') f;
\else
SELECT run_id FROM durable_tasks.claim_task('crash', 'sleepy', 1);
\endif
EOF

# Consistency of queue `crash`; every line must read NAME:0.
CHECK_SQL="
WITH t AS (SELECT * FROM durable_tasks.t_crash),
     r AS (SELECT * FROM durable_tasks.r_crash),
     lr AS (SELECT t.task_id, t.state AS tstate, t.attempts, r.run_id, r.task_id AS rtask,
                   r.attempt, r.state AS rstate
              FROM t LEFT JOIN r ON r.run_id = t.last_run_id),
     agg AS (SELECT r.task_id, count(*) AS n, count(DISTINCT attempt) AS nd, max(attempt) AS maxa,
                    count(*) FILTER (WHERE state IN ('pending', 'running', 'sleeping')) AS live
               FROM r GROUP BY r.task_id),
     bt AS (SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'durable_tasks' AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))
SELECT 'task_without_run:' || count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.task_id = t.task_id)
UNION ALL
SELECT 'run_without_task:' || count(*) FROM r WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.task_id = r.task_id)
UNION ALL
SELECT 'last_run_missing_or_foreign:' || count(*) FROM lr WHERE run_id IS NULL OR rtask <> task_id
UNION ALL
SELECT 'last_run_attempt_mismatch:' || count(*) FROM lr WHERE attempt IS DISTINCT FROM attempts
UNION ALL
SELECT 'runs_not_numbered_1_to_attempts:' || count(*) FROM t JOIN agg USING (task_id)
 WHERE agg.n <> t.attempts OR agg.nd <> agg.n OR agg.maxa <> t.attempts
UNION ALL
SELECT 'several_live_runs:' || count(*) FROM agg WHERE live > 1
UNION ALL
SELECT 'live_run_not_last:' || count(*) FROM r JOIN t USING (task_id)
 WHERE r.state IN ('pending', 'running', 'sleeping') AND r.run_id <> t.last_run_id
UNION ALL
SELECT 'task_state_ne_last_run_state:' || count(*) FROM lr WHERE tstate IS DISTINCT FROM rstate
UNION ALL
SELECT 'running_without_lease:' || count(*) FROM r
 WHERE state = 'running' AND (claimed_by IS NULL OR claim_expires_at IS NULL OR started_at IS NULL)
UNION ALL
SELECT 'terminal_without_finished_at:' || count(*) FROM t
 WHERE state IN ('completed', 'failed', 'cancelled') AND finished_at IS NULL
UNION ALL
SELECT 'duplicate_held_key:' || count(*) FROM (SELECT idempotency_key FROM t
 WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL GROUP BY 1 HAVING count(*) > 1) d
UNION ALL
SELECT 'bad_key:' || count(*) FROM t
 WHERE CASE WHEN idempotency_key IS NULL THEN false
            WHEN idempotency_key LIKE 'key-%' THEN idempotency_key <> 'key-' || (params ->> 'k')
            WHEN idempotency_key LIKE 'after-%' OR idempotency_key = 'victim-key' THEN false
            ELSE idempotency_key <> durable_tasks.task_fingerprint(task_name, params) END
UNION ALL
SELECT 'released_key_on_live_task:' || count(*) FROM t
 WHERE key_released_at IS NOT NULL AND state NOT IN ('failed', 'cancelled', 'completed')
UNION ALL
SELECT 'btree_indexes_not_checked:' || ((SELECT count(*) FROM bt) - count(x.v)) FROM (
    SELECT bt_index_parent_check(bt.indexrelid, true, true)::text AS v FROM bt) x"
EXPECTED_CHECK="task_without_run:0
run_without_task:0
last_run_missing_or_foreign:0
last_run_attempt_mismatch:0
runs_not_numbered_1_to_attempts:0
several_live_runs:0
live_run_not_last:0
task_state_ne_last_run_state:0
running_without_lease:0
terminal_without_finished_at:0
duplicate_held_key:0
bad_key:0
released_key_on_live_task:0
btree_indexes_not_checked:0"

consistent() {   # consistent LABEL
    local got
    got=$(q_try "$DB" "$CHECK_SQL")
    is "$got" "$EXPECTED_CHECK" "$1: queue consistent (tasks, runs, keys; amcheck on every btree index)"
}

works_again() {  # works_again LABEL ROUND
    local got
    got=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<SQL | grep -v '^$'
CREATE TEMP TABLE s AS SELECT 1 AS n, * FROM durable_tasks.spawn_task('crash', 'after', '{"round": $2}', idempotency_key => 'after-$2');
INSERT INTO s SELECT 2, * FROM durable_tasks.spawn_task('crash', 'after', '{"round": $2}', idempotency_key => 'after-$2');
INSERT INTO s SELECT 3, * FROM durable_tasks.spawn_task('crash', 'after', '{"round": $2}', only_once => true);
INSERT INTO s SELECT 4, * FROM durable_tasks.spawn_task('crash', 'after', '{"round": $2}', only_once => true);
SELECT string_agg(created::text, ',' ORDER BY n) FROM s;
SELECT (SELECT task_id FROM s WHERE n = 1) = (SELECT task_id FROM s WHERE n = 2)
   AND (SELECT task_id FROM s WHERE n = 3) = (SELECT task_id FROM s WHERE n = 4);
SELECT count(*) > 0 FROM durable_tasks.claim_task('crash', 'after', 60, 1000) c,
       durable_tasks.complete_run('crash', c.run_id, '{}') x;
SQL
)
    is "$got" "true,false,true,false
t
t" "$1: spawning (keyed, only_once), claiming and completing work after recovery"
}

server_now() { q postgres "SELECT now()"; }
all_restarted_after() {   # every server process started after $1 (a crash reset happened)
    q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_start <= '$1'::timestamptz"
}

# ---------------------------------------------------------------------------
# rounds: pgbench in the background, kill -9 a backend inside spawn_task
# ---------------------------------------------------------------------------
run_round() {   # run_round N FUNCTION: kill a backend running durable_tasks.FUNCTION
    local n=$1 fn=$2
    local pid="" bpid t0 tries st log="$T_SCRATCH/pgbench-$n.log"
    pgbench -n -c 4 -j 2 -T 20 -f "$T_SCRATCH/spawn.sql@3" -f "$T_SCRATCH/work.sql@1" "$DB" \
        >"$log" 2>&1 &
    bpid=$!
    sleep 2
    for ((tries = 0; tries < 100; tries++)); do
        pid=$(q postgres "SELECT pid FROM pg_stat_activity
                          WHERE datname = '$DB' AND state = 'active' AND pid <> pg_backend_pid()
                            AND query LIKE '%durable_tasks.$fn(%' LIMIT 1")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    if [ -z "$pid" ]; then
        not_ok "round $n: found a backend running $fn"
        kill "$bpid" 2>/dev/null
        wait "$bpid"
        return
    fi
    t0=$(server_now)
    local before clients
    before=$(q "$DB" "SELECT count(*) FROM durable_tasks.t_crash")
    clients=$(q postgres "SELECT count(*) FROM pg_stat_activity
                          WHERE datname = '$DB' AND application_name = 'pgbench'")
    is "$clients" "4" "round $n: all 4 pgbench clients still connected before the kill (no error so far)"
    if kill -9 "$pid"; then
        ok "round $n: kill -9 backend $pid while it runs $fn ($before tasks so far)"
    else
        not_ok "round $n: kill -9 backend $pid while it runs $fn"
    fi
    # pgbench loses all its connections in the reset and stops
    for ((tries = 0; tries < 150; tries++)); do
        kill -0 "$bpid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$bpid" 2>/dev/null; then
        diag "pgbench still running 30 s after the kill; stopping it"
        kill "$bpid" 2>/dev/null
    fi
    st=0
    wait "$bpid" || st=$?
    diag "pgbench exit status $st: $(grep -E 'abort|terminat|closed|transactions' "$log" | head -3 | tr '\n' ' ')"
    if grep -E 'ERROR|FATAL' "$log" | grep -v 'crash of another server process' | grep -q .; then
        not_ok "round $n: pgbench saw no SQL error other than the crash"
        diag "$(grep -E 'ERROR|FATAL' "$log" | head -5)"
    else
        ok "round $n: pgbench saw no SQL error other than the crash"
    fi
    if dt_wait_ready 60; then
        ok "round $n: server accepts connections after crash recovery"
    else
        not_ok "round $n: server accepts connections after crash recovery"
        dt_finish
    fi
    is "$(all_restarted_after "$t0")" "0" "round $n: every server process was restarted (crash reset happened)"
    consistent "round $n"
    works_again "round $n" "$n"
}

consistent "before any crash"
run_round 1 spawn_task
run_round 2 claim_task      # a worker: claim + complete/fail in one statement
run_round 3 spawn_task

# ---------------------------------------------------------------------------
# the victim holds an uncommitted keyed spawn (and a second spawner waits on
# the same key) when it is killed: after recovery the key is free
# ---------------------------------------------------------------------------
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 >"$T_SCRATCH/victim.log" 2>&1 <<'SQL' &
SET application_name = 'dt_victim';
BEGIN;
SELECT * FROM durable_tasks.spawn_task('crash', 'victim', '{}', idempotency_key => 'victim-key');
SELECT * FROM durable_tasks.spawn_task('quiet', 'victim', '{}', only_once => true);
SELECT pg_sleep(60);
COMMIT;
SQL
vpid_shell=$!
for ((tries = 0; tries < 100; tries++)); do
    vpid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'dt_victim'
                       AND query LIKE '%pg_sleep%' AND state = 'active'")
    [ -n "$vpid" ] && break
    sleep 0.1
done
# a second spawner of the same key blocks behind the victim's insert
PGAPPNAME=dt_waiter psql -X -q -d "$DB" \
    -c "SELECT * FROM durable_tasks.spawn_task('crash', 'victim', '{}', idempotency_key => 'victim-key')" \
    >"$T_SCRATCH/waiter.log" 2>&1 &
wpid_shell=$!
for ((tries = 0; tries < 100; tries++)); do
    waiting=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dt_waiter'
                          AND wait_event_type = 'Lock'")
    [ "$waiting" = 1 ] && break
    sleep 0.1
done
is "${waiting:-0}" "1" "victim round: a second spawner of the key waits for the victim"
if [ -n "${vpid:-}" ]; then
    t0=$(server_now)
    check "victim round: kill -9 the backend holding an uncommitted keyed spawn" kill -9 "$vpid"
else
    not_ok "victim round: found the victim backend"
fi
wait "$vpid_shell" "$wpid_shell" 2>/dev/null
dt_wait_ready 60 || { not_ok "victim round: server back after recovery"; dt_finish; }
ok "victim round: server back after recovery"
[ -n "${t0:-}" ] && is "$(all_restarted_after "$t0")" "0" "victim round: crash reset happened"
is "$(q "$DB" "SELECT count(*) FROM durable_tasks.t_crash WHERE idempotency_key = 'victim-key'
               UNION ALL SELECT count(*) FROM durable_tasks.t_quiet")" "0
0" "victim round: the uncommitted spawns were rolled back"
is "$(q "$DB" "SELECT created FROM durable_tasks.spawn_task('crash', 'victim', '{}', idempotency_key => 'victim-key')
               UNION ALL
               SELECT created FROM durable_tasks.spawn_task('crash', 'victim', '{}', idempotency_key => 'victim-key')")" \
    "t
f" "victim round: the key is free again, then held by the new task"
is "$(q "$DB" "SELECT created FROM durable_tasks.spawn_task('quiet', 'victim', '{}', only_once => true)")" \
    "t" "victim round: only_once key in the other queue is free again"
consistent "victim round"
ntasks=$(q "$DB" "SELECT count(*) FROM durable_tasks.t_crash")
check "the crash rounds spawned tasks ($ntasks)" test "${ntasks:-0}" -gt 100
diag "tasks in queue crash: $(q "$DB" "SELECT state || '=' || count(*) FROM durable_tasks.t_crash GROUP BY state ORDER BY 1" | tr '\n' ' ')"

dt_finish
