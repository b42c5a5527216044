/*-------------------------------------------------------------------------
 *
 * durable_tasks.h
 *	  Declarations shared by the durable_tasks modules.
 *
 * Module map (one concern per file):
 *	  durable_tasks.c  _PG_init, module magic
 *	  args.c           argument checks shared by every SQL-callable function
 *	  queue.c          per-backend queue cache: kept SPI plans, queue settings
 *	  options.c        spawn options and retry strategies (jsonb parsing)
 *	  uuid7.c          time-ordered UUIDs
 *	  fingerprint.c    canonical jsonb encoding and its SHA-256
 *	  keyprobe.c       the holder of a key, straight from its index
 *	  spawn.c          spawn_task (1.0 and 1.1, first-served deduplication)
 *	  claim.c          claim_task, extend_claim, lease expiry
 *	  finish.c         complete_run, fail_run, retries
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
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define DT_SCHEMA				"durable_tasks"
#define DT_QUEUE_NAME_MAXLEN	48
#define DT_TASK_NAME_MAXLEN		255
#define DT_WORKER_ID_MAXLEN		255
#define DT_IDEMPOTENCY_KEY_MAXLEN 512

/* SQLSTATE TD001: an idempotency key's holder has other (task_name, params) */
#define ERRCODE_DT_KEY_PARAMS_MISMATCH	MAKE_SQLSTATE('T','D','0','0','1')

/* Upper bound for any duration given in seconds (10 years). */
#define DT_MAX_SECONDS			(10.0 * 365 * 86400)

/* ---- args.c ---- */
extern void dt_check_queue_name(const char *queue_name);
extern char *dt_arg_cstring(FunctionCallInfo fcinfo, int argno,
							const char *argname, int maxlen);
extern Jsonb *dt_arg_jsonb(FunctionCallInfo fcinfo, int argno,
						   const char *argname);
extern pg_uuid_t *dt_arg_uuid(FunctionCallInfo fcinfo, int argno,
							  const char *argname);
extern int32 dt_arg_int32(FunctionCallInfo fcinfo, int argno,
						  const char *argname, int32 min, int32 max);
extern void dt_srf_init(FunctionCallInfo fcinfo, TupleDesc *cache);
extern void dt_put_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls);
extern void dt_put_spi_rows(FunctionCallInfo fcinfo);
extern bool dt_state_is_terminal(const char *state);
extern char *dt_uuid_str(pg_uuid_t *uuid);
extern void dt_spi_connect(void);
extern void dt_spi_finish(void);

/* ---- queue.c ---- */

/*
 * Every SQL text the C code runs is a DtPlanDef: a template in which
 * {tasks} stands for the queue's task table and {runs} for its run table
 * (both schema-qualified and quoted), prepared once per backend and queue.
 */
typedef enum DtPlanId
{
	DT_PLAN_SPAWN_INSERT,		/* spawn.c: task + first run (1.0) */
	DT_PLAN_SPAWN_INSERT_KEYED, /* spawn.c: same, ON CONFLICT DO NOTHING */
	DT_PLAN_PARENT_EXISTS,		/* spawn.c */
	DT_PLAN_KEY_RELEASE,		/* spawn.c: release a key from its holder */
	DT_PLAN_LEASE_SWEEP,		/* claim.c: expired leases */
	DT_PLAN_CLAIM,				/* claim.c: up to $3 runs */
	DT_PLAN_CLAIM_ONE,			/* claim.c: one run */
	DT_PLAN_EXTEND,				/* claim.c */
	DT_PLAN_RUN_STATUS,			/* finish.c: why a run cannot be finished */
	DT_PLAN_COMPLETE,			/* finish.c */
	DT_PLAN_FAIL_LOCK,			/* finish.c */
	DT_PLAN_FAIL_RETRY,			/* finish.c */
	DT_PLAN_FAIL_FINAL,			/* finish.c */
	DT_PLAN_GET_TASK,			/* task.c (1.0 columns) */
	DT_PLAN_GET_TASK_1_1,		/* task.c */
	DT_NUM_PLANS
} DtPlanId;

#define DT_PLAN_MAX_ARGS 12

typedef struct DtPlanDef
{
	DtPlanId	id;
	const char *sql;
	int			nargs;
	Oid			argtypes[DT_PLAN_MAX_ARGS];
} DtPlanDef;

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

/* Where keyprobe.c finds what it reads (cached; InvalidOid = stale). */
#define DT_PROBE_NCOLUMNS 8

typedef struct DtProbeLayout
{
	Oid			task_relid;
	Oid			index_relid;
	AttrNumber	attnums[DT_PROBE_NCOLUMNS];
} DtProbeLayout;

typedef struct DtQueue
{
	char		name[NAMEDATALEN];	/* hash key */
	Oid			task_relid;		/* t_<queue>, as of dt_queue_open() */
	SPIPlanPtr	plans[DT_NUM_PLANS];
	bool		policy_valid;
	DtDedupPolicy policy;		/* the queue's defaults (1.1 registry) */
	DtProbeLayout probe;
} DtQueue;

extern void dt_queue_init(void);
extern DtQueue *dt_queue_open(FunctionCallInfo fcinfo, int argno);
extern SPIPlanPtr dt_queue_plan(DtQueue *queue, const DtPlanDef *def);
extern const DtDedupPolicy *dt_queue_policy(DtQueue *queue);
extern void dt_spi_check(int ret, int expected, const char *what);

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
	Jsonb	   *headers;		/* NULL if not given */
	int32		max_attempts;
	Jsonb	   *retry_strategy; /* validated, never NULL */
	TimestampTz available_at;
	Jsonb	   *cancellation;	/* NULL if not given */
	bool		has_parent;
	bool		parent_checked; /* spawn.c: its existence was looked up */
	pg_uuid_t	parent_task_id;
	/* 1.1: which deduplication settings override the queue's, and how */
	bool		set_key_reuse;
	bool		set_ttl;
	bool		set_mismatch;
	DtDedupPolicy dedup;
} DtSpawnOptions;

extern void dt_parse_spawn_options(Jsonb *options, bool allow_dedup,
								   DtSpawnOptions *out);
extern void dt_dedup_policy(const DtSpawnOptions *opts,
							const DtDedupPolicy *dflt, DtDedupPolicy *out);
extern void dt_parse_retry_strategy(Jsonb *strategy, DtRetryStrategy *out);
extern double dt_retry_delay(const DtRetryStrategy *strategy, int32 attempt);

/* ---- uuid7.c ---- */
extern void dt_uuid_v7_generate(pg_uuid_t *out);

/* ---- fingerprint.c ---- */
extern char *dt_fingerprint(const char *task_name, Jsonb *params);

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

extern bool dt_probe_key(DtQueue *queue, const char *key, bool first,
						 bool want_params, DtHolder *holder);

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
							   Datum reason, bool reason_isnull,
							   DtFailResult *res);
extern void dt_run_not_held_error(DtQueue *queue, pg_uuid_t *run_id) pg_attribute_noreturn();

#endif							/* DURABLE_TASKS_H */
