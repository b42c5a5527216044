--
-- privileges: who may call what on a queue (SPEC 8), one section each:
--   1. roles and grants: pv_producer, pv_worker, pv_admin (on pv_a),
--      pv_member (worker on pv_a through pv_group), pv_alladmin (admin on
--      every queue), pv_extmember (member of the extension's owner),
--      pv_none (USAGE on the schema by hand, no queue privilege),
--      pv_nousage (nothing)
--   2. the role x action table of queue pv_a: every function, every role,
--      allowed (ok) or the SQLSTATE; then each denial's message and detail
--   3. the same for queue pv_b, where the pv_a roles have nothing
--   4. the calls that name no queue (create_queue of a new queue, grants on
--      every queue, list_queues, list_queue_grants(), uuid_v7, fingerprint)
--   5. what list_queues() and list_queue_grants() show to each role
--   6. denial before lookup: unknown queue, task or run gives 42501 to a
--      role without the privilege, the usual error to a role with it
--   7. direct access to the queue tables and the registry: denied to every
--      role but the owner's members
--   8. grant_queue / revoke_queue / list_queue_grants: bad input, no-ops,
--      revoke of exactly one row, a mixed-case role name, a renamed role,
--      grants and revokes rolled back, ordering
--   9. a grant to PUBLIC
--  10. membership: revoking it, NOINHERIT
--  11. drop_queue removes the queue's grants
--  12. DROP ROLE is refused while the role holds a queue privilege
--  13. queue tables belong to the extension's owner, whoever created the
--      queue: no queue admin can add a trigger, rule or policy or change a
--      column type
--  14. name squatting: tables t_<q>/r_<q> made by another role are never
--      adopted by create_queue
--  15. superusers and the owner's members pass before the grants are read;
--      in a fresh backend the grants are read at the first check that
--      needs them; becoming superuser (or the owner's member) and back
--
-- Every call in the tables of sections 2-4 and 7 runs as the role in a
-- subtransaction that is rolled back (public.pv_try), so every cell sees the
-- same tasks and runs.  Errors show as "SQLSTATE: message / detail [hint]",
-- uuids masked.  Queues are pv_*, roles pv_*; all are dropped at the end.
--

-- pv_err(sql): 'ok', or the error as "SQLSTATE: message / detail [hint]".
CREATE FUNCTION public.pv_err(sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    st  text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN regexp_replace(st || ': ' || msg || COALESCE(' / ' || NULLIF(det, ''), '')
                          || COALESCE(' [' || NULLIF(hnt, '') || ']', ''),
                          '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                          '<uuid>', 'g');
END
$fn$;

-- pv_try(role, sql): pv_err(sql) run as role (NULL: as the superuser running
-- the suite), in a subtransaction rolled back afterwards (also the role).
CREATE FUNCTION public.pv_try(r text, sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    res text;
BEGIN
    BEGIN
        IF r IS NOT NULL THEN
            PERFORM pg_catalog.set_config('role', r, true);
        END IF;
        res := public.pv_err(sql);
        RAISE EXCEPTION USING ERRCODE = 'PV000', MESSAGE = res;
    EXCEPTION WHEN SQLSTATE 'PV000' THEN
        GET STACKED DIAGNOSTICS res = MESSAGE_TEXT;
    END;
    RETURN res;
END
$fn$;

-- pv_as(role, sql): pv_err(sql) run as role, kept (not rolled back).
CREATE FUNCTION public.pv_as(r text, sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    res text;
BEGIN
    PERFORM pg_catalog.set_config('role', r, true);
    res := public.pv_err(sql);
    PERFORM pg_catalog.set_config('role', 'none', true);
    RETURN res;
END
$fn$;

-- The columns of the tables: the roles, in this order.
CREATE TABLE pv_roles (ord int, col text, r text);
INSERT INTO pv_roles VALUES
    (1, 'super', NULL), (2, 'producer', 'pv_producer'), (3, 'worker', 'pv_worker'),
    (4, 'admin', 'pv_admin'), (5, 'member', 'pv_member'), (6, 'alladmin', 'pv_alladmin'),
    (7, 'extmember', 'pv_extmember'), (8, 'none', 'pv_none'), (9, 'nousage', 'pv_nousage');

-- pv_cells(calls): every call of the view calls (ord, name, sql) run by
-- every role of pv_roles, one row per cell.
CREATE FUNCTION public.pv_cells(calls text) RETURNS TABLE (ord int, name text, col text, roleord int, res text)
LANGUAGE plpgsql AS $fn$
DECLARE
    c record;
    r record;
BEGIN
    FOR c IN EXECUTE 'SELECT ord, name, sql FROM ' || calls || ' ORDER BY ord' LOOP
        FOR r IN SELECT * FROM pv_roles ORDER BY pv_roles.ord LOOP
            ord := c.ord; name := c.name; col := r.col; roleord := r.ord;
            res := public.pv_try(r.r, c.sql);
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$fn$;

--
-- 1. Roles, queues, grants.
--
CREATE ROLE pv_producer;
CREATE ROLE pv_worker;
CREATE ROLE pv_admin;
CREATE ROLE pv_group;
CREATE ROLE pv_member IN ROLE pv_group;
CREATE ROLE pv_alladmin;
CREATE ROLE pv_extmember;
CREATE ROLE pv_none;
CREATE ROLE pv_nousage;
DO $$BEGIN
    EXECUTE format('GRANT %I TO pv_extmember',
                   (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
END$$;
GRANT USAGE ON SCHEMA durable_tasks TO pv_none;
SELECT durable_tasks.create_queue('pv_a');
SELECT durable_tasks.create_queue('pv_b');
SELECT durable_tasks.grant_queue('pv_a', 'pv_producer', 'producer');
SELECT durable_tasks.grant_queue('pv_a', 'pv_worker', 'worker');
SELECT durable_tasks.grant_queue('pv_a', 'pv_admin', 'admin');
SELECT durable_tasks.grant_queue('pv_a', 'pv_group', 'worker');
SELECT durable_tasks.grant_queue(NULL, 'pv_alladmin', 'admin');
SELECT * FROM durable_tasks.list_queue_grants();
-- grant_queue gave schema USAGE to the grantees (not to pv_nousage)
SELECT r.rolname, has_schema_privilege(r.oid, 'durable_tasks', 'USAGE') AS usage,
       has_schema_privilege(r.oid, 'durable_tasks', 'CREATE') AS create
  FROM pg_roles r WHERE r.rolname LIKE 'pv\_%' ORDER BY 1;

-- Tasks in each queue: t1 claimed (run r1, a checkpoint 'pv1'), t2 pending,
-- t3 completed.
CREATE TABLE pv_ids (q text PRIMARY KEY, t1 uuid, r1 uuid, t2 uuid, t3 uuid);
INSERT INTO pv_ids (q) VALUES ('pv_a'), ('pv_b');
UPDATE pv_ids SET t1 = (SELECT task_id FROM durable_tasks.spawn_task(q, 'one', '{}'));
UPDATE pv_ids SET r1 = public.claim_one(q, t1, 3600);
UPDATE pv_ids SET t3 = (SELECT task_id FROM durable_tasks.spawn_task(q, 'three', '{}'));
SELECT count(*) FROM pv_ids, durable_tasks.complete_run(q, public.claim_one(q, t3), '{}');
UPDATE pv_ids SET t2 = (SELECT task_id FROM durable_tasks.spawn_task(q, 'two', '{}'));
SELECT count(*) FROM pv_ids, durable_tasks.set_checkpoint(q, r1, 'pv1', '{"n": 1}');
SELECT i.q, t.task_name, t.state
  FROM pv_ids i, LATERAL (SELECT * FROM durable_tasks.get_task(i.q, i.t1)
                          UNION ALL SELECT * FROM durable_tasks.get_task(i.q, i.t2)
                          UNION ALL SELECT * FROM durable_tasks.get_task(i.q, i.t3)) t
 ORDER BY 1, 2;

-- The calls on one queue, in the order of the contract's table.
CREATE FUNCTION public.pv_queue_calls(qn text) RETURNS TABLE (ord int, name text, sql text)
LANGUAGE sql AS $fn$
    SELECT v.ord, v.name, format(v.sql, qn, i.t1, i.r1, i.t2, i.t3)
      FROM pv_ids i, (VALUES
        (1,  'spawn_task',        $$SELECT * FROM durable_tasks.spawn_task(%1$L, 'pv', '{}')$$),
        (2,  'spawn_tasks',       $$SELECT * FROM durable_tasks.spawn_tasks(%1$L, '[{"task_name": "pv"}]')$$),
        (3,  'get_task',          $$SELECT * FROM durable_tasks.get_task(%1$L, %4$L)$$),
        (4,  'await_task',        $$SELECT * FROM durable_tasks.await_task(%1$L, %5$L, 0)$$),
        (5,  'claim_task',        $$SELECT * FROM durable_tasks.claim_task(%1$L, 'pv-w')$$),
        (6,  'extend_claim',      $$SELECT durable_tasks.extend_claim(%1$L, %3$L, 60)$$),
        (7,  'complete_run',      $$SELECT durable_tasks.complete_run(%1$L, %3$L, '{}')$$),
        (8,  'fail_run',          $$SELECT * FROM durable_tasks.fail_run(%1$L, %3$L, '{}')$$),
        (9,  'set_checkpoint',    $$SELECT durable_tasks.set_checkpoint(%1$L, %3$L, 'pv2', '{}')$$),
        (10, 'get_checkpoints',   $$SELECT * FROM durable_tasks.get_checkpoints(%1$L, %2$L)$$),
        (11, 'get_checkpoint',    $$SELECT durable_tasks.get_checkpoint(%1$L, %2$L, 'pv1')$$),
        (12, 'alter_queue',       $$SELECT durable_tasks.alter_queue(%1$L, '{"dedup_ttl_seconds": 60}')$$),
        (13, 'drop_queue',        $$SELECT durable_tasks.drop_queue(%1$L)$$),
        (14, 'cancel_task',       $$SELECT durable_tasks.cancel_task(%1$L, %4$L)$$),
        (15, 'grant_queue',       $$SELECT durable_tasks.grant_queue(%1$L, 'pv_none', 'producer')$$),
        (16, 'revoke_queue',      $$SELECT durable_tasks.revoke_queue(%1$L, 'pv_producer', 'producer')$$),
        (17, 'list_queue_grants', $$SELECT * FROM durable_tasks.list_queue_grants(%1$L)$$),
        (18, 'create_queue',      $$SELECT durable_tasks.create_queue(%1$L)$$),
        (19, 'queue_stats',       $$SELECT * FROM durable_tasks.queue_stats(%1$L)$$),
        (20, 'sleep_run',         $$SELECT durable_tasks.sleep_run(%1$L, %3$L, now())$$),
        (21, 'cleanup_tasks',     $$SELECT durable_tasks.cleanup_tasks(%1$L, '0')$$)
      ) v(ord, name, sql)
     WHERE i.q = qn
$fn$;
CREATE VIEW pv_calls_a AS SELECT * FROM public.pv_queue_calls('pv_a');
CREATE VIEW pv_calls_b AS SELECT * FROM public.pv_queue_calls('pv_b');
CREATE VIEW pv_calls_g AS SELECT * FROM (VALUES
    (1, 'create_queue(new)',         $$SELECT durable_tasks.create_queue('pv_new')$$),
    (2, 'grant_queue(NULL)',         $$SELECT durable_tasks.grant_queue(NULL, 'pv_none', 'producer')$$),
    (3, 'revoke_queue(NULL)',        $$SELECT durable_tasks.revoke_queue(NULL, 'pv_none', 'producer')$$),
    (4, 'list_queue_grants()',       $$SELECT * FROM durable_tasks.list_queue_grants()$$),
    (5, 'list_queue_grants(NULL)',   $$SELECT * FROM durable_tasks.list_queue_grants(NULL)$$),
    (6, 'list_queues',               $$SELECT * FROM durable_tasks.list_queues()$$),
    (7, 'uuid_v7',                   $$SELECT durable_tasks.uuid_v7()$$),
    (8, 'task_fingerprint',          $$SELECT durable_tasks.task_fingerprint('pv', '{}')$$),
    (9, 'queue_stats()',             $$SELECT * FROM durable_tasks.queue_stats()$$)
  ) v(ord, name, sql);

-- pv_run(calls) keeps the cells of calls in pv_cells_done; view pv_grid
-- shows them one row per call, 'ok' or the SQLSTATE per role; view
-- pv_denials each distinct error of a call, with the roles that got it.
CREATE TABLE pv_cells_done (calls text, ord int, name text, col text, roleord int, res text);
CREATE FUNCTION public.pv_run(calls text) RETURNS void
LANGUAGE sql AS $fn$
    INSERT INTO pv_cells_done SELECT calls, c.* FROM public.pv_cells(calls) c
$fn$;
CREATE VIEW pv_grid AS
SELECT calls, ord, name AS call,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'super')     AS super,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'producer')  AS producer,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'worker')    AS worker,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'admin')     AS admin,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'member')    AS member,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'alladmin')  AS alladmin,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'extmember') AS extmember,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'none')      AS none,
       max(split_part(res, ':', 1)) FILTER (WHERE col = 'nousage')   AS nousage
  FROM pv_cells_done GROUP BY calls, ord, name;
CREATE VIEW pv_denials AS
SELECT calls, min(ord) AS ord, name AS call, string_agg(col, ',' ORDER BY roleord) AS roles, res
  FROM pv_cells_done WHERE res <> 'ok' GROUP BY calls, name, res;

--
-- 2. The role x action table of queue pv_a.
--
SELECT public.pv_run('pv_calls_a');
SELECT call, super, producer, worker, admin, member, alladmin, extmember, none, nousage
  FROM pv_grid WHERE calls = 'pv_calls_a' ORDER BY ord;
SELECT call, roles, res FROM pv_denials WHERE calls = 'pv_calls_a' ORDER BY ord, roles;
-- nothing the cells did was kept
SELECT i.q, t.task_name, t.state
  FROM pv_ids i, LATERAL (SELECT * FROM durable_tasks.get_task(i.q, i.t1)
                          UNION ALL SELECT * FROM durable_tasks.get_task(i.q, i.t2)
                          UNION ALL SELECT * FROM durable_tasks.get_task(i.q, i.t3)) t
 ORDER BY 1, 2;
SELECT * FROM durable_tasks.list_queue_grants();

--
-- 3. Queue pv_b: the pv_a roles can do nothing there.
--
SELECT public.pv_run('pv_calls_b');
SELECT call, super, producer, worker, admin, member, alladmin, extmember, none, nousage
  FROM pv_grid WHERE calls = 'pv_calls_b' ORDER BY ord;
SELECT call, roles, res FROM pv_denials WHERE calls = 'pv_calls_b' ORDER BY ord, roles;

--
-- 4. Calls that name no queue.
--
SELECT public.pv_run('pv_calls_g');
SELECT call, super, producer, worker, admin, member, alladmin, extmember, none, nousage
  FROM pv_grid WHERE calls = 'pv_calls_g' ORDER BY ord;
SELECT call, roles, res FROM pv_denials WHERE calls = 'pv_calls_g' ORDER BY ord, roles;
SELECT count(*) AS pv_new_left FROM durable_tasks.list_queues() WHERE queue_name = 'pv_new';

--
-- 5. What the listings show to each role.
--
CREATE FUNCTION public.pv_listing(r text, sql text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    res text;
BEGIN
    PERFORM pg_catalog.set_config('role', r, true);
    EXECUTE 'SELECT coalesce(string_agg(x::text, '' '' ORDER BY n), ''(none)'')
               FROM (SELECT x, row_number() OVER () AS n FROM (' || sql || ') x) y'
       INTO res;
    PERFORM pg_catalog.set_config('role', 'none', true);
    RETURN res;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS res = RETURNED_SQLSTATE;
    RETURN res;
END
$fn$;
SELECT r.r AS role,
       public.pv_listing(r.r, $$SELECT queue_name FROM durable_tasks.list_queues()
                                 WHERE queue_name LIKE 'pv\_%'$$) AS list_queues
  FROM pv_roles r WHERE r.r IS NOT NULL ORDER BY r.ord;
SELECT r.r AS role,
       public.pv_listing(r.r, $$SELECT * FROM durable_tasks.list_queue_grants()$$) AS list_queue_grants
  FROM pv_roles r WHERE r.r IS NOT NULL ORDER BY r.ord;
SELECT r.r AS role,
       public.pv_listing(r.r, $$SELECT * FROM durable_tasks.list_queue_grants('pv_a')$$) AS "list_queue_grants('pv_a')"
  FROM pv_roles r WHERE r.r IS NOT NULL ORDER BY r.ord;
SELECT r.r AS role,
       public.pv_listing(r.r, $$SELECT * FROM durable_tasks.list_queue_grants('pv_b')$$) AS "list_queue_grants('pv_b')"
  FROM pv_roles r WHERE r.r IS NOT NULL ORDER BY r.ord;

--
-- 6. Denial before lookup.
--
CREATE VIEW pv_lookup AS SELECT * FROM (VALUES
    (1,  'spawn_task(nosuch)',    $$SELECT * FROM durable_tasks.spawn_task('pv_nosuch', 'x')$$),
    (2,  'get_task(nosuch)',      $$SELECT * FROM durable_tasks.get_task('pv_nosuch', '00000000-0000-7000-8000-000000000000')$$),
    (3,  'claim_task(nosuch)',    $$SELECT * FROM durable_tasks.claim_task('pv_nosuch', 'w')$$),
    (4,  'alter_queue(nosuch)',   $$SELECT durable_tasks.alter_queue('pv_nosuch', '{}')$$),
    (5,  'drop_queue(nosuch)',    $$SELECT durable_tasks.drop_queue('pv_nosuch')$$),
    (6,  'list_queue_grants(nosuch)', $$SELECT * FROM durable_tasks.list_queue_grants('pv_nosuch')$$),
    (7,  'get_task(a, no task)',  $$SELECT * FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$),
    (8,  'await_task(a, no task)', $$SELECT * FROM durable_tasks.await_task('pv_a', '00000000-0000-7000-8000-000000000000', 0)$$),
    (9,  'get_checkpoints(a, no task)', $$SELECT * FROM durable_tasks.get_checkpoints('pv_a', '00000000-0000-7000-8000-000000000000')$$),
    (10, 'complete_run(a, no run)', $$SELECT durable_tasks.complete_run('pv_a', '00000000-0000-7000-8000-000000000000')$$),
    (11, 'extend_claim(a, no run)', $$SELECT durable_tasks.extend_claim('pv_a', '00000000-0000-7000-8000-000000000000', 30)$$),
    (12, 'set_checkpoint(a, no run)', $$SELECT durable_tasks.set_checkpoint('pv_a', '00000000-0000-7000-8000-000000000000', 's', '{}')$$),
    (13, 'cancel_task(a, no task)', $$SELECT durable_tasks.cancel_task('pv_a', '00000000-0000-7000-8000-000000000000')$$)
  ) v(ord, name, sql);
SELECT public.pv_run('pv_lookup');
SELECT call, super, producer, worker, admin, member, alladmin, extmember, none, nousage
  FROM pv_grid WHERE calls = 'pv_lookup' ORDER BY ord;
SELECT call, roles, res FROM pv_denials WHERE calls = 'pv_lookup' ORDER BY ord, roles;

--
-- 7. Direct access to the tables: only the owner (and its members).
--
CREATE VIEW pv_direct AS SELECT * FROM (VALUES
    (1,  'select t_pv_a',        $$SELECT * FROM durable_tasks.t_pv_a$$),
    (2,  'select r_pv_a',        $$SELECT * FROM durable_tasks.r_pv_a$$),
    (3,  'select c_pv_a',        $$SELECT * FROM durable_tasks.c_pv_a$$),
    (4,  'select queues',        $$SELECT * FROM durable_tasks.queues$$),
    (5,  'select queue_grants',  $$SELECT * FROM durable_tasks.queue_grants$$),
    (6,  'insert t_pv_a',        $$INSERT INTO durable_tasks.t_pv_a SELECT * FROM durable_tasks.t_pv_a WHERE false$$),
    (7,  'update r_pv_a',        $$UPDATE durable_tasks.r_pv_a SET available_at = now() WHERE false$$),
    (8,  'delete c_pv_a',        $$DELETE FROM durable_tasks.c_pv_a WHERE false$$),
    (9,  'insert queues',        $$INSERT INTO durable_tasks.queues (queue_name) VALUES ('pv_x')$$),
    (10, 'insert queue_grants',  $$INSERT INTO durable_tasks.queue_grants VALUES (NULL, 'pv_none', 'admin')$$),
    (11, 'delete queue_grants',  $$DELETE FROM durable_tasks.queue_grants WHERE false$$),
    (12, 'truncate t_pv_a',      $$TRUNCATE durable_tasks.t_pv_a, durable_tasks.r_pv_a, durable_tasks.c_pv_a, durable_tasks.w_pv_a$$)
  ) v(ord, name, sql);
SELECT public.pv_run('pv_direct');
SELECT call, super, producer, worker, admin, member, alladmin, extmember, none, nousage
  FROM pv_grid WHERE calls = 'pv_direct' ORDER BY ord;
SELECT call, roles, res FROM pv_denials WHERE calls = 'pv_direct' ORDER BY ord, roles;

--
-- 8. grant_queue, revoke_queue, list_queue_grants: input and semantics.
--
-- bad input, as a role with admin on every queue
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_a', NULL, 'producer')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', NULL)$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_nosuchrole', 'producer')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'reader')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', '')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.grant_queue('pv_nosuch', 'pv_none', 'producer')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.revoke_queue('pv_a', NULL, 'producer')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', NULL)$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_nosuchrole', 'producer')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', 'reader')$$);
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.revoke_queue('pv_nosuch', 'pv_none', 'producer')$$);
SELECT public.pv_listing('pv_alladmin', $$SELECT * FROM durable_tasks.list_queue_grants('pv_nosuch')$$);
-- the same by an admin of pv_a only: the queue-less and foreign-queue
-- grants are refused
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue(NULL, 'pv_none', 'producer')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.revoke_queue(NULL, 'pv_alladmin', 'admin')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue('pv_b', 'pv_none', 'producer')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue('pv_nosuch', 'pv_none', 'producer')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'reader')$$);
SELECT * FROM durable_tasks.list_queue_grants();
-- an admin of pv_a grants on pv_a; twice is a no-op
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'producer')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'producer')$$);
SELECT * FROM durable_tasks.list_queue_grants('pv_a') WHERE role_name = 'pv_none';
SELECT public.pv_as('pv_none', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_a', 'by_none')$$);
SELECT public.pv_try('pv_none', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$);
-- revoking what was not granted is a no-op
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', 'worker')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_nousage', 'admin')$$);
SELECT * FROM durable_tasks.list_queue_grants('pv_a') WHERE role_name = 'pv_none';
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', 'producer')$$);
SELECT * FROM durable_tasks.list_queue_grants('pv_a') WHERE role_name = 'pv_none';
SELECT public.pv_as('pv_none', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_a', 'by_none')$$);
-- (pv_none had USAGE on the schema by hand before any queue grant: does
-- revoke_queue take it away?)
SELECT has_schema_privilege('pv_none', 'durable_tasks', 'USAGE') AS none_has_usage;
GRANT USAGE ON SCHEMA durable_tasks TO pv_none;
-- revoke removes exactly one row: producer from a role that is also admin
-- leaves it admin; admin from a role that is also producer leaves it producer
SELECT durable_tasks.grant_queue('pv_b', 'pv_none', 'admin');
SELECT durable_tasks.grant_queue('pv_b', 'pv_none', 'producer');
SELECT * FROM durable_tasks.list_queue_grants('pv_b');
SELECT durable_tasks.revoke_queue('pv_b', 'pv_none', 'producer');
SELECT * FROM durable_tasks.list_queue_grants('pv_b');
SELECT public.pv_as('pv_none', $$SELECT durable_tasks.alter_queue('pv_b', '{}')$$);
SELECT durable_tasks.grant_queue('pv_b', 'pv_none', 'producer');
SELECT durable_tasks.revoke_queue('pv_b', 'pv_none', 'admin');
SELECT * FROM durable_tasks.list_queue_grants('pv_b');
SELECT public.pv_as('pv_none', $$SELECT durable_tasks.alter_queue('pv_b', '{}')$$);
SELECT public.pv_as('pv_none', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_b', 'by_none')$$);
SELECT durable_tasks.revoke_queue('pv_b', 'pv_none', 'producer');
-- a role name that needs quoting is taken as is
CREATE ROLE "pv_Mixed";
SELECT durable_tasks.grant_queue('pv_b', 'pv_Mixed', 'producer');
SELECT public.err($$SELECT durable_tasks.grant_queue('pv_b', 'pv_mixed', 'producer')$$);
SELECT public.err($$SELECT durable_tasks.grant_queue('pv_b', '"pv_Mixed"', 'producer')$$);
SELECT * FROM durable_tasks.list_queue_grants('pv_b');
SELECT public.pv_as('pv_Mixed', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_b', 'by_mixed')$$);
SELECT durable_tasks.revoke_queue('pv_b', 'pv_Mixed', 'producer');
REVOKE USAGE ON SCHEMA durable_tasks FROM "pv_Mixed";
DROP ROLE "pv_Mixed";
-- a renamed role keeps its grants (they name the role, not its old name)
CREATE ROLE pv_ren;
SELECT durable_tasks.grant_queue('pv_b', 'pv_ren', 'worker');
ALTER ROLE pv_ren RENAME TO pv_ren2;
SELECT * FROM durable_tasks.list_queue_grants('pv_b');
SELECT public.pv_try('pv_ren2', $$SELECT count(*) FROM durable_tasks.claim_task('pv_b', 'w')$$);
SELECT public.err($$SELECT durable_tasks.revoke_queue('pv_b', 'pv_ren', 'worker')$$);
SELECT durable_tasks.revoke_queue('pv_b', 'pv_ren2', 'worker');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_ren2;
DROP ROLE pv_ren2;
-- a grant or revoke rolled back (to a savepoint, or the whole
-- transaction) is not seen afterwards, also by a session that used it
BEGIN;
SAVEPOINT s;
SELECT durable_tasks.grant_queue('pv_b', 'pv_producer', 'producer');
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_b', '00000000-0000-7000-8000-000000000000')$$);
ROLLBACK TO SAVEPOINT s;
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_b', '00000000-0000-7000-8000-000000000000')$$);
SELECT durable_tasks.grant_queue('pv_b', 'pv_producer', 'producer');
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_b', '00000000-0000-7000-8000-000000000000')$$);
ROLLBACK;
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_b', '00000000-0000-7000-8000-000000000000')$$);
BEGIN;
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
SELECT durable_tasks.revoke_queue('pv_a', 'pv_producer', 'producer');
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
ROLLBACK;
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
SELECT * FROM durable_tasks.list_queue_grants();
-- the ordering: queue NULLS FIRST, role, privilege
SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'worker');
SELECT durable_tasks.grant_queue('pv_a', 'pv_none', 'admin');
SELECT durable_tasks.grant_queue(NULL, 'pv_none', 'producer');
SELECT * FROM durable_tasks.list_queue_grants();
SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', 'worker');
SELECT durable_tasks.revoke_queue('pv_a', 'pv_none', 'admin');
SELECT durable_tasks.revoke_queue(NULL, 'pv_none', 'producer');
SELECT * FROM durable_tasks.list_queue_grants();

--
-- 9. A grant to PUBLIC: every role with schema USAGE, and grant_queue
-- gives USAGE to PUBLIC too.
--
SELECT durable_tasks.create_queue('pv_c');
SELECT durable_tasks.grant_queue('pv_c', 'public', 'producer');
SELECT * FROM durable_tasks.list_queue_grants('pv_c');
SELECT public.pv_as('pv_none', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_c', 'by_public')$$);
SELECT public.pv_as('pv_nousage', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_c', 'by_public')$$);
SELECT public.pv_try('pv_nousage', $$SELECT count(*) FROM durable_tasks.claim_task('pv_c', 'w')$$);
SELECT public.pv_as('pv_nousage', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_a', 'x')$$);
SELECT public.pv_as('pv_nousage', $$SELECT queue_name FROM durable_tasks.list_queues() WHERE queue_name LIKE 'pv\_%'$$);
SELECT durable_tasks.revoke_queue('pv_c', 'public', 'producer');
SELECT * FROM durable_tasks.list_queue_grants('pv_c');
-- (whether revoke_queue takes back the schema USAGE it gave)
SELECT has_schema_privilege('pv_nousage', 'durable_tasks', 'USAGE') AS nousage_has_usage;
SELECT public.pv_as('pv_none', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_c', 'by_public')$$);
REVOKE USAGE ON SCHEMA durable_tasks FROM PUBLIC;
SELECT public.pv_as('pv_nousage', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_c', 'by_public')$$);

--
-- 10. Membership.
--
SELECT public.pv_try('pv_member', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$);
REVOKE pv_group FROM pv_member;
SELECT public.pv_as('pv_member', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_a', 'x')$$);
GRANT pv_group TO pv_member;
SELECT public.pv_as('pv_member', $$SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
-- a NOINHERIT member has not the group's privileges (has_privs_of_role)
CREATE ROLE pv_noinherit NOINHERIT IN ROLE pv_group;
GRANT USAGE ON SCHEMA durable_tasks TO pv_noinherit;
SELECT public.pv_as('pv_noinherit', $$SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
-- ... until it SETs ROLE to the group
SELECT public.pv_as('pv_noinherit', $$SET LOCAL ROLE pv_group; SELECT count(*) FROM durable_tasks.get_task('pv_a', '00000000-0000-7000-8000-000000000000')$$);
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_noinherit;
DROP ROLE pv_noinherit;

--
-- 11. drop_queue removes the queue's grants.
--
SELECT durable_tasks.grant_queue('pv_c', 'pv_producer', 'producer');
SELECT durable_tasks.grant_queue('pv_c', 'pv_worker', 'admin');
SELECT public.pv_as('pv_worker', $$SELECT durable_tasks.drop_queue('pv_c')$$);
SELECT count(*) AS pv_c_grants FROM durable_tasks.queue_grants WHERE queue_name = 'pv_c';
SELECT durable_tasks.create_queue('pv_c');
SELECT * FROM durable_tasks.list_queue_grants('pv_c');
SELECT public.pv_as('pv_producer', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_c', 'x')$$);
SELECT public.pv_as('pv_worker', $$SELECT durable_tasks.drop_queue('pv_c')$$);
SELECT durable_tasks.drop_queue('pv_c');
-- a role whose only grant went with its queue holds nothing: DROP ROLE
-- (after the schema USAGE, revoked by hand) succeeds
CREATE ROLE pv_tmp;
SELECT durable_tasks.create_queue('pv_c');
SELECT durable_tasks.grant_queue('pv_c', 'pv_tmp', 'producer');
SELECT durable_tasks.drop_queue('pv_c');
SELECT count(*) AS pv_tmp_grants FROM durable_tasks.queue_grants WHERE role_name = 'pv_tmp'::regrole;
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
-- (what still holds it, if anything)
SELECT classid::regclass, deptype FROM pg_shdepend
 WHERE refobjid = (SELECT oid FROM pg_roles WHERE rolname = 'pv_tmp');
-- (if it was refused: a grant and its revoke let it go)
DO $$BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pv_tmp') THEN
        PERFORM durable_tasks.grant_queue('pv_a', 'pv_tmp', 'producer');
        PERFORM durable_tasks.revoke_queue('pv_a', 'pv_tmp', 'producer');
        REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
        DROP ROLE pv_tmp;
    END IF;
END$$;

--
-- 12. DROP ROLE of a role holding a queue privilege is refused.
--
CREATE ROLE pv_tmp;
SELECT durable_tasks.grant_queue('pv_a', 'pv_tmp', 'producer');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
SELECT durable_tasks.revoke_queue('pv_a', 'pv_tmp', 'producer');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
-- the same for a grant on every queue
CREATE ROLE pv_tmp;
SELECT durable_tasks.grant_queue(NULL, 'pv_tmp', 'worker');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
SELECT durable_tasks.revoke_queue(NULL, 'pv_tmp', 'worker');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
-- DROP OWNED BY (what a DBA runs before DROP ROLE) does not leave a grant
-- of a dropped role behind
CREATE ROLE pv_tmp;
SELECT durable_tasks.grant_queue('pv_a', 'pv_tmp', 'producer');
DROP OWNED BY pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');
SELECT count(*) AS dangling FROM durable_tasks.queue_grants g
 WHERE NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = g.role_name::oid) AND g.role_name::oid <> 0;
SELECT * FROM durable_tasks.list_queue_grants('pv_a');
SELECT durable_tasks.revoke_queue('pv_a', 'pv_tmp', 'producer');
REVOKE USAGE ON SCHEMA durable_tasks FROM pv_tmp;
SELECT public.pv_err('DROP ROLE pv_tmp');

--
-- 13. The queue tables belong to the extension's owner, whoever created
-- the queue; no queue admin can attach code others' calls would run.
--
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.create_queue('pv_d')$$);
SELECT c.relname, c.relkind,
       c.relowner = (SELECT extowner FROM pg_extension WHERE extname = 'durable_tasks') AS by_ext_owner,
       (SELECT count(*) FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS other_grants
  FROM pg_class c
 WHERE c.relnamespace = 'durable_tasks'::regnamespace
   AND c.relname ~ '^[trc]_pv_[ad]$' OR c.oid IN ('durable_tasks.queues'::regclass,
                                                 'durable_tasks.queue_grants'::regclass)
 ORDER BY c.relname;
-- every other relation of the schema too (indexes, sequences)
SELECT count(*) AS not_by_ext_owner
  FROM pg_class c
 WHERE c.relnamespace = 'durable_tasks'::regnamespace
   AND c.relowner <> (SELECT extowner FROM pg_extension WHERE extname = 'durable_tasks');
CREATE FUNCTION public.pv_trojan() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE VIEW pv_attacks AS SELECT * FROM (VALUES
    (1, 'trigger on t_', $$CREATE TRIGGER pv_trojan BEFORE INSERT ON durable_tasks.t_%1$s FOR EACH ROW EXECUTE FUNCTION public.pv_trojan()$$),
    (2, 'trigger on r_', $$CREATE TRIGGER pv_trojan BEFORE UPDATE ON durable_tasks.r_%1$s FOR EACH ROW EXECUTE FUNCTION public.pv_trojan()$$),
    (3, 'trigger on c_', $$CREATE TRIGGER pv_trojan BEFORE INSERT ON durable_tasks.c_%1$s FOR EACH ROW EXECUTE FUNCTION public.pv_trojan()$$),
    (4, 'rule on t_',    $$CREATE RULE pv_trojan AS ON INSERT TO durable_tasks.t_%1$s DO ALSO NOTIFY pv$$),
    (5, 'rule on r_',    $$CREATE RULE pv_trojan AS ON UPDATE TO durable_tasks.r_%1$s DO ALSO NOTIFY pv$$),
    (6, 'policy on t_',  $$CREATE POLICY pv_trojan ON durable_tasks.t_%1$s USING (true)$$),
    (7, 'rls on r_',     $$ALTER TABLE durable_tasks.r_%1$s ENABLE ROW LEVEL SECURITY$$),
    (8, 'column type t_', $$ALTER TABLE durable_tasks.t_%1$s ALTER COLUMN params TYPE text$$),
    (9, 'column type r_', $$ALTER TABLE durable_tasks.r_%1$s ALTER COLUMN attempt TYPE bigint$$),
    (10, 'drop column c_', $$ALTER TABLE durable_tasks.c_%1$s DROP COLUMN state$$),
    (11, 'index on t_',  $$CREATE INDEX pv_trojan ON durable_tasks.t_%1$s (task_name)$$),
    (12, 'owner of t_',  $$ALTER TABLE durable_tasks.t_%1$s OWNER TO pv_admin$$),
    (13, 'drop r_',      $$DROP TABLE durable_tasks.r_%1$s$$)
  ) v(ord, name, sql);
-- pv_admin on its queue pv_a; pv_alladmin on pv_d, which it created
SELECT a.name, public.pv_try('pv_admin', format(a.sql, 'pv_a')) AS "pv_admin on pv_a",
       public.pv_try('pv_alladmin', format(a.sql, 'pv_d')) AS "pv_alladmin on pv_d"
  FROM pv_attacks a ORDER BY a.ord;
SELECT count(*) AS triggers FROM pg_trigger
 WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'durable_tasks'::regnamespace)
   AND NOT tgisinternal AND tgname = 'pv_trojan';
DROP FUNCTION public.pv_trojan();
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.drop_queue('pv_d')$$);

--
-- 14. Name squatting: a role given CREATE on the schema makes t_pv_sq and
-- r_pv_sq (the columns of a queue's) itself; create_queue never adopts them.
--
CREATE ROLE pv_squatter;
GRANT USAGE, CREATE ON SCHEMA durable_tasks TO pv_squatter;
SELECT string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                         CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
         FILTER (WHERE a.attrelid = 'durable_tasks.t_pv_a'::regclass) AS t_cols,
       string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                         CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
         FILTER (WHERE a.attrelid = 'durable_tasks.r_pv_a'::regclass) AS r_cols,
       string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                         CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
         FILTER (WHERE a.attrelid = 'durable_tasks.c_pv_a'::regclass) AS c_cols
  FROM pg_attribute a
 WHERE a.attrelid IN ('durable_tasks.t_pv_a'::regclass, 'durable_tasks.r_pv_a'::regclass,
                      'durable_tasks.c_pv_a'::regclass)
   AND a.attnum > 0 AND NOT a.attisdropped \gset
SET ROLE pv_squatter;
SELECT public.pv_err(format('CREATE TABLE durable_tasks.t_pv_sq (%s, PRIMARY KEY (task_id))', :'t_cols'));
SELECT public.pv_err(format('CREATE TABLE durable_tasks.r_pv_sq (%s, PRIMARY KEY (run_id))', :'r_cols'));
SELECT public.pv_err(format('CREATE TABLE durable_tasks.c_pv_sq (%s, PRIMARY KEY (task_id, step_name))', :'c_cols'));
-- the squatter itself may not create a queue
SELECT public.pv_err($$SELECT durable_tasks.create_queue('pv_sq')$$);
RESET ROLE;
SELECT c.relname, c.relowner::regrole FROM pg_class c
 WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relname ~ '^[trc]_pv_sq$' ORDER BY 1;
-- an admin of every queue, and the superuser: refused, nothing adopted
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.create_queue('pv_sq')$$);
SELECT public.pv_err($$SELECT durable_tasks.create_queue('pv_sq')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'pv_sq';
SELECT c.relname, c.relowner::regrole FROM pg_class c
 WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relname ~ '^[trc]_pv_sq$' ORDER BY 1;
SELECT public.pv_as('pv_alladmin', $$SELECT count(*) FROM durable_tasks.spawn_task('pv_sq', 'x')$$);
-- a queue admin that is not admin on every queue cannot create a queue at all
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.create_queue('pv_sq')$$);
SELECT public.pv_as('pv_admin', $$SELECT durable_tasks.create_queue('pv_fresh')$$);
SELECT public.pv_as('pv_worker', $$SELECT durable_tasks.create_queue('pv_fresh')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'pv_fresh';
-- real queue tables (the exact layout) that lost their row and were given
-- to another role: refused too
SELECT durable_tasks.create_queue('pv_sq2');
SELECT count(*) FROM durable_tasks.spawn_task('pv_sq2', 'kept');
DELETE FROM durable_tasks.queues WHERE queue_name = 'pv_sq2';
ALTER TABLE durable_tasks.t_pv_sq2 OWNER TO pv_squatter;
ALTER TABLE durable_tasks.r_pv_sq2 OWNER TO pv_squatter;
ALTER TABLE durable_tasks.c_pv_sq2 OWNER TO pv_squatter;
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.create_queue('pv_sq2')$$);
SELECT public.pv_err($$SELECT durable_tasks.create_queue('pv_sq2')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'pv_sq2';
SELECT c.relname, c.relowner::regrole FROM pg_class c
 WHERE c.relnamespace = 'durable_tasks'::regnamespace AND c.relname ~ '^[trc]_pv_sq2$' ORDER BY 1;
-- given back to the extension's owner, they are registered again
DO $$BEGIN
    EXECUTE format('ALTER TABLE durable_tasks.t_pv_sq2 OWNER TO %I', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
    EXECUTE format('ALTER TABLE durable_tasks.r_pv_sq2 OWNER TO %I', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
    EXECUTE format('ALTER TABLE durable_tasks.c_pv_sq2 OWNER TO %I', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
END$$;
SELECT public.pv_as('pv_alladmin', $$SELECT durable_tasks.create_queue('pv_sq2')$$);
SELECT count(*) AS registered FROM durable_tasks.queues WHERE queue_name = 'pv_sq2';
SELECT durable_tasks.drop_queue('pv_sq2');
SET ROLE pv_squatter;
DROP TABLE durable_tasks.t_pv_sq, durable_tasks.r_pv_sq, durable_tasks.c_pv_sq;
RESET ROLE;
REVOKE USAGE, CREATE ON SCHEMA durable_tasks FROM pv_squatter;
DROP ROLE pv_squatter;

--
-- 13b. A registry row deleted by hand: create_queue registers the tables
-- again, and the grants the old row had are gone with it (no foreign key
-- keeps them in step: pg_restore -j loads the two tables in any order).
--
SELECT durable_tasks.create_queue('pv_hand');
CREATE ROLE pv_hand_role;
SELECT durable_tasks.grant_queue('pv_hand', 'pv_hand_role', 'worker');
DELETE FROM durable_tasks.queues WHERE queue_name = 'pv_hand';
SELECT count(*) AS grants_left_by_the_row FROM durable_tasks.queue_grants WHERE queue_name = 'pv_hand';
SELECT durable_tasks.create_queue('pv_hand');
SELECT count(*) AS grants_after_create FROM durable_tasks.list_queue_grants('pv_hand') WHERE queue_name IS NOT NULL;
SELECT has_schema_privilege('pv_hand_role', 'durable_tasks', 'USAGE') AS usage_left;
SELECT durable_tasks.drop_queue('pv_hand');
DROP ROLE pv_hand_role;

--
-- 14. Code on a queue table, even a superuser's: every call on the queue
-- refuses it (55000), since the queue's statements run as the extension's
-- owner on behalf of every caller.
--
SELECT durable_tasks.create_queue('pv_code');
CREATE FUNCTION public.pv_code_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER pv_code_trg BEFORE INSERT ON durable_tasks.r_pv_code
    FOR EACH ROW EXECUTE FUNCTION public.pv_code_trg();
SELECT public.err($$SELECT durable_tasks.spawn_task('pv_code', 'x')$$);
DROP TRIGGER pv_code_trg ON durable_tasks.r_pv_code;
SELECT created FROM durable_tasks.spawn_task('pv_code', 'x');
CREATE RULE pv_code_rule AS ON UPDATE TO durable_tasks.t_pv_code DO ALSO NOTHING;
SELECT public.err($$SELECT * FROM durable_tasks.claim_task('pv_code', 'w')$$);
DROP RULE pv_code_rule ON durable_tasks.t_pv_code;
ALTER TABLE durable_tasks.c_pv_code ENABLE ROW LEVEL SECURITY;
SELECT public.err($$SELECT * FROM durable_tasks.get_task('pv_code', durable_tasks.uuid_v7())$$);
ALTER TABLE durable_tasks.c_pv_code DISABLE ROW LEVEL SECURITY;
SELECT count(*) AS claimed FROM durable_tasks.claim_task('pv_code', 'w');
SELECT durable_tasks.drop_queue('pv_code');
DROP FUNCTION public.pv_code_trg();

--
-- 15. Superusers and members of the extension's owner pass before the
-- grants are read, which happens when another role's check first needs
-- them.  In a fresh backend: a superuser's call (nothing read), then a
-- denial and a grant of other roles.  A role made superuser, or a member
-- of the owner, and back counts from its next call.
--
\c
SELECT public.pv_try(NULL, $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS superuser;
SELECT public.pv_try('pv_producer', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS producer;
SELECT public.pv_try('pv_worker', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS worker;
ALTER ROLE pv_producer SUPERUSER;
SELECT public.pv_try('pv_producer', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS producer_superuser;
ALTER ROLE pv_producer NOSUPERUSER;
SELECT public.pv_try('pv_producer', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS producer_again;
DO $$BEGIN
    EXECUTE format('GRANT %I TO pv_producer', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
END$$;
SELECT public.pv_try('pv_producer', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS producer_owner_member;
DO $$BEGIN
    EXECUTE format('REVOKE %I FROM pv_producer', (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'durable_tasks'));
END$$;
SELECT public.pv_try('pv_producer', $$SELECT count(*) FROM durable_tasks.claim_task('pv_a', 'w')$$) AS producer_again;

--
-- Clean up: the queue grants first, then the schema grants, then the roles.
--
SELECT durable_tasks.revoke_queue(g.queue_name, g.role_name, g.privilege)
  FROM durable_tasks.list_queue_grants() g
 WHERE g.role_name LIKE 'pv\_%';
SELECT * FROM durable_tasks.list_queue_grants();
SELECT durable_tasks.drop_queue(q) FROM unnest(ARRAY['pv_a', 'pv_b']) q;
SELECT count(*) AS pv_queues FROM durable_tasks.list_queues() WHERE queue_name LIKE 'pv\_%';
REVOKE USAGE ON SCHEMA durable_tasks
  FROM pv_producer, pv_worker, pv_admin, pv_group, pv_member, pv_alladmin, pv_extmember,
       pv_none, pv_nousage;
DROP ROLE pv_producer, pv_worker, pv_admin, pv_member, pv_group, pv_alladmin, pv_extmember,
          pv_none, pv_nousage;
SELECT count(*) AS pv_roles_left FROM pg_roles WHERE rolname LIKE 'pv\_%';
SELECT count(*) AS schema_grants_left FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'durable_tasks' AND a.grantee <> n.nspowner;
DROP VIEW pv_attacks, pv_direct, pv_lookup, pv_grid, pv_denials, pv_calls_a, pv_calls_b, pv_calls_g;
DROP TABLE pv_cells_done, pv_ids, pv_roles;
DROP FUNCTION public.pv_run(text), public.pv_cells(text), public.pv_queue_calls(text),
              public.pv_listing(text, text), public.pv_as(text, text), public.pv_try(text, text),
              public.pv_err(text);
