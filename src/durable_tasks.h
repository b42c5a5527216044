/*-------------------------------------------------------------------------
 *
 * durable_tasks.h
 *	  Declarations shared by the durable_tasks modules.
 *
 * Module map (one concern per file):
 *	  durable_tasks.c  _PG_init, module magic
 *	  args.c           argument checks shared by every SQL-callable function
 *	  acl.c            privileges on queues: grants, checks, grant_queue
 *	  spi_util.c       SPI connect/finish under a fixed search_path, as the
 *	                   extension's owner; result checks
 *	  srf.c            materialized set-returning results
 *	  state.c          task and run states, and the table of allowed moves
 *	  queue.c          queue lookup (name -> OIDs under a lock), the
 *	                   per-backend queue cache and its invalidation
 *	  layout.c         a queue's tables: expected columns and key index,
 *	                   validation, and the per-version DDL steps
 *	  plans.c          kept SPI plans keyed by (queue, plan definition)
 *	  admin.c          create_queue, alter_queue, drop_queue, layout steps
 *	  options.c        spawn options and retry strategies (jsonb parsing)
 *	  uuid7.c          time-ordered UUIDs
 *	  fingerprint.c    canonical jsonb encoding and its SHA-256
 *	  keyprobe.c       the holder of a key, straight from its index
 *	  leaseprobe.c     whether a lease may have expired, from its index
 *	  spawn.c          spawn_task (1.0 and 1.1, first-served deduplication)
 *	  bulk.c           spawn_tasks: many spawns in one call
 *	  await.c          await_task: wait for a task to finish
 *	  claim.c          claim_task, extend_claim, lease expiry
 *	  finish.c         complete_run, fail_run, retries
 *	  cancel.c         cancel_task
 *	  checkpoint.c     set_checkpoint, get_checkpoints, get_checkpoint
 *	  sleep.c          sleep_run
 *	  events.c         emit_event, await_event, cleanup_events, fan-in
 *	  stats.c          queue_stats: counts by state, through an index
 *	  cleanup.c        cleanup_tasks: delete finished tasks, keep held keys
 *	  task.c           get_task
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/durable_tasks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_TASKS_H
#define DURABLE_TASKS_H

#include "fmgr.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "storage/lockdefs.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define DT_SCHEMA				"durable_tasks"
#define DT_REGISTRY				"queues"
#define DT_QUEUE_NAME_MAXLEN	48
#define DT_TASK_NAME_MAXLEN		255
#define DT_WORKER_ID_MAXLEN		255
#define DT_IDEMPOTENCY_KEY_MAXLEN 512

/* SQLSTATE TD001: an idempotency key's holder has other (task_name, params) */
#define ERRCODE_DT_KEY_PARAMS_MISMATCH	MAKE_SQLSTATE('T','D','0','0','1')

/* Longest lease a worker may ask for (claim_task, extend_claim, ...). */
#define DT_MAX_CLAIM_SECONDS	86400

/* Upper bound for any duration given in seconds (10 years). */
#define DT_MAX_SECONDS			(10.0 * 365 * 86400)

/* ---- args.c ---- */
extern char *dt_arg_queue_name(FunctionCallInfo fcinfo, int argno);
extern void dt_check_queue_name(const char *queue_name);
extern char *dt_arg_cstring(FunctionCallInfo fcinfo, int argno,
							const char *argname, int maxlen);
extern void dt_check_text_length(const char *argname, int len, int maxlen);
extern Jsonb *dt_arg_jsonb(FunctionCallInfo fcinfo, int argno,
						   const char *argname);
extern pg_uuid_t *dt_arg_uuid(FunctionCallInfo fcinfo, int argno,
							  const char *argname);
extern int32 dt_arg_int32(FunctionCallInfo fcinfo, int argno,
						  const char *argname, int32 min, int32 max);
extern char *dt_uuid_str(pg_uuid_t *uuid);
extern Oid	dt_trigger_relid(FunctionCallInfo fcinfo);

/* ---- acl.c ---- */

/* Privileges on a queue; each includes the ones before it. */
typedef enum DtPriv
{
	DT_PRIV_NONE,
	DT_PRIV_PRODUCER,
	DT_PRIV_WORKER,
	DT_PRIV_ADMIN
} DtPriv;

extern void dt_acl_init(void);
extern const char *dt_priv_name(DtPriv priv);
extern bool dt_acl_enforced(void);
extern Oid	dt_acl_run_as(void);
extern bool dt_acl_has(const char *queue, DtPriv priv);
extern void dt_acl_check(FunctionCallInfo fcinfo, const char *queue,
						 DtPriv priv);
extern void dt_acl_check_create(const char *queue);
extern bool dt_acl_owns(Oid relid);
extern void dt_acl_drop_queue(const char *queue);

/* ---- spi_util.c ---- */
extern void dt_spi_init(void);
extern void dt_spi_connect(void);
extern void dt_spi_finish(void);
extern Oid	dt_caller_userid(void);
extern void dt_spi_check(int ret, int expected, const char *what);
extern void dt_push_statement_snapshot(void);

/* ---- srf.c ---- */
extern void dt_srf_init(FunctionCallInfo fcinfo, TupleDesc *cache);
extern void dt_put_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls);
extern void dt_put_spi_rows(FunctionCallInfo fcinfo);

/* ---- state.c ---- */
typedef enum DtState
{
	DT_PENDING,
	DT_RUNNING,
	DT_SLEEPING,
	DT_COMPLETED,
	DT_FAILED,
	DT_CANCELLED,
	DT_NUM_STATES
} DtState;

/* The moves of tasks and runs; state.c says which states each one leaves. */
typedef enum DtMove
{
	DT_MOVE_CLAIM,				/* a worker takes a ready or due sleeping run */
	DT_MOVE_CLAIM_PENDING,		/* the same on a 1.1 layout (no sleeping) */
	DT_MOVE_DROP,				/* a ready run past a deadline is cancelled */
	DT_MOVE_SLEEP,				/* the lease holder suspends its run */
	DT_MOVE_COMPLETE,
	DT_MOVE_RETRY,				/* a run failed, another follows */
	DT_MOVE_FAIL,				/* a run failed, the task fails for good */
	DT_MOVE_CANCEL,
	DT_NUM_MOVES
} DtMove;

extern const char *dt_state_name(DtState state);
extern Datum dt_state_text(DtState state);
extern bool dt_state_is_terminal(const char *state);
extern bool dt_task_may(DtMove move, const char *state);
extern const char *dt_append_state_sql(StringInfo buf, const char *p);

/* ---- queue.c ---- */

typedef enum DtKeyReuse
{
	DT_KEY_REUSE_AFTER_FAILURE,
	DT_KEY_REUSE_AFTER_FINISH,
	DT_KEY_REUSE_NEVER
} DtKeyReuse;

/* Deduplication policy: a queue's defaults, or one spawn's. */
typedef struct DtDedupPolicy
{
	DtKeyReuse	key_reuse;
	bool		has_ttl;
	int32		dedup_ttl_seconds;
	bool		mismatch_error;
} DtDedupPolicy;

/*
 * Columns of the queue's tables that C code reads from tuples (layout.c):
 * of the task table, then of the run table.
 */
typedef enum DtProbeColumn
{
	DT_COL_TASK_ID,
	DT_COL_STATE,
	DT_COL_LAST_RUN_ID,
	DT_COL_ATTEMPTS,
	DT_COL_FINISHED_AT,
	DT_COL_TASK_NAME,
	DT_COL_PARAMS,
	DT_COL_IDEMPOTENCY_KEY,
	DT_COL_KEY_RELEASED_AT,
	DT_COL_RUN_STATE,
	DT_COL_RUN_CLAIM_EXPIRES_AT,
	DT_NUM_PROBE_COLUMNS
} DtProbeColumn;

/*
 * A queue as this backend knows it: the cache entry, keyed by the OID of
 * its task table.  Everything in it was read and checked under a lock on
 * the task table; the relcache callback clears "valid" (layout) and
 * "registry_valid" (settings); a stale entry is checked again on next use,
 * or freed with its plans once its task table is gone (dt_queue_sweep).
 */
typedef struct DtQueue
{
	Oid			task_relid;		/* hash key */
	char		name[NAMEDATALEN];
	bool		valid;			/* layout checked since the last change */
	bool		registry_valid; /* policy read since the last change */
	bool		dead;			/* dt_queue_sweep: its task table is gone */
	Oid			run_relid;
	Oid			key_index;		/* InvalidOid: a 1.0 layout, no key */
	Oid			ckpt_relid;		/* InvalidOid: a 1.1 layout, no checkpoints */
	Oid			due_index;		/* ri_<q>_due; InvalidOid: a 1.1 layout, no
								 * sleeping runs */
	Oid			event_relid;	/* e_<q>; InvalidOid: no events (1.1) */
	Oid			wait_relid;		/* w_<q> */
	Oid			lease_index;	/* ri_<q>_lease, if it is the layout's; else
								 * InvalidOid: sweep without a probe */
	AttrNumber	attnums[DT_NUM_PROBE_COLUMNS];
	DtDedupPolicy policy;		/* the queue's defaults (registry) */
	/* claim.c's scan floors (0: none yet), and when each last scanned all */
	TimestampTz claim_floor;	/* (claim_floor, claim_floor_run): a run's
								 * (available_at, run_id) */
	pg_uuid_t	claim_floor_run;
	TimestampTz claim_full_at;
	TimestampTz sweep_floor;
	TimestampTz sweep_full_at;
} DtQueue;

extern void dt_queue_init(void);
extern void dt_queue_sweep(void);
extern DtQueue *dt_queue_open(FunctionCallInfo fcinfo, int argno,
							  LOCKMODE lockmode, DtPriv priv);
extern DtQueue *dt_queue_open_name(const char *name, LOCKMODE lockmode);
extern Oid	dt_queue_relation(const char *prefix, const char *name,
							  LOCKMODE lockmode, bool owner);
extern const DtDedupPolicy *dt_queue_policy(DtQueue *queue);
extern void dt_queue_missing_error(const char *name, const char *missing,
								   bool partial) pg_attribute_noreturn();
extern bool dt_registry_has(const char *name);

/* ---- layout.c ---- */

/* A queue's tables by prefix, each after the tables it references. */
#define DT_NUM_QUEUE_TABLES 5
extern const char *const dt_queue_tables[DT_NUM_QUEUE_TABLES];

extern void dt_layout_check(DtQueue *queue);
extern AttrNumber dt_rel_column(Relation rel, const char *name, Oid type,
								 bool missing_ok);
extern void dt_layout_step(const char *queue_name, const char *version);
extern void dt_layout_create(const char *queue_name);
extern void dt_qualified_name(char *buf, const char *prefix,
							  const char *queue_name);

/* ---- plans.c ---- */

/*
 * Every SQL text the C code runs on a queue is a DtPlanDef, owned by the
 * module that runs it: a template in which {tasks} and {runs} stand for
 * the queue's tables (qualified, quoted; {checkpoints} too) and {task_from:MOVE},
 * {run_from:MOVE} and {to:MOVE} for the states of state.c's table.  It is
 * prepared once per backend and queue; the plan cache is keyed by (task
 * table OID, definition).
 */
#define DT_PLAN_MAX_ARGS 12

typedef struct DtPlanDef
{
	const char *name;			/* for messages */
	const char *sql;
	int			nargs;
	Oid			argtypes[DT_PLAN_MAX_ARGS];
	int			cursor_options; /* DT_PLAN_CHOOSE or DT_PLAN_GENERIC */
} DtPlanDef;

/* the plan cache chooses (custom plans first), or always the generic plan */
#define DT_PLAN_CHOOSE		0
#define DT_PLAN_GENERIC		CURSOR_OPT_GENERIC_PLAN

extern void dt_plans_init(void);
extern SPIPlanPtr dt_plan(DtQueue *queue, const DtPlanDef *def);
extern void dt_plans_sweep(bool (*dead) (Oid task_relid));
extern void dt_plans_forget(Oid task_relid);

/* ---- options.c ---- */
typedef enum DtRetryKind
{
	DT_RETRY_NONE,
	DT_RETRY_FIXED,
	DT_RETRY_EXPONENTIAL
} DtRetryKind;

typedef struct DtRetryStrategy
{
	DtRetryKind kind;
	double		base_seconds;
	double		factor;
	double		max_seconds;	/* 0 = no cap */
} DtRetryStrategy;

typedef struct DtSpawnOptions
{
	TimestampTz now;			/* the clock at the call */
	Jsonb	   *headers;		/* NULL if not given */
	int32		max_attempts;
	Jsonb	   *retry_strategy; /* validated, never NULL */
	TimestampTz available_at;
	Jsonb	   *cancellation;	/* NULL if not given */
	bool		has_parent;
	bool		parent_checked; /* spawn.c: locked and checked */
	pg_uuid_t	parent_task_id;
	/* 1.1: which deduplication settings override the queue's, and how */
	bool		set_key_reuse;
	bool		set_ttl;
	bool		set_mismatch;
	DtDedupPolicy dedup;
} DtSpawnOptions;

extern void dt_parse_spawn_options(Jsonb *options, bool allow_dedup,
								   DtSpawnOptions *out);
extern void dt_parse_queue_options(Jsonb *options);
extern void dt_dedup_policy(const DtSpawnOptions *opts,
							const DtDedupPolicy *dflt, DtDedupPolicy *out);
extern void dt_parse_retry_strategy(Jsonb *strategy, DtRetryStrategy *out);
extern char *dt_try_parse_retry_strategy(Jsonb *strategy,
										 DtRetryStrategy *out);
extern double dt_retry_delay(const DtRetryStrategy *strategy, int32 attempt);

/* ---- uuid7.c ---- */
extern void dt_uuid_v7_generate(pg_uuid_t *out);

/* ---- fingerprint.c ---- */
extern char *dt_fingerprint(const char *task_name, Jsonb *params);

/* ---- leaseprobe.c ---- */
extern bool dt_leases_may_expire(DtQueue *queue, TimestampTz floor,
								 TimestampTz now);

/* ---- keyprobe.c ---- */

/* The task holding an idempotency key, as a probe saw it. */
typedef struct DtHolder
{
	pg_uuid_t	task_id;
	char	   *state;
	pg_uuid_t	last_run_id;
	int32		attempts;
	bool		finished_null;
	TimestampTz finished_at;
	char	   *task_name;		/* only if asked for */
	Jsonb	   *params;			/* only if asked for */
} DtHolder;

extern bool dt_probe_key(DtQueue *queue, const char *key, bool want_params,
						 DtHolder *holder);

/* ---- spawn.c ---- */

/* What one spawn returns. */
typedef struct DtSpawnResult
{
	pg_uuid_t	task_id;
	pg_uuid_t	run_id;
	int32		attempt;
	bool		created;
	char	   *state;
} DtSpawnResult;

extern void dt_spawn_one(DtQueue *queue, const char *task_name, Jsonb *params,
						 bool only_once, const char *key,
						 DtSpawnOptions *opts, DtSpawnResult *res);
extern bool dt_spawn_probe(DtQueue *queue, const char *task_name,
						   Jsonb *params, DtSpawnOptions *opts,
						   const char *key, bool explicit_key,
						   DtSpawnResult *res);
extern void dt_spawn_check_parent(DtQueue *queue, DtSpawnOptions *opts);
extern void dt_policy_terminal_blocks(const DtDedupPolicy *policy,
									  TimestampTz now, bool *block_all,
									  TimestampTz *completed_cutoff);

/* ---- sleep.c, cleanup.c, events.c ---- */
#define DT_MAX_CLEANUP_BATCH	100000
extern void dt_sleep_held(DtQueue *queue, pg_uuid_t *run_id,
						  TimestampTz wake_at, TimestampTz now);
extern bool dt_cleanup_cutoff(FunctionCallInfo fcinfo, int argno,
							  TimestampTz *cutoff);
extern void dt_emit_child_events(DtQueue *queue, Datum *task_ids,
								 int ntasks, TimestampTz now);

/*
 * SQL: the run r is held, a lease that is live at the clock "now" (a
 * parameter, e.g. "$3").  Every writer that only the lease holder may
 * call checks the same condition.  The state 'running' is a parameter too
 * (running, e.g. "$4"; dt_state_text(DT_RUNNING)): these statements look a
 * run up by run_id, and a generic plan cannot prove that a parameter
 * matches the predicate of the partial lease index ri_<q>_lease (state =
 * 'running'), so it takes the primary key.  With the constant, a plan made
 * while few leases exist may scan them all, and keeps doing so as they
 * grow.
 */
#define DT_RUN_IS_HELD(now, running) \
	"r.state OPERATOR(pg_catalog.=) " running " " \
	"AND r.claim_expires_at OPERATOR(pg_catalog.>) " now

/* ---- claim.c ---- */
extern void dt_claim_init(void);
extern void dt_claim_floor_lower(DtQueue *queue, TimestampTz t);

/* ---- finish.c ---- */
typedef struct DtFailResult
{
	pg_uuid_t	task_id;
	bool		retried;		/* else the task failed for good */
	pg_uuid_t	retry_run_id;
	int32		retry_attempt;
	TimestampTz retry_available_at;
} DtFailResult;

extern void dt_fail_locked_run(DtQueue *queue, HeapTuple run, TupleDesc desc,
							   Jsonb *reason, TimestampTz now,
							   DtFailResult *res);
extern void dt_run_not_held_error(DtQueue *queue, pg_uuid_t *run_id) pg_attribute_noreturn();
extern void dt_run_check_held(DtQueue *queue, pg_uuid_t *run_id,
							  TimestampTz *now);
extern void dt_run_task_check(DtQueue *queue, pg_uuid_t *run_id,
							  DtMove move) pg_attribute_noreturn();

#endif							/* DURABLE_TASKS_H */
