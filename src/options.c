/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Parsing and validation of spawn options and retry strategies.
 *
 * Options arrive as a jsonb object.  Every key is checked against the
 * known set and every value against its type and range; a bad option gets
 * SQLSTATE 22023 and a message naming it (a timestamp or uuid the input
 * function rejects keeps that function's SQLSTATE, with the option named
 * in the context).  Parsing needs no SQL.  The retry strategy is stored
 * on the task as given (once validated) and parsed again here when a run
 * fails, so the rules live in one place.
 *
 * The deduplication options (1.1) are kept as overrides of the queue's
 * defaults; dt_dedup_policy() applies them.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/options.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "durable_tasks.h"

#define DT_DEFAULT_MAX_ATTEMPTS		5
#define DT_MAX_MAX_ATTEMPTS			10000
#define DT_DEFAULT_RETRY_STRATEGY \
	"{\"kind\": \"exponential\", \"base_seconds\": 1, \"factor\": 2, \"max_seconds\": 3600}"

#define SPAWN_OPTION_NAMES \
	"headers, max_attempts, retry_strategy, available_at, delay_seconds, cancellation, parent_task_id"
#define DEDUP_OPTION_NAMES "key_reuse, dedup_ttl_seconds, on_params_mismatch"

typedef void (*DtOptionFn) (const char *key, JsonbValue *value, void *arg);

static void
dt_option_errcontext(void *arg)
{
	errcontext("while parsing option \"%s\"", (const char *) arg);
}

/*
 * Call fn for every key/value pair of the jsonb object jb; what names the
 * object in error messages.
 */
static void
dt_foreach_option(Jsonb *jb, const char *what, DtOptionFn fn, void *arg)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a jsonb object", what)));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
			fn(key, &v, arg);
	}
}

static void
dt_option_type_error(const char *name, const char *expected, JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be %s", name, expected),
			 errdetail("The value given is of type %s.", JsonbTypeName(v))));
}

/*
 * Is the numeric a whole number?  Checked on the numeric itself: a value
 * such as 0.99999999999999999999 rounds to 1 as a float8.
 */
static bool
dt_numeric_is_integral(Numeric num)
{
	Datum		n = NumericGetDatum(num);
	Datum		trunc = DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0));

	return !numeric_is_nan(num) && !numeric_is_inf(num) &&
		DatumGetBool(DirectFunctionCall2(numeric_eq, n, trunc));
}

/*
 * A number in [min, max]; integral if asked.
 */
static double
dt_option_number(const char *name, JsonbValue *v, double min, double max,
				 bool integral)
{
	double		d;

	if (v->type != jbvNumeric)
		dt_option_type_error(name, integral ? "an integer" : "a number", v);

	/* out-of-range values become +-Inf or 0, and fail the check below */
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if ((integral && !dt_numeric_is_integral(v->val.numeric)) ||
		!(d >= min && d <= max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s between %g and %g",
						name, integral ? "an integer" : "a number", min, max),
				 errdetail("The value given is %s.",
						   numeric_normalize(v->val.numeric))));
	return d;
}

static char *
dt_option_string(const char *name, JsonbValue *v)
{
	if (v->type != jbvString)
		dt_option_type_error(name, "a string", v);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Jsonb *
dt_option_object(const char *name, JsonbValue *v)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		dt_option_type_error(name, "a jsonb object", v);
	return JsonbValueToJsonb(v);
}

/*
 * Parse a string option with an input function, naming the option in the
 * error context if the input function rejects it.
 */
static Datum
dt_option_input(const char *name, JsonbValue *v, PGFunction infunc)
{
	ErrorContextCallback errcb;
	Datum		d;

	errcb.callback = dt_option_errcontext;
	errcb.arg = unconstify(char *, name);
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	d = DirectFunctionCall3(infunc,
							CStringGetDatum(dt_option_string(name, v)),
							ObjectIdGetDatum(InvalidOid),
							Int32GetDatum(-1));

	error_context_stack = errcb.previous;
	return d;
}

/* ---- retry strategies ---- */

static void
dt_retry_option(const char *key, JsonbValue *v, void *arg)
{
	DtRetryStrategy *rs = (DtRetryStrategy *) arg;

	if (strcmp(key, "kind") == 0)
	{
		char	   *kind = dt_option_string("retry_strategy.kind", v);

		if (strcmp(kind, "none") == 0)
			rs->kind = DT_RETRY_NONE;
		else if (strcmp(kind, "fixed") == 0)
			rs->kind = DT_RETRY_FIXED;
		else if (strcmp(kind, "exponential") == 0)
			rs->kind = DT_RETRY_EXPONENTIAL;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized retry strategy kind \"%s\"", kind),
					 errhint("Valid kinds are none, fixed and exponential.")));
	}
	else if (strcmp(key, "base_seconds") == 0)
		rs->base_seconds = dt_option_number("retry_strategy.base_seconds", v,
											0, DT_MAX_SECONDS, false);
	else if (strcmp(key, "factor") == 0)
		rs->factor = dt_option_number("retry_strategy.factor", v,
									  1, 100, false);
	else if (strcmp(key, "max_seconds") == 0)
		rs->max_seconds = dt_option_number("retry_strategy.max_seconds", v,
										   0, DT_MAX_SECONDS, false);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized retry_strategy key \"%s\"", key),
				 errhint("Valid keys are kind, base_seconds, factor and max_seconds.")));
}

void
dt_parse_retry_strategy(Jsonb *strategy, DtRetryStrategy *out)
{
	out->kind = -1;
	out->base_seconds = -1;
	out->factor = 2;
	out->max_seconds = 0;

	dt_foreach_option(strategy, "option \"retry_strategy\"",
					  dt_retry_option, out);

	if ((int) out->kind == -1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"retry_strategy\" needs a \"kind\""),
				 errhint("Valid kinds are none, fixed and exponential.")));
	if (out->kind != DT_RETRY_NONE && out->base_seconds < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retry strategy \"%s\" needs \"base_seconds\"",
						out->kind == DT_RETRY_FIXED ? "fixed" : "exponential")));
	if (out->kind == DT_RETRY_EXPONENTIAL && out->max_seconds > 0 &&
		out->max_seconds < out->base_seconds)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retry_strategy.max_seconds must not be less than base_seconds")));
}

/*
 * Parse a retry strategy stored on a task.  It was validated at spawn, so
 * an error means hand-made damage: instead of raising it (which would stop
 * every claim on the queue), return its message (NULL if it parsed).  The
 * parser only reads the jsonb and allocates memory, so catching its error
 * without a subtransaction is safe.
 */
char *
dt_try_parse_retry_strategy(Jsonb *strategy, DtRetryStrategy *out)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile message = NULL;

	PG_TRY();
	{
		dt_parse_retry_strategy(strategy, out);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		message = edata->message;
	}
	PG_END_TRY();
	return message;
}

/*
 * Seconds to wait before attempt number attempt + 1, after attempt failed.
 */
double
dt_retry_delay(const DtRetryStrategy *rs, int32 attempt)
{
	double		delay;
	double		cap = rs->max_seconds > 0 ? rs->max_seconds : DT_MAX_SECONDS;

	switch (rs->kind)
	{
		case DT_RETRY_FIXED:
			return rs->base_seconds;
		case DT_RETRY_EXPONENTIAL:
			delay = rs->base_seconds * pow(rs->factor, attempt - 1);
			return Min(delay, cap);
		case DT_RETRY_NONE:
		default:
			return 0;
	}
}

/* ---- cancellation ---- */

static void
dt_cancellation_option(const char *key, JsonbValue *v,
					   void *arg pg_attribute_unused())
{
	if (strcmp(key, "max_delay") == 0)
		dt_option_number("cancellation.max_delay", v, 1, DT_MAX_SECONDS, false);
	else if (strcmp(key, "max_duration") == 0)
		dt_option_number("cancellation.max_duration", v, 1, DT_MAX_SECONDS, false);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized cancellation key \"%s\"", key),
				 errhint("Valid keys are max_delay and max_duration.")));
}

/* ---- deduplication options (1.1) ---- */

static DtKeyReuse
dt_parse_key_reuse(const char *name, JsonbValue *v)
{
	char	   *s = dt_option_string(name, v);

	if (strcmp(s, "after_failure") == 0)
		return DT_KEY_REUSE_AFTER_FAILURE;
	if (strcmp(s, "after_finish") == 0)
		return DT_KEY_REUSE_AFTER_FINISH;
	if (strcmp(s, "never") == 0)
		return DT_KEY_REUSE_NEVER;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value \"%s\" for option \"%s\"", s, name),
			 errhint("Valid values are after_failure, after_finish and never.")));
	pg_unreachable();
}

static bool
dt_parse_mismatch(const char *name, JsonbValue *v)
{
	char	   *s = dt_option_string(name, v);

	if (strcmp(s, "ignore") != 0 && strcmp(s, "error") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"%s\"", s, name),
				 errhint("Valid values are ignore and error.")));
	return strcmp(s, "error") == 0;
}

/* dedup_ttl_seconds: whole seconds, or JSON null (0 here) for no expiry */
static int32
dt_parse_ttl(const char *name, JsonbValue *v)
{
	if (v->type == jbvNull)
		return 0;
	return (int32) dt_option_number(name, v, 1, DT_MAX_SECONDS, true);
}

/* ---- spawn options ---- */

/* The default retry strategy, parsed once per backend. */
static Jsonb *
dt_default_retry_strategy(void)
{
	static Jsonb *strategy = NULL;

	if (strategy == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		strategy = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													  CStringGetDatum(DT_DEFAULT_RETRY_STRATEGY)));
		MemoryContextSwitchTo(oldcxt);
	}
	return strategy;
}

typedef struct SpawnOptionState
{
	DtSpawnOptions *out;
	bool		allow_dedup;
	bool		has_available_at;
	bool		has_delay;
	double		delay_seconds;
} SpawnOptionState;

static void
dt_spawn_option(const char *key, JsonbValue *v, void *arg)
{
	SpawnOptionState *st = (SpawnOptionState *) arg;
	DtSpawnOptions *out = st->out;

	if (strcmp(key, "headers") == 0)
		out->headers = dt_option_object(key, v);
	else if (strcmp(key, "max_attempts") == 0)
		out->max_attempts = (int32) dt_option_number(key, v, 1,
													 DT_MAX_MAX_ATTEMPTS, true);
	else if (strcmp(key, "retry_strategy") == 0)
	{
		DtRetryStrategy rs;

		out->retry_strategy = dt_option_object(key, v);
		dt_parse_retry_strategy(out->retry_strategy, &rs);
	}
	else if (strcmp(key, "available_at") == 0)
	{
		out->available_at =
			DatumGetTimestampTz(dt_option_input(key, v, timestamptz_in));
		if (TIMESTAMP_NOT_FINITE(out->available_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"available_at\" must be a finite timestamp")));
		st->has_available_at = true;
	}
	else if (strcmp(key, "delay_seconds") == 0)
	{
		st->delay_seconds = dt_option_number(key, v, 0, DT_MAX_SECONDS, false);
		st->has_delay = true;
	}
	else if (strcmp(key, "cancellation") == 0)
	{
		out->cancellation = dt_option_object(key, v);
		dt_foreach_option(out->cancellation, "option \"cancellation\"",
						  dt_cancellation_option, NULL);
	}
	else if (strcmp(key, "parent_task_id") == 0)
	{
		memcpy(&out->parent_task_id,
			   DatumGetUUIDP(dt_option_input(key, v, uuid_in)),
			   sizeof(pg_uuid_t));
		out->has_parent = true;
	}
	else if (st->allow_dedup && strcmp(key, "key_reuse") == 0)
	{
		out->dedup.key_reuse = dt_parse_key_reuse(key, v);
		out->set_key_reuse = true;
	}
	else if (st->allow_dedup && strcmp(key, "dedup_ttl_seconds") == 0)
	{
		out->dedup.dedup_ttl_seconds = dt_parse_ttl(key, v);
		out->dedup.has_ttl = v->type != jbvNull;
		out->set_ttl = true;
	}
	else if (st->allow_dedup && strcmp(key, "on_params_mismatch") == 0)
	{
		out->dedup.mismatch_error = dt_parse_mismatch(key, v);
		out->set_mismatch = true;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized option \"%s\"", key),
				 errhint("Valid options are %s.",
						 st->allow_dedup ?
						 SPAWN_OPTION_NAMES ", " DEDUP_OPTION_NAMES :
						 SPAWN_OPTION_NAMES)));
}

/*
 * Parse and validate spawn options (NULL means none).  allow_dedup accepts
 * the 1.1 deduplication keys.
 */
void
dt_parse_spawn_options(Jsonb *options, bool allow_dedup, DtSpawnOptions *out)
{
	SpawnOptionState st = {0};

	memset(out, 0, sizeof(*out));
	out->max_attempts = DT_DEFAULT_MAX_ATTEMPTS;
	out->now = GetCurrentTimestamp();
	out->available_at = out->now;
	st.out = out;
	st.allow_dedup = allow_dedup;

	if (options != NULL)
		dt_foreach_option(options, "options", dt_spawn_option, &st);

	if (st.has_available_at && st.has_delay)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"available_at\" and \"delay_seconds\" cannot both be given")));
	if (st.has_delay)
		out->available_at += (TimestampTz) (st.delay_seconds * USECS_PER_SEC);

	if (out->retry_strategy == NULL)
		out->retry_strategy = dt_default_retry_strategy();
}

/*
 * The deduplication policy of one spawn: the queue's defaults dflt, with
 * whichever of key_reuse, dedup_ttl_seconds and on_params_mismatch the
 * spawn's options set.
 */
void
dt_dedup_policy(const DtSpawnOptions *opts, const DtDedupPolicy *dflt,
				DtDedupPolicy *out)
{
	*out = *dflt;
	if (opts->set_key_reuse)
		out->key_reuse = opts->dedup.key_reuse;
	if (opts->set_ttl)
	{
		out->has_ttl = opts->dedup.has_ttl;
		out->dedup_ttl_seconds = opts->dedup.dedup_ttl_seconds;
	}
	if (opts->set_mismatch)
		out->mismatch_error = opts->dedup.mismatch_error;
}

/* ---- queue options (1.1) ---- */

static void
dt_queue_option(const char *key, JsonbValue *v, void *arg pg_attribute_unused())
{
	if (strcmp(key, "key_reuse") == 0)
		dt_parse_key_reuse(key, v);
	else if (strcmp(key, "dedup_ttl_seconds") == 0)
		dt_parse_ttl(key, v);
	else if (strcmp(key, "on_params_mismatch") == 0)
		dt_parse_mismatch(key, v);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized queue option \"%s\"", key),
				 errhint("Valid queue options are " DEDUP_OPTION_NAMES ".")));
}

/*
 * Validate create_queue/alter_queue options with the same rules as the
 * per-spawn deduplication options.
 */
void
dt_parse_queue_options(Jsonb *options)
{
	dt_foreach_option(options, "options", dt_queue_option, NULL);
}
