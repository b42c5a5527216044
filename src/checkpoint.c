/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  set_checkpoint, get_checkpoints, get_checkpoint: the saved results of
 *	  a task's steps, so that a run started again (a retry, a later attempt)
 *	  can skip what an earlier one did.
 *
 * A checkpoint is a row of c_<queue>, keyed by (task_id, step_name), with
 * the run and attempt that wrote it last.  Only the holder of a live lease
 * writes, and the write takes no lock beyond the checkpoint row's: one
 * statement reads the run, checks that it is held (running, lease not
 * expired at the clock of the call) and upserts, with a fence on the
 * attempt: an existing row is replaced only by the same or a later
 * attempt (ON CONFLICT ... DO UPDATE ... WHERE c.attempt <=
 * EXCLUDED.attempt).
 *
 * Why that suffices.  A run stops being held by a finisher of its own
 * worker, by cancel_task, by a deadline, or by a lease sweep that fails it
 * and retries the task as attempt n + 1.  A write that checked the lease
 * while it was live may commit after any of these; it is then ordered
 * before the move (it was decided while the lease was live), and only the
 * sweep's successor can notice: attempt n + 1 may not see that last step
 * and do it again.  What it saves itself stands in every order: if the
 * stale write comes second, its upsert meets attempt n + 1's row (after
 * waiting for it if uncommitted), the fence refuses it and the caller gets
 * 55000; if it comes first, attempt n + 1 replaces it.  A write that reads
 * the run after the move committed is refused by the lease check (under
 * READ COMMITTED; see below for REPEATABLE READ).
 *
 * Locks: the checkpoint row, and for a new row the task row FOR KEY SHARE
 * (the foreign key's check, at the end of the statement).  No lock on the
 * run or the task that a finisher, a cancel or a claim would wait for: a
 * sweep takes an expired run from a worker whose transaction is still
 * open, and a worker that saves and completes in one transaction takes
 * part in no lock cycle with them.  A write waits for another
 * transaction's uncommitted write of the same step; two writers that each
 * wait for the other's step (a stale worker whose lease check passed just
 * before the sweep, and the new holder) deadlock, and one gets 40P01.  A
 * write whose task was cancelled and deleted by cleanup_tasks between its
 * lease check and its insert fails the foreign key check (23503).  Under
 * REPEATABLE READ the lease check reads the transaction's snapshot: a
 * write after a cancel committed since then is not refused (one that a
 * sweep ended is: the lease's end is decided by the clock).
 *
 * With extend_claim_seconds the run is updated: the task row is locked
 * first (FOR SHARE), then the run's UPDATE checks the lease again
 * (EvalPlanQual) as it locks it; that is the order of cancel_task and
 * complete_run (finish.c, cancel.c), so no deadlock.
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

/* $1 the run, $4 the clock, $6 'running' */
#define RUN_HELD \
	"r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$4", "$6")

#define UPSERT \
	"INSERT INTO {checkpoints} AS c (task_id, step_name, state, run_id, attempt, " \
	"updated_at) SELECT h.task_id, $2, $3, h.run_id, h.attempt, $4 FROM h " \
	"ON CONFLICT (task_id, step_name) DO UPDATE SET state = EXCLUDED.state, " \
	"run_id = EXCLUDED.run_id, attempt = EXCLUDED.attempt, " \
	"updated_at = EXCLUDED.updated_at " \
	"WHERE c.attempt OPERATOR(pg_catalog.<=) EXCLUDED.attempt"

#define RUN_AND_TASK \
	"FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id "

/*
 * $1 run, $2 step, $3 state, $4 the clock, $6 'running' (the arguments of
 * both writes; $5 is the extension's); no lock on the run
 */
static const DtPlanDef plan_write = {
	"checkpoint_write",
	"WITH h AS (SELECT r.run_id, r.task_id, r.attempt FROM {runs} r "
	"WHERE " RUN_HELD ") " UPSERT,
	6, {UUIDOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_GENERIC
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
	6, {UUIDOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_read_all = {
	"checkpoint_read_all",
	"SELECT c.step_name, c.state, c.run_id, c.attempt, c.updated_at "
	"FROM {checkpoints} c WHERE c.task_id OPERATOR(pg_catalog.=) $1 "
	"ORDER BY c.updated_at, c.step_name",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_read_one = {
	"checkpoint_read_one",
	"SELECT c.state FROM {checkpoints} c "
	"WHERE c.task_id OPERATOR(pg_catalog.=) $1 "
	"AND c.step_name OPERATOR(pg_catalog.=) $2",
	2, {UUIDOID, TEXTOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_task_exists = {
	"checkpoint_task_exists",
	"SELECT 1 FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
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
 * The write changed nothing: the run is not held (P0002 or 55000, as for a
 * finisher), or, if it is held now, its lease changed hands during the
 * write (a woken run claimed again) or a later attempt saved the step
 * (the fence; with READ COMMITTED the recheck then finds the run failed).
 */
static void
dt_checkpoint_refused(DtQueue *queue, pg_uuid_t *run_id, const char *step,
					  TimestampTz now)
{
	dt_run_check_held(queue, run_id, &now);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not save checkpoint \"%s\" of run %s",
					step, dt_uuid_str(run_id)),
			 errdetail("The run's lease ended or changed hands while the checkpoint was being saved.")));
}

/*
 * durable_tasks.set_checkpoint(queue_name text, run_id uuid,
 *		step_name text, state jsonb, extend_claim_seconds integer DEFAULT NULL)
 * RETURNS void
 *
 * Locks the checkpoint row; with extend_claim_seconds also the task row
 * (FOR SHARE) and the run row (see the file header).
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
	Datum		args[6];
	int			ret;

	args[0] = UUIDPGetDatum(run_id);
	args[1] = CStringGetTextDatum(step);
	args[2] = JsonbPGetDatum(state);
	args[3] = TimestampTzGetDatum(now);
	args[4] = TimestampTzGetDatum(!extend ? 0 :
								  now + (TimestampTz) USECS_PER_SEC *
								  dt_arg_int32(fcinfo, 4, "extend_claim_seconds",
											   1, DT_MAX_CLAIM_SECONDS));
	args[5] = dt_state_text(DT_RUNNING);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, extend ? &plan_write_extend : &plan_write),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "saving a checkpoint");
	if (SPI_processed == 0)
		dt_checkpoint_refused(queue, run_id, step, now);
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
