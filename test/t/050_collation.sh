#!/usr/bin/env bash
# 050_collation.sh - deduplication in databases whose default collation is
# not C.  The key probe reads the idempotency key index directly and must
# compare keys with the index's collation: in an ICU (en-US) database,
# with mixed-case keys spread over many index pages, every existing key is
# found again (a hit), never "could not settle idempotency key".
# shellcheck source=test/t/tap.bash
source "$(dirname "$0")/tap.bash"

D=dt_t050_icu
dropdb --if-exists --force "$D" >/dev/null 2>&1 || true
if createdb -T template0 --locale=C --locale-provider=icu --icu-locale=en-US "$D" 2>"$T_SCRATCH/createdb.err"; then
    T_DBS+=("$D")
    q "$D" "CREATE EXTENSION durable_tasks; SELECT durable_tasks.create_queue('c')" >/dev/null
    is "$(q "$D" "SELECT datlocprovider FROM pg_database WHERE datname = current_database()")" \
        "i" "database uses the ICU collation provider"

    # 3000 keys of 66 bytes, alternating upper- and lower-case first letters:
    # C order and en-US order differ, and the index has many leaf pages
    is "$(q "$D" "
SELECT count(*) FILTER (WHERE s.created)
  FROM generate_series(1, 3000) n,
       LATERAL durable_tasks.spawn_task('c', 't', jsonb_build_object('n', n),
           idempotency_key => CASE WHEN n % 2 = 0 THEN 'B' ELSE 'a' END
                              || lpad(n::text, 65, '0')) s")" \
        "3000" "3000 distinct keys create 3000 tasks"

    is "$(q "$D" "
SELECT count(*) FILTER (WHERE NOT s.created)
  FROM generate_series(1, 3000, 7) n,
       LATERAL durable_tasks.spawn_task('c', 't', jsonb_build_object('n', n),
           idempotency_key => CASE WHEN n % 2 = 0 THEN 'B' ELSE 'a' END
                              || lpad(n::text, 65, '0')) s")" \
        "429" "every existing key is a hit (429 of 429 sampled keys)"

    is "$(q "$D" "SELECT count(*) FROM durable_tasks.t_c")" "3000" "no duplicate task"
    is "$(q "$D" "SELECT pg_relation_size('durable_tasks.ti_c_ikey') > 8 * 8192")" "t" \
        "the key index spans many pages"
else
    not_ok "createdb with the ICU provider: $(cat "$T_SCRATCH/createdb.err")"
fi

dt_finish
