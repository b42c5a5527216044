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

#include "commands/trigger.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

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

static void dt_arg_not_null(FunctionCallInfo fcinfo, int argno,
							const char *argname);

/*
 * The queue_name argument: not null, at most 48 bytes, a valid name.
 */
char *
dt_arg_queue_name(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;
	char	   *name;
	int			len;

	dt_arg_not_null(fcinfo, argno, "queue_name");
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue_name must not be empty")));
	if (len > DT_QUEUE_NAME_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue name is too long"),
				 errdetail("A queue name is at most %d bytes; this one is %d bytes.",
						   DT_QUEUE_NAME_MAXLEN, len)));
	name = text_to_cstring(t);
	dt_check_queue_name(name);
	return name;
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
	dt_check_text_length(argname, len, maxlen);
	return text_to_cstring(t);
}

/*
 * A required text value is 1 to maxlen bytes.
 */
void
dt_check_text_length(const char *argname, int len, int maxlen)
{
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
 * Text form of a uuid, for messages.
 */
char *
dt_uuid_str(pg_uuid_t *uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
}

/*
 * The relation a statement trigger function fires on; 39P01 if it was
 * called other than as a trigger.
 */
Oid
dt_trigger_relid(FunctionCallInfo fcinfo)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("durable_tasks.%s() can only be called as a trigger",
						get_func_name(fcinfo->flinfo->fn_oid))));
	return RelationGetRelid(((TriggerData *) fcinfo->context)->tg_relation);
}
