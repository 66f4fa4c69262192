/* test_cursor.c: unit tests for src/cursor.c, the paging cursor of a
 * user's sessions: round trips, and the refusal of every forged shape. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/cursor.h"

static const struct cursor_shape shape = {
	.hash_key = "id", .prefix = "sess:", .attribute = "uid", .uid = "alice", .uid_len = 5,
};

static void good_key(struct ddb_item *k)
{
	ck_assert_int_eq(ddb_item_add_s(k, "id", "sess:abc", 8), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(k, "uid", "alice", 5), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n(k, "expires", "1764060000"), ERROR_OK);
}

/* The base64url (no padding) of text. */
static char *b64(const char *text)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(text), o = 0;
	char *out = malloc(n / 3 * 4 + 5);

	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)(unsigned char)text[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;
		if (k > 1)
			v |= (unsigned long)(unsigned char)text[i + 1] << 8;
		if (k > 2)
			v |= (unsigned char)text[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (k > 1)
			out[o++] = a[(v >> 6) & 63];
		if (k > 2)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
	return out;
}

static enum error_code decode_json(const char *json)
{
	struct ddb_item k = { 0 };
	char *text = b64(json);
	enum error_code rc = cursor_decode(text, strlen(text), &shape, &k);

	if (rc == ERROR_OK)
		ck_assert_uint_eq(k.n, 3);
	else
		ck_assert_uint_eq(k.n, 0);
	ddb_item_clear(&k);
	free(text);
	return rc;
}

START_TEST(round_trip)
{
	struct ddb_item k = { 0 }, back = { 0 };
	char *text = NULL;

	good_key(&k);
	ck_assert_int_eq(cursor_encode(&k, &shape, &text), ERROR_OK);
	ck_assert_uint_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
			  strlen(text));
	ck_assert_int_eq(cursor_decode(text, strlen(text), &shape, &back), ERROR_OK);
	ck_assert_uint_eq(back.n, 3);
	ck_assert_str_eq(ddb_item_get(&back, "id")->value, "sess:abc");
	ck_assert_str_eq(ddb_item_get(&back, "uid")->value, "alice");
	ck_assert_str_eq(ddb_item_get(&back, "expires")->value, "1764060000");
	ck_assert_int_eq(ddb_item_get(&back, "expires")->type, DDB_TYPE_N);
	/* Each cursor has one spelling: a changed last character that only
	 * touches the unused bits is refused. */
	ddb_item_clear(&back);
	free(text);
	ddb_item_clear(&k);
}
END_TEST

START_TEST(encode_refuses_other_shapes)
{
	struct ddb_item k = { 0 };
	char *text = (char *)"x";

	good_key(&k);
	ck_assert_int_eq(ddb_item_add_s(&k, "extra", "x", 1), ERROR_OK);
	ck_assert_int_eq(cursor_encode(&k, &shape, &text), ERROR_INVALID);
	ck_assert_ptr_null(text);
	ddb_item_clear(&k);
	ck_assert_int_eq(ddb_item_add_s(&k, "id", "sess:abc", 8), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(&k, "uid", "bob", 3), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n(&k, "expires", "1"), ERROR_OK);
	ck_assert_int_eq(cursor_encode(&k, &shape, &text), ERROR_INVALID);
	ddb_item_clear(&k);
}
END_TEST

START_TEST(decode_accepts_the_shape)
{
	ck_assert_int_eq(decode_json("{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},"
				     "\"expires\":{\"N\":\"1764060000\"}}"),
			 ERROR_OK);
	/* Any order; a fractional expires (connect-dynamodb) too. */
	ck_assert_int_eq(decode_json("{\"expires\":{\"N\":\"1764060000.5\"},\"uid\":{\"S\":\"alice\"},"
				     "\"id\":{\"S\":\"sess:a.b~c\"}}"),
			 ERROR_OK);
}
END_TEST

START_TEST(decode_refuses_forgeries)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"null",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"},"
		"\"x\":{\"S\":\"y\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"bob\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alicE\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\\u0000\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:a b\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"N\":\"1\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"S\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"x\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1e400\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":1}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\",\"S\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\\u00002\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"id\":{\"S\":\"sess:abd\"},\"uid\":{\"S\":\"alice\"},"
		"\"expires\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"sess:abc\"},\"uid\":{\"S\":\"alice\"},\"expires\":{\"N\":\"1\"}} x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(decode_json(bad[i]) == ERROR_PARSE, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(decode_refuses_bad_base64)
{
	struct ddb_item k = { 0 }, good = { 0 };
	char *text = NULL, *t;
	static const char *const bad[] = { "", "A", "AB=", "A+B/", "AB CD", "ABC=", "%41%42" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(cursor_decode(bad[i], strlen(bad[i]), &shape, &k), ERROR_PARSE);
	/* Unused bits set in the last character: another spelling, refused. */
	good_key(&good);
	ck_assert_int_eq(cursor_encode(&good, &shape, &text), ERROR_OK);
	t = strdup(text);
	if (strlen(t) % 4) {
		char *last = &t[strlen(t) - 1];
		*last = *last == '_' ? '-' : (char)(*last + 1);
		ck_assert_int_eq(cursor_decode(t, strlen(t), &shape, &k), ERROR_PARSE);
	}
	ck_assert_uint_eq(k.n, 0);
	/* Too long to be one. */
	{
		char big[CURSOR_MAX + 2];
		memset(big, 'A', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_int_eq(cursor_decode(big, strlen(big), &shape, &k), ERROR_PARSE);
	}
	free(t);
	free(text);
	ddb_item_clear(&good);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, encode_refuses_other_shapes);
	tcase_add_test(tc, decode_accepts_the_shape);
	tcase_add_test(tc, decode_refuses_forgeries);
	tcase_add_test(tc, decode_refuses_bad_base64);
	suite_add_tcase(s, tc);
	return check_run(s);
}
