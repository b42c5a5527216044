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
 *	  S(s)		= 's' len32(s) bytes(s)				(UTF-8, whatever the
 *													 database encoding)
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
 * key order and whitespace of the input never matter.  In a database
 * whose encoding is not UTF-8, strings are converted to UTF-8 and the
 * members of each object put in that order by their UTF-8 keys, so every
 * encoding gives the same bytes.  A scalar params value (jsonb's raw
 * scalar) is encoded as the scalar itself.  Every item
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
#include "mb/pg_wchar.h"
#include "miscadmin.h"
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

/*
 * S(s): the string as UTF-8.  In a UTF8 database that is the stored
 * bytes; otherwise they are converted (pg_server_to_any), so that a
 * fingerprint never depends on the database encoding.
 */
static void
enc_string(StringInfo buf, const char *data, int len)
{
	char	   *utf8 = (char *) data;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = pg_server_to_any(data, len, PG_UTF8);
		if (utf8 != data)
			len = strlen(utf8);
	}
	appendStringInfoChar(buf, 's');
	enc_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, utf8, len);
	if (utf8 != data)
		pfree(utf8);
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
			appendStringInfoChar(buf, 'd');
			enc_u32(buf, (uint32) strlen(num));
			appendStringInfoString(buf, num);
			pfree(num);
			break;
		case jbvString:
			enc_string(buf, v->val.string.val, v->val.string.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

static void enc_container(StringInfo buf, JsonbContainer *jc);

static void
enc_value(StringInfo buf, JsonbValue *v)
{
	if (v->type == jbvBinary)
		enc_container(buf, v->val.binary.data);
	else
		enc_scalar(buf, v);
}

/* One object member, encoded, for sorting by its UTF-8 key. */
typedef struct EncPair
{
	int			keylen;			/* bytes of the UTF-8 key */
	const char *key;			/* the key's bytes inside enc */
	StringInfoData enc;			/* S(key) V(value) */
} EncPair;

/* jsonb's key order (shorter first, then bytewise), on UTF-8 keys */
static int
enc_pair_cmp(const void *a, const void *b)
{
	const EncPair *pa = (const EncPair *) a;
	const EncPair *pb = (const EncPair *) b;

	if (pa->keylen != pb->keylen)
		return pa->keylen < pb->keylen ? -1 : 1;
	return memcmp(pa->key, pb->key, pa->keylen);
}

/*
 * An object in a database whose encoding is not UTF-8: jsonb stores its
 * keys ordered by their bytes in that encoding, which need not be the
 * order of their UTF-8 bytes, so the members are encoded one by one and
 * put in UTF-8 key order.
 */
static void
enc_object_sorted(StringInfo buf, JsonbIterator *it, int npairs)
{
	EncPair    *pairs = palloc(sizeof(EncPair) * Max(npairs, 1));
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_END_OBJECT)
	{
		if (tok == WJB_KEY)
		{
			initStringInfo(&pairs[n].enc);
			enc_string(&pairs[n].enc, v.val.string.val, v.val.string.len);
			pairs[n].keylen = pairs[n].enc.len - 5;
		}
		else if (tok == WJB_VALUE)
			enc_value(&pairs[n++].enc, &v);
	}
	for (int i = 0; i < n; i++)
		pairs[i].key = pairs[i].enc.data + 5;
	qsort(pairs, n, sizeof(EncPair), enc_pair_cmp);

	appendStringInfoChar(buf, 'o');
	enc_u32(buf, (uint32) n);
	for (int i = 0; i < n; i++)
	{
		appendBinaryStringInfo(buf, pairs[i].enc.data, pairs[i].enc.len);
		pfree(pairs[i].enc.data);
	}
	pfree(pairs);
}

/*
 * V(container): walks one level with the jsonb iterator, recursing into
 * nested containers.
 */
static void
enc_container(StringInfo buf, JsonbContainer *jc)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbIteratorToken tok;

	check_stack_depth();
	tok = JsonbIteratorNext(&it, &v, true);
	if (tok == WJB_BEGIN_OBJECT && GetDatabaseEncoding() != PG_UTF8)
	{
		enc_object_sorted(buf, it, v.val.object.nPairs);
		return;
	}
	if (tok == WJB_BEGIN_OBJECT)
	{
		appendStringInfoChar(buf, 'o');
		enc_u32(buf, (uint32) v.val.object.nPairs);
	}
	else if (!v.val.array.rawScalar)
	{
		appendStringInfoChar(buf, 'a');
		enc_u32(buf, (uint32) v.val.array.nElems);
	}

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			enc_string(buf, v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
			enc_value(buf, &v);
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
	enc_string(&buf, task_name, strlen(task_name));
	enc_container(&buf, &params->root);

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
