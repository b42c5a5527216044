/* durable_tasks--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION durable_tasks" to load this file. \quit

--
-- Registry of queues.  One row per queue; the queue's own tables are
-- durable_tasks.t_<queue> (tasks) and durable_tasks.r_<queue> (runs).
-- The rows are user data: pg_dump keeps them.
--
CREATE TABLE durable_tasks.queues (
    queue_name  text        NOT NULL PRIMARY KEY
                CONSTRAINT queues_queue_name_check
                CHECK (queue_name ~ '^[a-z][a-z0-9_]{0,47}$'),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('durable_tasks.queues', '');

--
-- Helpers implemented in C.
--

-- Raises 22023 unless queue_name is a valid queue name, 42704 unless the
-- queue exists.  The same check the C entry points make.
CREATE FUNCTION durable_tasks.check_queue(queue_name text, must_exist boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_check_queue'
LANGUAGE C PARALLEL SAFE;

-- A time-ordered UUID (version 7 layout: 48-bit Unix milliseconds, then
-- sub-millisecond fraction and random bits), monotonic within a backend.
CREATE FUNCTION durable_tasks.uuid_v7()
RETURNS uuid
AS 'MODULE_PATHNAME', 'dt_uuid_v7'
LANGUAGE C VOLATILE PARALLEL SAFE;

--
-- Queue management (cold paths).
--

CREATE FUNCTION durable_tasks.create_queue(queue_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q  text := create_queue.queue_name;
    t  text;
    r  text;
BEGIN
    PERFORM durable_tasks.check_queue(q, false);

    INSERT INTO durable_tasks.queues AS qs (queue_name)
    VALUES (q)
    ON CONFLICT ON CONSTRAINT queues_pkey DO NOTHING;
    IF NOT FOUND THEN
        RETURN;                 -- already exists: a no-op
    END IF;

    -- Tables are t_<queue> and r_<queue>; index names start with ti_/ri_
    -- so that no index of queue "a" can take the name of a table of queue
    -- "a_pkey".
    t := 't_' || q;
    r := 'r_' || q;

    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE durable_tasks.%1$I (
            task_id          uuid        NOT NULL,
            task_name        text        NOT NULL,
            params           jsonb       NOT NULL,
            headers          jsonb,
            retry_strategy   jsonb       NOT NULL,
            max_attempts     integer     NOT NULL,
            cancellation     jsonb,
            parent_task_id   uuid,
            state            text        NOT NULL,
            attempts         integer     NOT NULL,
            last_run_id      uuid        NOT NULL,
            result           jsonb,
            failure          jsonb,
            created_at       timestamptz NOT NULL,
            first_started_at timestamptz,
            finished_at      timestamptz,
            CONSTRAINT %2$I PRIMARY KEY (task_id),
            CONSTRAINT %3$I CHECK (state IN ('pending', 'running', 'sleeping',
                                             'completed', 'failed', 'cancelled'))
        )$ddl$, t, 'ti_' || q || '_pkey', t || '_state');

    EXECUTE pg_catalog.format(
        'CREATE INDEX %1$I ON durable_tasks.%2$I (parent_task_id) WHERE parent_task_id IS NOT NULL',
        'ti_' || q || '_parent', t);

    EXECUTE pg_catalog.format($ddl$
        CREATE TABLE durable_tasks.%1$I (
            run_id           uuid        NOT NULL,
            task_id          uuid        NOT NULL,
            attempt          integer     NOT NULL,
            state            text        NOT NULL,
            available_at     timestamptz NOT NULL,
            claimed_by       text,
            claim_expires_at timestamptz,
            started_at       timestamptz,
            finished_at      timestamptz,
            result           jsonb,
            failure          jsonb,
            created_at       timestamptz NOT NULL,
            CONSTRAINT %2$I PRIMARY KEY (run_id),
            CONSTRAINT %3$I FOREIGN KEY (task_id)
                REFERENCES durable_tasks.%4$I (task_id) ON DELETE CASCADE,
            CONSTRAINT %5$I CHECK (state IN ('pending', 'running', 'sleeping',
                                             'completed', 'failed', 'cancelled'))
        )$ddl$, r, 'ri_' || q || '_pkey', r || '_task_fk', t, r || '_state');

    -- the claim loop: ready runs in order of availability
    EXECUTE pg_catalog.format(
        'CREATE INDEX %1$I ON durable_tasks.%2$I (available_at, run_id) WHERE state = ''pending''',
        'ri_' || q || '_ready', r);
    -- lease expiry: running runs by expiry time
    EXECUTE pg_catalog.format(
        'CREATE INDEX %1$I ON durable_tasks.%2$I (claim_expires_at) WHERE state = ''running''',
        'ri_' || q || '_lease', r);
    -- runs of a task (cancel, foreign key)
    EXECUTE pg_catalog.format(
        'CREATE INDEX %1$I ON durable_tasks.%2$I (task_id)',
        'ri_' || q || '_task', r);
END
$fn$;

CREATE FUNCTION durable_tasks.drop_queue(queue_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q text := drop_queue.queue_name;
BEGIN
    PERFORM durable_tasks.check_queue(q, false);

    DELETE FROM durable_tasks.queues qs WHERE qs.queue_name = q;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', q
            USING ERRCODE = 'undefined_object',
                  HINT = 'durable_tasks.list_queues() lists the queues.';
    END IF;

    EXECUTE pg_catalog.format('DROP TABLE IF EXISTS durable_tasks.%I, durable_tasks.%I',
                              'r_' || q, 't_' || q);
END
$fn$;

CREATE FUNCTION durable_tasks.list_queues()
RETURNS TABLE (queue_name text, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT qs.queue_name, qs.created_at
      FROM durable_tasks.queues qs
     ORDER BY qs.queue_name
$fn$;

--
-- Tasks and runs (hot paths, in C).
--

CREATE FUNCTION durable_tasks.spawn_task(
    queue_name text,
    task_name  text,
    params     jsonb DEFAULT '{}',
    options    jsonb DEFAULT '{}')
RETURNS TABLE (task_id uuid, run_id uuid, attempt integer, created boolean)
AS 'MODULE_PATHNAME', 'dt_spawn_task'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.claim_task(
    queue_name            text,
    worker_id             text,
    claim_timeout_seconds integer DEFAULT 30,
    qty                   integer DEFAULT 1)
RETURNS TABLE (run_id uuid, task_id uuid, attempt integer, task_name text,
               params jsonb, headers jsonb, max_attempts integer,
               claim_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'dt_claim_task'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.extend_claim(
    queue_name text,
    run_id     uuid,
    seconds    integer)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'dt_extend_claim'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.complete_run(
    queue_name text,
    run_id     uuid,
    result     jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dt_complete_run'
LANGUAGE C VOLATILE;

CREATE FUNCTION durable_tasks.fail_run(
    queue_name text,
    run_id     uuid,
    reason     jsonb DEFAULT NULL)
RETURNS TABLE (task_id uuid, task_state text, retry_run_id uuid,
               retry_attempt integer, retry_available_at timestamptz)
AS 'MODULE_PATHNAME', 'dt_fail_run'
LANGUAGE C VOLATILE;

--
-- Cancellation and inspection (cold paths).
--

-- Cancels the task and, through parent_task_id, all its non-terminal
-- descendants.  Returns how many tasks it cancelled (0 when they were all
-- terminal already).  Locks runs before tasks, as claim and finish do.
CREATE FUNCTION durable_tasks.cancel_task(queue_name text, task_id uuid)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q      text := cancel_task.queue_name;
    tid    uuid := cancel_task.task_id;
    tree   uuid[];
    n      integer;
BEGIN
    PERFORM durable_tasks.check_queue(q);
    IF tid IS NULL THEN
        RAISE EXCEPTION 'task_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    EXECUTE pg_catalog.format($q$
        WITH RECURSIVE tree AS (
            SELECT t.task_id FROM durable_tasks.%1$I t WHERE t.task_id = $1
            UNION
            SELECT c.task_id FROM durable_tasks.%1$I c
              JOIN tree ON c.parent_task_id = tree.task_id
        )
        SELECT pg_catalog.array_agg(task_id) FROM tree$q$, 't_' || q)
        INTO tree USING tid;

    IF tree IS NULL THEN
        RAISE EXCEPTION 'task % does not exist in queue "%"', tid, q
            USING ERRCODE = 'no_data_found';
    END IF;

    EXECUTE pg_catalog.format($q$
        UPDATE durable_tasks.%1$I r
           SET state = 'cancelled', finished_at = pg_catalog.now(),
               claim_expires_at = NULL
         WHERE r.task_id = ANY ($1)
           AND r.state IN ('pending', 'running', 'sleeping')$q$, 'r_' || q)
        USING tree;

    EXECUTE pg_catalog.format($q$
        UPDATE durable_tasks.%1$I t
           SET state = 'cancelled', finished_at = pg_catalog.now()
         WHERE t.task_id = ANY ($1)
           AND t.state IN ('pending', 'running', 'sleeping')$q$, 't_' || q)
        USING tree;
    GET DIAGNOSTICS n = ROW_COUNT;

    -- A fail_run that committed while we waited may have added a retry run
    -- our first statement could not see (and a worker may have claimed it
    -- since): cancel it too.
    EXECUTE pg_catalog.format($q$
        UPDATE durable_tasks.%1$I r
           SET state = 'cancelled', finished_at = pg_catalog.now(),
               claim_expires_at = NULL
         WHERE r.task_id = ANY ($1)
           AND r.state IN ('pending', 'running', 'sleeping')$q$, 'r_' || q)
        USING tree;
    RETURN n;
END
$fn$;

CREATE FUNCTION durable_tasks.get_task(queue_name text, task_id uuid)
RETURNS TABLE (task_id uuid, task_name text, state text, attempts integer,
               params jsonb, result jsonb, failure jsonb, headers jsonb,
               max_attempts integer, retry_strategy jsonb, cancellation jsonb,
               parent_task_id uuid, last_run_id uuid, created_at timestamptz,
               first_started_at timestamptz, finished_at timestamptz)
AS 'MODULE_PATHNAME', 'dt_get_task'
LANGUAGE C STABLE;
