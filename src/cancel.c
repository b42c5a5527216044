/*-------------------------------------------------------------------------
 *
 * cancel.c
 *	  cancel_task: a task and its descendants become cancelled.
 *
 * The tree is the task and, through parent_task_id, every descendant.
 * Rows are locked tasks first, then runs, the order every writer that
 * waits uses (finish.c; claims never wait: SKIP LOCKED).  Updating the
 * tree's tasks waits for every transaction that holds one of them: a
 * complete_run or fail_run of one of its runs, and a child spawn, which
 * locks its parent FOR SHARE (spawn.c).  A child spawned that way commits
 * before our update and is not in the tree we read, so the tree is read
 * again (a new snapshot under READ COMMITTED) and the new members are
 * cancelled too, until a round cancels nothing and finds the tree as the
 * round before did; once a task of the tree is cancelled, a new child of
 * it is refused (55000).  (The same holds when the task itself finished
 * while we waited: its live descendants are still cancelled, as they
 * would be by a cancel_task that came after.)  Under
 * REPEATABLE READ and SERIALIZABLE the transaction snapshot cannot see
 * such a child: the tree is checked with the latest snapshot and a live
 * member we could not cancel is a serialization failure (40001).
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/cancel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"

#include "utils/datum.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_cancel_task);

/* the tree's ids, and how many of its tasks may still be cancelled */
#define TREE_SQL \
	"WITH RECURSIVE tree AS (" \
	" SELECT t.task_id, t.state FROM {tasks} t" \
	" WHERE t.task_id OPERATOR(pg_catalog.=) $1" \
	" UNION" \
	" SELECT c.task_id, c.state FROM {tasks} c" \
	" JOIN tree ON c.parent_task_id OPERATOR(pg_catalog.=) tree.task_id" \
	") SELECT pg_catalog.array_agg(tree.task_id)," \
	" pg_catalog.count(*) FILTER (WHERE tree.state {task_from:cancel})," \
	" pg_catalog.count(*)" \
	" FROM tree"

static const DtPlanDef plan_tree = {
	"cancel_tree", TREE_SQL, 1, {UUIDOID},
	DT_PLAN_CHOOSE
};

/* $1 the tree, $2 the clock at the call */
static const DtPlanDef plan_cancel_tasks = {
	"cancel_tasks",
	"UPDATE {tasks} t SET state = {task_to:cancel}, finished_at = $2 "
	"WHERE t.task_id OPERATOR(pg_catalog.=) ANY ($1) AND t.state {task_from:cancel} "
	"RETURNING t.task_id, t.parent_task_id IS NOT NULL",
	2, {UUIDARRAYOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_cancel_runs = {
	"cancel_runs",
	"UPDATE {runs} r SET state = {run_to:cancel}, finished_at = $2, "
	"claim_expires_at = NULL "
	"WHERE r.task_id OPERATOR(pg_catalog.=) ANY ($1) AND r.state {run_from:cancel}",
	2, {UUIDARRAYOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/*
 * Read the tree of task_id: its ids into *tree ((Datum) 0 if the task
 * does not exist) and their number into *size; returns how many of its
 * tasks are live.  With latest, under the latest snapshot rather than the
 * statement's.
 */
static int64
dt_read_tree(DtQueue *queue, pg_uuid_t *task_id, bool latest, Datum *tree,
			 int64 *size)
{
	Datum		args[1] = {UUIDPGetDatum(task_id)};
	SPIPlanPtr	plan = dt_plan(queue, &plan_tree);
	bool		isnull;
	int			ret;

	if (latest)
	{
		CommandCounterIncrement();
		ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
								   InvalidSnapshot, true, false, 1);
	}
	else
		ret = SPI_execute_plan(plan, args, NULL, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading a task tree");
	*tree = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						  &isnull);
	if (isnull)
		*tree = (Datum) 0;
	*size = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 3, &isnull));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 2, &isnull));
}

/* Cancel the live tasks of the tree, then their runs; how many tasks. */
static uint64
dt_cancel_tree(DtQueue *queue, Datum tree, TimestampTz now)
{
	Datum		args[2] = {tree, TimestampTzGetDatum(now)};
	uint64		n;
	int			ret;

	Datum	   *children;
	int			nchildren = 0;

	ret = SPI_execute_plan(dt_plan(queue, &plan_cancel_tasks),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE_RETURNING, "cancelling tasks");
	n = SPI_processed;
	children = palloc((n + 1) * sizeof(Datum));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
									   SPI_tuptable->tupdesc, 2, &isnull)))
			children[nchildren++] =
				datumCopy(SPI_getbinval(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 1, &isnull),
						  false, UUID_LEN);
	}
	ret = SPI_execute_plan(dt_plan(queue, &plan_cancel_runs),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE, "cancelling runs");
	/* the cancelled children's parents may be waiting (fan-in, events.c) */
	dt_emit_child_events(queue, children, nchildren, now);
	return n;
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
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_ADMIN);
	pg_uuid_t  *task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	TimestampTz now = GetCurrentTimestamp();
	Datum		tree;
	int64		size = 0;
	uint64		total = 0;
	uint64		n;

	dt_spi_connect();
	for (int64 prev_size = 0;; prev_size = size)
	{
		CHECK_FOR_INTERRUPTS();
		(void) dt_read_tree(queue, task_id, false, &tree, &size);
		if (tree == (Datum) 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("task %s does not exist in queue \"%s\"",
							dt_uuid_str(task_id), queue->name)));
		n = dt_cancel_tree(queue, tree, now);
		total += n;

		if (IsolationUsesXactSnapshot())
		{
			/* the transaction snapshot cannot show what came since */
			if (dt_read_tree(queue, task_id, true, &tree, &size) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update"),
						 errdetail("A task was added to the tree of task %s after this transaction's snapshot was taken.",
								   dt_uuid_str(task_id))));
			break;
		}
		/* see the file header: until a round finds nothing new */
		if (n == 0 && size == prev_size)
			break;
	}
	dt_spi_finish();

	PG_RETURN_INT32((int32) total);
}
