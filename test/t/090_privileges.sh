#!/usr/bin/env bash
# 090_privileges.sh - the parts of the privileges contract (SPEC 8) that need
# databases of their own; sql/privileges.sql has the role x action table.
#
# (a) Schema squatting: a non-superuser role with CREATE on a fresh database
#     creates schema durable_tasks before the extension is installed.  A
#     superuser's CREATE EXTENSION durable_tasks then fails 42501 'schema
#     "durable_tasks" is not owned by the extension's owner' (the detail
#     names the squatter), leaves no extension and puts nothing into the
#     schema.  After ALTER SCHEMA ... OWNER TO the superuser it installs, and
#     the squatter has no access to it.
# (b) pg_dump -Fc / pg_restore (serial, and -j 2) of a database with queue
#     grants (per queue, on every queue, to PUBLIC, to a group): the grants
#     come back (list_queue_grants equal before/after), with them the
#     schema USAGE, and they work: each role may do what its privilege
#     allows and is refused (42501, exact message and detail) the rest; the
#     queue tables still belong to the extension's owner and stay closed to
#     direct access.  A role whose grant came back with the restore cannot
#     be dropped while it holds it (like one granted by grant_queue).
# (c) Each backend caches the grants: a second session that keeps its
#     connection sees a revoke, a grant, a revoked membership and a queue
#     dropped and created again at once.
# Roles are cluster-wide: they are named pv_t090_* and dropped at the end
# (after the databases), also when the script stops early.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

SQ=dt_t090_squat
S=dt_t090_src
R=dt_t090_restored
P=dt_t090_parallel
ROLES="pv_t090_squatter pv_t090_prod pv_t090_work pv_t090_adm pv_t090_all pv_t090_grp pv_t090_mem"

drop_roles() {
    local db r
    for db in "$SQ" "$S" "$R" "$P"; do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 || diag "could not drop database $db"
    done
    for r in $ROLES; do
        psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 ||
            diag "could not drop role $r"
    done
}
# shellcheck disable=SC2317  # (called by the EXIT trap)
t090_on_exit() {
    local st=$?
    drop_roles
    (exit "$st")
    t_on_exit
}
trap t090_on_exit EXIT

for db in "$SQ" "$S" "$R" "$P"; do dt_newdb "$db"; done
drop_roles_only() {
    local r
    for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
drop_roles_only
q postgres "CREATE ROLE pv_t090_squatter; CREATE ROLE pv_t090_prod; CREATE ROLE pv_t090_work;
            CREATE ROLE pv_t090_adm; CREATE ROLE pv_t090_all; CREATE ROLE pv_t090_grp;
            CREATE ROLE pv_t090_mem IN ROLE pv_t090_grp" >/dev/null

# t_err(sql): 'no error', or 'SQLSTATE message' / 'DETAIL: ...' (the
# detail line only when there is one).
ERRFN=$(cat <<'SQL'
CREATE FUNCTION public.t_err(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN st || ' ' || m || coalesce(E'\nDETAIL: ' || nullif(d, ''), '');
END $f$;
SQL
)
for db in "$SQ" "$S"; do q "$db" "$ERRFN" >/dev/null; done

err() {   # err DB [ROLE] SQL: the error SQL raises as ROLE (see t_err)
    local db=$1 role=none sql
    if [ $# -eq 3 ]; then role=$2; sql=$3; else sql=$2; fi
    psql -X -A -t -q -v ON_ERROR_STOP=1 -v s="$sql" -d "$db" 2>&1 <<SQL | grep -v '^NOTICE: '
SET ROLE $role;
SELECT public.t_err(:'s');
SQL
}

#
# (a) Schema squatting.
#
q "$SQ" "GRANT CREATE ON DATABASE $SQ TO pv_t090_squatter" >/dev/null
is "$(err "$SQ" pv_t090_squatter "CREATE SCHEMA durable_tasks")" "no error" \
    "squat: a role with CREATE on the database creates schema durable_tasks"
is "$(q "$SQ" "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'durable_tasks'")" \
    "pv_t090_squatter" "squat: the schema belongs to the squatter"

got=$(err "$SQ" "CREATE EXTENSION durable_tasks")
is "$(head -n 1 <<<"$got")" "42501 schema \"durable_tasks\" is not owned by the extension's owner" \
    "squat: CREATE EXTENSION by a superuser fails 42501 'schema is not owned by the extension's owner'"
if grep -q '^DETAIL: .*pv_t090_squatter' <<<"$got"; then
    ok "squat: the detail names the schema's owner"
else
    not_ok "squat: the detail names the schema's owner"
fi
diag "$got"
is "$(q "$SQ" "SELECT count(*) FROM pg_extension WHERE extname = 'durable_tasks'")" "0" \
    "squat: no extension left behind"
is "$(q "$SQ" "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'durable_tasks'::regnamespace)
                 + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'durable_tasks'::regnamespace)
                 + (SELECT count(*) FROM pg_type WHERE typnamespace = 'durable_tasks'::regnamespace)")" "0" \
    "squat: nothing was created in the squatted schema"
is "$(q "$SQ" "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'durable_tasks'")" \
    "pv_t090_squatter" "squat: the schema still belongs to the squatter"
# the refusal is no accident of the moment: still refused on a second try
is "$(err "$SQ" "CREATE EXTENSION durable_tasks" | head -n 1)" \
    "42501 schema \"durable_tasks\" is not owned by the extension's owner" "squat: refused again"

# Given to the superuser, the schema takes the extension.
q "$SQ" "ALTER SCHEMA durable_tasks OWNER TO CURRENT_USER" >/dev/null
is "$(err "$SQ" "CREATE EXTENSION durable_tasks")" "no error" \
    "squat: after ALTER SCHEMA ... OWNER TO the superuser, CREATE EXTENSION succeeds"
is "$(q "$SQ" "SELECT extversion FROM pg_extension WHERE extname = 'durable_tasks'")" \
    "$(sed -n "s/^default_version = '\(.*\)'/\1/p" durable_tasks.control)" "squat: extension at the default version"
is "$(q "$SQ" "SELECT durable_tasks.create_queue('sq');
               SELECT count(*) FROM durable_tasks.spawn_task('sq', 'x')" | tail -n 1)" "1" \
    "squat: the installed extension works"
is "$(q "$SQ" "SELECT has_schema_privilege('pv_t090_squatter', 'durable_tasks', 'USAGE')
                      OR has_schema_privilege('pv_t090_squatter', 'durable_tasks', 'CREATE')")" "f" \
    "squat: the former squatter has no USAGE or CREATE on the schema"
is "$(err "$SQ" pv_t090_squatter "SELECT * FROM durable_tasks.spawn_task('sq', 'x')")" \
    "42501 permission denied for schema durable_tasks" "squat: the former squatter cannot call the functions"

#
# (b) pg_dump / pg_restore keeps the queue grants.
#
q "$S" "CREATE EXTENSION durable_tasks" >/dev/null
q "$S" "
SELECT durable_tasks.create_queue('q1');
SELECT durable_tasks.create_queue('q2');
SELECT durable_tasks.grant_queue('q1', 'pv_t090_prod', 'producer');
SELECT durable_tasks.grant_queue('q1', 'pv_t090_work', 'worker');
SELECT durable_tasks.grant_queue('q2', 'pv_t090_adm', 'admin');
SELECT durable_tasks.grant_queue('q2', 'pv_t090_adm', 'producer');
SELECT durable_tasks.grant_queue(NULL, 'pv_t090_all', 'admin');
SELECT durable_tasks.grant_queue('q2', 'public', 'producer');
SELECT durable_tasks.grant_queue('q2', 'pv_t090_grp', 'worker');
SELECT count(*) FROM durable_tasks.spawn_task('q1', 'before_dump', '{}');" >/dev/null

LIST="SELECT coalesce(string_agg(coalesce(queue_name, '*') || ':' || role_name || ':' || privilege, ' '
                                 ORDER BY queue_name NULLS FIRST, role_name,
                                          array_position('{producer,worker,admin}', privilege)), '(none)')
        FROM durable_tasks.list_queue_grants()"
# the listing's own order, as it comes (privileges in their order: producer,
# worker, admin)
LIST_RAW="SELECT string_agg(coalesce(queue_name, '*') || ':' || role_name || ':' || privilege, ' ')
            FROM durable_tasks.list_queue_grants()"
GRANTS="*:pv_t090_all:admin q1:pv_t090_prod:producer q1:pv_t090_work:worker q2:public:producer q2:pv_t090_adm:producer q2:pv_t090_adm:admin q2:pv_t090_grp:worker"
is "$(q "$S" "$LIST")" "$GRANTS" "source: the queue grants"
is "$(q "$S" "$LIST_RAW")" "$GRANTS" "source: list_queue_grants() ordered by queue NULLS FIRST, role, privilege (producer < worker < admin)"
USAGE="SELECT string_agg(r || ':' || has_schema_privilege(r, 'durable_tasks', 'USAGE'), ' ' ORDER BY r)
         FROM unnest(string_to_array('pv_t090_prod pv_t090_work pv_t090_adm pv_t090_all pv_t090_grp pv_t090_mem pv_t090_squatter', ' ')) r"
USAGE_BEFORE=$(q "$S" "$USAGE")
diag "source schema usage: $USAGE_BEFORE"
# (PUBLIC has a grant on q2, so grant_queue gave PUBLIC the schema USAGE: every role has it)
is "$USAGE_BEFORE" "pv_t090_adm:true pv_t090_all:true pv_t090_grp:true pv_t090_mem:true pv_t090_prod:true pv_t090_squatter:true pv_t090_work:true" \
    "source: grant_queue gave schema USAGE (to PUBLIC too)"

DUMP="$T_SCRATCH/src.dump"
if pg_dump -Fc -f "$DUMP" -d "$S" 2>"$T_SCRATCH/dump.err"; then
    ok "pg_dump -Fc of a database with queue grants"
else
    not_ok "pg_dump -Fc of a database with queue grants"
    diag "$(cat "$T_SCRATCH/dump.err")"
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

denied() {   # the 42501 text for function $1, privilege $2, queue $3
    printf '%s\n%s' "42501 permission denied for queue \"$3\"" \
        "DETAIL: durable_tasks.$1 needs the $2 privilege on queue \"$3\"."
}

for db in "$R" "$P"; do
    q "$db" "$ERRFN" >/dev/null
    is "$(q "$db" "$LIST")" "$GRANTS" "$db: list_queue_grants() equal to the source's"
    is "$(q "$db" "$LIST_RAW")" "$GRANTS" "$db: and in the same order"
    is "$(q "$db" "$USAGE")" "$USAGE_BEFORE" "$db: schema USAGE as in the source"
    is "$(q "$db" "SELECT count(*) FROM pg_class c
                    WHERE c.relnamespace = 'durable_tasks'::regnamespace
                      AND c.relowner <> (SELECT extowner FROM pg_extension WHERE extname = 'durable_tasks')")" \
        "0" "$db: every relation of the schema belongs to the extension's owner"
    is "$(q "$db" "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.relnamespace = 'durable_tasks'::regnamespace AND a.grantee <> c.relowner")" \
        "0" "$db: no table grants to other roles"
    # the grants work
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q1', 'after_restore')")" \
        "no error" "$db: producer of q1 spawns in q1"
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.claim_task('q1', 'w')")" \
        "$(denied claim_task worker q1)" "$db: producer of q1 may not claim in q1"
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q2', 'x')")" \
        "no error" "$db: producer of q1 spawns in q2 through the PUBLIC grant"
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.claim_task('q2', 'w')")" \
        "$(denied claim_task worker q2)" "$db: producer of q1 may not claim in q2"
    is "$(err "$db" pv_t090_work "SELECT * FROM durable_tasks.claim_task('q1', 'w')")" \
        "no error" "$db: worker of q1 claims in q1"
    is "$(err "$db" pv_t090_work "SELECT durable_tasks.alter_queue('q1', '{}')")" \
        "$(denied alter_queue admin q1)" "$db: worker of q1 may not alter q1"
    is "$(err "$db" pv_t090_mem "SELECT * FROM durable_tasks.claim_task('q2', 'w')")" \
        "no error" "$db: member of a worker group of q2 claims in q2"
    is "$(err "$db" pv_t090_adm "SELECT durable_tasks.alter_queue('q2', '{}')")" \
        "no error" "$db: admin of q2 alters q2"
    is "$(err "$db" pv_t090_adm "SELECT durable_tasks.alter_queue('q1', '{}')")" \
        "$(denied alter_queue admin q1)" "$db: admin of q2 may not alter q1"
    is "$(err "$db" pv_t090_adm "SELECT durable_tasks.create_queue('q3')" | head -n 1)" \
        "42501 permission denied to create queue \"q3\"" "$db: admin of q2 may not create a queue"
    is "$(err "$db" pv_t090_all "SELECT durable_tasks.create_queue('q3')")" \
        "no error" "$db: admin of every queue creates q3"
    is "$(err "$db" pv_t090_all "SELECT durable_tasks.grant_queue('q3', 'pv_t090_prod', 'producer')")" \
        "no error" "$db: admin of every queue grants on q3"
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q3', 'x')")" \
        "no error" "$db: the new grant works"
    is "$(err "$db" pv_t090_all "SELECT * FROM durable_tasks.t_q1")" \
        "42501 permission denied for table t_q1" "$db: direct access still denied (admin of every queue)"
    is "$(err "$db" pv_t090_prod "SELECT * FROM durable_tasks.queue_grants")" \
        "42501 permission denied for table queue_grants" "$db: the grants table is closed"
    is "$(q "$db" "SELECT string_agg(task_name, ' ' ORDER BY task_name) FROM durable_tasks.t_q1")" \
        "after_restore before_dump" "$db: the tasks came back too"
done

#
# (c) Another session sees a change of the grants at once (each backend
#     caches them): session B keeps one connection to R and calls as a role
#     while this session revokes, grants, changes a membership, and drops
#     and recreates a queue.
#
SB_IN=$T_SCRATCH/sb.in
SB_OUT=$T_SCRATCH/sb.out
mkfifo "$SB_IN"
stdbuf -oL psql -X -A -t -q -d "$R" <"$SB_IN" >"$SB_OUT" 2>&1 &
SB_PID=$!
exec 7>"$SB_IN"
sb() {   # sb ROLE SQL: t_err(SQL) as ROLE in session B
    local i n
    # (called in $(...): the count of markers so far numbers the call)
    n=$(($(grep -c '^__sb_[0-9]*__$' "$SB_OUT") + 1))
    printf "SET ROLE %s;\nSELECT public.t_err(\$sb\$%s\$sb\$);\nRESET ROLE;\n\\\\echo __sb_%s__\n" \
        "$1" "$2" "$n" >&7
    for ((i = 0; i < 300; i++)); do
        grep -q "^__sb_${n}__\$" "$SB_OUT" && break
        sleep 0.1
    done
    # the lines between the previous marker and this one
    awk -v m="__sb_${n}__" -v p="__sb_$((n - 1))__" '
        $0 == p { on = 1; next } $0 == m { exit } on || p == "__sb_0__" { print }' "$SB_OUT"
}
is "$(sb pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q1', 'sb')")" "no error" \
    "session B: producer of q1 spawns in q1"
q "$R" "SELECT durable_tasks.revoke_queue('q1', 'pv_t090_prod', 'producer')" >/dev/null
is "$(sb pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q1', 'sb')")" "$(denied spawn_task producer q1)" \
    "session B: refused right after the revoke in another session"
q "$R" "SELECT durable_tasks.grant_queue('q1', 'pv_t090_prod', 'producer')" >/dev/null
is "$(sb pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q1', 'sb')")" "no error" \
    "session B: allowed right after the grant in another session"
is "$(sb pv_t090_mem "SELECT * FROM durable_tasks.claim_task('q2', 'sb')")" "no error" \
    "session B: member of the worker group claims in q2"
q "$R" "REVOKE pv_t090_grp FROM pv_t090_mem" >/dev/null
is "$(sb pv_t090_mem "SELECT * FROM durable_tasks.claim_task('q2', 'sb')")" "$(denied claim_task worker q2)" \
    "session B: refused right after the membership is revoked"
q "$R" "GRANT pv_t090_grp TO pv_t090_mem" >/dev/null
q "$R" "SELECT durable_tasks.create_queue('q4');
        SELECT durable_tasks.grant_queue('q4', 'pv_t090_prod', 'producer')" >/dev/null
is "$(sb pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q4', 'sb')")" "no error" \
    "session B: producer of q4 spawns in q4"
q "$R" "SELECT durable_tasks.drop_queue('q4'); SELECT durable_tasks.create_queue('q4')" >/dev/null
is "$(sb pv_t090_prod "SELECT * FROM durable_tasks.spawn_task('q4', 'sb')")" "$(denied spawn_task producer q4)" \
    "session B: a queue dropped and created again has none of the old grants"
exec 7>&-
wait "$SB_PID" 2>/dev/null || true

# The restored grants hold their roles like grant_queue's do: with the
# grant gone from the source (and the parallel copy) and the schema USAGE
# revoked by hand, DROP ROLE is still refused because of the restored copy.
q "$S" "SELECT durable_tasks.revoke_queue('q1', 'pv_t090_work', 'worker');
        REVOKE USAGE ON SCHEMA durable_tasks FROM pv_t090_work" >/dev/null
q "$P" "SELECT durable_tasks.revoke_queue('q1', 'pv_t090_work', 'worker');
        REVOKE USAGE ON SCHEMA durable_tasks FROM pv_t090_work" >/dev/null
q "$R" "REVOKE USAGE ON SCHEMA durable_tasks FROM pv_t090_work" >/dev/null
got=$(err "$R" "DROP ROLE pv_t090_work")
is "$(head -n 1 <<<"$got")" "2BP01 role \"pv_t090_work\" cannot be dropped because some objects depend on it" \
    "$R: DROP ROLE of a role holding a restored queue grant is refused"
diag "$got"
is "$(q "$R" "SELECT count(*) FROM durable_tasks.queue_grants g
               WHERE g.role_name::oid <> 0
                 AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = g.role_name::oid)")" \
    "0" "$R: no grant of a dropped role left behind"
diag "$R list_queue_grants('q1'): $(q "$R" "SELECT string_agg(g::text, ' ') FROM durable_tasks.list_queue_grants('q1') g" 2>&1)"

#
# Clean up: drop the databases, then the roles.
#
trap - EXIT
trap t_on_exit EXIT
drop_roles
is "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pv\_t090\_%'")" "0" "roles dropped"
dt_finish
