#!/usr/bin/env bash
# 020_dump_restore.sh - pg_dump -Fc / pg_restore of a database using durable_tasks.
#
# Queues with non-default options, tasks in several states, keys held and
# released.  After pg_restore (serial, and parallel with -j 2) into new
# databases: the registry rows, the queue tables and every row are back,
# byte for byte (checksums); the unique index is valid; keys still
# deduplicate (same task back, created = false); the queues' options still
# apply; task_fingerprint gives the golden values computed before the dump.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

S=dt_t020_src
R=dt_t020_restored
P=dt_t020_parallel
dt_newdb "$S"
dt_newdb "$R"
dt_newdb "$P"

q "$S" "CREATE EXTENSION durable_tasks" >/dev/null
q "$S" "
SELECT durable_tasks.create_queue('orders', '{\"key_reuse\": \"after_finish\", \"dedup_ttl_seconds\": 3600, \"on_params_mismatch\": \"error\"}');
SELECT durable_tasks.create_queue('mail', '{\"key_reuse\": \"never\"}');
SELECT durable_tasks.create_queue('plain');
SELECT durable_tasks.alter_queue('plain', '{\"dedup_ttl_seconds\": 60}');" >/dev/null

LISTQ="SELECT string_agg(queue_name || ':' || key_reuse || ':' || coalesce(dedup_ttl_seconds::text, 'null')
                || ':' || on_params_mismatch, ' ' ORDER BY queue_name) FROM durable_tasks.list_queues()"
is "$(q "$S" "$LISTQ")" \
    "mail:never:null:ignore orders:after_finish:3600:error plain:after_failure:60:ignore" \
    "source: queues with non-default options"

# Tasks.  Labels go to public.labels (a user table: dumped and restored too).
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$S" 2>&1 <<'SQL' | grep -v '^$'
CREATE TABLE public.labels (label text PRIMARY KEY, queue text, task_id uuid, run_id uuid);
-- orders: k1 held by a running task
INSERT INTO labels SELECT 'k1', 'orders', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('orders', 'charge', '{"amount": 20}', idempotency_key => 'order-1') s;
SELECT 'claim_k1:' || (c.run_id = (SELECT run_id FROM labels WHERE label = 'k1'))
  FROM durable_tasks.claim_task('orders', 'w1', 3600) c;
-- (1.2) a checkpoint of k1's run, kept by the dump like every queue row
SELECT durable_tasks.set_checkpoint('orders', (SELECT run_id FROM labels WHERE label = 'k1'),
                                    'authorize', '{"auth": "A1"}') \g /dev/null
-- orders: k3 failed once (max_attempts 1); under after_finish the next
-- spawn releases the key from it and creates a new holder
INSERT INTO labels SELECT 'k3_old', 'orders', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('orders', 'refund', '{"amount": 30}', idempotency_key => 'order-3',
                                options => '{"max_attempts": 1}') s;
SELECT 'claim_k3:' || count(*) FROM durable_tasks.claim_task('orders', 'w1', 3600, 5) c
 WHERE c.run_id = (SELECT run_id FROM labels WHERE label = 'k3_old');
SELECT 'fail_k3:' || f.task_state
  FROM durable_tasks.fail_run('orders', (SELECT run_id FROM labels WHERE label = 'k3_old'), '{"error": "x"}') f;
INSERT INTO labels SELECT 'k3_new', 'orders', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('orders', 'refund', '{"amount": 30}', idempotency_key => 'order-3') s;
SELECT 'k3_new_created:' || ((SELECT task_id FROM labels WHERE label = 'k3_new')
                            <> (SELECT task_id FROM labels WHERE label = 'k3_old'));
-- orders: k2 held by a pending task
INSERT INTO labels SELECT 'k2', 'orders', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('orders', 'charge', '{"amount": 10}', idempotency_key => 'order-2') s;
-- mail (never): a completed holder keeps its key for good
INSERT INTO labels SELECT 'm1', 'mail', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('mail', 'welcome', '{"user": 7}', only_once => true,
                                options => '{"headers": {"lang": "fr"}}') s;
SELECT 'claim_m1:' || count(*) FROM durable_tasks.claim_task('mail', 'w2', 3600) c
 WHERE c.run_id = (SELECT run_id FROM labels WHERE label = 'm1');
SELECT 'done' FROM durable_tasks.complete_run('mail', (SELECT run_id FROM labels WHERE label = 'm1'), '{"sent": true}');
-- plain: only_once with awkward params, unkeyed tasks, a delayed one,
-- a retried one, a parent/child pair
INSERT INTO labels SELECT 'p_once', 'plain', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('plain', 'crunch',
        '{"z": [1.0, 2.50, {"b": null, "a": "\u00e9t\u00e9"}], "a": {"y": true, "x": -0.0}, "n": 1e3}',
        only_once => true) s;
INSERT INTO labels SELECT 'p_free' || i, 'plain', s.task_id, s.run_id
  FROM generate_series(1, 3) i, durable_tasks.spawn_task('plain', 'free', jsonb_build_object('i', i)) s;
INSERT INTO labels SELECT 'p_delayed', 'plain', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('plain', 'later', '{}', options => '{"delay_seconds": 86400}') s;
INSERT INTO labels SELECT 'p_child', 'plain', s.task_id, s.run_id
  FROM durable_tasks.spawn_task('plain', 'child', '{}',
        options => jsonb_build_object('parent_task_id', (SELECT task_id FROM labels WHERE label = 'p_free1'))) s;
SELECT 'state:' || label || ':' || g.state || ':' || coalesce(g.idempotency_key IS NOT NULL, false)
       || ':' || (g.key_released_at IS NOT NULL)
  FROM labels l, durable_tasks.get_task(l.queue, l.task_id) g ORDER BY label;
SQL
)
is "$out" "claim_k1:true
claim_k3:1
fail_k3:failed
k3_new_created:true
claim_m1:1
done
state:k1:running:true:false
state:k2:pending:true:false
state:k3_new:pending:true:false
state:k3_old:failed:true:true
state:m1:completed:true:false
state:p_child:pending:false:false
state:p_delayed:pending:false:false
state:p_free1:pending:false:false
state:p_free2:pending:false:false
state:p_free3:pending:false:false
state:p_once:pending:true:false" "source: tasks in place (held and released keys)"

# Golden fingerprints, computed before the dump; also the stored only_once keys.
FP_SQL="SELECT string_agg(durable_tasks.task_fingerprint(n, p), ' ' ORDER BY i) FROM (VALUES
  (1, 'crunch', '{\"z\": [1.0, 2.50, {\"b\": null, \"a\": \"\\u00e9t\\u00e9\"}], \"a\": {\"y\": true, \"x\": -0.0}, \"n\": 1e3}'::jsonb),
  (2, 'welcome', '{\"user\": 7}'),
  (3, 'x', '{}'),
  (4, 'x', '[1, \"a\", null, {}]'),
  (5, 'x', '\"scalar\"'),
  (6, 'x', '{\"a\": 1.000, \"b\": 100e-2}')) v(i, n, p)"
FP_BEFORE=$(q "$S" "$FP_SQL")
is "$(wc -w <<<"$FP_BEFORE" | tr -d ' ')" "6" "source: six fingerprints computed"
is "$(q "$S" "SELECT durable_tasks.task_fingerprint('x', '{\"a\": 1, \"b\": 1}')")" \
   "$(cut -d' ' -f6 <<<"$FP_BEFORE")" "source: task_fingerprint is equal for jsonb-equal params (1.000, 100e-2 vs 1)"
KEYS_SQL="SELECT string_agg(l.label || '=' || t.idempotency_key, ' ' ORDER BY l.label)
          FROM labels l JOIN durable_tasks.t_plain t USING (task_id) WHERE l.label = 'p_once'
          UNION ALL
          SELECT string_agg(l.label || '=' || t.idempotency_key, ' ' ORDER BY l.label)
          FROM labels l JOIN durable_tasks.t_mail t USING (task_id)"
KEYS_BEFORE=$(q "$S" "$KEYS_SQL")
is "$(q "$S" "SELECT t.idempotency_key = durable_tasks.task_fingerprint('welcome', '{\"user\": 7}')
               FROM durable_tasks.t_mail t")" "t" "source: only_once key is task_fingerprint(task_name, params)"

# Checksums of every row of the registry and of the queue tables.
SUM_SQL="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT c.relname || ':' || (xpath('/row/c/text()',
             query_to_xml(format('SELECT count(*) || '':'' || md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS c FROM %s t',
                                 c.oid::regclass), false, true, '')))[1]::text AS x
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'durable_tasks' AND c.relkind = 'r'
    UNION ALL
    SELECT 'labels:' || (SELECT count(*) || ':' || md5(string_agg(l::text, ',' ORDER BY l.label)) FROM public.labels l)) s"
SUM_BEFORE=$(q "$S" "$SUM_SQL")
diag "source rows: $(tr '\n' ' ' <<<"$SUM_BEFORE")"
is "$(wc -l <<<"$SUM_BEFORE" | tr -d ' ')" "18" "source: registry, grants, 3 queues x 5 tables and labels checksummed"

DUMP="$T_SCRATCH/src.dump"
if pg_dump -Fc -f "$DUMP" -d "$S" 2>"$T_SCRATCH/dump.err"; then
    ok "pg_dump -Fc"
else
    not_ok "pg_dump -Fc"
    diag "$(cat "$T_SCRATCH/dump.err")"
fi
# the registry rows are in the dump (pg_extension_config_dump)
if pg_restore -f - --data-only -t queues "$DUMP" 2>/dev/null | grep -q '^orders	'; then
    ok "the dump carries the registry rows"
else
    not_ok "the dump carries the registry rows"
fi

restore() {   # restore DB [pg_restore options]
    local db=$1
    shift
    if pg_restore --exit-on-error "$@" -d "$db" "$DUMP" >"$T_SCRATCH/restore-$db.log" 2>&1; then
        ok "pg_restore $* into $db, no error"
    else
        not_ok "pg_restore $* into $db, no error"
        diag "$(cat "$T_SCRATCH/restore-$db.log")"
    fi
}
restore "$R"
restore "$P" -j 2

for db in "$R" "$P"; do
    is "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" "$(sed -n "s/^default_version = '\(.*\)'/\1/p" durable_tasks.control)" "$db: extension at the default version"
    is "$(q "$db" "$LISTQ")" "$(q "$S" "$LISTQ")" "$db: registry rows and queue options restored"
    SUM_AFTER=$(q "$db" "$SUM_SQL")
    if [ "$SUM_AFTER" = "$SUM_BEFORE" ]; then
        ok "$db: registry, queue tables and all their rows identical to the source"
    else
        not_ok "$db: registry, queue tables and all their rows identical to the source"
        diag "$(diff <(echo "$SUM_BEFORE") <(echo "$SUM_AFTER"))"
    fi
    is "$(q "$db" "SELECT string_agg(c.relname || ':' || i.indisvalid || ':'
                          || pg_get_expr(i.indpred, i.indrelid), ' ' ORDER BY c.relname)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'durable_tasks' AND i.indisunique AND i.indpred IS NOT NULL
                     AND pg_get_indexdef(i.indexrelid) LIKE '%(idempotency_key)%'")" \
        "$(for t in t_mail t_orders t_plain; do printf '%s:true:((idempotency_key IS NOT NULL) AND (key_released_at IS NULL)) ' $t; done | sed 's/ $//')" \
        "$db: the partial unique key indexes are back and valid"
    is "$(q "$db" "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'durable_tasks.queues'::regclass AND NOT tgisinternal")" \
        "1" "$db: registry trigger present"
    is "$(q "$db" "SELECT extconfig::regclass[]::text FROM pg_extension WHERE extname = 'durable_tasks'")" \
        "{durable_tasks.queues,durable_tasks.queue_grants}" "$db: registry and grants still marked as extension config tables"
    is "$(q "$db" "$FP_SQL")" "$FP_BEFORE" "$db: task_fingerprint gives the golden values"
    is "$(q "$db" "$KEYS_SQL")" "$KEYS_BEFORE" "$db: stored only_once keys unchanged"
done
diag "fingerprints: $FP_BEFORE"

# Keys still deduplicate after the restore (on R), and the queue options apply.
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$R" 2>&1 <<'SQL' | grep -v '^$'
CREATE TEMP TABLE s AS
SELECT 'k1' AS l, * FROM durable_tasks.spawn_task('orders', 'charge', '{"amount": 20}', idempotency_key => 'order-1');
INSERT INTO s SELECT 'k2', * FROM durable_tasks.spawn_task('orders', 'charge', '{"amount": 10}', idempotency_key => 'order-2');
INSERT INTO s SELECT 'k3_new', * FROM durable_tasks.spawn_task('orders', 'refund', '{"amount": 30}', idempotency_key => 'order-3');
INSERT INTO s SELECT 'm1', * FROM durable_tasks.spawn_task('mail', 'welcome', '{"user": 7}', only_once => true);
INSERT INTO s SELECT 'p_once', * FROM durable_tasks.spawn_task('plain', 'crunch',
        '{"n": 1000, "a": {"x": 0, "y": true}, "z": [1, 2.5, {"a": "\u00e9t\u00e9", "b": null}]}', only_once => true);
SELECT s.l || ':' || s.created || ':' || s.state || ':' || (s.task_id = l.task_id) || ':' || (s.run_id = t.last_run_id)
  FROM s JOIN labels l ON l.label = s.l
  JOIN LATERAL durable_tasks.get_task(l.queue, l.task_id) t ON true
 ORDER BY s.l;
SELECT 'held:' || count(*) || '/' || count(DISTINCT idempotency_key)
  FROM (SELECT idempotency_key FROM durable_tasks.t_orders WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL
        UNION ALL
        SELECT idempotency_key FROM durable_tasks.t_mail WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL) k;
SQL
)
is "$out" "k1:false:running:true:true
k2:false:pending:true:true
k3_new:false:pending:true:true
m1:false:completed:true:true
p_once:false:pending:true:true
held:4/4" "restored: keys held before the dump still return their task (created = f)"

# on_params_mismatch = 'error' came back with the queue: the spawns above
# used the holders' own params; other params are refused.
err=$(q_try "$R" "SELECT * FROM durable_tasks.spawn_task('orders', 'charge', '{\"amount\": 99}', idempotency_key => 'order-1')")
if grep -q 'TD001' <<<"$err"; then
    ok "restored: queue option on_params_mismatch=error still applies (TD001)"
else
    not_ok "restored: queue option on_params_mismatch=error still applies (TD001)"
    diag "$err"
fi

# key_reuse of the restored queues: mail = never keeps its completed holder
# (checked above); orders = after_finish: complete k1 (running), then the key
# is free again.
out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$R" 2>&1 <<'SQL' | grep -v '^$'
SELECT 'done' FROM durable_tasks.complete_run('orders', (SELECT run_id FROM labels WHERE label = 'k1'), '{}');
SELECT 'respawn:' || s.created || ':' || (s.task_id <> (SELECT task_id FROM labels WHERE label = 'k1'))
  FROM durable_tasks.spawn_task('orders', 'charge', '{"amount": 20}', idempotency_key => 'order-1') s;
SELECT 'old_released:' || (key_released_at IS NOT NULL) FROM durable_tasks.t_orders
 WHERE task_id = (SELECT task_id FROM labels WHERE label = 'k1');
SELECT 'claim:' || count(*) FROM durable_tasks.claim_task('plain', 'w9', 60, 10) c;
SELECT 'unkeyed:' || s.created FROM durable_tasks.spawn_task('plain', 'free', '{"i": 1}') s;
SQL
)
is "$out" "done
respawn:true:true
old_released:true
claim:5
unkeyed:true" "restored: runs complete, after_finish releases, claims and unkeyed spawns work"

# the released key of k3_old stayed released; the key index still rejects a
# second holder written behind the extension's back
err=$(q_try "$R" "UPDATE durable_tasks.t_orders SET key_released_at = NULL
                  WHERE task_id = (SELECT task_id FROM labels WHERE label = 'k3_old')")
if grep -q '23505' <<<"$err"; then
    ok "restored: the unique key index is enforced"
else
    not_ok "restored: the unique key index is enforced"
    diag "$err"
fi

# A schema-only dump of the restored database equals the source's.
pg_dump --schema-only -d "$S" | grep -Ev '^\\(un)?restrict ' >"$T_SCRATCH/s.sql"
pg_dump --schema-only -d "$P" | grep -Ev '^\\(un)?restrict ' >"$T_SCRATCH/p.sql"
if diff -u "$T_SCRATCH/s.sql" "$T_SCRATCH/p.sql" >"$T_SCRATCH/schema.diff"; then
    ok "schema of the restored database equals the source's"
else
    not_ok "schema of the restored database equals the source's"
    diag "$(cat "$T_SCRATCH/schema.diff")"
fi

dt_finish
