/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  queue_stats: exact counts of a queue's tasks by state.
 *
 * A task's state is always that of its last run: every move of state.c
 * changes both together, and every earlier run of a task is a failed
 * attempt that was retried (the retry is the run with the next attempt
 * number).  So the counts of tasks come from the run table's indexes, by
 * index scans that read only the entries of the state counted:
 *
 *	  tasks in state S (not failed) = runs in state S
 *	  failed tasks                  = failed runs - runs with attempt > 1
 *
 * pending runs from the claim index ri_<q>_due, running ones from the
 * lease index ri_<q>_lease, the others from ri_<q>_done, a partial index
 * on (state, finished_at, attempt) of runs that slept or ended, which spawns and
 * claims never write to (a run enters it once, when it ends).  The task
 * table has no index on its state, and must not: a claim's update of the
 * task would no longer be a HOT update.  oldest_pending_at is the
 * smallest available_at of a pending run (the claim index's first
 * entry).  All from one statement, one snapshot: the counts agree with
 * each other.  No row locks.
 *
 * The spawn counters (spawned, dedup_hits, dedup_misses) need shared
 * memory, which only the optional preload (SPEC 7) will have: NULL here.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_queue_stats);

#define STATS_COUNT(state) \
	"(SELECT pg_catalog.count(*) FROM {runs} r " \
	"WHERE r.state OPERATOR(pg_catalog.=) '" state "'), "

static const DtPlanDef plan_stats = {
	"queue_stats",
	"SELECT "
	STATS_COUNT("pending")
	STATS_COUNT("running")
	STATS_COUNT("sleeping")
	STATS_COUNT("completed")
	"(SELECT pg_catalog.count(*) FROM {runs} r "
	" WHERE r.state OPERATOR(pg_catalog.=) 'failed') - "
	"(SELECT pg_catalog.count(*) FROM {runs} r "
	" WHERE r.state OPERATOR(pg_catalog.=) ANY (ARRAY['sleeping', 'completed', 'failed', 'cancelled']) "
	" AND r.attempt OPERATOR(pg_catalog.>) 1) - "
	"(SELECT pg_catalog.count(*) FROM {runs} r "
	" WHERE r.state OPERATOR(pg_catalog.=) 'pending' AND r.attempt OPERATOR(pg_catalog.>) 1) - "
	"(SELECT pg_catalog.count(*) FROM {runs} r "
	" WHERE r.state OPERATOR(pg_catalog.=) 'running' AND r.attempt OPERATOR(pg_catalog.>) 1), "
	STATS_COUNT("cancelled")
	"(SELECT r.available_at FROM {runs} r "
	" WHERE r.state OPERATOR(pg_catalog.=) 'pending' "
	" ORDER BY r.available_at, r.run_id LIMIT 1)",
	0, {0},
	DT_PLAN_CHOOSE
};

#define STATS_COLUMNS 11

/* One result row for the queue. */
static void
dt_stats_row(FunctionCallInfo fcinfo, DtQueue *queue)
{
	Datum		values[STATS_COLUMNS];
	bool		nulls[STATS_COLUMNS] = {0};
	int			ret;

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_stats), NULL, NULL, true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "counting the tasks of a queue");
	values[0] = CStringGetTextDatum(queue->name);
	for (int c = 1; c <= 7; c++)
		values[c] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  c, &nulls[c]);
	for (int c = 8; c < STATS_COLUMNS; c++)
		nulls[c] = true;		/* the spawn counters: preload only */
	dt_put_row(fcinfo, values, nulls);
	dt_spi_finish();
}

/*
 * The registered queues on which the caller has producer, by name, in the
 * caller's memory context (SPI's goes at dt_spi_finish).
 */
static List *
dt_stats_queues(void)
{
	MemoryContext caller_context = CurrentMemoryContext;
	List	   *names = NIL;
	int			ret;

	(void) dt_acl_enforced();	/* the owner, before we switch user */
	dt_spi_connect();
	ret = SPI_execute("SELECT qs.queue_name FROM durable_tasks.queues qs "
					  "ORDER BY qs.queue_name", true, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "listing the queues");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc,
															 1, &isnull));

		if (dt_acl_has(name, DT_PRIV_PRODUCER))
		{
			MemoryContext spi_context = MemoryContextSwitchTo(caller_context);

			names = lappend(names, pstrdup(name));
			MemoryContextSwitchTo(spi_context);
		}
	}
	dt_spi_finish();
	return names;
}

/*
 * durable_tasks.queue_stats(queue_name text DEFAULT NULL)
 * RETURNS TABLE (queue_name text, pending bigint, running bigint,
 *                sleeping bigint, completed bigint, failed bigint,
 *                cancelled bigint, oldest_pending_at timestamptz,
 *                spawned bigint, dedup_hits bigint, dedup_misses bigint)
 *
 * One row for the queue (producer), or, for NULL, one per queue on which
 * the caller has producer, by name; a queue without tables is skipped
 * there (it is an error when named).  Locks each queue's task table in
 * AccessShareLock, one queue after the other.
 */
Datum
dt_queue_stats(PG_FUNCTION_ARGS)
{
	static TupleDesc desc = NULL;
	ListCell   *lc;
	List	   *names;

	dt_srf_init(fcinfo, &desc);
	if (!PG_ARGISNULL(0))
	{
		dt_stats_row(fcinfo, dt_queue_open(fcinfo, 0, AccessShareLock,
										   DT_PRIV_PRODUCER));
		return (Datum) 0;
	}

	names = dt_stats_queues();
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		/* locked, so that a concurrent drop_queue is either done or waits */
		if (!OidIsValid(dt_queue_relation("t_", name, AccessShareLock, false)) ||
			!OidIsValid(dt_queue_relation("r_", name, AccessShareLock, false)))
			continue;
		dt_stats_row(fcinfo, dt_queue_open_name(name, AccessShareLock));
	}
	return (Datum) 0;
}
