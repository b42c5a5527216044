/*-------------------------------------------------------------------------
 *
 * finish.c
 *	  complete_run and fail_run: the end of an attempt, and retries.
 *
 * Only a run that is running under a lease that has not expired can be
 * finished; anything else (unknown run, a run already finished or
 * cancelled, a lease that ran out) is an error, never a silent overwrite.
 *
 * Concurrency.  The task row is locked before the run row: complete_run
 * updates the task, then the run, in one statement; fail_run locks both
 * FOR NO KEY UPDATE OF t, r.  That is the order of cancel_task, so a
 * cancel and a finisher wait for each other and never deadlock (nor does
 * a worker that spawned children, which locks its task FOR SHARE, and
 * then completes in the same transaction).  Claims never wait (SKIP
 * LOCKED).  A second finisher of the same run waits for the first and then
 * finds the run no longer running.  A task cancelled meanwhile is never
 * brought back: finishing its run is an error (55000) that undoes the
 * statement.
 *
 * fail_run applies the task's retry strategy: while attempts remain, the
 * failed run is followed by a new pending run available after the retry
 * delay; after the last attempt the task becomes failed.  Lease expiry in
 * claim.c goes through the same dt_fail_locked_run().
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/finish.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_complete_run);
PG_FUNCTION_INFO_V1(dt_fail_run);

/* result descriptor of fail_run, built once per backend (dt_srf_init) */
static TupleDesc fail_result_desc = NULL;


static const DtPlanDef plan_run_task_state = {
	"run_task_state",
	"SELECT t.state FROM {runs} r JOIN {tasks} t "
	"ON t.task_id OPERATOR(pg_catalog.=) r.task_id "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_run_status = {
	"run_status",
	"SELECT r.state, r.claimed_by, r.claim_expires_at "
	"FROM {runs} r WHERE r.run_id OPERATOR(pg_catalog.=) $1",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

/*
 * Returns how many runs and how many tasks it updated; $3 the clock, $4
 * 'running' (DT_RUN_IS_HELD).  The
 * task row is updated (so locked) before the run row: the run's UPDATE
 * joins the task's, which therefore runs first; the order of cancel_task.
 * The task's UPDATE finds the task through the run as of our snapshot; the
 * run's UPDATE checks again that the run is held (EvalPlanQual rechecks it
 * on a version a concurrent finisher wrote), and the caller raises an
 * error, undoing the statement, unless both were updated.
 */
static const DtPlanDef plan_complete = {
	"complete_run",
	"WITH t AS (UPDATE {tasks} t SET state = {task_to:complete}, result = $2, "
	"finished_at = $3 "
	"WHERE t.task_id OPERATOR(pg_catalog.=) (SELECT r.task_id FROM {runs} r "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$3", "$4") ") "
	"AND t.state {task_from:complete} "
	"RETURNING t.task_id, t.parent_task_id IS NOT NULL AS child), "
	"r AS (UPDATE {runs} r SET state = {run_to:complete}, result = $2, "
	"finished_at = $3 FROM t "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
	"AND r.task_id OPERATOR(pg_catalog.=) t.task_id AND " DT_RUN_IS_HELD("$3", "$4") " "
	"RETURNING r.task_id) "
	"SELECT (SELECT pg_catalog.count(*) FROM r), (SELECT pg_catalog.count(*) FROM t), "
	"(SELECT t.task_id FROM t WHERE t.child)",
	4, {UUIDOID, JSONBOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_GENERIC
};

/* columns 1-5 are what dt_fail_locked_run() expects; $2 the clock, $3 'running' */
static const DtPlanDef plan_fail_lock = {
	"fail_lock",
	"SELECT r.run_id, r.task_id, r.attempt, t.max_attempts, t.retry_strategy, "
	"t.state "
	"FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$2", "$3") " "
	"FOR NO KEY UPDATE OF t, r",
	3, {UUIDOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_CHOOSE
};

/* $7 the clock */
static const DtPlanDef plan_fail_retry = {
	"fail_retry",
	"WITH r AS (UPDATE {runs} r SET state = {run_to:retry}, failure = $2, "
	"finished_at = $7 "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND r.state {run_from:retry}), "
	"n AS (INSERT INTO {runs} (run_id, task_id, attempt, state, available_at, "
	"created_at) VALUES ($3, $4, $5, 'pending', $6, $7)) "
	"UPDATE {tasks} t SET state = {task_to:retry}, attempts = $5, last_run_id = $3, "
	"failure = $2 WHERE t.task_id OPERATOR(pg_catalog.=) $4",
	7, {UUIDOID, JSONBOID, UUIDOID, UUIDOID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/* $4 the clock */
static const DtPlanDef plan_fail_final = {
	"fail_final",
	"WITH r AS (UPDATE {runs} r SET state = {run_to:fail}, failure = $2, "
	"finished_at = $4 "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND r.state {run_from:fail}) "
	"UPDATE {tasks} t SET state = {task_to:fail}, failure = $2, "
	"finished_at = $4 "
	"WHERE t.task_id OPERATOR(pg_catalog.=) $3",
	4, {UUIDOID, JSONBOID, UUIDOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/*
 * Explain why run_id could not be finished or extended: unknown (P0002),
 * not running, or its lease expired (55000).
 */
void
dt_run_not_held_error(DtQueue *queue, pg_uuid_t *run_id)
{
	dt_run_check_held(queue, run_id, NULL);
	pg_unreachable();
}

/*
 * Raise dt_run_not_held_error's errors unless the run is held; if it is,
 * return, or with now == NULL, raise that its lease expired (the caller's
 * statement found it not held a moment ago).
 */
void
dt_run_check_held(DtQueue *queue, pg_uuid_t *run_id, TimestampTz *now)
{
	Datum		args[1] = {UUIDPGetDatum(run_id)};
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *state;
	int			ret;

	ret = SPI_execute_plan(dt_plan(queue, &plan_run_status),
						   args, NULL, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "looking up a run");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("run %s does not exist in queue \"%s\"",
						dt_uuid_str(run_id), queue->name)));

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	state = SPI_getvalue(tup, desc, 1);
	if (now != NULL && strcmp(state, "running") == 0)
	{
		bool		isnull;
		Datum		expires = SPI_getbinval(tup, desc, 3, &isnull);

		if (!isnull && DatumGetTimestampTz(expires) > *now)
			return;
	}
	if (strcmp(state, "running") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %s is not running", dt_uuid_str(run_id)),
				 errdetail("The run is %s.", state),
				 errhint("Only a claimed run can be extended, completed, failed or put to sleep.")));

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("lease on run %s has expired", dt_uuid_str(run_id)),
			 errdetail("The claim by worker \"%s\" expired at %s.",
					   SPI_getvalue(tup, desc, 2), SPI_getvalue(tup, desc, 3)),
			 errhint("The run will be retried or failed by the next claim_task; stop working on it.")));
}

/*
 * The run is held but its task was finished meanwhile (cancel_task): the
 * run cannot be finished either.  Raised before anything is written, or
 * to undo the statement that wrote it.
 */
static void
dt_task_finished_error(pg_uuid_t *run_id, const char *task_state)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the task of run %s is %s", dt_uuid_str(run_id),
					task_state),
			 errhint("Stop working on this run.")));
}

/*
 * reason + {"retry_strategy_error": message}: why a task with a damaged
 * retry strategy failed for good.
 */
static Jsonb *
dt_reason_with_error(Jsonb *reason, const char *message)
{
	StringInfoData buf;
	Jsonb	   *err;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"retry_strategy_error\": ");
	escape_json(&buf, message);
	appendStringInfoChar(&buf, '}');
	err = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));

	if (reason == NULL || !JB_ROOT_IS_OBJECT(reason) || JB_ROOT_IS_SCALAR(reason))
		return err;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
											  JsonbPGetDatum(reason),
											  JsonbPGetDatum(err)));
}

/*
 * complete_run updated nothing although the run is held now: its task is
 * finished (55000), or the run changed after our snapshot was taken (a
 * heartbeat moved its lease): 40001, retry.
 */
void
dt_run_task_check(DtQueue *queue, pg_uuid_t *run_id, DtMove move)
{
	Datum		args[1] = {UUIDPGetDatum(run_id)};
	char	   *state;
	int			ret;

	ret = SPI_execute_plan(dt_plan(queue, &plan_run_task_state), args, NULL,
						   false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "looking up a task");
	state = SPI_processed == 1 ?
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : "gone";
	if (!dt_task_may(move, state))
		dt_task_finished_error(run_id, state);
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update"),
			 errdetail("Run %s changed meanwhile.", dt_uuid_str(run_id)),
			 errhint("Retry the transaction.")));
}

/*
 * Fail a run locked by the caller (columns 1-5 of tup: run_id, task_id,
 * attempt, max_attempts, retry_strategy) and retry its task if attempts
 * remain.  reason may be NULL.  A retry strategy that does not parse
 * (hand-made damage: it was checked at spawn) fails the task for good
 * with a WARNING, so that one bad row never stops the queue.
 */
void
dt_fail_locked_run(DtQueue *queue, HeapTuple tup, TupleDesc desc,
				   Jsonb *reason, TimestampTz now, DtFailResult *res)
{
	bool		isnull;
	Datum		run_id = SPI_getbinval(tup, desc, 1, &isnull);
	Datum		task_id = SPI_getbinval(tup, desc, 2, &isnull);
	int32		attempt = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
	int32		max_attempts = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	Datum		strategy = SPI_getbinval(tup, desc, 5, &isnull);
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum		args[7];
	DtRetryStrategy rs;
	int			ret;

	memcpy(&res->task_id, DatumGetUUIDP(task_id), sizeof(pg_uuid_t));
	res->retried = attempt < max_attempts;
	if (res->retried)
	{
		char	   *error = dt_try_parse_retry_strategy(DatumGetJsonbP(strategy),
														&rs);

		if (error != NULL)
		{
			ereport(WARNING,
					(errmsg("task %s of queue \"%s\" failed for good: its retry_strategy is invalid",
							dt_uuid_str(&res->task_id), queue->name),
					 errdetail("%s", error)));
			reason = dt_reason_with_error(reason, error);
			res->retried = false;
		}
	}

	args[0] = run_id;
	args[1] = PointerGetDatum(reason);
	nulls[1] = reason ? ' ' : 'n';
	if (res->retried)
	{
		dt_uuid_v7_generate(&res->retry_run_id);
		res->retry_attempt = attempt + 1;
		res->retry_available_at = now +
			(TimestampTz) (dt_retry_delay(&rs, attempt) * USECS_PER_SEC);

		args[2] = UUIDPGetDatum(&res->retry_run_id);
		args[3] = task_id;
		args[4] = Int32GetDatum(res->retry_attempt);
		args[5] = TimestampTzGetDatum(res->retry_available_at);
		args[6] = TimestampTzGetDatum(now);
		ret = SPI_execute_plan(dt_plan(queue, &plan_fail_retry),
							   args, nulls, false, 0);
	}
	else
	{
		args[2] = task_id;
		args[3] = TimestampTzGetDatum(now);
		ret = SPI_execute_plan(dt_plan(queue, &plan_fail_final),
							   args, nulls, false, 0);
	}
	dt_spi_check(ret, SPI_OK_UPDATE, "failing a run");
	/* failed for good: the child's parent may be waiting (events.c) */
	if (!res->retried)
		dt_emit_child_events(queue, &task_id, 1, now);
}

/*
 * durable_tasks.complete_run(queue_name text, run_id uuid,
 *		result jsonb DEFAULT NULL) RETURNS void
 *
 * Locks (updates) the task, then the run.
 */
Datum
dt_complete_run(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_WORKER);
	pg_uuid_t  *run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	TimestampTz now = GetCurrentTimestamp();
	Datum		args[4];
	char		nulls[4] = {' ', PG_ARGISNULL(2) ? 'n' : ' ', ' ', ' '};
	bool		isnull;
	int			ret;

	args[0] = UUIDPGetDatum(run_id);
	args[1] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	args[2] = TimestampTzGetDatum(now);
	args[3] = dt_state_text(DT_RUNNING);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_complete),
						   args, nulls, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "completing a run");
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)) == 0)
	{
		/* the run is not held, or (it is and) its task is finished */
		dt_run_check_held(queue, run_id, &now);
		dt_run_task_check(queue, run_id, DT_MOVE_COMPLETE);
	}
	else
	{
		/* a child task: its parent may be waiting (fan-in, events.c) */
		Datum		child = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 3, &isnull);

		if (!isnull)
			dt_emit_child_events(queue, &child, 1, now);
	}
	dt_spi_finish();

	PG_RETURN_VOID();
}

/*
 * durable_tasks.fail_run(queue_name text, run_id uuid,
 *		reason jsonb DEFAULT NULL)
 * RETURNS TABLE (task_id uuid, task_state text, retry_run_id uuid,
 *		retry_attempt integer, retry_available_at timestamptz)
 *
 * Locks the task, then the run (FOR NO KEY UPDATE OF t, r).
 */
Datum
dt_fail_run(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	pg_uuid_t  *run_id;
	TimestampTz now = GetCurrentTimestamp();
	Datum		args[3];
	DtFailResult res;
	Datum		values[5];
	bool		nulls[5] = {0};
	char	   *task_state;
	int			ret;

	dt_srf_init(fcinfo, &fail_result_desc);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_WORKER);
	run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	args[0] = UUIDPGetDatum(run_id);
	args[1] = TimestampTzGetDatum(now);
	args[2] = dt_state_text(DT_RUNNING);

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_fail_lock),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "locking a run");
	if (SPI_processed == 0)
		dt_run_not_held_error(queue, run_id);
	task_state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);
	if (!dt_task_may(DT_MOVE_FAIL, task_state))
		dt_task_finished_error(run_id, task_state);

	dt_fail_locked_run(queue, SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
					   PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), now, &res);

	values[0] = UUIDPGetDatum(&res.task_id);
	values[1] = CStringGetTextDatum(res.retried ? "pending" : "failed");
	values[2] = UUIDPGetDatum(&res.retry_run_id);
	values[3] = Int32GetDatum(res.retry_attempt);
	values[4] = TimestampTzGetDatum(res.retry_available_at);
	nulls[2] = nulls[3] = nulls[4] = !res.retried;
	dt_put_row(fcinfo, values, nulls);
	dt_spi_finish();

	return (Datum) 0;
}
