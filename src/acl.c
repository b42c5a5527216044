/*-------------------------------------------------------------------------
 *
 * acl.c
 *	  Privileges on queues (producer, worker, admin), their cache, the
 *	  checks every entry point makes, and grant_queue, revoke_queue and
 *	  list_queue_grants.
 *
 * A privilege is a row of durable_tasks.queue_grants (queue_name, role,
 * privilege); a NULL queue_name grants it on every queue, present and
 * future.  Each privilege includes the ones below it (producer < worker <
 * admin), and, as for GRANT, a role has what the roles it is a member of
 * have (has_privs_of_role).  Superusers and members of the extension's
 * owner have every privilege.
 *
 * The functions are executable by PUBLIC: each checks the caller's
 * privilege on the queue it names here, before it looks anything up, and
 * then runs its SQL as the extension's owner (spi_util.c switches the
 * user id, as ri_triggers.c does for its queries).  No other role has any
 * privilege on the queue tables, the registry or queue_grants, and the
 * queue tables are owned by the extension's owner, so no one else can
 * attach code (triggers, rules, policies) to them or change their
 * columns.  The checks cost a hash lookup and a membership test per call.
 *
 * The cache has two parts.  The catalog part, the OID of queue_grants
 * and the extension's owner, is resolved from the system catalogs by
 * every check that finds it stale: that is all a superuser or a member of
 * the owner needs, and what spi_util.c switches to.  The grant list,
 * every grant read at once into a hash keyed by queue name ("" for the
 * grants on every queue) in its own memory context, is read only when a
 * check of another role needs it.  It is read straight from the heap of
 * queue_grants (no SPI, no plan), after CommandCounterIncrement and with
 * the latest snapshot, so that this transaction's own changes and every
 * committed grant count; AccessShareLock on the table is kept to the end
 * of the transaction, as the SELECT that read it before kept it.  A
 * statement trigger on queue_grants sends a relcache invalidation of that
 * table (as for the registry, admin.c), on which both parts are dropped
 * and read again when next needed; every check accepts pending
 * invalidations first, so a grant or revoke committed by another session
 * counts from the next call on, inside an open transaction too.  An
 * invalidation that arrives while a part is read leaves it stale (it is
 * used for the call that read it).  Role membership and superuser status
 * are not cached here (core caches them, and drops them on changes).
 *
 * A database still on the 1.1 SQL definitions has no queue_grants table:
 * then nothing is checked here and nothing runs as the owner; the table
 * privileges of 1.1 apply, as before.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/acl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_shdepend.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "lib/qunique.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "durable_tasks.h"

#define DT_GRANTS_TABLE "queue_grants"

PG_FUNCTION_INFO_V1(dt_grant_queue);
PG_FUNCTION_INFO_V1(dt_revoke_queue);
PG_FUNCTION_INFO_V1(dt_list_queue_grants);
PG_FUNCTION_INFO_V1(dt_grants_changed);

static const char *const priv_names[] = {"none", "producer", "worker", "admin"};

typedef struct DtGrant
{
	Oid			role;			/* InvalidOid: PUBLIC */
	DtPriv		priv;
} DtGrant;

/* The grants on one queue ("": on every queue). */
typedef struct DtGrantList
{
	char		queue[NAMEDATALEN]; /* hash key */
	int			ngrants;
	int			maxgrants;
	DtGrant    *grants;
} DtGrantList;

static MemoryContext acl_context = NULL;
static HTAB *grant_cache = NULL;	/* valid while grants_valid */
static bool grants_valid = false;
static uint64 acl_generation = 0;	/* bumped by each invalidation */

/*
 * The catalog part, valid while acl_valid, as of the last resolution;
 * InvalidOid grants_relid: 1.1 catalogs.
 */
static bool acl_valid = false;
static Oid	grants_relid = InvalidOid;
static Oid	ext_owner = InvalidOid;

/*
 * Without a grants table (1.1 catalogs) any relcache invalidation may be
 * the one of its creation (ALTER EXTENSION ... UPDATE): look again.
 */
static void
dt_acl_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (relid == InvalidOid || relid == grants_relid ||
		!OidIsValid(grants_relid))
	{
		acl_valid = false;
		grants_valid = false;
		acl_generation++;
	}
}

void
dt_acl_init(void)
{
	CacheRegisterRelcacheCallback(dt_acl_relcache_callback, (Datum) 0);
}

const char *
dt_priv_name(DtPriv priv)
{
	return priv_names[priv];
}

/*
 * The owner of extension durable_tasks (InvalidOid if not installed).  A
 * heap scan: pg_extension has a few rows, and a new backend would
 * otherwise build the relcache entry of its name index for this one
 * lookup.
 */
static Oid
dt_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("durable_tasks"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, false, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

static void
dt_acl_add(const char *queue, Oid role, DtPriv priv)
{
	DtGrantList *list;
	bool		found;

	list = hash_search(grant_cache, queue, HASH_ENTER, &found);
	if (!found)
	{
		list->ngrants = 0;
		list->maxgrants = 4;
		list->grants = MemoryContextAlloc(acl_context,
										  list->maxgrants * sizeof(DtGrant));
	}
	else if (list->ngrants == list->maxgrants)
	{
		list->maxgrants *= 2;
		list->grants = repalloc(list->grants, list->maxgrants * sizeof(DtGrant));
	}
	list->grants[list->ngrants].role = role;
	list->grants[list->ngrants].priv = priv;
	list->ngrants++;
}

static DtPriv
dt_priv_from_name(const char *name)
{
	for (int p = DT_PRIV_PRODUCER; p <= DT_PRIV_ADMIN; p++)
		if (strcmp(name, priv_names[p]) == 0)
			return (DtPriv) p;
	return DT_PRIV_NONE;
}

/*
 * Resolve the catalog part: the grants table and the extension's owner.
 */
static void
dt_acl_resolve(void)
{
	uint64		generation = acl_generation;

	grants_relid = get_relname_relid(DT_GRANTS_TABLE,
									 get_namespace_oid(DT_SCHEMA, false));
	if (OidIsValid(grants_relid))
		ext_owner = dt_extension_owner();
	/* 1.1 catalogs: nothing to enforce */
	acl_valid = generation == acl_generation;
}

/*
 * Read every grant into a fresh cache, from the heap of queue_grants (see
 * the header comment for the snapshot and the lock).  The columns are
 * found by name and type.
 */
static void
dt_acl_load(void)
{
	uint64		generation;
	HASHCTL		ctl;
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	queue_att;
	AttrNumber	role_att;
	AttrNumber	priv_att;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!acl_valid)
		dt_acl_resolve();
	generation = acl_generation;

	if (acl_context == NULL)
		acl_context = AllocSetContextCreate(TopMemoryContext,
											"durable_tasks grants",
											ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(acl_context);
	grant_cache = NULL;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(DtGrantList);
	ctl.hcxt = acl_context;
	grant_cache = hash_create("durable_tasks grants", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	if (!OidIsValid(grants_relid))
	{
		grants_valid = generation == acl_generation;
		return;
	}

	rel = table_open(grants_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	queue_att = dt_rel_column(rel, "queue_name", TEXTOID, false);
	role_att = dt_rel_column(rel, "role_name", REGROLEOID, false);
	priv_att = dt_rel_column(rel, "privilege", TEXTOID, false);

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		queue_null;
		bool		role_null;
		bool		priv_null;
		Datum		queue = heap_getattr(tuple, queue_att, desc, &queue_null);
		Datum		role = heap_getattr(tuple, role_att, desc, &role_null);
		Datum		priv = heap_getattr(tuple, priv_att, desc, &priv_null);

		/* NOT NULL columns; a NULL would grant nothing */
		if (role_null || priv_null)
			continue;
		dt_acl_add(queue_null ? "" : TextDatumGetCString(queue),
				   DatumGetObjectId(role),
				   dt_priv_from_name(TextDatumGetCString(priv)));
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);	/* kept to the end of the transaction */
	grants_valid = generation == acl_generation;
}

/*
 * Are privileges enforced (1.2 catalogs)?  Resolves the catalog part of
 * the cache if needed; never reads the grants.
 */
bool
dt_acl_enforced(void)
{
	if (!acl_valid)
		dt_acl_resolve();
	return OidIsValid(grants_relid);
}

/*
 * The role that SQL of our functions runs as: the extension's owner, or
 * InvalidOid (run as the caller) on 1.1 catalogs or before any check.
 * Every check resolves the catalog part, whether or not it reads the
 * grants.
 */
Oid
dt_acl_run_as(void)
{
	return OidIsValid(grants_relid) ? ext_owner : InvalidOid;
}

static bool
dt_acl_list_has(const char *queue, DtPriv priv, Oid user)
{
	DtGrantList *list = hash_search(grant_cache, queue, HASH_FIND, NULL);

	if (list == NULL)
		return false;
	for (int i = 0; i < list->ngrants; i++)
		if (list->grants[i].priv >= priv &&
			(!OidIsValid(list->grants[i].role) ||
			 has_privs_of_role(user, list->grants[i].role)))
			return true;
	return false;
}

/*
 * Has the current user priv on the queue (queue NULL: on every queue)?
 */
bool
dt_acl_has(const char *queue, DtPriv priv)
{
	Oid			user = dt_caller_userid();

	if (!dt_acl_enforced())
		return true;
	/* decided without the grants: they are read only for other roles */
	if (superuser_arg(user) || has_privs_of_role(user, ext_owner))
		return true;
	if (!grants_valid)
		dt_acl_load();			/* not read yet, or an invalidation since */
	return dt_acl_list_has("", priv, user) ||
		(queue != NULL && dt_acl_list_has(queue, priv, user));
}

/*
 * 42501 unless the current user has priv on the queue (NULL: on every
 * queue), for the function called through fcinfo.  Says nothing of the
 * queue but its name.
 */
void
dt_acl_check(FunctionCallInfo fcinfo, const char *queue, DtPriv priv)
{
	char	   *func;

	/* a grant or revoke another session committed counts from now on */
	AcceptInvalidationMessages();
	if (dt_acl_has(queue, priv))
		return;
	func = get_func_name(fcinfo->flinfo->fn_oid);
	if (queue == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for every queue"),
				 errdetail("durable_tasks.%s needs the %s privilege on every queue.",
						   func, priv_names[priv])));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for queue \"%s\"", queue),
			 errdetail("durable_tasks.%s needs the %s privilege on queue \"%s\".",
					   func, priv_names[priv], queue)));
}

/*
 * create_queue: admin on every queue, or (the queue exists, a no-op or a
 * repair) admin on it.
 */
void
dt_acl_check_create(const char *queue)
{
	AcceptInvalidationMessages();
	if (dt_acl_has(queue, DT_PRIV_ADMIN))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to create queue \"%s\"", queue),
			 errdetail("durable_tasks.create_queue needs the admin privilege on every queue.")));
}

/*
 * May the queue's existing table relid be registered by create_queue?  It
 * must be owned by the extension's owner (on 1.1 catalogs: by the caller).
 */
bool
dt_acl_owns(Oid relid)
{
	HeapTuple	tuple;
	bool		owned;

	if (!dt_acl_enforced())
		return pg_class_ownercheck(relid, dt_caller_userid());
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return false;
	owned = ((Form_pg_class) GETSTRUCT(tuple))->relowner == ext_owner;
	ReleaseSysCache(tuple);
	return owned;
}

/* ---- grant_queue, revoke_queue, list_queue_grants ---- */

/* Argument argno as a role (PUBLIC: InvalidOid). */
static Oid
dt_arg_role(FunctionCallInfo fcinfo, int argno, char **name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role_name must not be null")));
	*name = NameStr(*PG_GETARG_NAME(argno));
	if (strcmp(*name, "public") == 0)
		return InvalidOid;
	return get_role_oid(*name, false);
}

static DtPriv
dt_arg_priv(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = dt_arg_cstring(fcinfo, argno, "privilege", 32);
	DtPriv		priv = dt_priv_from_name(name);

	if (priv == DT_PRIV_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid privilege \"%s\"", name),
				 errhint("The privileges are producer, worker and admin.")));
	return priv;
}

/*
 * Changes of grants take turns: each ends with a GRANT or REVOKE on the
 * schema, which two sessions cannot do at once ("tuple concurrently
 * updated"), and with the sync of the roles' dependencies, which must see
 * the other's rows.  A self-conflicting lock on queue_grants, held to the
 * end of the transaction; spawns and claims never take it.
 */
static void
dt_lock_grants(void)
{
	LockRelationOid(grants_relid, ShareUpdateExclusiveLock);
}

/* The queue of a grant_queue/revoke_queue call (NULL: every queue). */
static char *
dt_arg_grant_queue(FunctionCallInfo fcinfo)
{
	char	   *queue = PG_ARGISNULL(0) ? NULL : dt_arg_queue_name(fcinfo, 0);

	dt_acl_check(fcinfo, queue, DT_PRIV_ADMIN);
	if (!dt_acl_enforced())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue privileges need durable_tasks 1.2"),
				 errhint("Run ALTER EXTENSION durable_tasks UPDATE.")));
	if (queue != NULL && !dt_registry_has(queue))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue)));
	dt_lock_grants();
	return queue;
}

/* How many grants does the role hold (on any queue)? */
static uint64
dt_role_grants(Oid role)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(role)};
	int			ret;

	ret = SPI_execute_with_args("SELECT FROM durable_tasks.queue_grants g "
								"WHERE g.role_name::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "counting a role's queue grants");
	return SPI_processed;
}

/*
 * The roles recorded as holding queue privileges: the shared dependencies
 * of queue_grants on roles (sorted, as updateAclDependencies wants them).
 */
static int
dt_recorded_roles(Oid relid, Oid **roles)
{
	Relation	rel = table_open(SharedDependRelationId, AccessShareLock);
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tuple;
	int			n = 0;
	int			max = 8;

	*roles = palloc(max * sizeof(Oid));
	ScanKeyInit(&key[0], Anum_pg_shdepend_dbid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(MyDatabaseId));
	ScanKeyInit(&key[1], Anum_pg_shdepend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[2], Anum_pg_shdepend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, SharedDependDependerIndexId, true, NULL,
							  3, key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_shdepend dep = (Form_pg_shdepend) GETSTRUCT(tuple);

		if (dep->deptype != SHARED_DEPENDENCY_ACL ||
			dep->refclassid != AuthIdRelationId)
			continue;
		if (n == max)
			*roles = repalloc(*roles, (max *= 2) * sizeof(Oid));
		(*roles)[n++] = dep->refobjid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(*roles, n, sizeof(Oid), oid_cmp);
	return qunique(*roles, n, sizeof(Oid), oid_cmp);
}

/*
 * Make the shared dependencies of queue_grants on roles match its rows:
 * DROP ROLE then refuses a role that holds a queue privilege, as it does
 * for a role with privileges on a table.  Run by the statement trigger on
 * queue_grants, so it also holds for rows that drop_queue's cascade
 * deleted and rows that pg_restore copied back.  Inside SPI.
 */
static void
dt_sync_role_dependencies(Oid relid)
{
	Oid		   *old_roles;
	Oid		   *new_roles;
	int			nold = dt_recorded_roles(relid, &old_roles);
	int			nnew = 0;
	int			ret;

	ret = SPI_execute("SELECT DISTINCT g.role_name::pg_catalog.oid "
					  "FROM durable_tasks.queue_grants g "
					  "WHERE g.role_name::pg_catalog.oid OPERATOR(pg_catalog.<>) 0 "
					  "AND g.role_name::pg_catalog.oid IN (SELECT r.oid FROM pg_catalog.pg_roles r) "
					  "ORDER BY 1", false, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "reading the roles of the queue grants");
	new_roles = palloc((SPI_processed + 1) * sizeof(Oid));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		new_roles[nnew++] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc,
														   1, &isnull));
	}
	/* the owner's own rows are never recorded (as for table ACLs) */
	updateAclDependencies(RelationRelationId, relid, 0, dt_extension_owner(),
						  nold, old_roles, nnew, new_roles);
}

/*
 * Statement trigger on durable_tasks.queue_grants: every backend drops
 * its cached grants (at commit), and the roles' dependencies follow.
 */
Datum
dt_grants_changed(PG_FUNCTION_ARGS)
{
	Oid			relid = dt_trigger_relid(fcinfo);

	CacheInvalidateRelcacheByRelid(relid);
	LockRelationOid(relid, ShareUpdateExclusiveLock);	/* see dt_lock_grants */
	dt_spi_connect();
	dt_sync_role_dependencies(relid);
	dt_spi_finish();
	return PointerGetDatum(NULL);
}

/* GRANT (or REVOKE) USAGE on our schema to the role.  Inside SPI. */
static void
dt_schema_usage(Oid role, const char *rolename, bool grant)
{
	const char *grantee = OidIsValid(role) ? quote_identifier(rolename) : "PUBLIC";
	int			ret;

	/*
	 * Not inside an extension script (the update's translation of 1.1
	 * grants, whose roles have USAGE already): there a GRANT would record
	 * the schema's whole ACL as the extension's initial privileges, and
	 * pg_dump would then leave the DBA's schema grants out of dumps.
	 */
	if (creating_extension)
		return;

	ret = SPI_execute(psprintf(grant ? "GRANT USAGE ON SCHEMA %s TO %s" :
							   "REVOKE USAGE ON SCHEMA %s FROM %s",
							   quote_identifier(DT_SCHEMA), grantee),
					  false, 0);
	dt_spi_check(ret, SPI_OK_UTILITY, "granting usage on the schema");
}

/* The arguments of a grant_queue or revoke_queue call, checked. */
typedef struct DtGrantCall
{
	char	   *queue;			/* NULL: every queue */
	char	   *rolename;
	Oid			role;			/* InvalidOid: PUBLIC */
	Datum		args[3];		/* queue_name, role, privilege */
	char		nulls[4];
} DtGrantCall;

static void
dt_grant_call(FunctionCallInfo fcinfo, DtGrantCall *call)
{
	DtPriv		priv;

	call->queue = dt_arg_grant_queue(fcinfo);
	call->role = dt_arg_role(fcinfo, 1, &call->rolename);
	priv = dt_arg_priv(fcinfo, 2);
	strcpy(call->nulls, call->queue ? "   " : "n  ");
	call->args[0] = call->queue ? CStringGetTextDatum(call->queue) : (Datum) 0;
	call->args[1] = ObjectIdGetDatum(call->role);
	call->args[2] = CStringGetTextDatum(priv_names[priv]);
}

/* Run sql on queue_grants with the call's arguments; how many rows. */
static uint64
dt_grant_exec(DtGrantCall *call, const char *sql, int expected)
{
	Oid			argtypes[3] = {TEXTOID, REGROLEOID, TEXTOID};
	int			ret;

	ret = SPI_execute_with_args(sql, 3, argtypes, call->args, call->nulls,
								false, 0);
	dt_spi_check(ret, expected, "changing the queue grants");
	return SPI_processed;
}

/*
 * drop_queue, and create_queue of a newly registered name: remove the
 * queue's grants, and for each role left without any, the USAGE
 * grant_queue gave it.  Inside SPI.
 */
void
dt_acl_drop_queue(const char *queue)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(queue)};
	List	   *roles = NIL;
	ListCell   *lc;
	int			ret;

	if (!dt_acl_enforced())
		return;
	dt_lock_grants();
	ret = SPI_execute_with_args("DELETE FROM durable_tasks.queue_grants g "
								"WHERE g.queue_name OPERATOR(pg_catalog.=) $1 "
								"RETURNING g.role_name::pg_catalog.oid",
								1, argtypes, args, NULL, false, 0);
	dt_spi_check(ret, SPI_OK_DELETE_RETURNING, "removing a queue's grants");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		roles = list_append_unique_oid(roles,
									   DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc,
																	  1, &isnull)));
	}
	foreach(lc, roles)
	{
		Oid			role = lfirst_oid(lc);
		char	   *rolename = OidIsValid(role) ? GetUserNameFromId(role, true) : "public";

		if (rolename != NULL && dt_role_grants(role) == 0)
			dt_schema_usage(role, rolename, false);
	}
}

/*
 * durable_tasks.grant_queue(queue_name text, role_name name, privilege text)
 * RETURNS void
 *
 * Grants the privilege (and USAGE on the schema); granting it again is a
 * no-op.  Needs admin on the queue (on every queue for NULL).
 */
Datum
dt_grant_queue(PG_FUNCTION_ARGS)
{
	DtGrantCall call;

	dt_grant_call(fcinfo, &call);
	dt_spi_connect();
	if (dt_grant_exec(&call, "INSERT INTO durable_tasks.queue_grants "
					  "(queue_name, role_name, privilege) VALUES ($1, $2, $3) "
					  "ON CONFLICT DO NOTHING", SPI_OK_INSERT) > 0)
		dt_schema_usage(call.role, call.rolename, true);
	dt_spi_finish();
	PG_RETURN_VOID();
}

/*
 * durable_tasks.revoke_queue(queue_name text, role_name name, privilege text)
 * RETURNS void
 *
 * Revokes exactly that grant (a no-op if there is none).  With the role's
 * last grant, also the USAGE on the schema that grant_queue gave it.
 */
Datum
dt_revoke_queue(PG_FUNCTION_ARGS)
{
	DtGrantCall call;

	dt_grant_call(fcinfo, &call);
	dt_spi_connect();
	/* its last grant: nothing is left that grant_queue gave it */
	if (dt_grant_exec(&call, "DELETE FROM durable_tasks.queue_grants g "
					  "WHERE g.queue_name IS NOT DISTINCT FROM $1 "
					  "AND g.role_name OPERATOR(pg_catalog.=) $2 "
					  "AND g.privilege OPERATOR(pg_catalog.=) $3",
					  SPI_OK_DELETE) > 0 &&
		dt_role_grants(call.role) == 0)
		dt_schema_usage(call.role, call.rolename, false);
	dt_spi_finish();
	PG_RETURN_VOID();
}

/*
 * durable_tasks.list_queue_grants(queue_name text DEFAULT NULL)
 * RETURNS TABLE (queue_name text, role_name name, privilege text)
 *
 * For a queue: its grants and the grants on every queue (queue_name
 * NULL); needs admin on it.  For NULL: every grant the caller may see.
 */
Datum
dt_list_queue_grants(PG_FUNCTION_ARGS)
{
	static TupleDesc desc = NULL;
	char	   *queue = PG_ARGISNULL(0) ? NULL : dt_arg_queue_name(fcinfo, 0);
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char		nulls[2] = {queue ? ' ' : 'n', '\0'};
	int			ret;

	dt_srf_init(fcinfo, &desc);
	if (queue != NULL)
		dt_acl_check(fcinfo, queue, DT_PRIV_ADMIN);
	if (!dt_acl_enforced())
		return (Datum) 0;
	if (queue != NULL && !dt_registry_has(queue))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue)));

	args[0] = queue ? CStringGetTextDatum(queue) : (Datum) 0;
	dt_spi_connect();
	ret = SPI_execute_with_args("SELECT g.queue_name, "
								"CASE WHEN g.role_name::pg_catalog.oid OPERATOR(pg_catalog.=) 0 "
								"THEN 'public'::pg_catalog.name "
								"ELSE COALESCE(r.rolname, g.role_name::pg_catalog.text::pg_catalog.name) END, "
								"g.privilege "
								"FROM durable_tasks.queue_grants g "
								"LEFT JOIN pg_catalog.pg_roles r "
								"ON r.oid OPERATOR(pg_catalog.=) g.role_name::pg_catalog.oid "
								"WHERE $1 IS NULL OR g.queue_name IS NULL "
								"OR g.queue_name OPERATOR(pg_catalog.=) $1 "
								"ORDER BY g.queue_name NULLS FIRST, 2, "
								"pg_catalog.array_position(ARRAY['producer', 'worker', 'admin'], g.privilege)",
								1, argtypes, args, nulls, true, 0);
	dt_spi_check(ret, SPI_OK_SELECT, "listing queue grants");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		Datum		values[3];
		bool		isnull[3];
		char	   *row_queue;

		for (int c = 0; c < 3; c++)
			values[c] = SPI_getbinval(tuple, SPI_tuptable->tupdesc, c + 1,
									  &isnull[c]);
		row_queue = isnull[0] ? NULL : TextDatumGetCString(values[0]);
		if (queue == NULL && !dt_acl_has(row_queue, DT_PRIV_ADMIN))
			continue;
		dt_put_row(fcinfo, values, isnull);
	}
	dt_spi_finish();
	return (Datum) 0;
}
