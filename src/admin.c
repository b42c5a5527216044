/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  Queue management: create_queue, alter_queue, drop_queue, and the
 *	  helpers that scripts of older versions and the upgrade scripts call.
 *
 * A queue exists when it has a row in the registry durable_tasks.queues
 * and its tables (layout.c).  These functions keep the two together, and
 * are the way out when something else took them apart (a pg_dump -t of
 * one queue's tables restored elsewhere, DROP EXTENSION and CREATE
 * EXTENSION, a hand-made DROP TABLE):
 *
 *	  row	tables	create_queue				drop_queue
 *	  yes	both	no-op (NOTICE if the		drops both
 *					settings differ)
 *	  no	none	creates both				42704
 *	  no	both	registers the tables		drops the tables
 *			(the extension owner's only;
 *			NOTICE)
 *	  yes	none	creates the tables (NOTICE)	removes the row
 *	  any	one		55000, "is damaged"			drops what there is
 *
 * Privileges (acl.c): create_queue needs admin on every queue (admin on
 * the queue will do when it exists); alter_queue and drop_queue need admin
 * on the queue, checked before any lock is asked for.  The tables are made
 * and dropped as the extension's owner, who owns every queue table.
 *
 * Concurrency.  create_queue inserts the registry row first (ON CONFLICT
 * DO NOTHING): a concurrent create_queue of the same name waits on the
 * row's unique index entry and then finds it.  drop_queue locks the task
 * table and then the run table in AccessExclusiveLock, the same order in
 * which every other call locks them (dt_queue_open locks the task table
 * first), so a call racing a drop waits for it and then sees the queue as
 * it is after the drop (42704, or the queue created again).  The registry
 * trigger (dt_registry_changed) makes every backend re-read the queue's
 * settings.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/admin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_create_queue);
PG_FUNCTION_INFO_V1(dt_alter_queue);
PG_FUNCTION_INFO_V1(dt_drop_queue);
PG_FUNCTION_INFO_V1(dt_list_queues);
PG_FUNCTION_INFO_V1(dt_queue_layout_step);
PG_FUNCTION_INFO_V1(dt_check_queue);
PG_FUNCTION_INFO_V1(dt_check_queue_options);
PG_FUNCTION_INFO_V1(dt_registry_changed);

static void
dt_queue_damaged_error(const char *name, const char *missing)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("queue \"%s\" is damaged", name),
			 errdetail("Table durable_tasks.%s%s is missing.", missing, name),
			 errhint("Drop it with durable_tasks.drop_queue('%s') and create it again.",
					 name)));
}

/*
 * Register existing tables t_<q>/r_<q> that have no registry row: only
 * tables owned by the extension's owner (1.1 catalogs: by the caller),
 * and only if they are a queue's tables with
 * nothing attached that other callers' statements would run.
 */
static void
dt_adopt_tables(const char *name, Oid task_relid, Oid run_relid)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		args[2] = {ObjectIdGetDatum(task_relid), ObjectIdGetDatum(run_relid)};
	bool		isnull;
	int			ret;

	if (!dt_acl_owns(task_relid) || !dt_acl_owns(run_relid))
	{
		if (dt_acl_enforced())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("tables of queue \"%s\" are not owned by the extension's owner",
							name),
					 errdetail("Queue \"%s\" is not registered, but tables durable_tasks.t_%s and durable_tasks.r_%s exist; only tables owned by the owner of extension durable_tasks are registered.",
							   name, name, name),
					 errhint("Drop the tables, or have the extension's owner take them over with ALTER TABLE ... OWNER TO.")));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table t_%s", name),
				 errdetail("Queue \"%s\" is not registered, but tables durable_tasks.t_%s and durable_tasks.r_%s exist; only the owner of both may register them.",
						   name, name, name)));
	}

	/* the run table's key to the task table; no triggers, rules, policies */
	ret = SPI_execute_with_args(
								"SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint c "
								" WHERE c.conrelid OPERATOR(pg_catalog.=) $2 "
								" AND c.confrelid OPERATOR(pg_catalog.=) $1 "
								" AND c.contype OPERATOR(pg_catalog.=) 'f') "
								"AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g "
								" WHERE g.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY[$1, $2]) AND NOT g.tgisinternal) "
								"AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite w "
								" WHERE w.ev_class OPERATOR(pg_catalog.=) ANY (ARRAY[$1, $2])) "
								"AND NOT EXISTS (SELECT FROM pg_catalog.pg_class k "
								" WHERE k.oid OPERATOR(pg_catalog.=) ANY (ARRAY[$1, $2]) AND k.relrowsecurity)",
								2, argtypes, args, NULL, true, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "checking the tables of a queue");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tables durable_tasks.t_%s and durable_tasks.r_%s are not the tables of a queue",
						name, name),
				 errdetail("A queue's run table has a foreign key to its task table, and neither has triggers, rules or row-level security."),
				 errhint("Drop them with durable_tasks.drop_queue('%s'), or rename them.",
						 name)));

	/* checks the layout and reads the row we just inserted */
	(void) dt_queue_open_name(name, AccessShareLock);
	ereport(NOTICE,
			(errmsg("registered the existing tables of queue \"%s\"", name)));
}

/*
 * create_queue of a queue that is registered already: a NOTICE if a
 * setting given in options is not the queue's (create_queue changes no
 * settings; apps that create their queues at start-up keep working after
 * an alter_queue).  Inside SPI.
 */
static void
dt_check_same_settings(const char *name, Jsonb *options)
{
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		args[2] = {CStringGetTextDatum(name), JsonbPGetDatum(options)};
	bool		isnull;
	int			ret;

	ret = SPI_execute_with_args(
								"SELECT ($2 OPERATOR(pg_catalog.?) 'key_reuse' AND qs.key_reuse "
								"OPERATOR(pg_catalog.<>) ($2 OPERATOR(pg_catalog.->>) 'key_reuse')) "
								"OR ($2 OPERATOR(pg_catalog.?) 'dedup_ttl_seconds' AND qs.dedup_ttl_seconds IS DISTINCT FROM "
								"($2 OPERATOR(pg_catalog.->>) 'dedup_ttl_seconds')::pg_catalog.numeric::pg_catalog.int4) "
								"OR ($2 OPERATOR(pg_catalog.?) 'on_params_mismatch' AND qs.on_params_mismatch "
								"OPERATOR(pg_catalog.<>) ($2 OPERATOR(pg_catalog.->>) 'on_params_mismatch')) "
								"FROM durable_tasks.queues qs WHERE qs.queue_name OPERATOR(pg_catalog.=) $1",
								2, argtypes, args, NULL, false, 1);
	dt_spi_check(ret, SPI_OK_SELECT, "comparing a queue's settings");
	if (SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(NOTICE,
				(errmsg("queue \"%s\" already exists with other settings, which were kept",
						name),
				 errhint("durable_tasks.alter_queue('%s', ...) changes the settings of a queue.",
						 name)));
}

/*
 * durable_tasks.create_queue(queue_name text, options jsonb DEFAULT '{}')
 * RETURNS void
 *
 * Creates the queue (registry row and tables), or does nothing if it
 * exists (a NOTICE if its settings differ from options); repairs a queue whose row or tables are missing (see the file
 * header).  Locks: the new registry row; the tables it creates.
 */
Datum
dt_create_queue(PG_FUNCTION_ARGS)
{
	char	   *name = dt_arg_queue_name(fcinfo, 0);
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		args[2];
	char		nulls[2] = {' ', options ? ' ' : 'n'};
	bool		inserted;
	Oid			task_relid;
	Oid			run_relid;
	int			ret;

	dt_acl_check_create(name);
	if (options != NULL)
		dt_parse_queue_options(options);

	dt_spi_connect();
	args[0] = CStringGetTextDatum(name);
	args[1] = PointerGetDatum(options);
	ret = SPI_execute_with_args(
								"INSERT INTO durable_tasks.queues AS qs "
								"(queue_name, key_reuse, dedup_ttl_seconds, on_params_mismatch) "
								"VALUES ($1, "
								"COALESCE($2 OPERATOR(pg_catalog.->>) 'key_reuse', 'after_failure'), "
								"($2 OPERATOR(pg_catalog.->>) 'dedup_ttl_seconds')::pg_catalog.numeric::pg_catalog.int4, "
								"COALESCE($2 OPERATOR(pg_catalog.->>) 'on_params_mismatch', 'ignore')) "
								"ON CONFLICT ON CONSTRAINT queues_pkey DO NOTHING",
								2, argtypes, args, nulls, false, 0);
	dt_spi_check(ret, SPI_OK_INSERT, "registering a queue");
	inserted = SPI_processed == 1;
	if (!inserted && options != NULL)
		dt_check_same_settings(name, options);
	if (inserted)
		dt_acl_drop_queue(name);	/* grants left by a row deleted by hand */
	CommandCounterIncrement();

	task_relid = dt_queue_relation("t_", name, AccessShareLock, false);
	run_relid = dt_queue_relation("r_", name, AccessShareLock, false);

	if (!OidIsValid(task_relid) && !OidIsValid(run_relid) &&
		OidIsValid(dt_queue_relation("c_", name, AccessShareLock, false)))
		dt_queue_damaged_error(name, "t_");	/* checkpoints left behind */
	else if (!OidIsValid(task_relid) && !OidIsValid(run_relid))
	{
		dt_layout_create(name);
		if (!inserted)
			ereport(NOTICE,
					(errmsg("created the missing tables of queue \"%s\"", name)));
	}
	else if (!OidIsValid(task_relid) || !OidIsValid(run_relid))
		dt_queue_damaged_error(name, OidIsValid(task_relid) ? "r_" : "t_");
	else if (inserted)
		dt_adopt_tables(name, task_relid, run_relid);
	dt_spi_finish();

	PG_RETURN_VOID();
}

/*
 * durable_tasks.alter_queue(queue_name text, options jsonb) RETURNS void
 *
 * Changes the queue's defaults; the keys not given keep their values.
 * Locks the queue's registry row.
 */
Datum
dt_alter_queue(PG_FUNCTION_ARGS)
{
	DtQueue    *queue = dt_queue_open(fcinfo, 0, AccessShareLock, DT_PRIV_ADMIN);
	Jsonb	   *options = dt_arg_jsonb(fcinfo, 1, "options");
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		args[2];
	int			ret;

	dt_parse_queue_options(options);
	args[0] = CStringGetTextDatum(queue->name);
	args[1] = JsonbPGetDatum(options);

	dt_spi_connect();
	ret = SPI_execute_with_args(
								"UPDATE durable_tasks.queues qs SET "
								"key_reuse = COALESCE($2 OPERATOR(pg_catalog.->>) 'key_reuse', qs.key_reuse), "
								"dedup_ttl_seconds = CASE WHEN $2 OPERATOR(pg_catalog.?) 'dedup_ttl_seconds' "
								"THEN ($2 OPERATOR(pg_catalog.->>) 'dedup_ttl_seconds')::pg_catalog.numeric::pg_catalog.int4 "
								"ELSE qs.dedup_ttl_seconds END, "
								"on_params_mismatch = COALESCE($2 OPERATOR(pg_catalog.->>) 'on_params_mismatch', qs.on_params_mismatch) "
								"WHERE qs.queue_name OPERATOR(pg_catalog.=) $1",
								2, argtypes, args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_UPDATE, "altering a queue");
	dt_spi_finish();

	PG_RETURN_VOID();
}

/*
 * durable_tasks.drop_queue(queue_name text) RETURNS void
 *
 * Drops the queue's tables and its registry row, whichever exist.  Locks
 * its tables in the order of dt_queue_tables (the task table first), in
 * AccessExclusiveLock.
 */
Datum
dt_drop_queue(PG_FUNCTION_ARGS)
{
	char	   *name = dt_arg_queue_name(fcinfo, 0);
	Oid			relids[DT_NUM_QUEUE_TABLES];
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		found;
	int			ret;

	/*
	 * The privilege is checked before the locks are asked for, so that no
	 * one else can queue a lock that every spawn and claim would wait
	 * behind; on 1.1 catalogs, ownership of the tables, as DROP TABLE does.
	 * The task table first, as every other call locks it.
	 */
	dt_acl_check(fcinfo, name, DT_PRIV_ADMIN);
	for (int i = 0; i < DT_NUM_QUEUE_TABLES; i++)
		relids[i] = dt_queue_relation(dt_queue_tables[i], name,
									  AccessExclusiveLock,
									  !dt_acl_enforced());

	dt_spi_connect();
	dt_acl_drop_queue(name);
	ret = SPI_execute_with_args("DELETE FROM durable_tasks.queues qs "
								"WHERE qs.queue_name OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_DELETE, "unregistering a queue");
	found = SPI_processed > 0;
	for (int i = 0; i < DT_NUM_QUEUE_TABLES; i++)
		found |= OidIsValid(relids[i]);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name),
				 errhint("durable_tasks.list_queues() lists the queues.")));

	/* each table before the ones it references */
	for (int i = DT_NUM_QUEUE_TABLES - 1; i >= 0; i--)
	{
		char		qualified[NAMEDATALEN + 32];

		if (!OidIsValid(relids[i]))
			continue;
		dt_qualified_name(qualified, dt_queue_tables[i], name);
		ret = SPI_execute(psprintf("DROP TABLE %s", qualified), false, 0);
		dt_spi_check(ret, SPI_OK_UTILITY, "dropping a queue");
	}
	dt_queue_sweep();			/* free our cache entry and plans now */
	dt_spi_finish();

	PG_RETURN_VOID();
}

/*
 * durable_tasks.list_queues()
 * RETURNS TABLE (queue_name text, created_at timestamptz, key_reuse text,
 *                dedup_ttl_seconds integer, on_params_mismatch text)
 *
 * The registered queues on which the caller has a privilege, by name.
 */
Datum
dt_list_queues(PG_FUNCTION_ARGS)
{
	static TupleDesc desc = NULL;
	int			ret;

	dt_srf_init(fcinfo, &desc);
	(void) dt_acl_enforced();	/* the owner, before we switch user */
	dt_spi_connect();
	ret = SPI_execute("SELECT qs.queue_name, qs.created_at, qs.key_reuse, "
					  "qs.dedup_ttl_seconds, qs.on_params_mismatch "
					  "FROM durable_tasks.queues qs ORDER BY qs.queue_name",
					  true, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "listing the queues");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		Datum		values[5];
		bool		isnull[5];

		for (int c = 0; c < 5; c++)
			values[c] = SPI_getbinval(tuple, SPI_tuptable->tupdesc, c + 1,
									  &isnull[c]);
		if (dt_acl_has(TextDatumGetCString(values[0]), DT_PRIV_PRODUCER))
			dt_put_row(fcinfo, values, isnull);
	}
	dt_spi_finish();
	return (Datum) 0;
}

/*
 * durable_tasks.queue_layout_step(queue_name text, version text)
 * RETURNS void
 *
 * For upgrade scripts only, which create it, run it for every queue and
 * drop it: the layout step of version (layout.c), the same one
 * create_queue runs.
 */
Datum
dt_queue_layout_step(PG_FUNCTION_ARGS)
{
	char	   *name = dt_arg_queue_name(fcinfo, 0);
	char	   *version = dt_arg_cstring(fcinfo, 1, "version", 16);

	if (!OidIsValid(dt_queue_relation("t_", name, AccessExclusiveLock, true)))
	{
		/* a damaged queue must not stop the update of the others */
		ereport(WARNING,
				(errmsg("queue \"%s\" has no tables: its %s layout step was skipped",
						name, version),
				 errhint("Run durable_tasks.drop_queue('%s') and create it again.",
						 name)));
		PG_RETURN_VOID();
	}
	(void) dt_acl_enforced();	/* so that the new tables are the owner's */
	dt_spi_connect();
	dt_layout_step(name, version);
	dt_spi_finish();
	PG_RETURN_VOID();
}

/*
 * durable_tasks.check_queue(queue_name text, must_exist boolean DEFAULT true)
 * RETURNS void
 *
 * The queue-name check, for the SQL functions of 1.0 and 1.1 (from 1.2 on
 * it is not an SQL function).
 */
Datum
dt_check_queue(PG_FUNCTION_ARGS)
{
	char	   *name = dt_arg_queue_name(fcinfo, 0);
	bool		must_exist = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);

	if (must_exist && !OidIsValid(dt_queue_relation("t_", name, NoLock, false)))
		dt_queue_missing_error(name, psprintf("t_%s", name), false);
	PG_RETURN_VOID();
}

/*
 * durable_tasks.check_queue_options(options jsonb) RETURNS void
 *
 * For the SQL functions of 1.1: validates create_queue/alter_queue
 * options.
 */
Datum
dt_check_queue_options(PG_FUNCTION_ARGS)
{
	dt_parse_queue_options(dt_arg_jsonb(fcinfo, 0, "options"));
	PG_RETURN_VOID();
}

/*
 * Statement trigger on durable_tasks.queues: tell every backend that the
 * queue settings changed (delivered at commit).
 */
Datum
dt_registry_changed(PG_FUNCTION_ARGS)
{
	CacheInvalidateRelcacheByRelid(dt_trigger_relid(fcinfo));
	return PointerGetDatum(NULL);
}
