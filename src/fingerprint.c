/*-------------------------------------------------------------------------
 *
 * fingerprint.c
 *	  task_fingerprint(task_name, params): the key only_once spawns use.
 *
 * The fingerprint is the lower-case hex SHA-256 (the server's own
 * implementation) of a canonical byte encoding of (task_name, params).
 * The encoding walks the jsonb value with the jsonb iterator:
 *
 *	  fingerprint = hex(SHA-256("durable_tasks.fingerprint.v1" 0x00
 *								 || S(task_name) || V(params)))
 *
 *	  S(s)		= 's' len32(s) bytes(s)				(UTF-8, as stored)
 *	  V(null)	= 'n'
 *	  V(false)	= 'f'
 *	  V(true)	= 't'
 *	  V(number) = 'd' len32(d) d	where d is the number's decimal text
 *									with insignificant zeroes removed
 *									(numeric_normalize: 1.0, 1 and 1e0
 *									all give "1")
 *	  V(string) = S(string)
 *	  V(array)	= 'a' u32(count) V(e1) ... V(en)
 *	  V(object) = 'o' u32(count) S(k1) V(v1) ... S(kn) V(vn)
 *
 * len32/u32 are unsigned 32-bit big-endian integers.  Object keys come in
 * jsonb's storage order (shorter keys first, then bytewise), which is part
 * of jsonb's on-disk format and the same for every jsonb-equal value, so
 * key order and whitespace of the input never matter.  A scalar params
 * value (jsonb's raw scalar) is encoded as the scalar itself.  Every item
 * is tagged and every variable part is length- or count-prefixed, so no
 * two different (task_name, params) pairs share an encoding.  Nothing
 * depends on the machine's byte order or on the server version.
 *
 * Copyright (c) 2026, durable_tasks authors
 *
 * src/fingerprint.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "durable_tasks.h"

PG_FUNCTION_INFO_V1(dt_task_fingerprint);

#define FINGERPRINT_DOMAIN "durable_tasks.fingerprint.v1"

static void
enc_u32(StringInfo buf, uint32 n)
{
	unsigned char b[4] = {n >> 24, n >> 16, n >> 8, n};

	appendBinaryStringInfo(buf, (char *) b, 4);
}

static void
enc_bytes(StringInfo buf, char tag, const char *data, int len)
{
	appendStringInfoChar(buf, tag);
	enc_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, data, len);
}

static void
enc_scalar(StringInfo buf, JsonbValue *v)
{
	char	   *num;

	switch (v->type)
	{
		case jbvNull:
			appendStringInfoChar(buf, 'n');
			break;
		case jbvBool:
			appendStringInfoChar(buf, v->val.boolean ? 't' : 'f');
			break;
		case jbvNumeric:
			num = numeric_normalize(v->val.numeric);
			enc_bytes(buf, 'd', num, strlen(num));
			pfree(num);
			break;
		case jbvString:
			enc_bytes(buf, 's', v->val.string.val, v->val.string.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

static void
enc_jsonb(StringInfo buf, Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				if (!v.val.array.rawScalar)
				{
					appendStringInfoChar(buf, 'a');
					enc_u32(buf, (uint32) v.val.array.nElems);
				}
				break;
			case WJB_BEGIN_OBJECT:
				appendStringInfoChar(buf, 'o');
				enc_u32(buf, (uint32) v.val.object.nPairs);
				break;
			case WJB_KEY:
			case WJB_VALUE:
			case WJB_ELEM:
				enc_scalar(buf, &v);
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
			case WJB_DONE:
				break;
		}
	}
}

/*
 * The fingerprint of (task_name, params), palloc'd hex text.
 */
char *
dt_fingerprint(const char *task_name, Jsonb *params)
{
	StringInfoData buf;
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, FINGERPRINT_DOMAIN,
						   sizeof(FINGERPRINT_DOMAIN));	/* with its NUL */
	enc_bytes(&buf, 's', task_name, strlen(task_name));
	enc_jsonb(&buf, params);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	pfree(buf.data);

	hex_encode((char *) digest, PG_SHA256_DIGEST_LENGTH, hex);
	hex[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	return hex;
}

/*
 * durable_tasks.task_fingerprint(task_name text, params jsonb) RETURNS text
 */
Datum
dt_task_fingerprint(PG_FUNCTION_ARGS)
{
	char	   *task_name = dt_arg_cstring(fcinfo, 0, "task_name",
										   DT_TASK_NAME_MAXLEN);
	Jsonb	   *params = dt_arg_jsonb(fcinfo, 1, "params");

	PG_RETURN_TEXT_P(cstring_to_text(dt_fingerprint(task_name, params)));
}
