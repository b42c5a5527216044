/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Argument checks shared by every SQL-callable function.
 *
 * The SQL functions are not STRICT: a NULL where a value is required gets
 * an error naming the argument (SQLSTATE 22004) instead of a silent NULL
 * result.  Queue names are validated here before any SQL is built from
 * them.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/args.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "funcapi.h"
#include "nodes/execnodes.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "durable_tasks.h"

/*
 * Raise 22023 unless queue_name matches ^[a-z][a-z0-9_]{0,47}$.
 */
void
dt_check_queue_name(const char *queue_name)
{
	size_t		len = strlen(queue_name);
	bool		ok = len >= 1 && len <= DT_QUEUE_NAME_MAXLEN &&
		queue_name[0] >= 'a' && queue_name[0] <= 'z';

	for (size_t i = 1; ok && i < len; i++)
	{
		char		c = queue_name[i];

		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
	}

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid queue name \"%s\"", queue_name),
				 errdetail("A queue name is 1 to %d characters: a lower-case letter, then lower-case letters, digits or underscores.",
						   DT_QUEUE_NAME_MAXLEN)));
}

static void
dt_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
}

/*
 * A required, non-empty text argument of at most maxlen bytes, as a C string.
 */
char *
dt_arg_cstring(FunctionCallInfo fcinfo, int argno, const char *argname,
			   int maxlen)
{
	text	   *t;
	int			len;

	dt_arg_not_null(fcinfo, argno, argname);
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname)));
	if (len > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", argname),
				 errdetail("%s is %d bytes; the limit is %d bytes.",
						   argname, len, maxlen)));
	return text_to_cstring(t);
}

Jsonb *
dt_arg_jsonb(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	dt_arg_not_null(fcinfo, argno, argname);
	return PG_GETARG_JSONB_P(argno);
}

pg_uuid_t *
dt_arg_uuid(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	dt_arg_not_null(fcinfo, argno, argname);
	return PG_GETARG_UUID_P(argno);
}

int32
dt_arg_int32(FunctionCallInfo fcinfo, int argno, const char *argname,
			 int32 min, int32 max)
{
	int32		v;

	dt_arg_not_null(fcinfo, argno, argname);
	v = PG_GETARG_INT32(argno);
	if (v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", argname, min, max),
				 errdetail("The value given was %d.", v)));
	return v;
}

/*
 * Is a task or run state terminal (completed, failed, cancelled)?
 */
bool
dt_state_is_terminal(const char *state)
{
	return strcmp(state, "completed") == 0 ||
		strcmp(state, "failed") == 0 ||
		strcmp(state, "cancelled") == 0;
}

/*
 * Text form of a uuid, for messages.
 */
char *
dt_uuid_str(pg_uuid_t *uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
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
}

void
dt_spi_finish(void)
{
	PopOverrideSearchPath();
	SPI_finish();
}

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
