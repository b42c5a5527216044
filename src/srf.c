/*-------------------------------------------------------------------------
 *
 * srf.c
 *	  Materialized results of the set-returning SQL functions.
 *
 * Each entry point has one SQL signature, so its result descriptor is
 * built from the catalogs once per backend and kept (TopMemoryContext);
 * rows go into a tuplestore in the query's per-query memory.  No locks.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/srf.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "durable_tasks.h"

/*
 * Set up a materialized set-returning call (must come before SPI_connect).
 * Like InitMaterializedSRF(), but the result descriptor is built from the
 * catalogs once per backend and entry point (*cache, in TopMemoryContext)
 * rather than on every call: each entry point has one SQL signature.
 */
void
dt_srf_init(FunctionCallInfo fcinfo, TupleDesc *cache)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	if (*cache == NULL)
	{
		TupleDesc	desc;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		*cache = CreateTupleDescCopy(desc);
		MemoryContextSwitchTo(oldcxt);
	}

	/* the executor frees setDesc: hand it a copy */
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult =
		tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
							  false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(*cache);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Append every row of SPI_tuptable to the result of a materialized
 * set-returning function; the query's columns are the function's.
 */
void
dt_put_spi_rows(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (uint64 i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
}

/*
 * Append one row to the result of a materialized set-returning function.
 * dt_srf_init() must have been called, before SPI_connect().
 */
void
dt_put_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}
