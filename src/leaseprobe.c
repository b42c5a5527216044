/*-------------------------------------------------------------------------
 *
 * leaseprobe.c
 *	  Whether a queue has a lease for claim_task's sweep to expire, read
 *	  straight from the partial lease index ri_<queue>_lease.
 *
 * Every claim first sweeps expired leases (claim.c).  Nearly always there
 * are none, and the sweep's statement (a join of run and task, locking,
 * through SPI) then costs about as much executor set-up as the claim's
 * own statement.  So the sweep first asks this probe, which needs no SPI
 * and no plan: one btree range scan of the lease index for a run that is
 * running with claim_expires_at in [floor, now], under the snapshot the
 * sweep's statement would take (this transaction's changes made visible
 * first; READ COMMITTED: a new snapshot; REPEATABLE READ and
 * SERIALIZABLE: the transaction's).  Only when it finds one does the
 * sweep run its statement, which then decides, under its own locks,
 * what to expire.
 *
 * The probe errs one way only: it may report a lease that the statement
 * then does not expire (the run's task row is gone, another worker holds
 * it locked, it is completed by a transaction that commits meanwhile),
 * never the other way round: the statement's candidates are among the
 * index entries in the range whose tuple is visible and running, under a
 * snapshot taken just after the probe's.  (A lease that a transaction
 * committing between the two snapshots makes expire is one the statement
 * would have missed had it run a moment earlier: it is swept by the next
 * claim, as a late commit is.)  An index with indcheckxmin that is too
 * new for our snapshot is not read.  The index's definition is checked
 * by layout.c (column, operator class, predicate); a queue whose index is
 * not the layout's has none recorded, and its claims always run the
 * statement.  So does a caller that may not read the run table, or one
 * with row-level security on it: the statement then raises what it
 * raises.
 *
 * Locks: RowExclusiveLock on the run table (the claim's own lock on it,
 * taken by the probe first) and AccessShareLock on the index, kept to the
 * end of the transaction.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/leaseprobe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

/*
 * Is a visible tuple of the scan's first few running, and due to expire?
 * The tuple of an index entry in range holds the key (claim_expires_at
 * is indexed, so no HOT update changes it, nor state, the predicate's
 * column); both are checked again all the same.
 */
static bool
dt_lease_scan(DtQueue *queue, Relation rel, Relation idx, TimestampTz floor,
			  TimestampTz now)
{
	ScanKeyData skeys[2];
	int			nkeys = 0;
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = false;

	if (floor != DT_NOBEGIN)
		ScanKeyInit(&skeys[nkeys++], 1, BTGreaterEqualStrategyNumber,
					F_TIMESTAMPTZ_GE, TimestampTzGetDatum(floor));
	ScanKeyInit(&skeys[nkeys++], 1, BTLessEqualStrategyNumber,
				F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now));

	scan = index_beginscan(rel, idx, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skeys, nkeys, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		state = slot_getattr(slot,
										 queue->attnums[DT_COL_RUN_STATE],
										 &isnull);
		Datum		expires;
		const char *running = dt_state_name(DT_RUNNING);
		text	   *t;

		if (isnull)
			continue;
		t = DatumGetTextPP(state);
		if (VARSIZE_ANY_EXHDR(t) != strlen(running) ||
			memcmp(VARDATA_ANY(t), running, strlen(running)) != 0)
			continue;
		expires = slot_getattr(slot,
							   queue->attnums[DT_COL_RUN_CLAIM_EXPIRES_AT],
							   &isnull);
		found = !isnull && DatumGetTimestampTz(expires) <= now &&
			(floor == DT_NOBEGIN || DatumGetTimestampTz(expires) >= floor);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/*
 * May the queue hold a running run whose lease ended in [floor, now]
 * (floor DT_NOBEGIN: at or before now)?  False only if it does not.
 */
bool
dt_leases_may_expire(DtQueue *queue, TimestampTz floor, TimestampTz now)
{
	Relation	rel;
	Relation	idx;
	bool		found;

	if (!OidIsValid(queue->lease_index) ||
		pg_class_aclcheck(queue->run_relid, GetUserId(),
						  ACL_SELECT) != ACLCHECK_OK)
		return true;

	/*
	 * The lock processes invalidations: an index dropped or replaced since
	 * the layout check marks the entry stale (see dt_queue_open_name).
	 */
	rel = table_open(queue->run_relid, RowExclusiveLock);
	if (!queue->valid ||
		(rel->rd_rel->relrowsecurity &&
		 check_enable_rls(queue->run_relid, InvalidOid, true) == RLS_ENABLED))
	{
		table_close(rel, NoLock);
		return true;
	}
	idx = index_open(queue->lease_index, AccessShareLock);

	/* the snapshot the sweep's statement would take (see the header) */
	dt_push_statement_snapshot();
	/*
	 * An index built while broken HOT chains existed is not for snapshots
	 * older than it (the planner's indcheckxmin rule): let the statement
	 * decide.
	 */
	if (idx->rd_index->indcheckxmin &&
		!TransactionIdPrecedes(HeapTupleHeaderGetXmin(idx->rd_indextuple->t_data),
							   TransactionXmin))
		found = true;
	else
		found = dt_lease_scan(queue, rel, idx, floor, now);
	PopActiveSnapshot();

	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return found;
}
