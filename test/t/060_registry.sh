#!/usr/bin/env bash
# 060_registry.sh - the registry (durable_tasks.queues) and a queue's tables
# out of step, and the way back (contract item 6).
#
# (a) pg_dump -t of one queue's two tables (keyed, only_once and unkeyed
#     tasks, one completed), restored into a fresh database that has the
#     extension: every function (spawn keyed, only_once and unkeyed, claim,
#     get_task, complete, fail, extend, cancel, alter_queue) fails 42704
#     'queue "q" is not registered' with the exact detail and hint, and
#     writes nothing; create_queue registers the tables (NOTICE), keeps
#     their rows, and keyed spawns of the old keys hit (created = f, the old
#     task, also the completed one).
# (b) DROP EXTENSION durable_tasks (no CASCADE: it leaves the schema and the
#     queue tables, as the README says) + CREATE EXTENSION: the same as (a);
#     create_queue with options registers with those options.
# (c) DROP TABLE of a registered queue's tables by hand: 42704 'queue "q" has
#     no tables' (detail names the missing table, also when only r_q is
#     gone, and also in a session that had used the queue before the drop);
#     create_queue recreates them (NOTICE) and spawns work.
# (d) drop_queue succeeds in each of these states (tables without a row,
#     row without tables, row with one table) and afterwards create_queue
#     gives a clean queue (no NOTICE, no rows, old keys create new tasks).
# Every error is checked as SQLSTATE + message + detail + hint, caught in
# PL/pgSQL (GET STACKED DIAGNOSTICS), so psql's formatting does not matter.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

S=dt_t060_src
R1=dt_t060_restore_reg
R2=dt_t060_restore_drop
E=dt_t060_reext
C=dt_t060_droptable
for db in "$S" "$R1" "$R2" "$E" "$C"; do dt_newdb "$db"; done

# t_err(sql): 'no error', or 'SQLSTATE message' / 'DETAIL: ...' / 'HINT: ...'
ERRFN=$(cat <<'SQL'
CREATE FUNCTION public.t_err(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; m text; d text; h text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
                            d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN st || ' ' || m || E'\nDETAIL: ' || d || E'\nHINT: ' || h;
END $f$;
SQL
)
for db in "$S" "$R1" "$R2" "$E" "$C"; do q "$db" "$ERRFN" >/dev/null; done

err() {   # err DB SQL: the error SQL raises (see t_err); NOTICEs are left out
    psql -X -A -t -q -v ON_ERROR_STOP=1 -v s="$2" -d "$1" <<<"SELECT public.t_err(:'s')" 2>&1 |
        grep -v '^NOTICE: '
}

not_registered() {   # the expected error text for queue $1
    printf '%s\n%s\n%s' "42704 queue \"$1\" is not registered" \
        "DETAIL: Its tables durable_tasks.t_$1 and durable_tasks.r_$1 exist, but durable_tasks.queues has no row for it." \
        "HINT: Run durable_tasks.create_queue('$1') to register the existing tables, or durable_tasks.drop_queue('$1') to drop them."
}

no_tables() {   # the expected error text for queue $1, missing table $2
    printf '%s\n%s\n%s' "42704 queue \"$1\" has no tables" \
        "DETAIL: durable_tasks.queues has a row for it, but table durable_tasks.$2 is missing." \
        "HINT: Run durable_tasks.create_queue('$1') to recreate its tables, or durable_tasks.drop_queue('$1') to remove it."
}

is_one_of() {   # is_one_of GOT DESC EXPECTED...
    local got=$1 desc=$2 e
    shift 2
    for e in "$@"; do
        if [ "$got" = "$e" ]; then ok "$desc"; return; fi
    done
    not_ok "$desc"
    diag "     got: '$got'"
    diag "expected: '$1'"
}

# The calls every function check runs: Q, a task id, a run id.
calls() {
    local qn=$1 tid=$2 rid=$3
    printf '%s\n' \
        "keyed spawn|SELECT * FROM durable_tasks.spawn_task('$qn', 'send', '{\"n\": 2}', idempotency_key => 'k2')" \
        "only_once spawn|SELECT * FROM durable_tasks.spawn_task('$qn', 'mail', '{\"to\": 1}', only_once => true)" \
        "unkeyed spawn|SELECT * FROM durable_tasks.spawn_task('$qn', 'free', '{}')" \
        "claim_task|SELECT * FROM durable_tasks.claim_task('$qn', 'w9')" \
        "get_task|SELECT * FROM durable_tasks.get_task('$qn', '$tid')" \
        "complete_run|SELECT durable_tasks.complete_run('$qn', '$rid')" \
        "fail_run|SELECT * FROM durable_tasks.fail_run('$qn', '$rid')" \
        "extend_claim|SELECT durable_tasks.extend_claim('$qn', '$rid', 30)" \
        "cancel_task|SELECT durable_tasks.cancel_task('$qn', '$tid')" \
        "alter_queue|SELECT durable_tasks.alter_queue('$qn', '{\"key_reuse\": \"never\"}')"
}

check_calls() {   # check_calls DB LABEL EXPECTED_FN Q TID RID [SECOND_TABLE]
    local db=$1 label=$2 fn=$3 qn=$4 tid=$5 rid=$6 name sql got
    while IFS='|' read -r name sql; do
        got=$(err "$db" "$sql")
        if [ "$fn" = no_tables ]; then
            is_one_of "$got" "$label: $name fails 42704 'has no tables' (detail, hint)" \
                "$(no_tables "$qn" "t_$qn")" "$(no_tables "$qn" "r_$qn")"
        else
            is "$got" "$($fn "$qn")" "$label: $name fails 42704 'is not registered' (detail, hint)"
        fi
    done < <(calls "$qn" "$tid" "$rid")
}

rows() {   # rows DB Q: "tasks/runs" row counts of the queue's tables
    q "$1" "SELECT (SELECT count(*) FROM durable_tasks.t_$2) || '/' || (SELECT count(*) FROM durable_tasks.r_$2)"
}

tables_of() {   # which of t_Q / r_Q exist
    q "$1" "SELECT coalesce(to_regclass('durable_tasks.t_$2')::text, '-') || ' '
                || coalesce(to_regclass('durable_tasks.r_$2')::text, '-')"
}

# Fill queue Q of DB: k1 completed, k2 pending, an only_once task, an unkeyed
# task.  Prints "k1_task k1_run k2_task k2_run".
fill_queue() {
    local db=$1 qn=$2
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<SQL | grep -v '^$' | tr '\n' ' ' | sed 's/ $//'
CREATE TEMP TABLE ids AS
SELECT 'k1' AS l, s.task_id, s.run_id
  FROM durable_tasks.spawn_task('$qn', 'send', '{"n": 1}', idempotency_key => 'k1') s;
SELECT count(*) FROM durable_tasks.claim_task('$qn', 'w1', 300) c WHERE c.run_id = (SELECT run_id FROM ids) \gset
SELECT durable_tasks.complete_run('$qn', (SELECT run_id FROM ids), '{"sent": true}') \gset
INSERT INTO ids SELECT 'k2', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('$qn', 'send', '{"n": 2}', idempotency_key => 'k2') s;
SELECT 1 AS x FROM durable_tasks.spawn_task('$qn', 'mail', '{"to": 1}', only_once => true) \gset
SELECT 1 AS x FROM durable_tasks.spawn_task('$qn', 'free', '{}') \gset
SELECT task_id || ' ' || run_id FROM ids ORDER BY l;
SQL
}

# After registration: old keys hit, old tasks readable, nothing lost.
check_registered() {   # DB LABEL Q K1_TASK K2_TASK
    local db=$1 label=$2 qn=$3 k1=$4 k2=$5
    is "$(q "$db" "
SELECT s.created || ':' || s.state || ':' || (s.task_id = '$k1')
  FROM durable_tasks.spawn_task('$qn', 'send', '{\"n\": 1}', idempotency_key => 'k1') s")" \
        "false:completed:true" "$label: keyed spawn of the old completed key k1 hits (created = f, the old task)"
    is "$(q "$db" "
SELECT s.created || ':' || s.state || ':' || (s.task_id = '$k2')
  FROM durable_tasks.spawn_task('$qn', 'send', '{\"n\": 2}', idempotency_key => 'k2') s")" \
        "false:pending:true" "$label: keyed spawn of the old pending key k2 hits"
    is "$(q "$db" "SELECT s.created FROM durable_tasks.spawn_task('$qn', 'mail', '{\"to\": 1}', only_once => true) s")" \
        "f" "$label: only_once spawn of the old task hits"
    is "$(q "$db" "SELECT g.state || ':' || g.idempotency_key || ':' || g.result::text
                   FROM durable_tasks.get_task('$qn', '$k1') g")" \
        'completed:k1:{"sent": true}' "$label: get_task reads the old completed task"
    is "$(rows "$db" "$qn")" "4/4" "$label: the old rows are kept, the hits wrote nothing"
    is "$(q "$db" "SELECT count(*) FROM durable_tasks.claim_task('$qn', 'w2', 60, 10)")" \
        "3" "$label: claim_task gets the three old pending tasks"
    is "$(q "$db" "SELECT s.created FROM durable_tasks.spawn_task('$qn', 'free', '{}') s")" \
        "t" "$label: unkeyed spawn works"
}

# After drop_queue + create_queue: a clean queue.
check_clean() {   # DB LABEL Q
    local db=$1 label=$2 qn=$3 out
    out=$(q_try "$db" "SELECT durable_tasks.create_queue('$qn')")
    if grep -qE 'ERROR|NOTICE' <<<"$out"; then
        not_ok "$label: create_queue after drop_queue: no error, no NOTICE"
        diag "$out"
    else
        ok "$label: create_queue after drop_queue: no error, no NOTICE"
    fi
    is "$(q "$db" "SELECT count(*) FROM durable_tasks.list_queues() WHERE queue_name = '$qn'")" \
        "1" "$label: the new queue is registered"
    is "$(rows "$db" "$qn" 2>&1)" "0/0" "$label: the new queue has no rows"
    is "$(q "$db" "SELECT s.created || ':' || s.state
                   FROM durable_tasks.spawn_task('$qn', 'send', '{\"n\": 1}', idempotency_key => 'k1') s" 2>&1)" \
        "true:pending" "$label: a keyed spawn of an old key creates a new task"
}

drop_ok() {   # DB LABEL Q: drop_queue succeeds, removes row and tables
    local db=$1 label=$2 qn=$3
    is "$(err "$db" "SELECT durable_tasks.drop_queue('$qn')")" "no error" "$label: drop_queue succeeds"
    is "$(tables_of "$db" "$qn")/$(q "$db" "SELECT count(*) FROM durable_tasks.queues WHERE queue_name = '$qn'")" \
        "- -/0" "$label: drop_queue removed the tables and the registry row"
}

# ---------------------------------------------------------------- (a) pg_dump -t
q "$S" "CREATE EXTENSION durable_tasks; SELECT durable_tasks.create_queue('q')" >/dev/null
read -r K1T _ K2T K2R <<<"$(fill_queue "$S" q)"
is "$(rows "$S" q)" "4/4" "source: queue q has 4 tasks and 4 runs"
is "$(q "$S" "SELECT string_agg(state || ':' || coalesce(idempotency_key, '-'), ' ' ORDER BY created_at)
              FROM durable_tasks.t_q")" \
    "completed:k1 pending:k2 pending:$(q "$S" "SELECT durable_tasks.task_fingerprint('mail', '{\"to\": 1}')") pending:-" \
    "source: k1 completed, k2 pending, an only_once task, an unkeyed task"

DUMP="$T_SCRATCH/q.dump"
if pg_dump -Fc -t 'durable_tasks.t_q' -t 'durable_tasks.r_q' -f "$DUMP" -d "$S" 2>"$T_SCRATCH/dump.err"; then
    ok "(a) pg_dump -t durable_tasks.t_q -t durable_tasks.r_q"
else
    not_ok "(a) pg_dump -t durable_tasks.t_q -t durable_tasks.r_q"
    diag "$(cat "$T_SCRATCH/dump.err")"
fi
for db in "$R1" "$R2"; do
    q "$db" "CREATE EXTENSION durable_tasks" >/dev/null
    if pg_restore --exit-on-error -d "$db" "$DUMP" >"$T_SCRATCH/restore-$db.log" 2>&1; then
        ok "(a) pg_restore of the two tables into $db (which has the extension)"
    else
        not_ok "(a) pg_restore of the two tables into $db (which has the extension)"
        diag "$(cat "$T_SCRATCH/restore-$db.log")"
    fi
done
is "$(rows "$R1" q)/$(q "$R1" "SELECT count(*) FROM durable_tasks.queues")" "4/4/0" \
    "(a) restored: the tables and their rows are back, the registry is empty"

check_calls "$R1" "(a) restored, unregistered" not_registered q "$K2T" "$K2R"
is "$(rows "$R1" q)" "4/4" "(a) the failed calls wrote nothing"

out=$(q_try "$R1" "SELECT durable_tasks.create_queue('q')")
if grep -qE '^NOTICE: +(00000: )?registered the existing tables of queue "q"$' <<<"$out" &&
    ! grep -q ERROR <<<"$out"; then
    ok "(a) create_queue('q') registers the restored tables (NOTICE)"
else
    not_ok "(a) create_queue('q') registers the restored tables (NOTICE)"
    diag "$out"
fi
is "$(q "$R1" "SELECT queue_name || ':' || key_reuse FROM durable_tasks.list_queues()")" \
    "q:after_failure" "(a) list_queues shows q with the default options"
check_registered "$R1" "(a) registered" q "$K1T" "$K2T"

# (d) the same restored state, dropped instead of registered
drop_ok "$R2" "(d) restored, unregistered" q
check_clean "$R2" "(d) restored, unregistered" q

# ------------------------------------------------- (b) DROP + CREATE EXTENSION
q "$E" "CREATE EXTENSION durable_tasks;
        SELECT durable_tasks.create_queue('q', '{\"key_reuse\": \"never\"}');
        SELECT durable_tasks.create_queue('q2')" >/dev/null
read -r EK1T _ EK2T EK2R <<<"$(fill_queue "$E" q)"
fill_queue "$E" q2 >/dev/null
out=$(q_try "$E" "DROP EXTENSION durable_tasks")
if grep -q ERROR <<<"$out"; then
    not_ok "(b) DROP EXTENSION durable_tasks (no CASCADE) succeeds"
    diag "$out"
else
    ok "(b) DROP EXTENSION durable_tasks (no CASCADE) succeeds"
fi
is "$(tables_of "$E" q) $(tables_of "$E" q2) $(rows "$E" q)" \
    "durable_tasks.t_q durable_tasks.r_q durable_tasks.t_q2 durable_tasks.r_q2 4/4" \
    "(b) DROP EXTENSION leaves the schema, the queue tables and their rows"
out=$(q_try "$E" "CREATE EXTENSION durable_tasks")
if grep -q ERROR <<<"$out"; then
    not_ok "(b) CREATE EXTENSION durable_tasks again succeeds"
    diag "$out"
else
    ok "(b) CREATE EXTENSION durable_tasks again succeeds"
fi
is "$(q "$E" "SELECT count(*) FROM durable_tasks.queues")" "0" "(b) the new registry is empty"

check_calls "$E" "(b) re-created extension, unregistered" not_registered q "$EK2T" "$EK2R"
is "$(rows "$E" q)" "4/4" "(b) the failed calls wrote nothing"

out=$(q_try "$E" "SELECT durable_tasks.create_queue('q', '{\"key_reuse\": \"never\"}')")
if grep -qE '^NOTICE: +(00000: )?registered the existing tables of queue "q"$' <<<"$out" &&
    ! grep -q ERROR <<<"$out"; then
    ok "(b) create_queue('q', options) registers the old tables (NOTICE)"
else
    not_ok "(b) create_queue('q', options) registers the old tables (NOTICE)"
    diag "$out"
fi
is "$(q "$E" "SELECT string_agg(queue_name || ':' || key_reuse, ' ') FROM durable_tasks.list_queues()")" \
    "q:never" "(b) list_queues shows q with the options given to create_queue"
check_registered "$E" "(b) registered" q "$EK1T" "$EK2T"

# (d) q2 in the same state: dropped instead
is "$(err "$E" "SELECT * FROM durable_tasks.spawn_task('q2', 'free', '{}')")" "$(not_registered q2)" \
    "(b) q2 is not registered either"
drop_ok "$E" "(d) re-created extension, unregistered" q2
check_clean "$E" "(d) re-created extension, unregistered" q2

# ------------------------------------------------------- (c) DROP TABLE by hand
q "$C" "CREATE EXTENSION durable_tasks;
        SELECT durable_tasks.create_queue(n) FROM unnest(ARRAY['q3', 'q4', 'q5', 'q6']) n" >/dev/null
read -r C3T C3R _ _ <<<"$(fill_queue "$C" q3)"
for qn in q4 q5 q6; do fill_queue "$C" $qn >/dev/null; done
q "$C" "DROP TABLE durable_tasks.w_q3, durable_tasks.e_q3, durable_tasks.c_q3, durable_tasks.r_q3, durable_tasks.t_q3;
        DROP TABLE durable_tasks.w_q4, durable_tasks.e_q4, durable_tasks.c_q4, durable_tasks.r_q4, durable_tasks.t_q4;
        DROP TABLE durable_tasks.r_q5 CASCADE" >/dev/null

check_calls "$C" "(c) q3 tables dropped by hand" no_tables q3 "$C3T" "$C3R"
is "$(err "$C" "SELECT * FROM durable_tasks.spawn_task('q5', 'free', '{}')")" "$(printf '%s\n%s\n%s' "42704 queue \"q5\" has no tables" \
    "DETAIL: durable_tasks.queues has a row for it, but table durable_tasks.r_q5 is missing." \
    "HINT: Run durable_tasks.drop_queue('q5') to remove what is left of it, then durable_tasks.create_queue('q5').")" \
    "(c) only r_q5 dropped: 'has no tables', the detail names r_q5"

out=$(q_try "$C" "SELECT durable_tasks.create_queue('q3')")
if grep -qE '^NOTICE: +(00000: )?created the missing tables of queue "q3"$' <<<"$out" &&
    ! grep -q ERROR <<<"$out"; then
    ok "(c) create_queue('q3') recreates the missing tables (NOTICE)"
else
    not_ok "(c) create_queue('q3') recreates the missing tables (NOTICE)"
    diag "$out"
fi
is "$(tables_of "$C" q3)" "durable_tasks.t_q3 durable_tasks.r_q3" "(c) both tables of q3 are back"
is "$(q "$C" "SELECT s.created FROM durable_tasks.spawn_task('q3', 'free', '{}') s" 2>&1)" \
    "t" "(c) unkeyed spawn works on the recreated queue"
is "$(q "$C" "SELECT s.created || ':' || s.state
              FROM durable_tasks.spawn_task('q3', 'send', '{\"n\": 1}', idempotency_key => 'k1') s" 2>&1)" \
    "true:pending" "(c) keyed spawn works on the recreated queue"
is "$(q "$C" "SELECT count(*) FROM durable_tasks.claim_task('q3', 'w3', 60, 10)" 2>&1)" \
    "2" "(c) claim_task works on the recreated queue"

# one session: the queue is used (cached), dropped by hand, used again
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$C" 2>&1 <<'SQL'
SELECT 1 AS x FROM durable_tasks.spawn_task('q6', 'send', '{"n": 9}', idempotency_key => 'k9') \gset
SELECT 1 AS x FROM durable_tasks.claim_task('q6', 'w6') \gset
DROP TABLE durable_tasks.w_q6, durable_tasks.e_q6, durable_tasks.c_q6, durable_tasks.r_q6, durable_tasks.t_q6;
SELECT public.t_err($$SELECT * FROM durable_tasks.spawn_task('q6', 'send', '{"n": 9}', idempotency_key => 'k9')$$);
SELECT public.t_err($$SELECT * FROM durable_tasks.spawn_task('q6', 'free', '{}')$$);
SELECT public.t_err($$SELECT * FROM durable_tasks.claim_task('q6', 'w6')$$);
SQL
)
expect6=$(for _ in 1 2 3; do no_tables q6 t_q6; echo; done)
expect6r=$(for _ in 1 2 3; do no_tables q6 r_q6; echo; done)
is_one_of "$out" "(c) same session that used q6 before the DROP TABLE: keyed spawn, unkeyed spawn, claim fail 'has no tables'" \
    "${expect6%$'\n'}" "${expect6r%$'\n'}"

# (d) row without tables, and row with only t_q5 left
drop_ok "$C" "(d) q4 tables dropped by hand" q4
check_clean "$C" "(d) q4 tables dropped by hand" q4
drop_ok "$C" "(d) q5 r_q5 dropped by hand" q5
check_clean "$C" "(d) q5 r_q5 dropped by hand" q5
drop_ok "$C" "(d) q6 tables dropped by hand" q6

is "$(q "$C" "SELECT 1")" "1" "server still up"
dt_finish
