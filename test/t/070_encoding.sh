#!/usr/bin/env bash
# 070_encoding.sh - fingerprints do not depend on the database encoding
# (contract item 9): the canonical encoding is UTF-8 whatever the server
# encoding.
#
# A UTF8 and a LATIN1 database (LC_COLLATE/LC_CTYPE 'C'), the extension in
# both, every literal sent from a UTF8 client (PGCLIENTENCODING=UTF8):
# task_fingerprint of params with a non-ASCII value ("José"), a non-ASCII
# object key ("clé") and a non-ASCII task_name ("envoyé") is the same in
# both databases and equals the golden UTF-8 value (computed by today's
# code in a UTF8 database, so the fix must not change it); an only_once
# spawn of the same (task_name, params) stores the same idempotency_key
# (get_task) in both, and a second only_once spawn in LATIN1 hits; an
# explicit non-ASCII key deduplicates in LATIN1 too.
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

export PGCLIENTENCODING=UTF8
U=dt_t070_utf8
L=dt_t070_latin1
dt_newdb "$U"
dropdb --if-exists --force "$L" >/dev/null 2>&1 || true
if ! q postgres "CREATE DATABASE $L ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null; then
    not_ok "CREATE DATABASE ... ENCODING 'LATIN1'"
    dt_finish
fi
T_DBS+=("$L")

for db in "$U" "$L"; do
    q "$db" "CREATE EXTENSION durable_tasks; SELECT durable_tasks.create_queue('enc')" >/dev/null
done
is "$(q "$U" "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")/$(
      q "$L" "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")" \
    "UTF8/LATIN1" "the two databases are UTF8 and LATIN1"
is "$(q "$L" "SELECT length('José') || ':' || octet_length('José') || ':' || current_setting('client_encoding')")" \
    "4:4:UTF8" "LATIN1 database: 'José' arrives as 4 characters, 4 bytes, from a UTF8 client"

# Golden values: today's code in a UTF8 database (SHA-256 over the UTF-8
# canonical encoding).  label|task_name|params|fingerprint
GOLDEN=$(cat <<'EOF'
value|send|{"to":"José"}|b1754145b36bb35b1551b85819c5662d515e10203468d9f0a94f3ed393617410
key|send|{"clé":"x", "to":"José"}|16c2e40256dbac360abbb885005f9db96154db48434211dc81e58f030f3d8096
name|envoyé|{"to":"José"}|601a3387952a56731e77b94fe2230d8eb65b2147ba78f4d9c2db063665d9fd0f
ascii|send|{"to":"Jose"}|46c7ca775b47dffc6dd6f764e2dd978eb691367cd21fc0ca2f45f9a5414ec7d2
EOF
)

fp() {   # fp DB TASK_NAME PARAMS
    psql -X -A -t -q -v ON_ERROR_STOP=1 -v n="$2" -v p="$3" -d "$1" \
        <<<"SELECT durable_tasks.task_fingerprint(:'n', :'p'::jsonb)" 2>&1
}

while IFS='|' read -r label name params golden; do
    fu=$(fp "$U" "$name" "$params")
    fl=$(fp "$L" "$name" "$params")
    is "$fu" "$golden" "UTF8: task_fingerprint('$name', '$params') is the golden UTF-8 value ($label)"
    is "$fl" "$fu" "LATIN1: task_fingerprint('$name', '$params') equals the UTF8 database's ($label)"
done <<<"$GOLDEN"

# The golden value of ('send', {"to": "José"}) built byte by byte from the
# UTF-8 encoding (convert_to(..., 'UTF8') gives UTF-8 bytes in both
# databases): "durable_tasks.fingerprint.v1" 00 's' 4 "send" 'o' 1
# 's' 2 "to" 's' 5 "Jos\xc3\xa9" (see sql/fingerprint.sql).
BYHAND="SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\\x00'::bytea
                     || 's'::bytea || int4send(4) || 'send'::bytea
                     || 'o'::bytea || int4send(1)
                     || 's'::bytea || int4send(2) || 'to'::bytea
                     || 's'::bytea || int4send(octet_length(convert_to('José', 'UTF8')))
                     || convert_to('José', 'UTF8')), 'hex')"
for db in "$U" "$L"; do
    is "$(q "$db" "$BYHAND")" "$(head -n1 <<<"$GOLDEN" | cut -d'|' -f4)" \
        "$db: the golden value for ('send', {\"to\": \"José\"}) is SHA-256 over the UTF-8 bytes (by hand)"
done

# only_once spawns store task_fingerprint as the key: the same in both.
spawn_once() {   # spawn_once DB TASK_NAME PARAMS: "created:idempotency_key"
    psql -X -A -t -q -v ON_ERROR_STOP=1 -v n="$2" -v p="$3" -d "$1" 2>&1 <<'SQL'
SELECT s.created AS c, s.task_id AS t
  FROM durable_tasks.spawn_task('enc', :'n', :'p'::jsonb, only_once => true) s \gset
SELECT :'c'::boolean || ':' || g.idempotency_key FROM durable_tasks.get_task('enc', :'t') g;
SQL
}
while IFS='|' read -r label name params golden; do
    [ "$label" = ascii ] && continue
    su=$(spawn_once "$U" "$name" "$params")
    sl=$(spawn_once "$L" "$name" "$params")
    is "$su" "true:$golden" "UTF8: only_once spawn of ('$name', '$params') stores the golden key ($label)"
    is "$sl" "$su" "LATIN1: only_once spawn of ('$name', '$params') stores the same key as in UTF8 ($label)"
    is "$(spawn_once "$L" "$name" "$params")" "false:${sl#true:}" \
        "LATIN1: a second only_once spawn of ('$name', '$params') hits ($label)"
done <<<"$GOLDEN"

# explicit non-ASCII key in LATIN1: stored as sent, deduplicates
k1=$(q "$L" "SELECT s.created AS c, s.task_id AS t
               FROM durable_tasks.spawn_task('enc', 'envoyé', '{}', idempotency_key => 'clé-1') s \\gset
             SELECT :'c'::boolean || ':' || g.idempotency_key || ':' || octet_length(g.idempotency_key)
               FROM durable_tasks.get_task('enc', :'t') g")
is "$k1" "true:clé-1:5" "LATIN1: spawn with key 'clé-1' creates a task, get_task returns the key"
is "$(q "$L" "SELECT s.created FROM durable_tasks.spawn_task('enc', 'envoyé', '{}', idempotency_key => 'clé-1') s")" \
    "f" "LATIN1: a second spawn with key 'clé-1' hits"
is "$(q "$L" "SELECT count(*) FROM durable_tasks.t_enc WHERE idempotency_key = 'clé-1'")" \
    "1" "LATIN1: one task holds 'clé-1'"

dt_finish
