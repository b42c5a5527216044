/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Kept SPI plans, keyed by (queue, plan definition).
 *
 * As in ri_triggers.c, a plan is looked up by what identifies it: the OID
 * of the queue's task table and the DtPlanDef it was built from (each
 * module owns its definitions; the definition's address is its kind).  A
 * plan is prepared on first use, kept (SPI_keepplan), and re-planned by
 * the plan cache by itself after DDL on the tables it reads (and after
 * VACUUM or ANALYZE changed their statistics).  A definition marked
 * DT_PLAN_GENERIC is planned once, for any parameter values
 * (CURSOR_OPT_GENERIC_PLAN): the fixed-shape statements of the hot paths
 * (claim, lease sweep, complete, checkpoint write, spawn), whose plan is
 * an index scan whatever the values, and which the plan cache would
 * otherwise plan again for each of a backend's first five executions
 * (custom plans), a cost every new connection pays.  When a
 * queue's cache entry is dropped (queue.c: its tables were dropped or
 * changed), dt_plans_forget() frees the queue's plans: a backend never
 * holds plans of queues that are gone.
 *
 * The SQL templates name the queue's tables as {tasks}, {runs},
 * {checkpoints}, {events} and {waits}, and the states of a move as
 * {task_from:MOVE} etc. (state.c); both are expanded
 * here, from the queue name the entry was built from, never from user
 * input.
 *
 * Locks: none of its own; preparing a plan locks the tables it names
 * (AccessShareLock, as parse analysis does) until the end of the
 * transaction.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/plans.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "durable_tasks.h"

typedef struct DtPlanKey
{
	Oid			task_relid;
	const DtPlanDef *def;
} DtPlanKey;

typedef struct DtPlanEntry
{
	DtPlanKey	key;
	SPIPlanPtr	plan;
} DtPlanEntry;

static HTAB *plan_cache = NULL;

void
dt_plans_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(DtPlanKey);
	ctl.entrysize = sizeof(DtPlanEntry);
	plan_cache = hash_create("durable_tasks plan cache", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS);
}

/*
 * The template with the queue's names and the states filled in.
 */
static char *
dt_plan_sql(DtQueue *queue, const char *template)
{
	char		tname[NAMEDATALEN + 32];
	char		rname[NAMEDATALEN + 32];
	char		cname[NAMEDATALEN + 32];
	char		ename[NAMEDATALEN + 32];
	char		wname[NAMEDATALEN + 32];
	StringInfoData buf;
	const char *p = template;

	dt_qualified_name(tname, "t_", queue->name);
	dt_qualified_name(rname, "r_", queue->name);
	dt_qualified_name(cname, "c_", queue->name);
	dt_qualified_name(ename, "e_", queue->name);
	dt_qualified_name(wname, "w_", queue->name);

	initStringInfo(&buf);
	while (*p)
	{
		const char *next;

		if (*p != '{')
			appendStringInfoChar(&buf, *p++);
		else if (strncmp(p, "{tasks}", 7) == 0)
		{
			appendStringInfoString(&buf, tname);
			p += 7;
		}
		else if (strncmp(p, "{runs}", 6) == 0)
		{
			appendStringInfoString(&buf, rname);
			p += 6;
		}
		else if (strncmp(p, "{checkpoints}", 13) == 0)
		{
			appendStringInfoString(&buf, cname);
			p += 13;
		}
		else if (strncmp(p, "{events}", 8) == 0)
		{
			appendStringInfoString(&buf, ename);
			p += 8;
		}
		else if (strncmp(p, "{waits}", 7) == 0)
		{
			appendStringInfoString(&buf, wname);
			p += 7;
		}
		else if ((next = dt_append_state_sql(&buf, p + 1)) != NULL)
			p = next;
		else
			appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

/*
 * The kept plan for def on this queue, prepared on first use.
 */
SPIPlanPtr
dt_plan(DtQueue *queue, const DtPlanDef *def)
{
	DtPlanKey	key;
	DtPlanEntry *entry;
	bool		found;
	char	   *sql;
	SPIPlanPtr	plan;

	memset(&key, 0, sizeof(key));
	key.task_relid = queue->task_relid;
	key.def = def;
	entry = hash_search(plan_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->plan;

	sql = dt_plan_sql(queue, def->sql);
	plan = SPI_prepare_cursor(sql, def->nargs, (Oid *) def->argtypes,
							  def->cursor_options);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for plan \"%s\": %s",
			 def->name, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	pfree(sql);

	entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	entry->plan = plan;
	return plan;
}

/*
 * Free every plan of the queues for which dead(task_relid) is true, in
 * one pass.  Called by queue.c when no plan can be running (see
 * dt_queue_sweep).
 */
void
dt_plans_sweep(bool (*dead) (Oid task_relid))
{
	HASH_SEQ_STATUS status;
	DtPlanEntry *entry;

	hash_seq_init(&status, plan_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!dead(entry->key.task_relid))
			continue;
		SPI_freeplan(entry->plan);
		hash_search(plan_cache, &entry->key, HASH_REMOVE, NULL);
	}
}

/*
 * Free every plan of one queue (its task table's OID now names another
 * queue).
 */
void
dt_plans_forget(Oid task_relid)
{
	HASH_SEQ_STATUS status;
	DtPlanEntry *entry;

	hash_seq_init(&status, plan_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.task_relid != task_relid)
			continue;
		SPI_freeplan(entry->plan);
		hash_search(plan_cache, &entry->key, HASH_REMOVE, NULL);
	}
}
