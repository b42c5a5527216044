/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  set_checkpoint, get_checkpoints, get_checkpoint: the saved results of
 *	  a task's steps, so that a run started again (a retry, a later attempt)
 *	  can skip what an earlier one did.
 *
 * A checkpoint is a row of c_<queue>, keyed by (task_id, step_name), with
 * the run and attempt that wrote it last.  Only the holder of a live lease
 * writes: the write and the lease check are one statement that locks the
 * task row and then the run row (FOR SHARE OF t, r; or the task FOR SHARE
 * and the UPDATE that extends the lease), the order in which every writer
 * that waits locks them (finish.c, cancel.c), so a worker that saves a
 * step and completes in one transaction never deadlocks with a cancel.  A
 * lease sweep or a finisher of the same run either waits for the write or
 * makes it see that the run is no longer held (EvalPlanQual rechecks the
 * lease on the new version): a stale worker whose run was failed and
 * retried by another worker gets 55000 while the new holder's writes
 * stand.  The upsert (INSERT ... ON CONFLICT DO UPDATE) takes the
 * checkpoint row.
 *
 * Reads are plain reads under the caller's snapshot.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/checkpoint.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_set_checkpoint);
PG_FUNCTION_INFO_V1(dt_get_checkpoints);
PG_FUNCTION_INFO_V1(dt_get_checkpoint);

/* result descriptor of get_checkpoints, built once per backend */
static TupleDesc result_desc = NULL;

#define DT_STEP_NAME_MAXLEN		255

#define RUN_HELD \
	"r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$4")

#define UPSERT \
	"INSERT INTO {checkpoints} (task_id, step_name, state, run_id, attempt, " \
	"updated_at) SELECT h.task_id, $2, $3, h.run_id, h.attempt, $4 FROM h " \
	"ON CONFLICT (task_id, step_name) DO UPDATE SET state = EXCLUDED.state, " \
	"run_id = EXCLUDED.run_id, attempt = EXCLUDED.attempt, " \
	"updated_at = EXCLUDED.updated_at"

#define RUN_AND_TASK \
	"FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id "

/* $1 run, $2 step, $3 state, $4 the clock; task row, then run row */
static const DtPlanDef plan_write = {
	"checkpoint_write",
	"WITH h AS (SELECT r.run_id, r.task_id, r.attempt " RUN_AND_TASK
	"WHERE " RUN_HELD " FOR SHARE OF t, r) " UPSERT,
	4, {UUIDOID, TEXTOID, JSONBOID, TIMESTAMPTZOID}
};

/*
 * The same, extending the lease to $5: the task row is locked first, then
 * the run's UPDATE checks the lease again (EvalPlanQual) as it locks it.
 */
static const DtPlanDef plan_write_extend = {
	"checkpoint_write_extend",
	"WITH k AS MATERIALIZED (SELECT r.run_id " RUN_AND_TASK
	"WHERE " RUN_HELD " FOR SHARE OF t), "
	"h AS (UPDATE {runs} r SET claim_expires_at = $5 FROM k "
	"WHERE r.run_id OPERATOR(pg_catalog.=) k.run_id AND " RUN_HELD " "
	"RETURNING r.run_id, r.task_id, r.attempt) " UPSERT,
	5, {UUIDOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

static const DtPlanDef plan_read_all = {
	"checkpoint_read_all",
	"SELECT c.step_name, c.state, c.run_id, c.attempt, c.updated_at "
	"FROM {checkpoints} c WHERE c.task_id OPERATOR(pg_catalog.=) $1 "
	"ORDER BY c.updated_at, c.step_name",
	1, {UUIDOID}
};

static const DtPlanDef plan_read_one = {
	"checkpoint_read_one",
	"SELECT c.state FROM {checkpoints} c "
	"WHERE c.task_id OPERATOR(pg_catalog.=) $1 "
	"AND c.step_name OPERATOR(pg_catalog.=) $2",
	2, {UUIDOID, TEXTOID}
};

static const DtPlanDef plan_task_exists = {
	"checkpoint_task_exists",
	"SELECT 1 FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID}
};

/* The queue, which must have its checkpoint table (layout step 1.2). */
static DtQueue *
dt_checkpoint_queue(FunctionCallInfo fcinfo, LOCKMODE lockmode)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, lockmode, DT_PRIV_WORKER);

	if (!OidIsValid(queue->ckpt_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" has no checkpoint table", queue->name),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE, or drop and create the queue again.")));
	return queue;
}

/* P0002 unless the task exists (inside SPI). */
static void
dt_checkpoint_task_exists(DtQueue *queue, pg_uuid_t *task_id)
{
	Datum		args[1] = {UUIDPGetDatum(task_id)};
	int			ret;

	ret = SPI_execute_plan(dt_plan(queue, &plan_task_exists), args, NULL,
						   true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "looking up a task");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("task %s does not exist in queue \"%s\"",
						dt_uuid_str(task_id), queue->name)));
}

/*
 * durable_tasks.set_checkpoint(queue_name text, run_id uuid,
 *		step_name text, state jsonb, extend_claim_seconds integer DEFAULT NULL)
 * RETURNS void
 *
 * Locks the task and run rows (see the file header) and the checkpoint
 * row.
 */
Datum
dt_set_checkpoint(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_checkpoint_queue(fcinfo, RowExclusiveLock);
	pg_uuid_t  *run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	char	   *step = dt_arg_cstring(fcinfo, 2, "step_name", DT_STEP_NAME_MAXLEN);
	Jsonb	   *state = dt_arg_jsonb(fcinfo, 3, "state");
	TimestampTz now = GetCurrentTimestamp();
	bool		extend = !PG_ARGISNULL(4);
	Datum		args[5];
	int			ret;

	args[0] = UUIDPGetDatum(run_id);
	args[1] = CStringGetTextDatum(step);
	args[2] = JsonbPGetDatum(state);
	args[3] = TimestampTzGetDatum(now);
	if (extend)
		args[4] = TimestampTzGetDatum(now + (TimestampTz) USECS_PER_SEC *
									  dt_arg_int32(fcinfo, 4, "extend_claim_seconds",
												   1, DT_MAX_CLAIM_SECONDS));

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, extend ? &plan_write_extend : &plan_write),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "saving a checkpoint");
	if (SPI_processed == 0)
		dt_run_not_held_error(queue, run_id);
	dt_spi_finish();

	PG_RETURN_VOID();
}

/*
 * durable_tasks.get_checkpoints(queue_name text, task_id uuid)
 * RETURNS TABLE (step_name text, state jsonb, run_id uuid, attempt integer,
 *		updated_at timestamptz)
 *
 * No locks beyond a SELECT's.
 */
Datum
dt_get_checkpoints(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	pg_uuid_t  *task_id;
	Datum		args[1];
	int			ret;

	dt_srf_init(fcinfo, &result_desc);
	queue = dt_checkpoint_queue(fcinfo, AccessShareLock);
	task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	args[0] = UUIDPGetDatum(task_id);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_read_all), args, NULL, true, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "reading checkpoints");
	if (SPI_processed == 0)
		dt_checkpoint_task_exists(queue, task_id);
	else
		dt_put_spi_rows(fcinfo);
	dt_spi_finish();

	return (Datum) 0;
}

/*
 * durable_tasks.get_checkpoint(queue_name text, task_id uuid,
 *		step_name text) RETURNS jsonb
 *
 * NULL when the step was not saved.  No locks beyond a SELECT's.
 */
Datum
dt_get_checkpoint(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_checkpoint_queue(fcinfo, AccessShareLock);
	pg_uuid_t  *task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	char	   *step = dt_arg_cstring(fcinfo, 2, "step_name", DT_STEP_NAME_MAXLEN);
	Datum		args[2] = {UUIDPGetDatum(task_id), CStringGetTextDatum(step)};
	Datum		state = (Datum) 0;
	bool		isnull = true;
	int			ret;

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_read_one), args, NULL, true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading a checkpoint");
	if (SPI_processed == 0)
		dt_checkpoint_task_exists(queue, task_id);
	else
		state = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							  &isnull);
	if (!isnull)
		state = SPI_datumTransfer(state, false, -1);	/* out of SPI memory */
	dt_spi_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(state);
}
