/*-------------------------------------------------------------------------
 *
 * events.c
 *	  emit_event, await_event, cleanup_events, and fan-in: the events of a
 *	  queue and the runs that wait for them.
 *
 * An event is a row of e_<queue>, keyed by its name: emitted (emitted_at
 * set, with its payload), or only awaited so far (emitted_at NULL).  A
 * wait is a row of w_<queue>, (run_id, event_name), made when a run
 * suspends on an event: the run sleeps (sleep.c's move) until sleep_until,
 * its timeout or infinity, and an emit makes it due at once.
 *
 * Never losing an emit: the event's row is the meeting point.  An await
 * makes sure the row exists (INSERT ... ON CONFLICT DO NOTHING, which
 * waits for an emit in progress) and reads it FOR SHARE, holding that lock
 * while it decides and suspends; an emit inserts the row or updates the
 * awaited one (ON CONFLICT DO UPDATE ... WHERE emitted_at IS NULL), which
 * waits for every await holding the row, and then wakes the waiting runs
 * in a later statement, which sees their committed waits.  So either the
 * await sees the emit, or the emit sees the await's wait.  First emit
 * wins: a second emit finds emitted_at set and changes nothing.
 *
 * A wait wakes its run only while the run sleeps for it: the run's
 * available_at is still the wait's sleep_until (a run that resumed and
 * slept again for another reason is not woken).  At its timeout the run
 * is simply due; its next await_event of the event says timed_out.
 *
 * Fan-in: when a task that has a parent_task_id becomes terminal, the
 * event "$child:<task_id>" is emitted in its queue, in the same
 * transaction, with {"state", "result", "failure"}; the modules that end
 * tasks call dt_emit_child_events() for the children among them only.
 * emit_event refuses those names: only the extension emits them.
 *
 * Locks, in this order: an await locks its run's task row, then the event
 * row (FOR SHARE), then the run row (when it suspends); an emit locks the
 * event row, then the rows of the sleeping runs it wakes (never a task);
 * a task that ends (fan-in) has its task and run rows locked before the
 * event row.  An await never waits for the event row while holding a run
 * row an emit could wake, and holds its task row before the event row as
 * a cancel or a finisher of a child does: none of them can deadlock.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/events.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/snapmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_emit_event);
PG_FUNCTION_INFO_V1(dt_await_event);
PG_FUNCTION_INFO_V1(dt_cleanup_events);

#define DT_EVENT_NAME_MAXLEN	255
#define DT_PAYLOAD_MAXLEN		(1024 * 1024)
#define DT_CHILD_EVENT_PREFIX	"$child:"

static TupleDesc await_desc = NULL;

/* $1 event_name, $2 payload, $3 the clock: a row if this call emitted */
static const DtPlanDef plan_emit = {
	"emit_event",
	"INSERT INTO {events} AS e (event_name, payload, emitted_at, created_at) "
	"VALUES ($1, $2, $3, $3) ON CONFLICT (event_name) DO UPDATE "
	"SET payload = EXCLUDED.payload, emitted_at = EXCLUDED.emitted_at "
	"WHERE e.emitted_at IS NULL RETURNING 1",
	3, {TEXTOID, JSONBOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/* $1 event_name, $2 the clock: make the runs sleeping for it due now */
static const DtPlanDef plan_wake = {
	"wake_waiters",
	"UPDATE {runs} r SET available_at = $2 FROM {waits} w "
	"WHERE w.event_name OPERATOR(pg_catalog.=) $1 "
	"AND r.run_id OPERATOR(pg_catalog.=) w.run_id "
	"AND r.state OPERATOR(pg_catalog.=) 'sleeping' "
	"AND r.available_at OPERATOR(pg_catalog.=) w.sleep_until "
	"AND r.available_at OPERATOR(pg_catalog.>) $2",
	2, {TEXTOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/* $1 run_id: the run's task, locked first (see the file header) */
static const DtPlanDef plan_await_task = {
	"await_event_task",
	"SELECT 1 FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE OF t",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

/* $1 event_name, $2 the clock */
static const DtPlanDef plan_await_row = {
	"await_event_row",
	"INSERT INTO {events} (event_name, created_at) VALUES ($1, $2) "
	"ON CONFLICT (event_name) DO NOTHING",
	2, {TEXTOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_await_lock = {
	"await_event_lock",
	"SELECT e.emitted_at IS NOT NULL, e.payload FROM {events} e "
	"WHERE e.event_name OPERATOR(pg_catalog.=) $1 FOR SHARE",
	1, {TEXTOID},
	DT_PLAN_CHOOSE
};

/* $1 run_id, $2 event_name, $3 the clock: is the run's wait timed out? */
static const DtPlanDef plan_wait_timed_out = {
	"await_event_timed_out",
	"SELECT 1 FROM {waits} w WHERE w.run_id OPERATOR(pg_catalog.=) $1 "
	"AND w.event_name OPERATOR(pg_catalog.=) $2 "
	"AND w.timeout_at OPERATOR(pg_catalog.<=) $3",
	3, {UUIDOID, TEXTOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/* $1 run_id, $2 event_name, $3 timeout_at, $4 sleep_until, $5 the clock */
static const DtPlanDef plan_wait = {
	"await_event_wait",
	"INSERT INTO {waits} AS w (run_id, event_name, timeout_at, sleep_until, created_at) "
	"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, event_name) DO UPDATE "
	"SET timeout_at = EXCLUDED.timeout_at, sleep_until = EXCLUDED.sleep_until",
	5, {UUIDOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/* $1 run_id, $2 event_name, $3 the clock: the run read the event */
static const DtPlanDef plan_read = {
	"await_event_read",
	"INSERT INTO {waits} (run_id, event_name, timeout_at, sleep_until, created_at) "
	"VALUES ($1, $2, NULL, '-infinity', $3) ON CONFLICT (run_id, event_name) DO NOTHING",
	3, {UUIDOID, TEXTOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/*
 * $1 emitted before, $2 batch size.  An event is kept while a run of a
 * live task has waited for it: a run the emit woke may not have resumed
 * yet, and the task's code, run again from the start (a resume, a retry),
 * must find the event at its await_event.
 */
static const DtPlanDef plan_cleanup_events = {
	"cleanup_events",
	"DELETE FROM {events} d WHERE d.event_name OPERATOR(pg_catalog.=) ANY (ARRAY("
	" SELECT e.event_name FROM {events} e"
	" WHERE e.emitted_at OPERATOR(pg_catalog.<) $1"
	" AND NOT EXISTS (SELECT FROM {waits} w JOIN {runs} r"
	"  ON r.run_id OPERATOR(pg_catalog.=) w.run_id"
	"  JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id"
	"  WHERE w.event_name OPERATOR(pg_catalog.=) e.event_name"
	"  AND t.state OPERATOR(pg_catalog.=) ANY ('{pending,running,sleeping}'::pg_catalog.text[]))"
	" ORDER BY e.emitted_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED))",
	2, {TIMESTAMPTZOID, INT4OID},
	DT_PLAN_CHOOSE
};

/* $1 task ids: the children among them that are terminal, their events */
static const DtPlanDef plan_child_events = {
	"child_events",
	"SELECT '" DT_CHILD_EVENT_PREFIX "' OPERATOR(pg_catalog.||) t.task_id::pg_catalog.text, "
	"pg_catalog.jsonb_build_object('state', t.state, 'result', t.result, "
	"'failure', t.failure) "
	"FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) ANY ($1) "
	"AND t.parent_task_id IS NOT NULL "
	"AND t.state OPERATOR(pg_catalog.=) ANY ('{completed,failed,cancelled}'::pg_catalog.text[])",
	1, {UUIDARRAYOID},
	DT_PLAN_CHOOSE
};

/* The queue, which must have its event tables (layout step 1.2). */
static void
dt_events_check(DtQueue *queue)
{
	if (!OidIsValid(queue->event_relid) || !OidIsValid(queue->wait_relid) ||
		!OidIsValid(queue->due_index))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" has no event tables", queue->name),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE.")));
}

static char *
dt_arg_event_name(FunctionCallInfo fcinfo, int argno)
{
	return dt_arg_cstring(fcinfo, argno, "event_name", DT_EVENT_NAME_MAXLEN);
}

/*
 * Emit the event (inside SPI): true if this call emitted it.  Wakes the
 * runs waiting for it.
 */
static bool
dt_emit(DtQueue *queue, const char *event_name, Jsonb *payload,
		TimestampTz now)
{
	Datum		args[3];
	char		nulls[3] = {' ', payload ? ' ' : 'n', ' '};
	bool		emitted;
	int			ret;

	args[0] = CStringGetTextDatum(event_name);
	args[1] = PointerGetDatum(payload);
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_emit), args, nulls, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT_RETURNING, "emitting an event");
	emitted = SPI_processed == 1;
	if (emitted)
	{
		Datum		wake_args[2] = {args[0], args[2]};

		/*
		 * The waits that committed after a REPEATABLE READ or SERIALIZABLE
		 * transaction's snapshot (the awaits our row lock waited for) must
		 * be seen too: wake with the latest snapshot.
		 */
		if (IsolationUsesXactSnapshot())
			ret = SPI_execute_snapshot(dt_plan(queue, &plan_wake), wake_args,
									   NULL, GetLatestSnapshot(),
									   InvalidSnapshot, false, true, 0);
		else
			ret = SPI_execute_plan(dt_plan(queue, &plan_wake), wake_args,
								   NULL, false, 0);
		dt_spi_check(ret, SPI_OK_UPDATE, "waking the runs that wait for an event");
	}
	return emitted;
}

/*
 * durable_tasks.emit_event(queue_name text, event_name text,
 *                          payload jsonb DEFAULT NULL)
 * RETURNS boolean
 *
 * Records the event; true if this call emitted it, false if it had been
 * emitted already (the stored payload is kept).  Every run waiting for it
 * becomes claimable at once.  Needs producer.
 */
Datum
dt_emit_event(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock,
									  DT_PRIV_PRODUCER);
	char	   *event_name = dt_arg_event_name(fcinfo, 1);
	Jsonb	   *payload = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	bool		emitted;

	if (strncmp(event_name, DT_CHILD_EVENT_PREFIX,
				strlen(DT_CHILD_EVENT_PREFIX)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_name \"%s\" is reserved", event_name),
				 errdetail("Events named \"%s<task_id>\" are emitted by durable_tasks when a child task ends.",
						   DT_CHILD_EVENT_PREFIX)));
	if (payload != NULL && VARSIZE(payload) > DT_PAYLOAD_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("payload is too large"),
				 errdetail("An event's payload is at most %d bytes.",
						   DT_PAYLOAD_MAXLEN)));
	dt_events_check(queue);
	dt_spi_connect();
	emitted = dt_emit(queue, event_name, payload, GetCurrentTimestamp());
	dt_spi_finish();
	PG_RETURN_BOOL(emitted);
}

/* The run read the emitted event (see dt_await_event); inside SPI. */
static void
dt_record_read(DtQueue *queue, pg_uuid_t *run_id, const char *event_name,
			   TimestampTz now)
{
	Datum		args[3];
	int			ret;

	args[0] = UUIDPGetDatum(run_id);
	args[1] = CStringGetTextDatum(event_name);
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_read), args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "awaiting an event");
}

/* One result row of await_event. */
static Datum
dt_await_result(FunctionCallInfo fcinfo, const char *status, Datum payload,
				bool payload_null)
{
	Datum		values[2] = {CStringGetTextDatum(status), payload};
	bool		nulls[2] = {false, payload_null};

	dt_put_row(fcinfo, values, nulls);
	return (Datum) 0;
}

/*
 * durable_tasks.await_event(queue_name text, run_id uuid, event_name text,
 *                           timeout_seconds integer DEFAULT NULL)
 * RETURNS TABLE (status text, payload jsonb)
 *
 * Called by the lease holder: 'emitted' (the run keeps its lease),
 * 'timed_out' (its wait for the event timed out), or 'suspended' (the run
 * sleeps until the emit or the timeout, its lease ends: the worker must
 * stop).  Needs worker.
 */
Datum
dt_await_event(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	pg_uuid_t  *run_id;
	char	   *event_name;
	bool		has_timeout;
	int32		timeout = 0;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz sleep_until;
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			ret;

	dt_srf_init(fcinfo, &await_desc);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_WORKER);
	run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	event_name = dt_arg_event_name(fcinfo, 2);
	has_timeout = !PG_ARGISNULL(3);
	if (has_timeout)
		timeout = dt_arg_int32(fcinfo, 3, "timeout_seconds", 0,
							   (int32) DT_MAX_SECONDS);
	dt_events_check(queue);

	dt_spi_connect();
	args[0] = UUIDPGetDatum(run_id);
	ret = SPI_execute_plan(dt_plan(queue, &plan_await_task), args, NULL,
						   false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "awaiting an event");
	/* held, as the task lock leaves it (a cancel we waited for ends it) */
	dt_run_check_held(queue, run_id, &now);

	/* the event's row, locked while we decide (see the file header) */
	args[0] = CStringGetTextDatum(event_name);
	args[1] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_await_row), args, NULL,
						   false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "awaiting an event");
	ret = SPI_execute_plan(dt_plan(queue, &plan_await_lock), args, NULL,
						   false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "awaiting an event");
	if (SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1, &isnull)))
	{
		Datum		payload = SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 2, &isnull);

		/*
		 * Record that the run read it (a wait whose sleep_until, -infinity,
		 * no run's available_at ever is): cleanup_events keeps the event
		 * while the task lives, and its code, run again, finds it.
		 */
		dt_await_result(fcinfo, "emitted", payload, isnull);
		dt_record_read(queue, run_id, event_name, now);
		dt_spi_finish();
		return (Datum) 0;
	}

	args[0] = UUIDPGetDatum(run_id);
	args[1] = CStringGetTextDatum(event_name);
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_wait_timed_out), args, NULL,
						   true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "awaiting an event");
	if (SPI_processed == 1)
	{
		dt_await_result(fcinfo, "timed_out", (Datum) 0, true);
		dt_spi_finish();
		return (Datum) 0;
	}

	/* suspend: the wait, then the run sleeps until the emit or timeout */
	if (has_timeout)
		sleep_until = now + (TimestampTz) timeout * USECS_PER_SEC;
	else
		TIMESTAMP_NOEND(sleep_until);
	args[2] = TimestampTzGetDatum(sleep_until);
	nulls[2] = has_timeout ? ' ' : 'n';
	args[3] = TimestampTzGetDatum(sleep_until);
	args[4] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_wait), args, nulls, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "awaiting an event");
	dt_sleep_held(queue, run_id, sleep_until, now);

	dt_await_result(fcinfo, "suspended", (Datum) 0, true);
	dt_spi_finish();
	return (Datum) 0;
}

/*
 * durable_tasks.cleanup_events(queue_name text, older_than interval,
 *                              batch_size integer DEFAULT 1000)
 * RETURNS integer
 *
 * Deletes up to batch_size events emitted before the clock minus
 * older_than for which no run of a live task has waited (the task's code
 * runs again from the start and must find it).  Needs admin.
 */
Datum
dt_cleanup_events(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock,
									  DT_PRIV_ADMIN);
	TimestampTz cutoff;
	int32		batch;
	Datum		args[2];
	int			ret;
	int32		deleted;
	bool		anything = dt_cleanup_cutoff(fcinfo, 1, &cutoff);

	batch = dt_arg_int32(fcinfo, 2, "batch_size", 1, DT_MAX_CLEANUP_BATCH);
	dt_events_check(queue);
	if (!anything)
		PG_RETURN_INT32(0);

	args[0] = TimestampTzGetDatum(cutoff);
	args[1] = Int32GetDatum(batch);
	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_cleanup_events), args, NULL,
						   false, 0);
	dt_spi_check(ret, SPI_OK_DELETE, "deleting events");
	deleted = (int32) SPI_processed;
	dt_spi_finish();
	PG_RETURN_INT32(deleted);
}

/*
 * Fan-in: emit "$child:<task_id>" for those of the tasks (ntasks ids) that
 * have a parent and are terminal (inside SPI).  A queue without event
 * tables (1.1 layout) has no fan-in.
 */
void
dt_emit_child_events(DtQueue *queue, Datum *task_ids, int ntasks,
					 TimestampTz now)
{
	ArrayType  *ids;
	Datum		args[1];
	SPITupleTable *events;
	uint64		n;
	int			ret;

	if (ntasks == 0 || !OidIsValid(queue->event_relid) ||
		!OidIsValid(queue->wait_relid))
		return;
	ids = construct_array(task_ids, ntasks, UUIDOID, UUID_LEN, false,
						  TYPALIGN_CHAR);
	args[0] = PointerGetDatum(ids);
	ret = SPI_execute_plan(dt_plan(queue, &plan_child_events), args, NULL,
						   false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "reading finished children");
	events = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(events->vals[i],
															 events->tupdesc, 1, &isnull));
		Jsonb	   *payload = DatumGetJsonbP(SPI_getbinval(events->vals[i],
														   events->tupdesc, 2, &isnull));

		(void) dt_emit(queue, name, payload, now);
	}
	SPI_freetuptable(events);
}
