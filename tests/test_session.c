/* test_session.c: unit tests for src/session.c: ids, request bodies, merge
 * patch (RFC 7386 appendix A), the item mapping shared with
 * connect-dynamodb, the resource JSON, ETags and If-Match. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/session.h"

#define NOW	INT64_C(1764000000)
#define MAX_TTL INT64_C(2592000)

static enum error_code parse(enum session_body_kind kind, const char *text, struct session_body *b,
			     struct session_why *why)
{
	return session_body_parse(kind, text, strlen(text), NOW, MAX_TTL, b, why);
}

/* Asserts that text is refused as kind with exactly detail. */
static void refused(enum session_body_kind kind, const char *text, const char *detail)
{
	struct session_body b;
	struct session_why why;

	ck_assert_msg(parse(kind, text, &b, &why) == ERROR_PARSE, "accepted: %s", text);
	ck_assert_str_eq(why.detail, detail);
	ck_assert_ptr_null(b.data);
	ck_assert_ptr_null(b.data_text);
	ck_assert(!b.has_ttl && !b.has_expires);
}

/* Asserts that text is refused with a detail that starts with prefix. */
static void refused_prefix(enum session_body_kind kind, const char *text, const char *prefix)
{
	struct session_body b;
	struct session_why why;

	ck_assert_msg(parse(kind, text, &b, &why) == ERROR_PARSE, "accepted: %s", text);
	ck_assert_msg(strncmp(why.detail, prefix, strlen(prefix)) == 0, "detail \"%s\" for %s",
		      why.detail, text);
	ck_assert_ptr_null(b.data);
}

/* {"a":{"a":...{}...}}: n levels of objects, as a new string. */
static char *nest(int n)
{
	size_t size = (size_t)n * 6 + 1;
	char *s = malloc(size);
	size_t len = 0;
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n - 1; i++) {
		memcpy(s + len, "{\"a\":", 5);
		len += 5;
	}
	s[len++] = '{';
	s[len++] = '}';
	for (i = 0; i < n - 1; i++)
		s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* "<before><inner><after>" as a new string. */
static char *wrap(const char *before, const char *inner, const char *after)
{
	size_t a = strlen(before), b = strlen(inner), c = strlen(after);
	char *s = malloc(a + b + c + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, before, a);
	memcpy(s + a, inner, b);
	memcpy(s + a + b, after, c + 1);
	return s;
}

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

	ck_assert_msg(j != NULL, "test JSON %s: %s", text, err.text);
	return j;
}

static void assert_dump(const json_t *j, const char *expected)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, expected);
	free(text);
}

/* ---- ids ----------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 1,000 ids span five refills of session.c's per-thread pool of random
 * bytes: a refill or a take that reused bytes would repeat an id. */
START_TEST(id_new_is_32_base64url_and_distinct)
{
	enum { N = 1000 };
	static char ids[N][SESSION_ID_LEN + 1];
	int i;

	for (i = 0; i < N; i++) {
		ck_assert_int_eq(session_id_new(ids[i]), ERROR_OK);
		ck_assert_uint_eq(strlen(ids[i]), 32);
		ck_assert(session_id_valid(ids[i], 32));
		ck_assert_uint_eq(strspn(ids[i],
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789-_"),
				  32);
	}
	qsort(ids, N, sizeof(ids[0]), cmp_id);
	for (i = 1; i < N; i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);
}
END_TEST

START_TEST(id_valid_rules)
{
	char long_id[SESSION_ID_MAX + 2];

	memset(long_id, 'x', sizeof(long_id));
	ck_assert(session_id_valid("a", 1));
	ck_assert(session_id_valid("AZaz09-._~", 10));
	ck_assert(session_id_valid(long_id, 256));
	ck_assert(!session_id_valid(long_id, 257));
	ck_assert(!session_id_valid("", 0));
	ck_assert(!session_id_valid(NULL, 0));
	ck_assert(!session_id_valid("a b", 3));
	ck_assert(!session_id_valid("a/b", 3));
	ck_assert(!session_id_valid("a%20", 4));
	ck_assert(!session_id_valid("a+b", 3));
	ck_assert(!session_id_valid("\xc3\xa9", 2)); /* é */
	ck_assert(!session_id_valid("ab\0c", 4));
	/* len decides, not the terminator. */
	ck_assert(session_id_valid("ab\0c", 2));
}
END_TEST

/* ---- bodies -------------------------------------------------------------- */

START_TEST(body_create_defaults_and_values)
{
	struct session_body b;
	struct session_why why;

	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{}", &b, &why), ERROR_OK);
	ck_assert_str_eq(why.detail, "");
	ck_assert(json_is_object(b.data));
	ck_assert_uint_eq(json_object_size(b.data), 0);
	ck_assert(!b.has_ttl && !b.has_expires);
	session_body_clear(&b);
	ck_assert_ptr_null(b.data);

	ck_assert_int_eq(
	    parse(SESSION_BODY_CREATE, " {\"data\":{\"user\":42},\"ttl\":3600}\n", &b, &why),
	    ERROR_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(b.data, "user")), 42);
	ck_assert(b.has_ttl && !b.has_expires);
	ck_assert_int_eq(b.ttl, 3600);
	session_body_clear(&b);

	refused(SESSION_BODY_CREATE, "", "body must be a JSON object");
}
END_TEST

/* data is kept as the body wrote it, compacted, so it need not be printed
 * from the tree; the tree agrees with it. */
START_TEST(body_data_text_is_the_written_value_compacted)
{
	struct session_body b;
	struct session_why why;
	json_t *back;

	ck_assert_int_eq(parse(SESSION_BODY_PUT,
			       " {\"ttl\":60, \"data\" : { \"b\" : \"\\u00e9 x\" ,\n"
			       "  \"a\" : [ 1.50 , 1e2, -0 ] } }",
			       &b, &why),
			 ERROR_OK);
	ck_assert_str_eq(b.data_text, "{\"b\":\"\\u00e9 x\",\"a\":[1.50,1e2,-0]}");
	ck_assert_uint_eq(b.data_text_len, strlen(b.data_text));
	back = json_loads(b.data_text, 0, NULL);
	ck_assert(json_equal(back, b.data));
	json_decref(back);
	session_body_clear(&b);
	ck_assert_ptr_null(b.data_text);

	/* A name written with escapes: jansson's tree is the only sure answer. */
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{\"d\\u0061ta\":{\"x\":1}}", &b, &why),
			 ERROR_OK);
	ck_assert_ptr_null(b.data_text);
	ck_assert_int_eq(json_integer_value(json_object_get(b.data, "x")), 1);
	session_body_clear(&b);

	/* jansson 2.14 takes a raw NUL after a number; no JSON reader would
	 * take that text back, so the tree is printed instead. */
	ck_assert_int_eq(session_body_parse(SESSION_BODY_PUT, "{\"data\":{\"a\":1\0}}", 17, NOW,
					    MAX_TTL, &b, &why),
			 ERROR_OK);
	ck_assert_ptr_null(b.data_text);
	ck_assert_int_eq(json_integer_value(json_object_get(b.data, "a")), 1);
	session_body_clear(&b);

	/* No data: the default {} is a tree, to be printed. */
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{\"ttl\":5}", &b, &why), ERROR_OK);
	ck_assert_ptr_null(b.data_text);
	ck_assert_uint_eq(json_object_size(b.data), 0);
	session_body_clear(&b);
	ck_assert_int_eq(parse(SESSION_BODY_TOUCH, "{\"ttl\":5}", &b, &why), ERROR_OK);
	ck_assert_ptr_null(b.data_text);
	session_body_clear(&b);
}
END_TEST

START_TEST(body_put_requires_data)
{
	struct session_body b;
	struct session_why why;

	refused(SESSION_BODY_PUT, "{}", "data is required");
	refused(SESSION_BODY_PUT, "{\"ttl\":60}", "data is required");
	refused(SESSION_BODY_PUT, "", "body must be a JSON object");
	ck_assert_int_eq(parse(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1764000060}", &b, &why),
			 ERROR_OK);
	ck_assert_uint_eq(json_object_size(b.data), 0);
	ck_assert(b.has_expires && !b.has_ttl);
	ck_assert_int_eq(b.expires, 1764000060);
	session_body_clear(&b);
}
END_TEST

START_TEST(body_touch)
{
	struct session_body b;
	struct session_why why;

	ck_assert_int_eq(session_body_parse(SESSION_BODY_TOUCH, NULL, 0, NOW, MAX_TTL, &b, &why),
			 ERROR_OK);
	ck_assert_ptr_null(b.data);
	ck_assert(!b.has_ttl && !b.has_expires);
	ck_assert_int_eq(parse(SESSION_BODY_TOUCH, "{\"ttl\":60}", &b, &why), ERROR_OK);
	ck_assert_ptr_null(b.data);
	ck_assert(b.has_ttl);
	ck_assert_int_eq(b.ttl, 60);
	ck_assert_int_eq(parse(SESSION_BODY_TOUCH, "{}", &b, &why), ERROR_OK);
	ck_assert(!b.has_ttl && !b.has_expires);
	refused(SESSION_BODY_TOUCH, "{\"data\":{}}", "data is not allowed in a touch");
}
END_TEST

START_TEST(body_ttl_bounds)
{
	static const char *const bad[] = {
	    "{\"ttl\":0}",    "{\"ttl\":-1}",  "{\"ttl\":2592001}", "{\"ttl\":1.5}",
	    "{\"ttl\":1.0}",  "{\"ttl\":1e3}", "{\"ttl\":\"5\"}",   "{\"ttl\":true}",
	    "{\"ttl\":null}", "{\"ttl\":[1]}", "{\"ttl\":-0.0}",
	};
	struct session_body b;
	struct session_why why;
	size_t i;

	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{\"ttl\":1}", &b, &why), ERROR_OK);
	ck_assert_int_eq(b.ttl, 1);
	session_body_clear(&b);
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{\"ttl\":2592000}", &b, &why), ERROR_OK);
	ck_assert_int_eq(b.ttl, 2592000);
	session_body_clear(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(SESSION_BODY_CREATE, bad[i], "ttl must be an integer from 1 to 2592000");
	/* Beyond int64_t, jansson refuses the number itself. */
	refused(SESSION_BODY_CREATE, "{\"ttl\":9223372036854775808}",
		"malformed JSON: number out of range (integers must fit in 64 bits) at byte 26");
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"n\":-9223372036854775809}}",
		       "malformed JSON: number out of range");
	/* The largest int64_t is an integer, just out of range. */
	refused(SESSION_BODY_CREATE, "{\"ttl\":9223372036854775807}",
		"ttl must be an integer from 1 to 2592000");
}
END_TEST

START_TEST(body_expires_bounds)
{
	const char *range = "expires must be in the future and at most 2592000 seconds ahead";
	struct session_body b;
	struct session_why why;

	ck_assert_int_eq(parse(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1764000001}", &b, &why),
			 ERROR_OK);
	ck_assert_int_eq(b.expires, NOW + 1);
	session_body_clear(&b);
	/* NOW + MAX_TTL */
	ck_assert_int_eq(parse(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1766592000}", &b, &why),
			 ERROR_OK);
	ck_assert_int_eq(b.expires, NOW + MAX_TTL);
	session_body_clear(&b);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1766592001}", range);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1764000000}", range);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1763999999}", range);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":-9223372036854775808}", range);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":9223372036854775807}", range);
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":1764000060.0}",
		"expires must be an integer (Unix seconds)");
	refused(SESSION_BODY_PUT, "{\"data\":{},\"expires\":\"1764000060\"}",
		"expires must be an integer (Unix seconds)");
}
END_TEST

START_TEST(body_ttl_and_expires_exclusive)
{
	const char *detail = "ttl and expires are mutually exclusive";

	refused(SESSION_BODY_CREATE, "{\"data\":{}, \"ttl\":1, \"expires\":1764000060}", detail);
	refused(SESSION_BODY_PUT, "{\"expires\":1764000060,\"data\":{},\"ttl\":60}", detail);
	/* Also when one of them is out of range. */
	refused(SESSION_BODY_TOUCH, "{\"ttl\":0,\"expires\":1}", detail);
}
END_TEST

START_TEST(body_shapes)
{
	refused(SESSION_BODY_CREATE, "[]", "body must be a JSON object");
	refused(SESSION_BODY_CREATE, "5", "body must be a JSON object");
	refused(SESSION_BODY_CREATE, "\"x\"", "body must be a JSON object");
	refused(SESSION_BODY_PUT, "null", "body must be a JSON object");
	refused(SESSION_BODY_CREATE, "{\"data\":[]}", "data must be a JSON object");
	refused(SESSION_BODY_PUT, "{\"data\":\"x\"}", "data must be a JSON object");
	refused(SESSION_BODY_PUT, "{\"data\":null}", "data must be a JSON object");
}
END_TEST

START_TEST(body_members)
{
	struct session_body b;
	struct session_why why;

	refused(SESSION_BODY_CREATE, "{\"data\":{},\"foo\":1}", "unknown member \"foo\"");
	refused(SESSION_BODY_TOUCH, "{\"Data\":{}}", "unknown member \"Data\"");
	/* Names that are long, not ASCII or would need escaping are not echoed. */
	refused(SESSION_BODY_CREATE, "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
		"unknown member in body");
	refused(SESSION_BODY_CREATE, "{\"\xc3\xa9\":1}", "unknown member in body");
	refused(SESSION_BODY_CREATE, "{\"a\\\"b\":1}", "unknown member in body");
	refused(SESSION_BODY_CREATE, "{\"\":1}", "unknown member in body");
	/* id and version are read-only and ignored. */
	ck_assert_int_eq(parse(SESSION_BODY_PUT,
			       "{\"id\":\"other\",\"version\":7,\"data\":{\"a\":1},\"ttl\":5}", &b,
			       &why),
			 ERROR_OK);
	assert_dump(b.data, "{\"a\":1}");
	ck_assert_int_eq(b.ttl, 5);
	session_body_clear(&b);
	ck_assert_int_eq(parse(SESSION_BODY_TOUCH, "{\"version\":\"x\",\"id\":[]}", &b, &why),
			 ERROR_OK);
	ck_assert(!b.has_ttl);
}
END_TEST

START_TEST(body_malformed)
{
	struct session_body b;
	struct session_why why;

	refused(SESSION_BODY_CREATE, "{} x",
		"malformed JSON: trailing data after the value at byte 4");
	refused(SESSION_BODY_CREATE, "{}{}",
		"malformed JSON: trailing data after the value at byte 3");
	refused(SESSION_BODY_CREATE,
		"{\"data\":", "malformed JSON: unexpected end of input at byte 8");
	refused(SESSION_BODY_CREATE, "{\"data\":{\"a\":tru}}",
		"malformed JSON: syntax error at byte 16");
	/* jansson's own text would quote "secret"; ours must not. */
	refused(SESSION_BODY_CREATE, "{\"data\":{\"secret\":1,\"secret\":2}}",
		"malformed JSON: duplicate object key at byte 28");
	refused(SESSION_BODY_CREATE, "{\"ttl\":1,\"ttl\":2}",
		"malformed JSON: duplicate object key at byte 14");
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"a\":\"\xff\"}}",
		       "malformed JSON: invalid UTF-8 at byte");
	/* Overlong '/', a UTF-16 surrogate, a code point past U+10FFFF. */
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"a\":\"\xc0\xaf\"}}",
		       "malformed JSON: invalid UTF-8");
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"a\":\"\xed\xa0\x80\"}}",
		       "malformed JSON: invalid UTF-8");
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"a\":\"\xf4\x90\x80\x80\"}}",
		       "malformed JSON: invalid UTF-8");
	refused_prefix(SESSION_BODY_CREATE, "{\"data\":{\"\xff\":1}}",
		       "malformed JSON: invalid UTF-8");
	refused(SESSION_BODY_CREATE, "{\"data\":{\"a\\u0000b\":1}}",
		"malformed JSON: \\u0000 in an object key at byte 19");
	/* A raw NUL byte is not JSON; an escaped one in a string is data. */
	ck_assert_int_eq(session_body_parse(SESSION_BODY_CREATE, "{}\0", 3, NOW, MAX_TTL, &b, &why),
			 ERROR_PARSE);
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, "{\"data\":{\"s\":\"a\\u0000b\"}}", &b, &why),
			 ERROR_OK);
	ck_assert_uint_eq(json_string_length(json_object_get(b.data, "s")), 3);
	session_body_clear(&b);
}
END_TEST

START_TEST(body_depth_bomb_refused_by_prescan)
{
	size_t n = 1024 * 1024;
	char *bomb = malloc(n);
	struct session_body b;
	struct session_why why;

	ck_assert_ptr_nonnull(bomb);
	memset(bomb, '[', n);
	ck_assert_int_eq(session_body_parse(SESSION_BODY_CREATE, bomb, n, NOW, MAX_TTL, &b, &why),
			 ERROR_PARSE);
	/* jansson alone would refuse too, but at level 2049 and in other words. */
	ck_assert_str_eq(why.detail, "JSON nested deeper than 64 levels");
	memset(bomb, '{', n);
	ck_assert_int_eq(session_body_parse(SESSION_BODY_PUT, bomb, n, NOW, MAX_TTL, &b, &why),
			 ERROR_PARSE);
	ck_assert_str_eq(why.detail, "JSON nested deeper than 64 levels");
	free(bomb);
}
END_TEST

/* {"data":{"a":[...[]...]}}: 2 objects around n arrays, as a new string. */
static char *nest_arrays(int n)
{
	char *open = malloc((size_t)n + 1), *close = malloc((size_t)n + 3), *s, *t;

	ck_assert(open && close);
	memset(open, '[', (size_t)n);
	open[n] = '\0';
	memset(close, ']', (size_t)n);
	memcpy(close + n, "}}", 3);
	t = wrap("{\"data\":{\"a\":", open, "");
	s = wrap(t, "", close);
	free(t);
	free(open);
	free(close);
	return s;
}

START_TEST(body_depth_64_ok_65_refused)
{
	/* The body's object is level 1, data level 2: data may nest 63. */
	char *d63 = nest(63), *d64 = nest(64);
	char *ok = wrap("{\"data\":", d63, "}");
	char *deep = wrap("{\"data\":", d64, "}");
	char *arr_ok = nest_arrays(62), *arr_deep = nest_arrays(63);
	struct session_body b;
	struct session_why why;
	json_t *v;
	int depth = 1;

	ck_assert_int_eq(parse(SESSION_BODY_CREATE, ok, &b, &why), ERROR_OK);
	for (v = b.data; json_object_get(v, "a"); v = json_object_get(v, "a"))
		depth++;
	ck_assert_int_eq(depth, 63);
	session_body_clear(&b);
	refused(SESSION_BODY_CREATE, deep, "JSON nested deeper than 64 levels");
	/* Arrays count too. */
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, arr_ok, &b, &why), ERROR_OK);
	session_body_clear(&b);
	refused(SESSION_BODY_CREATE, arr_deep, "JSON nested deeper than 64 levels");
	free(d63);
	free(d64);
	free(ok);
	free(deep);
	free(arr_ok);
	free(arr_deep);
}
END_TEST

START_TEST(body_depth_ignores_strings)
{
	char brackets[101];
	char *in_string, *escaped, *after_backslash, *d63;
	struct session_body b;
	struct session_why why;

	memset(brackets, '[', 100);
	brackets[100] = '\0';
	in_string = wrap("{\"data\":{\"s\":\"", brackets, "\"}}");
	escaped = wrap("{\"data\":{\"s\":\"\\\"", brackets, "\"}}");
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, in_string, &b, &why), ERROR_OK);
	ck_assert_uint_eq(json_string_length(json_object_get(b.data, "s")), 100);
	session_body_clear(&b);
	ck_assert_int_eq(parse(SESSION_BODY_CREATE, escaped, &b, &why), ERROR_OK);
	session_body_clear(&b);
	/* "\\" ends with a quote that does close the string: a scanner that
	 * skipped it would miss the 65 levels behind it. */
	d63 = nest(63);
	after_backslash = wrap("{\"data\":{\"s\":\"\\\\\",\"n\":", d63, "}}");
	refused(SESSION_BODY_CREATE, after_backslash, "JSON nested deeper than 64 levels");
	free(in_string);
	free(escaped);
	free(after_backslash);
	free(d63);
}
END_TEST

/* ---- patches and ttl text ------------------------------------------------ */

START_TEST(patch_parse_rules)
{
	json_t *patch = (json_t *)1;
	struct session_why why;
	char *d63 = nest(63), *d64 = nest(64);

	const char *text = "{\"a\":null,\"b\":{\"c\":1}}";

	ck_assert_int_eq(session_patch_parse(text, strlen(text), &patch, &why), ERROR_OK);
	assert_dump(patch, "{\"a\":null,\"b\":{\"c\":1}}");
	json_decref(patch);
	ck_assert_int_eq(session_patch_parse(d63, strlen(d63), &patch, &why), ERROR_OK);
	json_decref(patch);
	ck_assert_int_eq(session_patch_parse(d64, strlen(d64), &patch, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "JSON nested deeper than 63 levels");
	ck_assert_ptr_null(patch);
	ck_assert_int_eq(session_patch_parse("[1]", 3, &patch, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "merge patch must be a JSON object");
	ck_assert_int_eq(session_patch_parse("null", 4, &patch, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "merge patch must be a JSON object");
	ck_assert_int_eq(session_patch_parse("", 0, &patch, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "merge patch must be a JSON object");
	ck_assert_int_eq(session_patch_parse("{\"a\":1,\"a\":2}", 13, &patch, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "malformed JSON: duplicate object key at byte 10");
	ck_assert_ptr_null(patch);
	free(d63);
	free(d64);
}
END_TEST

START_TEST(ttl_text)
{
	static const char *const bad[] = {
	    "",		"0",   "00",   "-1",  "+1",	 "1 ",
	    " 1",	"1.0", "0x10", "1e3", "2592001", "99999999999999999999999",
	    "\xd9\xa3",
	};
	struct session_why why;
	int64_t ttl = -7;
	size_t i;

	ck_assert_int_eq(session_ttl_parse("1", MAX_TTL, &ttl, &why), ERROR_OK);
	ck_assert_int_eq(ttl, 1);
	ck_assert_int_eq(session_ttl_parse("2592000", MAX_TTL, &ttl, &why), ERROR_OK);
	ck_assert_int_eq(ttl, 2592000);
	ck_assert_int_eq(session_ttl_parse("0060", MAX_TTL, &ttl, &why), ERROR_OK);
	ck_assert_int_eq(ttl, 60);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ttl = -7;
		ck_assert_msg(session_ttl_parse(bad[i], MAX_TTL, &ttl, &why) == ERROR_PARSE,
			      "accepted \"%s\"", bad[i]);
		ck_assert_str_eq(why.detail, "ttl must be an integer from 1 to 2592000");
		ck_assert_int_eq(ttl, -7);
	}
	/* The overflow guard at the very top of the range. */
	ck_assert_int_eq(session_ttl_parse("9223372036854775807", INT64_MAX, &ttl, &why), ERROR_OK);
	ck_assert_int_eq(ttl, INT64_MAX);
	ck_assert_int_eq(session_ttl_parse("9223372036854775808", INT64_MAX, &ttl, &why),
			 ERROR_PARSE);
	ck_assert_int_eq(session_ttl_parse("5", 4, &ttl, &why), ERROR_PARSE);
	ck_assert_str_eq(why.detail, "ttl must be an integer from 1 to 4");
	ck_assert_int_eq(session_ttl_parse("9", 1, &ttl, &why), ERROR_PARSE);
	ck_assert_int_eq(session_ttl_parse("10", 9, &ttl, &why), ERROR_PARSE);
}
END_TEST

/* ---- merge patch --------------------------------------------------------- */

/* RFC 7386 appendix A. The cases whose original or patch is not an object
 * are applied one level down, as member "x", since data is an object. */
static const struct {
	const char *target, *patch, *result;
} rfc7386[] = {
    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
    {"{\"x\":[\"a\",\"b\"]}", "{\"x\":[\"c\",\"d\"]}", "{\"x\":[\"c\",\"d\"]}"},
    {"{\"x\":{\"a\":\"b\"}}", "{\"x\":[\"c\"]}", "{\"x\":[\"c\"]}"},
    {"{\"x\":{\"a\":\"foo\"}}", "{\"x\":null}", "{}"},
    {"{\"x\":{\"a\":\"foo\"}}", "{\"x\":\"bar\"}", "{\"x\":\"bar\"}"},
    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
    {"{\"x\":[1,2]}", "{\"x\":{\"a\":\"b\",\"c\":null}}", "{\"x\":{\"a\":\"b\"}}"},
    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
};

START_TEST(merge_patch_rfc7386_appendix_a)
{
	json_t *target = load(rfc7386[_i].target);
	json_t *patch = load(rfc7386[_i].patch);

	ck_assert_int_eq(session_merge_patch(target, patch), ERROR_OK);
	/* The text, not json_equal: it also checks that order is kept. */
	assert_dump(target, rfc7386[_i].result);
	json_decref(target);
	json_decref(patch);
}
END_TEST

START_TEST(merge_patch_order_copy_and_refusals)
{
	json_t *target = load("{\"a\":1,\"b\":2,\"c\":{\"d\":3}}");
	json_t *patch = load("{\"a\":10,\"e\":[1],\"c\":{\"f\":4},\"b\":null}");
	json_t *scalar = load("3");

	ck_assert_int_eq(session_merge_patch(target, patch), ERROR_OK);
	/* Replaced members keep their place; new ones come last. */
	assert_dump(target, "{\"a\":10,\"c\":{\"d\":3,\"f\":4},\"e\":[1]}");
	/* A later change to the patch does not reach the target. */
	json_array_append_new(json_object_get(patch, "e"), json_integer(2));
	assert_dump(target, "{\"a\":10,\"c\":{\"d\":3,\"f\":4},\"e\":[1]}");
	ck_assert_int_eq(session_merge_patch(target, scalar), ERROR_INVALID);
	ck_assert_int_eq(session_merge_patch(scalar, patch), ERROR_INVALID);
	ck_assert_int_eq(session_merge_patch(target, target), ERROR_INVALID);
	assert_dump(target, "{\"a\":10,\"c\":{\"d\":3,\"f\":4},\"e\":[1]}");
	json_decref(target);
	json_decref(patch);
	json_decref(scalar);
}
END_TEST

/* ---- items --------------------------------------------------------------- */

static const char *attr_value(const struct ddb_item *item, const char *name, enum ddb_type type)
{
	const struct ddb_attr *a = ddb_item_get(item, name);

	ck_assert_msg(a != NULL, "no attribute %s", name);
	ck_assert_int_eq(a->type, type);
	return a->value;
}

START_TEST(item_round_trip)
{
	const char *data = "{\"z\":1,\"a\":{\"\xc3\xa9t\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\","
			   "\"list\":[1,2.5,{\"x\":null}],\"t\":true},\"m\":\"a\\u0000b\\\"\\n\"}";
	struct session s = {.expires = 1764060000, .version = 3};
	struct session back;
	struct ddb_item item = {0};
	char *text;

	memcpy(s.id, "Zk3-_.~x", 9);
	s.data = load(data);
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_OK);
	ck_assert_uint_eq(item.n, 5);
	ck_assert_str_eq(attr_value(&item, "id", DDB_TYPE_S), "sess:Zk3-_.~x");
	ck_assert_str_eq(attr_value(&item, "expires", DDB_TYPE_N), "1764060000");
	ck_assert_str_eq(attr_value(&item, "type", DDB_TYPE_S), "connect-session");
	/* Compact, UTF-8 as is, keys in the order given. */
	ck_assert_str_eq(attr_value(&item, "sess", DDB_TYPE_S), data);
	ck_assert_str_eq(attr_value(&item, "version", DDB_TYPE_N), "3");

	ck_assert_int_eq(session_from_item(&item, "id", "sess:", &back), ERROR_OK);
	ck_assert_str_eq(back.id, "Zk3-_.~x");
	ck_assert_int_eq(back.expires, 1764060000);
	ck_assert_int_eq(back.version, 3);
	/* Read as the stored text, byte for byte, and parsed only on demand. */
	ck_assert_ptr_null(back.data);
	ck_assert_uint_eq(back.text_len, strlen(data));
	ck_assert_str_eq(back.text, data);
	ck_assert_int_eq(session_load_data(&back), ERROR_OK);
	ck_assert_ptr_null(back.text);
	ck_assert(json_equal(back.data, s.data));
	text = json_dumps(back.data, JSON_COMPACT);
	ck_assert_str_eq(text, data);
	free(text);
	session_clear(&back);
	ck_assert_ptr_null(back.data);
	ddb_item_clear(&item);

	/* Other hash key name, empty prefix. */
	ck_assert_int_eq(session_to_item(&s, "pk", "", &item), ERROR_OK);
	ck_assert_str_eq(attr_value(&item, "pk", DDB_TYPE_S), "Zk3-_.~x");
	ck_assert_int_eq(session_from_item(&item, "pk", "", &back), ERROR_OK);
	ck_assert_str_eq(back.id, "Zk3-_.~x");
	session_clear(&back);
	ddb_item_clear(&item);
	session_clear(&s);
}
END_TEST

START_TEST(to_item_refusals)
{
	struct session s = {.expires = 1764060000, .version = 1};
	struct ddb_item item = {0};

	memcpy(s.id, "abc", 4);
	s.data = load("{}");
	ck_assert_int_eq(session_to_item(&s, "sess", "sess:", &item), ERROR_INVALID);
	ck_assert_int_eq(session_to_item(&s, "expires", "sess:", &item), ERROR_INVALID);
	ck_assert_uint_eq(item.n, 0);
	memcpy(s.id, "a b", 4);
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_INVALID);
	ck_assert_uint_eq(item.n, 0);
	memcpy(s.id, "abc", 4);
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_OK);
	/* item must be empty. */
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_INVALID);
	ck_assert_uint_eq(item.n, 5);
	ddb_item_clear(&item);
	json_decref(s.data);
	s.data = load("[]");
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_INVALID);
	session_clear(&s);
}
END_TEST

/* An item as connect-dynamodb writes it: fractional expires, no version. */
static void connect_item(struct ddb_item *item, const char *key, const char *expires,
			 const char *sess)
{
	memset(item, 0, sizeof(*item));
	if (key)
		ck_assert_int_eq(ddb_item_add_s(item, "id", key, strlen(key)), ERROR_OK);
	if (expires)
		ck_assert_int_eq(ddb_item_add_n(item, "expires", expires), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(item, "type", "connect-session", 15), ERROR_OK);
	if (sess)
		ck_assert_int_eq(ddb_item_add_s(item, "sess", sess, strlen(sess)), ERROR_OK);
}

START_TEST(from_item_connect_dynamodb)
{
	const char *sess = "{\"cookie\":{\"originalMaxAge\":86400000,"
			   "\"expires\":\"2025-11-25T08:40:00.123Z\",\"httpOnly\":true,"
			   "\"path\":\"/\"},\"user\":42}";
	struct ddb_item item;
	struct session s;
	char *text;

	connect_item(&item, "sess:node-written", "1764060000.123", sess);
	ck_assert_int_eq(session_from_item(&item, "id", "sess:", &s), ERROR_OK);
	ck_assert_str_eq(s.id, "node-written");
	ck_assert_int_eq(s.expires, 1764060001);
	ck_assert_int_eq(s.version, 0);
	ck_assert_int_eq(session_load_data(&s), ERROR_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(s.data, "user")), 42);
	ck_assert(!session_expired(&s, 1764060000));
	ck_assert(session_expired(&s, 1764060001));
	session_clear(&s);
	ddb_item_clear(&item);

	/* Whole seconds stay as they are; duplicate keys: the last wins. */
	connect_item(&item, "sess:a", "1764060000", "{\"u\":1,\"u\":2}");
	ck_assert_int_eq(ddb_item_add_n(&item, "version", "12"), ERROR_OK);
	ck_assert_int_eq(session_from_item(&item, "id", "sess:", &s), ERROR_OK);
	ck_assert_int_eq(s.expires, 1764060000);
	ck_assert_int_eq(s.version, 12);
	/* Answered as stored; a reader's JSON.parse keeps the last, as
	 * jansson does when the data is parsed for a merge. */
	text = session_to_json(&s);
	ck_assert_str_eq(text, "{\"id\":\"a\",\"data\":{\"u\":1,\"u\":2},\"expires\":1764060000,"
			       "\"version\":12}");
	free(text);
	ck_assert_int_eq(session_load_data(&s), ERROR_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(s.data, "u")), 2);
	session_clear(&s);
	ddb_item_clear(&item);
}
END_TEST

/* session_store_text prints the tree once, as session_to_item would, and
 * the item built from the text is the item built from the tree. */
START_TEST(store_text_once)
{
	const char *data = "{\"z\":1,\"a\":[true,null,\"\u00e9\"],\"m\":{\"k\":\"v\"}}";
	struct session s = { .expires = 1764060000, .version = 2 };
	struct ddb_item from_tree = { 0 }, from_text = { 0 };

	memcpy(s.id, "store-text", 11);
	ck_assert_int_eq(session_store_text(&s), ERROR_INVALID); /* nothing to store */
	s.data = load(data);
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &from_tree), ERROR_OK);
	ck_assert_int_eq(session_store_text(&s), ERROR_OK);
	ck_assert_ptr_null(s.data);
	ck_assert_str_eq(s.text, data); /* the client's key order, compact */
	ck_assert_uint_eq(s.text_len, strlen(data));
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &from_text), ERROR_OK);
	ck_assert_str_eq(attr_value(&from_text, "sess", DDB_TYPE_S),
			 attr_value(&from_tree, "sess", DDB_TYPE_S));
	/* Text only: nothing to do, the text stays. */
	ck_assert_int_eq(session_store_text(&s), ERROR_OK);
	ck_assert_str_eq(s.text, data);
	/* And back to a tree for a merge. */
	ck_assert_int_eq(session_load_data(&s), ERROR_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(s.data, "z")), 1);
	ddb_item_clear(&from_tree);
	ddb_item_clear(&from_text);
	session_clear(&s);
}
END_TEST

/* Asserts that item is not read as a session, and out is left empty. */
static void not_a_session(struct ddb_item *item)
{
	struct session s;

	ck_assert_int_eq(session_from_item(item, "id", "sess:", &s), ERROR_PARSE);
	ck_assert_ptr_null(s.data);
	ck_assert_ptr_null(s.text);
	ck_assert_str_eq(s.id, "");
	ddb_item_clear(item);
}

START_TEST(from_item_refusals)
{
	struct ddb_item item;

	connect_item(&item, "node-written", "1764060000", "{}"); /* no prefix */
	not_a_session(&item);
	connect_item(&item, "sess", "1764060000", "{}");
	not_a_session(&item);
	connect_item(&item, "sess:", "1764060000", "{}"); /* empty id */
	not_a_session(&item);
	connect_item(&item, "sess:a b", "1764060000", "{}");
	not_a_session(&item);
	connect_item(&item, "Sess:abc", "1764060000", "{}");
	not_a_session(&item);
	connect_item(&item, NULL, "1764060000", "{}");
	not_a_session(&item);
	connect_item(&item, NULL, "1764060000", "{}");
	ck_assert_int_eq(ddb_item_add_n(&item, "id", "5"), ERROR_OK); /* key not S */
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "not json");
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "[1]");
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "{} x");
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", NULL);
	not_a_session(&item);
	connect_item(&item, "sess:abc", NULL, "{}");
	not_a_session(&item);
	connect_item(&item, "sess:abc", "100000000000000000000", "{}"); /* > INT64_MAX */
	not_a_session(&item);
	connect_item(&item, "sess:abc", NULL, "{}");
	ck_assert_int_eq(ddb_item_add_s(&item, "expires", "1764060000", 10), ERROR_OK);
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "{}");
	ck_assert_int_eq(ddb_item_add_n(&item, "version", "1.5"), ERROR_OK);
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "{}");
	ck_assert_int_eq(ddb_item_add_n(&item, "version", "-1"), ERROR_OK);
	not_a_session(&item);
	connect_item(&item, "sess:abc", "1764060000", "{}");
	ck_assert_int_eq(ddb_item_add_s(&item, "version", "1", 1), ERROR_OK);
	not_a_session(&item);
	/* The control: the same item with a good version is a session. */
	connect_item(&item, "sess:abc", "1764060000", "{}");
	ck_assert_int_eq(ddb_item_add_n(&item, "version", "1.0"), ERROR_OK);
	{
		struct session s;

		ck_assert_int_eq(session_from_item(&item, "id", "sess:", &s), ERROR_OK);
		ck_assert_int_eq(s.version, 1);
		session_clear(&s);
	}
	ddb_item_clear(&item);
}
END_TEST

/* ---- the resource -------------------------------------------------------- */

START_TEST(expired_at_and_after)
{
	struct session s = {.expires = 100};

	ck_assert(!session_expired(&s, 99));
	ck_assert(session_expired(&s, 100));
	ck_assert(session_expired(&s, 101));
}
END_TEST

START_TEST(resource_json)
{
	struct session s = {.expires = 1764060000, .version = 3};
	char *text;

	memcpy(s.id, "abc", 4);
	s.data = load("{\"b\":1,\"a\":\"\xc3\xa9\"}");
	text = session_to_json(&s);
	ck_assert_str_eq(text, "{\"id\":\"abc\",\"data\":{\"b\":1,\"a\":\"\xc3\xa9\"},"
			       "\"expires\":1764060000,\"version\":3}");
	free(text);
	/* data stays the session's. */
	ck_assert_int_eq(s.data->refcount, 1);
	session_clear(&s);
	ck_assert_ptr_null(session_to_json(&s));
}
END_TEST

START_TEST(summary_json)
{
	char *text = session_summary_json("abc-_X9", 1764060000, 3);

	ck_assert_str_eq(text, "{\"id\":\"abc-_X9\",\"expires\":1764060000,\"version\":3}");
	free(text);
	text = session_summary_json("a", INT64_MAX, 0);
	ck_assert_str_eq(text, "{\"id\":\"a\",\"expires\":9223372036854775807,\"version\":0}");
	free(text);
	{
		char id[258];

		/* The longest id (256), of the first and last characters allowed
		 * by punctuation; one more is refused. */
		memset(id, '~', 256);
		id[0] = '.';
		id[256] = '\0';
		text = session_summary_json(id, 1, 2);
		ck_assert_ptr_nonnull(text);
		ck_assert_uint_eq(strlen(text), strlen("{\"id\":\"\",\"expires\":1,\"version\":2}") + 256);
		free(text);
		id[256] = '~';
		id[257] = '\0';
		ck_assert_ptr_null(session_summary_json(id, 1, 2));
	}
	/* Built without escaping, so only a valid id gets in. */
	ck_assert_ptr_null(session_summary_json("a\"b", 1, 1));
	ck_assert_ptr_null(session_summary_json("", 1, 1));
	ck_assert_ptr_null(session_summary_json(NULL, 1, 1));
}
END_TEST

START_TEST(etag_text)
{
	char etag[SESSION_ETAG_SIZE];

	session_etag(3, etag, sizeof(etag));
	ck_assert_str_eq(etag, "\"3\"");
	session_etag(0, etag, sizeof(etag));
	ck_assert_str_eq(etag, "\"0\"");
	session_etag(INT64_MAX, etag, sizeof(etag));
	ck_assert_str_eq(etag, "\"9223372036854775807\"");
	session_etag(INT64_MIN, etag, sizeof(etag));
	ck_assert_str_eq(etag, "\"-9223372036854775808\"");
	/* A short buffer is cut as snprintf cut it: n - 1 bytes and a NUL. */
	for (size_t n = 1; n <= 7; n++) {
		char want[8] = { 0 };

		memcpy(want, "\"1234\"", n - 1); /* snprintf's cut */
		memset(etag, 'x', sizeof(etag));
		session_etag(1234, etag, n);
		ck_assert_str_eq(etag, want);
	}
}
END_TEST

START_TEST(if_match_values)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "\"\"",
	    "3",
	    "\"3",
	    "3\"",
	    "\"3\", \"4\"",
	    "\"3\",\"4\"",
	    "\"-1\"",
	    "\"+1\"",
	    "\"abc\"",
	    "\"3a\"",
	    "\"03\"",
	    "\"00\"",
	    "\"9223372036854775808\"",
	    "w/\"3\"",
	    "W/",
	    "W/3",
	    "**",
	    "W/*",
	    "\"3\"x",
	    "\" 3\"",
	};
	int64_t v;
	bool any;
	size_t i;

	ck_assert(session_if_match_parse("\"3\"", &v, &any));
	ck_assert_int_eq(v, 3);
	ck_assert(!any);
	ck_assert(session_if_match_parse("W/\"17\"", &v, &any));
	ck_assert_int_eq(v, 17);
	ck_assert(!any);
	ck_assert(session_if_match_parse(" \t\"42\" ", &v, &any));
	ck_assert_int_eq(v, 42);
	ck_assert(session_if_match_parse("\"0\"", &v, &any));
	ck_assert_int_eq(v, 0);
	ck_assert(session_if_match_parse("\"9223372036854775807\"", &v, &any));
	ck_assert_int_eq(v, INT64_MAX);
	ck_assert(session_if_match_parse("*", &v, &any));
	ck_assert(any);
	ck_assert_int_eq(v, 0);
	ck_assert(session_if_match_parse(" * ", &v, &any));
	ck_assert(any);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!session_if_match_parse(bad[i], &v, &any), "accepted '%s'", bad[i]);
		ck_assert(!any);
	}
}
END_TEST

/* ---- owners (v1.1) ------------------------------------------------------- */

START_TEST(user_valid_rules)
{
	char big[SESSION_USER_MAX + 2];

	ck_assert(session_user_valid("alice", 5));
	ck_assert(session_user_valid("Jane Doe <jane@example.com>", 26));
	ck_assert(session_user_valid("\xc3\xbc", 2));             /* ü */
	ck_assert(session_user_valid("\xf0\x9f\x98\x80", 4));     /* 😀 */
	ck_assert(!session_user_valid("", 0));
	ck_assert(!session_user_valid(NULL, 3));
	ck_assert(!session_user_valid("a\x01", 2));
	ck_assert(!session_user_valid("a\tb", 3));
	ck_assert(!session_user_valid("a\x7f", 2));
	ck_assert(!session_user_valid("a\0b", 3));
	ck_assert(!session_user_valid("\xc2\x85", 2));            /* C1 NEL */
	ck_assert(!session_user_valid("\xc2\x9f", 2));
	ck_assert(session_user_valid("\xc2\xa0", 2));             /* NBSP is no control */
	ck_assert(!session_user_valid("\xc0\xaf", 2));            /* overlong */
	ck_assert(!session_user_valid("\xed\xa0\x80", 3));        /* surrogate */
	ck_assert(!session_user_valid("\xf4\x90\x80\x80", 4));    /* past U+10FFFF */
	ck_assert(!session_user_valid("\xe2\x82", 2));            /* cut short */
	ck_assert(!session_user_valid("\xff", 1));
	memset(big, 'x', sizeof(big));
	ck_assert(session_user_valid(big, SESSION_USER_MAX));
	ck_assert(!session_user_valid(big, SESSION_USER_MAX + 1));
	/* 256 characters of two bytes each: characters are counted. */
	{
		char two[SESSION_USER_MAX * 2 + 2];
		for (int i = 0; i < SESSION_USER_MAX + 1; i++) {
			two[2 * i] = '\xc3';
			two[2 * i + 1] = '\xbc';
		}
		ck_assert(session_user_valid(two, SESSION_USER_MAX * 2));
		ck_assert(!session_user_valid(two, SESSION_USER_MAX * 2 + 2));
	}
}
END_TEST

START_TEST(body_user)
{
	struct session_body b;
	struct session_why why;
	const char *ok = "{\"data\":{},\"user\":\"alice\"}";

	ck_assert_int_eq(session_body_parse(SESSION_BODY_CREATE, ok, strlen(ok), 1000, 100, &b, &why),
			 ERROR_OK);
	ck_assert_str_eq(b.user, "alice");
	ck_assert_uint_eq(b.user_len, 5);
	session_body_clear(&b);
	ck_assert_ptr_null(b.user);
	ck_assert_int_eq(session_body_parse(SESSION_BODY_PUT, ok, strlen(ok), 1000, 100, &b, &why),
			 ERROR_OK);
	ck_assert_str_eq(b.user, "alice");
	session_body_clear(&b);
	static const char *const bad[] = {
		"{\"user\":\"\"}", "{\"user\":1}", "{\"user\":null}", "{\"user\":[\"a\"]}",
		"{\"user\":\"a\\u0000b\"}", "{\"user\":\"a\\u0085\"}", "{\"user\":\"a\\nb\"}",
		"{\"user\":\"a\",\"user\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(session_body_parse(SESSION_BODY_CREATE, bad[i], strlen(bad[i]), 1000,
						    100, &b, &why),
				 ERROR_PARSE);
		ck_assert_ptr_null(b.user);
	}
	ck_assert_int_eq(session_body_parse(SESSION_BODY_TOUCH, "{\"user\":\"a\"}", 12, 1000, 100,
					    &b, &why),
			 ERROR_PARSE);
	ck_assert_str_eq(why.detail, "user is not allowed in a touch");
}
END_TEST

START_TEST(user_in_items_and_resource)
{
	struct session s = { 0 }, back = { 0 };
	struct ddb_item item = { 0 };
	char *text;

	snprintf(s.id, sizeof(s.id), "abc");
	s.data = json_object();
	s.expires = 100;
	s.version = 2;
	ck_assert_int_eq(session_user_set(&s, "\"quoted\" \xc3\xbc", 11), ERROR_OK);
	ck_assert_int_eq(session_to_item(&s, "id", "sess:", &item), ERROR_OK);
	ck_assert_int_eq(session_user_to_item(&s, "uid", &item), ERROR_OK);
	ck_assert_str_eq(ddb_item_get(&item, "uid")->value, "\"quoted\" \xc3\xbc");
	ck_assert_int_eq(session_from_item(&item, "id", "sess:", &back), ERROR_OK);
	ck_assert_int_eq(session_user_from_item(&item, "uid", &back), ERROR_OK);
	ck_assert_str_eq(back.user, "\"quoted\" \xc3\xbc");
	text = session_to_json(&back);
	ck_assert_str_eq(text, "{\"id\":\"abc\",\"data\":{},\"expires\":100,\"version\":2,"
			       "\"user\":\"\\\"quoted\\\" \xc3\xbc\"}");
	free(text);
	/* A stored owner that is not one: ERROR_PARSE, ownerless. */
	ddb_item_clear(&item);
	ck_assert_int_eq(ddb_item_add_n(&item, "uid", "5"), ERROR_OK);
	ck_assert_int_eq(session_user_from_item(&item, "uid", &back), ERROR_PARSE);
	ck_assert_ptr_null(back.user);
	ddb_item_clear(&item);
	ck_assert_int_eq(session_user_from_item(&item, "uid", &back), ERROR_OK);
	ck_assert_ptr_null(back.user);
	/* Without an owner nothing is added and the resource has no "user". */
	ck_assert_int_eq(session_user_set(&s, NULL, 0), ERROR_OK);
	ck_assert_int_eq(session_user_to_item(&s, "uid", &item), ERROR_OK);
	ck_assert_uint_eq(item.n, 0);
	text = session_to_json(&s);
	ck_assert_ptr_null(strstr(text, "user"));
	free(text);
	session_clear(&s);
	session_clear(&back);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session");
	TCase *ids = tcase_create("ids");
	TCase *bodies = tcase_create("bodies");
	TCase *merge = tcase_create("merge");
	TCase *items = tcase_create("items");
	TCase *resource = tcase_create("resource");

	tcase_add_test(ids, id_new_is_32_base64url_and_distinct);
	tcase_add_test(ids, id_valid_rules);
	tcase_add_test(ids, user_valid_rules);
	suite_add_tcase(s, ids);

	tcase_add_test(bodies, body_create_defaults_and_values);
	tcase_add_test(bodies, body_data_text_is_the_written_value_compacted);
	tcase_add_test(bodies, body_put_requires_data);
	tcase_add_test(bodies, body_touch);
	tcase_add_test(bodies, body_ttl_bounds);
	tcase_add_test(bodies, body_expires_bounds);
	tcase_add_test(bodies, body_ttl_and_expires_exclusive);
	tcase_add_test(bodies, body_shapes);
	tcase_add_test(bodies, body_members);
	tcase_add_test(bodies, body_malformed);
	tcase_add_test(bodies, body_depth_bomb_refused_by_prescan);
	tcase_add_test(bodies, body_depth_64_ok_65_refused);
	tcase_add_test(bodies, body_depth_ignores_strings);
	tcase_add_test(bodies, patch_parse_rules);
	tcase_add_test(bodies, ttl_text);
	tcase_add_test(bodies, body_user);
	tcase_add_test(bodies, user_in_items_and_resource);
	suite_add_tcase(s, bodies);

	tcase_add_loop_test(merge, merge_patch_rfc7386_appendix_a, 0,
			    (int)(sizeof(rfc7386) / sizeof(rfc7386[0])));
	tcase_add_test(merge, merge_patch_order_copy_and_refusals);
	suite_add_tcase(s, merge);

	tcase_add_test(items, item_round_trip);
	tcase_add_test(items, store_text_once);
	tcase_add_test(items, to_item_refusals);
	tcase_add_test(items, from_item_connect_dynamodb);
	tcase_add_test(items, from_item_refusals);
	suite_add_tcase(s, items);

	tcase_add_test(resource, expired_at_and_after);
	tcase_add_test(resource, resource_json);
	tcase_add_test(resource, summary_json);
	tcase_add_test(resource, etag_text);
	tcase_add_test(resource, if_match_values);
	suite_add_tcase(s, resource);

	return check_run(s);
}
