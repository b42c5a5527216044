/*-------------------------------------------------------------------------
 *
 * durable_tasks.c
 *	  Module entry point of the durable_tasks extension.
 *
 * The extension needs no shared_preload_libraries: everything it keeps is
 * per backend (see queue.c).  _PG_init only dispatches to the modules'
 * init functions.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/durable_tasks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "durable_tasks.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	dt_spi_init();
	dt_acl_init();
	dt_queue_init();
	dt_claim_init();
	MarkGUCPrefixReserved("durable_tasks");
}
