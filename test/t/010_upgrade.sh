#!/usr/bin/env bash
# 010_upgrade.sh - the upgrade chain 1.0 -> 1.1 -> 1.2.
#
# (a) Database A is built at 1.0: two queues with tasks in every state,
#     driven through the 1.0 SQL API while the current (1.2) shared library
#     is loaded.
#     ALTER EXTENSION ... UPDATE TO '1.1' must keep every row (checksums over
#     the 1.0 columns), rewrite no table (same relfilenode), add the key
#     columns (null) and the partial unique index to every queue, and leave
#     the old queues usable, keyed spawns included.  A queue created after
#     the update has the same layout as an upgraded one.
# (a2) At 1.1 A's DBA revokes EXECUTE from PUBLIC on spawn_task and on the
#     four functions 1.2 turns into C functions (create_queue, alter_queue,
#     drop_queue, cancel_task) and grants it to a role.  ALTER EXTENSION ...
#     UPDATE (to the default version, 1.2), in a session that used the 1.1
#     functions, must keep the privileges of every function that exists in
#     both versions (spawn_task's too, which 1.2 re-creates with a row
#     type for its result; a function that depends on it stops the
#     update, 2BP01, changing nothing), drop the 1.1 helpers (check_queue, check_queue_options,
#     add_idempotency_key) and its own temporary helper queue_layout_step,
#     take EXECUTE on registry_changed() away from PUBLIC, keep every row
#     (checksums over all the columns), rewrite no table or index, and leave
#     the old queues working (keyed spawn hitting a key made at 1.1, claim,
#     complete, cancel; create/alter/drop queue now in C).
# (a3) Also at 1.1, application roles get the table grants a 1.1 DBA had to
#     give: a role that may create queues (CREATE on the schema, INSERT on
#     the registry) creates shop and scratch itself, so it owns their tables;
#     producer (INSERT on t_shop), worker (UPDATE on r_shop), a group role
#     with producer grants and its member, PUBLIC allowed to spawn on pub, a
#     role with INSERT on the registry but no CREATE on the schema.  Each
#     does its job at 1.1 with the current library and is refused what its
#     table grants do not allow.  After the update list_queue_grants() shows
#     exactly the translated privileges (owner of t_<q> -> admin, INSERT on
#     t_<q> -> producer, UPDATE on r_<q> -> worker, registry INSERT + schema
#     CREATE -> admin on every queue), every table of the schema belongs to
#     the extension's owner with no privilege of any other role, each role
#     still does its job through the functions and gets 42501 for the rest
#     (and for the tables), and DROP ROLE is refused until revoke_queue.
#     The restored copy (C) keeps the grants, the USAGE on the schema and
#     the roles' jobs.
# (b) Database B is a fresh install at the default version (1.2) with the
#     same queues and the same privilege changes (the function ACLs, the
#     1.1 DBA's schema grants, the queue privileges A's update made).  Its
#     catalog (relations, columns, constraints, indexes, triggers, functions
#     with their ACLs, extension membership, the schema's ACL and initial
#     privileges) and its pg_dump --schema-only must be identical to A's
#     once A reached 1.2.  A pg_dump -Fc / pg_restore of A keeps
#     every row and the privileges.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

A=dt_t010_a
B=dt_t010_b
C=dt_t010_c
FINAL=1.2             # default_version of durable_tasks.control
dt_newdb "$A"
dt_newdb "$B"
dt_newdb "$C"         # (before the roles: a copy left by an earlier run holds their grants)

# Roles are cluster-wide: dropped and made again here, dropped at the end.
APP=dt_t010_app       # gets EXECUTE on the functions revoked from PUBLIC
PLAIN=dt_t010_plain   # no grant of its own: what PUBLIC may do
# the application's roles of (a3), set up at 1.1 with table grants; all of
# them members of $APP, so that the DBA's EXECUTE revokes of (a2) leave
# them their functions
CREATOR=dt_t010_creator  # may create queues at 1.1: creates shop and scratch
PROD=dt_t010_prod        # producer on shop (INSERT on t_shop)
WORK=dt_t010_work        # worker on shop (UPDATE on r_shop)
GROUP=dt_t010_group      # producer grants on shop, held for ...
MEMBER=dt_t010_member    # ... its member, which has no grant of its own
REG=dt_t010_reg          # INSERT on the registry but no CREATE on the schema
APP_ROLES=("$CREATOR" "$PROD" "$WORK" "$GROUP" "$MEMBER" "$REG")
q "$A" "SET client_min_messages = warning; DROP ROLE IF EXISTS $APP; DROP ROLE IF EXISTS $PLAIN;
        $(printf 'DROP ROLE IF EXISTS %s; ' "${APP_ROLES[@]}")
        CREATE ROLE $APP NOLOGIN; CREATE ROLE $PLAIN NOLOGIN;
        $(printf 'CREATE ROLE %s NOLOGIN IN ROLE '"$APP"'; ' "$CREATOR" "$PROD" "$WORK" "$GROUP" "$REG")
        CREATE ROLE $MEMBER NOLOGIN IN ROLE $GROUP"

# ---------------------------------------------------------------------------
# (a) 1.0 database
# ---------------------------------------------------------------------------
q "$A" "CREATE EXTENSION durable_tasks VERSION '1.0'"
is "$(q "$A" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" \
    "1.0" "A: extension installed at version 1.0"
is "$(q "$A" "SELECT count(*) FROM pg_proc WHERE proname = 'spawn_task' AND pronargs = 4")" \
    "1" "A: 1.0 spawn_task(queue, name, params, options) exists"

# (and a third, empty queue with the longest name allowed: 48 characters)
LONGQ=qxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx9
q "$A" "SELECT durable_tasks.create_queue('alpha'); SELECT durable_tasks.create_queue('beta');
        SELECT durable_tasks.create_queue('$LONGQ')" >/dev/null
is "$(q "$A" "SELECT string_agg(queue_name, ',' ORDER BY queue_name) FROM durable_tasks.list_queues()")" \
    "alpha,beta,$LONGQ" "A: 1.0 create_queue + list_queues"

# Drive tasks into every state through the 1.0 API, each step checked.
# Order matters: claim_task hands out the oldest ready run.
# (complete_run returns void: its empty output lines are dropped)
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<'SQL' | grep -v '^$'
CREATE TEMP TABLE ids (label text PRIMARY KEY, queue text, task_id uuid, run_id uuid);

-- completed
INSERT INTO ids SELECT 'completed', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 1}') s;
SELECT 'claim_completed:' || (c.run_id = (SELECT run_id FROM ids WHERE label = 'completed'))
  FROM durable_tasks.claim_task('alpha', 'w1', 3600) c;
SELECT durable_tasks.complete_run('alpha', (SELECT run_id FROM ids WHERE label = 'completed'), '{"ok": true}');

-- failed (max_attempts 1)
INSERT INTO ids SELECT 'failed', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'charge_card', '{"order": 2}',
                                options => '{"max_attempts": 1}') s;
SELECT 'claim_failed:' || (c.run_id = (SELECT run_id FROM ids WHERE label = 'failed'))
  FROM durable_tasks.claim_task('alpha', 'w1', 3600) c;
SELECT 'fail_final:' || f.task_state || ':' || (f.retry_run_id IS NULL)
  FROM durable_tasks.fail_run('alpha', (SELECT run_id FROM ids WHERE label = 'failed'), '{"error": "declined"}') f;

-- cancelled
INSERT INTO ids SELECT 'cancelled', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'open_pr', '{"order": 3}') s;
SELECT 'cancel:' || durable_tasks.cancel_task('alpha', (SELECT task_id FROM ids WHERE label = 'cancelled'));

-- retried: attempt 2, its retry an hour away
INSERT INTO ids SELECT 'retried', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 4}',
        options => '{"max_attempts": 3, "retry_strategy": {"kind": "fixed", "base_seconds": 3600}, "headers": {"trace": "abc"}}') s;
SELECT 'claim_retried:' || (c.run_id = (SELECT run_id FROM ids WHERE label = 'retried'))
  FROM durable_tasks.claim_task('alpha', 'w2', 3600) c;
SELECT 'fail_retry:' || f.task_state || ':' || f.retry_attempt
  FROM durable_tasks.fail_run('alpha', (SELECT run_id FROM ids WHERE label = 'retried'), '{"error": "timeout"}') f;

-- delayed
INSERT INTO ids SELECT 'delayed', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'reminder', '{"order": 5}',
        options => '{"delay_seconds": 7200, "cancellation": {"max_delay": 86400}}') s;

-- running (lease of an hour, so it can still be completed after the update)
INSERT INTO ids SELECT 'running', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'long_job', '{"order": 6}') s;
SELECT 'claim_running:' || (c.run_id = (SELECT run_id FROM ids WHERE label = 'running'))
  FROM durable_tasks.claim_task('alpha', 'w3', 3600) c;

-- pending
INSERT INTO ids SELECT 'pending', 'alpha', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 7}') s;

-- beta: a parent with two children, cancelled as a tree; a completed task;
-- a pending one
INSERT INTO ids SELECT 'b_parent', 'beta', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('beta', 'parent', '{}') s;
INSERT INTO ids SELECT 'b_child' || i, 'beta', s.task_id, s.run_id
  FROM generate_series(1, 2) i,
       durable_tasks.spawn_task('beta', 'child', jsonb_build_object('i', i),
            jsonb_build_object('parent_task_id', (SELECT task_id FROM ids WHERE label = 'b_parent'))) s;
SELECT 'cancel_tree:' || durable_tasks.cancel_task('beta', (SELECT task_id FROM ids WHERE label = 'b_parent'));
INSERT INTO ids SELECT 'b_completed', 'beta', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('beta', 'send_receipt', '{"order": 1}') s;
SELECT 'claim_b:' || (c.run_id = (SELECT run_id FROM ids WHERE label = 'b_completed'))
  FROM durable_tasks.claim_task('beta', 'w1', 3600) c;
SELECT durable_tasks.complete_run('beta', (SELECT run_id FROM ids WHERE label = 'b_completed'), '[1, 2, 3]');
INSERT INTO ids SELECT 'b_pending', 'beta', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('beta', 'send_receipt', '{"order": 2}') s;

-- what get_task (1.0 signature) reports, in label order
SELECT 'get:' || i.label || ':' || g.state || ':' || g.attempts
  FROM ids i, durable_tasks.get_task(i.queue, i.task_id) g
 ORDER BY i.label;

-- keep the ids for later checks
CREATE TABLE public.ids AS SELECT * FROM ids;
SQL
)
expected='claim_completed:true
claim_failed:true
fail_final:failed:true
cancel:1
claim_retried:true
fail_retry:pending:2
claim_running:true
cancel_tree:3
claim_b:true
get:b_child1:cancelled:1
get:b_child2:cancelled:1
get:b_completed:completed:1
get:b_parent:cancelled:1
get:b_pending:pending:1
get:cancelled:cancelled:1
get:completed:completed:1
get:delayed:pending:1
get:failed:failed:1
get:pending:pending:1
get:retried:pending:2
get:running:running:1'
is "$out" "$expected" "A: 1.0 API (spawn/claim/complete/fail/cancel/get_task) served by the current library"

is "$(q "$A" "SELECT string_agg(DISTINCT state, ',' ORDER BY state) FROM durable_tasks.t_alpha")" \
    "cancelled,completed,failed,pending,running" "A: alpha has tasks in every state"
is "$(q "$A" "SELECT count(*) FROM durable_tasks.t_alpha t JOIN durable_tasks.r_alpha r
               ON r.run_id = t.last_run_id WHERE t.task_id = (SELECT task_id FROM ids WHERE label = 'delayed')
               AND r.available_at > now() + interval '1 hour'")" \
    "1" "A: the delayed task's run is scheduled in the future"
is "$(q "$A" "SELECT count(*) FROM durable_tasks.r_alpha WHERE task_id = (SELECT task_id FROM ids WHERE label = 'retried')")" \
    "2" "A: the retried task has two runs"

# lease expiry and heartbeat at 1.0 (in the long-named queue, empty so far)
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<SQL | grep -v '^$'
CREATE TEMP TABLE l AS SELECT * FROM durable_tasks.spawn_task('$LONGQ', 'lease', '{}',
    options => '{"max_attempts": 2, "retry_strategy": {"kind": "none"}}');
SELECT 'claim1:' || c.attempt FROM durable_tasks.claim_task('$LONGQ', 'w1', 1) c;
SELECT pg_sleep(1.2);
SELECT 'claim2:' || c.attempt || ':' || (c.task_id = (SELECT task_id FROM l))
  FROM durable_tasks.claim_task('$LONGQ', 'w2', 3600) c;
SELECT 'extend:' || (durable_tasks.extend_claim('$LONGQ', r.run_id, 7200) > now() + interval '1 hour')
  FROM durable_tasks.r_$LONGQ r WHERE r.state = 'running';
SELECT 'expired_run:' || r.state || ':' || (r.failure ->> 'error')
  FROM durable_tasks.r_$LONGQ r WHERE r.run_id = (SELECT run_id FROM l);
SQL
)
is "$out" "claim1:1
claim2:2:true
extend:true
expired_run:failed:lease expired" "A: lease expiry and extend_claim at 1.0"

# the 1.1 functions must not exist yet
is "$(q "$A" "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'durable_tasks' AND p.proname IN ('task_fingerprint', 'alter_queue', 'add_idempotency_key')")" \
    "0" "A: no 1.1 functions before the update"

# checksums over the 1.0 columns, taken from the catalog before the update
cols_of() {   # cols_of DB TABLE -> comma list of its current columns
    q "$1" "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'durable_tasks.$2'::regclass AND attnum > 0 AND NOT attisdropped"
}
declare -A COLS
TABLES=(queues t_alpha r_alpha t_beta r_beta)
for tb in "${TABLES[@]}"; do
    COLS[$tb]=$(cols_of "$A" "$tb")
done
checksum_sql() {  # checksum_sql TABLE: SQL printing "sum:TABLE:rows:md5" over the 1.0 columns
    local key=${COLS[$1]%%,*}
    printf '%s\n' "SELECT 'sum:$1:' || count(*) || ':' || md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x.$key), ''))
          FROM (SELECT ${COLS[$1]} FROM durable_tasks.$1) x;"
}
relnodes() {  # relfilenodes of the tables and their indexes
    q "$A" "SELECT string_agg(c.relname || '=' || c.relfilenode, ' ' ORDER BY c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'durable_tasks' AND c.relkind IN ('r', 'i')
              AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = c.oid
                                 AND i.indisunique AND i.indpred IS NOT NULL)"
}
SUMS_SQL=$(for tb in "${TABLES[@]}"; do checksum_sql "$tb"; done)
NODES_BEFORE=$(relnodes)

# ---------------------------------------------------------------------------
# the update, in a session that has used the queues at 1.0 (cached plans),
# followed by a keyed spawn in the same session.  The checksums are taken in
# the session right before the update.
# ---------------------------------------------------------------------------
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<SQL
SELECT 'pre:' || s.created FROM durable_tasks.spawn_task('alpha', 'warm_cache', '{}') s;
SELECT 'claimable:' || count(*) FROM durable_tasks.claim_task('beta', 'w9', 3600) c;
$SUMS_SQL
ALTER EXTENSION durable_tasks UPDATE TO '1.1';
SELECT 'post:' || s.created || ':' || s.state
  FROM durable_tasks.spawn_task('alpha', 'keyed', '{"n": 1}', idempotency_key => 'same-session') s;
SELECT 'post2:' || s.created || ':' || s.state
  FROM durable_tasks.spawn_task('alpha', 'keyed', '{"n": 1}', idempotency_key => 'same-session') s;
SQL
)
SUMS_BEFORE=$(grep '^sum:' <<<"$out")
is "$(grep -v '^sum:' <<<"$out")" "pre:true
claimable:1
post:true:pending
post2:false:pending" "A: ALTER EXTENSION UPDATE TO '1.1' in a session with cached plans, keyed spawn right after"
# the keyed task made after the update is not part of the 1.0 rows
q "$A" "DELETE FROM durable_tasks.t_alpha WHERE task_name = 'keyed'"
is "$(q "$A" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" \
    "1.1" "A: extension at version 1.1 after the update"

SUMS_AFTER=$(q "$A" "$SUMS_SQL" 2>&1)
for tb in "${TABLES[@]}"; do
    is "$(grep "^sum:$tb:" <<<"$SUMS_AFTER")" "$(grep "^sum:$tb:" <<<"$SUMS_BEFORE")" \
        "A: $tb rows unchanged by the update (checksum over the 1.0 columns)"
done
is "$(relnodes)" "$NODES_BEFORE" "A: no table or index of the schema was rewritten (relfilenodes unchanged)"
diag "relfilenodes: $NODES_BEFORE"

for tb in t_alpha t_beta; do
    is "$(q "$A" "SELECT count(*) FILTER (WHERE idempotency_key IS NOT NULL OR key_released_at IS NOT NULL)
                  || '/' || count(*) FROM durable_tasks.$tb")" \
        "0/$(q "$A" "SELECT count(*) FROM durable_tasks.$tb")" "A: $tb: new key columns are null on old rows"
done
is "$(q "$A" "SELECT string_agg(queue_name || ':' || key_reuse || ':' || coalesce(dedup_ttl_seconds::text, 'null')
                       || ':' || on_params_mismatch, ' ' ORDER BY queue_name) FROM durable_tasks.list_queues()")" \
    "alpha:after_failure:null:ignore beta:after_failure:null:ignore $LONGQ:after_failure:null:ignore" \
    "A: old queues get the default dedup settings"

ikey_def() {  # the partial unique index of a queue (its name and the queue's replaced)
    q "$1" "SELECT regexp_replace(replace(pg_get_indexdef(i.indexrelid), '$2', 'Q'),
                                  '^CREATE UNIQUE INDEX [^ ]+ ON', 'CREATE UNIQUE INDEX <name> ON')
            || ' valid=' || i.indisvalid
            || ' ready=' || i.indisready
            FROM pg_index i WHERE i.indrelid = 'durable_tasks.t_$2'::regclass AND i.indisunique
              AND i.indpred IS NOT NULL"
}
IKEY='CREATE UNIQUE INDEX <name> ON durable_tasks.t_Q USING btree (idempotency_key) WHERE ((idempotency_key IS NOT NULL) AND (key_released_at IS NULL)) valid=true ready=true'
for qn in $(q "$A" "SELECT queue_name FROM durable_tasks.queues ORDER BY 1"); do
    is "$(ikey_def "$A" "$qn")" "$IKEY" "A: queue $qn has the partial unique index on idempotency_key"
done

# get_task (1.1 signature) on an old task
is "$(q "$A" "SELECT g.state || ':' || g.attempts || ':' || coalesce(g.idempotency_key, 'null') || ':'
               || coalesce(g.key_released_at::text, 'null') || ':' || g.headers::text
               FROM durable_tasks.get_task('alpha', (SELECT task_id FROM ids WHERE label = 'retried')) g")" \
    'pending:2:null:null:{"trace": "abc"}' "A: get_task (1.1) on a task made at 1.0"

# old runs keep working: complete the run claimed at 1.0
is "$(q_try "$A" "SELECT 'done' FROM durable_tasks.complete_run('alpha', (SELECT run_id FROM ids WHERE label = 'running'), '{\"done\": 1}');
                  SELECT state FROM durable_tasks.t_alpha WHERE task_id = (SELECT task_id FROM ids WHERE label = 'running')")" \
    "done
completed" "A: a run claimed at 1.0 completes after the update"
is "$(q "$A" "SELECT c.run_id = (SELECT run_id FROM ids WHERE label = 'pending')
               FROM durable_tasks.claim_task('alpha', 'w4', 60) c")" "t" \
    "A: claim after the update hands out the oldest 1.0 run"

# keyed spawns on old queues
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<'SQL'
CREATE TEMP TABLE s AS
SELECT 'a1' AS l, * FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 9}', idempotency_key => 'order-9');
INSERT INTO s SELECT 'a2', * FROM durable_tasks.spawn_task('alpha', 'other_name', '{"x": 1}', idempotency_key => 'order-9');
INSERT INTO s SELECT 'b1', * FROM durable_tasks.spawn_task('beta', 'send_receipt', '{"order": 9}', idempotency_key => 'order-9');
INSERT INTO s SELECT 'o1', * FROM durable_tasks.spawn_task('beta', 'fp', '{"b": [1, 2], "a": 1.0}', only_once => true);
INSERT INTO s SELECT 'o2', * FROM durable_tasks.spawn_task('beta', 'fp', '{"a": 1, "b": [1, 2]}', only_once => true);
SELECT l || ':' || created || ':' || state || ':' || attempt FROM s ORDER BY l;
SELECT 'same_a:' || ((SELECT task_id FROM s WHERE l = 'a1') = (SELECT task_id FROM s WHERE l = 'a2'));
SELECT 'other_queue:' || ((SELECT task_id FROM s WHERE l = 'a1') <> (SELECT task_id FROM s WHERE l = 'b1'));
SELECT 'same_o:' || ((SELECT task_id FROM s WHERE l = 'o1') = (SELECT task_id FROM s WHERE l = 'o2'));
SELECT 'key_o:' || (t.idempotency_key = durable_tasks.task_fingerprint('fp', '{"a": 1, "b": [1, 2]}'))
  FROM durable_tasks.t_beta t WHERE t.task_id = (SELECT task_id FROM s WHERE l = 'o1');
SELECT 'held_a:' || count(*) FROM durable_tasks.t_alpha WHERE idempotency_key = 'order-9';
SQL
)
is "$out" "a1:true:pending:1
a2:false:pending:1
b1:true:pending:1
o1:true:pending:1
o2:false:pending:1
same_a:true
other_queue:true
same_o:true
key_o:true
held_a:1" "A: keyed and only_once spawns deduplicate on queues created at 1.0"

# after_failure on an old queue: a failed holder releases the key
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<'SQL'
CREATE TEMP TABLE s AS SELECT 1 AS n, * FROM durable_tasks.spawn_task('beta', 'flaky', '{}', idempotency_key => 'flaky-1', options => '{"max_attempts": 1}');
SELECT 'claimed:' || count(*) FROM durable_tasks.claim_task('beta', 'w5', 60, 10) c WHERE c.task_id = (SELECT task_id FROM s);
SELECT 'failed:' || f.task_state FROM durable_tasks.fail_run('beta', (SELECT run_id FROM s), '{}') f;
INSERT INTO s SELECT 2, * FROM durable_tasks.spawn_task('beta', 'flaky', '{}', idempotency_key => 'flaky-1');
SELECT 'respawn:' || created || ':' || (task_id <> (SELECT task_id FROM s WHERE n = 1)) FROM s WHERE n = 2;
SELECT 'released:' || (key_released_at IS NOT NULL) FROM durable_tasks.t_beta WHERE task_id = (SELECT task_id FROM s WHERE n = 1);
SQL
)
is "$out" "claimed:1
failed:failed
respawn:true:true
released:true" "A: after a failure the key is released and a new task created (old queue)"

is "$(q "$A" "SELECT s.created FROM durable_tasks.spawn_task('$LONGQ', 'x', '{}', only_once => true) s;
               SELECT s.created FROM durable_tasks.spawn_task('$LONGQ', 'x', '{}', only_once => true) s")" \
    "t
f" "A: only_once spawn on the 48-character queue created at 1.0"

# a queue created after the update has the same layout as the upgraded ones
layout() {  # layout DB QUEUE: tables of the queue with the name replaced by Q
    q "$1" "
    WITH rel AS (
        SELECT c.oid, c.relname FROM pg_class c
        WHERE c.oid IN ('durable_tasks.t_$2'::regclass, 'durable_tasks.r_$2'::regclass,
                        to_regclass('durable_tasks.c_$2')))
    SELECT string_agg(line, E'\n' ORDER BY line) FROM (
        SELECT replace(rel.relname, '$2', 'Q') || ' col ' || a.attnum || ' ' || a.attname || ' '
               || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
               || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') AS line
          FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        UNION ALL
        SELECT replace(rel.relname || ' con ' || co.conname || ' ' || pg_get_constraintdef(co.oid), '$2', 'Q')
          FROM rel JOIN pg_constraint co ON co.conrelid = rel.oid
        UNION ALL
        SELECT replace(pg_get_indexdef(i.indexrelid), '$2', 'Q')
          FROM rel JOIN pg_index i ON i.indrelid = rel.oid) x"
}
q "$A" "SELECT durable_tasks.create_queue('gamma')" >/dev/null
L_ALPHA=$(layout "$A" alpha)
L_GAMMA=$(layout "$A" gamma)
if [ "$L_ALPHA" = "$L_GAMMA" ] && [ -n "$L_ALPHA" ]; then
    ok "A: a queue created after the update has the layout of an upgraded one"
else
    not_ok "A: a queue created after the update has the layout of an upgraded one"
    diag "$(diff <(echo "$L_ALPHA") <(echo "$L_GAMMA"))"
fi
is "$(ikey_def "$A" gamma)" "$IKEY" "A: the new queue has the partial unique index"

# ---------------------------------------------------------------------------
# (a3) the application's roles at 1.1: table grants, as a 1.1 DBA had to
# give them, and each role doing its job through the 1.1 functions served
# by the current library (the 1.1 catalogs: table privileges apply, the
# functions run as the caller)
# ---------------------------------------------------------------------------
as_role() {   # as_role DB ROLE SQL: run SQL after SET ROLE, print the rows
    local db=$1 role=$2
    shift 2
    q "$db" "SET ROLE $role; $*"
}
err_as() {    # err_as DB ROLE SQL: "SQLSTATE: message" of the error SQL raises ("no error" if none)
    local db=$1 role=$2 out
    shift 2
    out=$(q_try "$db" "SET ROLE $role; $*" | sed -n 's/^ERROR:  //p' | head -n 1)
    echo "${out:-no error}"
}
detail_as() { # detail_as DB ROLE SQL: the DETAIL of the error SQL raises
    local db=$1 role=$2
    shift 2
    q_try "$db" "SET ROLE $role; $*" | sed -n 's/^DETAIL:  //p' | head -n 1
}

# the creator could create queues in 1.1: CREATE on the schema (the tables)
# and INSERT on the registry (plus UPDATE and DELETE: alter and drop);
# everyone else reads the registry (the queue cache of the library)
q "$A" "GRANT USAGE, CREATE ON SCHEMA durable_tasks TO $CREATOR;
        GRANT SELECT, INSERT, UPDATE, DELETE ON durable_tasks.queues TO $CREATOR;
        GRANT USAGE ON SCHEMA durable_tasks TO $PROD, $WORK, $GROUP, $PLAIN, $REG;
        GRANT SELECT ON durable_tasks.queues TO $PROD, $WORK, $GROUP, $PLAIN;
        GRANT SELECT, INSERT ON durable_tasks.queues TO $REG"
as_role "$A" "$CREATOR" "SELECT durable_tasks.create_queue('shop');
        SELECT durable_tasks.create_queue('scratch');
        SELECT durable_tasks.alter_queue('shop', '{\"dedup_ttl_seconds\": 86400}');
        GRANT SELECT, INSERT ON durable_tasks.t_shop, durable_tasks.r_shop TO $PROD, $GROUP;
        GRANT SELECT, UPDATE ON durable_tasks.t_shop TO $WORK;
        GRANT SELECT, INSERT, UPDATE ON durable_tasks.r_shop TO $WORK" >/dev/null
# a queue of the DBA's on which PUBLIC may spawn
q "$A" "SELECT durable_tasks.create_queue('pub');
        GRANT SELECT, INSERT ON durable_tasks.t_pub, durable_tasks.r_pub TO PUBLIC" >/dev/null
is "$(q "$A" "SELECT string_agg(relname || '=' || relowner::regrole, ' ' ORDER BY relname) FROM pg_class
               WHERE relnamespace = 'durable_tasks'::regnamespace AND relname ~ '^[tr]_(shop|scratch|pub)\$'")" \
    "r_pub=postgres r_scratch=$CREATOR r_shop=$CREATOR t_pub=postgres t_scratch=$CREATOR t_shop=$CREATOR" \
    "A (1.1): the creator role made shop and scratch itself and owns their tables"
is "$(as_role "$A" "$PROD" "CREATE TEMP TABLE s AS
        SELECT 1 AS n, * FROM durable_tasks.spawn_task('shop', 'order', '{\"n\": 1}');
        INSERT INTO s SELECT 2, * FROM durable_tasks.spawn_task('shop', 'order', '{\"n\": 2}', idempotency_key => 'order-2');
        INSERT INTO s SELECT 3, * FROM durable_tasks.spawn_task('shop', 'order', '{\"n\": 2}', idempotency_key => 'order-2');
        SELECT n || ':' || created || ':' || state FROM s ORDER BY n;
        SELECT 'get:' || g.state FROM durable_tasks.get_task('shop', (SELECT task_id FROM s WHERE n = 1)) g")" \
    "1:true:pending
2:true:pending
3:false:pending
get:pending" "A (1.1): the producer role spawns (keyed too) and reads its task with table grants"
is "$(as_role "$A" "$MEMBER" "SELECT s.created FROM durable_tasks.spawn_task('shop', 'member', '{}') s")" \
    "t" "A (1.1): a member of the group role spawns through the group's grants"
is "$(as_role "$A" "$PLAIN" "SELECT s.created FROM durable_tasks.spawn_task('pub', 'anyone', '{}') s")" \
    "t" "A (1.1): a role without grants spawns on the queue granted to PUBLIC"
is "$(as_role "$A" "$WORK" "CREATE TEMP TABLE c AS SELECT * FROM durable_tasks.claim_task('shop', 'w1', 3600);
        SELECT 'claim:' || task_name || ':' || (params ->> 'n') FROM c;
        SELECT 'done:' || count(*) FROM c, LATERAL durable_tasks.complete_run('shop', c.run_id, '{\"ok\": 1}')")" \
    "claim:order:1
done:1" "A (1.1): the worker role claims and completes with table grants"
is "$(err_as "$A" "$PROD" "SELECT * FROM durable_tasks.claim_task('shop', 'p', 60)")" \
    "42501: permission denied for table r_shop" "A (1.1): the producer role may not claim (no UPDATE on r_shop)"
is "$(err_as "$A" "$WORK" "SELECT * FROM durable_tasks.spawn_task('shop', 'w', '{}')")" \
    "42501: permission denied for table t_shop" "A (1.1): the worker role may not spawn (no INSERT on t_shop)"
is "$(err_as "$A" "$REG" "SELECT durable_tasks.create_queue('regq')")" \
    "42501: permission denied for schema durable_tasks" "A (1.1): a role without CREATE on the schema cannot create a queue"

# ---------------------------------------------------------------------------
# (a2) 1.1 -> 1.2, after the DBA changed privileges at 1.1
# ---------------------------------------------------------------------------
# spawn_task is re-created by 1.2 (DROP and CREATE, for its new return
# type), which must carry its owner and ACL over; the other four become C
# functions through CREATE OR REPLACE, which must keep their ACLs.
PRIV_FUNCS=(
    'durable_tasks.spawn_task(text,text,jsonb,boolean,text,jsonb)'
    'durable_tasks.create_queue(text,jsonb)'
    'durable_tasks.alter_queue(text,jsonb)'
    'durable_tasks.drop_queue(text)'
    'durable_tasks.cancel_task(text,uuid)'
)
PRIV_SQL=$(for f in "${PRIV_FUNCS[@]}"; do
    printf 'REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC;\nGRANT EXECUTE ON FUNCTION %s TO %s;\n' "$f" "$f" "$APP"
done)
PRIV_ARRAY=$(printf "'%s'," "${PRIV_FUNCS[@]}")
PRIV_ARRAY="ARRAY[${PRIV_ARRAY%,}]"
q "$A" "$PRIV_SQL"
OWNER=$(q "$A" "SELECT extowner::regrole FROM pg_extension WHERE extname = 'durable_tasks'")
exec_privs() {  # exec_privs DB: who may execute the changed functions and registry_changed()
    q "$1" "SELECT string_agg(f || ' app=' || has_function_privilege('$APP', f, 'EXECUTE')
                             || ' plain=' || has_function_privilege('$PLAIN', f, 'EXECUTE'), E'\n' ORDER BY ord)
            FROM unnest($PRIV_ARRAY || 'durable_tasks.registry_changed()'::text) WITH ORDINALITY AS u(f, ord)"
}
EXEC_EXPECTED=$(for f in "${PRIV_FUNCS[@]}"; do echo "$f app=true plain=false"; done)
is "$(exec_privs "$A")" "$EXEC_EXPECTED
durable_tasks.registry_changed() app=true plain=true" "A: at 1.1 the DBA's privilege changes are in effect"

# the functions of the extension, with their ACLs
EXT_FUNCS="SELECT p.oid::regprocedure::text AS f, p.proacl::text AS acl
             FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'durable_tasks'"
PROACL_SQL="SELECT string_agg(f || ' ' || coalesce(acl, '-'), E'\n' ORDER BY f) FROM ($EXT_FUNCS) x"

# checksums over every column of every table, and the relfilenodes of every
# table and index (the 1.1 partial unique indexes included)
TABLES12=($(q "$A" "SELECT relname FROM pg_class WHERE relnamespace = 'durable_tasks'::regnamespace
                    AND relkind = 'r' ORDER BY relname"))
for tb in "${TABLES12[@]}"; do
    COLS[$tb]=$(cols_of "$A" "$tb")
done
SUMS12_SQL=$(for tb in "${TABLES12[@]}"; do checksum_sql "$tb"; done)
AFT12_SQL=${SUMS12_SQL//"'sum:"/"'aft:"}      # the same, labelled aft: (after the update)
N_FUNCS11=$(q "$A" "SELECT count(*) FROM ($EXT_FUNCS) x")
# (the checkpoint, event and wait tables c_, e_, w_<queue> and their
# indexes ci_, ei_, wi_, queue_grants with its key and the run indexes
# ri_<queue>_done and _due are new in 1.2; ri_<queue>_ready is dropped)
NODES12_SQL="SELECT 'nodes:' || string_agg(c.relname || '=' || c.relfilenode, ' ' ORDER BY c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'durable_tasks' AND c.relkind IN ('r', 'i')
                AND c.relname !~ '^(ci?_|ei?_|wi?_|queue_grants|ri_.*_(done|due|ready)$)';"

# 1.2 re-creates spawn_task (a row type for its result): an object that
# depends on it stops the update, which then changes nothing.
dep_out=$(psql -X -A -t -q -d "$A" 2>&1 <<'SQL'
CREATE FUNCTION public.enqueue_one() RETURNS SETOF uuid LANGUAGE sql
BEGIN ATOMIC SELECT s.task_id FROM durable_tasks.spawn_task('alpha', 'x') s; END;
\set VERBOSITY sqlstate
ALTER EXTENSION durable_tasks UPDATE;
\set VERBOSITY default
ALTER EXTENSION durable_tasks UPDATE;
SELECT 'version:' || extversion FROM pg_extension WHERE extname = 'durable_tasks';
DROP FUNCTION public.enqueue_one();
SQL
)
is "$(grep -v '^DETAIL\|^HINT\|^CONTEXT' <<<"$dep_out")" "ERROR:  2BP01
ERROR:  cannot drop function durable_tasks.spawn_task(text, text, jsonb, boolean, text, jsonb) because other objects depend on it
version:1.1" "A: a function that depends on spawn_task stops the update to $FINAL (2BP01), nothing changed"
is "$(grep '^DETAIL' <<<"$dep_out")" \
    "DETAIL:  The update to 1.2 re-creates spawn_task, which returns the row type durable_tasks.spawn_result (the same columns).  Objects that depend on it: function public.enqueue_one()." \
    "A: the refusal names the dependent object"

# The re-created spawn_task gets exactly the old ACL: a grant made by a
# role with the grant option keeps its grantor (so REVOKE ... CASCADE
# still reaches it), and the updater's default privileges add nothing.
D=dt_t010_acl
ACL_R1=dt_t010_acl_r1 ACL_R2=dt_t010_acl_r2 ACL_R3=dt_t010_acl_r3
dt_newdb "$D"
SPAWN_SIG='durable_tasks.spawn_task(text,text,jsonb,boolean,text,jsonb)'
q "$D" "SET client_min_messages = warning;
        DROP ROLE IF EXISTS $ACL_R1; DROP ROLE IF EXISTS $ACL_R2; DROP ROLE IF EXISTS $ACL_R3;
        CREATE ROLE $ACL_R1 NOLOGIN; CREATE ROLE $ACL_R2 NOLOGIN; CREATE ROLE $ACL_R3 NOLOGIN;
        CREATE EXTENSION durable_tasks VERSION '1.1';
        GRANT USAGE ON SCHEMA durable_tasks TO $ACL_R1;
        REVOKE EXECUTE ON FUNCTION $SPAWN_SIG FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION $SPAWN_SIG TO $ACL_R1 WITH GRANT OPTION;
        SET ROLE $ACL_R1; GRANT EXECUTE ON FUNCTION $SPAWN_SIG TO $ACL_R2; RESET ROLE;
        ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO $ACL_R3" >/dev/null
ACL_BEFORE=$(q "$D" "SELECT proacl::text FROM pg_proc WHERE oid = '$SPAWN_SIG'::regprocedure")
q "$D" "ALTER EXTENSION durable_tasks UPDATE" >/dev/null
is "$(q "$D" "SELECT proacl::text || ' ' || prorettype::regtype::text FROM pg_proc WHERE oid = '$SPAWN_SIG'::regprocedure")" \
    "$ACL_BEFORE durable_tasks.spawn_result" \
    "D: spawn_task re-created with the exact 1.1 ACL ($ACL_BEFORE): grantors kept, no default privilege added"
is "$(q "$D" "SELECT count(*) FROM pg_init_privs WHERE objoid = '$SPAWN_SIG'::regprocedure")" "0" \
    "D: no initial privileges recorded for it (pg_dump keeps the DBA's grants)"
is "$(q "$D" "REVOKE EXECUTE ON FUNCTION $SPAWN_SIG FROM $ACL_R1 CASCADE;
              SELECT has_function_privilege('$ACL_R2', '$SPAWN_SIG', 'EXECUTE') || ' '
                     || has_function_privilege('$ACL_R3', '$SPAWN_SIG', 'EXECUTE')")" "false false" \
    "D: REVOKE ... CASCADE from the grantor takes the grant it made away"
dropdb --if-exists --force "$D" >/dev/null 2>&1 || diag "could not drop database $D"
q postgres "DROP ROLE $ACL_R1; DROP ROLE $ACL_R2; DROP ROLE $ACL_R3" >/dev/null ||
    diag "could not drop roles $ACL_R1, $ACL_R2, $ACL_R3"

# The update, in a session that has called the 1.1 PL/pgSQL create_queue and
# cancel_task and a keyed spawn; right after it, in the same session: the
# checksums, relfilenodes and ACLs, then the old queues and the C functions.
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$A" 2>&1 <<SQL | grep -v '^$'
CREATE TEMP TABLE acl_before AS $EXT_FUNCS;
SELECT 'pre_hit:' || s.created
  FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 9}', idempotency_key => 'order-9') s;
SELECT 'pre_cancel:' || durable_tasks.cancel_task('beta', (SELECT task_id FROM public.ids WHERE label = 'b_parent'));
SELECT durable_tasks.create_queue('epsilon');
$SUMS12_SQL
$NODES12_SQL
ALTER EXTENSION durable_tasks UPDATE;
$AFT12_SQL
$NODES12_SQL
SELECT 'acl:' || b.f || ' ' || coalesce(b.acl, '-') || ' -> ' || coalesce(a.acl, '-')
  FROM acl_before b JOIN ($EXT_FUNCS) a ON a.f = b.f
 WHERE b.acl IS DISTINCT FROM a.acl ORDER BY b.f;
SELECT 'acl_compared:' || count(*) FROM acl_before b JOIN ($EXT_FUNCS) a ON a.f = b.f;
SELECT 'acl_gone:' || coalesce(string_agg(b.f, ',' ORDER BY b.f), 'none')
  FROM acl_before b WHERE NOT EXISTS (SELECT 1 FROM ($EXT_FUNCS) a WHERE a.f = b.f);
SELECT 'acl_new:' || coalesce(string_agg(a.f, ',' ORDER BY a.f), 'none')
  FROM ($EXT_FUNCS) a WHERE NOT EXISTS (SELECT 1 FROM acl_before b WHERE b.f = a.f);
-- the old queues at 1.2
SELECT 'hit:' || s.created || ':' || s.state || ':'
       || (s.task_id = (SELECT t.task_id FROM durable_tasks.t_alpha t WHERE t.idempotency_key = 'order-9'))
  FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{"order": 9}', idempotency_key => 'order-9') s;
SELECT 'cancel:' || durable_tasks.cancel_task('alpha', (SELECT task_id FROM public.ids WHERE label = 'retried'));
SELECT 'cancel_again:' || durable_tasks.cancel_task('beta', (SELECT task_id FROM public.ids WHERE label = 'b_parent'));
SELECT 'done10:' || count(*) FROM durable_tasks.r_$LONGQ r,
       LATERAL durable_tasks.complete_run('$LONGQ', r.run_id, '{"claimed_at": "1.0"}') WHERE r.state = 'running';
CREATE TEMP TABLE c12 AS SELECT * FROM durable_tasks.claim_task('$LONGQ', 'w12', 3600);
SELECT 'claim:' || task_name || ':' || attempt FROM c12;
SELECT 'complete:' || count(*) FROM c12, LATERAL durable_tasks.complete_run('$LONGQ', c12.run_id, '{"v": 12}');
SELECT 'states:' || string_agg(t.task_name || '=' || t.state, ',' ORDER BY t.task_name) FROM durable_tasks.t_$LONGQ t;
-- the C queue management, same session
SELECT durable_tasks.drop_queue('epsilon');
SELECT durable_tasks.create_queue('delta', '{"key_reuse": "never"}');
SELECT durable_tasks.alter_queue('delta', '{"dedup_ttl_seconds": 60}');
SELECT 'delta:' || key_reuse || ':' || dedup_ttl_seconds FROM durable_tasks.list_queues() WHERE queue_name = 'delta';
SELECT 'delta_spawn:' || s.created FROM durable_tasks.spawn_task('delta', 'd', '{}', idempotency_key => 'k') s;
SELECT 'delta_spawn:' || s.created FROM durable_tasks.spawn_task('delta', 'd', '{}', idempotency_key => 'k') s;
SELECT 'queues:' || string_agg(queue_name, ',' ORDER BY queue_name) FROM durable_tasks.list_queues();
SQL
)
is "$(grep -Ev '^(sum|aft|nodes|acl):' <<<"$out")" "pre_hit:false
pre_cancel:0
acl_compared:$((N_FUNCS11 - 3))
acl_gone:durable_tasks.add_idempotency_key(text),durable_tasks.check_queue(text,boolean),durable_tasks.check_queue_options(jsonb)
acl_new:durable_tasks.await_event(text,uuid,text,integer),durable_tasks.await_task(text,uuid,double precision),durable_tasks.cleanup_events(text,interval,integer),durable_tasks.cleanup_tasks(text,interval,integer),durable_tasks.emit_event(text,text,jsonb),durable_tasks.get_checkpoint(text,uuid,text),durable_tasks.get_checkpoints(text,uuid),durable_tasks.grant_queue(text,name,text),durable_tasks.list_queue_grants(text),durable_tasks.queue_grants_changed(),durable_tasks.queue_stats(text),durable_tasks.revoke_queue(text,name,text),durable_tasks.set_checkpoint(text,uuid,text,jsonb,integer),durable_tasks.sleep_run(text,uuid,timestamp with time zone),durable_tasks.spawn_tasks(text,jsonb,jsonb)
hit:false:pending:true
cancel:1
cancel_again:0
done10:1
claim:x:1
complete:1
states:lease=completed,x=completed
delta:never:60
delta_spawn:true
delta_spawn:false
queues:alpha,beta,delta,gamma,pub,$LONGQ,scratch,shop" \
    "A: ALTER EXTENSION UPDATE to $FINAL in a session that used the 1.1 functions; old queues work right after"
is "$(q "$A" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" \
    "$FINAL" "A: extension at version $FINAL after the second update"

# privileges: unchanged on every function of both versions but registry_changed()
is "$(grep '^acl:' <<<"$out" | grep -v '^acl:durable_tasks\.registry_changed()')" "" \
    "A: every function that exists in 1.1 and $FINAL keeps its ACL (but registry_changed)"
is "$(grep '^acl:durable_tasks\.registry_changed()' <<<"$out")" \
    "acl:durable_tasks.registry_changed() - -> {$OWNER=X/$OWNER}" \
    "A: registry_changed() is revoked from PUBLIC by the update"
is "$(q "$A" "SELECT string_agg(p.proname || ' ' || p.proacl::text, E'\n' ORDER BY p.proname)
               FROM unnest($PRIV_ARRAY::regprocedure[]) u(f)
               JOIN pg_proc p ON p.oid = u.f")" \
    "$(printf '%s {'"$OWNER=X/$OWNER,$APP=X/$OWNER"'}\n' alter_queue cancel_task create_queue drop_queue spawn_task)" \
    "A: the DBA's grants and revokes are in the ACLs after the update"
is "$(exec_privs "$A")" "$EXEC_EXPECTED
durable_tasks.registry_changed() app=false plain=false" "A: at $FINAL only the granted role may execute them, nobody registry_changed()"
is "$(q "$A" "SELECT string_agg(p.proname || ':' || l.lanname, ' ' ORDER BY p.proname)
               FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'durable_tasks'::regnamespace
                AND p.proname IN ('create_queue', 'alter_queue', 'drop_queue', 'cancel_task')")" \
    "alter_queue:c cancel_task:c create_queue:c drop_queue:c" "A: queue management and cancel_task are C functions at $FINAL"
is "$(q "$A" "SELECT count(*) FROM pg_proc
               WHERE proname IN ('check_queue', 'check_queue_options', 'add_idempotency_key', 'queue_layout_step')")" \
    "0" "A: the 1.1 helpers and the update's queue_layout_step are gone (in every schema)"

# rows and storage
is "$(grep -c '^sum:' <<<"$out"):$(grep -c '^aft:' <<<"$out")" "${#TABLES12[@]}:${#TABLES12[@]}" \
    "A: checksums of all ${#TABLES12[@]} tables taken right before and right after the update to $FINAL"
for tb in "${TABLES12[@]}"; do
    is "$(grep "^aft:$tb:" <<<"$out" | sed 's/^aft:/sum:/')" "$(grep "^sum:$tb:" <<<"$out")" \
        "A: $tb rows unchanged by the update to $FINAL (checksum over all the columns)"
done
is "$(grep -c '^nodes:' <<<"$out"):$(grep '^nodes:' <<<"$out" | sort -u | grep -c '')" "2:1" \
    "A: no table or index of the schema was rewritten by the update to $FINAL (relfilenodes unchanged)"

# the 1.2 layout step gave every queue its checkpoint table, empty
is "$(q "$A" "SELECT count(*) FILTER (WHERE to_regclass('durable_tasks.c_' || queue_name) IS NOT NULL)
              || '/' || count(*) FROM durable_tasks.queues")" \
    "$(q "$A" "SELECT count(*) || '/' || count(*) FROM durable_tasks.queues")" \
    "A: every queue has its checkpoint table after the update to $FINAL"
is "$(q "$A" "SELECT count(*) FROM durable_tasks.c_alpha")" "0" "A: c_alpha starts empty"

# a queue created at 1.2 has the layout of an upgraded one
L_ALPHA=$(layout "$A" alpha)
L_DELTA=$(layout "$A" delta)
if [ "$L_ALPHA" = "$L_DELTA" ] && [ -n "$L_ALPHA" ]; then
    ok "A: a queue created at $FINAL has the layout of an upgraded one"
else
    not_ok "A: a queue created at $FINAL has the layout of an upgraded one"
    diag "$(diff <(echo "$L_ALPHA") <(echo "$L_DELTA"))"
fi
is "$(ikey_def "$A" delta)" "$IKEY" "A: the queue created at $FINAL has the partial unique index"

# ---------------------------------------------------------------------------
# (a3) the application's roles at 1.2: their 1.1 table grants became queue
# privileges, the queue tables belong to the extension's owner, and each
# role still does its job, through the functions only
# ---------------------------------------------------------------------------
# the owner of t_<q> -> admin on q; INSERT on t_<q> -> producer; UPDATE on
# r_<q> -> worker; INSERT on the registry and CREATE on the schema -> admin
# on every queue (not REG: no CREATE on the schema).  PLAIN's, REG's and
# everybody's SELECT on the registry, the worker's UPDATE on t_shop and the
# INSERT on r_<q> map to nothing.
GRANTS_SQL="SELECT coalesce(queue_name, '*') || ' ' || role_name || ' ' || privilege
              FROM durable_tasks.list_queue_grants() ORDER BY queue_name NULLS FIRST, role_name, privilege"
is "$(q "$A" "$GRANTS_SQL")" "* $CREATOR admin
pub public producer
scratch $CREATOR admin
shop $CREATOR admin
shop $GROUP producer
shop $PROD producer
shop $WORK worker" "A: list_queue_grants() after the update: the 1.1 table grants, translated"
is "$(as_role "$A" "$CREATOR" "$GRANTS_SQL")" "$(q "$A" "$GRANTS_SQL")" \
    "A: the creator role (admin on every queue) sees every grant"
is "$(as_role "$A" "$PROD" "$GRANTS_SQL")" "" "A: the producer role sees no grant (admin on no queue)"

# ownership and table privileges: the extension's owner alone, on every
# queue table, the registry and queue_grants
TABLE_ACL_SQL="SELECT string_agg(c.relname || ':' || (c.relowner = e.extowner)
                                 || ':' || coalesce((SELECT string_agg(a.grantee::regrole::text || '=' || a.privilege_type, ',')
                                                       FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner), '-'),
                                 ' ' ORDER BY c.relname)
                 FROM pg_class c, pg_extension e
                WHERE e.extname = 'durable_tasks' AND c.relnamespace = 'durable_tasks'::regnamespace
                  AND c.relkind = 'r'"
TABLE_ACL_EXPECTED=$(q "$A" "SELECT string_agg(c.relname || ':true:-', ' ' ORDER BY c.relname) FROM pg_class c
                             WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relkind = 'r'")
is "$(q "$A" "$TABLE_ACL_SQL")" "$TABLE_ACL_EXPECTED" \
    "A: every table of the schema is owned by the extension's owner, with no privilege of another role"
is "$(q "$A" "SELECT count(*) FROM pg_class c
               WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relkind = 'r'
                 AND c.relname ~ '^(c_|r_|t_)(shop|scratch|pub)\$'")" "9" \
    "A: (the tables of shop, scratch and pub, c_ included, are among them)"
is "$(q "$A" "SELECT count(*) FROM pg_class c, unnest(ARRAY['$CREATOR', '$PROD', '$WORK', '$GROUP', '$MEMBER', '$REG', '$PLAIN']) r(role),
                    unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
               WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relkind = 'r'
                 AND has_table_privilege(r.role, c.oid, p.priv)")" "0" \
    "A: no application role has any privilege on any table of the schema"

# each role does its job through the functions...
is "$(as_role "$A" "$PROD" "CREATE TEMP TABLE s AS
        SELECT 1 AS n, * FROM durable_tasks.spawn_task('shop', 'order', '{\"n\": 3}');
        INSERT INTO s SELECT 2, * FROM durable_tasks.spawn_task('shop', 'order', '{\"n\": 2}', idempotency_key => 'order-2');
        SELECT n || ':' || created || ':' || state FROM s ORDER BY n;
        SELECT 'get:' || g.state || ':' || g.idempotency_key FROM s, durable_tasks.get_task('shop', s.task_id) g WHERE s.n = 2")" \
    "1:true:pending
2:false:pending
get:pending:order-2" "A: the producer role spawns after the update; its 1.1 key still deduplicates"
is "$(as_role "$A" "$MEMBER" "SELECT s.created FROM durable_tasks.spawn_task('shop', 'member', '{\"n\": 4}') s")" \
    "t" "A: the member of the group role spawns (the group's producer privilege)"
is "$(as_role "$A" "$PLAIN" "SELECT s.created || ':' || s.state FROM durable_tasks.spawn_tasks('pub', '[{\"task_name\": \"anyone\", \"params\": {}}]') s")" \
    "true:pending" "A: a role without grants spawns on pub (PUBLIC's producer privilege)"
is "$(as_role "$A" "$WORK" "CREATE TEMP TABLE c AS SELECT * FROM durable_tasks.claim_task('shop', 'w2', 3600, 10);
        SELECT 'claimed:' || count(*) FROM c;
        SELECT 'done:' || count(*) FROM c, LATERAL durable_tasks.complete_run('shop', c.run_id, '{\"ok\": 2}');
        SELECT 'left:' || count(*) FROM durable_tasks.claim_task('shop', 'w2', 3600, 10)")" \
    "claimed:4
done:4
left:0" "A: the worker role claims and completes every pending task of shop"
is "$(as_role "$A" "$CREATOR" "SELECT durable_tasks.alter_queue('shop', '{\"dedup_ttl_seconds\": 60}');
        SELECT 'ttl:' || dedup_ttl_seconds FROM durable_tasks.list_queues() WHERE queue_name = 'shop';
        SELECT 'cancel:' || durable_tasks.cancel_task('shop', s.task_id) FROM durable_tasks.spawn_task('shop', 'doomed', '{}') s;
        SELECT durable_tasks.drop_queue('scratch');
        SELECT durable_tasks.create_queue('made12');
        SELECT 'made12:' || count(*) FROM durable_tasks.list_queues() WHERE queue_name = 'made12';
        SELECT durable_tasks.drop_queue('made12');
        SELECT 'queues:' || string_agg(queue_name, ',' ORDER BY queue_name) FROM durable_tasks.list_queues()" | grep -v '^$')" \
    "ttl:60
cancel:1
made12:1
queues:alpha,beta,delta,gamma,pub,$LONGQ,shop" \
    "A: the creator role alters shop, cancels, drops scratch (made at 1.1), creates and drops a queue"
is "$(q "$A" "SELECT count(*) FROM durable_tasks.list_queue_grants() WHERE queue_name IN ('scratch', 'made12')")" "0" \
    "A: the grants on the dropped queues went with them"
is "$(as_role "$A" "$PROD" "SELECT string_agg(queue_name, ',' ORDER BY queue_name) FROM durable_tasks.list_queues()")" \
    "pub,shop" "A: list_queues() shows the producer role its queues only"

# ... and is denied what it may not do
is "$(err_as "$A" "$PROD" "SELECT * FROM durable_tasks.claim_task('shop', 'p', 60)")" \
    '42501: permission denied for queue "shop"' "A: the producer role may not claim"
is "$(detail_as "$A" "$PROD" "SELECT * FROM durable_tasks.claim_task('shop', 'p', 60)")" \
    'durable_tasks.claim_task needs the worker privilege on queue "shop".' "A: (the DETAIL names the privilege needed)"
is "$(err_as "$A" "$MEMBER" "SELECT * FROM durable_tasks.claim_task('shop', 'p', 60)")" \
    '42501: permission denied for queue "shop"' "A: the member of the group role may not claim"
is "$(err_as "$A" "$WORK" "SELECT durable_tasks.cancel_task('shop', (SELECT task_id FROM durable_tasks.spawn_task('shop', 'w', '{}')))")" \
    '42501: permission denied for queue "shop"' "A: the worker role may not cancel"
is "$(err_as "$A" "$WORK" "SELECT durable_tasks.alter_queue('shop', '{}')")" \
    '42501: permission denied for queue "shop"' "A: the worker role may not alter the queue"
is "$(err_as "$A" "$PLAIN" "SELECT * FROM durable_tasks.claim_task('pub', 'p', 60)")" \
    '42501: permission denied for queue "pub"' "A: PUBLIC's producer privilege on pub does not let claim"
is "$(err_as "$A" "$PLAIN" "SELECT * FROM durable_tasks.spawn_tasks('shop', '[{\"task_name\": \"x\", \"params\": {}}]')")" \
    '42501: permission denied for queue "shop"' "A: a role without grants may not spawn on shop"
is "$(err_as "$A" "$PROD" "SELECT * FROM durable_tasks.spawn_task('alpha', 'x', '{}')")" \
    '42501: permission denied for queue "alpha"' "A: the producer role may not spawn on a queue it had no grant on"
is "$(err_as "$A" "$REG" "SELECT durable_tasks.create_queue('regq')")" \
    '42501: permission denied to create queue "regq"' "A: INSERT on the registry without CREATE on the schema gave no admin"
for r in "$PROD" "$WORK" "$CREATOR"; do
    is "$(err_as "$A" "$r" "SELECT count(*) FROM durable_tasks.t_shop")" \
        "42501: permission denied for table t_shop" "A: $r may not read t_shop directly"
done
is "$(err_as "$A" "$WORK" "UPDATE durable_tasks.r_shop SET state = state")" \
    "42501: permission denied for table r_shop" "A: the worker role may not update r_shop directly"
is "$(err_as "$A" "$CREATOR" "INSERT INTO durable_tasks.queues (queue_name) VALUES ('sneaky')")" \
    "42501: permission denied for table queues" "A: the creator role may not write the registry directly"
is "$(err_as "$A" "$CREATOR" "ALTER TABLE durable_tasks.t_shop ADD COLUMN x integer")" \
    "42501: must be owner of table t_shop" "A: the creator role no longer owns t_shop"

# a role that holds a queue privilege cannot be dropped
is "$(q_try "$A" "BEGIN; DROP ROLE $WORK; ROLLBACK" | sed -n 's/^ERROR:  //p')" \
    "2BP01: role \"$WORK\" cannot be dropped because some objects depend on it" \
    "A: DROP ROLE of the worker role is refused while it holds a queue privilege"

# ---------------------------------------------------------------------------
# (b) fresh install at the default version with the same queues and the
#     same privilege changes; compare the schemas with A at 1.2
# ---------------------------------------------------------------------------
q "$B" "CREATE EXTENSION durable_tasks" >/dev/null
is "$(q "$B" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" \
    "$FINAL" "B: fresh install is at version $FINAL"
# B gets the DBA's privilege changes too, rather than proacl being left out
# of the comparison: then the catalog diff and the pg_dump diff (GRANT and
# REVOKE lines, from proacl against pg_init_privs) also prove that A's
# privileges after the update are exactly those of a fresh install plus the
# DBA's changes - registry_changed() revoked from PUBLIC included.
q "$B" "$PRIV_SQL"
# and the same schema grants as A: the 1.1 DBA's, in the same order
q "$B" "GRANT USAGE, CREATE ON SCHEMA durable_tasks TO $CREATOR;
        GRANT USAGE ON SCHEMA durable_tasks TO $PROD, $WORK, $GROUP, $PLAIN, $REG"
q "$B" "SELECT durable_tasks.create_queue('alpha'); SELECT durable_tasks.create_queue('beta');
        SELECT durable_tasks.create_queue('$LONGQ'); SELECT durable_tasks.create_queue('gamma');
        SELECT durable_tasks.create_queue('delta', '{\"key_reuse\": \"never\"}');
        SELECT durable_tasks.create_queue('shop'); SELECT durable_tasks.create_queue('pub')" >/dev/null
# the queue privileges of A, granted at $FINAL; the update also revoked
# CREATE on the schema from the creator, and granted no USAGE (the roles of
# A had it, and a GRANT inside the update would hide the schema's grants from
# pg_dump): grant_queue's USAGE for PUBLIC is revoked again to match
q "$B" "SELECT durable_tasks.grant_queue(NULL, '$CREATOR', 'admin');
        SELECT durable_tasks.grant_queue('shop', '$CREATOR', 'admin');
        SELECT durable_tasks.grant_queue('shop', '$GROUP', 'producer');
        SELECT durable_tasks.grant_queue('shop', '$PROD', 'producer');
        SELECT durable_tasks.grant_queue('shop', '$WORK', 'worker');
        SELECT durable_tasks.grant_queue('pub', 'public', 'producer');
        REVOKE CREATE ON SCHEMA durable_tasks FROM $CREATOR;
        REVOKE USAGE ON SCHEMA durable_tasks FROM PUBLIC" >/dev/null
L_B_ALPHA=$(layout "$B" alpha)
is "$L_B_ALPHA" "$L_ALPHA" "B: a fresh $FINAL queue has the layout of an upgraded one"
is "$(exec_privs "$B")" "$(exec_privs "$A")" "B: the same function privileges as A"

# A relation's ACL prints as '-' when it is the default, the owner's privileges
# only: the update's ALTER TABLE ... OWNER TO and REVOKEs leave a queue table
# that had grants in 1.1 with an explicit {owner=arwdDxt/owner}, the same
# privileges as the NULL ACL of a table nobody granted anything on (pg_dump
# prints neither).  Any other privilege still shows and must match.  For the
# same reason an initial privilege (pg_init_privs, what pg_dump takes as made
# by CREATE EXTENSION and leaves out of the dump) of a table that is only the
# owner's is left out.  The schema's ACL and its initial privileges are in:
# the update's grants must not become initial privileges of the schema, or
# pg_dump leaves the USAGE of the roles out and a restore loses it.
CATALOG_SQL="
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'durable_tasks'),
     nsp AS (SELECT oid FROM pg_namespace WHERE nspname = 'durable_tasks'),
     rel AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c, nsp WHERE c.relnamespace = nsp.oid)
SELECT line FROM (
    SELECT 1 AS k, 'relation ' || relname || ' kind=' || relkind::text
           || ' acl=' || coalesce((SELECT relacl::text FROM pg_class
                                    WHERE oid = rel.oid AND relacl <> acldefault('r', relowner)), '-')
           || ' comment=' || coalesce(obj_description(rel.oid, 'pg_class'), '-') AS line
      FROM rel
    UNION ALL
    SELECT 2, 'column ' || rel.relname || '.' || a.attname || ' #' || a.attnum || ' '
              || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
              || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
              || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
              || ' collation=' || a.attcollation::regcollation::text
      FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    UNION ALL
    SELECT 3, 'constraint ' || rel.relname || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
              || ' deferrable=' || co.condeferrable
      FROM rel JOIN pg_constraint co ON co.conrelid = rel.oid
    UNION ALL
    SELECT 4, 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
      FROM rel JOIN pg_index i ON i.indrelid = rel.oid
    UNION ALL
    SELECT 5, 'trigger ' || pg_get_triggerdef(tg.oid) || ' enabled=' || tg.tgenabled::text
      FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid AND NOT tg.tgisinternal
    UNION ALL
    SELECT 6, 'function ' || p.oid::regprocedure::text || ' owner-acl=' || coalesce(p.proacl::text, '-')
              || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') || E'\n'
              || pg_get_functiondef(p.oid)
      FROM pg_proc p, nsp WHERE p.pronamespace = nsp.oid
    UNION ALL
    SELECT 7, 'type ' || t.oid::regtype::text || ' typtype=' || t.typtype::text
      FROM pg_type t, nsp WHERE t.typnamespace = nsp.oid
    UNION ALL
    SELECT 8, 'member ' || pg_describe_object(dep.classid, dep.objid, dep.objsubid)
      FROM pg_depend dep, ext
     WHERE dep.refclassid = 'pg_extension'::regclass AND dep.refobjid = ext.oid AND dep.deptype = 'e'
    UNION ALL
    SELECT 9, 'config ' || coalesce((SELECT string_agg(c::regclass::text || ' where ' || w, ', ')
                                       FROM unnest(e.extconfig, e.extcondition) AS u(c, w)), '-')
              || ' relocatable=' || e.extrelocatable || ' schema=' || e.extnamespace::regnamespace::text
      FROM pg_extension e, ext WHERE e.oid = ext.oid
    UNION ALL
    SELECT 10, 'schema acl=' || coalesce(n.nspacl::text, '-') FROM pg_namespace n, nsp WHERE n.oid = nsp.oid
    UNION ALL
    SELECT 11, 'init_privs ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) || ' ' || ip.initprivs::text
      FROM pg_init_privs ip, ext, nsp
     WHERE (ip.classoid = 'pg_namespace'::regclass AND ip.objoid = nsp.oid
            OR EXISTS (SELECT 1 FROM pg_depend dep
                        WHERE dep.refclassid = 'pg_extension'::regclass AND dep.refobjid = ext.oid
                          AND dep.deptype = 'e' AND dep.classid = ip.classoid AND dep.objid = ip.objoid))
       AND NOT (ip.classoid = 'pg_class'::regclass
                AND ip.initprivs = acldefault('r', (SELECT relowner FROM pg_class WHERE oid = ip.objoid)))
) x ORDER BY k, line"
q "$A" "$CATALOG_SQL" >"$T_SCRATCH/catalog_a.txt"
q "$B" "$CATALOG_SQL" >"$T_SCRATCH/catalog_b.txt"
if [ -s "$T_SCRATCH/catalog_a.txt" ] && diff -u "$T_SCRATCH/catalog_a.txt" "$T_SCRATCH/catalog_b.txt" >"$T_SCRATCH/catalog.diff"; then
    ok "catalog of 1.0 -> 1.1 -> $FINAL is identical to a fresh $FINAL install ($(grep -c '' "$T_SCRATCH/catalog_a.txt") lines)"
else
    not_ok "catalog of 1.0 -> 1.1 -> $FINAL is identical to a fresh $FINAL install"
    diag "$(sed 's/^/  /' "$T_SCRATCH/catalog.diff")"
fi

# the trigger on the registry is there in both (and is what invalidates caches)
is "$(q "$A" "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'durable_tasks.queues'::regclass AND NOT tgisinternal")" \
    "1" "A: the registry trigger exists after the update"

dump_schema() {
    pg_dump --schema-only -d "$1" | grep -Ev '^\\(un)?restrict ' >"$2"
}
q "$A" "DROP TABLE public.ids"      # our helper table: not part of the comparison
dump_schema "$A" "$T_SCRATCH/dump_a.sql"
dump_schema "$B" "$T_SCRATCH/dump_b.sql"
if [ -s "$T_SCRATCH/dump_a.sql" ] && diff -u "$T_SCRATCH/dump_a.sql" "$T_SCRATCH/dump_b.sql" >"$T_SCRATCH/dump.diff"; then
    ok "pg_dump --schema-only of 1.0 -> 1.1 -> $FINAL equals a fresh $FINAL install"
else
    not_ok "pg_dump --schema-only of 1.0 -> 1.1 -> $FINAL equals a fresh $FINAL install"
    diag "$(sed 's/^/  /' "$T_SCRATCH/dump.diff")"
fi
if grep -q '^CREATE TABLE durable_tasks.t_alpha ' "$T_SCRATCH/dump_a.sql"; then
    ok "the schema dump includes the queue tables"
else
    not_ok "the schema dump includes the queue tables"
fi

# The upgraded database survives pg_dump -Fc / pg_restore with all its rows.
ALL_SUMS="SELECT string_agg(c.relname || ':' || (xpath('/row/c/text()',
             query_to_xml(format('SELECT count(*) || '':'' || md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS c FROM %s t',
                                 c.oid::regclass), false, true, '')))[1]::text, ' ' ORDER BY c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'durable_tasks' AND c.relkind = 'r'"
if pg_dump -Fc -f "$T_SCRATCH/a.dump" -d "$A" 2>"$T_SCRATCH/a.dump.err" &&
    pg_restore --exit-on-error -d "$C" "$T_SCRATCH/a.dump" 2>"$T_SCRATCH/a.restore.err"; then
    ok "upgraded database: pg_dump -Fc and pg_restore succeed"
else
    not_ok "upgraded database: pg_dump -Fc and pg_restore succeed"
    diag "$(cat "$T_SCRATCH/a.dump.err" "$T_SCRATCH/a.restore.err")"
fi
is "$(q "$C" "$ALL_SUMS")" "$(q "$A" "$ALL_SUMS")" "upgraded database: every row of the registry and the queues restored"
is "$(q "$C" "SELECT s.created FROM durable_tasks.spawn_task('alpha', 'send_receipt', '{\"order\": 9}', idempotency_key => 'order-9') s")" \
    "f" "upgraded database, restored: keys still deduplicate"
is "$(q "$C" "$PROACL_SQL")" "$(q "$A" "$PROACL_SQL")" "upgraded database, restored: the function privileges"

# the queue privileges and the roles' jobs survive the dump and restore
is "$(q "$C" "$GRANTS_SQL")" "$(q "$A" "$GRANTS_SQL")" "upgraded database, restored: the queue grants"
is "$(q "$C" "$TABLE_ACL_SQL")" "$(q "$A" "$TABLE_ACL_SQL")" "upgraded database, restored: the table owners and privileges"
is "$(as_role "$C" "$PROD" "SELECT s.created FROM durable_tasks.spawn_task('shop', 'restored', '{}') s")" \
    "t" "upgraded database, restored: the producer role spawns"
is "$(as_role "$C" "$MEMBER" "SELECT s.created FROM durable_tasks.spawn_task('shop', 'restored_m', '{}') s")" \
    "t" "upgraded database, restored: the member of the group role spawns"
is "$(as_role "$C" "$PLAIN" "SELECT s.created FROM durable_tasks.spawn_tasks('pub', '[{\"task_name\": \"r\", \"params\": {}}]') s")" \
    "t" "upgraded database, restored: a role without grants spawns on pub"
is "$(as_role "$C" "$WORK" "SELECT string_agg(c.task_name, ',' ORDER BY c.task_name) FROM durable_tasks.claim_task('shop', 'wc', 60, 10) c
                             WHERE c.task_name LIKE 'restored%'")" \
    "restored,restored_m" "upgraded database, restored: the worker role claims"
is "$(err_as "$C" "$PROD" "SELECT * FROM durable_tasks.claim_task('shop', 'p', 60)")" \
    '42501: permission denied for queue "shop"' "upgraded database, restored: the producer role may not claim"
# what makes DROP ROLE refuse: queue_grants depends on the role (pg_shdepend)
SHDEP_SQL="SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
            WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND d.classid = 'pg_class'::regclass AND d.objid = 'durable_tasks.queue_grants'::regclass"
is "$(q "$A" "$SHDEP_SQL")" "$CREATOR,$GROUP,$PROD,$WORK" "A: queue_grants depends on every role holding a queue privilege but PUBLIC"
is "$(q "$C" "$SHDEP_SQL")" "$(q "$A" "$SHDEP_SQL")" "upgraded database, restored: queue_grants depends on the same roles"

# Roles are cluster-wide: what refers to them goes first.  In A the queue
# privileges are revoked (and with the last one the USAGE on the schema);
# after that, nothing is left of the worker role's 1.1 grants.
for db in "$B" "$C"; do
    dropdb --if-exists --force "$db" >/dev/null 2>&1 || diag "could not drop database $db"
done
N_GRANTS=$(q "$A" "SELECT count(*) FROM durable_tasks.list_queue_grants()")
is "$(q "$A" "SELECT count(*) FROM durable_tasks.list_queue_grants() g,
                   LATERAL durable_tasks.revoke_queue(g.queue_name, g.role_name, g.privilege);
              SELECT count(*) FROM durable_tasks.list_queue_grants()")" "$N_GRANTS
0" "A: revoke_queue of every grant"
is "$(q_try "$A" "BEGIN; DROP ROLE $WORK; ROLLBACK" | sed -n 's/^ERROR:  //p')" "" \
    "A: DROP ROLE of the worker role succeeds once its queue privileges are revoked"
for db in "$A" "$B" "$C"; do
    dropdb --if-exists --force "$db" >/dev/null 2>&1 || diag "could not drop database $db"
done
q postgres "DROP ROLE $APP; DROP ROLE $PLAIN; DROP ROLE $MEMBER;
            $(printf 'DROP ROLE %s; ' "$CREATOR" "$PROD" "$WORK" "$GROUP" "$REG")" ||
    diag "could not drop roles $APP, $PLAIN, ${APP_ROLES[*]}"

dt_finish
