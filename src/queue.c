/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Queue lookup and the per-backend queue cache.
 *
 * Every call names its queue.  dt_queue_open() resolves the name to the
 * OID of the task table t_<queue> and locks it, as RangeVarGetRelidExtended
 * does: lock, then look the name up again if invalidations arrived while
 * we waited, so a queue dropped (or dropped and created again) while we
 * waited is seen as it is when we hold the lock.  Holding that lock, the
 * queue cannot be dropped under us until the end of the transaction, and
 * the kept plans find the same tables by name.  A missing queue is 42704,
 * never a missing relation.
 *
 * The cache entry (DtQueue) is keyed by the task table's OID, never by
 * name.  It holds what layout.c checked (the run table, the key index,
 * column numbers) and the queue's settings read from the registry
 * durable_tasks.queues with the latest committed snapshot.  A relcache
 * callback marks an entry stale when its task table, run table or key
 * index changes (or on a cache reset), and marks every entry's settings
 * stale when the registry changes (a statement trigger on it sends that
 * invalidation, see admin.c).  dt_queue_open() accepts pending
 * invalidations on every call, so a change committed by another session
 * is seen by the next statement even inside an open transaction.
 *
 * A stale entry is checked again when it is opened again, and keeps its
 * plans (an ANALYZE of a busy queue costs nothing).  An entry whose table
 * is gone is removed, and its plans freed (plans.c), by the next call of
 * any of our functions and at the end of drop_queue: a backend that used
 * and dropped many queues keeps nothing of them.  That sweep runs before
 * anything else of the call, inside a transaction (it looks at the
 * catalogs), and frees only plans of relations that no longer exist,
 * which no statement up the stack can be running.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/tablecmds.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

static HTAB *queue_cache = NULL;

/* the registry's OID as last seen (InvalidOid: look it up again) */
static Oid	registry_relid = InvalidOid;

/* bumped by every invalidation of the registry (see dt_queue_read_registry) */
static uint64 registry_generation = 0;

/* bumped by every relcache invalidation (see dt_queue_open_name) */
static uint64 layout_generation = 0;

/* entries marked stale since the last sweep */
static bool sweep_needed = false;

static void dt_queue_relcache_callback(Datum arg, Oid relid);

void
dt_queue_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DtQueue);
	queue_cache = hash_create("durable_tasks queue cache", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(dt_queue_relcache_callback, (Datum) 0);
	dt_plans_init();
}

/*
 * Relcache invalidation callback.  Only marks entries; nothing is freed
 * here (a plan of the entry may be running).
 */
static void
dt_queue_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	DtQueue    *queue;
	bool		registry = relid == InvalidOid || relid == registry_relid;

	layout_generation++;
	if (registry)
	{
		registry_generation++;
		registry_relid = InvalidOid;
	}

	hash_seq_init(&status, queue_cache);
	while ((queue = hash_seq_search(&status)) != NULL)
	{
		if (registry)
			queue->registry_valid = false;
		if (relid == InvalidOid || relid == queue->task_relid ||
			relid == queue->run_relid || relid == queue->key_index ||
			relid == queue->ckpt_relid || relid == queue->due_index ||
			relid == queue->event_relid || relid == queue->wait_relid ||
			relid == queue->lease_index)
		{
			queue->valid = false;
			sweep_needed = true;
		}
	}
}

static bool
dt_queue_is_dead(Oid task_relid)
{
	DtQueue    *queue = hash_search(queue_cache, &task_relid, HASH_FIND, NULL);

	return queue == NULL || queue->dead;
}

/*
 * Is the stale entry's task table gone (dropped, or its OID now names
 * another relation)?
 */
static bool
dt_queue_table_gone(DtQueue *queue)
{
	char		relname[NAMEDATALEN];
	char	   *current = get_rel_name(queue->task_relid);

	snprintf(relname, sizeof(relname), "t_%s", queue->name);
	return current == NULL || strcmp(current, relname) != 0;
}

/*
 * Remove the entries of queues whose task table is gone, and free their
 * plans.  Inside a transaction, before the call does anything else.
 */
void
dt_queue_sweep(void)
{
	HASH_SEQ_STATUS status;
	DtQueue    *queue;
	bool		any = false;

	if (!sweep_needed)
		return;
	sweep_needed = false;

	hash_seq_init(&status, queue_cache);
	while ((queue = hash_seq_search(&status)) != NULL)
	{
		queue->dead = !queue->valid && dt_queue_table_gone(queue);
		any |= queue->dead;
	}
	if (!any)
		return;

	dt_plans_sweep(dt_queue_is_dead);
	hash_seq_init(&status, queue_cache);
	while ((queue = hash_seq_search(&status)) != NULL)
		if (queue->dead)
			hash_search(queue_cache, &queue->task_relid, HASH_REMOVE, NULL);
}

/*
 * Does durable_tasks.queues have a row for the queue?  Reads the latest
 * committed state (and this transaction's own changes).  Only used on
 * error paths and by create_queue, so the plan is not kept.
 */
bool
dt_registry_has(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		found;
	int			ret;

	SPIPlanPtr	plan;

	dt_spi_connect();
	CommandCounterIncrement();
	plan = SPI_prepare("SELECT 1 FROM durable_tasks.queues q "
					   "WHERE q.queue_name OPERATOR(pg_catalog.=) $1",
					   1, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the queue registry query: %s",
			 SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
							   InvalidSnapshot, true, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "reading the queue registry");
	found = SPI_processed > 0;
	SPI_freeplan(plan);
	dt_spi_finish();
	return found;
}

/*
 * The queue's table durable_tasks.<missing> does not exist: 42704, with a
 * word on what is left of the queue.  partial: its other table exists.
 */
void
dt_queue_missing_error(const char *name, const char *missing, bool partial)
{
	if (!partial && !dt_registry_has(name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name),
				 errhint("Create it with durable_tasks.create_queue('%s').", name)));
	if (partial)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" has no tables", name),
				 errdetail("durable_tasks.queues has a row for it, but table durable_tasks.%s is missing.",
						   missing),
				 errhint("Run durable_tasks.drop_queue('%s') to remove what is left of it, then durable_tasks.create_queue('%s').",
						 name, name)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("queue \"%s\" has no tables", name),
			 errdetail("durable_tasks.queues has a row for it, but table durable_tasks.%s is missing.",
					   missing),
			 errhint("Run durable_tasks.create_queue('%s') to recreate its tables, or durable_tasks.drop_queue('%s') to remove it.",
					 name, name)));
}

/* Column att of the registry row as a string, or dflt (missing, NULL). */
static const char *
dt_registry_text(HeapTuple tuple, TupleDesc desc, AttrNumber att,
				 const char *dflt)
{
	bool		isnull;
	Datum		value;

	if (att == InvalidAttrNumber)
		return dflt;
	value = heap_getattr(tuple, att, desc, &isnull);
	return isnull ? dflt : TextDatumGetCString(value);
}

/*
 * Read the queue's row of the registry into queue->policy, with the
 * latest committed snapshot (under REPEATABLE READ the transaction's
 * snapshot could predate an alter_queue whose invalidation we already
 * processed), after CommandCounterIncrement (this transaction's own
 * changes count).  The row is read straight from the registry through its
 * primary key index, without SPI; AccessShareLock on the registry is kept
 * to the end of the transaction, as a SELECT would.  The settings columns
 * are found by name, so that a registry of any version can be read (1.0
 * has none: the defaults apply).  If an invalidation arrives while we
 * read, the result is used for this call but not kept.
 */
static void
dt_queue_read_registry(DtQueue *queue)
{
	uint64		generation;
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	name_att;
	AttrNumber	reuse_att;
	AttrNumber	ttl_att;
	AttrNumber	mismatch_att;
	Oid			collation;
	Oid			pkindex;
	bool		index_ok = false;
	ScanKeyData key;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	const char *reuse;

	if (!OidIsValid(registry_relid))
		registry_relid = get_relname_relid(DT_REGISTRY,
										   get_namespace_oid(DT_SCHEMA, false));
	if (!OidIsValid(registry_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						DT_SCHEMA, DT_REGISTRY)));
	generation = registry_generation;
	rel = table_open(registry_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	name_att = dt_rel_column(rel, "queue_name", TEXTOID, false);
	reuse_att = dt_rel_column(rel, "key_reuse", TEXTOID, true);
	ttl_att = dt_rel_column(rel, "dedup_ttl_seconds", INT4OID, true);
	mismatch_att = dt_rel_column(rel, "on_params_mismatch", TEXTOID, true);
	collation = TupleDescAttr(desc, name_att - 1)->attcollation;

	/* the primary key on (queue_name), compared as it compares */
	pkindex = RelationGetPrimaryKeyIndex(rel);
	if (OidIsValid(pkindex))
	{
		Relation	idx = index_open(pkindex, AccessShareLock);

		index_ok = idx->rd_rel->relam == BTREE_AM_OID &&
			idx->rd_index->indnkeyatts == 1 &&
			idx->rd_index->indkey.values[0] == name_att &&
			idx->rd_indcollation[0] == collation;
		index_close(idx, NoLock);
	}
	ScanKeyEntryInitialize(&key, 0, name_att, BTEqualStrategyNumber,
						   InvalidOid, collation, F_TEXTEQ,
						   CStringGetTextDatum(queue->name));

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, pkindex, index_ok, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" is not registered", queue->name),
				 errdetail("Its tables durable_tasks.t_%s and durable_tasks.r_%s exist, but durable_tasks.queues has no row for it.",
						   queue->name, queue->name),
				 errhint("Run durable_tasks.create_queue('%s') to register the existing tables, or durable_tasks.drop_queue('%s') to drop them.",
						 queue->name, queue->name)));

	reuse = dt_registry_text(tuple, desc, reuse_att, "after_failure");
	if (strcmp(reuse, "after_finish") == 0)
		queue->policy.key_reuse = DT_KEY_REUSE_AFTER_FINISH;
	else if (strcmp(reuse, "never") == 0)
		queue->policy.key_reuse = DT_KEY_REUSE_NEVER;
	else
		queue->policy.key_reuse = DT_KEY_REUSE_AFTER_FAILURE;

	queue->policy.has_ttl = false;
	queue->policy.dedup_ttl_seconds = 0;
	if (ttl_att != InvalidAttrNumber)
	{
		bool		isnull;
		Datum		ttl = heap_getattr(tuple, ttl_att, desc, &isnull);

		queue->policy.has_ttl = !isnull;
		queue->policy.dedup_ttl_seconds = isnull ? 0 : DatumGetInt32(ttl);
	}
	queue->policy.mismatch_error =
		strcmp(dt_registry_text(tuple, desc, mismatch_att, "ignore"),
			   "error") == 0;

	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);	/* kept to the end of the transaction */

	queue->registry_valid = generation == registry_generation;
}

/*
 * The queue's table <prefix><name>, resolved and locked in lockmode as
 * RangeVarGetRelidExtended does (InvalidOid if missing).  With owner, the
 * caller must own it, checked before the lock is taken (as DROP TABLE
 * does), so that no one else can queue an exclusive lock that every spawn
 * and claim would wait behind.
 */
Oid
dt_queue_relation(const char *prefix, const char *name, LOCKMODE lockmode,
				  bool owner)
{
	char		relname[NAMEDATALEN];

	snprintf(relname, sizeof(relname), "%s%s", prefix, name);
	return RangeVarGetRelidExtended(makeRangeVar(DT_SCHEMA, relname, -1),
									lockmode, RVR_MISSING_OK,
									owner ? RangeVarCallbackOwnsTable : NULL,
									NULL);
}

/*
 * The queue named name, its task table locked in lockmode, its entry
 * checked and its settings current.
 */
DtQueue *
dt_queue_open_name(const char *name, LOCKMODE lockmode)
{
	Oid			relid;
	DtQueue    *queue;
	bool		found;

	/* see changes other sessions committed, even if we hold our locks */
	AcceptInvalidationMessages();
	dt_queue_sweep();

	relid = dt_queue_relation("t_", name, lockmode, false);
	if (!OidIsValid(relid))
		dt_queue_missing_error(name, psprintf("t_%s", name), false);

	queue = hash_search(queue_cache, &relid, HASH_ENTER, &found);
	if (found && strcmp(queue->name, name) != 0)
		dt_plans_forget(relid); /* the OID was reused for another queue */
	if (!found || strcmp(queue->name, name) != 0)
	{
		memset((char *) queue + sizeof(Oid), 0, sizeof(DtQueue) - sizeof(Oid));
		strlcpy(queue->name, name, NAMEDATALEN);
	}
	if (!queue->valid)
	{
		/* an invalidation while we check means: check again next time */
		uint64		generation = layout_generation;

		dt_layout_check(queue);
		queue->valid = generation == layout_generation;
	}
	if (!queue->registry_valid)
		dt_queue_read_registry(queue);
	return queue;
}

/*
 * The queue named by argument argno, for a caller that has priv on it
 * (checked before anything is looked up or locked).
 */
DtQueue *
dt_queue_open(FunctionCallInfo fcinfo, int argno, LOCKMODE lockmode,
			  DtPriv priv)
{
	char	   *name = dt_arg_queue_name(fcinfo, argno);

	dt_acl_check(fcinfo, name, priv);
	return dt_queue_open_name(name, lockmode);
}

/*
 * The queue's deduplication defaults.
 */
const DtDedupPolicy *
dt_queue_policy(DtQueue *queue)
{
	return &queue->policy;
}
