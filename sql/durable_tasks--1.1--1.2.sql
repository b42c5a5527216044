/* durable_tasks--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION durable_tasks UPDATE TO '1.2'" to load this file. \quit

--
-- 1.2 (in progress).  There is no durable_tasks--1.2.sql: CREATE EXTENSION
-- runs durable_tasks--1.1.sql and then this script, so a fresh install and
-- an upgraded one are made by the same statements.
--
-- Every function that exists in 1.1 and 1.2 keeps its signature and is
-- changed with CREATE OR REPLACE, so the privileges a DBA granted or
-- revoked on it survive the update.
--

--
-- Privileges (SPEC 8).  The extension must own its schema: a schema that
-- another role created beforehand could be renamed, emptied or filled
-- with look-alike functions by that role after the install.  Everything
-- in this block is qualified, as the schema's objects are not to be
-- trusted yet.
--
DO $check$
DECLARE
    schema_owner oid;
    ext_owner    oid;
BEGIN
    SELECT n.nspowner INTO schema_owner FROM pg_catalog.pg_namespace n
     WHERE n.nspname OPERATOR(pg_catalog.=) 'durable_tasks';
    SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'durable_tasks';
    IF NOT schema_owner OPERATOR(pg_catalog.=) ext_owner THEN
        RAISE EXCEPTION USING
            ERRCODE = '42501',
            MESSAGE = 'schema "durable_tasks" is not owned by the extension''s owner',
            DETAIL = pg_catalog.format('The schema is owned by role %s, the extension by role %s.',
                                       schema_owner::pg_catalog.regrole,
                                       ext_owner::pg_catalog.regrole),
            HINT = 'Drop the schema first, or give it to the installing role with ALTER SCHEMA durable_tasks OWNER TO.';
    END IF;
END
$check$;

-- Objects of other roles in the schema (1.1 let queue creators CREATE
-- there): a look-alike function or operator would be called instead of
-- ours.  Queue tables are checked below, by their shape.
DO $objects$
DECLARE
    ext_oid   oid;
    ext_owner oid;
    nsp       oid := 'durable_tasks'::pg_catalog.regnamespace;
    found     text;
BEGIN
    SELECT e.oid, e.extowner INTO ext_oid, ext_owner FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'durable_tasks';
    -- (a queue has no c_<queue> yet: 1.2 makes it)
    WITH queue_rels AS (
        SELECT c.oid FROM durable_tasks.queues qs, pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
           AND c.relname OPERATOR(pg_catalog.=) ANY (ARRAY['t_' OPERATOR(pg_catalog.||) qs.queue_name,
                                                           'r_' OPERATOR(pg_catalog.||) qs.queue_name])
    ), objs AS (
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid AS objid, c.relowner AS owner
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
           AND NOT c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM queue_rels))
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_index i
                            WHERE i.indexrelid OPERATOR(pg_catalog.=) c.oid
                              AND i.indrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM queue_rels)))
        UNION ALL
        SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid, p.proowner
          FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, t.typowner
          FROM pg_catalog.pg_type t
         WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
           AND t.typrelid OPERATOR(pg_catalog.=) 0
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e
                            WHERE e.oid OPERATOR(pg_catalog.=) t.typelem
                              AND NOT e.typrelid OPERATOR(pg_catalog.=) 0)
        UNION ALL
        SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid, o.oprowner
          FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, l.oid, l.collowner
          FROM pg_catalog.pg_collation l WHERE l.collnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, v.oid, v.conowner
          FROM pg_catalog.pg_conversion v WHERE v.connamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, f.oid, f.opfowner
          FROM pg_catalog.pg_opfamily f WHERE f.opfnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, k.oid, k.opcowner
          FROM pg_catalog.pg_opclass k WHERE k.opcnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, x.oid, x.stxowner
          FROM pg_catalog.pg_statistic_ext x WHERE x.stxnamespace OPERATOR(pg_catalog.=) nsp
    )
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(o.classid, o.objid, 0), ', '
                                 ORDER BY pg_catalog.pg_describe_object(o.classid, o.objid, 0))
      INTO found
      FROM objs o
     WHERE NOT o.owner OPERATOR(pg_catalog.=) ext_owner
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                        WHERE d.classid OPERATOR(pg_catalog.=) o.classid
                          AND d.objid OPERATOR(pg_catalog.=) o.objid
                          AND d.deptype OPERATOR(pg_catalog.=) 'e'
                          AND d.refobjid OPERATOR(pg_catalog.=) ext_oid);
    IF found IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = '42501',
            MESSAGE = 'schema "durable_tasks" holds objects of other roles than the extension''s owner',
            DETAIL = 'Objects: ' OPERATOR(pg_catalog.||) found OPERATOR(pg_catalog.||) '.',
            HINT = 'Drop them (or, after review, give them to the extension''s owner) and update again.';
    END IF;
END
$objects$;

-- Queue management in C (admin.c): create_queue and drop_queue keep the
-- registry row and the tables together and repair a queue that lost one
-- of them; the queue's tables are made by the layout steps of layout.c.
CREATE OR REPLACE FUNCTION durable_tasks.create_queue(queue_name text, options jsonb DEFAULT '{}')
RETURNS void
AS 'MODULE_PATHNAME', 'dt_create_queue'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION durable_tasks.alter_queue(queue_name text, options jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_alter_queue'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION durable_tasks.drop_queue(queue_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_drop_queue'
LANGUAGE C VOLATILE;

-- cancel_task in C (cancel.c), through the state table like every move.
CREATE OR REPLACE FUNCTION durable_tasks.cancel_task(queue_name text, task_id uuid)
RETURNS integer
AS 'MODULE_PATHNAME', 'dt_cancel_task'
LANGUAGE C VOLATILE;

--
-- spawn_task returns a named row type, with the same columns: for a
-- function with OUT parameters the executor builds the result descriptor
-- from pg_proc on every call (a tenth of the hit path), for a row type it
-- takes it from the type cache.  A new return type needs DROP and CREATE,
-- the one exception to CREATE OR REPLACE in this script.  The new function
-- gets exactly the old one's owner, ACL (grantees, grant options and
-- grantors, not what default privileges would give a new function) and
-- initial privileges (pg_init_privs: what pg_dump leaves out), and an
-- object that depends on it (a view, a BEGIN ATOMIC function) stops the
-- update instead of being dropped with it.  A comment or setting the DBA
-- put on spawn_task is not carried over.
--
CREATE TYPE durable_tasks.spawn_result AS (
    task_id uuid, run_id uuid, attempt integer, created boolean, state text);

DO $spawn$
DECLARE
    sig         CONSTANT text := 'durable_tasks.spawn_task(text, text, jsonb, boolean, text, jsonb)';
    old_fn      pg_catalog.oid := pg_catalog.to_regprocedure(sig);
    new_fn      pg_catalog.oid;
    old_owner   pg_catalog.oid;
    old_acl     pg_catalog.aclitem[];
    old_init    pg_catalog.aclitem[];
    old_init_type "char";
    dependents  text;
    g           record;
BEGIN
    SELECT pg_catalog.string_agg(o.name, ', ' ORDER BY o.name)
      INTO dependents
      FROM pg_catalog.pg_depend d,
           LATERAL pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) o(name)
     WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) old_fn
       AND d.deptype OPERATOR(pg_catalog.=) 'n';
    IF dependents IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop function % because other objects depend on it', sig
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'The update to 1.2 re-creates spawn_task, which returns the row type durable_tasks.spawn_result (the same columns).  Objects that depend on it: ' || dependents || '.',
                  HINT = 'Drop them, run ALTER EXTENSION durable_tasks UPDATE, and create them again.';
    END IF;
    SELECT p.proowner, p.proacl INTO old_owner, old_acl
      FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) old_fn;
    SELECT ip.initprivs, ip.privtype INTO old_init, old_init_type
      FROM pg_catalog.pg_init_privs ip
     WHERE ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND ip.objoid OPERATOR(pg_catalog.=) old_fn
       AND ip.objsubid OPERATOR(pg_catalog.=) 0;

    DROP FUNCTION durable_tasks.spawn_task(text, text, jsonb, boolean, text, jsonb);
    CREATE FUNCTION durable_tasks.spawn_task(
        queue_name      text,
        task_name       text,
        params          jsonb   DEFAULT '{}',
        only_once       boolean DEFAULT false,
        idempotency_key text    DEFAULT NULL,
        options         jsonb   DEFAULT '{}')
    RETURNS SETOF durable_tasks.spawn_result
    ROWS 1
    AS 'MODULE_PATHNAME', 'dt_spawn_task_1_1'
    LANGUAGE C VOLATILE;
    new_fn := pg_catalog.to_regprocedure(sig);

    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO %s', sig,
                              old_owner::pg_catalog.regrole);
    IF old_acl IS NOT NULL OR
       (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p
         WHERE p.oid OPERATOR(pg_catalog.=) new_fn) THEN
        -- revoke what the new function got (its owner's default privileges
        -- included), grant the old list (which records the roles' shared
        -- dependencies), then store the old array as it was: its grantors
        -- and order, or NULL
        FOR g IN
            SELECT DISTINCT a.grantee
              FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
             WHERE p.oid OPERATOR(pg_catalog.=) new_fn
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %s CASCADE', sig,
                                      CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                           ELSE g.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
        FOR g IN
            SELECT a.grantee, a.is_grantable
              FROM pg_catalog.aclexplode(COALESCE(old_acl,
                                                  pg_catalog.acldefault('f', old_owner))) a
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', sig,
                                      CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                           ELSE g.grantee::pg_catalog.regrole::pg_catalog.text END,
                                      CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        UPDATE pg_catalog.pg_proc SET proacl = old_acl
         WHERE oid OPERATOR(pg_catalog.=) new_fn;
    END IF;
    -- the old function's initial privileges, not the ones our GRANTs wrote
    DELETE FROM pg_catalog.pg_init_privs ip
     WHERE ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND ip.objoid OPERATOR(pg_catalog.=) new_fn;
    IF old_init IS NOT NULL THEN
        INSERT INTO pg_catalog.pg_init_privs (objoid, classoid, objsubid, privtype, initprivs)
        VALUES (new_fn, 'pg_catalog.pg_proc'::pg_catalog.regclass, 0, old_init_type, old_init);
    END IF;
END
$spawn$;

-- Internal helpers of the 1.0/1.1 PL/pgSQL functions are no longer SQL
-- functions: nothing a user may call reaches them.
DROP FUNCTION durable_tasks.add_idempotency_key(text);
DROP FUNCTION durable_tasks.check_queue(text, boolean);
DROP FUNCTION durable_tasks.check_queue_options(jsonb);

-- The registry's trigger function is for the trigger only.
REVOKE ALL ON FUNCTION durable_tasks.registry_changed() FROM PUBLIC;

--
-- Privileges on queues (acl.c): producer < worker < admin, granted per
-- queue or (queue_name NULL) on every queue, present and future.  The
-- rows are user data: pg_dump keeps them.  A queue's grants go with it:
-- drop_queue deletes them, and create_queue deletes any a name it newly
-- registers still has (a registry row deleted by hand).  No foreign key
-- to the registry: pg_restore -j loads the two tables in any order.
--
CREATE TABLE durable_tasks.queue_grants (
    queue_name text,
    role_name  pg_catalog.regrole NOT NULL,
    privilege  text NOT NULL
               CONSTRAINT queue_grants_privilege_check
               CHECK (privilege IN ('producer', 'worker', 'admin')),
    CONSTRAINT queue_grants_key UNIQUE NULLS NOT DISTINCT (queue_name, role_name, privilege)
);

SELECT pg_catalog.pg_extension_config_dump('durable_tasks.queue_grants', '');

-- Its trigger: every backend drops its cached grants, and DROP ROLE
-- refuses a role that holds a queue privilege (a shared dependency, kept
-- in step with the rows, also those pg_restore copies back).
CREATE FUNCTION durable_tasks.queue_grants_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'dt_grants_changed'
LANGUAGE C;

REVOKE ALL ON FUNCTION durable_tasks.queue_grants_changed() FROM PUBLIC;

CREATE TRIGGER queue_grants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON durable_tasks.queue_grants
    FOR EACH STATEMENT EXECUTE FUNCTION durable_tasks.queue_grants_changed();

CREATE FUNCTION durable_tasks.grant_queue(queue_name text, role_name name, privilege text)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_grant_queue'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.revoke_queue(queue_name text, role_name name, privilege text)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_revoke_queue'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.list_queue_grants(queue_name text DEFAULT NULL)
RETURNS TABLE (queue_name text, role_name name, privilege text)
AS 'MODULE_PATHNAME', 'dt_list_queue_grants'
LANGUAGE C STABLE;

-- The queues on which the caller has a privilege (the registry is the
-- owner's alone from now on).
CREATE OR REPLACE FUNCTION durable_tasks.list_queues()
RETURNS TABLE (queue_name text, created_at timestamptz, key_reuse text,
               dedup_ttl_seconds integer, on_params_mismatch text)
AS 'MODULE_PATHNAME', 'dt_list_queues'
LANGUAGE C STABLE;

--
-- What roles could do through table grants in 1.1 becomes queue
-- privileges: the owner of t_<queue> gets admin, a role that may INSERT
-- into t_<queue> producer, one that may UPDATE r_<queue> worker, and a
-- role that could create queues (INSERT on the registry and CREATE on the
-- schema) admin on every queue.  (Below, once the tables are checked, the
-- extension's owner takes them over and every other grant is revoked.)
--
DO $grants$
DECLARE
    ext_owner   oid;
    g           record;
BEGIN
    SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'durable_tasks';

    FOR g IN
        WITH tables AS (
            SELECT qs.queue_name, c.oid, c.relowner, c.relacl,
                   pg_catalog.substr(c.relname, 1, 2) AS prefix
              FROM durable_tasks.queues qs
              JOIN pg_catalog.pg_class c
                ON c.relnamespace OPERATOR(pg_catalog.=) 'durable_tasks'::pg_catalog.regnamespace
               AND c.relname OPERATOR(pg_catalog.=) ANY (ARRAY['t_' OPERATOR(pg_catalog.||) qs.queue_name,
                                                               'r_' OPERATOR(pg_catalog.||) qs.queue_name])
        )
        SELECT t.queue_name, t.relowner AS grantee, 'admin' AS privilege
          FROM tables t WHERE t.prefix OPERATOR(pg_catalog.=) 't_'
        UNION
        SELECT t.queue_name, a.grantee,
               CASE WHEN t.prefix OPERATOR(pg_catalog.=) 't_' THEN 'producer' ELSE 'worker' END
          FROM tables t, pg_catalog.aclexplode(t.relacl) a
         WHERE NOT a.grantee OPERATOR(pg_catalog.=) t.relowner
           AND ((t.prefix OPERATOR(pg_catalog.=) 't_' AND a.privilege_type OPERATOR(pg_catalog.=) 'INSERT')
                OR (t.prefix OPERATOR(pg_catalog.=) 'r_' AND a.privilege_type OPERATOR(pg_catalog.=) 'UPDATE'))
        UNION
        SELECT NULL, a.grantee, 'admin'
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid OPERATOR(pg_catalog.=) 'durable_tasks.queues'::pg_catalog.regclass
           AND a.privilege_type OPERATOR(pg_catalog.=) 'INSERT'
           AND CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0
                    THEN EXISTS (SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) s
                                  WHERE n.nspname OPERATOR(pg_catalog.=) 'durable_tasks'
                                    AND s.grantee OPERATOR(pg_catalog.=) 0
                                    AND s.privilege_type OPERATOR(pg_catalog.=) 'CREATE')
                    ELSE pg_catalog.has_schema_privilege(a.grantee, 'durable_tasks', 'CREATE') END
         ORDER BY 1 NULLS FIRST, 2, 3
    LOOP
        CONTINUE WHEN g.grantee OPERATOR(pg_catalog.=) ext_owner;
        PERFORM durable_tasks.grant_queue(
            g.queue_name,
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'public'::pg_catalog.name
                 ELSE (SELECT ro.rolname FROM pg_catalog.pg_roles ro
                        WHERE ro.oid OPERATOR(pg_catalog.=) g.grantee) END,
            g.privilege);
    END LOOP;

END
$grants$;

--
-- The 1.2 layout step for every existing queue (the step create_queue runs
-- for a new one), through a helper that lives only in this script.
--
CREATE FUNCTION durable_tasks.queue_layout_step(queue_name text, version text)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_queue_layout_step'
LANGUAGE C;

SELECT durable_tasks.queue_layout_step(qs.queue_name, '1.2')
  FROM durable_tasks.queues qs
 ORDER BY qs.queue_name;

DROP FUNCTION durable_tasks.queue_layout_step(text, text);

--
-- Queue tables that another role owned in 1.1 must be exactly what the
-- layout steps make (all of them: this runs after the 1.2 step), before
-- the extension's owner takes them over: a
-- CHECK constraint, default, index expression, trigger, rule or policy
-- that role added would run as the owner inside every caller's call.  The
-- shape of a queue (columns, constraints, indexes and what is attached,
-- without names) is compared with that of a queue made here by
-- create_queue and dropped again.
--
CREATE FUNCTION durable_tasks.queue_shape(q text, prefixes text[])
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH rels AS (
    SELECT c.oid, p.prefix, c.relkind, c.relpersistence, c.relispartition, c.relrowsecurity,
           c.relforcerowsecurity, c.reloftype, c.relam
      FROM unnest(prefixes) p(prefix)
      JOIN pg_class c ON c.relnamespace = 'durable_tasks'::regnamespace
                     AND c.relname = p.prefix || q
)
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
    SELECT 'rel ' || r.prefix || ' ' || concat_ws(' ', r.relkind, r.relpersistence, r.relispartition,
                                                  r.relrowsecurity, r.relforcerowsecurity,
                                                  r.reloftype, r.relam)
      FROM rels r
    UNION ALL
    SELECT 'inherits ' || r.prefix FROM rels r, pg_inherits i WHERE r.oid IN (i.inhrelid, i.inhparent)
    UNION ALL
    SELECT 'column ' || r.prefix || ' ' || concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                                                     a.attnotnull, a.attgenerated, a.attidentity,
                                                     a.attcollation, pg_get_expr(d.adbin, d.adrelid))
      FROM rels r
      JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || r.prefix || ' ' || k.contype::text || ' '
           || regexp_replace(pg_get_constraintdef(k.oid), 'REFERENCES durable_tasks\.[a-z0-9_]+\(', 'REFERENCES (')
      FROM rels r JOIN pg_constraint k ON k.conrelid = r.oid
    UNION ALL
    SELECT 'index ' || r.prefix || ' '
           || regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ', '')
           || CASE WHEN i.indisunique THEN ' unique' ELSE '' END
      FROM rels r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT 'trigger ' || r.prefix || ' ' || g.tgname
      FROM rels r JOIN pg_trigger g ON g.tgrelid = r.oid AND NOT g.tgisinternal
    UNION ALL
    SELECT 'rule ' || r.prefix || ' ' || w.rulename FROM rels r JOIN pg_rewrite w ON w.ev_class = r.oid
    UNION ALL
    SELECT 'policy ' || r.prefix || ' ' || p.polname FROM rels r JOIN pg_policy p ON p.polrelid = r.oid
    UNION ALL
    SELECT 'statistics ' || r.prefix || ' ' || pg_get_statisticsobjdef(x.oid)
      FROM rels r JOIN pg_statistic_ext x ON x.stxrelid = r.oid
) x(line)
$fn$;

DO $shape$
DECLARE
    ref_queue CONSTANT text := 'durable_tasks_update_reference';
    ref       text;
    ext_owner oid;
    q         record;
    diff      text;
BEGIN
    SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'durable_tasks';
    FOR q IN
        SELECT qs.queue_name
          FROM durable_tasks.queues qs
         WHERE EXISTS (SELECT FROM pg_catalog.pg_class c
                        WHERE c.relnamespace OPERATOR(pg_catalog.=) 'durable_tasks'::pg_catalog.regnamespace
                          AND c.relname OPERATOR(pg_catalog.=) ANY (ARRAY['t_' OPERATOR(pg_catalog.||) qs.queue_name,
                                                                          'r_' OPERATOR(pg_catalog.||) qs.queue_name,
                                                                          'c_' OPERATOR(pg_catalog.||) qs.queue_name])
                          AND NOT c.relowner OPERATOR(pg_catalog.=) ext_owner)
         ORDER BY qs.queue_name
    LOOP
        IF ref IS NULL THEN
            IF EXISTS (SELECT FROM durable_tasks.queues qs
                        WHERE qs.queue_name OPERATOR(pg_catalog.=) ref_queue) THEN
                RAISE EXCEPTION 'a queue named "%" exists', ref_queue
                    USING HINT = 'The update makes a queue of that name to compare the others with: drop or rename it first.';
            END IF;
            PERFORM durable_tasks.create_queue(ref_queue);
            ref := durable_tasks.queue_shape(ref_queue, ARRAY['t_', 'r_', 'c_']);
            PERFORM durable_tasks.drop_queue(ref_queue);
        END IF;
        SELECT pg_catalog.string_agg(l, '; ' ORDER BY l) INTO diff
          FROM (SELECT pg_catalog.unnest(pg_catalog.string_to_array(
                           durable_tasks.queue_shape(q.queue_name, ARRAY['t_', 'r_', 'c_']), E'\n'))
                EXCEPT
                SELECT pg_catalog.unnest(pg_catalog.string_to_array(ref, E'\n'))) x(l);
        IF diff IS NOT NULL THEN
            RAISE EXCEPTION USING
                ERRCODE = '55000',
                MESSAGE = pg_catalog.format('the tables of queue "%s" are not what durable_tasks made', q.queue_name),
                DETAIL = pg_catalog.format('They are owned by another role than the extension''s owner and have: %s.', diff),
                HINT = 'Drop what was added to them (or drop the queue), then update again; the update gives them to the extension''s owner.';
        END IF;
    END LOOP;
END
$shape$;

DROP FUNCTION durable_tasks.queue_shape(text, text[]);

--
-- The extension's owner takes the queue tables over, and every other
-- grant on them and on the registry is revoked: from now on all access
-- goes through the functions.  So is CREATE on the schema.
--
DO $owners$
DECLARE
    ext_owner   oid;
    g           record;
    r           record;
    init_before oid[] := ARRAY(SELECT ip.objoid FROM pg_catalog.pg_init_privs ip);
BEGIN
    SELECT e.extowner INTO ext_owner FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'durable_tasks';

    FOR g IN
        SELECT c.oid::pg_catalog.regclass AS rel, c.relowner, c.relacl
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'durable_tasks'::pg_catalog.regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) 'r'
           AND (c.relname OPERATOR(pg_catalog.~) '^[tr]_'
                OR c.relname OPERATOR(pg_catalog.=) 'queues')
         ORDER BY 1
    LOOP
        IF NOT g.relowner OPERATOR(pg_catalog.=) ext_owner THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %s', g.rel,
                                      ext_owner::pg_catalog.regrole);
        END IF;
        -- (a REVOKE on the table also revokes its column privileges)
        FOR r IN
            SELECT x.grantee FROM pg_catalog.aclexplode(g.relacl) x
            UNION
            SELECT y.grantee
              FROM pg_catalog.pg_attribute a, pg_catalog.aclexplode(a.attacl) y
             WHERE a.attrelid OPERATOR(pg_catalog.=) g.rel
            EXCEPT
            SELECT u FROM pg_catalog.unnest(ARRAY[g.relowner, ext_owner]) u
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %s CASCADE', g.rel,
                                      CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                           ELSE r.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
    END LOOP;

    -- CREATE on the schema lets a role plant look-alike functions in it;
    -- queues are made by create_queue from now on.
    FOR r IN
        SELECT DISTINCT a.grantee
          FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         WHERE n.nspname OPERATOR(pg_catalog.=) 'durable_tasks'
           AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
           AND NOT a.grantee OPERATOR(pg_catalog.=) n.nspowner
    LOOP
        EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA durable_tasks FROM %s CASCADE',
                                  CASE WHEN r.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                       ELSE r.grantee::pg_catalog.regrole::pg_catalog.text END);
    END LOOP;

    -- A GRANT or REVOKE inside an extension script records the object's
    -- ACL as the extension's initial privileges, which pg_dump leaves out
    -- of dumps: the DBA's grants on the schema would be lost by a dump and
    -- restore.  A fresh install records none for these objects; neither
    -- does the update.
    DELETE FROM pg_catalog.pg_init_privs ip
     WHERE NOT ip.objoid OPERATOR(pg_catalog.=) ANY (init_before)
       AND ((ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
             AND ip.objoid OPERATOR(pg_catalog.=) 'durable_tasks'::pg_catalog.regnamespace)
            OR (ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND ip.objoid OPERATOR(pg_catalog.=) ANY (ARRAY(
                    SELECT c.oid FROM pg_catalog.pg_class c
                     WHERE c.relnamespace OPERATOR(pg_catalog.=) 'durable_tasks'::pg_catalog.regnamespace
                       AND c.relkind OPERATOR(pg_catalog.=) 'r'
                       AND (c.relname OPERATOR(pg_catalog.~) '^[tr]_'
                            OR c.relname OPERATOR(pg_catalog.=) 'queues')))));
END
$owners$;

--
-- Results and operations (SPEC 5.4, 5.6).
--

-- Waits until the task is terminal or the timeout passes (await.c).
CREATE FUNCTION durable_tasks.await_task(
    queue_name      text,
    task_id         uuid,
    timeout_seconds double precision DEFAULT 30)
RETURNS TABLE (task_id uuid, state text, result jsonb, failure jsonb,
               timed_out boolean)
AS 'MODULE_PATHNAME', 'dt_await_task'
LANGUAGE C VOLATILE;

-- Many spawns in one call, each with spawn_task's semantics (bulk.c).
CREATE FUNCTION durable_tasks.spawn_tasks(
    queue_name text,
    tasks      jsonb,
    options    jsonb DEFAULT '{}')
RETURNS TABLE (ordinal integer, task_id uuid, run_id uuid, attempt integer,
               created boolean, state text)
AS 'MODULE_PATHNAME', 'dt_spawn_tasks'
LANGUAGE C VOLATILE;

--
-- Durable execution (SPEC 5.1): checkpoints, in each queue's c_<queue>
-- (made by the 1.2 layout step above for existing queues, and by
-- create_queue for new ones).
--

-- Saves (upserts) the result of one step of the run's task; only the
-- holder of a live lease may (checkpoint.c).
CREATE FUNCTION durable_tasks.set_checkpoint(
    queue_name           text,
    run_id               uuid,
    step_name            text,
    state                jsonb,
    extend_claim_seconds integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_set_checkpoint'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.get_checkpoints(queue_name text, task_id uuid)
RETURNS TABLE (step_name text, state jsonb, run_id uuid, attempt integer,
               updated_at timestamptz)
AS 'MODULE_PATHNAME', 'dt_get_checkpoints'
LANGUAGE C STABLE;

CREATE FUNCTION durable_tasks.get_checkpoint(queue_name text, task_id uuid, step_name text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dt_get_checkpoint'
LANGUAGE C STABLE;

--
-- Observability (SPEC 5.7): exact counts of tasks by state, from the
-- run table's indexes (the 1.2 layout step adds ri_<queue>_done, on runs
-- that slept or ended; stats.c).
-- The spawn counters are NULL until the optional preload (SPEC 7).
--
CREATE FUNCTION durable_tasks.queue_stats(queue_name text DEFAULT NULL)
RETURNS TABLE (queue_name text, pending bigint, running bigint, sleeping bigint,
               completed bigint, failed bigint, cancelled bigint,
               oldest_pending_at timestamptz, spawned bigint, dedup_hits bigint,
               dedup_misses bigint)
AS 'MODULE_PATHNAME', 'dt_queue_stats'
LANGUAGE C STABLE;

-- Deletes up to batch_size tasks that finished before now() - older_than,
-- with their runs and checkpoints, but none whose key still blocks under
-- the queue's defaults (cleanup.c).
CREATE FUNCTION durable_tasks.cleanup_tasks(
    queue_name text,
    older_than interval,
    batch_size integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'dt_cleanup_tasks'
LANGUAGE C VOLATILE;

--
-- Durable execution (SPEC 5.2): sleeping runs.  The run and its task
-- become sleeping, the lease ends, and the same run is claimable from
-- wake_at on (sleep.c), through the claim index ri_<queue>_due that the
-- 1.2 layout step puts in place of ri_<queue>_ready.
--
CREATE FUNCTION durable_tasks.sleep_run(queue_name text, run_id uuid, wake_at timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_sleep_run'
LANGUAGE C VOLATILE;

--
-- Durable execution (SPEC 5.3): events, in each queue's e_<queue>, and
-- the waits of runs, in w_<queue> (both made by the 1.2 layout step).
-- First emit wins; an emit committing while an await decides is never
-- lost (events.c).  Fan-in: a child task that ends emits
-- "$child:<task_id>" with {"state", "result", "failure"}.
--
CREATE FUNCTION durable_tasks.emit_event(queue_name text, event_name text, payload jsonb DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'dt_emit_event'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.await_event(
    queue_name      text,
    run_id          uuid,
    event_name      text,
    timeout_seconds integer DEFAULT NULL)
RETURNS TABLE (status text, payload jsonb)
AS 'MODULE_PATHNAME', 'dt_await_event'
LANGUAGE C VOLATILE;

-- Deletes up to batch_size events emitted before now() - older_than that
-- no sleeping run waits for (events.c).
CREATE FUNCTION durable_tasks.cleanup_events(
    queue_name text,
    older_than interval,
    batch_size integer DEFAULT 1000)
RETURNS integer
AS 'MODULE_PATHNAME', 'dt_cleanup_events'
LANGUAGE C VOLATILE;
