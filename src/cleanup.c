/*-------------------------------------------------------------------------
 *
 * cleanup.c
 *	  cleanup_tasks: delete finished tasks in bounded batches, keeping
 *	  every task whose idempotency key still blocks.
 *
 * Dedup memory outlives cleanup.  A task that holds its key (key set, not
 * released) and whose key still blocks a new spawn under the queue's
 * defaults is never deleted: a completed holder under after_failure (until
 * its dedup_ttl_seconds run out), any holder under never.  A holder that no
 * longer blocks (failed or cancelled under after_failure, any under
 * after_finish, completed past its TTL) is deleted, and its key with it.
 * The rule is spawn.c's (dt_policy_terminal_blocks, beside the rule of
 * the hit path), applied to the queue's defaults.
 *
 * Finding the candidates without scanning the queue's history: a
 * terminal task's last run is terminal too and finished with it, so the
 * candidates are read from the run table's index ri_<q>_done on (state,
 * finished_at, attempt), joined to their task by its last run.  One
 * statement per call: it locks the chosen tasks FOR UPDATE SKIP LOCKED
 * (a task another transaction holds is left for a later call) and deletes
 * them; their runs and checkpoints go with them (foreign keys ON DELETE
 * CASCADE).
 *
 * Locks: RowExclusiveLock on the queue's tables, row locks on at most
 * batch_size tasks and their runs until the end of the transaction.  A
 * spawn whose key's holder is being deleted waits for this transaction
 * (keyprobe.c) and then creates the new task; claims never see terminal
 * tasks.  So nothing waits longer than one batch.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/cleanup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_cleanup_tasks);


/*
 * $1 finished before, $2 batch size, $3 every held key blocks, $4 a
 * completed holder blocks if it finished after this.
 */
static const DtPlanDef plan_cleanup = {
	"cleanup_tasks",
	"WITH victims AS ("
	" SELECT t.task_id FROM {runs} r"
	" JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id"
	"  AND t.last_run_id OPERATOR(pg_catalog.=) r.run_id"
	" WHERE r.state OPERATOR(pg_catalog.=) ANY (ARRAY['completed', 'failed', 'cancelled'])"
	"  AND r.finished_at OPERATOR(pg_catalog.<) $1"
	"  AND t.state OPERATOR(pg_catalog.=) ANY (ARRAY['completed', 'failed', 'cancelled'])"
	"  AND t.finished_at OPERATOR(pg_catalog.<) $1"
	"  AND NOT (t.idempotency_key IS NOT NULL AND t.key_released_at IS NULL"
	"   AND ($3 OR (t.state OPERATOR(pg_catalog.=) 'completed'"
	"    AND t.finished_at OPERATOR(pg_catalog.>) $4)))"
	" LIMIT $2"
	" FOR UPDATE OF t SKIP LOCKED)"
	" DELETE FROM {tasks} d USING victims v"
	" WHERE d.task_id OPERATOR(pg_catalog.=) v.task_id",
	4, {TIMESTAMPTZOID, INT4OID, BOOLOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/*
 * Longer than anything could have finished ago: the earliest timestamp is
 * in 4714 BC.
 */
#define DT_MAX_OLDER_THAN_YEARS	6000

static int
dt_interval_cmp(Interval *a, Interval *b)
{
	return DatumGetInt32(DirectFunctionCall2(interval_cmp,
											 IntervalPGetDatum(a),
											 IntervalPGetDatum(b)));
}

/* The older_than argument: a non-negative interval. */
static Interval *
dt_arg_older_than(FunctionCallInfo fcinfo, int argno)
{
	Interval   *older_than;
	Interval	zero = {0};

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	older_than = PG_GETARG_INTERVAL_P(argno);
	if (dt_interval_cmp(older_than, &zero) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative"),
				 errhint("Tasks that finished before now() - older_than are deleted.")));
	return older_than;
}

/*
 * The cut-off of a cleanup: the clock minus argument argno (older_than).
 * False if nothing can have finished that long ago.
 */
bool
dt_cleanup_cutoff(FunctionCallInfo fcinfo, int argno, TimestampTz *cutoff)
{
	static Interval max_older_than = {0, 0, DT_MAX_OLDER_THAN_YEARS * MONTHS_PER_YEAR};
	Interval   *older_than = dt_arg_older_than(fcinfo, argno);

	if (dt_interval_cmp(older_than, &max_older_than) > 0)
		return false;
	*cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													  TimestampTzGetDatum(GetCurrentTimestamp()),
													  IntervalPGetDatum(older_than)));
	return true;
}

/*
 * durable_tasks.cleanup_tasks(queue_name text, older_than interval,
 *                             batch_size integer DEFAULT 1000)
 * RETURNS integer
 *
 * Deletes up to batch_size terminal tasks that finished before the clock
 * minus older_than, with their runs and checkpoints, but none whose key
 * still blocks; returns how many.  Call it until it returns 0.  Needs
 * admin.  An older_than beyond 6000 years deletes nothing.
 */
Datum
dt_cleanup_tasks(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock,
									  DT_PRIV_ADMIN);
	TimestampTz cutoff;
	int32		batch;
	bool		block_all;
	TimestampTz completed_cutoff;
	Datum		args[4];
	int			ret;
	int32		deleted;

	if (!dt_cleanup_cutoff(fcinfo, 1, &cutoff))
	{
		(void) dt_arg_int32(fcinfo, 2, "batch_size", 1, DT_MAX_CLEANUP_BATCH);
		PG_RETURN_INT32(0);
	}
	batch = dt_arg_int32(fcinfo, 2, "batch_size", 1, DT_MAX_CLEANUP_BATCH);

	dt_policy_terminal_blocks(dt_queue_policy(queue), GetCurrentTimestamp(),
							  &block_all, &completed_cutoff);
	args[0] = TimestampTzGetDatum(cutoff);
	args[1] = Int32GetDatum(batch);
	args[2] = BoolGetDatum(block_all);
	args[3] = TimestampTzGetDatum(completed_cutoff);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_cleanup), args, NULL,
						   false, 0);
	dt_spi_check(ret, SPI_OK_DELETE, "deleting finished tasks");
	deleted = (int32) SPI_processed;
	dt_spi_finish();

	PG_RETURN_INT32(deleted);
}
