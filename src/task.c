/*-------------------------------------------------------------------------
 *
 * task.c
 *	  get_task: one task, as the caller sees it.
 *
 * A plain read under the caller's snapshot; takes no row locks.  The
 * columns it returns were checked by layout.c (types match the result
 * descriptor), so the rows go to the caller as they are.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/task.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_get_task);
PG_FUNCTION_INFO_V1(dt_get_task_1_1);

/* result descriptors, built once per backend (dt_srf_init) */
static TupleDesc result_desc_1_0 = NULL;
static TupleDesc result_desc_1_1 = NULL;

#define TASK_COLUMNS_1_0 \
	"t.task_id, t.task_name, t.state, t.attempts, t.params, t.result, " \
	"t.failure, t.headers, t.max_attempts, t.retry_strategy, " \
	"t.cancellation, t.parent_task_id, t.last_run_id, t.created_at, " \
	"t.first_started_at, t.finished_at"

static const DtPlanDef plan_get_task = {
	"get_task",
	"SELECT " TASK_COLUMNS_1_0 " FROM {tasks} t "
	"WHERE t.task_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_get_task_1_1 = {
	"get_task_1_1",
	"SELECT " TASK_COLUMNS_1_0 ", t.idempotency_key, t.key_released_at "
	"FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

static Datum
dt_get_task_common(FunctionCallInfo fcinfo, const DtPlanDef *def,
				   TupleDesc *result_desc)
{
	DtQueue    *queue;
	pg_uuid_t  *task_id;
	Datum		args[1];
	int			ret;

	dt_srf_init(fcinfo, result_desc);
	queue = dt_queue_open(fcinfo, 0, AccessShareLock, DT_PRIV_PRODUCER);
	task_id = dt_arg_uuid(fcinfo, 1, "task_id");
	args[0] = UUIDPGetDatum(task_id);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, def), args, NULL, true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading a task");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("task %s does not exist in queue \"%s\"",
						dt_uuid_str(task_id), queue->name)));

	dt_put_spi_rows(fcinfo);
	dt_spi_finish();

	return (Datum) 0;
}

/*
 * durable_tasks.get_task(queue_name text, task_id uuid)
 * RETURNS TABLE (task_id uuid, task_name text, state text, ...)
 *
 * The 1.0 entry point: sixteen columns.
 */
Datum
dt_get_task(PG_FUNCTION_ARGS)
{
	return dt_get_task_common(fcinfo, &plan_get_task, &result_desc_1_0);
}

/*
 * The 1.1 entry point: also idempotency_key and key_released_at.
 */
Datum
dt_get_task_1_1(PG_FUNCTION_ARGS)
{
	return dt_get_task_common(fcinfo, &plan_get_task_1_1, &result_desc_1_1);
}
