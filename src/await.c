/*-------------------------------------------------------------------------
 *
 * await.c
 *	  await_task: wait until a task is terminal, or a timeout passes.
 *
 * Without the optional preload there is nothing in shared memory to wake
 * us, so the wait polls: it reads the task, and while it is not terminal
 * it sleeps on the backend's latch for a bounded, growing interval (1 ms,
 * doubling up to DT_AWAIT_MAX_DELAY_MS), then reads it again.  Each read
 * takes the latest snapshot and releases it, so a completion committed by
 * another session is seen at most DT_AWAIT_MAX_DELAY_MS after its commit,
 * and no snapshot of ours is kept between reads.  The sleep is
 * WaitLatch(): statement_timeout, pg_cancel_backend and postmaster death
 * end it at once.
 *
 * Under REPEATABLE READ or SERIALIZABLE the transaction could never see
 * the task finish, so a task that is not terminal in its snapshot is
 * refused (0A000) rather than waited for.
 *
 * Locks: AccessShareLock on the queue's task table (as a SELECT), held to
 * the end of the transaction; no row locks.  The calling statement's own
 * snapshot stays registered while it runs, as for any statement (a SELECT
 * cannot drop it): while it waits, VACUUM cannot remove rows deleted after
 * it started, and DDL on the task table (drop_queue) waits for it.  Hence
 * the default of 30 s; the README says so.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/await.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_await_task);

/* result descriptor, built once per backend (dt_srf_init) */
static TupleDesc result_desc = NULL;

#define DT_AWAIT_MAX_SECONDS	86400
#define DT_AWAIT_MAX_DELAY_MS	25

static const DtPlanDef plan_await_read = {
	"await_read",
	"SELECT t.task_id, t.state, t.result, t.failure FROM {tasks} t "
	"WHERE t.task_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

/*
 * Read the task (the latest committed state, or the transaction snapshot
 * under REPEATABLE READ): false if it does not exist.  The row is left in
 * SPI_tuptable.
 */
static bool
dt_await_read(DtQueue *queue, pg_uuid_t *task_id)
{
	Datum		args[1] = {UUIDPGetDatum(task_id)};
	SPIPlanPtr	plan = dt_plan(queue, &plan_await_read);
	int			ret;

	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);
	if (IsolationUsesXactSnapshot())
		ret = SPI_execute_plan(plan, args, NULL, true, 1);
	else
		ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
								   InvalidSnapshot, true, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading a task");
	return SPI_processed == 1;
}

/* Sleep on the latch for at most ms milliseconds. */
static void
dt_await_sleep(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * durable_tasks.await_task(queue_name text, task_id uuid,
 *		timeout_seconds double precision DEFAULT 30)
 * RETURNS TABLE (task_id uuid, state text, result jsonb, failure jsonb,
 *		timed_out boolean)
 *
 * See the file header.
 */
Datum
dt_await_task(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	pg_uuid_t  *task_id;
	double		timeout;
	TimestampTz deadline;
	long		delay = 1;
	bool		timed_out = false;
	Datum		values[5];
	bool		nulls[5];

	dt_srf_init(fcinfo, &result_desc);
	queue = dt_queue_open(fcinfo, 0, AccessShareLock, DT_PRIV_PRODUCER);
	task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout_seconds must not be null")));
	timeout = PG_GETARG_FLOAT8(2);
	if (!(timeout >= 0 && timeout <= DT_AWAIT_MAX_SECONDS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_seconds must be between 0 and %d",
						DT_AWAIT_MAX_SECONDS)));
	deadline = GetCurrentTimestamp() + (TimestampTz) (timeout * USECS_PER_SEC);

	dt_spi_connect();
	for (;;)
	{
		char	   *state;
		long		left;

		if (!dt_await_read(queue, task_id))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("task %s does not exist in queue \"%s\"",
							dt_uuid_str(task_id), queue->name)));
		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		if (dt_state_is_terminal(state))
			break;
		pfree(state);			/* SPI's memory lasts for the whole wait */
		if (IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("await_task cannot wait inside a REPEATABLE READ or SERIALIZABLE transaction"),
					 errdetail("Task %s is not finished in this transaction's snapshot, and the snapshot will not change.",
							   dt_uuid_str(task_id)),
					 errhint("Call await_task in a READ COMMITTED transaction.")));

		left = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		if (left <= 0)
		{
			timed_out = true;
			break;
		}
		dt_await_sleep(Min(delay, left));
		delay = Min(delay * 2, DT_AWAIT_MAX_DELAY_MS);
	}

	heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
					  values, nulls);
	values[4] = BoolGetDatum(timed_out);
	nulls[4] = false;
	dt_put_row(fcinfo, values, nulls);
	dt_spi_finish();

	return (Datum) 0;
}
