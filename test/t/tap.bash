# shellcheck shell=bash
# test/t/tap.bash - helpers for the scenario scripts test/t/*.sh.  Source it.
#
# The driver (test/run) exports PGHOST, PGPORT, PGUSER, PGDATABASE, DT_PGDATA,
# DT_PGBIN, DT_TMP and DT_ROOT/DT_SRC, and runs each script as postgres.
#
#   ok DESC / not_ok DESC      print a TAP-style result line
#   check DESC CMD...          ok if CMD succeeds, else not ok
#   is GOT EXPECTED DESC       ok if GOT = EXPECTED, else not ok + both values
#   diag TEXT...               a diagnostic line ("# TEXT")
#   q DB SQL                   run SQL (one or more statements) with psql -XAtq,
#                              stopping on the first error; prints the rows
#   q_try DB SQL               like q but stderr goes to stdout too (for errors)
#   dt_newdb NAME              createdb NAME (dropped again by dt_finish)
#   dt_wait_ready [SECS]       wait until the server accepts connections
#   dt_finish                  drop the databases, exit 1 if anything failed

set -u
export LC_ALL=C
PATH="${DT_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"
export PATH
: "${DT_TMP:?DT_TMP must be set (run through test/run)}"

T_FAILED=0
T_COUNT=0
T_DBS=()
# scratch directory of this script
T_SCRATCH=$(mktemp -d "$DT_TMP/t.$(basename "$0" .sh).XXXXXX")
T_START=$(date +%s)

ok() {
    T_COUNT=$((T_COUNT + 1))
    printf 'ok - %s\n' "$*"
}

not_ok() {
    T_COUNT=$((T_COUNT + 1))
    T_FAILED=$((T_FAILED + 1))
    printf 'not ok - %s\n' "$*"
}

diag() {
    local line
    while IFS= read -r line; do printf '# %s\n' "$line"; done <<<"$*"
}

check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

is() {
    local got=$1 expected=$2 desc=$3
    if [ "$got" = "$expected" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "     got: '$got'"
        diag "expected: '$expected'"
    fi
}

q() {
    local db=$1
    shift
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<<"$*"
}

q_try() {
    local db=$1
    shift
    psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" <<<"$*" 2>&1
}

dt_newdb() {
    dropdb --if-exists --force "$1" >/dev/null 2>&1 || true
    createdb "$1" || { not_ok "createdb $1"; dt_finish; }
    T_DBS+=("$1")
}

dt_wait_ready() {
    local secs=${1:-60} i
    for ((i = 0; i < secs * 5; i++)); do
        pg_isready -q -t 1 && psql -XAtqc 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

dt_finish() {
    local db
    trap - EXIT
    dt_wait_ready 60 || diag "server not accepting connections at the end"
    for db in "${T_DBS[@]}"; do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 ||
            diag "could not drop database $db"
    done
    rm -rf "$T_SCRATCH"
    diag "$(basename "$0"): $T_COUNT checks, $T_FAILED failed, $(($(date +%s) - T_START)) s"
    [ "$T_FAILED" -eq 0 ] && exit 0
    exit 1
}

# A script that dies early still drops its databases and reports failure.
t_on_exit() {
    local st=$?
    not_ok "$(basename "$0") stopped early (status $st)"
    dt_finish
}
trap t_on_exit EXIT
