# shellcheck shell=bash
# test/lib.sh - shared helpers for test/run and test/demo.  Source it, don't run it.
#
#   dt_ensure_deps        install PostgreSQL 15 dev headers + IPC::Run if missing
#   dt_ensure_extension E P  make extension E (Debian package P) available to
#                         $PG_CONFIG's installation if it can; never fails hard
#   dt_pg_env             pick pg_config 15, put its bindir first in PATH
#   dt_workdir            throwaway $DT_TMP with a copy of the repo in $DT_TMP/src
#   dt_build_install      build the copy (warnings are errors) and install it
#   dt_as_pg CMD...       run CMD as user postgres (when root), keeping the PG*/DT_* env
#   dt_cluster_start [P]  initdb + start a private cluster in $DT_TMP/data
#   dt_cluster_ensure_up  restart that cluster if a test left it stopped
#   dt_cluster_stop       stop the cluster, remove $DT_TMP (unless DT_KEEP=1)
#
# Environment switches: DT_SKIP_BUILD=1 (use the installed build), DT_KEEP=1
# (keep $DT_TMP for inspection).

DT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DT_PG_MAJOR=15
export DT_ROOT

dt_log() { printf '%s\n' "== $*" >&2; }
dt_is_root() { [ "$(id -u)" -eq 0 ]; }

# The packages the build and the tests need; installs them when root.
dt_ensure_deps() {
    local pgxs=/usr/lib/postgresql/$DT_PG_MAJOR/lib/pgxs
    local missing=() pkgs=()
    [ -x "/usr/lib/postgresql/$DT_PG_MAJOR/bin/initdb" ] || missing+=("postgresql-$DT_PG_MAJOR")
    [[ -f /usr/include/postgresql/$DT_PG_MAJOR/server/postgres.h &&
        -x $pgxs/src/test/isolation/pg_isolation_regress ]] ||
        missing+=("postgresql-server-dev-$DT_PG_MAJOR")
    perl -MIPC::Run -e 1 2>/dev/null || missing+=(libipc-run-perl)
    if [ ${#missing[@]} -gt 0 ]; then
        if ! dt_is_root; then
            printf 'ERROR: missing packages: %s\n  install them with: sudo apt-get install -y %s\n' \
                "${missing[*]}" "${missing[*]}" >&2
            return 1
        fi
        # always install the dev pair together (as the README says), plus what else is missing
        pkgs=("postgresql-server-dev-$DT_PG_MAJOR" libipc-run-perl)
        [[ " ${missing[*]} " == *" postgresql-$DT_PG_MAJOR "* ]] && pkgs+=("postgresql-$DT_PG_MAJOR")
        dt_log "installing ${pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || return 1
        apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || return 1
    fi
    dt_pg_env
}

# An optional extension for benchmarks: E's control file in $PG_CONFIG's
# sharedir, else (as root) apt-get install P, whose files land in the system
# PostgreSQL's dirs; when $PG_CONFIG is another (relocated) installation, the
# package's extension and library files are copied into its sharedir and
# pkglibdir.  Returns 1, with a message, if E cannot be had.  Call after
# dt_pg_env.
dt_ensure_extension() {
    local ext=$1 pkg=$2 share lib sys_share sys_lib f rel
    share=$("$PG_CONFIG" --sharedir) && lib=$("$PG_CONFIG" --pkglibdir) || return 1
    [ -f "$share/extension/$ext.control" ] && return 0
    sys_share=/usr/share/postgresql/$DT_PG_MAJOR
    sys_lib=/usr/lib/postgresql/$DT_PG_MAJOR/lib
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
        if ! dt_is_root || ! command -v apt-get >/dev/null; then
            dt_log "$ext: package $pkg not installed (apt-get install -y $pkg)"
            return 1
        fi
        dt_log "installing $pkg"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 &&
                apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; }; } ||
            { dt_log "$ext: apt-get install $pkg failed"; return 1; }
    fi
    if [ "$share" != "$sys_share" ]; then
        # a relocated installation: copy the package's files over
        while IFS= read -r f; do
            [ -f "$f" ] || continue
            case $f in
                "$sys_share"/*) rel=${f#"$sys_share"/}; mkdir -p "$share/$(dirname "$rel")" && cp -p "$f" "$share/$rel" ;;
                "$sys_lib"/*) rel=${f#"$sys_lib"/}; mkdir -p "$lib/$(dirname "$rel")" && cp -p "$f" "$lib/$rel" ;;
            esac || { dt_log "$ext: cannot copy $f into $PG_CONFIG's installation"; return 1; }
        done < <(dpkg -L "$pkg")
    fi
    [ -f "$share/extension/$ext.control" ] && return 0
    dt_log "$ext: $pkg is installed but $share/extension/$ext.control is missing"
    return 1
}

# PG_CONFIG = the first pg_config that reports version 15; its bindir goes first in PATH.
dt_pg_env() {
    local c
    for c in "${PG_CONFIG:-}" "/usr/lib/postgresql/$DT_PG_MAJOR/bin/pg_config" "$(command -v pg_config || true)"; do
        [[ -n $c && -x $c ]] || continue
        if "$c" --version 2>/dev/null | grep -q "^PostgreSQL $DT_PG_MAJOR\."; then
            PG_CONFIG=$c
            DT_PGBIN=$("$c" --bindir)
            PATH="$DT_PGBIN:$PATH"
            export PG_CONFIG DT_PGBIN PATH
            return 0
        fi
    done
    printf 'ERROR: no pg_config for PostgreSQL %s found (install postgresql-%s)\n' \
        "$DT_PG_MAJOR" "$DT_PG_MAJOR" >&2
    return 1
}

# Throwaway directory with a copy of the source tree (no .git, no old test output).
dt_workdir() {
    DT_TMP=$(mktemp -d /tmp/durable_tasks.XXXXXX)
    export DT_TMP DT_SRC="$DT_TMP/src"
    mkdir -p "$DT_SRC"
    tar -C "$DT_ROOT" --exclude=.git --exclude=results --exclude=output_iso \
        --exclude=tmp_check --exclude=tmp_check_iso \
        --exclude=regression.diffs --exclude=regression.out -cf - . |
        tar -C "$DT_SRC" -xf -
    if dt_is_root; then chown -R postgres: "$DT_TMP"; fi
}

# Run a command as postgres when root (initdb refuses root), else as ourselves.
dt_as_pg() {
    if ! dt_is_root; then
        "$@"
        return
    fi
    local v envs=("PATH=$PATH")
    for v in PGHOST PGPORT PGUSER PGDATABASE PG_CONFIG; do
        [ -n "${!v+x}" ] && envs+=("$v=${!v}")
    done
    for v in $(compgen -e DT_); do envs+=("$v=${!v}"); done
    runuser -u postgres -- env "${envs[@]}" "$@"
}

# Build the copy in $DT_SRC (as postgres: it owns the copy) and install it (as root).
dt_build_install() {
    if [ "${DT_SKIP_BUILD:-0}" = 1 ]; then
        dt_log "DT_SKIP_BUILD=1: using the installed build"
        return 0
    fi
    local logf="$DT_TMP/build.log"
    dt_log "building in $DT_SRC"
    if ! (cd "$DT_SRC" &&
            dt_as_pg make clean PG_CONFIG="$PG_CONFIG" &&
            dt_as_pg make -j2 PG_CONFIG="$PG_CONFIG") >"$logf" 2>&1; then
        # the diagnostics, without the long compiler command lines
        grep -vE '^(gcc|cc|clang|/usr/bin/clang)[-.0-9]* ' "$logf" | tail -n 80 >&2
        dt_log "build FAILED"
        return 1
    fi
    local sudo=()
    if ! dt_is_root && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ]; then sudo=(sudo -n); fi
    if ! (cd "$DT_SRC" && "${sudo[@]}" make install PG_CONFIG="$PG_CONFIG") >>"$logf" 2>&1; then
        tail -n 30 "$logf" >&2
        dt_log "make install FAILED"
        return 1
    fi
    dt_log "built and installed"
}

# Is something already using this port (TCP on localhost, or a well-known socket)?
dt_port_busy() {
    local p=$1
    [[ -e /tmp/.s.PGSQL.$p || -e /var/run/postgresql/.s.PGSQL.$p ]] && return 0
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

dt_cluster_start() {
    local port=${1:-54329}
    while dt_port_busy "$port"; do port=$((port + 1)); done
    export DT_PGDATA="$DT_TMP/data"
    dt_log "initdb in $DT_PGDATA, port $port"
    dt_as_pg initdb -D "$DT_PGDATA" -A trust -E UTF8 --locale=C --no-sync -U postgres \
        >"$DT_TMP/initdb.log" 2>&1 || { cat "$DT_TMP/initdb.log" >&2; return 1; }
    cat >>"$DT_PGDATA/postgresql.conf" <<EOF

# durable_tasks test cluster
port = $port
unix_socket_directories = '$DT_TMP'
listen_addresses = ''
fsync = off
max_connections = 60
shared_buffers = 128MB
log_min_messages = warning
EOF
    export PGHOST="$DT_TMP" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    dt_cluster_ensure_up
}

# Start the cluster unless it is running (scenario tests may crash or stop it).
dt_cluster_ensure_up() {
    dt_as_pg pg_ctl -D "$DT_PGDATA" status >/dev/null 2>&1 && return 0
    if ! dt_as_pg pg_ctl -D "$DT_PGDATA" -w -l "$DT_TMP/server.log" start >/dev/null 2>&1; then
        tail -n 30 "$DT_TMP/server.log" >&2
        dt_log "server start FAILED"
        return 1
    fi
}

# Silent and idempotent: used from `trap dt_cluster_stop EXIT`.
dt_cluster_stop() {
    [ -n "${DT_TMP:-}" ] || return 0
    if [ -n "${DT_PGDATA:-}" ] && [ -f "$DT_PGDATA/postmaster.pid" ]; then
        dt_as_pg pg_ctl -D "$DT_PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ "${DT_KEEP:-0}" = 1 ]; then
        printf '%s\n' "== DT_KEEP=1: kept $DT_TMP" >&2
    else
        rm -rf "$DT_TMP"
    fi
    DT_TMP=
}
