/*-------------------------------------------------------------------------
 *
 * layout.c
 *	  A queue's tables: the DDL that makes them, version by version, and
 *	  the check that what the C code is about to read is what it made.
 *
 * One source for a queue's layout.  A queue's tables are built by layout
 * steps, one per extension version that changed them: create_queue runs
 * every step in order, and the upgrade script of a version that adds a
 * step runs that step for every existing queue (through a helper function
 * that the script creates and drops again), so a fresh queue and an
 * upgraded one are made by the same statements.
 *
 *	  1.0  t_<q> (tasks) and r_<q> (runs), their keys and indexes
 *	  1.1  t_<q>.idempotency_key, key_released_at and the partial unique
 *		   index ti_<q>_ikey
 *	  1.2  c_<q> (checkpoints: one row per task and step); the index
 *		   ri_<q>_done on (state, finished_at, attempt) of runs that
 *		   slept or ended, for queue_stats and cleanup_tasks; the claim
 *		   index ri_<q>_due of pending and sleeping runs replaces
 *		   ri_<q>_ready; e_<q> (events) and w_<q> (waits of runs)
 *
 * Index names start with ti_/ri_ so that no index of queue "a" can take
 * the name of a table of queue "a_pkey".
 *
 * The check (dt_layout_check) runs when a queue's cache entry is built,
 * under the lock dt_queue_open took on the task table: both tables must
 * be plain tables with every column the extension reads, of the type and
 * nullability it made; the key index, if the queue has the 1.1 columns,
 * must be the valid, immediate, unique btree index on (idempotency_key)
 * with the column's own (deterministic) collation, the default operator
 * class and the predicate the extension made.  Hand-made damage is reported
 * with a clear error, never read through (a wrong type read as a uuid
 * would crash the server).  With privileges in force (1.2 catalogs), the
 * tables must also carry no code of their own: no trigger but the foreign
 * keys' internal ones, no rule, no row-level security.  Their statements
 * run as the extension's owner inside every caller's call, so such code
 * would run with the owner's rights (a trigger a 1.1 queue owner attached
 * survives the update's change of owner; this refuses it).  The lease
 * index ri_<q>_lease is recorded if it is exactly the layout's (claim.c
 * probes it before a sweep, leaseprobe.c); if not, nothing is refused,
 * and claims sweep without the probe.  It is on the run table, which the
 * check does not lock: a change to it invalidates the entry, and the
 * probe looks at the entry again once it holds the run table's lock.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/layout.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "durable_tasks.h"

/* A queue's tables, each after the tables it references (drop_queue). */
const char *const dt_queue_tables[DT_NUM_QUEUE_TABLES] = {"t_", "r_", "c_", "e_", "w_"};

/* A column the extension reads, with the type and nullability it made. */
typedef struct DtColumn
{
	const char *name;
	Oid			type;
	bool		not_null;
	int			probe;			/* DtProbeColumn slot, or -1 */
} DtColumn;

static const DtColumn task_columns[] = {
	{"task_id", UUIDOID, true, DT_COL_TASK_ID},
	{"task_name", TEXTOID, true, DT_COL_TASK_NAME},
	{"params", JSONBOID, true, DT_COL_PARAMS},
	{"headers", JSONBOID, false, -1},
	{"retry_strategy", JSONBOID, true, -1},
	{"max_attempts", INT4OID, true, -1},
	{"cancellation", JSONBOID, false, -1},
	{"parent_task_id", UUIDOID, false, -1},
	{"state", TEXTOID, true, DT_COL_STATE},
	{"attempts", INT4OID, true, DT_COL_ATTEMPTS},
	{"last_run_id", UUIDOID, true, DT_COL_LAST_RUN_ID},
	{"result", JSONBOID, false, -1},
	{"failure", JSONBOID, false, -1},
	{"created_at", TIMESTAMPTZOID, true, -1},
	{"first_started_at", TIMESTAMPTZOID, false, -1},
	{"finished_at", TIMESTAMPTZOID, false, DT_COL_FINISHED_AT},
	{NULL}
};

/* 1.1: present together, or (a queue of a database still at 1.0) not */
static const DtColumn key_columns[] = {
	{"idempotency_key", TEXTOID, false, DT_COL_IDEMPOTENCY_KEY},
	{"key_released_at", TIMESTAMPTZOID, false, DT_COL_KEY_RELEASED_AT},
	{NULL}
};

static const DtColumn run_columns[] = {
	{"run_id", UUIDOID, true, -1},
	{"task_id", UUIDOID, true, -1},
	{"attempt", INT4OID, true, -1},
	{"state", TEXTOID, true, DT_COL_RUN_STATE},
	{"available_at", TIMESTAMPTZOID, true, -1},
	{"claimed_by", TEXTOID, false, -1},
	{"claim_expires_at", TIMESTAMPTZOID, false, DT_COL_RUN_CLAIM_EXPIRES_AT},
	{"started_at", TIMESTAMPTZOID, false, -1},
	{"finished_at", TIMESTAMPTZOID, false, -1},
	{"result", JSONBOID, false, -1},
	{"failure", JSONBOID, false, -1},
	{"created_at", TIMESTAMPTZOID, true, -1},
	{NULL}
};

/* 1.2: absent from queues of a database still at 1.1 */
static const DtColumn checkpoint_columns[] = {
	{"task_id", UUIDOID, true, -1},
	{"step_name", TEXTOID, true, -1},
	{"state", JSONBOID, true, -1},
	{"run_id", UUIDOID, true, -1},
	{"attempt", INT4OID, true, -1},
	{"updated_at", TIMESTAMPTZOID, true, -1},
	{NULL}
};

static const DtColumn event_columns[] = {
	{"event_name", TEXTOID, true, -1},
	{"payload", JSONBOID, false, -1},
	{"emitted_at", TIMESTAMPTZOID, false, -1},
	{"created_at", TIMESTAMPTZOID, true, -1},
	{NULL}
};

static const DtColumn wait_columns[] = {
	{"run_id", UUIDOID, true, -1},
	{"event_name", TEXTOID, true, -1},
	{"timeout_at", TIMESTAMPTZOID, false, -1},
	{"sleep_until", TIMESTAMPTZOID, true, -1},
	{"created_at", TIMESTAMPTZOID, true, -1},
	{NULL}
};

#define KEY_INDEX_PREDICATE \
	"idempotency_key IS NOT NULL AND key_released_at IS NULL"

/*
 * buf (NAMEDATALEN + 32 bytes) := durable_tasks.<prefix><queue>, quoted.
 */
void
dt_qualified_name(char *buf, const char *prefix, const char *queue_name)
{
	char		relname[NAMEDATALEN];

	snprintf(relname, sizeof(relname), "%s%s", prefix, queue_name);
	snprintf(buf, NAMEDATALEN + 32, "%s",
			 quote_qualified_identifier(DT_SCHEMA, relname));
}

/* ---- the check ---- */

/*
 * The attribute number of column name of rel, one of the extension's own tables
 * (the registry, queue_grants), which the C code reads without SQL: it
 * must have type type.  A missing column is an error, unless missing_ok
 * (then InvalidAttrNumber: an older version of the table).
 */
AttrNumber
dt_rel_column(Relation rel, const char *name, Oid type, bool missing_ok)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		if (att->atttypid != type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table durable_tasks.%s has type %s",
							name, RelationGetRelationName(rel),
							format_type_be(att->atttypid)),
					 errdetail("durable_tasks expects type %s.",
							   format_type_be(type))));
		return att->attnum;
	}
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table durable_tasks.%s is missing",
						name, RelationGetRelationName(rel))));
	return InvalidAttrNumber;
}

static void
dt_code_error(const char *relname, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("queue table durable_tasks.%s has %s", relname, what),
			 errdetail("The statements of durable_tasks run as the extension's owner on behalf of every caller; code attached to a queue table would run with the owner's rights."),
			 errhint("Drop it: queue tables carry no triggers, rules or row-level security.")));
}

/* No user trigger, rule or row-level security on relid (see above). */
static void
dt_code_check(Oid relid, const char *relname)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class rel;
	bool		triggers;
	bool		rules;
	Relation	trigrel;
	ScanKeyData key;
	SysScanDesc scan;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	rel = (Form_pg_class) GETSTRUCT(tup);
	triggers = rel->relhastriggers;	/* has or had: the catalogs say which */
	rules = rel->relhasrules;
	if (rel->relrowsecurity)
		dt_code_error(relname, "row-level security enabled");
	ReleaseSysCache(tup);

	if (rules)
	{
		Relation	rewrite = table_open(RewriteRelationId, AccessShareLock);

		ScanKeyInit(&key, Anum_pg_rewrite_ev_class, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(relid));
		scan = systable_beginscan(rewrite, RewriteRelRulenameIndexId, true,
								  NULL, 1, &key);
		if (HeapTupleIsValid(tup = systable_getnext(scan)))
			dt_code_error(relname, psprintf("rule \"%s\"",
											NameStr(((Form_pg_rewrite) GETSTRUCT(tup))->rulename)));
		systable_endscan(scan);
		table_close(rewrite, AccessShareLock);
	}
	if (!triggers)
		return;

	trigrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(trigrel, TriggerRelidNameIndexId, true, NULL,
							  1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger trig = (Form_pg_trigger) GETSTRUCT(tup);

		if (!trig->tgisinternal)
			dt_code_error(relname, psprintf("trigger \"%s\"",
											NameStr(trig->tgname)));
	}
	systable_endscan(scan);
	table_close(trigrel, AccessShareLock);
}

/* A plain heap table, not a partition (keyprobe.c reads heap tuples). */
static void
dt_table_check(Oid relid, const char *relname)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class rel;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	rel = (Form_pg_class) GETSTRUCT(tup);
	ok = rel->relkind == RELKIND_RELATION && !rel->relispartition &&
		rel->relam == HEAP_TABLE_AM_OID;
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("durable_tasks.%s is not a plain heap table", relname)));
	if (dt_acl_enforced())
		dt_code_check(relid, relname);
}

/*
 * The column name of the table whose attributes are attrs (NULL: none).
 */
static Form_pg_attribute
dt_find_column(CatCList *attrs, const char *name)
{
	for (int i = 0; i < attrs->n_members; i++)
	{
		Form_pg_attribute att =
			(Form_pg_attribute) GETSTRUCT(&attrs->members[i]->tuple);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att;
	}
	return NULL;
}

/*
 * Check the columns of relid against cols; store probe column numbers in
 * queue->attnums.  With optional, a table without the first column passes
 * (and returns false).  The table's attributes are read in one catalog
 * scan (a list search of the attribute cache), not one per column.
 */
static bool
dt_columns_check(DtQueue *queue, Oid relid, const char *relname,
				 const DtColumn *cols, bool optional)
{
	CatCList   *attrs = SearchSysCacheList1(ATTNUM, ObjectIdGetDatum(relid));

	for (const DtColumn *c = cols; c->name != NULL; c++)
	{
		Form_pg_attribute att = dt_find_column(attrs, c->name);

		if (att == NULL)
		{
			if (optional && c == cols)
			{
				ReleaseSysCacheList(attrs);
				return false;
			}
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table durable_tasks.%s is missing",
							c->name, relname),
					 errhint("The queue's tables were changed by hand; restore the column, or drop and create the queue again.")));
		}
		if (att->atttypid != c->type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table durable_tasks.%s has type %s",
							c->name, relname, format_type_be(att->atttypid)),
					 errdetail("durable_tasks expects type %s.",
							   format_type_be(c->type)),
					 errhint("The queue's tables were changed by hand; restore the column type, or drop and create the queue again.")));
		if (c->not_null && !att->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"%s\" of table durable_tasks.%s is not NOT NULL",
							c->name, relname),
					 errhint("The queue's tables were changed by hand; restore the constraint, or drop and create the queue again.")));
		if (c->probe >= 0)
			queue->attnums[c->probe] = att->attnum;
	}
	ReleaseSysCacheList(attrs);
	return true;
}

/* Is expr "column attno IS [NOT] NULL"? */
static bool
dt_is_null_test(Node *expr, AttrNumber attno, NullTestType type)
{
	NullTest   *nt = (NullTest *) expr;

	return IsA(expr, NullTest) && nt->nulltesttype == type &&
		!nt->argisrow && IsA(nt->arg, Var) &&
		((Var *) nt->arg)->varattno == attno;
}

static void
dt_key_index_error(DtQueue *queue, const char *idxname)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("index \"%s\" is not the idempotency key index of queue \"%s\"",
					idxname, queue->name),
			 errdetail("It must be the unique btree index of durable_tasks.t_%s on (idempotency_key) WHERE " KEY_INDEX_PREDICATE ".",
					   queue->name),
			 errhint("Drop it and run: CREATE UNIQUE INDEX %s ON durable_tasks.t_%s (idempotency_key) WHERE " KEY_INDEX_PREDICATE,
					 idxname, queue->name)));
}

/*
 * The key index ti_<queue>_ikey must be what layout step 1.1 made.  The
 * family of text's default btree operator class is text_ops, a built-in
 * object that no DDL can replace as the default (CREATE OPERATOR CLASS
 * refuses a second default), so it is compared by its OID rather than
 * looked up in pg_opclass; likewise the database's default collation
 * (PostgreSQL 15) is always deterministic.
 */
static void
dt_key_index_check(DtQueue *queue, Oid nspid)
{
	char		idxname[NAMEDATALEN];
	AttrNumber	keycol = queue->attnums[DT_COL_IDEMPOTENCY_KEY];
	AttrNumber	relcol = queue->attnums[DT_COL_KEY_RELEASED_AT];
	Relation	idx;
	List	   *pred;
	Form_pg_index ind;
	Oid			keytype;
	int32		keytypmod;
	Oid			keycoll;
	bool		ok;

	get_atttypetypmodcoll(queue->task_relid, keycol, &keytype, &keytypmod,
						  &keycoll);
	snprintf(idxname, sizeof(idxname), "ti_%s_ikey", queue->name);
	queue->key_index = get_relname_relid(idxname, nspid);
	if (!OidIsValid(queue->key_index))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" has no idempotency key index", queue->name),
				 errhint("Create it: CREATE UNIQUE INDEX %s ON durable_tasks.t_%s (idempotency_key) WHERE " KEY_INDEX_PREDICATE,
						 idxname, queue->name)));
	if (get_rel_relkind(queue->key_index) != RELKIND_INDEX)
		dt_key_index_error(queue, idxname);

	idx = index_open(queue->key_index, AccessShareLock);
	ind = idx->rd_index;
	ok = ind->indrelid == queue->task_relid &&
		idx->rd_rel->relam == BTREE_AM_OID &&
		ind->indisunique && ind->indimmediate &&
		ind->indnatts == 1 && ind->indkey.values[0] == keycol &&
		idx->rd_indcollation[0] == keycoll &&
		(keycoll == DEFAULT_COLLATION_OID ||
		 get_collation_isdeterministic(keycoll)) &&
		ind->indisready && ind->indislive &&
		idx->rd_opfamily[0] == TEXT_BTREE_FAM_OID &&
		RelationGetIndexExpressions(idx) == NIL;
	if (ok)
	{
		pred = RelationGetIndexPredicate(idx);
		ok = list_length(pred) == 2 &&
			dt_is_null_test(linitial(pred), keycol, IS_NOT_NULL) &&
			dt_is_null_test(lsecond(pred), relcol, IS_NULL);
	}
	index_close(idx, AccessShareLock);
	if (!ok)
		dt_key_index_error(queue, idxname);
}

/*
 * Is the predicate of the lease index state = 'running' on column state?
 */
static bool
dt_is_running_test(List *pred, AttrNumber state)
{
	OpExpr	   *op;
	Var		   *var;
	Const	   *c;

	if (list_length(pred) != 1 || !IsA(linitial(pred), OpExpr))
		return false;
	op = linitial(pred);
	if (op->opno != TextEqualOperator || list_length(op->args) != 2 ||
		!IsA(linitial(op->args), Var) || !IsA(lsecond(op->args), Const))
		return false;
	var = linitial(op->args);
	c = lsecond(op->args);
	/* compared as leaseprobe.c compares: bytewise, so a deterministic collation */
	if (op->inputcollid != DEFAULT_COLLATION_OID &&
		op->inputcollid != C_COLLATION_OID)
		return false;
	return var->varattno == state && c->consttype == TEXTOID &&
		!c->constisnull &&
		strcmp(TextDatumGetCString(c->constvalue),
			   dt_state_name(DT_RUNNING)) == 0;
}

/*
 * The lease index ri_<queue>_lease, if it is what layout step 1.0 made:
 * a valid btree of the run table on (claim_expires_at) with timestamptz's
 * default operator class, WHERE state = 'running'.  claim.c probes it
 * before a lease sweep (leaseprobe.c).  Anything else is not an error:
 * the entry then has none, and every claim runs the sweep's statement.
 */
static void
dt_lease_index_find(DtQueue *queue, Oid nspid)
{
	char		idxname[NAMEDATALEN];
	Oid			idxid;
	Relation	idx;
	bool		ok;

	queue->lease_index = InvalidOid;
	snprintf(idxname, sizeof(idxname), "ri_%s_lease", queue->name);
	idxid = get_relname_relid(idxname, nspid);
	if (!OidIsValid(idxid))
		return;

	/* the run table is not locked here: the index may be gone by now */
	idx = try_relation_open(idxid, AccessShareLock);
	if (idx == NULL)
		return;
	ok = idx->rd_rel->relkind == RELKIND_INDEX &&
		idx->rd_index->indrelid == queue->run_relid &&
		idx->rd_rel->relam == BTREE_AM_OID &&
		idx->rd_index->indnatts == 1 &&
		idx->rd_index->indkey.values[0] ==
		queue->attnums[DT_COL_RUN_CLAIM_EXPIRES_AT] &&
		idx->rd_index->indisvalid && idx->rd_index->indisready &&
		idx->rd_index->indislive &&
		RelationGetIndexExpressions(idx) == NIL;
	if (ok)
	{
		bool		isnull;
		Datum		cls = SysCacheGetAttr(INDEXRELID, idx->rd_indextuple,
										  Anum_pg_index_indclass, &isnull);

		ok = !isnull &&
			((oidvector *) DatumGetPointer(cls))->values[0] ==
			TIMESTAMPTZ_BTREE_OPS_OID &&
			dt_is_running_test(RelationGetIndexPredicate(idx),
							   queue->attnums[DT_COL_RUN_STATE]);
	}
	relation_close(idx, AccessShareLock);
	if (ok)
		queue->lease_index = idxid;
}

/*
 * Check the queue's tables and fill the entry: run table OID, key index,
 * column numbers.  The task table is locked by the caller.
 */
void
dt_layout_check(DtQueue *queue)
{
	char		tname[NAMEDATALEN];
	char		rname[NAMEDATALEN];
	Oid			nspid = get_rel_namespace(queue->task_relid);

	snprintf(tname, sizeof(tname), "t_%s", queue->name);
	snprintf(rname, sizeof(rname), "r_%s", queue->name);

	dt_table_check(queue->task_relid, tname);
	dt_columns_check(queue, queue->task_relid, tname, task_columns, false);

	queue->run_relid = get_relname_relid(rname, nspid);
	if (!OidIsValid(queue->run_relid))
		dt_queue_missing_error(queue->name, rname, true);
	dt_table_check(queue->run_relid, rname);
	dt_columns_check(queue, queue->run_relid, rname, run_columns, false);
	dt_lease_index_find(queue, nspid);

	queue->key_index = InvalidOid;
	if (dt_columns_check(queue, queue->task_relid, tname, key_columns, true))
		dt_key_index_check(queue, nspid);

	/* the claim index of sleeping and pending runs (1.2) */
	snprintf(rname, sizeof(rname), "ri_%s_due", queue->name);
	queue->due_index = get_relname_relid(rname, nspid);

	snprintf(rname, sizeof(rname), "c_%s", queue->name);
	queue->ckpt_relid = get_relname_relid(rname, nspid);
	if (OidIsValid(queue->ckpt_relid))
	{
		dt_table_check(queue->ckpt_relid, rname);
		dt_columns_check(queue, queue->ckpt_relid, rname, checkpoint_columns,
						 false);
	}

	/* events and waits (1.2) */
	snprintf(rname, sizeof(rname), "e_%s", queue->name);
	queue->event_relid = get_relname_relid(rname, nspid);
	if (OidIsValid(queue->event_relid))
	{
		dt_table_check(queue->event_relid, rname);
		dt_columns_check(queue, queue->event_relid, rname, event_columns,
						 false);
	}
	snprintf(rname, sizeof(rname), "w_%s", queue->name);
	queue->wait_relid = get_relname_relid(rname, nspid);
	if (OidIsValid(queue->wait_relid))
	{
		dt_table_check(queue->wait_relid, rname);
		dt_columns_check(queue, queue->wait_relid, rname, wait_columns,
						 false);
	}
}

/* ---- the layout steps ---- */

/*
 * Step 1.0: the task and run tables.  (The text of 1.0's create_queue,
 * so that queues made then and now are the same.)
 */
static const char *const step_1_0[] = {
	"CREATE TABLE durable_tasks.%1$s ("
	" task_id uuid NOT NULL, task_name text NOT NULL, params jsonb NOT NULL,"
	" headers jsonb, retry_strategy jsonb NOT NULL, max_attempts integer NOT NULL,"
	" cancellation jsonb, parent_task_id uuid, state text NOT NULL,"
	" attempts integer NOT NULL, last_run_id uuid NOT NULL, result jsonb,"
	" failure jsonb, created_at timestamptz NOT NULL,"
	" first_started_at timestamptz, finished_at timestamptz,"
	" CONSTRAINT %3$s PRIMARY KEY (task_id),"
	" CONSTRAINT %5$s CHECK (state IN ('pending', 'running', 'sleeping',"
	" 'completed', 'failed', 'cancelled')))",
	"CREATE INDEX %7$s ON durable_tasks.%1$s (parent_task_id) WHERE parent_task_id IS NOT NULL",
	"CREATE TABLE durable_tasks.%2$s ("
	" run_id uuid NOT NULL, task_id uuid NOT NULL, attempt integer NOT NULL,"
	" state text NOT NULL, available_at timestamptz NOT NULL, claimed_by text,"
	" claim_expires_at timestamptz, started_at timestamptz,"
	" finished_at timestamptz, result jsonb, failure jsonb,"
	" created_at timestamptz NOT NULL,"
	" CONSTRAINT %4$s PRIMARY KEY (run_id),"
	" CONSTRAINT %8$s FOREIGN KEY (task_id)"
	" REFERENCES durable_tasks.%1$s (task_id) ON DELETE CASCADE,"
	" CONSTRAINT %6$s CHECK (state IN ('pending', 'running', 'sleeping',"
	" 'completed', 'failed', 'cancelled')))",
	/* the claim loop: ready runs in order of availability */
	"CREATE INDEX %9$s ON durable_tasks.%2$s (available_at, run_id) WHERE state = 'pending'",
	/* lease expiry: running runs by expiry time */
	"CREATE INDEX %10$s ON durable_tasks.%2$s (claim_expires_at) WHERE state = 'running'",
	/* runs of a task (cancel, foreign key) */
	"CREATE INDEX %11$s ON durable_tasks.%2$s (task_id)",
	NULL
};

/* Step 1.1: the idempotency key. */
static const char *const step_1_1[] = {
	"ALTER TABLE durable_tasks.%1$s ADD COLUMN idempotency_key text, "
	"ADD COLUMN key_released_at timestamptz",
	"CREATE UNIQUE INDEX %12$s ON durable_tasks.%1$s (idempotency_key) "
	"WHERE " KEY_INDEX_PREDICATE,
	NULL
};

/* Step 1.2: the checkpoint table. */
static const char *const step_1_2[] = {
	"CREATE TABLE durable_tasks.%13$s ("
	" task_id uuid NOT NULL, step_name text NOT NULL, state jsonb NOT NULL,"
	" run_id uuid NOT NULL, attempt integer NOT NULL,"
	" updated_at timestamptz NOT NULL,"
	" CONSTRAINT %14$s PRIMARY KEY (task_id, step_name),"
	" CONSTRAINT %15$s FOREIGN KEY (task_id)"
	" REFERENCES durable_tasks.%1$s (task_id) ON DELETE CASCADE)",
	/*
	 * runs that slept or ended, for queue_stats (by state and attempt) and
	 * cleanup_tasks (by state and finish): partial, so that spawns and
	 * claims never write to it
	 */
	"CREATE INDEX %16$s ON durable_tasks.%2$s (state, finished_at, attempt)"
	" WHERE state IN ('sleeping', 'completed', 'failed', 'cancelled')",
	/*
	 * the claim loop: runs that are ready or sleeping, in order of
	 * availability (a sleeping run's is its wake time), in place of 1.0's
	 * ri_<q>_ready, which has pending runs only
	 */
	"CREATE INDEX %17$s ON durable_tasks.%2$s (available_at, run_id)"
	" WHERE state IN ('pending', 'sleeping')",
	"DROP INDEX durable_tasks.%9$s",
	/*
	 * events (events.c): one row per event name, emitted (emitted_at set)
	 * or awaited before its emit; cleanup_events by emitted_at
	 */
	"CREATE TABLE durable_tasks.%18$s ("
	" event_name text NOT NULL, payload jsonb, emitted_at timestamptz,"
	" created_at timestamptz NOT NULL,"
	" CONSTRAINT %19$s PRIMARY KEY (event_name))",
	"CREATE INDEX %20$s ON durable_tasks.%18$s (emitted_at) WHERE emitted_at IS NOT NULL",
	/* waits: a run's wait for an event, which goes with the run */
	"CREATE TABLE durable_tasks.%21$s ("
	" run_id uuid NOT NULL, event_name text NOT NULL, timeout_at timestamptz,"
	" sleep_until timestamptz NOT NULL, created_at timestamptz NOT NULL,"
	" CONSTRAINT %22$s PRIMARY KEY (run_id, event_name),"
	" CONSTRAINT %23$s FOREIGN KEY (run_id)"
	" REFERENCES durable_tasks.%2$s (run_id) ON DELETE CASCADE)",
	"CREATE INDEX %24$s ON durable_tasks.%21$s (event_name)",
	NULL
};

typedef struct DtLayoutStep
{
	const char *version;
	const char *const *ddl;
} DtLayoutStep;

static const DtLayoutStep layout_steps[] = {
	{"1.0", step_1_0},
	{"1.1", step_1_1},
	{"1.2", step_1_2},
	{NULL}
};

/*
 * Run one statement of a step: fmt with %N$s replaced by the queue's
 * quoted names (1 t_, 2 r_, 3 ti_pkey, 4 ri_pkey, 5 t_state, 6 r_state,
 * 7 ti_parent, 8 r_task_fk, 9 ri_ready, 10 ri_lease, 11 ri_task,
 * 12 ti_ikey, 13 c_, 14 ci_pkey, 15 c_task_fk, 16 ri_done, 17 ri_due, 18 e_, 19 ei_pkey,
 * 20 ei_emitted, 21 w_, 22 wi_pkey, 23 w_run_fk, 24 wi_event).
 */
static void
dt_layout_exec(const char *fmt, const char *q)
{
	static const char *const patterns[] = {
		"t_%s", "r_%s", "ti_%s_pkey", "ri_%s_pkey", "t_%s_state", "r_%s_state",
		"ti_%s_parent", "r_%s_task_fk", "ri_%s_ready", "ri_%s_lease",
		"ri_%s_task", "ti_%s_ikey", "c_%s", "ci_%s_pkey", "c_%s_task_fk",
		"ri_%s_done", "ri_%s_due", "e_%s", "ei_%s_pkey", "ei_%s_emitted",
		"w_%s", "wi_%s_pkey", "w_%s_run_fk", "wi_%s_event"
	};
	const char *names[lengthof(patterns)];
	StringInfoData sql;
	int			ret;

	for (int i = 0; i < (int) lengthof(patterns); i++)
	{
		char		name[NAMEDATALEN];

		snprintf(name, sizeof(name), patterns[i], q);
		names[i] = quote_identifier(pstrdup(name));
	}

	initStringInfo(&sql);
	for (const char *p = fmt; *p; p++)
	{
		int			n;
		int			len = 0;

		if (*p == '%' && sscanf(p, "%%%d$s%n", &n, &len) == 1 && len > 0 &&
			n >= 1 && n <= (int) lengthof(patterns))
		{
			appendStringInfoString(&sql, names[n - 1]);
			p += len - 1;
		}
		else
			appendStringInfoChar(&sql, *p);
	}
	ret = SPI_execute(sql.data, false, 0);
	dt_spi_check(ret, SPI_OK_UTILITY, "creating the tables of a queue");
	pfree(sql.data);
}

/*
 * A step run by an extension script (ALTER EXTENSION UPDATE) would make
 * the tables it creates members of the extension, which pg_dump leaves
 * out and DROP TABLE refuses: a queue's tables are user data, so they are
 * taken out of the extension again, as ALTER EXTENSION ... DROP would.
 */
static void
dt_layout_disown(const char *queue_name)
{
	Oid			nspid = get_namespace_oid(DT_SCHEMA, false);

	if (!creating_extension)
		return;
	CommandCounterIncrement();
	for (int i = 0; i < DT_NUM_QUEUE_TABLES; i++)
	{
		char		relname[NAMEDATALEN];
		Oid			relid;

		snprintf(relname, sizeof(relname), "%s%s", dt_queue_tables[i], queue_name);
		relid = get_relname_relid(relname, nspid);
		if (OidIsValid(relid))
			(void) deleteDependencyRecordsForSpecific(RelationRelationId, relid,
													  DEPENDENCY_EXTENSION,
													  ExtensionRelationId,
													  CurrentExtensionObject);
	}
}

/*
 * Run the layout step of version for the queue (inside SPI).
 */
void
dt_layout_step(const char *queue_name, const char *version)
{
	for (const DtLayoutStep *s = layout_steps; s->version != NULL; s++)
	{
		if (strcmp(s->version, version) != 0)
			continue;
		for (const char *const *ddl = s->ddl; *ddl != NULL; ddl++)
			dt_layout_exec(*ddl, queue_name);
		dt_layout_disown(queue_name);
		return;
	}
	elog(ERROR, "unknown queue layout version \"%s\"", version);
}

/*
 * Make a new queue's tables: every step, in order (inside SPI).
 */
void
dt_layout_create(const char *queue_name)
{
	for (const DtLayoutStep *s = layout_steps; s->version != NULL; s++)
		dt_layout_step(queue_name, s->version);
}
