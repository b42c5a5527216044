/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  spawn_tasks: many spawns in one call.
 *
 * Every element of the tasks array is checked first, options included,
 * so that a bad element (22023, naming its ordinal) writes nothing.  Then,
 * in element order, each keyed element probes its key as spawn_task would
 * (spawn.c: dt_spawn_probe): a holder that blocks is a hit; an element
 * with a parent locks it (once per parent).  Every element left to create
 * is then inserted by one INSERT of all of them (unnest of arrays, in
 * element order), keyed ones with ON CONFLICT DO NOTHING: that is what
 * makes a bulk spawn several times cheaper per task than spawn_task.  An
 * element whose key another session took between our probe and our insert
 * (the insert waited for it and inserted nothing), and a later element
 * with the key of an earlier one, are then spawned alone, in order, with
 * spawn_task's whole loop.  So each element has exactly spawn_task's
 * semantics, also against concurrent spawners, and no duplicate in the
 * batch is a unique violation.
 *
 * Locks: those of its spawns (a key index entry while the insert waits for
 * a concurrent spawner of the key, a holder row while releasing its key, a
 * parent row FOR SHARE), taken in element order; callers that spawn
 * overlapping keys in different orders in long transactions can deadlock,
 * as with any rows.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_spawn_tasks);

/* result descriptor, built once per backend (dt_srf_init) */
static TupleDesc result_desc = NULL;

#define DT_MAX_BULK 10000

/* One element of tasks, checked, and what became of it. */
typedef struct DtBulkElement
{
	char	   *task_name;
	Jsonb	   *params;
	bool		only_once;
	char	   *key;			/* NULL if none */
	DtSpawnOptions opts;
	/* set by dt_bulk_spawn */
	const char *spawn_key;		/* the key it spawns with, or NULL */
	int			same_as;		/* index of an earlier element with the key */
	bool		to_insert;		/* left for the batch insert */
	DtSpawnResult res;
} DtBulkElement;

/* the batch insert: $1-$11 one array per column, $12 the clock */
static const DtPlanDef plan_bulk_insert = {
	"bulk_insert",
	"WITH v AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), "
	" pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
	" pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), "
	" pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), "
	" pg_catalog.unnest($11)) "
	" WITH ORDINALITY AS v(task_id, task_name, params, headers, retry_strategy, "
	" max_attempts, cancellation, parent_task_id, run_id, available_at, "
	" idempotency_key, n)), "
	"t AS (INSERT INTO {tasks} (task_id, task_name, params, headers, "
	" retry_strategy, max_attempts, cancellation, parent_task_id, state, "
	" attempts, last_run_id, created_at, idempotency_key) "
	" SELECT v.task_id, v.task_name, v.params, v.headers, v.retry_strategy, "
	" v.max_attempts, v.cancellation, v.parent_task_id, 'pending', 1, v.run_id, "
	" $12, v.idempotency_key FROM v ORDER BY v.n "
	" ON CONFLICT (idempotency_key) "
	" WHERE idempotency_key IS NOT NULL AND key_released_at IS NULL "
	" DO NOTHING RETURNING task_id), "
	"r AS (INSERT INTO {runs} (run_id, task_id, attempt, state, available_at, "
	" created_at) "
	" SELECT v.run_id, v.task_id, 1, 'pending', v.available_at, $12 "
	" FROM v JOIN t ON t.task_id OPERATOR(pg_catalog.=) v.task_id ORDER BY v.n) "
	"SELECT t.task_id FROM t",
	12, {UUIDARRAYOID, TEXTARRAYOID, JSONBARRAYOID, JSONBARRAYOID,
		JSONBARRAYOID, INT4ARRAYOID, JSONBARRAYOID, UUIDARRAYOID, UUIDARRAYOID,
	TIMESTAMPTZARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID},
	DT_PLAN_CHOOSE
};

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
		/* JSON null: the optional fields are absent, as SQL NULL would be */
		if (kv.type == jbvNull && strcmp(field, "task_name") != 0 &&
			(strcmp(field, "params") == 0 || strcmp(field, "only_once") == 0 ||
			 strcmp(field, "idempotency_key") == 0 ||
			 strcmp(field, "options") == 0))
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

/* An entry of dt_bulk_spawn's hash of the keys seen so far. */
typedef struct DtBulkKey
{
	char		key[DT_IDEMPOTENCY_KEY_MAXLEN + 1];
	int			first;			/* the first element with the key */
} DtBulkKey;

/* An entry of dt_bulk_spawn's hash of the parents locked so far. */
typedef struct DtBulkParent
{
	pg_uuid_t	parent;
} DtBulkParent;

/* A one-dimensional array of n datums of type elmtype. */
static Datum
dt_bulk_array(Datum *elems, bool *nulls, int n, Oid elmtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elmtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  elmtype, typlen, typbyval,
											  typalign));
}

/*
 * Insert the elements marked to_insert (count of them) in one statement,
 * and unmark the ones that were inserted; those still marked met a
 * concurrent holder of their key.
 */
static void
dt_bulk_insert(DtQueue *queue, DtBulkElement *elements, int n, int count)
{
	static const Oid types[11] = {UUIDOID, TEXTOID, JSONBOID, JSONBOID,
		JSONBOID, INT4OID, JSONBOID, UUIDOID, UUIDOID, TIMESTAMPTZOID, TEXTOID};
	Datum	   *cols[11];
	bool	   *colnulls[11];
	Datum		args[12];
	HASHCTL		ctl;
	HTAB	   *inserted;
	int			k = 0;
	int			ret;

	for (int c = 0; c < 11; c++)
	{
		cols[c] = palloc(sizeof(Datum) * count);
		colnulls[c] = palloc0(sizeof(bool) * count);
	}
	for (int i = 0; i < n; i++)
	{
		DtBulkElement *el = &elements[i];
		DtSpawnOptions *o = &el->opts;

		if (!el->to_insert)
			continue;
		dt_uuid_v7_generate(&el->res.task_id);
		dt_uuid_v7_generate(&el->res.run_id);
		cols[0][k] = UUIDPGetDatum(&el->res.task_id);
		cols[1][k] = CStringGetTextDatum(el->task_name);
		cols[2][k] = JsonbPGetDatum(el->params);
		cols[3][k] = PointerGetDatum(o->headers);
		colnulls[3][k] = o->headers == NULL;
		cols[4][k] = JsonbPGetDatum(o->retry_strategy);
		cols[5][k] = Int32GetDatum(o->max_attempts);
		cols[6][k] = PointerGetDatum(o->cancellation);
		colnulls[6][k] = o->cancellation == NULL;
		cols[7][k] = UUIDPGetDatum(&o->parent_task_id);
		colnulls[7][k] = !o->has_parent;
		cols[8][k] = UUIDPGetDatum(&el->res.run_id);
		cols[9][k] = TimestampTzGetDatum(o->available_at);
		dt_claim_floor_lower(queue, o->available_at);
		cols[10][k] = el->spawn_key ? CStringGetTextDatum(el->spawn_key) : (Datum) 0;
		colnulls[10][k] = el->spawn_key == NULL;
		k++;
	}
	for (int c = 0; c < 11; c++)
		args[c] = dt_bulk_array(cols[c], colnulls[c], count, types[c]);
	args[11] = TimestampTzGetDatum(GetCurrentTimestamp());

	ret = SPI_execute_plan(dt_plan(queue, &plan_bulk_insert), args, NULL,
						   false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "inserting tasks");

	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(pg_uuid_t);
	ctl.hcxt = CurrentMemoryContext;
	inserted = hash_create("spawn_tasks inserted", Max(count, 16), &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r],
									  SPI_tuptable->tupdesc, 1, &isnull);

		(void) hash_search(inserted, DatumGetUUIDP(d), HASH_ENTER, NULL);
	}
	for (int i = 0; i < n; i++)
	{
		DtBulkElement *el = &elements[i];

		if (!el->to_insert ||
			hash_search(inserted, &el->res.task_id, HASH_FIND, NULL) == NULL)
			continue;
		el->to_insert = false;
		el->res.attempt = 1;
		el->res.created = true;
		el->res.state = "pending";
	}
	hash_destroy(inserted);
}

/* The key an element spawns with: explicit, only_once's, or NULL. */
static const char *
dt_bulk_key(DtBulkElement *el)
{
	if (el->key != NULL)
		return el->key;
	return el->only_once ? dt_fingerprint(el->task_name, el->params) : NULL;
}

/*
 * Lock the element's parent, once per parent and call (the lock is held
 * to the end of the transaction).
 */
static void
dt_bulk_parent(DtQueue *queue, HTAB *parents, DtSpawnOptions *opts)
{
	bool		found;

	if (!opts->has_parent)
		return;
	(void) hash_search(parents, &opts->parent_task_id, HASH_ENTER, &found);
	if (found)
		opts->parent_checked = true;
	else
		dt_spawn_check_parent(queue, opts);
}

static HTAB *
dt_bulk_hash(const char *name, Size keysize, Size entrysize, int flags)
{
	HASHCTL		ctl;

	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_CONTEXT | flags);
}

/*
 * Spawn every element (see the file header), filling its res.  A later
 * element with the key of an earlier one is spawned after the insert, by
 * spawn_task's own path: it finds the earlier one's task, with its own
 * options' checks (on_params_mismatch, key_reuse) applied, as two
 * spawn_task calls in a row would.
 */
static void
dt_bulk_spawn(DtQueue *queue, DtBulkElement *elements, int n)
{
	HTAB	   *keys = dt_bulk_hash("spawn_tasks keys", DT_IDEMPOTENCY_KEY_MAXLEN + 1,
									sizeof(DtBulkKey), HASH_STRINGS);
	HTAB	   *parents = dt_bulk_hash("spawn_tasks parents", sizeof(pg_uuid_t),
									   sizeof(DtBulkParent), HASH_BLOBS);
	int			count = 0;

	for (int i = 0; i < n; i++)
	{
		DtBulkElement *el = &elements[i];
		ErrorContextCallback errcb;
		int			ordinal = i + 1;
		bool		found = false;

		CHECK_FOR_INTERRUPTS();
		dt_bulk_push_context(&errcb, &ordinal);
		el->same_as = -1;
		el->spawn_key = dt_bulk_key(el);
		if (el->spawn_key != NULL)
		{
			DtBulkKey  *entry = hash_search(keys, el->spawn_key, HASH_ENTER,
											&found);

			if (found)
				el->same_as = entry->first;
			else
				entry->first = i;
		}
		if (!found &&
			(el->spawn_key == NULL ||
			 !dt_spawn_probe(queue, el->task_name, el->params, &el->opts,
							 el->spawn_key, el->key != NULL, &el->res)))
		{
			dt_bulk_parent(queue, parents, &el->opts);
			el->to_insert = true;
			count++;
		}
		dt_bulk_pop_context(&errcb);
	}
	if (count > 0)
		dt_bulk_insert(queue, elements, n, count);

	for (int i = 0; i < n; i++)
	{
		DtBulkElement *el = &elements[i];
		ErrorContextCallback errcb;
		int			ordinal = i + 1;

		/*
		 * A repeated key, or a key a concurrent spawner took between our
		 * probe and our insert: spawn the element alone.
		 */
		if (el->same_as < 0 && !el->to_insert)
			continue;
		dt_bulk_push_context(&errcb, &ordinal);
		if (el->opts.has_parent &&
			hash_search(parents, &el->opts.parent_task_id, HASH_FIND, NULL))
			el->opts.parent_checked = true; /* locked already */
		dt_spawn_one(queue, el->task_name, el->params, el->only_once,
					 el->key, &el->opts, &el->res);
		dt_bulk_pop_context(&errcb);
	}
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
	int			n;

	dt_srf_init(fcinfo, &result_desc);
	queue = dt_queue_open(fcinfo, 0, RowExclusiveLock, DT_PRIV_PRODUCER);
	tasks = dt_arg_jsonb(fcinfo, 1, "tasks");
	options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	if (options != NULL && (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object")));
	n = dt_bulk_parse(tasks, options, &elements);

	dt_spi_connect();
	dt_bulk_spawn(queue, elements, n);
	for (int i = 0; i < n; i++)
	{
		DtSpawnResult *res = &elements[i].res;
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = Int32GetDatum(i + 1);
		values[1] = UUIDPGetDatum(&res->task_id);
		values[2] = UUIDPGetDatum(&res->run_id);
		values[3] = Int32GetDatum(res->attempt);
		values[4] = BoolGetDatum(res->created);
		values[5] = CStringGetTextDatum(res->state);
		dt_put_row(fcinfo, values, nulls);
	}
	dt_spi_finish();

	return (Datum) 0;
}
