/*-------------------------------------------------------------------------
 *
 * cancel.c
 *	  cancel_task: a task and its descendants become cancelled.
 *
 * The tree is the task and, through parent_task_id, every descendant.
 * Its runs that may be cancelled are cancelled first, then its tasks, so
 * that rows are locked runs first, then tasks, as claim.c and finish.c
 * lock them.  A fail_run that committed while we waited may have added a
 * retry run our first statement could not see (and a worker may have
 * claimed it since): the runs are cancelled once more after the tasks.
 * A child spawn locks its parent FOR SHARE (spawn.c), so a child is
 * either in the tree we read or refused once we commit.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/cancel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_cancel_task);

static const DtPlanDef plan_tree = {
	"cancel_tree",
	"WITH RECURSIVE tree AS ("
	" SELECT t.task_id FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) $1"
	" UNION"
	" SELECT c.task_id FROM {tasks} c"
	" JOIN tree ON c.parent_task_id OPERATOR(pg_catalog.=) tree.task_id"
	") SELECT pg_catalog.array_agg(tree.task_id) FROM tree",
	1, {UUIDOID}
};

/* $1 the tree, $2 the clock at the call */
static const DtPlanDef plan_cancel_runs = {
	"cancel_runs",
	"UPDATE {runs} r SET state = {run_to:cancel}, finished_at = $2, "
	"claim_expires_at = NULL "
	"WHERE r.task_id OPERATOR(pg_catalog.=) ANY ($1) AND r.state {run_from:cancel}",
	2, {UUIDARRAYOID, TIMESTAMPTZOID}
};

static const DtPlanDef plan_cancel_tasks = {
	"cancel_tasks",
	"UPDATE {tasks} t SET state = {task_to:cancel}, finished_at = $2 "
	"WHERE t.task_id OPERATOR(pg_catalog.=) ANY ($1) AND t.state {task_from:cancel}",
	2, {UUIDARRAYOID, TIMESTAMPTZOID}
};

static void
dt_cancel_runs(DtQueue *queue, Datum *args)
{
	int			ret = SPI_execute_plan(dt_plan(queue, &plan_cancel_runs),
									   args, NULL, false, 0);

	dt_spi_check(ret, SPI_OK_UPDATE, "cancelling runs");
}

/*
 * durable_tasks.cancel_task(queue_name text, task_id uuid) RETURNS integer
 *
 * Returns how many tasks it cancelled (0 when they were all terminal
 * already).  Locks the tree's live runs, then its live tasks.
 */
Datum
dt_cancel_task(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock);
	pg_uuid_t  *task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	Datum		args[2];
	bool		isnull;
	uint64		n;
	int			ret;

	dt_spi_connect();
	args[0] = UUIDPGetDatum(task_id);
	ret = SPI_execute_plan(dt_plan(queue, &plan_tree), args, NULL, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading a task tree");
	args[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							&isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("task %s does not exist in queue \"%s\"",
						dt_uuid_str(task_id), queue->name)));
	args[1] = TimestampTzGetDatum(GetCurrentTimestamp());

	dt_cancel_runs(queue, args);
	ret = SPI_execute_plan(dt_plan(queue, &plan_cancel_tasks),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE, "cancelling tasks");
	n = SPI_processed;
	dt_cancel_runs(queue, args);
	dt_spi_finish();

	PG_RETURN_INT32((int32) n);
}
