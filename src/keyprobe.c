/*-------------------------------------------------------------------------
 *
 * keyprobe.c
 *	  The holder of an idempotency key, read straight from the queue's
 *	  partial unique index ti_<queue>_ikey.
 *
 * This is the whole of a deduplicated spawn's hit path, so it does not go
 * through SPI and the executor: it opens the task table and the key index,
 * runs one btree equality scan under an MVCC snapshot and reads the few
 * columns spawn needs from the heap tuple.  The index only holds entries
 * of tasks whose key is held (its predicate is idempotency_key IS NOT NULL
 * AND key_released_at IS NULL; releasing a key is a non-HOT update whose
 * new version is not indexed), and we recheck the predicate on the tuple.
 *
 * Snapshots follow what SPI would do: the first probe of a spawn uses the
 * calling statement's snapshot; a probe after a conflicting insert makes
 * our own earlier changes visible (CommandCounterIncrement) and takes a new
 * snapshot, which in READ COMMITTED sees the transaction that won.
 *
 * Locks: AccessShareLock on the table and the index, kept to the end of
 * the transaction, as a SELECT would.  The caller must have SELECT on the
 * task table; row-level security on it is refused rather than bypassed.
 * The scan key uses the index's collation, as the executor would.
 *
 * Column numbers and the index OID are cached in the queue entry and
 * dropped by queue.c's relcache callback when the table changes.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/keyprobe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

/* the columns the probe reads, in DtProbeLayout.attnums order */
static const char *const probe_columns[DT_PROBE_NCOLUMNS] = {
	"task_id", "state", "last_run_id", "attempts", "finished_at",
	"task_name", "params", "key_released_at"
};

/*
 * Fill queue->probe for the task table relid: the key index's OID and the
 * column numbers.
 */
static void
dt_probe_layout(DtQueue *queue, Oid relid)
{
	DtProbeLayout *layout = &queue->probe;
	char		idxname[NAMEDATALEN + 8];
	Oid			nspid = get_rel_namespace(relid);

	snprintf(idxname, sizeof(idxname), "ti_%s_ikey", queue->name);
	layout->index_relid = get_relname_relid(idxname, nspid);
	if (!OidIsValid(layout->index_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" has no idempotency key index", queue->name),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE.")));

	for (int i = 0; i < DT_PROBE_NCOLUMNS; i++)
	{
		layout->attnums[i] = get_attnum(relid, probe_columns[i]);
		if (layout->attnums[i] == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of the task table of queue \"%s\" is missing",
				 probe_columns[i], queue->name);
	}
	layout->task_relid = relid;
}

/*
 * Copy the holder's columns out of the slot.  params is copied only when
 * the caller will compare it.
 */
static void
dt_probe_read(DtQueue *queue, TupleTableSlot *slot, bool want_params,
			  DtHolder *holder)
{
	AttrNumber *att = queue->probe.attnums;
	bool		isnull;
	Datum		d;

	memcpy(&holder->task_id, DatumGetUUIDP(slot_getattr(slot, att[0], &isnull)),
		   sizeof(pg_uuid_t));
	holder->state = TextDatumGetCString(slot_getattr(slot, att[1], &isnull));
	memcpy(&holder->last_run_id,
		   DatumGetUUIDP(slot_getattr(slot, att[2], &isnull)),
		   sizeof(pg_uuid_t));
	holder->attempts = DatumGetInt32(slot_getattr(slot, att[3], &isnull));
	d = slot_getattr(slot, att[4], &holder->finished_null);
	holder->finished_at = holder->finished_null ? 0 : DatumGetTimestampTz(d);
	holder->task_name = NULL;
	holder->params = NULL;
	if (want_params)
	{
		holder->task_name = TextDatumGetCString(slot_getattr(slot, att[5], &isnull));
		holder->params = DatumGetJsonbPCopy(slot_getattr(slot, att[6], &isnull));
	}
}

/*
 * Find the task holding key in queue.  first: the first probe of this
 * spawn (see the file header).
 */
bool
dt_probe_key(DtQueue *queue, const char *key, bool first, bool want_params,
			 DtHolder *holder)
{
	Oid			relid = queue->task_relid;
	Relation	rel;
	Relation	idx;
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData skey;
	AclResult	aclresult;
	bool		found = false;

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));

	/* locking may run the relcache callback: check the layout after it */
	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relrowsecurity &&
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on the tables of queue \"%s\" is not supported",
						queue->name),
				 errdetail("Deduplicated spawns read the idempotency key index directly.")));
	if (queue->probe.task_relid != relid)
		dt_probe_layout(queue, relid);
	idx = index_open(queue->probe.index_relid, AccessShareLock);
	if (!idx->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" is not valid", RelationGetRelationName(idx)),
				 errhint("REINDEX it.")));
	slot = table_slot_create(rel, NULL);

	if (!first)
		CommandCounterIncrement();
	snapshot = RegisterSnapshot(first ? GetActiveSnapshot() :
								GetTransactionSnapshot());

	/* compare as the index does, with its collation */
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ,
						   CStringGetTextDatum(key));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		released_null;

		(void) slot_getattr(slot, queue->probe.attnums[7], &released_null);
		if (!released_null)
			continue;			/* cannot happen: the index predicate */
		dt_probe_read(queue, slot, want_params, holder);
		found = true;
		break;
	}
	index_endscan(scan);

	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	UnregisterSnapshot(snapshot);
	return found;
}
