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

#include "catalog/namespace.h"

#include "durable_tasks.h"

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
}

void
dt_spi_finish(void)
{
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
