/*-------------------------------------------------------------------------
 *
 * claim.c
 *	  claim_task, extend_claim and lease expiry.
 *
 * Concurrency.  claim_task picks ready runs with FOR NO KEY UPDATE OF the
 * run and its task SKIP LOCKED, so concurrent workers never receive the
 * same run and never wait for each other or for a cancel_task in progress;
 * the run and its task are updated in the same statement.  NO KEY: the
 * lock the UPDATE takes anyway, which a foreign key's check (FOR KEY
 * SHARE, a checkpoint or wait row being inserted) does not block.  As
 * SKIP LOCKED never waits, the order in which it locks the two rows cannot
 * deadlock with finish.c and cancel_task, which lock tasks first.
 *
 * Every time a worker sees (lease ends, deadlines, the runs that are
 * due) is taken from the clock at the call, never from the start of a
 * long transaction.
 *
 * Leases are resolved lazily: before claiming, each claim_task call fails
 * up to DT_LEASE_SWEEP_BATCH runs whose lease has expired (again SKIP
 * LOCKED, so each expired run is handled by exactly one worker), which
 * applies the task's retry strategy like fail_run.  A retry that is due
 * at once is then claimable by the same call.
 *
 * A sleeping run (sleep.c) is claimed like a pending one from its wake
 * time on: the same run, with the same attempt, goes to the next worker.
 *
 * Scan floors.  A claim turns a pending run into a running one, which
 * leaves the run's entry in the claim index ri_<q>_due until VACUUM; the
 * entries of claimed runs pile up at the index's left edge, where a scan
 * from the start walks every one of them (killed-tuple hints spare the
 * heap visits, not the index pages: after 200,000 claims without VACUUM,
 * 1,300 pages per claim).  The same happens to the lease index
 * ri_<q>_lease with the runs that finished.  So each backend keeps, per
 * queue, a floor for each scan: the latest available_at it claimed, and
 * the clock of its last lease sweep that left nothing behind.  Entries
 * below a floor are runs this backend claimed, runs others claimed or
 * hold (SKIP LOCKED would skip them), or runs that became due at an
 * earlier time after the scan that set the floor (a late commit, a past
 * wake_at, a claim rolled back, a table written directly).  A scan starts
 * at the floor (the index bound (available_at, run_id) >= the last run
 * claimed), and from the start of the index when it finds too few runs,
 * when durable_tasks.claim_full_scan_interval (1 s by default) has passed
 * since the last full one, and on the first call; this backend's own
 * spawns and sleeps with an earlier time lower the floor
 * (dt_claim_floor_lower).
 * Hence a run that becomes due at a time earlier than runs already handed
 * out is claimed at most that interval after it could have been, and an
 * expired lease is swept at most that much later.
 *
 * Claims never wait for a row lock, with one exception: a child task that
 * the claim cancels for a deadline, or whose expired lease fails it for
 * good, emits its fan-in event (events.c), which waits for an await of
 * that event in an open transaction (it holds the event row FOR SHARE).
 *
 * A pending run whose task is already terminal (a retry created while the
 * task was being cancelled) or whose task passed a cancellation deadline
 * (max_delay before its first start, max_duration after it) is cancelled
 * instead of handed out, and the claim looks for more runs in its place.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/claim.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_claim_task);
PG_FUNCTION_INFO_V1(dt_extend_claim);

/* result descriptor, built once per backend (dt_srf_init) */
static TupleDesc result_desc = NULL;

#define DT_MAX_CLAIM_QTY		1000

/*
 * Expired leases failed per claim_task call.  A constant, like the LIMIT of
 * the single-run claim below: with LIMIT $n a generic plan cannot know how
 * few rows it fetches, so the plan cache would re-plan on every call.
 */
#define DT_LEASE_SWEEP_BATCH	16

/*
 * claim_task's result columns; the claim statement adds "dead" and
 * available_at after them
 */
#define CLAIM_COLUMNS			8

/*
 * durable_tasks.claim_full_scan_interval: how long a backend's scan floors
 * stand between two full scans (milliseconds; 0: every scan is full).
 */
static int	dt_full_scan_interval_ms = 1000;

/* columns 1-5 are what dt_fail_locked_run() expects */
/* $1 the clock at the call, $2 the sweep floor */
static const DtPlanDef plan_lease_sweep = {
	"lease_sweep",
	"SELECT r.run_id, r.task_id, r.attempt, t.max_attempts, t.retry_strategy, "
	"pg_catalog.jsonb_build_object('error', 'lease expired', "
	"'worker_id', r.claimed_by, 'claim_expires_at', r.claim_expires_at) "
	"FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id "
	"WHERE r.state OPERATOR(pg_catalog.=) 'running' "
	"AND r.claim_expires_at OPERATOR(pg_catalog.<=) $1 "
	"AND r.claim_expires_at OPERATOR(pg_catalog.>=) $2 "
	"ORDER BY r.claim_expires_at LIMIT " CppAsString2(DT_LEASE_SWEEP_BATCH) " "
	"FOR NO KEY UPDATE OF r, t SKIP LOCKED",
	2, {TIMESTAMPTZOID, TIMESTAMPTZOID},
	DT_PLAN_GENERIC
};

#define CANCEL_DEADLINE(from, key) \
	"(" from " OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => " \
	"(t.cancellation OPERATOR(pg_catalog.->>) '" key "')::pg_catalog.float8)" \
	" OPERATOR(pg_catalog.<) $4)"

#define CLAIM_SQL(limit, claim, order) \
"WITH cand AS (" \
	" SELECT r.run_id, COALESCE(" \
	"  NOT t.state {task_from:" claim "}" \
	"  OR (t.first_started_at IS NULL AND " CANCEL_DEADLINE("r.available_at", "max_delay") ")" \
	"  OR (t.first_started_at IS NOT NULL AND " CANCEL_DEADLINE("t.first_started_at", "max_duration") ")," \
	"  false) AS dead" \
	" FROM {runs} r JOIN {tasks} t ON t.task_id OPERATOR(pg_catalog.=) r.task_id" \
	" WHERE r.state {run_from:" claim "}" \
	" AND r.available_at OPERATOR(pg_catalog.<=) $4" \
	" AND (r.available_at, r.run_id) OPERATOR(pg_catalog.>=) ($5, $6)" \
	" ORDER BY r.available_at, r.run_id LIMIT " limit \
	" FOR NO KEY UPDATE OF r, t SKIP LOCKED" \
	"), runs AS (" \
	" UPDATE {runs} r SET" \
	"  state = CASE WHEN c.dead THEN {run_to:drop} ELSE {run_to:" claim "} END," \
	"  claimed_by = CASE WHEN c.dead THEN NULL ELSE $1 END," \
	"  claim_expires_at = CASE WHEN c.dead THEN NULL ELSE $2 END," \
	"  started_at = CASE WHEN c.dead THEN NULL ELSE $4 END," \
	"  finished_at = CASE WHEN c.dead THEN $4 END" \
	" FROM cand c WHERE r.run_id OPERATOR(pg_catalog.=) c.run_id" \
	" RETURNING r.run_id, r.task_id, r.attempt, r.available_at," \
	"  r.claim_expires_at, c.dead" \
	"), tasks AS (" \
	" UPDATE {tasks} t SET" \
	"  state = CASE WHEN NOT u.dead THEN {task_to:" claim "}" \
	"   WHEN t.state {task_from:drop} THEN {task_to:drop}" \
	"   ELSE t.state END," \
	"  first_started_at = CASE WHEN u.dead THEN t.first_started_at" \
	"   ELSE COALESCE(t.first_started_at, $4) END," \
	"  finished_at = CASE WHEN u.dead AND t.state {task_from:drop}" \
	"   THEN $4 ELSE t.finished_at END" \
	" FROM runs u WHERE t.task_id OPERATOR(pg_catalog.=) u.task_id" \
	" RETURNING t.task_id, t.task_name, t.params, t.headers, t.max_attempts" \
	")" \
	" SELECT u.run_id, u.task_id, u.attempt, k.task_name, k.params, k.headers," \
	"  k.max_attempts, u.claim_expires_at, u.dead, u.available_at" \
	" FROM runs u JOIN tasks k ON k.task_id OPERATOR(pg_catalog.=) u.task_id" \
	order

/* the batch claim's rows in claim order (a single-run claim needs no sort) */
#define CLAIM_ORDER " ORDER BY u.available_at, u.run_id"

/*
 * $1 worker_id, $2 claim_expires_at, $3 how many (the batch plan only),
 * $4 the clock at the call, ($5, $6) the claim floor.  The claim of a 1.2
 * layout takes pending runs and sleeping ones that are due (both in the
 * claim index ri_<q>_due); a 1.1 layout has pending runs only, and its
 * claim index has no others.
 */
#define CLAIM_ARGTYPES \
	TEXTOID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, UUIDOID

static const DtPlanDef plan_claim_one = {
	"claim_one",
	CLAIM_SQL("1", "claim", ""),
	6, {CLAIM_ARGTYPES},
	DT_PLAN_GENERIC
};

static const DtPlanDef plan_claim_batch = {
	"claim_batch",
	CLAIM_SQL("$3", "claim", CLAIM_ORDER),
	6, {CLAIM_ARGTYPES},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_claim_one_1_1 = {
	"claim_one_1_1",
	CLAIM_SQL("1", "claim_pending", ""),
	6, {CLAIM_ARGTYPES},
	DT_PLAN_GENERIC
};

static const DtPlanDef plan_claim_batch_1_1 = {
	"claim_batch_1_1",
	CLAIM_SQL("$3", "claim_pending", CLAIM_ORDER),
	6, {CLAIM_ARGTYPES},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_extend = {
	"extend_claim",
	"UPDATE {runs} r SET claim_expires_at = $2 "
	"WHERE r.run_id OPERATOR(pg_catalog.=) $1 AND " DT_RUN_IS_HELD("$3", "$4"),
	4, {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID},
	DT_PLAN_CHOOSE
};

/*
 * Whether a scan with this floor starts from the index's start: no floor
 * yet, or the interval has passed since the last full scan (see the
 * header).
 */
static bool
dt_scan_full(TimestampTz floor, TimestampTz full_at, TimestampTz now)
{
	/* (a clock that stepped back counts as due) */
	return floor == 0 || now < full_at ||
		now - full_at >= (TimestampTz) dt_full_scan_interval_ms * 1000;
}

/*
 * Define durable_tasks.claim_full_scan_interval (_PG_init).
 */
void
dt_claim_init(void)
{
	DefineCustomIntVariable("durable_tasks.claim_full_scan_interval",
							"Sets the longest time between two claims or lease sweeps of a queue that scan its index from the start.",
							"In between, a backend's claims and lease sweeps start where its last one ended. 0 makes every scan start at the beginning.",
							&dt_full_scan_interval_ms,
							1000, 0, 3600 * 1000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * This backend made a run of the queue due at t: a claim floor above t
 * would hide it until the next full scan.  The floor is backend-local and
 * not rolled back with the transaction (a rollback only costs a scan).
 */
void
dt_claim_floor_lower(DtQueue *queue, TimestampTz t)
{
	if (queue->claim_floor != 0 && t <= queue->claim_floor)
	{
		queue->claim_floor = t;
		memset(&queue->claim_floor_run, 0, sizeof(pg_uuid_t));
	}
}

/*
 * Fail up to DT_LEASE_SWEEP_BATCH runs whose lease has expired, from the
 * sweep floor on; a sweep that leaves none behind moves the floor to now.
 * The statement runs only if the lease index may hold one (leaseprobe.c).
 */
static void
dt_expire_leases(DtQueue *queue, TimestampTz now)
{
	SPITupleTable *expired;
	bool		full = dt_scan_full(queue->sweep_floor, queue->sweep_full_at,
									now);
	TimestampTz floor = full ? DT_NOBEGIN : queue->sweep_floor;
	Datum		args[2];
	uint64		n;
	int			ret;

	if (!dt_leases_may_expire(queue, floor, now))
	{
		/* what the statement would have found: nothing */
		if (full)
			queue->sweep_full_at = now;
		queue->sweep_floor = now;
		return;
	}

	args[0] = TimestampTzGetDatum(now);
	args[1] = TimestampTzGetDatum(floor);
	ret = SPI_execute_plan(dt_plan(queue, &plan_lease_sweep),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "looking for expired leases");
	if (full)
		queue->sweep_full_at = now;
	if (SPI_processed < DT_LEASE_SWEEP_BATCH)
		queue->sweep_floor = now;

	/* dt_fail_locked_run runs statements of its own: keep our result */
	expired = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		reason = SPI_getbinval(expired->vals[i], expired->tupdesc,
										   6, &isnull);
		DtFailResult res;

		dt_fail_locked_run(queue, expired->vals[i], expired->tupdesc,
						   DatumGetJsonbP(reason), now, &res);
	}
	SPI_freetuptable(expired);
}

/*
 * Run the claim statement for up to *remaining runs and return the claimed
 * ones to the caller, reducing *remaining by their number.  Returns how
 * many candidates were cancelled instead (see the file header).
 */
static int32
dt_claim_batch(FunctionCallInfo fcinfo, DtQueue *queue, Datum *args,
			   int32 *remaining)
{
	int32		dead = 0;
	int			ret;
	bool		sleeps = OidIsValid(queue->due_index);
	const DtPlanDef *def;
	Datum	   *dead_tasks;

	if (*remaining == 1)
		def = sleeps ? &plan_claim_one : &plan_claim_one_1_1;
	else
		def = sleeps ? &plan_claim_batch : &plan_claim_batch_1_1;
	args[2] = Int32GetDatum(*remaining);
	ret = SPI_execute_plan(dt_plan(queue, def), args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "claiming runs");

	dead_tasks = palloc((SPI_processed + 1) * sizeof(Datum));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[CLAIM_COLUMNS + 2];
		bool		nulls[CLAIM_COLUMNS + 2];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
						  values, nulls);
		/* rows come in index order: the last one is the new floor */
		queue->claim_floor = DatumGetTimestampTz(values[CLAIM_COLUMNS + 1]);
		queue->claim_floor_run = *DatumGetUUIDP(values[0]);
		if (DatumGetBool(values[CLAIM_COLUMNS]))
			dead_tasks[dead++] = datumCopy(values[1], false, UUID_LEN);
		else
		{
			dt_put_row(fcinfo, values, nulls);
			(*remaining)--;
		}
	}
	/* cancelled children: their parents may be waiting (events.c) */
	dt_emit_child_events(queue, dead_tasks, dead, DatumGetTimestampTz(args[3]));
	return dead;
}

/*
 * Claim up to *remaining runs from the claim floor on, and then from the
 * start of the claim index if that found too few; only from the start
 * when a full scan is due.  Runs cancelled instead of claimed do not
 * count: claim again; each round cancels the dead runs it met, so this
 * ends.
 */
static void
dt_claim_from_floor(FunctionCallInfo fcinfo, DtQueue *queue, Datum *args,
					int32 *remaining, TimestampTz now)
{
	static pg_uuid_t nil_run;	/* all zeros, the lowest run id */
	int32		wanted;

	if (!dt_scan_full(queue->claim_floor, queue->claim_full_at, now))
	{
		args[4] = TimestampTzGetDatum(queue->claim_floor);
		args[5] = UUIDPGetDatum(&queue->claim_floor_run);
		while (*remaining > 0 &&
			   dt_claim_batch(fcinfo, queue, args, remaining) > 0)
			;
		if (*remaining == 0)
			return;
	}

	wanted = *remaining;
	args[4] = TimestampTzGetDatum(DT_NOBEGIN);
	args[5] = UUIDPGetDatum(&nil_run);
	while (*remaining > 0 &&
		   dt_claim_batch(fcinfo, queue, args, remaining) > 0)
		;
	queue->claim_full_at = now;
	/* nothing due at all: an idle poller's next claim scans only once */
	if (*remaining == wanted)
		queue->claim_floor = 0;
}

/*
 * durable_tasks.claim_task(queue_name text, worker_id text,
 *		claim_timeout_seconds integer DEFAULT 30, qty integer DEFAULT 1)
 * RETURNS TABLE (run_id uuid, task_id uuid, attempt integer, task_name text,
 *		params jsonb, headers jsonb, max_attempts integer,
 *		claim_expires_at timestamptz)
 *
 * Locks the claimed runs (SKIP LOCKED) and their tasks.
 */
Datum
dt_claim_task(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	char	   *worker_id;
	int32		timeout;
	int32		remaining;
	TimestampTz now;
	Datum		args[6];

	dt_srf_init(fcinfo, &result_desc);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_WORKER);
	worker_id = dt_arg_cstring(fcinfo, 1, "worker_id", DT_WORKER_ID_MAXLEN);
	timeout = dt_arg_int32(fcinfo, 2, "claim_timeout_seconds",
						   1, DT_MAX_CLAIM_SECONDS);
	remaining = dt_arg_int32(fcinfo, 3, "qty", 1, DT_MAX_CLAIM_QTY);

	dt_spi_connect();

	now = GetCurrentTimestamp();
	dt_expire_leases(queue, now);

	args[0] = CStringGetTextDatum(worker_id);
	args[1] = TimestampTzGetDatum(now + (TimestampTz) timeout * USECS_PER_SEC);
	args[3] = TimestampTzGetDatum(now);
	dt_claim_from_floor(fcinfo, queue, args, &remaining, now);
	dt_spi_finish();

	return (Datum) 0;
}

/*
 * durable_tasks.extend_claim(queue_name text, run_id uuid, seconds integer)
 * RETURNS timestamptz
 *
 * Heartbeat: the lease now ends `seconds` from now.  Errors unless the run
 * is running with a lease that has not expired.  Locks the run.
 */
Datum
dt_extend_claim(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_WORKER);
	pg_uuid_t  *run_id = dt_arg_uuid(fcinfo, 1, "run_id");
	int32		seconds = dt_arg_int32(fcinfo, 2, "seconds",
									   1, DT_MAX_CLAIM_SECONDS);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz expires = now + (TimestampTz) seconds * USECS_PER_SEC;
	Datum		args[4] = {UUIDPGetDatum(run_id), TimestampTzGetDatum(expires),
	TimestampTzGetDatum(now), dt_state_text(DT_RUNNING)};
	int			ret;

	dt_spi_connect();
	ret = SPI_execute_plan(dt_plan(queue, &plan_extend),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE, "extending a claim");
	if (SPI_processed == 0)
		dt_run_not_held_error(queue, run_id);
	dt_spi_finish();

	PG_RETURN_TIMESTAMPTZ(expires);
}
