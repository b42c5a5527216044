/*-------------------------------------------------------------------------
 *
 * spawn.c
 *	  spawn_task: create a task and its first run, or, given an idempotency
 *	  key, return the task that already holds the key (first-served
 *	  deduplication).
 *
 * Concurrency.  A key is held by at most one task per queue: the partial
 * unique index ti_<queue>_ikey on (idempotency_key) WHERE idempotency_key IS
 * NOT NULL AND key_released_at IS NULL.  A keyed spawn loops over
 *
 *	  1. probe the index for the key's holder (keyprobe.c, no SPI);
 *	  2. if there is one and it blocks (key_reuse, dedup_ttl_seconds): a hit,
 *		 return it without writing anything;
 *	  3. if there is one that no longer blocks: release the key from it
 *		 (UPDATE ... SET key_released_at, rechecking that it is still held);
 *	  4. INSERT ... ON CONFLICT DO NOTHING the new task and its first run.
 *
 * A concurrent spawner of the same key makes step 4 wait for it (the
 * speculative insertion waits on the in-progress inserter): if it commits,
 * DO NOTHING inserts no row and the loop probes again with a new snapshot
 * and finds it; if it rolls back, our insert goes in.  Two spawners that
 * both release the same holder serialize on its row lock; the loser's
 * UPDATE finds the key already released and it probes again.  No unique
 * violation can reach the caller.  Under REPEATABLE READ or SERIALIZABLE
 * the executor raises 40001 when a conflicting row or a concurrent update
 * is outside the snapshot; we never insert a duplicate.
 *
 * Nothing is generated or written, and no SQL but the probe runs, before
 * a hit is ruled out: the hit path is the argument checks (options are
 * validated in memory, as for any spawn), one index probe and the holder
 * check.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/spawn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_spawn_task);
PG_FUNCTION_INFO_V1(dt_spawn_task_1_1);

/* result descriptors, built once per backend (dt_srf_init) */
static TupleDesc result_desc_1_0 = NULL;
static TupleDesc result_desc_1_1 = NULL;

/* A keyed spawn gives up (40001) after this many probe/insert rounds. */
#define DT_SPAWN_MAX_ROUNDS 32

#define TASK_COLUMNS \
	"task_id, task_name, params, headers, retry_strategy, max_attempts, " \
	"cancellation, parent_task_id, state, attempts, last_run_id, created_at"
#define TASK_VALUES \
	"$1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, $9, $11"
#define RUN_COLUMNS \
	"run_id, task_id, attempt, state, available_at, created_at"
/* $11 is the clock at the call */
#define INSERT_ARGTYPES \
	UUIDOID, TEXTOID, JSONBOID, JSONBOID, JSONBOID, INT4OID, JSONBOID, \
	UUIDOID, UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID

static const DtPlanDef plan_insert = {
	"spawn_insert",
	"WITH t AS (INSERT INTO {tasks} (" TASK_COLUMNS ") VALUES (" TASK_VALUES ")) "
	"INSERT INTO {runs} (" RUN_COLUMNS ") "
	"VALUES ($9, $1, 1, 'pending', $10, $11)",
	11, {INSERT_ARGTYPES},
	DT_PLAN_GENERIC
};

static const DtPlanDef plan_insert_keyed = {
	"spawn_insert_keyed",
	"WITH t AS (INSERT INTO {tasks} (" TASK_COLUMNS ", idempotency_key) "
	"VALUES (" TASK_VALUES ", $12) "
	"ON CONFLICT (idempotency_key) "
	"WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL "
	"DO NOTHING RETURNING task_id) "
	"INSERT INTO {runs} (" RUN_COLUMNS ") "
	"SELECT $9, t.task_id, 1, 'pending', $10, $11 FROM t",
	12, {INSERT_ARGTYPES, TEXTOID},
	DT_PLAN_GENERIC
};

/* FOR SHARE: waits for a cancel_task (or delete) of the parent in progress */
static const DtPlanDef plan_parent_lock = {
	"spawn_parent_lock",
	"SELECT t.state FROM {tasks} t WHERE t.task_id OPERATOR(pg_catalog.=) $1 "
	"FOR SHARE OF t",
	1, {UUIDOID},
	DT_PLAN_CHOOSE
};

static const DtPlanDef plan_key_release = {
	"spawn_key_release",
	"UPDATE {tasks} t SET key_released_at = $3 "
	"WHERE t.task_id OPERATOR(pg_catalog.=) $1 "
	"AND t.key_released_at IS NULL "
	"AND t.state OPERATOR(pg_catalog.=) $2",
	3, {UUIDOID, TEXTOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

/*
 * Lock the parent task (FOR SHARE, until the end of the transaction) and
 * refuse a parent that does not exist or has finished: a child is never
 * left live under a cancelled parent, nor orphaned.
 */
static void
dt_lock_parent(DtQueue *queue, pg_uuid_t *parent)
{
	Datum		args[1] = {UUIDPGetDatum(parent)};
	char	   *state;
	int			ret;

	ret = SPI_execute_plan(dt_plan(queue, &plan_parent_lock),
						   args, NULL, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "locking the parent task");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("parent task %s does not exist in queue \"%s\"",
						dt_uuid_str(parent), queue->name),
				 errdetail("Option \"parent_task_id\" must name a task of the same queue.")));
	state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (dt_state_is_terminal(state))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("parent task %s is %s", dt_uuid_str(parent), state),
				 errdetail("A task that has finished cannot get new children.")));
	pfree(state);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Create the task and its first run, with options already parsed.  With a
 * key, returns false (writing nothing) if another task holds the key by
 * the time we insert.
 */
static bool
dt_spawn_create(DtQueue *queue, const char *task_name, Jsonb *params,
				DtSpawnOptions *opts, const char *key, DtSpawnResult *res)
{
	Datum		args[12];
	char		nulls[12];
	int			ret;

	dt_spawn_check_parent(queue, opts);

	dt_uuid_v7_generate(&res->task_id);
	dt_uuid_v7_generate(&res->run_id);
	res->attempt = 1;
	res->state = "pending";

	memset(nulls, ' ', sizeof(nulls));
	args[0] = UUIDPGetDatum(&res->task_id);
	args[1] = CStringGetTextDatum(task_name);
	args[2] = JsonbPGetDatum(params);
	args[3] = PointerGetDatum(opts->headers);
	nulls[3] = opts->headers ? ' ' : 'n';
	args[4] = JsonbPGetDatum(opts->retry_strategy);
	args[5] = Int32GetDatum(opts->max_attempts);
	args[6] = PointerGetDatum(opts->cancellation);
	nulls[6] = opts->cancellation ? ' ' : 'n';
	args[7] = UUIDPGetDatum(&opts->parent_task_id);
	nulls[7] = opts->has_parent ? ' ' : 'n';
	args[8] = UUIDPGetDatum(&res->run_id);
	args[9] = TimestampTzGetDatum(opts->available_at);
	args[10] = TimestampTzGetDatum(opts->now);

	if (key == NULL)
	{
		ret = SPI_execute_plan(dt_plan(queue, &plan_insert),
							   args, nulls, false, 0);
		dt_spi_check(ret, SPI_OK_INSERT, "inserting a task");
		res->created = true;
	}
	else
	{
		args[11] = CStringGetTextDatum(key);
		ret = SPI_execute_plan(dt_plan(queue, &plan_insert_keyed),
							   args, nulls, false, 0);
		dt_spi_check(ret, SPI_OK_INSERT, "inserting a keyed task");
		res->created = SPI_processed == 1;
	}
	if (res->created)
		dt_claim_floor_lower(queue, opts->available_at);
	return res->created;
}

/*
 * Does the holder keep the key from a new spawn under this policy?
 */
static bool
dt_holder_blocks(DtHolder *holder, const DtDedupPolicy *policy,
				 TimestampTz now)
{
	if (policy->key_reuse == DT_KEY_REUSE_NEVER ||
		!dt_state_is_terminal(holder->state))
		return true;
	if (policy->key_reuse == DT_KEY_REUSE_AFTER_FINISH ||
		strcmp(holder->state, "completed") != 0)
		return false;

	/* after_failure, completed holder: held until its TTL runs out */
	if (!policy->has_ttl || holder->finished_null)
		return true;
	return holder->finished_at +
		(TimestampTz) policy->dedup_ttl_seconds * USECS_PER_SEC > now;
}

/*
 * The same rule for a terminal holder, as parameters of a query that
 * selects holders that no longer block (cleanup.c): every terminal holder
 * blocks (block_all), or a completed one whose finished_at is after
 * completed_cutoff does (DT_NOBEGIN_TIMESTAMP: every completed one), or
 * none does (block_all false, completed_cutoff DT_NOEND_TIMESTAMP).
 */
void
dt_policy_terminal_blocks(const DtDedupPolicy *policy, TimestampTz now,
						  bool *block_all, TimestampTz *completed_cutoff)
{
	*block_all = policy->key_reuse == DT_KEY_REUSE_NEVER;
	if (policy->key_reuse != DT_KEY_REUSE_AFTER_FAILURE)
		TIMESTAMP_NOEND(*completed_cutoff);
	else if (!policy->has_ttl)
		TIMESTAMP_NOBEGIN(*completed_cutoff);
	else
		*completed_cutoff = now -
			(TimestampTz) policy->dedup_ttl_seconds * USECS_PER_SEC;
}

/*
 * on_params_mismatch = 'error': refuse if the holder was spawned with
 * another task_name or other params.
 */
static void
dt_check_mismatch(DtQueue *queue, DtHolder *holder, const char *key,
				  const char *task_name, Jsonb *params)
{
	if (strcmp(holder->task_name, task_name) == 0 &&
		DatumGetBool(DirectFunctionCall2(jsonb_eq,
										 JsonbPGetDatum(holder->params),
										 JsonbPGetDatum(params))))
		return;

	ereport(ERROR,
			(errcode(ERRCODE_DT_KEY_PARAMS_MISMATCH),
			 errmsg("idempotency key \"%s\" is held by task %s with different task_name or params",
					key, dt_uuid_str(&holder->task_id)),
			 errdetail("The holder is task \"%s\" in queue \"%s\", in state %s.",
					   holder->task_name, queue->name, holder->state),
			 errhint("Use another idempotency key, or on_params_mismatch 'ignore' to get the holder back.")));
}

static void
dt_holder_result(DtHolder *holder, DtSpawnResult *res)
{
	res->task_id = holder->task_id;
	res->run_id = holder->last_run_id;
	res->attempt = holder->attempts;
	res->created = false;
	res->state = holder->state;
}

/*
 * Release the key from a holder that no longer blocks.  False if someone
 * else changed the holder first (then the caller probes again).
 */
static bool
dt_release_key(DtQueue *queue, DtHolder *holder, TimestampTz now)
{
	Datum		args[3];
	int			ret;

	args[0] = UUIDPGetDatum(&holder->task_id);
	args[1] = CStringGetTextDatum(holder->state);
	args[2] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(dt_plan(queue, &plan_key_release),
						   args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE, "releasing an idempotency key");
	return SPI_processed == 1;
}

static void
dt_settle_error(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not settle idempotency key \"%s\" after %d attempts",
					key, DT_SPAWN_MAX_ROUNDS),
			 errdetail("Other transactions kept taking and releasing the key."),
			 errhint("Retry the transaction.")));
}

/*
 * Steps 1-3 of the keyed spawn loop (see the file header): true, with the
 * holder in *res, if a holder blocks; false once none does (a holder that
 * no longer blocks has had the key released), so the caller may insert.
 */
bool
dt_spawn_probe(DtQueue *queue, const char *task_name, Jsonb *params,
			   DtSpawnOptions *opts, const char *key, bool explicit_key,
			   DtSpawnResult *res)
{
	DtDedupPolicy policy;
	DtHolder	holder;
	bool		want_params;

	dt_dedup_policy(opts, dt_queue_policy(queue), &policy);
	want_params = policy.mismatch_error && explicit_key;

	for (int round = 0; round < DT_SPAWN_MAX_ROUNDS; round++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!dt_probe_key(queue, key, want_params, &holder))
			return false;
		if (dt_holder_blocks(&holder, &policy, opts->now))
		{
			if (want_params)
				dt_check_mismatch(queue, &holder, key, task_name, params);
			dt_holder_result(&holder, res);
			return true;
		}
		if (dt_release_key(queue, &holder, opts->now))
			return false;
	}
	dt_settle_error(key);
	return false;				/* keep compiler quiet */
}

/*
 * The keyed spawn loop (see the file header).
 */
static void
dt_spawn_keyed(DtQueue *queue, const char *task_name, Jsonb *params,
			   DtSpawnOptions *opts, const char *key, bool explicit_key,
			   DtSpawnResult *res)
{
	for (int round = 0; round < DT_SPAWN_MAX_ROUNDS; round++)
	{
		if (dt_spawn_probe(queue, task_name, params, opts, key, explicit_key,
						   res))
			return;
		if (dt_spawn_create(queue, task_name, params, opts, key, res))
			return;
	}
	dt_settle_error(key);
}

/*
 * Lock and check the spawn's parent, once (see dt_lock_parent).
 */
void
dt_spawn_check_parent(DtQueue *queue, DtSpawnOptions *opts)
{
	if (opts->has_parent && !opts->parent_checked)
	{
		dt_lock_parent(queue, &opts->parent_task_id);
		opts->parent_checked = true;	/* once, however many rounds */
	}
}

/*
 * One spawn of spawn_task's 1.1 semantics (inside SPI): an explicit key
 * wins over only_once, whose key is task_fingerprint(task_name, params);
 * neither creates a task.  spawn_tasks (bulk.c) calls it per element.
 */
void
dt_spawn_one(DtQueue *queue, const char *task_name, Jsonb *params,
			 bool only_once, const char *key, DtSpawnOptions *opts,
			 DtSpawnResult *res)
{
	if (key != NULL)
		dt_spawn_keyed(queue, task_name, params, opts, key, true, res);
	else if (only_once)
		dt_spawn_keyed(queue, task_name, params, opts,
					   dt_fingerprint(task_name, params), false, res);
	else
		dt_spawn_create(queue, task_name, params, opts, NULL, res);
}

/*
 * durable_tasks.spawn_task(queue_name text, task_name text,
 *		params jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
 * RETURNS TABLE (task_id uuid, run_id uuid, attempt integer, created boolean)
 *
 * The 1.0 entry point, kept for databases not yet updated to 1.1.  Inserts
 * one task row and one run row; takes no locks beyond the inserts'.
 */
Datum
dt_spawn_task(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	char	   *task_name;
	Jsonb	   *params;
	Jsonb	   *options;
	DtSpawnOptions opts;
	DtSpawnResult res;
	Datum		values[4];
	bool		nulls[4] = {0};

	dt_srf_init(fcinfo, &result_desc_1_0);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_PRODUCER);
	task_name = dt_arg_cstring(fcinfo, 1, "task_name", DT_TASK_NAME_MAXLEN);
	params = dt_arg_jsonb(fcinfo, 2, "params");
	options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	dt_parse_spawn_options(options, false, &opts);

	dt_spi_connect();
	dt_spawn_create(queue, task_name, params, &opts, NULL, &res);

	values[0] = UUIDPGetDatum(&res.task_id);
	values[1] = UUIDPGetDatum(&res.run_id);
	values[2] = Int32GetDatum(res.attempt);
	values[3] = BoolGetDatum(res.created);
	dt_put_row(fcinfo, values, nulls);
	dt_spi_finish();

	return (Datum) 0;
}

/*
 * durable_tasks.spawn_task(queue_name text, task_name text,
 *		params jsonb DEFAULT '{}', only_once boolean DEFAULT false,
 *		idempotency_key text DEFAULT NULL, options jsonb DEFAULT '{}')
 * RETURNS TABLE (task_id uuid, run_id uuid, attempt integer,
 *		created boolean, state text)
 *
 * The 1.1 entry point.  An explicit idempotency_key wins over only_once,
 * whose key is task_fingerprint(task_name, params).  Locks: the holder's
 * row when it releases a key from it, and the unique index entry of the
 * key while it inserts.
 */
Datum
dt_spawn_task_1_1(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	char	   *task_name;
	Jsonb	   *params;
	Jsonb	   *options;
	char	   *key = NULL;
	DtSpawnOptions opts;
	DtSpawnResult res;
	Datum		values[5];
	bool		nulls[5] = {0};

	dt_srf_init(fcinfo, &result_desc_1_1);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_PRODUCER);
	task_name = dt_arg_cstring(fcinfo, 1, "task_name", DT_TASK_NAME_MAXLEN);
	params = dt_arg_jsonb(fcinfo, 2, "params");
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("only_once must not be null")));
	if (!PG_ARGISNULL(4))
		key = dt_arg_cstring(fcinfo, 4, "idempotency_key",
							 DT_IDEMPOTENCY_KEY_MAXLEN);
	options = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5);
	dt_parse_spawn_options(options, true, &opts);

	dt_spi_connect();

	dt_spawn_one(queue, task_name, params, PG_GETARG_BOOL(3), key, &opts, &res);

	values[0] = UUIDPGetDatum(&res.task_id);
	values[1] = UUIDPGetDatum(&res.run_id);
	values[2] = Int32GetDatum(res.attempt);
	values[3] = BoolGetDatum(res.created);
	values[4] = CStringGetTextDatum(res.state);
	dt_put_row(fcinfo, values, nulls);
	dt_spi_finish();

	return (Datum) 0;
}
