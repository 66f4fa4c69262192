/* test_jsontext.c: unit tests for src/jsontext.c, the validating scan that
 * lets stored session data pass into answers as text. Every case is also
 * checked against jansson's own verdict where the two must agree. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/jsontext.h"

static bool valid(const char *s)
{
	return jsontext_object_valid(s, strlen(s), 64);
}

/* jansson's verdict on the same text, as an object. */
static bool jansson_object(const char *s, size_t n)
{
	json_error_t err;
	json_t *v = json_loadb(s, n, JSON_ALLOW_NUL, &err);
	bool ok = v && json_is_object(v);

	json_decref(v);
	return ok;
}

static const char *const good[] = {
	"{}",
	" {\"a\":1} ",
	"{\"a\":[1,2.5,-3e10,0,0.0,1E+2,-0.5e-3],\"b\":{\"c\":null,\"d\":true,\"e\":false}}",
	"{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u0000\"}",
	"{\"emoji\":\"\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
	"{\"a\":[],\"b\":{},\"c\":[[],[{}]]}",
	"{\"dup\":1,\"dup\":2}",
	"{\"cookie\":{\"originalMaxAge\":3600000,\"expires\":\"2026-12-04T16:00:00.000Z\"}}",
};

static const char *const bad[] = {
	"",
	"[]",
	"\"x\"",
	"{",
	"{\"a\"}",
	"{\"a\":}",
	"{\"a\":1,}",
	"{,}",
	"{\"a\":1}}",
	"{\"a\":1} x",
	"{\"a\":[1,]}",
	"{\"a\":[1 2]}",
	"{a:1}",
	"{\"a\":01}",
	"{\"a\":1.}",
	"{\"a\":.5}",
	"{\"a\":-}",
	"{\"a\":1e}",
	"{\"a\":+1}",
	"{\"a\":tru}",
	"{\"a\":nul}",
	"{\"a\":\"\x01\"}",
	"{\"a\":\"\\x\"}",
	"{\"a\":\"\\u12\"}",
	"{\"a\":\"\\ud83d\"}",
	"{\"a\":\"\\ude00\"}",
	"{\"a\":\"\\ud83d\\u0041\"}",
	"{\"a\":\"\xc0\xaf\"}",
	"{\"a\":\"\xed\xa0\x80\"}",
	"{\"a\":\"\xf4\x90\x80\x80\"}",
	"{\"a\":\"\xe2\x82\"}",
	"{\"a\":\"\x80\"}",
	"{\"a\":\"open}",
	"{\"a\":[}",
	"{\"a\":{]}",
};

START_TEST(accepts_valid_objects)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(valid(good[i]), "refused: %s", good[i]);
		ck_assert_msg(jansson_object(good[i], strlen(good[i])), "jansson refused: %s",
			      good[i]);
	}
}
END_TEST

START_TEST(refuses_invalid_text)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!valid(bad[i]), "accepted: %s", bad[i]);
		ck_assert_msg(!jansson_object(bad[i], strlen(bad[i])), "jansson accepted: %s",
			      bad[i]);
	}
}
END_TEST

START_TEST(nul_byte_outside_strings_ends_nothing)
{
	static const char text[] = "{\"a\":1}\0";

	ck_assert(jsontext_object_valid(text, sizeof(text) - 2, 64));
	ck_assert(!jsontext_object_valid(text, sizeof(text) - 1, 64));
	ck_assert(!jsontext_object_valid("{\"a\":\"\0\"}", 9, 64));
}
END_TEST

START_TEST(depth_is_bounded)
{
	char deep[2 * 70 + 8];
	size_t n = 0;

	/* {"a": [[[ ... ]]] } with 1 + k levels */
	for (int k = 63; k <= 64; k++) {
		n = 0;
		memcpy(deep, "{\"a\":", 5);
		n = 5;
		for (int i = 0; i < k; i++)
			deep[n++] = '[';
		for (int i = 0; i < k; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		ck_assert(jsontext_object_valid(deep, n, 64) == (k == 63));
	}
	ck_assert(!jsontext_object_valid("{}", 2, 0));
	ck_assert(!jsontext_object_valid("{}", 2, JSONTEXT_MAX_DEPTH + 1));
	ck_assert(jsontext_object_valid("{}", 2, JSONTEXT_MAX_DEPTH));
}
END_TEST

/* 2048 levels deep, jansson's own limit, and one more. */
START_TEST(deepest_nesting_is_jansson_limit)
{
	size_t cap = 2 * (JSONTEXT_MAX_DEPTH + 2) + 8, n;
	char *t = malloc(cap);

	ck_assert_ptr_nonnull(t);
	for (int extra = 0; extra <= 1; extra++) {
		int k = JSONTEXT_MAX_DEPTH - 1 + extra;
		n = 0;
		memcpy(t, "{\"a\":", 5);
		n = 5;
		for (int i = 0; i < k; i++)
			t[n++] = '[';
		for (int i = 0; i < k; i++)
			t[n++] = ']';
		t[n++] = '}';
		ck_assert(jsontext_object_valid(t, n, JSONTEXT_MAX_DEPTH) == (extra == 0));
	}
	free(t);
}
END_TEST

/* The span jsontext_member gives, as a string. */
static char *span(const char *text, const char *name, enum jsontext_found want)
{
	size_t off = 0, len = 0;
	enum jsontext_found got = jsontext_member(text, strlen(text), name, &off, &len);
	char *out;

	ck_assert_int_eq(got, want);
	if (got != JSONTEXT_FOUND)
		return NULL;
	out = strndup(text + off, len);
	ck_assert_ptr_nonnull(out);
	return out;
}

START_TEST(member_spans_of_valid_text)
{
	const char *text = " { \"a\" : \"x}\\\"{\", \"data\" : { \"k\" : [1, {\"data\": 2}], "
			   "\"s\":\"a b\\\"}\" } , \"ttl\":5 ,\"t\":true}\n";
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *v;
	char *got;

	ck_assert_ptr_nonnull(root);
	got = span(text, "data", JSONTEXT_FOUND);
	ck_assert_str_eq(got, "{ \"k\" : [1, {\"data\": 2}], \"s\":\"a b\\\"}\" }");
	/* The same value jansson finds there. */
	v = json_loads(got, 0, NULL);
	ck_assert(json_equal(v, json_object_get(root, "data")));
	json_decref(v);
	free(got);
	got = span(text, "ttl", JSONTEXT_FOUND);
	ck_assert_str_eq(got, "5");
	free(got);
	got = span(text, "t", JSONTEXT_FOUND);
	ck_assert_str_eq(got, "true");
	free(got);
	got = span(text, "a", JSONTEXT_FOUND);
	ck_assert_str_eq(got, "\"x}\\\"{\"");
	free(got);
	span(text, "k", JSONTEXT_ABSENT); /* nested names are not top-level */
	span(text, "dat", JSONTEXT_ABSENT);
	span("{}", "data", JSONTEXT_ABSENT);
	free(span("{\"b\":[],\"data\":{}}", "data", JSONTEXT_FOUND));
	/* A name written with escapes might spell it: the caller must not
	 * take "absent" for an answer. */
	span("{\"d\\u0061ta\":{\"x\":1}}", "data", JSONTEXT_UNSURE);
	/* Found as written: an escaped name cannot spell it too (that would
	 * be a duplicate, which the parser refused). */
	free(span("{\"x\\u0041\":{},\"data\":[]}", "data", JSONTEXT_FOUND));
	json_decref(root);
	/* Text cut short is outside the contract, but read within bounds and
	 * never found (ASan watches the reads). */
	{
		static const char *const cut[] = { "{\"", " { \"", "{\"data", "{\"data\":",
						   "{\"data\":{", "{\"data\":\"ab", "{\"data\":[1,{\"a\\",
						   "{\"da\\" };

		for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
			char *heap = strdup(cut[i]); /* no terminator past the end to lean on */
			size_t off, len, n = strlen(heap);

			ck_assert_int_ne(jsontext_member(heap, n, "data", &off, &len), JSONTEXT_FOUND);
			free(heap);
		}
	}
}
END_TEST

START_TEST(compact_drops_only_whitespace_between_tokens)
{
	const char *text = " { \"a b\" : [ 1 , 2.50 , 1e2 ] ,\n\t\"c\" : \"\\\" x \\u00e9 \" , \"d\":{ } }\r\n";
	char out[128];
	size_t n = jsontext_compact(text, strlen(text), out);
	json_t *a, *b;

	out[n] = '\0';
	/* Strings and numbers stay as written. */
	ck_assert_str_eq(out, "{\"a b\":[1,2.50,1e2],\"c\":\"\\\" x \\u00e9 \",\"d\":{}}");
	a = json_loads(text, 0, NULL);
	b = json_loadb(out, n, 0, NULL);
	ck_assert(a && b && json_equal(a, b));
	json_decref(a);
	json_decref(b);
	ck_assert_uint_eq(jsontext_compact("", 0, out), 0);
	/* A string cut short is copied as it is, within bounds. */
	ck_assert_uint_eq(jsontext_compact("[ \"a b\\", 7, out), 6);
	ck_assert_int_eq(memcmp(out, "[\"a b\\", 6), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsontext");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, accepts_valid_objects);
	tcase_add_test(tc, refuses_invalid_text);
	tcase_add_test(tc, nul_byte_outside_strings_ends_nothing);
	tcase_add_test(tc, depth_is_bounded);
	tcase_add_test(tc, deepest_nesting_is_jansson_limit);
	tcase_add_test(tc, member_spans_of_valid_text);
	tcase_add_test(tc, compact_drops_only_whitespace_between_tokens);
	suite_add_tcase(s, tc);
	return check_run(s);
}
