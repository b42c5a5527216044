/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The per-backend queue cache: kept SPI plans and queue settings.
 *
 * A DtQueue entry exists per queue name this backend has used.  It holds
 * the queue's SPI plans, each prepared on first use from a DtPlanDef and
 * kept (SPI_keepplan) for the life of the backend; the plan cache re-plans
 * them by itself after DDL on the queue's tables, so the entry never needs
 * to be rebuilt.  It also caches the queue's deduplication defaults read
 * from durable_tasks.queues; a trigger on that table sends a relcache
 * invalidation for it (dt_registry_changed), and our callback marks every
 * cached policy stale.
 *
 * Queue existence is checked on every call with syscache lookups (schema,
 * table t_<queue>, its kind), so a dropped queue is reported as such rather
 * than as a missing relation.  The entry also caches where keyprobe.c
 * finds a key's holder, dropped by the same callback when the task table
 * or its key index changes.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_check_queue);
PG_FUNCTION_INFO_V1(dt_registry_changed);

static HTAB *queue_cache = NULL;
static Oid	registry_relid = InvalidOid;

/* bumped by every invalidation of the registry (see dt_queue_policy) */
static uint64 registry_generation = 0;

static void dt_queue_relcache_callback(Datum arg, Oid relid);

void
dt_queue_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(DtQueue);
	queue_cache = hash_create("durable_tasks queue cache", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS);
	CacheRegisterRelcacheCallback(dt_queue_relcache_callback, (Datum) 0);
}

/*
 * Relcache invalidation callback: a change to durable_tasks.queues (or a
 * full cache reset) makes every cached queue policy stale; a change to a
 * queue's task table or key index, its probe layout.
 */
static void
dt_queue_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	DtQueue    *queue;

	if (relid == InvalidOid || relid == registry_relid)
		registry_generation++;

	hash_seq_init(&status, queue_cache);
	while ((queue = hash_seq_search(&status)) != NULL)
	{
		if (relid == InvalidOid || relid == registry_relid)
			queue->policy_valid = false;
		if (relid == InvalidOid || relid == queue->probe.task_relid ||
			relid == queue->probe.index_relid)
			queue->probe.task_relid = InvalidOid;
	}
}

/*
 * The OID of the queue's task table, or InvalidOid.  Syscache lookups only.
 */
static Oid
dt_queue_relid(const char *queue_name)
{
	Oid			nspid = get_namespace_oid(DT_SCHEMA, true);
	char		relname[NAMEDATALEN];
	Oid			relid;

	if (!OidIsValid(nspid))
		return InvalidOid;
	snprintf(relname, sizeof(relname), "t_%s", queue_name);
	relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return InvalidOid;
	return relid;
}

/*
 * Raise 22023 for a bad name, 42704 (if must_exist) for a missing queue.
 * Returns the task table's OID (InvalidOid if missing and !must_exist).
 */
static Oid
dt_queue_check(const char *queue_name, bool must_exist)
{
	Oid			relid;

	dt_check_queue_name(queue_name);
	relid = must_exist ? dt_queue_relid(queue_name) : InvalidOid;
	if (must_exist && !OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue_name),
				 errhint("Create it with durable_tasks.create_queue('%s').",
						 queue_name)));
	return relid;
}

/*
 * The queue named by argument argno: validated, existing, with its cache
 * entry.
 */
DtQueue *
dt_queue_open(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = dt_arg_cstring(fcinfo, argno, "queue_name",
									  DT_QUEUE_NAME_MAXLEN + 1);
	Oid			relid = dt_queue_check(name, true);
	DtQueue    *queue;
	bool		found;

	queue = hash_search(queue_cache, name, HASH_ENTER, &found);
	if (!found)
	{
		/* hash_search does not zero new entries: everything after the key */
		memset((char *) queue + offsetof(DtQueue, task_relid), 0,
			   sizeof(DtQueue) - offsetof(DtQueue, task_relid));
	}
	queue->task_relid = relid;
	return queue;
}

/*
 * def->sql with {tasks} and {runs} replaced by the queue's qualified,
 * quoted table names.
 */
static char *
dt_plan_sql(DtQueue *queue, const char *template)
{
	char		tname[NAMEDATALEN + 8];
	char		rname[NAMEDATALEN + 8];
	const char *tasks;
	const char *runs;
	StringInfoData buf;
	const char *p = template;

	snprintf(tname, sizeof(tname), "t_%s", queue->name);
	snprintf(rname, sizeof(rname), "r_%s", queue->name);
	tasks = quote_qualified_identifier(DT_SCHEMA, tname);
	runs = quote_qualified_identifier(DT_SCHEMA, rname);

	initStringInfo(&buf);
	while (*p)
	{
		if (strncmp(p, "{tasks}", 7) == 0)
		{
			appendStringInfoString(&buf, tasks);
			p += 7;
		}
		else if (strncmp(p, "{runs}", 6) == 0)
		{
			appendStringInfoString(&buf, runs);
			p += 6;
		}
		else
			appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

/*
 * The kept plan for def on this queue, prepared on first use.
 */
SPIPlanPtr
dt_queue_plan(DtQueue *queue, const DtPlanDef *def)
{
	char	   *sql;
	SPIPlanPtr	plan;

	if (queue->plans[def->id] != NULL)
		return queue->plans[def->id];

	sql = dt_plan_sql(queue, def->sql);
	plan = SPI_prepare(sql, def->nargs, (Oid *) def->argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	pfree(sql);

	queue->plans[def->id] = plan;
	return plan;
}

/*
 * elog(ERROR) unless an SPI call returned what we expected.  Errors a user
 * can cause are raised by the statements themselves; this is for
 * can't-happen results.
 */
void
dt_spi_check(int ret, int expected, const char *what)
{
	if (ret != expected)
		elog(ERROR, "SPI failed while %s: %s", what,
			 SPI_result_code_string(ret));
}

/*
 * The queue's deduplication defaults (registry columns added in 1.1),
 * cached until durable_tasks.queues changes.  Must be called inside SPI.
 */
const DtDedupPolicy *
dt_queue_policy(DtQueue *queue)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *reuse;
	uint64		generation;
	int			ret;

	if (queue->policy_valid)
		return &queue->policy;

	if (plan == NULL)
	{
		plan = SPI_prepare("SELECT q.key_reuse, q.dedup_ttl_seconds, "
						   "q.on_params_mismatch "
						   "FROM durable_tasks.queues q "
						   "WHERE q.queue_name OPERATOR(pg_catalog.=) $1",
						   1, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the queue policy query: %s",
				 SPI_result_code_string(SPI_result));
	}

	/*
	 * Read the latest committed settings, not the caller's snapshot (under
	 * REPEATABLE READ that could predate an alter_queue whose invalidation
	 * we have already processed).  If an invalidation arrives while we
	 * read, use what we read for this call but do not cache it.  The
	 * callback recognises the registry by registry_relid.
	 */
	registry_relid = get_relname_relid("queues",
									   get_namespace_oid(DT_SCHEMA, false));
	generation = registry_generation;
	args[0] = CStringGetTextDatum(queue->name);
	ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading the queue registry");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" is not registered in durable_tasks.queues",
						queue->name)));

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	reuse = SPI_getvalue(tup, desc, 1);
	if (strcmp(reuse, "after_finish") == 0)
		queue->policy.key_reuse = DT_KEY_REUSE_AFTER_FINISH;
	else if (strcmp(reuse, "never") == 0)
		queue->policy.key_reuse = DT_KEY_REUSE_NEVER;
	else
		queue->policy.key_reuse = DT_KEY_REUSE_AFTER_FAILURE;

	d = SPI_getbinval(tup, desc, 2, &isnull);
	queue->policy.has_ttl = !isnull;
	queue->policy.dedup_ttl_seconds = isnull ? 0 : DatumGetInt32(d);

	queue->policy.mismatch_error =
		strcmp(SPI_getvalue(tup, desc, 3), "error") == 0;

	queue->policy_valid = generation == registry_generation;
	return &queue->policy;
}

/*
 * durable_tasks.check_queue(queue_name text, must_exist boolean DEFAULT true)
 * RETURNS void
 *
 * The queue-name check of the C entry points, for the SQL functions.
 */
Datum
dt_check_queue(PG_FUNCTION_ARGS)
{
	char	   *name = dt_arg_cstring(fcinfo, 0, "queue_name",
									  DT_QUEUE_NAME_MAXLEN + 1);
	bool		must_exist = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);

	dt_queue_check(name, must_exist);
	PG_RETURN_VOID();
}

/*
 * Statement trigger on durable_tasks.queues: tell every backend that the
 * queue defaults changed (delivered at commit).
 */
Datum
dt_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "dt_registry_changed: not called by trigger manager");

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
