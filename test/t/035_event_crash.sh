#!/usr/bin/env bash
# 035_event_crash.sh - backends killed (SIGKILL) in the middle of
# emit_event and await_event (SPEC 5.3, 6).
#
# Round 1, during an emit: runs wait for events (committed); a holder
# session has an await of "ev_a" open (the event's row FOR SHARE); an emit
# of "ev_a" is blocked behind it, and another session has emitted "ev_a1"
# (which woke its waiters) in a transaction left open.  The blocked
# emitter gets kill -9, so the postmaster resets every backend.
# Round 2, during an await: one session sleeps in pg_sleep right after its
# await_event (suspended, uncommitted), another await is blocked behind an
# open emit, and "ev_b" was emitted (committed) before the crash, waking
# its waiters.  The sleeping awaiter gets kill -9.
# After each recovery: nothing uncommitted survives (no emitted event, no
# wait, no sleeping run of the killed transactions; the runs they held are
# running with their leases); every run that waited for an event not
# emitted before the crash still waits (not due) and is woken exactly once
# by the emit that follows (handed out once, its await says emitted, a
# second emit says false and wakes nothing); every run woken by an emit
# committed before the crash is handed out once and sees the event; no
# half-written rows (an event with a payload but not emitted, a sleeping
# run without its wait, a task whose state is not its last run's), every
# btree index passes amcheck.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

DB=dt_t035_event_crash
dt_newdb "$DB"
q "$DB" "CREATE EXTENSION durable_tasks; CREATE EXTENSION amcheck;
         SELECT durable_tasks.create_queue('evc')" >/dev/null

# Consistency of queue evc; every line must read NAME:0.
CHECK_SQL="
WITH t AS (SELECT * FROM durable_tasks.t_evc),
     r AS (SELECT * FROM durable_tasks.r_evc),
     bt AS (SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'durable_tasks' AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))
SELECT 'task_state_ne_last_run_state:' || count(*) FROM t JOIN r ON r.run_id = t.last_run_id
 WHERE t.state IS DISTINCT FROM r.state
UNION ALL
SELECT 'running_without_lease:' || count(*) FROM r
 WHERE state = 'running' AND (claimed_by IS NULL OR claim_expires_at IS NULL)
UNION ALL
SELECT 'sleeping_with_lease:' || count(*) FROM r WHERE state = 'sleeping' AND claimed_by IS NOT NULL
UNION ALL
SELECT 'sleeping_forever_without_wait:' || count(*) FROM r
 WHERE state = 'sleeping' AND available_at = 'infinity'
   AND NOT EXISTS (SELECT 1 FROM durable_tasks.w_evc w WHERE w.run_id = r.run_id)
UNION ALL
SELECT 'payload_but_not_emitted:' || count(*) FROM durable_tasks.e_evc WHERE emitted_at IS NULL AND payload IS NOT NULL
UNION ALL
SELECT 'wait_without_event_row:' || count(*) FROM durable_tasks.w_evc w
 WHERE NOT EXISTS (SELECT 1 FROM durable_tasks.e_evc e WHERE e.event_name = w.event_name)
UNION ALL
SELECT 'lost_wakeup:' || count(*) FROM durable_tasks.w_evc w JOIN r USING (run_id)
  JOIN durable_tasks.e_evc e USING (event_name)
 WHERE e.emitted_at IS NOT NULL AND r.state = 'sleeping' AND r.available_at = w.sleep_until
   AND w.sleep_until > e.emitted_at
UNION ALL
SELECT 'btree_indexes_not_checked:' || ((SELECT count(*) FROM bt) - count(x.v)) FROM (
    SELECT bt_index_parent_check(bt.indexrelid, true, true)::text AS v FROM bt) x"
EXPECTED_CHECK="task_state_ne_last_run_state:0
running_without_lease:0
sleeping_with_lease:0
sleeping_forever_without_wait:0
payload_but_not_emitted:0
wait_without_event_row:0
lost_wakeup:0
btree_indexes_not_checked:0"

consistent() {   # consistent LABEL
    is "$(q_try "$DB" "$CHECK_SQL")" "$EXPECTED_CHECK" \
        "$1: queue consistent (runs, waits, events; amcheck on every btree index)"
}

server_now() { q postgres "SELECT now()"; }
all_restarted_after() {   # every server process started after $1 (a crash reset happened)
    q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_start <= '$1'::timestamptz"
}

# spawn_claimed TAG N: spawn N tasks named TAG, claim them (300 s lease);
# their run ids are kept in table ids (tag, run_id)
q "$DB" "CREATE TABLE ids (tag text, run_id uuid)"
spawn_claimed() {
    q "$DB" "SELECT count(*) FROM generate_series(1, $2) g,
                    durable_tasks.spawn_task('evc', '$1', jsonb_build_object('i', g)) s;
             INSERT INTO ids SELECT '$1', c.run_id FROM durable_tasks.claim_task('evc', '$1-worker', 300, 1000) c;
             SELECT count(*) FROM ids WHERE tag = '$1'" >/dev/null
}
run_of() { q "$DB" "SELECT run_id FROM ids WHERE tag = '$1' LIMIT 1"; }
# await_all TAG EVENT: each run of TAG awaits EVENT (committed); prints the statuses
await_all() {
    q "$DB" "SELECT a.status, count(*) FROM ids, durable_tasks.await_event('evc', ids.run_id, '$2') a
              WHERE ids.tag = '$1' GROUP BY 1"
}
# state TAG: run states of TAG, with the number of due sleepers and of leases
state() {
    q "$DB" "SELECT r.state || ' due=' || count(*) FILTER (WHERE r.state = 'sleeping' AND r.available_at <= clock_timestamp())
                    || ' leased=' || count(*) FILTER (WHERE r.claim_expires_at > clock_timestamp()) || ' n=' || count(*)
               FROM ids JOIN durable_tasks.r_evc r USING (run_id) WHERE ids.tag = '$1' GROUP BY r.state ORDER BY 1"
}
event() {   # event NAME: absent | awaited | emitted PAYLOAD
    q "$DB" "SELECT coalesce((SELECT CASE WHEN emitted_at IS NULL THEN 'awaited' ELSE 'emitted ' || coalesce(payload::text, 'NULL') END
                                FROM durable_tasks.e_evc WHERE event_name = '$1'), 'absent')"
}
waits() { q "$DB" "SELECT count(*) FROM durable_tasks.w_evc w JOIN ids USING (run_id) WHERE ids.tag = '$1'"; }
# claim_check TAG: claim everything due; prints "claimed N, of TAG M"
claim_check() {
    q "$DB" "WITH c AS (SELECT * FROM durable_tasks.claim_task('evc', 'after', 300, 1000))
             SELECT 'claimed ' || count(*) || ', of $1 ' || count(*) FILTER (WHERE c.run_id IN (SELECT run_id FROM ids WHERE tag = '$1'))
                    || ', attempt 1: ' || coalesce(bool_and(c.attempt = 1), true) FROM c"
}

# bg NAME SQL: a psql session (application_name NAME) running SQL in the background
declare -A BG=()
bg() {
    PGAPPNAME=$1 psql -X -q -d "$DB" -v ON_ERROR_STOP=1 >"$T_SCRATCH/$1.log" 2>&1 <<<"$2" &
    BG[$1]=$!
}
# pid_of NAME CONDITION: the backend of session NAME once CONDITION holds (5 s at most)
pid_of() {
    local pid="" tries
    for ((tries = 0; tries < 100; tries++)); do
        pid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND application_name = '$1' AND $2")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    printf '%s' "$pid"
}
SLEEPING="state = 'active' AND query LIKE '%pg_sleep%'"
BLOCKED="state = 'active' AND wait_event_type = 'Lock'"

crash() {   # crash LABEL PID: kill -9 PID, wait for the reset and the recovery
    local label=$1 pid=$2 t0 name
    if [ -z "$pid" ]; then
        not_ok "$label: found the backend to kill"
        return
    fi
    t0=$(server_now)
    check "$label: kill -9 backend $pid" kill -9 "$pid"
    for name in "${!BG[@]}"; do wait "${BG[$name]}" 2>/dev/null; done
    BG=()
    if dt_wait_ready 60; then
        ok "$label: server accepts connections after crash recovery"
    else
        not_ok "$label: server accepts connections after crash recovery"
        dt_finish
    fi
    is "$(all_restarted_after "$t0")" "0" "$label: every server process was restarted (crash reset happened)"
}

consistent "before any crash"

# ---------------------------------------------------------------------------
# round 1: kill -9 an emit (blocked inside emit_event)
# ---------------------------------------------------------------------------
spawn_claimed a 5       # wait for ev_a (committed)
spawn_claimed a1 3      # wait for ev_a1 (committed); ev_a1 emitted, uncommitted
spawn_claimed h 1       # held by the holder: its await of ev_a is open
is "$(await_all a ev_a)" "suspended|5" "round 1: five runs wait for ev_a"
is "$(await_all a1 ev_a1)" "suspended|3" "round 1: three runs wait for ev_a1"
bg r1_holder "BEGIN;
SELECT * FROM durable_tasks.await_event('evc', '$(run_of h)', 'ev_a');
SELECT pg_sleep(60);
COMMIT;"
hpid=$(pid_of r1_holder "$SLEEPING")
bg r1_emit1 "BEGIN;
SELECT durable_tasks.emit_event('evc', 'ev_a1', '{\"by\": \"killed\"}');
SELECT pg_sleep(60);
COMMIT;"
e1pid=$(pid_of r1_emit1 "$SLEEPING")
bg r1_victim "SELECT durable_tasks.emit_event('evc', 'ev_a', '{\"by\": \"killed\"}');"
vpid=$(pid_of r1_victim "$BLOCKED")
check "round 1: holder and open emitter found ($hpid, $e1pid)" test -n "$hpid" -a -n "$e1pid"
check "round 1: the emit of ev_a is blocked behind the holder's await" test -n "$vpid"
crash "round 1" "$vpid"
consistent "round 1"
is "$(event ev_a)" "awaited" "round 1: ev_a not emitted (the killed emit left nothing)"
is "$(event ev_a1)" "awaited" "round 1: ev_a1 not emitted (its open emit was rolled back)"
is "$(state a)" "sleeping due=0 leased=0 n=5" "round 1: the ev_a waiters still sleep, not due"
is "$(state a1)" "sleeping due=0 leased=0 n=3" "round 1: the ev_a1 waiters still sleep, not due (the wake was rolled back)"
is "$(state h)" "running due=0 leased=1 n=1" "round 1: the holder's run is running, its lease kept (its await rolled back)"
is "$(waits h)" "0" "round 1: no wait row of the rolled-back await"
is "$(claim_check a)" "claimed 0, of a 0, attempt 1: true" "round 1: nothing claimable before the emits"
is "$(q "$DB" "SELECT durable_tasks.emit_event('evc', 'ev_a', '{\"by\": \"after\"}')")" "t" \
    "round 1: the emit of ev_a after recovery emits (true)"
is "$(claim_check a)" "claimed 5, of a 5, attempt 1: true" "round 1: the five ev_a waiters are handed out at once, same attempt"
is "$(await_all a ev_a)" "emitted|5" "round 1: each ev_a waiter's await says emitted"
is "$(q "$DB" "SELECT DISTINCT a.payload FROM ids, durable_tasks.await_event('evc', ids.run_id, 'ev_a') a WHERE ids.tag = 'a'")" \
    '{"by": "after"}' "round 1: with the payload of the emit after recovery"
is "$(q "$DB" "SELECT durable_tasks.emit_event('evc', 'ev_a', '{\"by\": \"again\"}')")" "f" "round 1: a second emit of ev_a says false"
is "$(claim_check a)" "claimed 0, of a 0, attempt 1: true" "round 1: and hands nothing out (woken exactly once)"
is "$(q "$DB" "SELECT durable_tasks.emit_event('evc', 'ev_a1', '{\"by\": \"after\"}')")" "t" "round 1: ev_a1 emitted after recovery"
is "$(claim_check a1)" "claimed 3, of a1 3, attempt 1: true" "round 1: the three ev_a1 waiters are handed out once"
is "$(await_all a1 ev_a1)" "emitted|3" "round 1: each ev_a1 waiter's await says emitted"
is "$(claim_check a1)" "claimed 0, of a1 0, attempt 1: true" "round 1: nothing more to claim"
is "$(await_all h ev_a)" "emitted|1" "round 1: the holder's run, still held, sees ev_a emitted"
consistent "round 1, after the emits"

# ---------------------------------------------------------------------------
# round 2: kill -9 an await (sleeping in its open transaction right after
# await_event); another await is blocked behind an open emit
# ---------------------------------------------------------------------------
spawn_claimed b 4       # wait for ev_b, emitted (committed) before the crash
spawn_claimed v 1       # the victim's run: its await of ev_c is open when killed
spawn_claimed x 1       # its await of ev_d is blocked behind an open emit of ev_d
is "$(await_all b ev_b)" "suspended|4" "round 2: four runs wait for ev_b"
is "$(q "$DB" "SELECT durable_tasks.emit_event('evc', 'ev_b', '{\"by\": \"before\"}')")" "t" "round 2: ev_b emitted (committed) before the crash"
is "$(state b)" "sleeping due=4 leased=0 n=4" "round 2: its four waiters woken (due), not claimed yet"
bg r2_victim "BEGIN;
SELECT * FROM durable_tasks.await_event('evc', '$(run_of v)', 'ev_c');
SELECT pg_sleep(60);
COMMIT;"
vpid=$(pid_of r2_victim "$SLEEPING")
bg r2_emit "BEGIN;
SELECT durable_tasks.emit_event('evc', 'ev_d', '{\"by\": \"killed\"}');
SELECT pg_sleep(60);
COMMIT;"
epid=$(pid_of r2_emit "$SLEEPING")
bg r2_blocked "SELECT * FROM durable_tasks.await_event('evc', '$(run_of x)', 'ev_d');"
bpid=$(pid_of r2_blocked "$BLOCKED")
check "round 2: open emitter of ev_d found ($epid)" test -n "$epid"
check "round 2: the await of ev_d is blocked behind it ($bpid)" test -n "$bpid"
check "round 2: the victim sleeps after its await of ev_c ($vpid)" test -n "$vpid"
crash "round 2" "$vpid"
consistent "round 2"
is "$(state v)" "running due=0 leased=1 n=1" "round 2: the victim's run is running, its lease kept (its await rolled back)"
is "$(state x)" "running due=0 leased=1 n=1" "round 2: the blocked await's run is running, its lease kept"
is "$(waits v)$(waits x)" "00" "round 2: no wait rows of the killed awaits"
is "$(event ev_c)" "absent" "round 2: ev_c: no row left by the killed await"
is "$(event ev_d)" "absent" "round 2: ev_d: the open emit was rolled back, no row"
is "$(event ev_b)" 'emitted {"by": "before"}' "round 2: ev_b, committed before the crash, is still emitted"
is "$(state b)" "sleeping due=4 leased=0 n=4" "round 2: the ev_b waiters are still due after recovery"
is "$(claim_check b)" "claimed 4, of b 4, attempt 1: true" "round 2: the four ev_b waiters are handed out once, same attempt"
is "$(await_all b ev_b)" "emitted|4" "round 2: each ev_b waiter's await says emitted"
is "$(claim_check b)" "claimed 0, of b 0, attempt 1: true" "round 2: nothing more to claim"
# the killed awaits' runs work again: they wait, and an emit wakes them once
is "$(await_all v ev_c)$(await_all x ev_d)" "suspended|1suspended|1" "round 2: the victims' runs await again and suspend"
is "$(q "$DB" "SELECT durable_tasks.emit_event('evc', 'ev_c'), durable_tasks.emit_event('evc', 'ev_d', '{\"by\": \"after\"}')")" "t|t" \
    "round 2: ev_c and ev_d emitted after recovery"
is "$(q "$DB" "WITH c AS (SELECT * FROM durable_tasks.claim_task('evc', 'after', 300, 1000))
               SELECT count(*) || ' ' || bool_and(c.run_id IN (SELECT run_id FROM ids WHERE tag IN ('v', 'x'))) FROM c")" \
    "2 true" "round 2: both handed out at once"
is "$(await_all v ev_c)$(await_all x ev_d)" "emitted|1emitted|1" "round 2: and their awaits say emitted"
is "$(q "$DB" "SELECT count(*) FROM durable_tasks.claim_task('evc', 'after', 300, 1000)")" "0" "round 2: nothing more to claim"
consistent "round 2, after the emits"
# everything completes
is "$(q "$DB" "SELECT count(*) FROM ids, durable_tasks.complete_run('evc', ids.run_id)")" \
    "$(q "$DB" "SELECT count(*) FROM ids")" "every run completes after the crashes"
consistent "the end"

dt_finish
