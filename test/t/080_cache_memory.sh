#!/usr/bin/env bash
# 080_cache_memory.sh - per-backend caches stay bounded (contract item 5).
#
# One psql process (one backend, checked by pg_backend_pid) fed one script:
# it warms up create_queue/drop_queue on a queue it never uses, then uses a
# live queue with every hot function and takes the baseline: kept plans
# (CachedPlanSource contexts whose ident names durable_tasks) and the
# backend's total memory (sum of pg_backend_memory_contexts.total_bytes).
# Then, in autocommit statements (each its own transaction), it creates,
# uses (keyed spawn and its hit, only_once spawn, unkeyed spawn, claim_task,
# extend_claim, complete_run, fail_run, get_task, cancel_task) and drops 200
# queues, and measures again: the kept-plan count must be back to (at most)
# the baseline and total memory must have grown by less than 64 KB per
# queue (before the fix: ~425 KB and 10 kept plans per queue).  The figures are printed as "# ..." lines.
#
# Not counted as ours: the plan PostgreSQL's own foreign-key code
# (ri_triggers.c) keeps per constraint ("SELECT 1 FROM ONLY ... FOR KEY
# SHARE", for the run table's foreign key): core frees it only when the
# same constraint is used again, so it stays for a dropped queue (~10 KB).
# PostgreSQL also keeps some catalog-cache memory for every table created
# and dropped in a backend (~4 KB per pair of tables with plain CREATE and
# DROP TABLE).  Together about 20-27 KB per dropped queue, which the memory
# bound allows for (see the README).
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

D=dt_t080_cache
N=200
LIMIT=$((N * 64 * 1024))
dt_newdb "$D"
q "$D" "CREATE EXTENSION durable_tasks" >/dev/null

use_queue() {   # the statements that use queue $1 (autocommit, one transaction each)
    cat <<SQL
SELECT run_id AS r1 FROM durable_tasks.spawn_task('$1', 'keyed', '{"n": 1}', idempotency_key => 'k1') \\gset
SELECT created AS hit FROM durable_tasks.spawn_task('$1', 'keyed', '{"n": 1}', idempotency_key => 'k1') \\gset
SELECT task_id AS t2 FROM durable_tasks.spawn_task('$1', 'once', '{"n": 2}', only_once => true) \\gset
SELECT task_id AS t3 FROM durable_tasks.spawn_task('$1', 'free', '{"n": 3}') \\gset
SELECT run_id AS c1 FROM durable_tasks.claim_task('$1', 'w1', 60) \\gset
SELECT durable_tasks.extend_claim('$1', :'c1', 120) AS x \\gset
SELECT durable_tasks.complete_run('$1', :'c1', '{"ok": true}');
SELECT run_id AS c2 FROM durable_tasks.claim_task('$1', 'w1', 60) \\gset
SELECT task_state AS fs FROM durable_tasks.fail_run('$1', :'c2', '{"error": "x"}') \\gset
SELECT state AS gs FROM durable_tasks.get_task('$1', :'t2') \\gset
SELECT durable_tasks.cancel_task('$1', :'t3');
SQL
}

MEASURE="SELECT (SELECT count(*) FROM pg_backend_memory_contexts
                  WHERE name = 'CachedPlanSource' AND ident LIKE '%durable_tasks%'
                    AND ident NOT LIKE 'SELECT 1 FROM ONLY %FOR KEY SHARE OF x')
               || ' ' || (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)
               || ' ' || pg_backend_pid()"

SCRIPT="$T_SCRATCH/script.sql"
{
    echo "\\o /dev/null"
    # warm up the PL/pgSQL queue functions without using the queue
    echo "SELECT durable_tasks.create_queue('warm');"
    echo "SELECT durable_tasks.drop_queue('warm');"
    echo "SELECT durable_tasks.create_queue('live');"
    use_queue live
    echo "\\o"
    echo "$MEASURE;"
    echo "\\o /dev/null"
    for ((i = 1; i <= N; i++)); do
        echo "SELECT durable_tasks.create_queue('cq$i');"
        use_queue "cq$i"
        echo "SELECT durable_tasks.drop_queue('cq$i');"
    done
    echo "\\o"
    # the last queue really went through the whole cycle
    echo "SELECT :'hit' || ' ' || :'fs' || ' ' || :'gs';"
    echo "$MEASURE;"
    echo "SELECT string_agg(queue_name, ',') FROM durable_tasks.list_queues();"
} >"$SCRIPT"

start=$(date +%s)
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$D" -f "$SCRIPT" 2>"$T_SCRATCH/err")
st=$?
secs=$(($(date +%s) - start))
if [ "$st" -eq 0 ] && [ ! -s "$T_SCRATCH/err" ]; then
    ok "one session created, used and dropped $N queues without an error (${secs} s)"
else
    not_ok "one session created, used and dropped $N queues without an error (status $st)"
    diag "$(head -n 20 "$T_SCRATCH/err")"
fi

read -r P1 M1 PID1 <<<"$(sed -n 1p <<<"$out")"
cycle=$(sed -n 2p <<<"$out")
read -r P2 M2 PID2 <<<"$(sed -n 3p <<<"$out")"
left=$(sed -n 4p <<<"$out")

is "$cycle" "f pending pending" "the last queue went through the whole cycle (hit, fail_run retried, get_task)"
is "$left" "live" "only the live queue is left"
if [[ -n ${PID1:-} && ${PID1:-} = "${PID2:-}" ]]; then
    ok "both measurements come from one backend (pid $PID1)"
else
    not_ok "both measurements come from one backend (pids '${PID1:-}' '${PID2:-}')"
fi

if [[ ${P1:-} =~ ^[0-9]+$ && ${P2:-} =~ ^[0-9]+$ && ${M1:-} =~ ^[0-9]+$ && ${M2:-} =~ ^[0-9]+$ ]]; then
    diag "kept durable_tasks plans: $P1 after one live queue, $P2 after $N queues dropped" \
        "($(((P2 - P1) / N)) per dropped queue)"
    diag "backend memory: $M1 bytes after one live queue, $M2 after $N queues dropped" \
        "(+$((M2 - M1)) bytes, $(((M2 - M1) / N)) per dropped queue)"
    if [ "$P2" -le "$P1" ]; then
        ok "kept plans back to the one-queue figure ($P2 <= $P1)"
    else
        not_ok "kept plans back to the one-queue figure ($P2 <= $P1)"
    fi
    if [ $((M2 - M1)) -lt "$LIMIT" ]; then
        ok "backend memory grew by less than 64 KB per queue (+$((M2 - M1)) bytes)"
    else
        not_ok "backend memory grew by less than 64 KB per queue (+$((M2 - M1)) bytes)"
    fi
    if [ "$P1" -gt 0 ]; then
        ok "the baseline counts the live queue's kept plans ($P1 > 0)"
    else
        not_ok "the baseline counts the live queue's kept plans ($P1 > 0)"
    fi
else
    not_ok "measurements read: '$P1 $M1' and '$P2 $M2'"
fi

dt_finish
