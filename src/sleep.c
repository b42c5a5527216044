/*-------------------------------------------------------------------------
 *
 * sleep.c
 *	  sleep_run: the lease holder suspends its run until a wake time.
 *
 * The run and its task become sleeping (state.c's "sleep" move), the
 * lease ends (no worker, no lease end) and the run's available_at becomes
 * the wake time.  The claim index ri_<q>_due holds pending and sleeping
 * runs by available_at, so from the wake time on claim_task hands out the
 * same run (same run_id, same attempt: a sleep is not an attempt) as it
 * hands out a ready one, and a sleeper that is not due yet sorts after
 * every due run: claims never read it.  A wake time in the past makes the
 * run claimable at once.  Deadlines keep their meaning: a woken run whose
 * task passed max_duration is cancelled by the claim, as a pending one is.
 *
 * Concurrency: one statement updates the task, then the run, with the
 * lease check on both (as complete_run does, finish.c): a lease sweep, a
 * finisher or a cancel of the same run either waits for it or makes it
 * see that the run is no longer held (55000).  Locks the task row, then
 * the run row.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/sleep.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_sleep_run);


/* $1 run_id, $2 wake_at, $3 the clock at the call, $4 'running' */
static const DtPlanDef plan_sleep = {
	"sleep_run",
	"WITH t AS (UPDATE {tasks} t SET state = {task_to:sleep} "
	"WHERE t.task_id OPERATOR(pg_catalog.=) (SELECT r.task_id FROM {runs} r "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$3", "$4") ") "
	"AND t.state {task_from:sleep} RETURNING t.task_id), "
	"r AS (UPDATE {runs} r SET state = {run_to:sleep}, available_at = $2, "
	"claimed_by = NULL, claim_expires_at = NULL FROM t "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
	"AND r.task_id OPERATOR(pg_catalog.=) t.task_id AND " DT_RUN_IS_HELD("$3", "$4") " "
	"RETURNING r.task_id) "
	"SELECT (SELECT pg_catalog.count(*) FROM r), (SELECT pg_catalog.count(*) FROM t)",
	4, {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_CHOOSE
};

/*
 * Put the held run to sleep until wake_at (inside SPI); errors unless the
 * caller holds its live lease.  Also await_event's suspension (events.c).
 */
void
dt_sleep_held(DtQueue *queue, pg_uuid_t *run_id, TimestampTz wake_at,
			  TimestampTz now)
{
	Datum		args[4];
	bool		isnull;
	int			ret;

	args[0] = UUIDPGetDatum(run_id);
	args[1] = TimestampTzGetDatum(wake_at);
	args[2] = TimestampTzGetDatum(now);
	args[3] = dt_state_text(DT_RUNNING);
	ret = SPI_execute_plan(dt_plan(queue, &plan_sleep), args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "putting a run to sleep");
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)) == 0)
	{
		/* not held (P0002, 55000), or held and its task is finished */
		dt_run_check_held(queue, run_id, &now);
		dt_run_task_check(queue, run_id, DT_MOVE_SLEEP);
	}
	dt_claim_floor_lower(queue, wake_at);
}

/*
 * durable_tasks.sleep_run(queue_name text, run_id uuid, wake_at timestamptz)
 * RETURNS void
 *
 * Needs worker.  Errors: P0002 unknown run; 55000 the run is not running
 * or its lease expired; 22023 wake_at not finite.
 */
Datum
dt_sleep_run(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock,
									  DT_PRIV_WORKER);
	pg_uuid_t  *run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	TimestampTz wake_at;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wake_at must not be null")));
	wake_at = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(wake_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wake_at must be finite")));
	if (!OidIsValid(queue->due_index))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" cannot have sleeping runs", queue->name),
				 errdetail("Its run table has no index durable_tasks.ri_%s_due (a 1.1 layout).",
						   queue->name),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE.")));

	dt_spi_connect();
	dt_sleep_held(queue, run_id, wake_at, GetCurrentTimestamp());
	dt_spi_finish();

	PG_RETURN_VOID();
}
