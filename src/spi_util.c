/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *	  SPI connection under a fixed search_path, as the extension's owner,
 *	  SPI result checks, and the snapshot a statement would take (for the
 *	  index probes that run no SQL).
 *
 * Every module that runs SQL connects through dt_spi_connect(), so that
 * the caller's search_path can neither redirect a statement nor make the
 * plan cache re-analyze a kept plan, and so that the statements run as the
 * extension's owner, who alone has privileges on the queue tables (acl.c
 * checked the caller's privilege on the queue before).  The user id is
 * switched as ri_triggers.c does, in a security-restricted operation, by
 * the outermost connection only, and given back by dt_spi_finish(); a
 * (sub)transaction abort restores it, and the callbacks below give our
 * nesting depth back to what it was when the aborted (sub)transaction
 * started.  No locks of its own.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/spi_util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "durable_tasks.h"

/* nesting depth of dt_spi_connect, and the caller's identity at depth 0 */
static int	spi_depth = 0;
static Oid	saved_userid = InvalidOid;
static int	saved_sec_context = 0;

/*
 * The depth at the start of each open subtransaction, innermost last: a
 * subtransaction that aborts inside our SQL (user code with an EXCEPTION
 * block called from a statement of ours) gives back the depth it started
 * at, not 0, so the outer dt_spi_finish still restores the caller.
 */
typedef struct DtSubxactDepth
{
	SubTransactionId subid;
	int			depth;
} DtSubxactDepth;

static DtSubxactDepth *subxact_depths = NULL;
static int	nsubxacts = 0;
static int	maxsubxacts = 0;

static void
dt_spi_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	nsubxacts = 0;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		spi_depth = 0;
}

static void
dt_spi_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid pg_attribute_unused(),
						void *arg pg_attribute_unused())
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (nsubxacts == maxsubxacts)
			{
				maxsubxacts = Max(16, maxsubxacts * 2);
				subxact_depths = subxact_depths == NULL ?
					MemoryContextAlloc(TopMemoryContext,
									   maxsubxacts * sizeof(DtSubxactDepth)) :
					repalloc(subxact_depths, maxsubxacts * sizeof(DtSubxactDepth));
			}
			subxact_depths[nsubxacts].subid = mySubid;
			subxact_depths[nsubxacts].depth = spi_depth;
			nsubxacts++;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			if (nsubxacts > 0 && subxact_depths[nsubxacts - 1].subid == mySubid)
			{
				nsubxacts--;
				if (event == SUBXACT_EVENT_ABORT_SUB)
					spi_depth = subxact_depths[nsubxacts].depth;
			}
			break;
		default:
			break;
	}
}

void
dt_spi_init(void)
{
	RegisterXactCallback(dt_spi_xact_callback, NULL);
	RegisterSubXactCallback(dt_spi_subxact_callback, NULL);
}

/*
 * Connect to SPI with search_path set to pg_catalog alone until
 * dt_spi_finish().  Every SQL text we run is fully qualified; the fixed
 * path keeps the caller's search_path out of it and, above all, lets the
 * kept plans be reused whatever search_path the caller has: the plan cache
 * re-analyzes a plan whenever the active search_path differs from the one
 * it was prepared under.  An error pops the path at (sub)transaction end.
 */
void
dt_spi_connect(void)
{
	static OverrideSearchPath catalog_only = {NIL, true, false, 0};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushOverrideSearchPath(&catalog_only);
	if (spi_depth++ == 0)
	{
		Oid			owner = dt_acl_run_as();

		GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
		if (OidIsValid(owner))
			SetUserIdAndSecContext(owner, saved_sec_context |
								   SECURITY_LOCAL_USERID_CHANGE |
								   SECURITY_RESTRICTED_OPERATION);
	}
}

/*
 * The role that called our function, also while its SQL runs as the
 * extension's owner.
 */
Oid
dt_caller_userid(void)
{
	return spi_depth > 0 ? saved_userid : GetUserId();
}

void
dt_spi_finish(void)
{
	Assert(spi_depth > 0);
	if (--spi_depth == 0)
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
	PopOverrideSearchPath();
	SPI_finish();
}

/*
 * Push the snapshot a statement run through SPI now would take, for the
 * probes that read an index without SPI (keyprobe.c, leaseprobe.c): this
 * transaction's earlier changes made visible, then under READ COMMITTED
 * a new snapshot, under REPEATABLE READ and SERIALIZABLE the
 * transaction's.  The caller pops it (PopActiveSnapshot).
 */
void
dt_push_statement_snapshot(void)
{
	CommandCounterIncrement();
	if (IsolationUsesXactSnapshot())
	{
		PushCopiedSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
	}
	else
		PushActiveSnapshot(GetLatestSnapshot());
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
