#!/usr/bin/env bash
# 011_upgrade_attacks.sh - what a hostile 1.1 tenant cannot carry through
# ALTER EXTENSION durable_tasks UPDATE TO '1.2' (SPEC 8; the DO blocks
# $check$, $objects$, $shape$ and $grants$ of sql/durable_tasks--1.1--1.2.sql).
#
# The tenant role dt_t011_evil has, at 1.1, what a 1.1 DBA gave a role that
# may create queues: USAGE and CREATE on schema durable_tasks, SELECT and
# INSERT on durable_tasks.queues, and CREATE on the database.  It creates
# its own queue "eq" (so it owns t_eq and r_eq) and a schema evil_s with
# evil_s.hook(what): the planted code.  hook records current_user into
# evil_s.log (a table evil owns), raises a WARNING when it runs as another
# role than evil, and tries ALTER ROLE dt_t011_evil SUPERUSER.  The
# superuser's queue "sq" exists too.
#
# Each attack runs in a fresh database made with CREATE EXTENSION
# durable_tasks VERSION '1.1'.  For each one the superuser's update fails
# with the documented SQLSTATE and message (the DETAIL names what was
# planted), the extension stays at 1.1, evil is still no superuser, the
# planted code never ran as anyone but evil (no WARNING, no log row); once
# evil drops what it planted the update succeeds, with the same three
# guarantees.
#  1 CHECK constraint on t_eq          55000 "the tables of queue ... are not what durable_tasks made"
#  2 index expression on r_eq          55000
#  3 DEFAULT: a new column / SET DEFAULT on an existing column   55000
#  4 trigger on t_eq                   55000
#  5 rule on r_eq                      55000
#  6 policy + ENABLE ROW LEVEL SECURITY on t_eq   55000
#  7 extra column of a domain whose CHECK calls hook   55000
#  8 look-alike durable_tasks.spawn_task(text, text, text); a table
#    durable_tasks.c_ghost (no such queue)   42501 "schema "durable_tasks"
#    holds objects of other roles than the extension's owner"; and
#    durable_tasks.c_sq, the checkpoint table of the superuser's queue
#    planted before 1.2 makes it   (55000 for queue "sq")
#  9 after a clean update: evil's CREATE on the schema is gone, its USAGE
#    stays; evil is admin of eq and of every queue (it could create
#    queues); pg_init_privs has no row for the schema; a trigger the
#    superuser adds later to t_eq makes every call on eq fail with 55000
#    'queue table durable_tasks.t_eq has trigger "..."', in a new session
#    and in one that had used the queue before.
# 10 PUBLIC with SELECT+INSERT on the registry and USAGE on the schema but
#    no CREATE is admin of nothing after the update; with CREATE too it is
#    admin of every queue.
# 11 evil granted INSERT/UPDATE on its tables to itself and to another
#    role (so the owner shows in relacl): evil gets admin only, the other
#    role producer and worker.
# 12 extended statistics on t_eq with an expression calling hook (in
#    evil's schema): the update fails 55000, and a superuser's ANALYZE of
#    t_eq never runs hook as the superuser.
# 13 column privileges evil granted on its tables (to PUBLIC, to another
#    role) are gone after the update: no direct read or write.
# Roles are cluster-wide: they are named dt_t011_* and dropped at the end
# (after the databases), also when the script stops early.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

EVIL=dt_t011_evil
OTHER=dt_t011_other
PLAIN=dt_t011_plain
ROLES="$EVIL $OTHER $PLAIN"
TO='1.2'

drop_roles() {
    local db r
    for db in "${T_DBS[@]}"; do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 || diag "could not drop database $db"
    done
    for r in $ROLES; do
        psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 ||
            diag "could not drop role $r"
    done
}
# shellcheck disable=SC2317  # (called by the EXIT trap)
t011_on_exit() {
    local st=$?
    drop_roles
    (exit "$st")
    t_on_exit
}
trap t011_on_exit EXIT

for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
q postgres "CREATE ROLE $EVIL NOLOGIN; CREATE ROLE $OTHER NOLOGIN; CREATE ROLE $PLAIN NOLOGIN" >/dev/null

as_evil() {   # as_evil DB SQL: run SQL as evil, print the rows
    local db=$1
    shift
    q "$db" "SET ROLE $EVIL; $*"
}
err_as() {    # err_as DB ROLE SQL: "SQLSTATE: message" of the error SQL raises ("no error" if none)
    local db=$1 role=$2 out
    shift 2
    out=$(q_try "$db" "SET ROLE $role; $*" | sed -n 's/^ERROR:  //p' | head -n 1)
    echo "${out:-no error}"
}

# newdb DB: a fresh database at 1.1 with the superuser's queue sq, evil's
# 1.1 privileges, evil's schema with the planted code, and evil's queue eq.
newdb() {
    local db=$1
    dt_newdb "$db"
    q "$db" "CREATE EXTENSION durable_tasks VERSION '1.1';
             SELECT durable_tasks.create_queue('sq');
             GRANT USAGE, CREATE ON SCHEMA durable_tasks TO $EVIL;
             GRANT SELECT, INSERT ON durable_tasks.queues TO $EVIL;
             GRANT CREATE ON DATABASE $db TO $EVIL" >/dev/null
    as_evil "$db" "
CREATE SCHEMA evil_s;
GRANT USAGE ON SCHEMA evil_s TO PUBLIC;
CREATE TABLE evil_s.log (who name, what text);
GRANT INSERT ON evil_s.log TO PUBLIC;
CREATE FUNCTION evil_s.hook(what text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS \$f\$
BEGIN
    INSERT INTO evil_s.log VALUES (current_user, what);
    IF current_user <> '$EVIL' THEN
        RAISE WARNING 'dt_t011: planted % ran as %', what, current_user;
    END IF;
    BEGIN
        EXECUTE 'ALTER ROLE $EVIL SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN true;
END \$f\$;
-- for an index expression: immutable, calls the volatile hook
CREATE FUNCTION evil_s.hook_i(x uuid) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS \$f\$
BEGIN
    PERFORM evil_s.hook('index');
    RETURN 1;
END \$f\$;
-- for an expression of extended statistics: the same
CREATE FUNCTION evil_s.hook_s(x uuid) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS \$f\$
BEGIN
    PERFORM evil_s.hook('statistics');
    RETURN 1;
END \$f\$;
CREATE FUNCTION evil_s.trg() RETURNS trigger LANGUAGE plpgsql AS \$f\$
BEGIN
    PERFORM evil_s.hook('trigger');
    RETURN NEW;
END \$f\$;
CREATE DOMAIN evil_s.d AS text CHECK (evil_s.hook('domain'));
SELECT durable_tasks.create_queue('eq');" >/dev/null
}

EXT_VERSION="SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'"
SUPER="SELECT rolsuper FROM pg_roles WHERE rolname = '$EVIL'"
FOREIGN_RUNS="SELECT count(*) FROM evil_s.log WHERE who <> '$EVIL'"

# upd DB: the superuser's update; U_ERR = "SQLSTATE: message" ("no error"),
# U_DETAIL = the DETAIL, U_WARN = the planted code's WARNINGs
upd() {
    local out
    out=$(q_try "$1" "ALTER EXTENSION durable_tasks UPDATE TO '$TO'")
    U_ERR=$(sed -n 's/^ERROR:  //p' <<<"$out" | head -n 1)
    U_ERR=${U_ERR:-no error}
    U_DETAIL=$(sed -n 's/^DETAIL:  //p' <<<"$out" | head -n 1)
    U_WARN=$(grep 'dt_t011: planted' <<<"$out" || true)
}

# unharmed DB LABEL VERSION: the three guarantees after an update attempt
unharmed() {
    local db=$1 label=$2 version=$3
    is "$(q "$db" "$EXT_VERSION")" "$version" "$label: the extension is at $version"
    is "$(q "$db" "$SUPER")" "f" "$label: evil is still no superuser"
    is "$U_WARN$(q "$db" "$FOREIGN_RUNS")" "0" "$label: the planted code never ran as another role than evil"
}

# attack DB LABEL PLANT_SQL EXPECTED_ERR DETAIL_SUBSTRINGS('|'-separated) REMOVE_SQL
attack() {
    local db=$1 label=$2 plant=$3 expected=$4 details=$5 remove=$6 d
    newdb "$db"
    if as_evil "$db" "$plant" >/dev/null; then
        ok "$label: evil plants it at 1.1"
    else
        not_ok "$label: evil plants it at 1.1"
    fi
    upd "$db"
    is "$U_ERR" "$expected" "$label: the update fails: $expected"
    IFS='|' read -r -a d <<<"$details"
    for s in "${d[@]}"; do
        if [[ $U_DETAIL == *"$s"* ]]; then
            ok "$label: the DETAIL names it ($s)"
        else
            not_ok "$label: the DETAIL names it ($s)"
            diag "DETAIL: $U_DETAIL"
        fi
    done
    unharmed "$db" "$label, refused" "1.1"
    if as_evil "$db" "$remove" >/dev/null; then
        ok "$label: evil drops it again"
    else
        not_ok "$label: evil drops it again"
    fi
    upd "$db"
    is "$U_ERR" "no error" "$label: then the update succeeds"
    [ -z "$U_DETAIL" ] || diag "DETAIL: $U_DETAIL"
    unharmed "$db" "$label, updated" "$TO"
    # and the queue works for the superuser, without the planted code
    is "$(q "$db" "SELECT s.created FROM durable_tasks.spawn_task('eq', 'after', '{}') s;
                   SELECT count(*) FROM durable_tasks.claim_task('eq', 'w', 60, 10);
                   $FOREIGN_RUNS")" "t
1
0" "$label, updated: the superuser spawns and claims on eq, nothing planted runs"
}

SHAPE_ERR='55000: the tables of queue "eq" are not what durable_tasks made'
OBJ_ERR="42501: schema \"durable_tasks\" holds objects of other roles than the extension's owner"

# Sanity: at 1.1 the planted code does run inside a queue's calls (here
# evil's own spawn, claim and extend_claim, as evil: the superuser's would
# run it as the superuser).  The rule is ON UPDATE and added after the
# claim: the spawn and the claim are WITH queries, which PostgreSQL refuses
# on a table with DO ALSO rules (a denial of service, not code execution).
newdb dt_t011_ctl
as_evil dt_t011_ctl "
ALTER TABLE durable_tasks.t_eq ADD CONSTRAINT evil_chk CHECK (evil_s.hook('check'));
CREATE INDEX evil_idx ON durable_tasks.r_eq ((evil_s.hook_i(run_id)));
CREATE TRIGGER evil_trg BEFORE INSERT ON durable_tasks.t_eq FOR EACH ROW EXECUTE FUNCTION evil_s.trg();
ALTER TABLE durable_tasks.t_eq ADD COLUMN extra boolean DEFAULT evil_s.hook('default');
ALTER TABLE durable_tasks.t_eq ADD COLUMN note evil_s.d;
SELECT count(*) FROM durable_tasks.spawn_task('eq', 'x', '{}');
CREATE TABLE evil_s.claimed AS SELECT run_id FROM durable_tasks.claim_task('eq', 'w', 60);
CREATE RULE evil_rule AS ON UPDATE TO durable_tasks.r_eq DO ALSO SELECT evil_s.hook('rule');
SELECT count(*) FROM evil_s.claimed c, durable_tasks.extend_claim('eq', c.run_id, 60);" >/dev/null
is "$(q dt_t011_ctl "SELECT string_agg(DISTINCT what, ',' ORDER BY what) FROM evil_s.log")" \
    "check,default,domain,index,rule,trigger" \
    "control (1.1): evil's calls on its queue run each kind of planted code"

#
# 1-7: what evil attaches to its own queue's tables
#
attack dt_t011_check "1 CHECK on t_eq" \
    "ALTER TABLE durable_tasks.t_eq ADD CONSTRAINT evil_chk CHECK (evil_s.hook('check'))" \
    "$SHAPE_ERR" "constraint t_ c CHECK (evil_s.hook('check'::text))" \
    "ALTER TABLE durable_tasks.t_eq DROP CONSTRAINT evil_chk"

attack dt_t011_index "2 index expression on r_eq" \
    "CREATE INDEX evil_idx ON durable_tasks.r_eq ((evil_s.hook_i(run_id)))" \
    "$SHAPE_ERR" "index r_ USING btree (evil_s.hook_i(run_id))" \
    "DROP INDEX durable_tasks.evil_idx"

attack dt_t011_default "3a column with a DEFAULT on t_eq" \
    "ALTER TABLE durable_tasks.t_eq ADD COLUMN extra boolean DEFAULT evil_s.hook('default')" \
    "$SHAPE_ERR" "column t_ extra boolean" \
    "ALTER TABLE durable_tasks.t_eq DROP COLUMN extra"

attack dt_t011_default2 "3b SET DEFAULT on an existing column of r_eq" \
    "ALTER TABLE durable_tasks.r_eq ALTER COLUMN claimed_by SET DEFAULT evil_s.hook('default2')::text" \
    "$SHAPE_ERR" "column r_ claimed_by text|evil_s.hook('default2'::text)" \
    "ALTER TABLE durable_tasks.r_eq ALTER COLUMN claimed_by DROP DEFAULT"

attack dt_t011_trigger "4 trigger on t_eq" \
    "CREATE TRIGGER evil_trg BEFORE INSERT ON durable_tasks.t_eq FOR EACH ROW EXECUTE FUNCTION evil_s.trg()" \
    "$SHAPE_ERR" "trigger t_ evil_trg" \
    "DROP TRIGGER evil_trg ON durable_tasks.t_eq"

attack dt_t011_rule "5 rule on r_eq" \
    "CREATE RULE evil_rule AS ON UPDATE TO durable_tasks.r_eq DO ALSO SELECT evil_s.hook('rule')" \
    "$SHAPE_ERR" "rule r_ evil_rule" \
    "DROP RULE evil_rule ON durable_tasks.r_eq"

attack dt_t011_policy "6 policy + row-level security on t_eq" \
    "CREATE POLICY evil_pol ON durable_tasks.t_eq USING (evil_s.hook('policy'));
     ALTER TABLE durable_tasks.t_eq ENABLE ROW LEVEL SECURITY" \
    "$SHAPE_ERR" "policy t_ evil_pol|rel t_ r p f t f" \
    "DROP POLICY evil_pol ON durable_tasks.t_eq;
     ALTER TABLE durable_tasks.t_eq DISABLE ROW LEVEL SECURITY"

attack dt_t011_domain "7 column of a domain with a CHECK on t_eq" \
    "ALTER TABLE durable_tasks.t_eq ADD COLUMN note evil_s.d" \
    "$SHAPE_ERR" "column t_ note evil_s.d" \
    "ALTER TABLE durable_tasks.t_eq DROP COLUMN note"

#
# 8: objects of evil's in the schema
#
attack dt_t011_overload "8a look-alike durable_tasks.spawn_task(text, text, text)" \
    "CREATE FUNCTION durable_tasks.spawn_task(queue_name text, task_name text, params text)
     RETURNS boolean LANGUAGE sql AS \$\$ SELECT evil_s.hook('overload') \$\$" \
    "$OBJ_ERR" "Objects: function |spawn_task(text,text,text)." \
    "DROP FUNCTION durable_tasks.spawn_task(text, text, text)"

attack dt_t011_ghost "8b table durable_tasks.c_ghost (no such queue)" \
    "CREATE TABLE durable_tasks.c_ghost (x integer)" \
    "$OBJ_ERR" "Objects: table |c_ghost." \
    "DROP TABLE durable_tasks.c_ghost"

attack dt_t011_both "8c both at once" \
    "CREATE FUNCTION durable_tasks.spawn_task(queue_name text, task_name text, params text)
     RETURNS boolean LANGUAGE sql AS \$\$ SELECT evil_s.hook('overload') \$\$;
     CREATE TABLE durable_tasks.c_ghost (x integer)" \
    "$OBJ_ERR" "spawn_task(text,text,text), table |c_ghost." \
    "DROP FUNCTION durable_tasks.spawn_task(text, text, text); DROP TABLE durable_tasks.c_ghost"

attack dt_t011_csq "8d table durable_tasks.c_sq (the superuser's queue, before 1.2 makes it)" \
    "CREATE TABLE durable_tasks.c_sq (task_id uuid, step_name text, state jsonb, run_id uuid,
                                      attempt integer, updated_at timestamptz)" \
    "$OBJ_ERR" "Objects: table |c_sq." \
    "DROP TABLE durable_tasks.c_sq"

#
# 9: after a clean update
#
OK=dt_t011_ok
newdb "$OK"
upd "$OK"
is "$U_ERR" "no error" "9: the update of a database where evil planted nothing succeeds"
unharmed "$OK" "9" "$TO"
is "$(q "$OK" "SELECT has_schema_privilege('$EVIL', 'durable_tasks', 'CREATE'),
                      has_schema_privilege('$EVIL', 'durable_tasks', 'USAGE')")" "f|t" \
    "9: evil's CREATE on the schema is gone, its USAGE stays"
is "$(q "$OK" "SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a
                WHERE n.nspname = 'durable_tasks' AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner")" "0" \
    "9: no role but the schema's owner has CREATE on it"
GRANTS_SQL="SELECT string_agg(coalesce(queue_name, '*') || ':' || role_name || ':' || privilege, ' ')
              FROM durable_tasks.list_queue_grants()"
is "$(q "$OK" "$GRANTS_SQL")" "*:$EVIL:admin eq:$EVIL:admin" \
    "9: evil is admin of its queue and of every queue"
is "$(as_evil "$OK" "SELECT durable_tasks.create_queue('eq2');
                     SELECT s.created FROM durable_tasks.spawn_task('sq', 'x', '{}') s")" "
t" "9: evil creates a queue and spawns on the superuser's queue"
is "$(q "$OK" "SELECT count(*) FROM pg_init_privs
                WHERE classoid = 'pg_namespace'::regclass AND objoid = 'durable_tasks'::regnamespace")" "0" \
    "9: pg_init_privs has no row for the schema"
is "$(q "$OK" "SELECT count(*) FROM pg_class
                WHERE relnamespace = 'durable_tasks'::regnamespace AND relkind = 'r'
                  AND relowner <> (SELECT extowner FROM pg_extension WHERE extname = 'durable_tasks')")" "0" \
    "9: every table of the schema belongs to the extension's owner"
is "$(err_as "$OK" "$EVIL" "ALTER TABLE durable_tasks.t_eq ADD CONSTRAINT c CHECK (evil_s.hook('late'))")" \
    "42501: must be owner of table t_eq" "9: evil can no longer attach anything to t_eq"
is "$(err_as "$OK" "$EVIL" "CREATE TABLE durable_tasks.c_late (x integer)")" \
    "42501: permission denied for schema durable_tasks" "9: evil can no longer create objects in the schema"

# a session that used eq before the trigger exists (its cache is warm)
WARM_IN="$T_SCRATCH/warm.in"
WARM_OUT="$T_SCRATCH/warm.out"
mkfifo "$WARM_IN"
psql -X -A -t -q -v VERBOSITY=verbose -d "$OK" <"$WARM_IN" >"$WARM_OUT" 2>&1 &
WARM_PID=$!
exec 7>"$WARM_IN"
echo "SELECT 'warm:' || s.created FROM durable_tasks.spawn_task('eq', 'warm', '{}') s;" >&7
for _ in $(seq 1 100); do grep -q '^warm:' "$WARM_OUT" && break; sleep 0.1; done
is "$(cat "$WARM_OUT")" "warm:true" "9: a second session spawns on eq before the trigger"

q "$OK" "CREATE FUNCTION public.su_trg() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NEW; END \$f\$;
         CREATE TRIGGER su_trg AFTER INSERT ON durable_tasks.t_eq FOR EACH ROW EXECUTE FUNCTION public.su_trg()" >/dev/null
TRG_ERR='55000: queue table durable_tasks.t_eq has trigger "su_trg"'
TID=$(q "$OK" "SELECT task_id FROM durable_tasks.t_eq LIMIT 1")
RID=$(q "$OK" "SELECT run_id FROM durable_tasks.r_eq LIMIT 1")
for call in "SELECT * FROM durable_tasks.spawn_task('eq', 'x', '{}')" \
    "SELECT * FROM durable_tasks.spawn_tasks('eq', '[{\"task_name\": \"x\", \"params\": {}}]')" \
    "SELECT * FROM durable_tasks.get_task('eq', '$TID')" \
    "SELECT * FROM durable_tasks.claim_task('eq', 'w', 60)" \
    "SELECT * FROM durable_tasks.extend_claim('eq', '$RID', 60)" \
    "SELECT * FROM durable_tasks.complete_run('eq', '$RID', '{}')" \
    "SELECT * FROM durable_tasks.fail_run('eq', '$RID', '{}')" \
    "SELECT * FROM durable_tasks.cancel_task('eq', '$TID')" \
    "SELECT * FROM durable_tasks.get_checkpoints('eq', '$TID')" \
    "SELECT durable_tasks.alter_queue('eq', '{\"dedup_ttl_seconds\": 60}')"; do
    fn=$(sed -E 's/^SELECT (\* FROM )?durable_tasks\.([a-z_]+).*/\2/' <<<"$call")
    is "$(err_as "$OK" postgres "$call")" "$TRG_ERR" "9: with the superuser's trigger on t_eq, $fn fails 55000 (superuser, new session)"
done
is "$(err_as "$OK" "$EVIL" "SELECT * FROM durable_tasks.spawn_task('eq', 'x', '{}')")" "$TRG_ERR" \
    "9: and so does evil's spawn_task"
echo "SELECT 'warm:' || s.created FROM durable_tasks.spawn_task('eq', 'warm2', '{}') s;" >&7
echo "SELECT 'done';" >&7
for _ in $(seq 1 100); do grep -q '^done' "$WARM_OUT" && break; sleep 0.1; done
is "$(sed -n 's/^ERROR:  //p' "$WARM_OUT" | head -n 1)" "$TRG_ERR" \
    "9: the session that had used eq before gets the same error"
exec 7>&-
wait "$WARM_PID" 2>/dev/null || true
is "$(q "$OK" "SELECT durable_tasks.create_queue('sq'); SELECT count(*) FROM durable_tasks.spawn_task('sq', 'x', '{}')")" \
    "
1" "9: other queues are not affected"
q "$OK" "DROP TRIGGER su_trg ON durable_tasks.t_eq" >/dev/null
is "$(q "$OK" "SELECT s.created FROM durable_tasks.spawn_task('eq', 'x', '{}') s")" "t" \
    "9: once the trigger is dropped, eq works again"

#
# 10: PUBLIC
#
PUB=dt_t011_pub
dt_newdb "$PUB"
q "$PUB" "CREATE EXTENSION durable_tasks VERSION '1.1';
          SELECT durable_tasks.create_queue('sq');
          GRANT SELECT, INSERT ON durable_tasks.queues TO PUBLIC;
          GRANT USAGE ON SCHEMA durable_tasks TO PUBLIC" >/dev/null
upd "$PUB"
is "$U_ERR" "no error" "10a: PUBLIC with SELECT+INSERT on the registry, USAGE but no CREATE: the update succeeds"
is "$(q "$PUB" "SELECT count(*) FROM durable_tasks.list_queue_grants() WHERE role_name = 'public'")" "0" \
    "10a: PUBLIC is admin of nothing (no public row in list_queue_grants())"
is "$(q "$PUB" "SELECT count(*) FROM durable_tasks.list_queue_grants()")" "0" "10a: no grant at all"
is "$(err_as "$PUB" "$PLAIN" "SELECT durable_tasks.create_queue('pq')")" \
    '42501: permission denied to create queue "pq"' "10a: a plain role may not create a queue"
is "$(err_as "$PUB" "$PLAIN" "SELECT * FROM durable_tasks.spawn_task('sq', 'x', '{}')")" \
    '42501: permission denied for queue "sq"' "10a: a plain role may not spawn on sq"
is "$(err_as "$PUB" "$PLAIN" "SELECT count(*) FROM durable_tasks.queues")" \
    '42501: permission denied for table queues' "10a: PUBLIC's grants on the registry are gone"

PUBC=dt_t011_pubc
dt_newdb "$PUBC"
q "$PUBC" "CREATE EXTENSION durable_tasks VERSION '1.1';
           SELECT durable_tasks.create_queue('sq');
           GRANT SELECT, INSERT ON durable_tasks.queues TO PUBLIC;
           GRANT USAGE, CREATE ON SCHEMA durable_tasks TO PUBLIC" >/dev/null
upd "$PUBC"
is "$U_ERR" "no error" "10b: PUBLIC with CREATE on the schema too: the update succeeds"
is "$(q "$PUBC" "$GRANTS_SQL")" "*:public:admin" "10b: PUBLIC is admin of every queue (queue_name NULL)"
is "$(q "$PUBC" "SELECT has_schema_privilege('$PLAIN', 'durable_tasks', 'CREATE'),
                        has_schema_privilege('$PLAIN', 'durable_tasks', 'USAGE')")" "f|t" \
    "10b: PUBLIC's CREATE on the schema is gone, its USAGE stays"
is "$(err_as "$PUBC" "$PLAIN" "SELECT durable_tasks.create_queue('pq'); SELECT 'created'")" "no error" \
    "10b: a plain role creates a queue (PUBLIC is admin of every queue)"

#
# 11: evil's explicit grants on its own tables, to itself and to another role
#
SELF=dt_t011_self
newdb "$SELF"
as_evil "$SELF" "GRANT INSERT, UPDATE ON durable_tasks.t_eq, durable_tasks.r_eq TO $EVIL, $OTHER" >/dev/null
is "$(q "$SELF" "SELECT string_agg(DISTINCT c.relname || ':' || a.privilege_type, ',' ORDER BY c.relname || ':' || a.privilege_type)
                   FROM pg_class c, aclexplode(c.relacl) a
                  WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relname IN ('t_eq', 'r_eq')
                    AND a.grantee = '$EVIL'::regrole AND a.privilege_type IN ('INSERT', 'UPDATE')")" \
    "r_eq:INSERT,r_eq:UPDATE,t_eq:INSERT,t_eq:UPDATE" "11: at 1.1 evil's own INSERT and UPDATE show in relacl"
upd "$SELF"
is "$U_ERR" "no error" "11: the update succeeds"
is "$(q "$SELF" "$GRANTS_SQL")" "*:$EVIL:admin eq:$EVIL:admin eq:$OTHER:producer eq:$OTHER:worker" \
    "11: evil is admin only (no producer/worker rows), the other role producer and worker"

#
# 12: extended statistics on t_eq with an expression calling evil's code.
# ANALYZE (a superuser's, or autovacuum's) evaluates the expression as the
# table's owner: after the update that is the extension's owner.
#
STX=dt_t011_stats
newdb "$STX"
as_evil "$STX" "SELECT count(*) FROM durable_tasks.spawn_task('eq', 'x', '{}');
                CREATE STATISTICS evil_s.evil_st ON (evil_s.hook_s(task_id)), (task_id) FROM durable_tasks.t_eq" >/dev/null
upd "$STX"
is "$U_ERR" "$SHAPE_ERR" "12 statistics on t_eq: the update fails: $SHAPE_ERR"
[ -z "$U_DETAIL" ] || diag "DETAIL: $U_DETAIL"
unharmed "$STX" "12 statistics on t_eq, refused" "1.1"
# whether or not the update went through: a superuser's ANALYZE of t_eq
U_WARN=$(q_try "$STX" "ANALYZE durable_tasks.t_eq" | grep 'dt_t011: planted' || true)
is "$(q "$STX" "$SUPER")" "f" "12 statistics on t_eq: after a superuser's ANALYZE of t_eq evil is still no superuser"
is "$U_WARN$(q "$STX" "$FOREIGN_RUNS")" "0" "12 statistics on t_eq: a superuser's ANALYZE never runs the planted code as another role than evil"
q "$STX" "ALTER ROLE $EVIL NOSUPERUSER" >/dev/null
as_evil "$STX" "DROP STATISTICS evil_s.evil_st" >/dev/null
upd "$STX"
is "$U_ERR" "no error" "12 statistics on t_eq: once dropped, the update succeeds"
is "$(q "$STX" "$EXT_VERSION")" "$TO" "12 statistics on t_eq: the extension is at $TO"

#
# 13: column privileges evil gave on its tables (pg_attribute.attacl, not
# relacl): after the update no role but the owner may read or write the
# queue tables directly, so they are gone too.
#
COL=dt_t011_cols
newdb "$COL"
as_evil "$COL" "GRANT SELECT (params) ON durable_tasks.t_eq TO PUBLIC;
                GRANT UPDATE (state) ON durable_tasks.r_eq TO $OTHER" >/dev/null
upd "$COL"
is "$U_ERR" "no error" "13 column privileges: the update succeeds"
is "$(q "$COL" "SELECT coalesce(string_agg(c.relname || '.' || a.attname || '=' || a.attacl::text, ' '), '(none)')
                  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                 WHERE c.relnamespace = 'durable_tasks'::regnamespace AND a.attacl IS NOT NULL")" "(none)" \
    "13 column privileges: no column of a table of the schema has privileges left"
# $OTHER gets USAGE on the schema by a grant on another queue
q "$COL" "SELECT durable_tasks.grant_queue('sq', '$OTHER', 'producer')" >/dev/null
is "$(err_as "$COL" "$OTHER" "SELECT params FROM durable_tasks.t_eq")" "42501: permission denied for table t_eq" \
    "13 column privileges: PUBLIC's column SELECT on t_eq is gone"
is "$(err_as "$COL" "$OTHER" "UPDATE durable_tasks.r_eq SET state = 'cancelled'")" "42501: permission denied for table r_eq" \
    "13 column privileges: the other role's column UPDATE on r_eq is gone"

drop_roles
dt_finish
