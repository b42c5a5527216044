/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *	  SPI connection under a fixed search_path, and SPI result checks.
 *
 * Every module that runs SQL connects through dt_spi_connect(), so that
 * the caller's search_path can neither redirect a statement nor make the
 * plan cache re-analyze a kept plan.  No locks of its own.
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

#include "durable_tasks.h"

/* nesting depth of dt_spi_connect, and the caller's identity at depth 0 */
static int	spi_depth = 0;
static Oid	saved_userid = InvalidOid;
static int	saved_sec_context = 0;

static void
dt_spi_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		spi_depth = 0;
}

static void
dt_spi_subxact_callback(SubXactEvent event,
						SubTransactionId mySubid pg_attribute_unused(),
						SubTransactionId parentSubid pg_attribute_unused(),
						void *arg pg_attribute_unused())
{
	/* none of our calls runs a subtransaction: an abort ends the call */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		spi_depth = 0;
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
	if (--spi_depth == 0)
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
	PopOverrideSearchPath();
	SPI_finish();
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
