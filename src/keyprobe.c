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
 * Snapshots.  Every probe first makes this transaction's own earlier
 * changes visible (CommandCounterIncrement), then reads under READ
 * COMMITTED with the latest snapshot, so that many spawns of one key in
 * one statement behave as they would in separate statements; under
 * REPEATABLE READ and SERIALIZABLE it reads with the transaction snapshot
 * (a conflict outside it is 40001, raised by the insert).
 *
 * A holder that another transaction is deleting, or updating so that it
 * no longer holds the key (a release), is not a hit: as INSERT ... ON
 * CONFLICT would, the probe waits for that transaction and looks again.
 * Updates that keep the key (claims, completions) and row locks do not
 * make it wait.  On a hot standby it does not wait (nothing there can
 * end the primary's transaction sooner) and answers from its snapshot.
 *
 * Locks: AccessShareLock on the table and the index, kept to the end of
 * the transaction, as a SELECT would.  The caller must have SELECT on the
 * task table; row-level security on it is refused rather than bypassed.
 * The scan key uses the index's collation, as the executor would.
 *
 * Column numbers and the index OID come from the queue entry, which
 * layout.c checked (types, the index's definition) under the same lock.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/keyprobe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

typedef enum DtProbeResult
{
	DT_PROBE_NONE,				/* no holder */
	DT_PROBE_HIT,				/* a holder, not being deleted or released */
	DT_PROBE_WAIT,				/* a holder another transaction is changing */
	DT_PROBE_AGAIN				/* a holder changed since our snapshot */
} DtProbeResult;

/*
 * Copy the holder's columns out of the slot.  params is copied only when
 * the caller will compare it.  Every column read here is NOT NULL and of
 * the type layout.c checked.
 */
static void
dt_probe_read(DtQueue *queue, TupleTableSlot *slot, bool want_params,
			  DtHolder *holder)
{
	AttrNumber *att = queue->attnums;
	bool		isnull;
	Datum		d;

	memcpy(&holder->task_id,
		   DatumGetUUIDP(slot_getattr(slot, att[DT_COL_TASK_ID], &isnull)),
		   sizeof(pg_uuid_t));
	holder->state = TextDatumGetCString(slot_getattr(slot, att[DT_COL_STATE],
													 &isnull));
	memcpy(&holder->last_run_id,
		   DatumGetUUIDP(slot_getattr(slot, att[DT_COL_LAST_RUN_ID], &isnull)),
		   sizeof(pg_uuid_t));
	holder->attempts = DatumGetInt32(slot_getattr(slot, att[DT_COL_ATTEMPTS],
												  &isnull));
	d = slot_getattr(slot, att[DT_COL_FINISHED_AT], &holder->finished_null);
	holder->finished_at = holder->finished_null ? 0 : DatumGetTimestampTz(d);
	holder->task_name = NULL;
	holder->params = NULL;
	if (want_params)
	{
		holder->task_name =
			TextDatumGetCString(slot_getattr(slot, att[DT_COL_TASK_NAME], &isnull));
		holder->params =
			DatumGetJsonbPCopy(slot_getattr(slot, att[DT_COL_PARAMS], &isnull));
	}
}

/*
 * Does the version of the holder at tid still hold the key?  (It is the
 * new version written by an update in progress.)
 */
static bool
dt_version_holds_key(DtQueue *queue, Relation rel, ItemPointer tid,
					 const char *key)
{
	HeapTupleData tuple;
	Buffer		buf;
	bool		holds = false;

	tuple.t_self = *tid;
	if (heap_fetch(rel, SnapshotAny, &tuple, &buf, false))
	{
		bool		isnull;
		Datum		d;

		(void) heap_getattr(&tuple, queue->attnums[DT_COL_KEY_RELEASED_AT],
							RelationGetDescr(rel), &isnull);
		if (isnull)
		{
			d = heap_getattr(&tuple, queue->attnums[DT_COL_IDEMPOTENCY_KEY],
							 RelationGetDescr(rel), &isnull);
			holds = !isnull && strcmp(TextDatumGetCString(d), key) == 0;
		}
		ReleaseBuffer(buf);
	}
	return holds;
}

/*
 * Is another transaction deleting the holder in the slot, or releasing
 * its key?  Sets *xwait to the transaction to wait for (DT_PROBE_WAIT),
 * or says it finished doing so after our snapshot (DT_PROBE_AGAIN).
 */
static DtProbeResult
dt_holder_changing(DtQueue *queue, Relation rel, TupleTableSlot *slot,
				   const char *key, TransactionId *xwait)
{
	BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;
	HeapTupleHeader htup;
	TransactionId xmax = InvalidTransactionId;
	ItemPointerData next;
	bool		deleting;

	LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
	htup = bslot->base.tuple->t_data;
	if (!(htup->t_infomask & HEAP_XMAX_INVALID) &&
		!HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask))
		xmax = HeapTupleHeaderGetUpdateXid(htup);
	next = htup->t_ctid;
	LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);

	if (!TransactionIdIsValid(xmax) || TransactionIdIsCurrentTransactionId(xmax))
		return DT_PROBE_HIT;

	deleting = ItemPointerEquals(&next, &bslot->base.tuple->t_self);
	if (!deleting && dt_version_holds_key(queue, rel, &next, key))
		return DT_PROBE_HIT;	/* an update that keeps the key */

	if (TransactionIdIsInProgress(xmax))
	{
		*xwait = xmax;
		return DT_PROBE_WAIT;
	}
	if (TransactionIdDidCommit(xmax))
		return DT_PROBE_AGAIN;
	return DT_PROBE_HIT;		/* the change was rolled back */
}

/*
 * One index scan for key.  The table and index are open and locked.
 */
static DtProbeResult
dt_probe_once(DtQueue *queue, Relation rel, Relation idx, const char *key,
			  bool want_params, DtHolder *holder, TransactionId *xwait)
{
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData skey;
	DtProbeResult result = DT_PROBE_NONE;

	dt_push_statement_snapshot();
	snapshot = GetActiveSnapshot();

	/* compare as the index does, with its collation */
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ,
						   CStringGetTextDatum(key));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		released_null;

		(void) slot_getattr(slot, queue->attnums[DT_COL_KEY_RELEASED_AT],
							&released_null);
		if (!released_null)
			continue;			/* cannot happen: the index predicate */
		result = RecoveryInProgress() ? DT_PROBE_HIT :
			dt_holder_changing(queue, rel, slot, key, xwait);
		if (result == DT_PROBE_HIT)
			dt_probe_read(queue, slot, want_params, holder);
		break;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	PopActiveSnapshot();

	if (result == DT_PROBE_AGAIN && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("The holder of idempotency key \"%s\" was deleted or released it after this transaction's snapshot was taken.",
						   key)));
	return result;
}

/*
 * Find the task holding key in queue; false if none.
 */
bool
dt_probe_key(DtQueue *queue, const char *key, bool want_params,
			 DtHolder *holder)
{
	Oid			relid = queue->task_relid;
	Relation	rel;
	Relation	idx;
	AclResult	aclresult;
	DtProbeResult result;

	if (!OidIsValid(queue->key_index))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" has no idempotency key index", queue->name),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE.")));

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));

	rel = table_open(relid, NoLock);	/* dt_queue_open locked it */
	if (rel->rd_rel->relrowsecurity &&
		check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on the tables of queue \"%s\" is not supported",
						queue->name),
				 errdetail("Deduplicated spawns read the idempotency key index directly.")));
	idx = index_open(queue->key_index, AccessShareLock);
	if (!idx->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"%s\" is not valid", RelationGetRelationName(idx)),
				 errhint("REINDEX it.")));

	for (;;)
	{
		TransactionId xwait = InvalidTransactionId;

		CHECK_FOR_INTERRUPTS();
		result = dt_probe_once(queue, rel, idx, key, want_params, holder,
							   &xwait);
		if (result == DT_PROBE_WAIT)
			XactLockTableWait(xwait, rel, NULL, XLTW_None);
		else if (result != DT_PROBE_AGAIN)
			break;
	}

	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return result == DT_PROBE_HIT;
}
