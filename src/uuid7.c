/*-------------------------------------------------------------------------
 *
 * uuid7.c
 *	  Time-ordered UUIDs for task and run ids.
 *
 * Layout (RFC 9562, version 7): 48 bits of Unix time in milliseconds, the
 * version nibble, 12 bits of sub-millisecond fraction (so ids made in one
 * backend sort in creation order even within a millisecond), the variant
 * bits, then 62 random bits from pg_strong_random().  If the clock does not
 * move forward between two calls, the previous timestamp is bumped by one
 * fraction step, keeping ids from one backend strictly increasing.
 *
 * PostgreSQL 15 has no uuidv7(); this is the only id generator we own.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/uuid7.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "fmgr.h"
#include "utils/uuid.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_uuid_v7);

/* 1 ms is divided into 4096 steps, one per value of the 12-bit field */
#define SUBMS_STEPS 4096

void
dt_uuid_v7_generate(pg_uuid_t *out)
{
	static uint64 last = 0;		/* ms * SUBMS_STEPS + fraction */
	struct timeval tv;
	uint64		now;
	uint64		ms;
	uint32		frac;

	gettimeofday(&tv, NULL);
	now = ((uint64) tv.tv_sec * 1000 + tv.tv_usec / 1000) * SUBMS_STEPS +
		(uint64) (tv.tv_usec % 1000) * SUBMS_STEPS / 1000;
	if (now <= last)
		now = last + 1;
	last = now;

	ms = now / SUBMS_STEPS;
	frac = (uint32) (now % SUBMS_STEPS);

	if (!pg_strong_random(out->data + 8, 8))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));

	out->data[0] = (unsigned char) (ms >> 40);
	out->data[1] = (unsigned char) (ms >> 32);
	out->data[2] = (unsigned char) (ms >> 24);
	out->data[3] = (unsigned char) (ms >> 16);
	out->data[4] = (unsigned char) (ms >> 8);
	out->data[5] = (unsigned char) ms;
	out->data[6] = (unsigned char) (0x70 | (frac >> 8));	/* version 7 */
	out->data[7] = (unsigned char) frac;
	out->data[8] = (out->data[8] & 0x3F) | 0x80;	/* variant 10 */
}

/*
 * durable_tasks.uuid_v7() RETURNS uuid
 */
Datum
dt_uuid_v7(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

	dt_uuid_v7_generate(uuid);
	PG_RETURN_UUID_P(uuid);
}
