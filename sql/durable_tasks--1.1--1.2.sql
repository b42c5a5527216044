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

-- Internal helpers of the 1.0/1.1 PL/pgSQL functions are no longer SQL
-- functions: nothing a user may call reaches them.
DROP FUNCTION durable_tasks.add_idempotency_key(text);
DROP FUNCTION durable_tasks.check_queue(text, boolean);
DROP FUNCTION durable_tasks.check_queue_options(jsonb);

-- The registry's trigger function is for the trigger only.
REVOKE ALL ON FUNCTION durable_tasks.registry_changed() FROM PUBLIC;

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
