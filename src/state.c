/*-------------------------------------------------------------------------
 *
 * state.c
 *	  Task and run states, and the one table of the moves between them.
 *
 * Every state change the extension makes is one of the moves below, and
 * the states a move may leave are written here only: the SQL texts of the
 * other modules name a move ({task_from:claim}, {run_to:retry}, ...) and
 * plans.c expands it from this table when it prepares the plan, and the C
 * checks (dt_task_may) read the same table.
 *
 *	  move		task from				 task to	run from	 run to
 *	  claim		pending					 running	pending		 running
 *	  drop		pending					 cancelled	pending		 cancelled
 *	  complete	pending running sleeping completed	running		 completed
 *	  retry		pending running sleeping pending	running		 failed
 *	  fail		pending running sleeping failed		running		 failed
 *	  cancel	pending running sleeping cancelled	pending running
 *												    sleeping	 cancelled
 *
 * "drop" is a ready run whose task passed a cancellation deadline, met by
 * claim_task.  No locks here: the callers lock the rows they move.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "durable_tasks.h"

#define S(state) (1 << (state))
#define LIVE (S(DT_PENDING) | S(DT_RUNNING) | S(DT_SLEEPING))

static const char *const state_names[DT_NUM_STATES] = {
	[DT_PENDING] = "pending",
	[DT_RUNNING] = "running",
	[DT_SLEEPING] = "sleeping",
	[DT_COMPLETED] = "completed",
	[DT_FAILED] = "failed",
	[DT_CANCELLED] = "cancelled",
};

typedef struct DtMoveDef
{
	const char *name;
	int			task_from;		/* bit set of states */
	DtState		task_to;
	int			run_from;
	DtState		run_to;
} DtMoveDef;

static const DtMoveDef moves[DT_NUM_MOVES] = {
	[DT_MOVE_CLAIM] = {"claim", S(DT_PENDING) | S(DT_SLEEPING), DT_RUNNING,
	S(DT_PENDING) | S(DT_SLEEPING), DT_RUNNING},
	[DT_MOVE_CLAIM_PENDING] = {"claim_pending", S(DT_PENDING), DT_RUNNING,
	S(DT_PENDING), DT_RUNNING},
	[DT_MOVE_DROP] = {"drop", S(DT_PENDING) | S(DT_SLEEPING), DT_CANCELLED,
	S(DT_PENDING) | S(DT_SLEEPING), DT_CANCELLED},
	[DT_MOVE_SLEEP] = {"sleep", S(DT_RUNNING), DT_SLEEPING, S(DT_RUNNING), DT_SLEEPING},
	[DT_MOVE_COMPLETE] = {"complete", LIVE, DT_COMPLETED, S(DT_RUNNING), DT_COMPLETED},
	[DT_MOVE_RETRY] = {"retry", LIVE, DT_PENDING, S(DT_RUNNING), DT_FAILED},
	[DT_MOVE_FAIL] = {"fail", LIVE, DT_FAILED, S(DT_RUNNING), DT_FAILED},
	[DT_MOVE_CANCEL] = {"cancel", LIVE, DT_CANCELLED, LIVE, DT_CANCELLED},
};

const char *
dt_state_name(DtState state)
{
	return state_names[state];
}

/*
 * The state's name as a text Datum, for a statement's parameter; built
 * once per backend.
 */
Datum
dt_state_text(DtState state)
{
	static Datum texts[DT_NUM_STATES];

	if (texts[state] == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		texts[state] = CStringGetTextDatum(state_names[state]);
		MemoryContextSwitchTo(old);
	}
	return texts[state];
}

static int
dt_state_lookup(const char *state)
{
	for (int i = 0; i < DT_NUM_STATES; i++)
		if (strcmp(state, state_names[i]) == 0)
			return i;
	return -1;
}

/*
 * Is a task or run state terminal (completed, failed, cancelled)?  An
 * unknown state (hand-made damage) is treated as terminal: nothing moves
 * it.
 */
bool
dt_state_is_terminal(const char *state)
{
	int			s = dt_state_lookup(state);

	return s < 0 || (S(s) & LIVE) == 0;
}

/* May a task in this state take part in the move? */
bool
dt_task_may(DtMove move, const char *state)
{
	int			s = dt_state_lookup(state);

	return s >= 0 && (moves[move].task_from & S(s)) != 0;
}

static const DtMoveDef *
dt_move_lookup(const char *name, int len)
{
	for (int i = 0; i < DT_NUM_MOVES; i++)
		if ((int) strlen(moves[i].name) == len &&
			strncmp(moves[i].name, name, len) == 0)
			return &moves[i];
	elog(ERROR, "unknown state move \"%.*s\"", len, name);
	return NULL;				/* keep compiler quiet */
}

/* "OPERATOR(pg_catalog.=) 'a'" or "OPERATOR(pg_catalog.=) ANY ('{a,b}'::text[])" */
static void
dt_append_state_set(StringInfo buf, int set)
{
	int			n = 0;

	for (int i = 0; i < DT_NUM_STATES; i++)
		n += (set & S(i)) != 0;
	appendStringInfoString(buf, n == 1 ? "OPERATOR(pg_catalog.=) '" :
						   "OPERATOR(pg_catalog.=) ANY ('{");
	for (int i = 0, k = 0; i < DT_NUM_STATES; i++)
		if (set & S(i))
			appendStringInfo(buf, "%s%s", k++ ? "," : "", state_names[i]);
	appendStringInfoString(buf, n == 1 ? "'" : "}'::pg_catalog.text[])");
}

/*
 * p points just after "{" of a state placeholder, "task_from:MOVE}",
 * "task_to:MOVE}", "run_from:MOVE}" or "run_to:MOVE}": append its SQL
 * and return the position after the closing brace.  NULL if p is not a
 * state placeholder.
 */
const char *
dt_append_state_sql(StringInfo buf, const char *p)
{
	static const char *const kinds[] = {"task_from:", "task_to:",
	"run_from:", "run_to:"};
	const char *end;
	const DtMoveDef *move;
	int			kind;

	for (kind = 0; kind < 4; kind++)
		if (strncmp(p, kinds[kind], strlen(kinds[kind])) == 0)
			break;
	if (kind == 4 || (end = strchr(p, '}')) == NULL)
		return NULL;
	p += strlen(kinds[kind]);
	move = dt_move_lookup(p, end - p);

	switch (kind)
	{
		case 0:
			dt_append_state_set(buf, move->task_from);
			break;
		case 1:
			appendStringInfo(buf, "'%s'", state_names[move->task_to]);
			break;
		case 2:
			dt_append_state_set(buf, move->run_from);
			break;
		case 3:
			appendStringInfo(buf, "'%s'", state_names[move->run_to]);
			break;
	}
	return end + 1;
}
