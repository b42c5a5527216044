--
-- fingerprint: task_fingerprint(task_name, params), the key of only_once.
--
-- Golden vectors pin the exact output.  The encoding (src/fingerprint.c):
--
--   hex(SHA-256("durable_tasks.fingerprint.v1" 0x00 || S(task_name) || V(params)))
--   S(s) = 's' u32be(byte length) bytes      V(null) = 'n'  V(false) = 'f'  V(true) = 't'
--   V(number) = 'd' u32be(len) normalized decimal text (no insignificant zeroes)
--   V(string) = S(string)   V(array) = 'a' u32be(count) V(e)...
--   V(object) = 'o' u32be(count) S(k) V(v)... keys shorter first, then bytewise
--   a scalar params value is encoded as the scalar itself
--
-- An independent implementation of it in SQL checks every vector below.
--
-- S(s)
CREATE FUNCTION pg_temp.enc_s(s text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT 's'::bytea || int4send(octet_length(convert_to(s, 'UTF8')))
           || convert_to(s, 'UTF8')
$fn$;
-- V(v)
CREATE FUNCTION pg_temp.enc_v(v jsonb) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    out bytea;
    num text;
    e   jsonb;
    k   text;
BEGIN
    CASE jsonb_typeof(v)
    WHEN 'null' THEN
        RETURN 'n'::bytea;
    WHEN 'boolean' THEN
        RETURN CASE WHEN v = 'true'::jsonb THEN 't'::bytea ELSE 'f'::bytea END;
    WHEN 'number' THEN
        num := trim_scale((v #>> '{}')::numeric)::text;
        RETURN 'd'::bytea || int4send(octet_length(num)) || convert_to(num, 'UTF8');
    WHEN 'string' THEN
        RETURN pg_temp.enc_s(v #>> '{}');
    WHEN 'array' THEN
        out := 'a'::bytea || int4send(jsonb_array_length(v));
        FOR e IN SELECT a.elem FROM jsonb_array_elements(v) WITH ORDINALITY a(elem, n) ORDER BY a.n
        LOOP
            out := out || pg_temp.enc_v(e);
        END LOOP;
        RETURN out;
    WHEN 'object' THEN
        out := 'o'::bytea || int4send((SELECT count(*)::int FROM jsonb_object_keys(v)));
        FOR k IN SELECT o.key FROM jsonb_object_keys(v) o(key)
                  ORDER BY octet_length(o.key), convert_to(o.key, 'UTF8')
        LOOP
            out := out || pg_temp.enc_s(k) || pg_temp.enc_v(v -> k);
        END LOOP;
        RETURN out;
    END CASE;
END
$fn$;
CREATE FUNCTION pg_temp.sql_fingerprint(task_name text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                         || pg_temp.enc_s(task_name) || pg_temp.enc_v(params)), 'hex')
$fn$;

--
-- Two vectors built byte by byte
--
-- ('send', {"a": 1}):  "durable_tasks.fingerprint.v1" 00
--   's' 00000004 "send"   'o' 00000001   's' 00000001 "a"   'd' 00000001 "1"
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                     || 's'::bytea || '\x00000004'::bytea || 'send'::bytea
                     || 'o'::bytea || '\x00000001'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'a'::bytea
                     || 'd'::bytea || '\x00000001'::bytea || '1'::bytea), 'hex') AS by_hand,
       durable_tasks.task_fingerprint('send', '{"a": 1}') AS task_fingerprint;
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                     || 's'::bytea || '\x00000004'::bytea || 'send'::bytea
                     || 'o'::bytea || '\x00000001'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'a'::bytea
                     || 'd'::bytea || '\x00000001'::bytea || '1'::bytea), 'hex')
       = durable_tasks.task_fingerprint('send', '{"a": 1}') AS equal;
-- ('t', [true, false, null, "é", -1.50]):
--   's' 00000001 "t"   'a' 00000005   't' 'f' 'n'   's' 00000002 c3a9
--   'd' 00000004 "-1.5"
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 't'::bytea
                     || 'a'::bytea || '\x00000005'::bytea
                     || 't'::bytea || 'f'::bytea || 'n'::bytea
                     || 's'::bytea || '\x00000002'::bytea || '\xc3a9'::bytea
                     || 'd'::bytea || '\x00000004'::bytea || '-1.5'::bytea), 'hex')
       = durable_tasks.task_fingerprint('t', '[true, false, null, "é", -1.50]') AS equal;
-- ({"b": 2, "aa": 1} keys in jsonb order: "b" before "aa"), params a scalar
-- string, and the domain separator's NUL byte really is there
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'k'::bytea
                     || 'o'::bytea || '\x00000002'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'b'::bytea
                     || 'd'::bytea || '\x00000001'::bytea || '2'::bytea
                     || 's'::bytea || '\x00000002'::bytea || 'aa'::bytea
                     || 'd'::bytea || '\x00000001'::bytea || '1'::bytea), 'hex')
       = durable_tasks.task_fingerprint('k', '{"aa": 1, "b": 2}') AS equal;
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea || '\x00'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'x'::bytea
                     || 's'::bytea || '\x00000003'::bytea || 'abc'::bytea), 'hex')
       = durable_tasks.task_fingerprint('x', '"abc"') AS equal;
SELECT encode(sha256('durable_tasks.fingerprint.v1'::bytea
                     || 's'::bytea || '\x00000001'::bytea || 'x'::bytea
                     || 's'::bytea || '\x00000003'::bytea || 'abc'::bytea), 'hex')
       = durable_tasks.task_fingerprint('x', '"abc"') AS without_nul_differs;

--
-- Golden vectors
--
CREATE TEMP TABLE vectors (n int PRIMARY KEY, task_name text, params jsonb);
INSERT INTO vectors VALUES
    (1,  'send', '{"a": 1}'),
    (2,  't', '[true, false, null, "é", -1.5]'),
    (3,  'send_email', '{}'),
    (4,  'send_email', '[]'),
    (5,  'x', 'null'),
    (6,  'x', '1'),
    (7,  'x', '"1"'),
    (8,  'x', 'true'),
    (9,  'x', '"abc"'),
    (10, 'k', '{"aa": 1, "b": 2}'),
    (11, 'order', '{"id": 42, "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "note": null}'),
    (12, 'unicode', '{"name": "Zoë", "emoji": "😀", "city": "東京", "nfd": "Zoe\u0308"}'),
    (13, 'nested', '[[1], 2]'),
    (14, 'nested', '[[1, 2]]'),
    (15, 'numbers', '[0, 0.10, 1e3, -7, 0.0000015, 12345678901234567890.1230, 1e-20]'),
    (16, 'escapes', '{"s": "line\nbreak \"quoted\" \\ tab\t /"}'),
    (17, 'deep', '{"a": {"b": {"c": {"d": [[[[]]]]}}}}'),
    (18, 'send_welcome', '{"to": "alice@example.com"}'),
    (19, repeat('n', 255), '{}'),
    (20, 'keys', '{"": 0, "a": 1, "A": 2, "ab": 3, "b": 4, "é": 5, "z": 6, "aaa": 7}');
SELECT n, durable_tasks.task_fingerprint(task_name, params) AS fingerprint
  FROM vectors ORDER BY n;
-- the SQL implementation agrees on every vector
SELECT count(*) AS vectors,
       count(*) FILTER (WHERE durable_tasks.task_fingerprint(task_name, params)
                              = pg_temp.sql_fingerprint(task_name, params)) AS agree
  FROM vectors;
-- all distinct, lower-case hex of 64 digits
SELECT count(DISTINCT durable_tasks.task_fingerprint(task_name, params)) AS distinct_fingerprints,
       bool_and(durable_tasks.task_fingerprint(task_name, params) ~ '^[0-9a-f]{64}$') AS hex64
  FROM vectors;

--
-- Properties
--
CREATE FUNCTION pg_temp.same(a_name text, a jsonb, b_name text, b jsonb) RETURNS boolean
LANGUAGE sql AS $fn$
    SELECT durable_tasks.task_fingerprint(a_name, a) = durable_tasks.task_fingerprint(b_name, b)
$fn$;
-- jsonb-equal values fingerprint equal
SELECT pg_temp.same('t', '{"a": 1, "b": 2}', 't', '{"b": 2, "a": 1}') AS key_order,
       pg_temp.same('t', '{"a":1,"b":[1,2]}', 't', E'{ "b" : [ 1 ,\n 2 ] ,\t"a" : 1 }') AS whitespace,
       pg_temp.same('t', '{"n": 1}', 't', '{"n": 1.0}') AS one_point_zero,
       pg_temp.same('t', '{"n": 1}', 't', '{"n": 1e0}') AS exponent,
       pg_temp.same('t', '{"n": 1}', 't', '{"n": 1.000e+00}') AS exponent_zeroes,
       pg_temp.same('t', '{"n": 0.1}', 't', '{"n": 0.10}') AS trailing_zero,
       pg_temp.same('t', '{"n": 100}', 't', '{"n": 1e2}') AS hundred,
       pg_temp.same('t', '{"n": 0}', 't', '{"n": -0.0}') AS zero,
       pg_temp.same('t', '{"a": 1, "a": 2}', 't', '{"a": 2}') AS duplicate_keys,
       pg_temp.same('t', '{"s": "é"}', 't', '{"s": "\u00e9"}') AS unicode_escape;
-- and jsonb-different values differ
SELECT pg_temp.same('t', '{"n": 1}', 't', '{"n": "1"}') AS number_vs_string,
       pg_temp.same('t', '[[1], 2]', 't', '[[1, 2]]') AS nesting,
       pg_temp.same('t', '[1, [2]]', 't', '[[1], 2]') AS nesting2,
       pg_temp.same('t', '[1, 2]', 't', '[2, 1]') AS array_order,
       pg_temp.same('t', '{"a": [1]}', 't', '[{"a": 1}]') AS arrays_vs_objects,
       pg_temp.same('t', '{"a": {"b": 1}}', 't', '{"a": [["b", 1]]}') AS object_vs_pairs,
       pg_temp.same('t', '{}', 't', '[]') AS empty_object_vs_empty_array,
       pg_temp.same('t', '{}', 't', 'null') AS empty_vs_null,
       pg_temp.same('t', '{"a": null}', 't', '{}') AS null_member_vs_none,
       pg_temp.same('t', '1', 't', '[1]') AS scalar_vs_array,
       pg_temp.same('t', '"a"', 't', '["a"]') AS string_vs_array,
       pg_temp.same('t', 'true', 't', '"true"') AS bool_vs_string,
       pg_temp.same('t', 'null', 't', '"null"') AS null_vs_string,
       pg_temp.same('t', '{"n": 1}', 't', '{"n": 1.0000000000000000000001}') AS nearly_one;
-- the task name is part of it, and is length-prefixed
SELECT pg_temp.same('a', '{}', 'b', '{}') AS other_name,
       pg_temp.same('send', '{}', 'Send', '{}') AS case,
       pg_temp.same('send', '{}', 'send ', '{}') AS trailing_space,
       pg_temp.same('ab', '"c"', 'a', '"bc"') AS shifted_boundary,
       pg_temp.same('x', '["a", "b"]', 'x', '["ab"]') AS shifted_strings,
       pg_temp.same('x', '{"ab": "c"}', 'x', '{"a": "bc"}') AS shifted_key;
-- unicode strings are compared as stored: composed and decomposed differ
SELECT pg_temp.same('t', '{"s": "Zoë"}', 't', '{"s": "Zoe\u0308"}') AS nfc_vs_nfd,
       pg_temp.same('t', '{"s": "東京"}', 't', '{"s": "東京"}') AS cjk,
       pg_temp.same('t', '{"s": "😀"}', 't', '{"s": "\ud83d\ude00"}') AS surrogate_pair;
-- unicode task names
SELECT durable_tasks.task_fingerprint('envoyer_reçu', '{}') = pg_temp.sql_fingerprint('envoyer_reçu', '{}') AS agree;
-- immutable: the same in every call
SELECT count(DISTINCT durable_tasks.task_fingerprint('send', jsonb_build_object('a', 1))) AS one_value
  FROM generate_series(1, 100);
-- it is the only_once key
SELECT durable_tasks.create_queue('fp_q');
SELECT task_id AS t FROM durable_tasks.spawn_task('fp_q', 'send', '{"a": 1}', only_once => true) \gset
SELECT idempotency_key = durable_tasks.task_fingerprint('send', '{"a": 1}') AS is_key
  FROM durable_tasks.get_task('fp_q', :'t');
-- an explicit key equal to the fingerprint names the same task
SELECT task_id = :'t' AS same_task, created
  FROM durable_tasks.spawn_task('fp_q', 'other', '{}',
         idempotency_key => durable_tasks.task_fingerprint('send', '{"a": 1}'));
SELECT durable_tasks.drop_queue('fp_q');

-- arguments
SELECT public.err($$SELECT durable_tasks.task_fingerprint(NULL, '{}')$$);
SELECT public.err($$SELECT durable_tasks.task_fingerprint('t', NULL)$$);
SELECT public.err($$SELECT durable_tasks.task_fingerprint('', '{}')$$);
SELECT public.err(format('SELECT durable_tasks.task_fingerprint(%L, %L)', repeat('n', 256), '{}'));
SELECT durable_tasks.task_fingerprint(params => '{}', task_name => 'named') =
       durable_tasks.task_fingerprint('named', '{}') AS named_args;
