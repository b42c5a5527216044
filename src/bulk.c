/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  spawn_tasks: many spawns in one call.
 *
 * Every element of the tasks array is checked first, options included,
 * so that a bad element (22023, naming its ordinal) writes nothing.  Then
 * the elements are spawned in order, each exactly as spawn_task would
 * (spawn.c: dt_spawn_one), in the caller's transaction.  Two elements
 * with one key therefore behave as two spawns in a row: the later probe
 * sees the earlier one's task (keyprobe.c makes the statement's own
 * changes visible), so it is a hit, never a unique violation; against
 * other sessions each element is first-served like any spawn.
 *
 * Locks: those of its spawns, in element order (a key index entry while
 * an element inserts, a holder row while an element releases its key, a
 * parent row FOR SHARE); callers that spawn overlapping keys in different
 * orders in long transactions can deadlock, as with any rows.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/fmgrprotos.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_spawn_tasks);

/* result descriptor, built once per backend (dt_srf_init) */
static TupleDesc result_desc = NULL;

#define DT_MAX_BULK 10000

/* One element of tasks, checked. */
typedef struct DtBulkElement
{
	char	   *task_name;
	Jsonb	   *params;
	bool		only_once;
	char	   *key;			/* NULL if none */
	DtSpawnOptions opts;
} DtBulkElement;

static void
dt_bulk_errcontext(void *arg)
{
	errcontext("element %d of tasks", *(int *) arg);
}

/*
 * Errors of what an element's value is checked with elsewhere (lengths,
 * options, the spawn itself) name the element in their context; errors
 * raised here name it in the message.
 */
static void
dt_bulk_push_context(ErrorContextCallback *errcb, int *ordinal)
{
	errcb->callback = dt_bulk_errcontext;
	errcb->arg = ordinal;
	errcb->previous = error_context_stack;
	error_context_stack = errcb;
}

static void
dt_bulk_pop_context(ErrorContextCallback *errcb)
{
	error_context_stack = errcb->previous;
}

static void
dt_bulk_type_error(int ordinal, const char *field, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("element %d of tasks: \"%s\" must be %s",
					ordinal, field, expected)));
}

/* The string value of a field, checked for length. */
static char *
dt_bulk_string(int ordinal, const char *field, JsonbValue *v, int maxlen)
{
	ErrorContextCallback errcb;

	if (v->type != jbvString)
		dt_bulk_type_error(ordinal, field, "a string");
	dt_bulk_push_context(&errcb, &ordinal);
	dt_check_text_length(field, v->val.string.len, maxlen);
	dt_bulk_pop_context(&errcb);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Jsonb *
dt_bulk_object(int ordinal, const char *field, JsonbValue *v)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		dt_bulk_type_error(ordinal, field, "a jsonb object");
	return JsonbValueToJsonb(v);
}

/*
 * Check element ordinal (v) and fill el; options are the call's, which
 * the element's own options override key by key.
 */
static void
dt_bulk_element(int ordinal, JsonbValue *v, Jsonb *options, DtBulkElement *el)
{
	JsonbIterator *it;
	JsonbValue	kv;
	JsonbIteratorToken tok;
	ErrorContextCallback errcb;
	char	   *field = NULL;
	Jsonb	   *own_options = NULL;
	bool		has_name = false;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("element %d of tasks must be a jsonb object", ordinal)));

	memset(el, 0, sizeof(*el));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &kv, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			field = pnstrdup(kv.val.string.val, kv.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(field, "task_name") == 0)
		{
			el->task_name = dt_bulk_string(ordinal, field, &kv,
										   DT_TASK_NAME_MAXLEN);
			has_name = true;
		}
		else if (strcmp(field, "params") == 0)
			el->params = dt_bulk_object(ordinal, field, &kv);
		else if (strcmp(field, "only_once") == 0)
		{
			if (kv.type != jbvBool)
				dt_bulk_type_error(ordinal, field, "a boolean");
			el->only_once = kv.val.boolean;
		}
		else if (strcmp(field, "idempotency_key") == 0)
			el->key = dt_bulk_string(ordinal, field, &kv,
									 DT_IDEMPOTENCY_KEY_MAXLEN);
		else if (strcmp(field, "options") == 0)
			own_options = dt_bulk_object(ordinal, field, &kv);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of tasks has unknown key \"%s\"",
							ordinal, field),
					 errhint("Valid keys are task_name, params, only_once, idempotency_key and options.")));
	}
	if (!has_name)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("element %d of tasks has no \"task_name\"", ordinal)));
	if (el->params == NULL)
		el->params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														CStringGetDatum("{}")));
	if (own_options != NULL)
		options = options == NULL ? own_options :
			DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
											   JsonbPGetDatum(options),
											   JsonbPGetDatum(own_options)));
	dt_bulk_push_context(&errcb, &ordinal);
	dt_parse_spawn_options(options, true, &el->opts);
	dt_bulk_pop_context(&errcb);
}

/*
 * Check every element of tasks (see the file header); returns how many.
 */
static int
dt_bulk_parse(Jsonb *tasks, Jsonb *options, DtBulkElement **elements)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n;
	int			ordinal = 0;

	if (!JB_ROOT_IS_ARRAY(tasks) || JB_ROOT_IS_SCALAR(tasks))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks must be a jsonb array")));
	n = JB_ROOT_COUNT(tasks);
	if (n < 1 || n > DT_MAX_BULK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks must have between 1 and %d elements", DT_MAX_BULK),
				 errdetail("It has %d.", n)));

	*elements = palloc(sizeof(DtBulkElement) * n);

	it = JsonbIteratorInit(&tasks->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		ordinal++;
		dt_bulk_element(ordinal, &v, options, &(*elements)[ordinal - 1]);
	}
	return n;
}

/*
 * durable_tasks.spawn_tasks(queue_name text, tasks jsonb,
 *		options jsonb DEFAULT '{}')
 * RETURNS TABLE (ordinal integer, task_id uuid, run_id uuid,
 *		attempt integer, created boolean, state text)
 *
 * See the file header.
 */
Datum
dt_spawn_tasks(PG_FUNCTION_ARGS)
{
	DtQueue    *queue;
	Jsonb	   *tasks;
	Jsonb	   *options;
	DtBulkElement *elements;
	MemoryContext elcxt;
	int			n;

	dt_srf_init(fcinfo, &result_desc);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock);
	tasks = dt_arg_jsonb(fcinfo, 1, "tasks");
	options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	if (options != NULL && (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object")));
	n = dt_bulk_parse(tasks, options, &elements);

	dt_spi_connect();
	/* what one element's spawn allocates is freed before the next one */
	elcxt = AllocSetContextCreate(CurrentMemoryContext, "spawn_tasks element",
								  ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < n; i++)
	{
		DtBulkElement *el = &elements[i];
		DtSpawnResult res;
		Datum		values[6];
		bool		nulls[6] = {0};
		MemoryContext oldcxt;
		ErrorContextCallback errcb;
		int			ordinal = i + 1;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(elcxt);
		dt_bulk_push_context(&errcb, &ordinal);
		dt_spawn_one(queue, el->task_name, el->params, el->only_once, el->key,
					 &el->opts, &res);
		dt_bulk_pop_context(&errcb);
		values[0] = Int32GetDatum(i + 1);
		values[1] = UUIDPGetDatum(&res.task_id);
		values[2] = UUIDPGetDatum(&res.run_id);
		values[3] = Int32GetDatum(res.attempt);
		values[4] = BoolGetDatum(res.created);
		values[5] = CStringGetTextDatum(res.state);
		dt_put_row(fcinfo, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(elcxt);
	}
	dt_spi_finish();

	return (Datum) 0;
}
