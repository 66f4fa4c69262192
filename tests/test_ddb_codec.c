/* test_ddb_codec.c: unit tests for src/ddb_codec.c, DynamoDB's JSON 1.0
 * protocol: numbers, items, request bodies, decoded answers and error
 * classification. Expected bodies are compared as parsed JSON (json_equal),
 * so key order does not matter unless a test says so. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "helpers/check_run.h"
#include "sessiond/ddb_codec.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static void add_s(struct ddb_item *item, const char *name, const char *value)
{
	ck_assert_int_eq(ddb_item_add_s(item, name, value, strlen(value)), ERROR_OK);
}

static void add_n(struct ddb_item *item, const char *name, const char *text)
{
	ck_assert_int_eq(ddb_item_add_n(item, name, text), ERROR_OK);
}

static void add_other(struct ddb_item *item, const char *name, const char *json)
{
	ck_assert_int_eq(ddb_item_add_other(item, name, json), ERROR_OK);
}

/* Encodes req into a new string (caller frees); the test fails otherwise. */
static char *encode_ok(const struct ddb_request *req)
{
	enum error_code rc;
	struct buf b;

	buf_init(&b, 0);
	rc = ddb_request_encode(req, &b);
	ck_assert_msg(rc == ERROR_OK, "encode %s: %s", ddb_op_name(req->op), error_str(rc));
	return buf_steal(&b);
}

static void assert_json_eq(const char *got, const char *want)
{
	json_t *g = json_loads(got, JSON_ALLOW_NUL, NULL);
	json_t *w = json_loads(want, JSON_ALLOW_NUL, NULL);

	ck_assert_msg(g != NULL, "not JSON: %s", got);
	ck_assert_msg(w != NULL, "expected text is not JSON: %s", want);
	ck_assert_msg(json_equal(g, w), "got  %s\nwant %s", got, want);
	json_decref(g);
	json_decref(w);
}

static void encode_expect(const struct ddb_request *req, const char *want)
{
	char *got = encode_ok(req);

	assert_json_eq(got, want);
	free(got);
}

static void assert_items_equal(const struct ddb_item *a, const struct ddb_item *b)
{
	size_t i;

	ck_assert_uint_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		ck_assert_str_eq(a->attrs[i].name, b->attrs[i].name);
		ck_assert_int_eq(a->attrs[i].type, b->attrs[i].type);
		ck_assert_uint_eq(a->attrs[i].value_len, b->attrs[i].value_len);
		ck_assert_msg(memcmp(a->attrs[i].value, b->attrs[i].value,
				     a->attrs[i].value_len) == 0,
			      "attribute %s differs", a->attrs[i].name);
	}
}

static bool response_is_zero(const struct ddb_response *r)
{
	static const struct ddb_response zero;

	return memcmp(r, &zero, sizeof(zero)) == 0;
}

static enum error_code decode_str(enum ddb_op op, const char *body, struct ddb_response *out)
{
	return ddb_response_decode(op, body, strlen(body), out);
}

/* A new JSON string holding the member `key` of the encoded body of req. */
static char *encoded_member(const struct ddb_request *req, const char *key)
{
	char *body = encode_ok(req), *text;
	json_t *root = json_loads(body, JSON_ALLOW_NUL, NULL);
	json_t *member = json_object_get(root, key);

	ck_assert_msg(member != NULL, "%s has no %s", body, key);
	text = json_dumps(member, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_ptr_nonnull(text);
	json_decref(root);
	free(body);
	return text;
}

/* Feeds member `from` of req's body back as member `to` of op's answer
 * (with the other members in base_members, e.g. "\"Count\":0,"). */
static void echo_decode(const struct ddb_request *req, const char *from,
			enum ddb_op op, const char *base_members, const char *to,
			struct ddb_response *out)
{
	char *member = encoded_member(req, from);
	struct buf body;

	buf_init(&body, 0);
	ck_assert_int_eq(buf_printf(&body, "{%s\"%s\":%s}", base_members, to, member), ERROR_OK);
	ck_assert_int_eq(ddb_response_decode(op, body.data, body.len, out), ERROR_OK);
	buf_free(&body);
	free(member);
}

/* The item of a session as connect-dynamodb and sessiond store it. */
static void session_item(struct ddb_item *it)
{
	add_s(it, "id", "sess:abc");
	add_n(it, "expires", "1764060000.123");
	add_s(it, "type", "connect-session");
	add_s(it, "sess", "{\"cookie\":{\"maxAge\":86400000},\"user\":42}");
	add_n(it, "version", "3");
}

static void key_item(struct ddb_item *it, const char *id)
{
	add_s(it, "id", id);
}

/* ---- operations and numbers -------------------------------------------- */

START_TEST(op_names_and_targets)
{
	static const char *const names[DDB_OP_COUNT] = {
		"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan",
		"DescribeTable", "CreateTable", "UpdateTimeToLive", "Query", "UpdateTable",
	};
	char want[64];
	int op;

	for (op = 0; op < DDB_OP_COUNT; op++) {
		snprintf(want, sizeof(want), "DynamoDB_20120810.%s", names[op]);
		ck_assert_str_eq(ddb_op_name((enum ddb_op)op), names[op]);
		ck_assert_str_eq(ddb_op_target((enum ddb_op)op), want);
	}
	ck_assert_ptr_null(ddb_op_name(DDB_OP_COUNT));
	ck_assert_ptr_null(ddb_op_target((enum ddb_op)-1));
}
END_TEST

START_TEST(number_valid_accepts)
{
	static const char *const ok[] = {
		"0", "-0", "1", "-1", "42", "1764060000", "1764060000.123",
		"-1764060000.123", "1.5E3", "1.5e3", "1e+5", "1E-3", "1e0", "1.", ".5",
		"-.5", "5.", "000042", "0.000",
		"12345678901234567890123456789012345678",   /* 38 digits */
		"-1234567890123456789012345678901234567.8", /* 38 digits */
		"1.2300000000000000000000000000000000000000000000", /* zeros trimmed */
		"10000000000000000000000000000000000000000000000000", /* 1E49 */
		"0.0000000000000000000000000000000000000000000000000001",
		"1e-130", "9.9999999999999999999999999999999999999E+125", "1e125",
		"0e999999999999999999999", /* zero, whatever the exponent */
	};
	size_t i;

	for (i = 0; i < N_ELEMS(ok); i++)
		ck_assert_msg(ddb_number_valid(ok[i]), "should be valid: \"%s\"", ok[i]);
}
END_TEST

START_TEST(number_valid_rejects)
{
	static const char *const bad[] = {
		"", "-", ".", "-.", "+1", "1e", "1e+", "1E-", "e5", ".e5", " 1", "1 ",
		"0x10", "NaN", "nan", "Infinity", "-Infinity", "1..2", "1.2.3", "--1",
		"1,5", "1_000", "\xef\xbc\x91", /* fullwidth digit one */
		"123456789012345678901234567890123456789", /* 39 digits */
		"1.23456789012345678901234567890123456789",
		"1e126", "10e125", "1e-131", "0.1e-130", "1e99999999999999999999",
	};
	size_t i;

	ck_assert(!ddb_number_valid(NULL));
	for (i = 0; i < N_ELEMS(bad); i++)
		ck_assert_msg(!ddb_number_valid(bad[i]), "should be invalid: \"%s\"", bad[i]);
}
END_TEST

START_TEST(number_to_i64_rounds_both_ways)
{
	static const struct {
		const char *text;
		int64_t up, down;
	} cases[] = {
		{ "1764060000.123", 1764060001, 1764060000 },
		{ "1764060000", 1764060000, 1764060000 },
		{ "1764060000.000", 1764060000, 1764060000 },
		{ "-1764060000.123", -1764060000, -1764060001 },
		{ "1.5E3", 1500, 1500 },
		{ "1.5e0", 2, 1 },
		{ "-1.5", -1, -2 },
		{ "0.1", 1, 0 },
		{ "-0.1", 0, -1 },
		{ ".5", 1, 0 },
		{ "-.5", 0, -1 },
		{ "5.", 5, 5 },
		{ "-0", 0, 0 },
		{ "0e999", 0, 0 },
		{ "1e-130", 1, 0 },
		{ "12345e-2", 124, 123 },
		{ "17640600001230e-4", 1764060001, 1764060000 },
		{ "1.764060000123E9", 1764060001, 1764060000 },
		{ "000000000000000000000000000000000000000000000000042", 42, 42 },
		{ "9223372036854775807", INT64_MAX, INT64_MAX },
		{ "922337203685477580.7e1", INT64_MAX, INT64_MAX },
		{ "9223372036854775806.5", INT64_MAX, INT64_MAX - 1 },
		{ "-9223372036854775808", INT64_MIN, INT64_MIN },
		{ "-9223372036854775807.5", INT64_MIN + 1, INT64_MIN },
	};
	int64_t v;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		v = 12345;
		ck_assert_int_eq(ddb_number_to_i64(cases[i].text, true, &v), ERROR_OK);
		ck_assert_msg(v == cases[i].up, "%s up: %" PRId64, cases[i].text, v);
		v = 12345;
		ck_assert_int_eq(ddb_number_to_i64(cases[i].text, false, &v), ERROR_OK);
		ck_assert_msg(v == cases[i].down, "%s down: %" PRId64, cases[i].text, v);
	}
}
END_TEST

START_TEST(number_to_i64_errors)
{
	static const struct {
		const char *text;
		bool round_up;
		enum error_code rc;
	} cases[] = {
		{ "9223372036854775808", false, ERROR_TOO_LARGE },
		{ "9223372036854775807.1", true, ERROR_TOO_LARGE },
		{ "-9223372036854775809", true, ERROR_TOO_LARGE },
		{ "-9223372036854775808.1", false, ERROR_TOO_LARGE },
		{ "1e19", false, ERROR_TOO_LARGE },
		{ "-1e100", true, ERROR_TOO_LARGE },
		{ "99999999999999999999999999999999999999", false, ERROR_TOO_LARGE },
		{ "", false, ERROR_PARSE },
		{ "abc", false, ERROR_PARSE },
		{ "1e126", false, ERROR_PARSE },
		{ " 1", false, ERROR_PARSE },
		{ "+5", true, ERROR_PARSE },
	};
	int64_t v = 7;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++)
		ck_assert_msg(ddb_number_to_i64(cases[i].text, cases[i].round_up, &v) == cases[i].rc,
			      "case %s", cases[i].text);
	ck_assert_int_eq(v, 7); /* untouched by failures */
	/* The other direction of the boundary cases still fits. */
	ck_assert_int_eq(ddb_number_to_i64("9223372036854775807.1", false, &v), ERROR_OK);
	ck_assert_int_eq(v, INT64_MAX);
	ck_assert_int_eq(ddb_number_to_i64("-9223372036854775808.1", true, &v), ERROR_OK);
	ck_assert_int_eq(v, INT64_MIN);
	ck_assert_int_eq(ddb_number_to_i64(NULL, true, &v), ERROR_INVALID);
	ck_assert_int_eq(ddb_number_to_i64("1", true, NULL), ERROR_INVALID);
}
END_TEST

/* ---- items -------------------------------------------------------------- */

START_TEST(item_add_get_replace_keeps_order)
{
	struct ddb_item it = { 0 };
	const struct ddb_attr *a;

	session_item(&it);
	ck_assert_uint_eq(it.n, 5);
	a = ddb_item_get(&it, "expires");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->type, DDB_TYPE_N);
	ck_assert_str_eq(a->value, "1764060000.123");

	/* Replacing keeps the position and may change the type. */
	ck_assert_int_eq(ddb_item_add_n_i64(&it, "type", -42), ERROR_OK);
	ck_assert_uint_eq(it.n, 5);
	ck_assert_str_eq(it.attrs[2].name, "type");
	ck_assert_int_eq(it.attrs[2].type, DDB_TYPE_N);
	ck_assert_str_eq(it.attrs[2].value, "-42");
	ck_assert_uint_eq(it.attrs[2].value_len, 3);

	ck_assert_ptr_null(ddb_item_get(&it, "missing"));
	ck_assert_ptr_null(ddb_item_get(&it, "ID")); /* names are case-sensitive */
	ck_assert_ptr_null(ddb_item_get(NULL, "id"));

	/* Many attributes: growth keeps them all, in order. */
	for (int i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof(name), "a%d", i);
		ck_assert_int_eq(ddb_item_add_n_i64(&it, name, i), ERROR_OK);
	}
	ck_assert_uint_eq(it.n, 105);
	ck_assert_str_eq(it.attrs[104].name, "a99");
	ck_assert_str_eq(ddb_item_get(&it, "a57")->value, "57");

	ddb_item_clear(&it);
	ck_assert_uint_eq(it.n, 0);
	ck_assert_ptr_null(it.attrs);
	add_s(&it, "again", "reusable");
	ck_assert_uint_eq(it.n, 1);
	ddb_item_clear(&it);
}
END_TEST

START_TEST(item_add_n_i64_extremes)
{
	struct ddb_item it = { 0 };

	ck_assert_int_eq(ddb_item_add_n_i64(&it, "min", INT64_MIN), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n_i64(&it, "max", INT64_MAX), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n_i64(&it, "zero", 0), ERROR_OK);
	ck_assert_str_eq(ddb_item_get(&it, "min")->value, "-9223372036854775808");
	ck_assert_str_eq(ddb_item_get(&it, "max")->value, "9223372036854775807");
	ck_assert_str_eq(ddb_item_get(&it, "zero")->value, "0");
	ddb_item_clear(&it);
}
END_TEST

START_TEST(item_add_rejects_bad_arguments)
{
	static const char *const bad_other[] = {
		"", "{", "[]", "\"S\"", "null", "{}", "{\"S\":\"a\",\"N\":\"1\"}",
		"{\"S\":\"a\",\"S\":\"b\"}", "{\"S\":1}", "{\"N\":\"x\"}", "{\"N\":1}",
		"{\"BOOL\":\"true\"}", "{\"NULL\":false}", "{\"NULL\":null}", "{\"SS\":[]}",
		"{\"SS\":[\"a\",1]}", "{\"NS\":[\"1\",\"one\"]}", "{\"BS\":\"AQ==\"}",
		"{\"M\":[]}", "{\"M\":{\"a\":{}}}", "{\"L\":{}}", "{\"L\":[{\"S\":\"a\"},1]}",
		"{\"X\":\"a\"}", "{\"s\":\"a\"}", "{\"BOOL\":true} x",
	};
	struct ddb_item it = { 0 };
	size_t i;

	ck_assert_int_eq(ddb_item_add_s(NULL, "a", "b", 1), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_s(&it, NULL, "b", 1), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_s(&it, "", "b", 1), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_s(&it, "a", NULL, 1), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_n(&it, "a", NULL), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_n(&it, "a", "1.2.3"), ERROR_PARSE);
	ck_assert_int_eq(ddb_item_add_n(&it, "a", "1e200"), ERROR_PARSE);
	ck_assert_int_eq(ddb_item_add_n_i64(&it, "", 1), ERROR_INVALID);
	ck_assert_int_eq(ddb_item_add_other(&it, "a", NULL), ERROR_INVALID);
	for (i = 0; i < N_ELEMS(bad_other); i++)
		ck_assert_msg(ddb_item_add_other(&it, "a", bad_other[i]) == ERROR_PARSE,
			      "accepted %s", bad_other[i]);
	ck_assert_uint_eq(it.n, 0);

	/* An empty string is a value, and NULL with length 0 is one too. */
	ck_assert_int_eq(ddb_item_add_s(&it, "e", NULL, 0), ERROR_OK);
	ck_assert_str_eq(ddb_item_get(&it, "e")->value, "");
	ck_assert_uint_eq(ddb_item_get(&it, "e")->value_len, 0);
	ddb_item_clear(&it);
}
END_TEST

START_TEST(item_add_other_is_canonical)
{
	struct ddb_item it = { 0 };

	add_other(&it, "m", "{ \"M\" : { \"a\" : {\"BOOL\": true} ,\"b\":{\"NULL\":true}} }");
	ck_assert_int_eq(it.attrs[0].type, DDB_TYPE_OTHER);
	ck_assert_str_eq(it.attrs[0].value, "{\"M\":{\"a\":{\"BOOL\":true},\"b\":{\"NULL\":true}}}");
	ck_assert_uint_eq(it.attrs[0].value_len, strlen(it.attrs[0].value));

	/* S and N given as JSON become S and N attributes. */
	add_other(&it, "s", "{\"S\":\"x\\u0000y\"}");
	ck_assert_int_eq(ddb_item_get(&it, "s")->type, DDB_TYPE_S);
	ck_assert_uint_eq(ddb_item_get(&it, "s")->value_len, 3);
	ck_assert_mem_eq(ddb_item_get(&it, "s")->value, "x\0y", 3);
	add_other(&it, "n", "{\"N\":\"-1.5E3\"}");
	ck_assert_int_eq(ddb_item_get(&it, "n")->type, DDB_TYPE_N);
	ck_assert_str_eq(ddb_item_get(&it, "n")->value, "-1.5E3");
	ddb_item_clear(&it);
}
END_TEST

START_TEST(item_copy_is_deep)
{
	struct ddb_item a = { 0 }, b = { 0 };

	session_item(&a);
	add_other(&a, "flags", "{\"SS\":[\"x\",\"y\"]}");
	ck_assert_int_eq(ddb_item_add_s(&a, "bin", "a\0b", 3), ERROR_OK);
	add_s(&b, "stale", "is dropped");
	ck_assert_int_eq(ddb_item_copy(&b, &a), ERROR_OK);
	assert_items_equal(&a, &b);
	ck_assert_ptr_null(ddb_item_get(&b, "stale"));
	ck_assert_ptr_ne(a.attrs[0].value, b.attrs[0].value);

	ddb_item_clear(&a); /* b must not depend on a */
	ck_assert_str_eq(ddb_item_get(&b, "id")->value, "sess:abc");
	ck_assert_int_eq(ddb_item_copy(&b, &b), ERROR_OK);
	ck_assert_uint_eq(b.n, 7);

	/* Copying an empty item empties dst. */
	ck_assert_int_eq(ddb_item_copy(&b, &a), ERROR_OK);
	ck_assert_uint_eq(b.n, 0);
	ck_assert_int_eq(ddb_item_copy(NULL, &a), ERROR_INVALID);
	ddb_item_clear(&b);
}
END_TEST

/* ---- encoding ----------------------------------------------------------- */

START_TEST(encode_get_item)
{
	static const struct ddb_name names[] = { { "#i", "id" } };
	struct ddb_item key = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_GET_ITEM, .table = "sessions", .key = &key,
		.projection = "#i, sess, expires, version", .names = names, .n_names = 1,
		.consistent_read = true,
	};
	char *got;

	key_item(&key, "sess:abc");
	got = encode_ok(&req);
	/* Compact and in a fixed order: compared as text here, once. */
	ck_assert_str_eq(got, "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:abc\"}},"
			      "\"ProjectionExpression\":\"#i, sess, expires, version\","
			      "\"ExpressionAttributeNames\":{\"#i\":\"id\"},"
			      "\"ConsistentRead\":true}");
	free(got);

	req.projection = NULL;
	req.names = NULL;
	req.n_names = 0;
	req.consistent_read = false;
	encode_expect(&req, "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:abc\"}}}");
	ddb_item_clear(&key);
}
END_TEST

START_TEST(encode_put_item)
{
	static const struct ddb_name names[] = { { "#k", "id" }, { "#v", "version" } };
	struct ddb_item item = { 0 }, values = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_PUT_ITEM, .table = "sessions", .item = &item,
		.condition = "attribute_not_exists(#k) OR #v = :v",
		.names = names, .n_names = 2, .values = &values,
		.return_values = DDB_RETURN_ALL_OLD,
	};

	session_item(&item);
	add_other(&item, "flags", "{\"M\":{\"a\":{\"BOOL\":true}}}");
	add_n(&values, ":v", "2");
	encode_expect(&req,
		      "{\"TableName\":\"sessions\",\"Item\":{"
		      "\"id\":{\"S\":\"sess:abc\"},\"expires\":{\"N\":\"1764060000.123\"},"
		      "\"type\":{\"S\":\"connect-session\"},"
		      "\"sess\":{\"S\":\"{\\\"cookie\\\":{\\\"maxAge\\\":86400000},\\\"user\\\":42}\"},"
		      "\"version\":{\"N\":\"3\"},\"flags\":{\"M\":{\"a\":{\"BOOL\":true}}}},"
		      "\"ConditionExpression\":\"attribute_not_exists(#k) OR #v = :v\","
		      "\"ExpressionAttributeNames\":{\"#k\":\"id\",\"#v\":\"version\"},"
		      "\"ExpressionAttributeValues\":{\":v\":{\"N\":\"2\"}},"
		      "\"ReturnValues\":\"ALL_OLD\"}");
	ddb_item_clear(&item);
	ddb_item_clear(&values);
}
END_TEST

START_TEST(encode_update_item)
{
	static const struct ddb_name names[] = {
		{ "#i", "id" }, { "#s", "sess" }, { "#e", "expires" }, { "#v", "version" },
	};
	struct ddb_item key = { 0 }, values = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_UPDATE_ITEM, .table = "sessions", .key = &key,
		.update = "SET #s = :s, #e = :e, #v = if_not_exists(#v, :zero) + :one",
		.condition = "attribute_exists(#i) AND (attribute_not_exists(#v) OR #v = :old)",
		.names = names, .n_names = 4, .values = &values,
		.return_values = DDB_RETURN_ALL_NEW,
	};

	key_item(&key, "sess:abc");
	add_s(&values, ":s", "{}");
	ck_assert_int_eq(ddb_item_add_n_i64(&values, ":e", 1764060000), ERROR_OK);
	add_n(&values, ":zero", "0");
	add_n(&values, ":one", "1");
	add_n(&values, ":old", "3");
	encode_expect(&req,
		      "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:abc\"}},"
		      "\"UpdateExpression\":"
		      "\"SET #s = :s, #e = :e, #v = if_not_exists(#v, :zero) + :one\","
		      "\"ConditionExpression\":"
		      "\"attribute_exists(#i) AND (attribute_not_exists(#v) OR #v = :old)\","
		      "\"ExpressionAttributeNames\":{\"#i\":\"id\",\"#s\":\"sess\","
		      "\"#e\":\"expires\",\"#v\":\"version\"},"
		      "\"ExpressionAttributeValues\":{\":s\":{\"S\":\"{}\"},\":e\":{\"N\":\"1764060000\"},"
		      "\":zero\":{\"N\":\"0\"},\":one\":{\"N\":\"1\"},\":old\":{\"N\":\"3\"}},"
		      "\"ReturnValues\":\"ALL_NEW\"}");

	req.return_values = DDB_RETURN_UPDATED_OLD;
	req.condition = NULL;
	req.n_names = 3;
	req.names = names + 1;
	ddb_item_clear(&values);
	add_n(&values, ":one", "1");
	encode_expect(&req,
		      "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:abc\"}},"
		      "\"UpdateExpression\":"
		      "\"SET #s = :s, #e = :e, #v = if_not_exists(#v, :zero) + :one\","
		      "\"ExpressionAttributeNames\":{\"#s\":\"sess\",\"#e\":\"expires\","
		      "\"#v\":\"version\"},"
		      "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}},"
		      "\"ReturnValues\":\"UPDATED_OLD\"}");
	ddb_item_clear(&key);
	ddb_item_clear(&values);
}
END_TEST

START_TEST(encode_delete_item)
{
	struct ddb_item key = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_DELETE_ITEM, .table = "sessions", .key = &key,
		.return_values = DDB_RETURN_ALL_OLD,
	};

	key_item(&key, "sess:gone");
	encode_expect(&req, "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:gone\"}},"
			    "\"ReturnValues\":\"ALL_OLD\"}");
	req.return_values = DDB_RETURN_NONE;
	req.condition = "attribute_exists(id)";
	encode_expect(&req, "{\"TableName\":\"sessions\",\"Key\":{\"id\":{\"S\":\"sess:gone\"}},"
			    "\"ConditionExpression\":\"attribute_exists(id)\"}");
	ddb_item_clear(&key);
}
END_TEST

START_TEST(encode_scan)
{
	static const struct ddb_name names[] = { { "#i", "id" } };
	struct ddb_item start = { 0 }, values = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_SCAN, .table = "sessions", .projection = "#i, expires",
		.filter = "expires < :now", .names = names, .n_names = 1, .values = &values,
		.consistent_read = true, .segment = 3, .total_segments = 8,
		.exclusive_start_key = &start, .limit = 100,
	};

	key_item(&start, "sess:zzz");
	add_n(&values, ":now", "1764060000");
	encode_expect(&req,
		      "{\"TableName\":\"sessions\",\"ProjectionExpression\":\"#i, expires\","
		      "\"FilterExpression\":\"expires < :now\","
		      "\"ExpressionAttributeNames\":{\"#i\":\"id\"},"
		      "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"1764060000\"}},"
		      "\"ConsistentRead\":true,\"Segment\":3,\"TotalSegments\":8,"
		      "\"ExclusiveStartKey\":{\"id\":{\"S\":\"sess:zzz\"}},\"Limit\":100}");

	/* Segment 0 is written when segments are used; a bare scan is bare. */
	req.segment = 0;
	req.total_segments = 1000000;
	req.exclusive_start_key = NULL;
	req.limit = 0;
	req.consistent_read = false;
	req.projection = NULL;
	encode_expect(&req,
		      "{\"TableName\":\"sessions\",\"FilterExpression\":\"expires < :now\","
		      "\"ExpressionAttributeNames\":{\"#i\":\"id\"},"
		      "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"1764060000\"}},"
		      "\"Segment\":0,\"TotalSegments\":1000000}");
	encode_expect(&(struct ddb_request){ .op = DDB_OP_SCAN, .table = "sessions" },
		      "{\"TableName\":\"sessions\"}");
	ddb_item_clear(&start);
	ddb_item_clear(&values);
}
END_TEST

START_TEST(encode_table_ops)
{
	char *got;

	got = encode_ok(&(struct ddb_request){ .op = DDB_OP_DESCRIBE_TABLE, .table = "sessions" });
	ck_assert_str_eq(got, "{\"TableName\":\"sessions\"}");
	free(got);
	encode_expect(&(struct ddb_request){ .op = DDB_OP_CREATE_TABLE, .table = "sessions",
					     .hash_key = "id" },
		      "{\"TableName\":\"sessions\","
		      "\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"}],"
		      "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
		      "\"BillingMode\":\"PAY_PER_REQUEST\"}");
	encode_expect(&(struct ddb_request){ .op = DDB_OP_UPDATE_TIME_TO_LIVE,
					     .table = "sessions", .ttl_attribute = "expires",
					     .ttl_enabled = true },
		      "{\"TableName\":\"sessions\",\"TimeToLiveSpecification\":"
		      "{\"AttributeName\":\"expires\",\"Enabled\":true}}");
	encode_expect(&(struct ddb_request){ .op = DDB_OP_UPDATE_TIME_TO_LIVE,
					     .table = "sessions", .ttl_attribute = "expires" },
		      "{\"TableName\":\"sessions\",\"TimeToLiveSpecification\":"
		      "{\"AttributeName\":\"expires\",\"Enabled\":false}}");
}
END_TEST

START_TEST(encode_appends_compact_json)
{
	struct ddb_request req = { .op = DDB_OP_DESCRIBE_TABLE, .table = "my table" };
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append_str(&b, "prefix:"), ERROR_OK);
	ck_assert_int_eq(ddb_request_encode(&req, &b), ERROR_OK);
	ck_assert_str_eq(b.data, "prefix:{\"TableName\":\"my table\"}");
	ck_assert_uint_eq(b.len, strlen(b.data));
	buf_free(&b);
}
END_TEST

START_TEST(encode_rejects_invalid_requests)
{
	static const struct ddb_name hash_names[] = { { "#k", "id" } };
	static const struct ddb_name no_hash[] = { { "k", "id" } };
	static const struct ddb_name bare_hash[] = { { "#", "id" } };
	static const struct ddb_name empty_name[] = { { "#k", "" } };
	static const struct ddb_name null_name[] = { { "#k", NULL } };
	static const struct ddb_name dup_names[] = { { "#k", "id" }, { "#k", "sess" } };
	struct ddb_item key = { 0 }, item = { 0 }, values = { 0 }, bad_values = { 0 };
	struct ddb_item empty = { 0 };
	const char *cond = "attribute_exists(#k)";
	size_t i;

	key_item(&key, "sess:abc");
	session_item(&item);
	add_n(&values, ":v", "1");
	add_n(&bad_values, "v", "1");
	const struct ddb_request cases[] = {
		/* 0: op, table */
		{ .op = DDB_OP_COUNT, .table = "t" },
		{ .op = (enum ddb_op)-1, .table = "t" },
		{ .op = DDB_OP_DESCRIBE_TABLE },
		{ .op = DDB_OP_DESCRIBE_TABLE, .table = "" },
		{ .op = DDB_OP_DESCRIBE_TABLE, .table = "bad\xff" },
		/* 5: GetItem */
		{ .op = DDB_OP_GET_ITEM, .table = "t" },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &empty },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .condition = "x" },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .item = &item },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .projection = "#k",
		  .names = hash_names, .n_names = 1, .values = &values },
		/* 10 */
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .limit = 1 },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .ttl_enabled = true },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key, .projection = "" },
		{ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key,
		  .return_values = DDB_RETURN_ALL_OLD },
		/* 14: PutItem */
		{ .op = DDB_OP_PUT_ITEM, .table = "t" },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &empty },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .key = &key },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item,
		  .return_values = DDB_RETURN_ALL_NEW },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item,
		  .return_values = DDB_RETURN_UPDATED_OLD },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item,
		  .names = hash_names, .n_names = 1 },
		/* 20 */
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .values = &values },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .consistent_read = true },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = NULL, .n_names = 1 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = hash_names, .n_names = 0 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = no_hash, .n_names = 1 },
		/* 25 */
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = bare_hash, .n_names = 1 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = empty_name, .n_names = 1 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = null_name, .n_names = 1 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .names = dup_names, .n_names = 2 },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .values = &bad_values },
		/* 30 */
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = cond,
		  .values = &empty },
		{ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item, .condition = "" },
		/* 32: UpdateItem */
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key },
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key, .update = "" },
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .update = "SET a = :v", .values = &values },
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key, .update = "REMOVE a",
		  .return_values = (enum ddb_return_values)99 },
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key, .update = "REMOVE a",
		  .item = &item },
		{ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key, .update = "REMOVE a",
		  .projection = "a" },
		/* 38: DeleteItem */
		{ .op = DDB_OP_DELETE_ITEM, .table = "t" },
		{ .op = DDB_OP_DELETE_ITEM, .table = "t", .key = &key, .update = "REMOVE a" },
		/* 40 */
		{ .op = DDB_OP_DELETE_ITEM, .table = "t", .key = &key,
		  .return_values = DDB_RETURN_UPDATED_NEW },
		{ .op = DDB_OP_DELETE_ITEM, .table = "t", .key = &key, .filter = "a = b" },
		/* 42: Scan */
		{ .op = DDB_OP_SCAN, .table = "t", .segment = 2, .total_segments = 2 },
		{ .op = DDB_OP_SCAN, .table = "t", .segment = -1, .total_segments = 4 },
		{ .op = DDB_OP_SCAN, .table = "t", .segment = 0, .total_segments = 1000001 },
		/* 45 */
		{ .op = DDB_OP_SCAN, .table = "t", .segment = 1, .total_segments = 0 },
		{ .op = DDB_OP_SCAN, .table = "t", .segment = 0, .total_segments = -3 },
		{ .op = DDB_OP_SCAN, .table = "t", .limit = -1 },
		{ .op = DDB_OP_SCAN, .table = "t", .key = &key },
		{ .op = DDB_OP_SCAN, .table = "t", .exclusive_start_key = &empty },
		/* 50 */
		{ .op = DDB_OP_SCAN, .table = "t", .return_values = DDB_RETURN_ALL_OLD },
		{ .op = DDB_OP_SCAN, .table = "t", .condition = "a = b" },
		{ .op = DDB_OP_SCAN, .table = "t", .filter = "bad\xc3" },
		/* 53: table operations */
		{ .op = DDB_OP_DESCRIBE_TABLE, .table = "t", .consistent_read = true },
		{ .op = DDB_OP_DESCRIBE_TABLE, .table = "t", .limit = 5 },
		/* 55 */
		{ .op = DDB_OP_DESCRIBE_TABLE, .table = "t", .hash_key = "id" },
		{ .op = DDB_OP_CREATE_TABLE, .table = "t" },
		{ .op = DDB_OP_CREATE_TABLE, .table = "t", .hash_key = "" },
		{ .op = DDB_OP_CREATE_TABLE, .table = "t", .hash_key = "id", .ttl_enabled = true },
		{ .op = DDB_OP_CREATE_TABLE, .table = "t", .hash_key = "id", .key = &key },
		/* 60 */
		{ .op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "t" },
		{ .op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "t", .ttl_enabled = true },
		{ .op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "t", .ttl_attribute = "" },
		{ .op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "t", .ttl_attribute = "expires",
		  .hash_key = "id" },
	};
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append_str(&b, "kept"), ERROR_OK);
	for (i = 0; i < N_ELEMS(cases); i++) {
		enum error_code rc = ddb_request_encode(&cases[i], &b);

		ck_assert_msg(rc == ERROR_INVALID, "case %zu: %s, body %s", i, error_str(rc),
			      b.data);
		ck_assert_str_eq(b.data, "kept");
	}
	ck_assert_int_eq(ddb_request_encode(NULL, &b), ERROR_INVALID);
	ck_assert_int_eq(ddb_request_encode(&cases[5], NULL), ERROR_INVALID);
	buf_free(&b);
	ddb_item_clear(&key);
	ddb_item_clear(&item);
	ddb_item_clear(&values);
	ddb_item_clear(&bad_values);
}
END_TEST

/* The struct is public, so an item filled by hand must be checked too. */
START_TEST(encode_rejects_bad_attributes)
{
	struct ddb_attr attr = { .name = "a", .type = DDB_TYPE_S };
	struct ddb_item item = { .attrs = &attr, .n = 1, .alloc = 1 };
	struct ddb_attr dup[2] = {
		{ .name = "a", .type = DDB_TYPE_N, .value = "1", .value_len = 1 },
		{ .name = "a", .type = DDB_TYPE_N, .value = "2", .value_len = 1 },
	};
	struct ddb_item dup_item = { .attrs = dup, .n = 2, .alloc = 2 };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item };
	static const struct {
		enum ddb_type type;
		const char *name, *value;
		size_t len;
	} cases[] = {
		{ DDB_TYPE_S, "a", "caf\xc3", 4 },            /* truncated UTF-8 */
		{ DDB_TYPE_S, "a", "\xed\xa0\x80", 3 },       /* a surrogate */
		{ DDB_TYPE_S, "a", "\xc0\xaf", 2 },           /* overlong '/' */
		{ DDB_TYPE_S, "a\xff", "x", 1 },              /* bad name */
		{ DDB_TYPE_S, "", "x", 1 },                   /* empty name */
		{ DDB_TYPE_S, "a", NULL, 0 },                 /* no value */
		{ DDB_TYPE_N, "a", "1.2.3", 5 },
		{ DDB_TYPE_N, "a", "", 0 },
		{ DDB_TYPE_OTHER, "a", "{\"BOOL\":1}", 10 },
		{ DDB_TYPE_OTHER, "a", "{\"M\":", 5 },
		{ (enum ddb_type)9, "a", "x", 1 },
	};
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < N_ELEMS(cases); i++) {
		attr.type = cases[i].type;
		attr.name = (char *)cases[i].name;
		attr.value = (char *)cases[i].value;
		attr.value_len = cases[i].len;
		ck_assert_msg(ddb_request_encode(&req, &b) == ERROR_INVALID, "case %zu", i);
		ck_assert_uint_eq(b.len, 0);
	}
	req.item = &dup_item;
	ck_assert_int_eq(ddb_request_encode(&req, &b), ERROR_INVALID);

	/* The same attribute, well formed, passes: the cases fail for their flaw. */
	attr = (struct ddb_attr){ .name = "a", .type = DDB_TYPE_S, .value = "caf\xc3\xa9",
				  .value_len = 5 };
	req.item = &item;
	ck_assert_int_eq(ddb_request_encode(&req, &b), ERROR_OK);
	assert_json_eq(b.data, "{\"TableName\":\"t\",\"Item\":{\"a\":{\"S\":\"caf\xc3\xa9\"}}}");
	buf_free(&b);
}
END_TEST

/* The body is written without jansson: its bytes are what jansson's
 * compact dump of the same document gives, escapes included. */
START_TEST(encode_matches_jansson_bytes)
{
	char value[64];
	struct ddb_item item = { 0 };
	struct ddb_name names[] = { { "#k", "id\"\\/" } };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = "t.1", .item = &item,
				   .condition = "attribute_not_exists(#k)", .names = names,
				   .n_names = 1 };
	json_t *doc;
	char *got, *want;
	size_t n = 0;

	for (int c = 1; c < 0x20; c++)
		value[n++] = (char)c;
	memcpy(value + n, "\"\\/\x7f\xc3\xa9\xe2\x82\xac", 10);
	n += 10;
	ck_assert_int_eq(ddb_item_add_s(&item, "id", value, n), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n(&item, "expires", "-1.5e3"), ERROR_OK);
	doc = json_pack("{s:s, s:{s:{s:s%}, s:{s:s}}, s:s, s:{s:s}}", "TableName", "t.1", "Item",
			"id", "S", value, n, "expires", "N", "-1.5e3", "ConditionExpression",
			"attribute_not_exists(#k)", "ExpressionAttributeNames", "#k", "id\"\\/");
	ck_assert_ptr_nonnull(doc);
	want = json_dumps(doc, JSON_COMPACT);
	got = encode_ok(&req);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	json_decref(doc);
	ddb_item_clear(&item);
}
END_TEST

/* Item answers take a fast path without a tree; it must read every body
 * as the general decoder does, escapes and refusals included. */
START_TEST(decode_fast_path_matches_general)
{
	static const char *const bodies[] = {
		"{}",
		" { \"Item\" : { } } ",
		"{\"Item\":{\"id\":{\"S\":\"sess:a\\u00e9\\ud83d\\ude00\\n\\\"\\/\"},"
		"\"expires\":{\"N\":\"1764060000.5\"},\"sess\":{\"S\":\"{\\\"a\\\":1}\"}}}",
		"{\"Item\":{\"a\":{\"S\":\"x\"},\"a\":{\"S\":\"y\"}}}", /* repeated name */
		"{\"Item\":{\"a\":{\"N\":\"1.2.3\"}}}",                  /* not a number */
		"{\"Item\":{\"a\":{\"BOOL\":true},\"b\":{\"S\":\"x\"}}}", /* another type */
		"{\"Item\":{\"a\":{\"S\":\"x\"}},\"Item\":{}}",            /* repeated Item */
		"{\"Item\":{\"a\":{\"S\":\"x\"}}} trailing",
		"{\"Item\":{\"a\":{\"S\":\"\\u0000\"}}}",
		"{\"Item\":{\"a\\u0041\":{\"S\":\"x\"}}}",                 /* escaped name */
		"{\"Item\":{\"a\":{\"S\":\"x\",\"N\":\"1\"}}}",
		"{\"ConsumedCapacity\":{\"CapacityUnits\":1},\"Item\":{\"a\":{\"S\":\"x\"}}}",
	};
	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		struct ddb_response fast, slow;
		enum error_code a, b;

		memset(&fast, 0, sizeof(fast));
		memset(&slow, 0, sizeof(slow));
		a = ddb_response_decode(DDB_OP_GET_ITEM, bodies[i], strlen(bodies[i]), &fast);
		b = ddb_response_decode_general(DDB_OP_GET_ITEM, bodies[i], strlen(bodies[i]),
						&slow);
		ck_assert_msg(a == b, "body %zu: %s vs %s", i, error_str(a), error_str(b));
		ck_assert_int_eq(fast.has_item, slow.has_item);
		ck_assert_uint_eq(fast.item.n, slow.item.n);
		for (size_t k = 0; k < fast.item.n; k++) {
			ck_assert_str_eq(fast.item.attrs[k].name, slow.item.attrs[k].name);
			ck_assert_int_eq(fast.item.attrs[k].type, slow.item.attrs[k].type);
			ck_assert_uint_eq(fast.item.attrs[k].value_len, slow.item.attrs[k].value_len);
			ck_assert_int_eq(memcmp(fast.item.attrs[k].value, slow.item.attrs[k].value,
						fast.item.attrs[k].value_len), 0);
		}
		ddb_response_clear(&fast);
		ddb_response_clear(&slow);
	}
}
END_TEST

START_TEST(encode_respects_buf_cap)
{
	struct ddb_request req = { .op = DDB_OP_DESCRIBE_TABLE, .table = "sessions" };
	struct buf b;

	buf_init(&b, 20);
	ck_assert_int_eq(ddb_request_encode(&req, &b), ERROR_TOO_LARGE);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	buf_init(&b, strlen("{\"TableName\":\"sessions\"}"));
	ck_assert_int_eq(ddb_request_encode(&req, &b), ERROR_OK);
	buf_free(&b);
}
END_TEST

/* ---- decoding ----------------------------------------------------------- */

START_TEST(decode_get_item)
{
	struct ddb_response r = { 0 };
	const struct ddb_attr *a;

	ck_assert_int_eq(decode_str(DDB_OP_GET_ITEM,
				    "{\"Item\":{\"id\":{\"S\":\"sess:abc\"},"
				    "\"expires\":{\"N\":\"1764060000.123\"},"
				    "\"sess\":{\"S\":\"{\\\"user\\\":42}\"}},"
				    "\"ConsumedCapacity\":{\"TableName\":\"sessions\",\"CapacityUnits\":1}}",
				    &r),
			 ERROR_OK);
	ck_assert_int_eq(r.op, DDB_OP_GET_ITEM);
	ck_assert(r.has_item);
	ck_assert_uint_eq(r.item.n, 3);
	a = ddb_item_get(&r.item, "expires");
	ck_assert_int_eq(a->type, DDB_TYPE_N);
	ck_assert_str_eq(a->value, "1764060000.123");
	ck_assert_str_eq(ddb_item_get(&r.item, "sess")->value, "{\"user\":42}");
	ddb_response_clear(&r);
	ck_assert(response_is_zero(&r));

	ck_assert_int_eq(decode_str(DDB_OP_GET_ITEM, "{}", &r), ERROR_OK);
	ck_assert(!r.has_item);
	ck_assert_uint_eq(r.item.n, 0);
	ddb_response_clear(&r);
}
END_TEST

START_TEST(decode_write_attributes)
{
	static const enum ddb_op ops[] = {
		DDB_OP_PUT_ITEM, DDB_OP_UPDATE_ITEM, DDB_OP_DELETE_ITEM,
	};
	struct ddb_response r = { 0 };
	size_t i;

	for (i = 0; i < N_ELEMS(ops); i++) {
		ck_assert_int_eq(decode_str(ops[i], "{}", &r), ERROR_OK);
		ck_assert(!r.has_item);
		ck_assert_int_eq(r.op, ops[i]);
		ck_assert_int_eq(decode_str(ops[i], "{\"Attributes\":{\"version\":{\"N\":\"4\"},"
						    "\"id\":{\"S\":\"sess:abc\"}}}", &r),
				 ERROR_OK);
		ck_assert(r.has_item);
		ck_assert_uint_eq(r.item.n, 2);
		ck_assert_str_eq(r.item.attrs[0].name, "version");
		ck_assert_str_eq(r.item.attrs[0].value, "4");
		ck_assert_str_eq(r.item.attrs[1].value, "sess:abc");
		ddb_response_clear(&r);
	}
}
END_TEST

START_TEST(decode_scan)
{
	struct ddb_response r = { 0 };

	ck_assert_int_eq(decode_str(DDB_OP_SCAN,
				    "{\"Items\":[{\"id\":{\"S\":\"sess:a\"},\"expires\":{\"N\":\"10\"}},"
				    "{\"id\":{\"S\":\"sess:b\"},\"expires\":{\"N\":\"20.5\"}}],"
				    "\"Count\":2,\"ScannedCount\":7,"
				    "\"LastEvaluatedKey\":{\"id\":{\"S\":\"sess:b\"}}}",
				    &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_items, 2);
	ck_assert_int_eq(r.count, 2);
	ck_assert_int_eq(r.scanned_count, 7);
	ck_assert_str_eq(ddb_item_get(&r.items[0], "id")->value, "sess:a");
	ck_assert_str_eq(ddb_item_get(&r.items[1], "expires")->value, "20.5");
	ck_assert(r.has_last_key);
	ck_assert_uint_eq(r.last_key.n, 1);
	ck_assert_str_eq(r.last_key.attrs[0].value, "sess:b");

	/* The last page, empty, and decoded into the same (now cleared) out. */
	ck_assert_int_eq(decode_str(DDB_OP_SCAN, "{\"Items\":[],\"Count\":0,\"ScannedCount\":3}",
				    &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_items, 0);
	ck_assert_ptr_null(r.items);
	ck_assert_int_eq(r.scanned_count, 3);
	ck_assert(!r.has_last_key);
	ck_assert_int_eq(decode_str(DDB_OP_SCAN, "{\"Count\":0,\"ScannedCount\":0}", &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_items, 0);
	ddb_response_clear(&r);
}
END_TEST

START_TEST(decode_table_ops)
{
	struct ddb_response r = { 0 };
	char body[512];

	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE,
				    "{\"Table\":{\"TableName\":\"sessions\",\"TableStatus\":\"ACTIVE\","
				    "\"AttributeDefinitions\":"
				    "[{\"AttributeName\":\"sk\",\"AttributeType\":\"S\"},"
				    "{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
				    "\"KeySchema\":[{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"},"
				    "{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
				    "\"ItemCount\":0,"
				    "\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}}}",
				    &r),
			 ERROR_OK);
	ck_assert_str_eq(r.table_status, "ACTIVE");
	ck_assert_str_eq(r.hash_key, "pk");

	ck_assert_int_eq(decode_str(DDB_OP_CREATE_TABLE,
				    "{\"TableDescription\":{\"TableName\":\"sessions\","
				    "\"TableStatus\":\"CREATING\",\"KeySchema\":"
				    "[{\"AttributeName\":\"ключ\",\"KeyType\":\"HASH\"}]}}",
				    &r),
			 ERROR_OK);
	ck_assert_str_eq(r.table_status, "CREATING");
	ck_assert_str_eq(r.hash_key, "ключ");

	/* A status longer than the array is cut, never overflows. */
	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE,
				    "{\"Table\":{\"TableStatus\":\"INACCESSIBLE_ENCRYPTION_CREDENTIALS\","
				    "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]}}",
				    &r),
			 ERROR_OK);
	ck_assert_str_eq(r.table_status, "INACCESSIBLE_ENCRYPTION_CREDENT");

	/* A hash key of 255 bytes, DynamoDB's longest, fits exactly. */
	snprintf(body, sizeof(body),
		 "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
		 "[{\"AttributeName\":\"%0255d\",\"KeyType\":\"HASH\"}]}}", 7);
	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE, body, &r), ERROR_OK);
	ck_assert_uint_eq(strlen(r.hash_key), 255);
	ck_assert_int_eq(r.hash_key[254], '7');

	ck_assert_int_eq(decode_str(DDB_OP_UPDATE_TIME_TO_LIVE,
				    "{\"TimeToLiveSpecification\":{\"AttributeName\":\"expires\","
				    "\"Enabled\":true}}",
				    &r),
			 ERROR_OK);
	ck_assert(r.ttl_enabled);
	ck_assert_int_eq(decode_str(DDB_OP_UPDATE_TIME_TO_LIVE,
				    "{\"TimeToLiveSpecification\":{\"AttributeName\":\"expires\","
				    "\"Enabled\":false}}",
				    &r),
			 ERROR_OK);
	ck_assert(!r.ttl_enabled);
	ddb_response_clear(&r);
}
END_TEST

START_TEST(decode_rejects_malformed)
{
	static const struct {
		enum ddb_op op;
		const char *body;
	} cases[] = {
		/* 0: not a JSON object */
		{ DDB_OP_GET_ITEM, "" },
		{ DDB_OP_GET_ITEM, "   " },
		{ DDB_OP_GET_ITEM, "{" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":\"sess:a" },
		{ DDB_OP_GET_ITEM, "[]" },
		/* 5 */
		{ DDB_OP_GET_ITEM, "null" },
		{ DDB_OP_GET_ITEM, "\"Item\"" },
		{ DDB_OP_GET_ITEM, "{} trailing" },
		{ DDB_OP_GET_ITEM, "<html><body>200 OK</body></html>" },
		/* 9: malformed items and AttributeValues */
		{ DDB_OP_GET_ITEM, "{\"Item\":[]}" },
		/* 10 */
		{ DDB_OP_GET_ITEM, "{\"Item\":\"x\"}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":\"a\",\"N\":\"1\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":\"a\",\"S\":\"b\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":\"a\"},\"id\":{\"S\":\"b\"}}}" },
		/* 15 */
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":1}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":null}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"n\":{\"N\":1}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"n\":{\"N\":\"abc\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"n\":{\"N\":\"1e\"}}}" },
		/* 20 */
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"n\":{\"N\":\"1\\u00002\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"X\":\"a\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"BOOL\":\"true\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"NULL\":false}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"SS\":[]}}}" },
		/* 25 */
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"SS\":[\"a\",1]}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"NS\":[\"1\",\"x\"]}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"M\":{\"a\":{\"S\":\"x\",\"N\":\"1\"}}}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"L\":[{\"S\":\"x\"},5]}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"x\":{\"B\":false}}}" },
		/* 30: writes */
		{ DDB_OP_PUT_ITEM, "{\"Attributes\":[]}" },
		{ DDB_OP_UPDATE_ITEM, "{\"Attributes\":{\"v\":{\"N\":\"--1\"}}}" },
		{ DDB_OP_DELETE_ITEM, "" },
		/* 33: Scan */
		{ DDB_OP_SCAN, "{}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":0}" },
		/* 35 */
		{ DDB_OP_SCAN, "{\"Items\":{},\"Count\":0,\"ScannedCount\":0}" },
		{ DDB_OP_SCAN, "{\"Items\":[1],\"Count\":1,\"ScannedCount\":1}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":-1,\"ScannedCount\":0}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":\"0\",\"ScannedCount\":0}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":1.5,\"ScannedCount\":0}" },
		/* 40 */
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":0,\"ScannedCount\":99999999999999999999}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":0,\"ScannedCount\":0,\"LastEvaluatedKey\":{}}" },
		{ DDB_OP_SCAN, "{\"Items\":[],\"Count\":0,\"ScannedCount\":0,\"LastEvaluatedKey\":[]}" },
		{ DDB_OP_SCAN, "{\"Items\":[{\"a\":{\"S\":\"x\"}},{\"a\":{\"Q\":1}}],"
			       "\"Count\":2,\"ScannedCount\":2}" },
		{ DDB_OP_SCAN, "{\"Items\":[{\"a\":{\"S\":\"x\"}}],\"Count\":1,\"ScannedCount\":1,"
			       "\"LastEvaluatedKey\":{\"a\":{\"S\":5}}}" },
		/* 45: tables */
		{ DDB_OP_DESCRIBE_TABLE, "{}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\"}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":1,\"KeySchema\":"
					 "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
					 "[{\"AttributeName\":\"id\",\"KeyType\":\"RANGE\"}]}}" },
		/* 50 */
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
					 "[{\"AttributeName\":\"a\",\"KeyType\":\"HASH\"},"
					 "{\"AttributeName\":\"b\",\"KeyType\":\"HASH\"}]}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":[1]}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
					 "[{\"AttributeName\":\"\",\"KeyType\":\"HASH\"}]}}" },
		{ DDB_OP_DESCRIBE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
					 "[{\"AttributeName\":\"a\\u0000b\",\"KeyType\":\"HASH\"}]}}" },
		{ DDB_OP_CREATE_TABLE, "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
				       "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]}}" },
		/* 55: UpdateTimeToLive */
		{ DDB_OP_UPDATE_TIME_TO_LIVE, "{}" },
		{ DDB_OP_UPDATE_TIME_TO_LIVE, "{\"TimeToLiveSpecification\":{\"Enabled\":\"true\"}}" },
		{ DDB_OP_UPDATE_TIME_TO_LIVE, "{\"TimeToLiveSpecification\":true}" },
	};
	static const char full_scan[] =
		"{\"Items\":[{\"a\":{\"S\":\"x\"}}],\"Count\":1,\"ScannedCount\":1,"
		"\"LastEvaluatedKey\":{\"a\":{\"S\":\"x\"}}}";
	struct ddb_response r = { 0 };
	char long_key[512];
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		/* Start from a filled response: a failure must clear it. */
		ck_assert_int_eq(decode_str(DDB_OP_SCAN, full_scan, &r), ERROR_OK);
		ck_assert_msg(decode_str(cases[i].op, cases[i].body, &r) == ERROR_PARSE,
			      "case %zu accepted: %s", i, cases[i].body);
		ck_assert_msg(response_is_zero(&r), "case %zu left data behind", i);
	}
	/* A hash key name over the 255 bytes the array holds is refused whole. */
	snprintf(long_key, sizeof(long_key),
		 "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
		 "[{\"AttributeName\":\"%0256d\",\"KeyType\":\"HASH\"}]}}", 1);
	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE, long_key, &r), ERROR_PARSE);
	ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, NULL, 0, &r), ERROR_PARSE);
	ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, NULL, 5, &r), ERROR_PARSE);
	ck_assert_int_eq(ddb_response_decode(DDB_OP_COUNT, "{}", 2, &r), ERROR_INVALID);
	ck_assert(response_is_zero(&r));
	ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, "{}", 2, NULL), ERROR_INVALID);
}
END_TEST

/* Every proper prefix of an answer is truncated JSON and must be refused
 * without a crash or a leak; the whole answer must decode. */
START_TEST(decode_refuses_every_truncation)
{
	static const struct {
		enum ddb_op op;
		const char *body;
	} answers[] = {
		{ DDB_OP_SCAN,
		  "{\"Items\":[{\"id\":{\"S\":\"sess:\\u00e9\"},\"m\":{\"M\":{\"l\":{\"L\":"
		  "[{\"N\":\"1.5\"},{\"NULL\":true},{\"BS\":[\"AQ==\"]}]}}}}],"
		  "\"Count\":1,\"ScannedCount\":4,\"LastEvaluatedKey\":{\"id\":{\"S\":\"k\"}}}" },
		{ DDB_OP_GET_ITEM, "{\"Item\":{\"id\":{\"S\":\"\\ud83c\\udf89\"}}}" },
		{ DDB_OP_DESCRIBE_TABLE,
		  "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
		  "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]}}" },
	};
	struct ddb_response r = { 0 };
	size_t i, len;

	for (i = 0; i < N_ELEMS(answers); i++) {
		size_t full = strlen(answers[i].body);

		for (len = 0; len < full; len++) {
			ck_assert_msg(ddb_response_decode(answers[i].op, answers[i].body, len,
							  &r) == ERROR_PARSE,
				      "answer %zu accepted at %zu bytes", i, len);
			ck_assert(response_is_zero(&r));
		}
		ck_assert_int_eq(ddb_response_decode(answers[i].op, answers[i].body, full, &r),
				 ERROR_OK);
		ddb_response_clear(&r);
	}
}
END_TEST

/* ---- round trips -------------------------------------------------------- */

START_TEST(roundtrip_every_op)
{
	static const struct ddb_name names[] = { { "#v", "version" } };
	struct ddb_item key = { 0 }, item = { 0 }, values = { 0 };
	struct ddb_response r = { 0 };
	struct ddb_request req;

	key_item(&key, "sess:abc");
	session_item(&item);
	add_other(&item, "tags", "{\"SS\":[\"a\",\"b\"]}");
	add_n(&values, ":one", "1");

	req = (struct ddb_request){ .op = DDB_OP_GET_ITEM, .table = "t", .key = &key };
	echo_decode(&req, "Key", DDB_OP_GET_ITEM, "", "Item", &r);
	ck_assert(r.has_item);
	assert_items_equal(&r.item, &key);

	req = (struct ddb_request){ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &item,
				    .return_values = DDB_RETURN_ALL_OLD };
	echo_decode(&req, "Item", DDB_OP_PUT_ITEM, "", "Attributes", &r);
	assert_items_equal(&r.item, &item);

	req = (struct ddb_request){ .op = DDB_OP_UPDATE_ITEM, .table = "t", .key = &key,
				    .update = "ADD #v :one", .names = names, .n_names = 1,
				    .values = &values, .return_values = DDB_RETURN_UPDATED_NEW };
	echo_decode(&req, "ExpressionAttributeValues", DDB_OP_UPDATE_ITEM, "", "Attributes", &r);
	assert_items_equal(&r.item, &values);

	req = (struct ddb_request){ .op = DDB_OP_DELETE_ITEM, .table = "t", .key = &key };
	echo_decode(&req, "Key", DDB_OP_DELETE_ITEM, "", "Attributes", &r);
	assert_items_equal(&r.item, &key);

	req = (struct ddb_request){ .op = DDB_OP_SCAN, .table = "t", .exclusive_start_key = &key,
				    .segment = 1, .total_segments = 4 };
	echo_decode(&req, "ExclusiveStartKey", DDB_OP_SCAN,
		    "\"Items\":[],\"Count\":0,\"ScannedCount\":12,", "LastEvaluatedKey", &r);
	ck_assert(r.has_last_key);
	assert_items_equal(&r.last_key, &key);
	ck_assert_int_eq(r.scanned_count, 12);

	/* The answer's TableDescription carries the KeySchema that was sent. */
	req = (struct ddb_request){ .op = DDB_OP_CREATE_TABLE, .table = "t", .hash_key = "sid" };
	{
		char *schema = encoded_member(&req, "KeySchema");
		struct buf body;

		buf_init(&body, 0);
		ck_assert_int_eq(buf_printf(&body, "{\"TableDescription\":{\"TableStatus\":"
						   "\"CREATING\",\"KeySchema\":%s}}", schema),
				 ERROR_OK);
		ck_assert_int_eq(ddb_response_decode(DDB_OP_CREATE_TABLE, body.data, body.len, &r),
				 ERROR_OK);
		ck_assert_str_eq(r.hash_key, "sid");
		ck_assert_str_eq(r.table_status, "CREATING");
		buf_free(&body);
		free(schema);
	}

	/* DescribeTable sends only the name; the answer describes that table. */
	req = (struct ddb_request){ .op = DDB_OP_DESCRIBE_TABLE, .table = "t" };
	{
		char *name = encoded_member(&req, "TableName");
		struct buf body;

		buf_init(&body, 0);
		ck_assert_int_eq(buf_printf(&body, "{\"Table\":{\"TableName\":%s,\"TableStatus\":"
						   "\"ACTIVE\",\"KeySchema\":[{\"AttributeName\":"
						   "\"sid\",\"KeyType\":\"HASH\"}]}}", name),
				 ERROR_OK);
		ck_assert_int_eq(ddb_response_decode(DDB_OP_DESCRIBE_TABLE, body.data, body.len,
						     &r),
				 ERROR_OK);
		ck_assert_int_eq(r.op, DDB_OP_DESCRIBE_TABLE);
		ck_assert_str_eq(r.table_status, "ACTIVE");
		ck_assert_str_eq(r.hash_key, "sid");
		buf_free(&body);
		free(name);
	}

	req = (struct ddb_request){ .op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "t",
				    .ttl_attribute = "expires", .ttl_enabled = true };
	echo_decode(&req, "TimeToLiveSpecification", DDB_OP_UPDATE_TIME_TO_LIVE, "",
		    "TimeToLiveSpecification", &r);
	ck_assert(r.ttl_enabled);

	ddb_response_clear(&r);
	ddb_item_clear(&key);
	ddb_item_clear(&item);
	ddb_item_clear(&values);
}
END_TEST

START_TEST(roundtrip_other_types)
{
	static const char *const avs[] = {
		"{\"M\":{\"a\":{\"S\":\"x\"},\"b\":{\"L\":[{\"N\":\"1\"},{\"NULL\":true}]},"
		"\"c\":{\"M\":{}}}}",
		"{\"L\":[{\"S\":\"a\"},{\"BOOL\":false},{\"L\":[]}]}",
		"{\"L\":[]}",
		"{\"BOOL\":true}",
		"{\"BOOL\":false}",
		"{\"NULL\":true}",
		"{\"B\":\"AAEC/w==\"}",
		"{\"SS\":[\"a\",\"b\",\"é\"]}",
		"{\"NS\":[\"1\",\"2.5\",\"-1E3\"]}",
		"{\"BS\":[\"AQ==\",\"Ag==\"]}",
		"{\"M\":{\"nul\":{\"S\":\"a\\u0000b\"}}}",
	};
	struct ddb_response r = { 0 };
	struct buf body;
	size_t i;

	buf_init(&body, 0);
	for (i = 0; i < N_ELEMS(avs); i++) {
		const struct ddb_attr *a;
		struct ddb_request req;
		char *sent, *want;

		buf_reset(&body);
		ck_assert_int_eq(buf_printf(&body, "{\"Item\":{\"id\":{\"S\":\"k\"},\"x\":%s}}",
					    avs[i]),
				 ERROR_OK);
		ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, body.data, body.len, &r),
				 ERROR_OK);
		a = ddb_item_get(&r.item, "x");
		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(a->type, DDB_TYPE_OTHER);
		/* Kept as compact JSON: the inputs above are compact already. */
		ck_assert_str_eq(a->value, avs[i]);
		ck_assert_uint_eq(a->value_len, strlen(avs[i]));

		/* And sent back unchanged. */
		req = (struct ddb_request){ .op = DDB_OP_PUT_ITEM, .table = "t", .item = &r.item };
		sent = encode_ok(&req);
		buf_reset(&body);
		ck_assert_int_eq(buf_printf(&body, "{\"TableName\":\"t\",\"Item\":"
						   "{\"id\":{\"S\":\"k\"},\"x\":%s}}", avs[i]),
				 ERROR_OK);
		want = body.data;
		assert_json_eq(sent, want);
		free(sent);
	}
	ddb_response_clear(&r);
	buf_free(&body);
}
END_TEST

/* DynamoDB's item limit is 400 KB; a session of that size must survive. */
START_TEST(roundtrip_400k_value)
{
	const size_t size = 400 * 1024;
	struct ddb_item item = { 0 };
	struct ddb_response r = { 0 };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = "sessions", .item = &item };
	char *value = malloc(size), *sent, *member;
	const struct ddb_attr *a;
	size_t i;

	ck_assert_ptr_nonnull(value);
	for (i = 0; i < size; i++)
		value[i] = (char)('a' + i % 26);
	value[size / 2] = '"'; /* escaped on the wire */
	key_item(&item, "sess:big");
	ck_assert_int_eq(ddb_item_add_s(&item, "sess", value, size), ERROR_OK);
	sent = encode_ok(&req);
	ck_assert_uint_gt(strlen(sent), size);

	member = encoded_member(&req, "Item");
	{
		struct buf body;

		buf_init(&body, 0);
		ck_assert_int_eq(buf_printf(&body, "{\"Item\":%s}", member), ERROR_OK);
		ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, body.data, body.len, &r),
				 ERROR_OK);
		buf_free(&body);
	}
	a = ddb_item_get(&r.item, "sess");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->value_len, size);
	ck_assert(memcmp(a->value, value, size) == 0);
	ck_assert_int_eq(a->value[size], '\0');

	ddb_response_clear(&r);
	ddb_item_clear(&item);
	free(member);
	free(sent);
	free(value);
}
END_TEST

START_TEST(roundtrip_utf8_and_nul)
{
	static const char nul_value[] = "a\0b\0";
	struct ddb_item item = { 0 };
	struct ddb_response r = { 0 };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = "sessions", .item = &item };
	const struct ddb_attr *a;
	char *sent, *member;
	struct buf body;

	add_s(&item, "ключ", "значение 🎉");
	add_s(&item, "😀", "x");
	ck_assert_int_eq(ddb_item_add_s(&item, "nul", nul_value, 4), ERROR_OK);
	sent = encode_ok(&req);
	/* UTF-8 is sent as itself, NUL as an escape. */
	ck_assert_ptr_nonnull(strstr(sent, "\"ключ\":{\"S\":\"значение 🎉\"}"));
	ck_assert_ptr_nonnull(strstr(sent, "\"nul\":{\"S\":\"a\\u0000b\\u0000\"}"));

	member = encoded_member(&req, "Item");
	buf_init(&body, 0);
	ck_assert_int_eq(buf_printf(&body, "{\"Item\":%s}", member), ERROR_OK);
	ck_assert_int_eq(ddb_response_decode(DDB_OP_GET_ITEM, body.data, body.len, &r), ERROR_OK);
	assert_items_equal(&r.item, &item);
	a = ddb_item_get(&r.item, "nul");
	ck_assert_uint_eq(a->value_len, 4);
	ck_assert_mem_eq(a->value, nul_value, 5);

	/* Escaped forms, as other clients may send them, decode to the same. */
	ck_assert_int_eq(decode_str(DDB_OP_GET_ITEM,
				    "{\"Item\":{\"\\u043a\\u043b\\u044e\\u0447\":"
				    "{\"S\":\"\\u0437\\u043d\\u0430\\u0447\\u0435\\u043d\\u0438\\u0435 "
				    "\\ud83c\\udf89\"}}}", &r),
			 ERROR_OK);
	ck_assert_str_eq(r.item.attrs[0].name, "ключ");
	ck_assert_str_eq(r.item.attrs[0].value, "значение 🎉");

	ddb_response_clear(&r);
	ddb_item_clear(&item);
	buf_free(&body);
	free(member);
	free(sent);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(error_classification)
{
	static const struct {
		long status;
		const char *body;
		enum ddb_error_class cls;
		bool throttled;
		const char *type, *message;
	} cases[] = {
		/* 0 */
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
		       "\"message\":\"The conditional request failed\"}",
		  DDB_ERR_CONDITION, false, "ConditionalCheckFailedException",
		  "The conditional request failed" },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
		       "\"message\":\"The level of configured provisioned throughput for the table was exceeded.\"}",
		  DDB_ERR_RETRYABLE, true, "ProvisionedThroughputExceededException",
		  "The level of configured provisioned throughput for the table was exceeded." },
		{ 400, "{\"__type\":\"com.amazon.coral.availability#ThrottlingException\","
		       "\"message\":\"Rate of requests exceeds the allowed throughput.\"}",
		  DDB_ERR_RETRYABLE, true, "ThrottlingException",
		  "Rate of requests exceeds the allowed throughput." },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded\","
		       "\"Message\":\"Throughput exceeds the current throughput limit for your account.\"}",
		  DDB_ERR_RETRYABLE, true, "RequestLimitExceeded",
		  "Throughput exceeds the current throughput limit for your account." },
		{ 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\","
		       "\"message\":\"Internal server error\"}",
		  DDB_ERR_RETRYABLE, false, "InternalServerError", "Internal server error" },
		/* 5: the status decides when the body says nothing usable */
		{ 503, "<html><head><title>503 Service Unavailable</title></head>\r\n"
		       "<body>Service\tUnavailable</body></html>",
		  DDB_ERR_RETRYABLE, false, "",
		  "<html><head><title>503 Service Unavailable</title></head>  "
		  "<body>Service Unavailable</body></html>" },
		{ 502, "", DDB_ERR_RETRYABLE, false, "", "" },
		{ 504, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#Valid",
		  DDB_ERR_RETRYABLE, false, "", "{\"__type\":\"com.amazonaws.dynamodb.v20120810#Valid" },
		{ 500, "{\"__type\":5,\"message\":[]}", DDB_ERR_RETRYABLE, false, "", "" },
		{ 429, "", DDB_ERR_RETRYABLE, true, "", "" },
		/* 10: refusals */
		{ 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		       "\"message\":\"One or more parameter values were invalid\"}",
		  DDB_ERR_FATAL, false, "ValidationException",
		  "One or more parameter values were invalid" },
		{ 400, "{\"__type\":\"com.amazon.coral.service#AccessDeniedException\","
		       "\"Message\":\"User: arn:aws:iam::1:user/x is not authorized\"}",
		  DDB_ERR_FATAL, false, "AccessDeniedException",
		  "User: arn:aws:iam::1:user/x is not authorized" },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		       "\"message\":\"Requested resource not found\"}",
		  DDB_ERR_FATAL, false, "ResourceNotFoundException", "Requested resource not found" },
		{ 400, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
		       "\"message\":\"The security token included in the request is invalid.\"}",
		  DDB_ERR_FATAL, false, "UnrecognizedClientException",
		  "The security token included in the request is invalid." },
		{ 400, "{\"__type\":\"com.amazon.coral.service#SerializationException\"}",
		  DDB_ERR_FATAL, false, "SerializationException", "" },
		/* 15 */
		{ 400, "{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\","
		       "\"message\":\"The security token included in the request is expired\"}",
		  DDB_ERR_FATAL, false, "ExpiredTokenException",
		  "The security token included in the request is expired" },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#UnknownOperationException\"}",
		  DDB_ERR_FATAL, false, "UnknownOperationException", "" },
		{ 403, "<html><body>Forbidden</body></html>", DDB_ERR_FATAL, false, "",
		  "<html><body>Forbidden</body></html>" },
		{ 400, "", DDB_ERR_FATAL, false, "", "" },
		{ 413, "", DDB_ERR_FATAL, false, "", "" },
		/* 20 */
		{ 400, "{\"__type\":\"com.amazon", DDB_ERR_FATAL, false, "", "{\"__type\":\"com.amazon" },
		{ 400, "[1,2]", DDB_ERR_FATAL, false, "", "[1,2]" },
		{ 400, "{\"__type\":\"ThrottlingExceptionX\"}", DDB_ERR_FATAL, false,
		  "ThrottlingExceptionX", "" },
		/* 23: code forms the AWS SDKs accept */
		{ 400, "{\"__type\":\"ValidationException:http://internal.amazon.com/coral/"
		       "com.amazon.coral.validate/\"}",
		  DDB_ERR_FATAL, false, "ValidationException", "" },
		{ 400, "{\"__type\":\"aws.protocoltests#ThrottlingException:http://x/y\"}",
		  DDB_ERR_RETRYABLE, true, "ThrottlingException", "" },
		/* 25 */
		{ 400, "{\"code\":\"ThrottlingException\",\"message\":\"m\"}",
		  DDB_ERR_RETRYABLE, true, "ThrottlingException", "m" },
		{ 400, "{\"__type\":\"ns#ConditionalCheckFailedException\",\"message\":\"a\","
		       "\"Message\":\"b\"}",
		  DDB_ERR_CONDITION, false, "ConditionalCheckFailedException", "a" },
		{ 400, "{\"__type\":\"ConditionalCheckFailedException\",\"message\":null,"
		       "\"Message\":\"b\"}",
		  DDB_ERR_CONDITION, false, "ConditionalCheckFailedException", "b" },
		{ 503, "{\"__type\":\"ns#ConditionalCheckFailedException\"}",
		  DDB_ERR_CONDITION, false, "ConditionalCheckFailedException", "" },
		{ 0, NULL, DDB_ERR_FATAL, false, "", "" },
	};
	struct ddb_error err;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		const char *body = cases[i].body;

		memset(&err, 0xa5, sizeof(err)); /* every field must be written */
		ddb_error_from_response(cases[i].status, body, body ? strlen(body) : 0, &err);
		ck_assert_msg(err.cls == cases[i].cls, "case %zu: class %s", i,
			      ddb_error_class_str(err.cls));
		ck_assert_msg(err.throttled == cases[i].throttled, "case %zu: throttled", i);
		ck_assert_int_eq(err.http_status, cases[i].status);
		ck_assert_str_eq(err.type, cases[i].type);
		ck_assert_str_eq(err.message, cases[i].message);
	}
	ddb_error_from_response(400, "{}", 2, NULL); /* must not crash */
}
END_TEST

/* Every code of the AWS SDKs' standard retry mode, by name. */
START_TEST(error_retry_codes)
{
	static const char *const throttling[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "EC2ThrottledException",
	};
	static const char *const transient[] = {
		"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
		"InternalServerError", "ServiceUnavailable",
	};
	struct ddb_error err;
	char body[256];
	size_t i;

	for (i = 0; i < N_ELEMS(throttling); i++) {
		snprintf(body, sizeof(body), "{\"__type\":\"com.amazonaws.x#%s\"}", throttling[i]);
		ddb_error_from_response(400, body, strlen(body), &err);
		ck_assert_msg(err.cls == DDB_ERR_RETRYABLE && err.throttled, "%s", throttling[i]);
		ck_assert_str_eq(err.type, throttling[i]);
	}
	for (i = 0; i < N_ELEMS(transient); i++) {
		snprintf(body, sizeof(body), "{\"__type\":\"com.amazonaws.x#%s\"}", transient[i]);
		ddb_error_from_response(400, body, strlen(body), &err);
		ck_assert_msg(err.cls == DDB_ERR_RETRYABLE && !err.throttled, "%s", transient[i]);
		ck_assert_str_eq(err.type, transient[i]);
	}
	for (i = 500; i <= 599; i++) {
		ddb_error_from_response((long)i, "", 0, &err);
		ck_assert_int_eq(err.cls, DDB_ERR_RETRYABLE);
	}
	for (i = 400; i <= 499; i++) {
		ddb_error_from_response((long)i, "", 0, &err);
		ck_assert_int_eq(err.cls, i == 429 ? DDB_ERR_RETRYABLE : DDB_ERR_FATAL);
	}
}
END_TEST

START_TEST(error_texts_are_bounded_and_log_safe)
{
	struct ddb_error err;
	struct buf body;
	char *msg;

	/* A long message is cut to the array. */
	buf_init(&body, 0);
	ck_assert_int_eq(buf_printf(&body, "{\"__type\":\"ns#%0100d\",\"message\":\"%01000d\"}", 1, 2),
			 ERROR_OK);
	ddb_error_from_response(400, body.data, body.len, &err);
	ck_assert_uint_eq(strlen(err.type), sizeof(err.type) - 1);
	ck_assert_uint_eq(strlen(err.message), sizeof(err.message) - 1);
	ck_assert_int_eq(err.cls, DDB_ERR_FATAL);

	/* Control characters, C1 ones and NUL become spaces. */
	buf_reset(&body);
	ck_assert_int_eq(buf_append_str(&body, "{\"__type\":\"ns#Bad\\nType\",\"message\":"
					       "\"\\u0001\\u001b[31mred\\n\\tend\\u007f\\u0085x\\u0000y\"}"),
			 ERROR_OK);
	ddb_error_from_response(400, body.data, body.len, &err);
	ck_assert_str_eq(err.type, "Bad Type");
	ck_assert_str_eq(err.message, "  [31mred  end  x y");

	/* A multi-byte character that does not fit whole is left out. */
	msg = malloc(300);
	ck_assert_ptr_nonnull(msg);
	memset(msg, 'a', 253);
	memcpy(msg + 253, "🎉", 5); /* 4 bytes and the terminator */
	ddb_error_set(&err, DDB_ERR_FATAL, 0, "t", msg);
	ck_assert_uint_eq(strlen(err.message), 253);
	memcpy(msg + 253, "é", 3);
	ddb_error_set(&err, DDB_ERR_FATAL, 0, "t", msg);
	ck_assert_uint_eq(strlen(err.message), 255);
	ck_assert_str_eq(err.message + 253, "é");
	free(msg);

	/* Bytes that are not UTF-8 become '?'. */
	ddb_error_from_response(503, "\xff\xfe" "abc\xc3", 6, &err);
	ck_assert_str_eq(err.message, "??abc?");
	ck_assert_str_eq(err.type, "");
	buf_free(&body);
}
END_TEST

START_TEST(error_set_and_class_str)
{
	struct ddb_error err;

	memset(&err, 0xa5, sizeof(err));
	ddb_error_set(&err, DDB_ERR_RETRYABLE, 0, "Timeout", "no answer within 1000 ms");
	ck_assert_int_eq(err.cls, DDB_ERR_RETRYABLE);
	ck_assert(!err.throttled);
	ck_assert_int_eq(err.http_status, 0);
	ck_assert_str_eq(err.type, "Timeout");
	ck_assert_str_eq(err.message, "no answer within 1000 ms");

	ddb_error_set(&err, DDB_ERR_RETRYABLE, 200, NULL, NULL);
	ck_assert_str_eq(err.type, "");
	ck_assert_str_eq(err.message, "");
	ck_assert_int_eq(err.http_status, 200);
	ddb_error_set(NULL, DDB_ERR_FATAL, 0, "x", "y");

	ck_assert_str_eq(ddb_error_class_str(DDB_ERR_NONE), "none");
	ck_assert_str_eq(ddb_error_class_str(DDB_ERR_RETRYABLE), "retryable");
	ck_assert_str_eq(ddb_error_class_str(DDB_ERR_CONDITION), "condition");
	ck_assert_str_eq(ddb_error_class_str(DDB_ERR_FATAL), "fatal");
	ck_assert_str_eq(ddb_error_class_str((enum ddb_error_class)42), "unknown");
}
END_TEST

/* Truncated error bodies must not crash and never classify as success. */
START_TEST(error_survives_every_truncation)
{
	static const char body[] =
		"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
		"\"message\":\"The conditional request failed \\u00e9\\ud83c\\udf89\"}";
	struct ddb_error err;
	size_t len;

	for (len = 0; len < sizeof(body) - 1; len++) {
		ddb_error_from_response(400, body, len, &err);
		ck_assert_int_eq(err.cls, DDB_ERR_FATAL);
		ck_assert_uint_lt(strlen(err.message), sizeof(err.message));
		ddb_error_from_response(500, body, len, &err);
		ck_assert_int_eq(err.cls, DDB_ERR_RETRYABLE);
	}
	ddb_error_from_response(400, body, len, &err);
	ck_assert_int_eq(err.cls, DDB_ERR_CONDITION);
	ck_assert_str_eq(err.message, "The conditional request failed é🎉");
}
END_TEST

/* ---- v1.1: Query and the users' index ------------------------------------- */

START_TEST(encode_query_and_index_ops)
{
	struct ddb_item values = { 0 }, start = { 0 };
	struct ddb_name names[] = { { "#u", "uid" }, { "#e", "expires" } };

	ck_assert_int_eq(ddb_item_add_s(&values, ":u", "alice", 5), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n(&values, ":now", "100"), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(&start, "id", "sess:a", 6), ERROR_OK);
	encode_expect(&(struct ddb_request){ .op = DDB_OP_QUERY, .table = "sessions",
					     .index_name = "by-user",
					     .key_condition = "#u = :u AND #e > :now",
					     .names = names, .n_names = 2, .values = &values,
					     .limit = 100, .exclusive_start_key = &start },
		      "{\"TableName\":\"sessions\",\"KeyConditionExpression\":\"#u = :u AND #e > :now\","
		      "\"IndexName\":\"by-user\","
		      "\"ExpressionAttributeNames\":{\"#u\":\"uid\",\"#e\":\"expires\"},"
		      "\"ExpressionAttributeValues\":{\":u\":{\"S\":\"alice\"},\":now\":{\"N\":\"100\"}},"
		      "\"ExclusiveStartKey\":{\"id\":{\"S\":\"sess:a\"}},\"Limit\":100}");
	encode_expect(&(struct ddb_request){ .op = DDB_OP_CREATE_TABLE, .table = "sessions",
					     .hash_key = "id", .index_name = "by-user",
					     .index_hash = "uid", .index_range = "expires" },
		      "{\"TableName\":\"sessions\",\"AttributeDefinitions\":["
		      "{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
		      "{\"AttributeName\":\"uid\",\"AttributeType\":\"S\"},"
		      "{\"AttributeName\":\"expires\",\"AttributeType\":\"N\"}],"
		      "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
		      "\"BillingMode\":\"PAY_PER_REQUEST\",\"GlobalSecondaryIndexes\":[{"
		      "\"IndexName\":\"by-user\",\"KeySchema\":["
		      "{\"AttributeName\":\"uid\",\"KeyType\":\"HASH\"},"
		      "{\"AttributeName\":\"expires\",\"KeyType\":\"RANGE\"}],"
		      "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}]}");
	encode_expect(&(struct ddb_request){ .op = DDB_OP_UPDATE_TABLE, .table = "sessions",
					     .hash_key = "id", .index_name = "by-user",
					     .index_hash = "uid", .index_range = "expires",
					     .index_capacity = 1 },
		      "{\"TableName\":\"sessions\",\"AttributeDefinitions\":["
		      "{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
		      "{\"AttributeName\":\"uid\",\"AttributeType\":\"S\"},"
		      "{\"AttributeName\":\"expires\",\"AttributeType\":\"N\"}],"
		      "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{"
		      "\"IndexName\":\"by-user\",\"KeySchema\":["
		      "{\"AttributeName\":\"uid\",\"KeyType\":\"HASH\"},"
		      "{\"AttributeName\":\"expires\",\"KeyType\":\"RANGE\"}],"
		      "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"},"
		      "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":1,\"WriteCapacityUnits\":1}}}]}");
	/* Refused: a Query without its key condition, an index half named, an
	 * UpdateTable without the index, index keys on a Query. */
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(ddb_request_encode(&(struct ddb_request){ .op = DDB_OP_QUERY, .table = "t" }, &b),
			 ERROR_INVALID);
	ck_assert_int_eq(ddb_request_encode(&(struct ddb_request){ .op = DDB_OP_CREATE_TABLE,
								  .table = "t", .hash_key = "id",
								  .index_name = "x" },
					    &b),
			 ERROR_INVALID);
	ck_assert_int_eq(ddb_request_encode(&(struct ddb_request){ .op = DDB_OP_UPDATE_TABLE,
								  .table = "t", .hash_key = "id" },
					    &b),
			 ERROR_INVALID);
	ck_assert_int_eq(ddb_request_encode(&(struct ddb_request){ .op = DDB_OP_QUERY, .table = "t",
								  .key_condition = "a",
								  .index_hash = "u" },
					    &b),
			 ERROR_INVALID);
	buf_free(&b);
	ddb_item_clear(&values);
	ddb_item_clear(&start);
}
END_TEST

START_TEST(decode_query_and_indexes)
{
	struct ddb_response r = { 0 };

	ck_assert_int_eq(decode_str(DDB_OP_QUERY,
				    "{\"Count\":1,\"ScannedCount\":1,\"Items\":[{\"id\":{\"S\":\"sess:a\"},"
				    "\"uid\":{\"S\":\"u\"},\"expires\":{\"N\":\"5\"}}],"
				    "\"LastEvaluatedKey\":{\"id\":{\"S\":\"sess:a\"},\"uid\":{\"S\":\"u\"},"
				    "\"expires\":{\"N\":\"5\"}}}",
				    &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_items, 1);
	ck_assert(r.has_last_key);
	ck_assert_uint_eq(r.last_key.n, 3);
	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE,
				    "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
				    "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
				    "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"by-user\","
				    "\"IndexStatus\":\"CREATING\",\"KeySchema\":["
				    "{\"AttributeName\":\"uid\",\"KeyType\":\"HASH\"},"
				    "{\"AttributeName\":\"expires\",\"KeyType\":\"RANGE\"}],"
				    "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}},"
				    "{\"IndexName\":\"other\"}]}}",
				    &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_indexes, 2);
	ck_assert_str_eq(r.indexes[0].name, "by-user");
	ck_assert_str_eq(r.indexes[0].status, "CREATING");
	ck_assert_str_eq(r.indexes[0].hash, "uid");
	ck_assert_str_eq(r.indexes[0].range, "expires");
	ck_assert_str_eq(r.indexes[0].projection, "KEYS_ONLY");
	ck_assert_str_eq(r.indexes[1].name, "other");
	ck_assert_str_eq(r.indexes[1].hash, "");
	ck_assert_int_eq(decode_str(DDB_OP_UPDATE_TABLE,
				    "{\"TableDescription\":{\"TableStatus\":\"UPDATING\",\"KeySchema\":"
				    "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}]}}",
				    &r),
			 ERROR_OK);
	ck_assert_uint_eq(r.n_indexes, 0);
	ck_assert_int_eq(decode_str(DDB_OP_DESCRIBE_TABLE,
				    "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"KeySchema\":"
				    "[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
				    "\"GlobalSecondaryIndexes\":[{\"IndexStatus\":\"ACTIVE\"}]}}",
				    &r),
			 ERROR_PARSE);
	ddb_response_clear(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ddb_codec");
	TCase *numbers = tcase_create("numbers");
	TCase *items = tcase_create("items");
	TCase *encode = tcase_create("encode");
	TCase *decode = tcase_create("decode");
	TCase *roundtrip = tcase_create("roundtrip");
	TCase *errors = tcase_create("errors");

	tcase_add_test(numbers, op_names_and_targets);
	tcase_add_test(numbers, number_valid_accepts);
	tcase_add_test(numbers, number_valid_rejects);
	tcase_add_test(numbers, number_to_i64_rounds_both_ways);
	tcase_add_test(numbers, number_to_i64_errors);
	tcase_add_test(items, item_add_get_replace_keeps_order);
	tcase_add_test(items, item_add_n_i64_extremes);
	tcase_add_test(items, item_add_rejects_bad_arguments);
	tcase_add_test(items, item_add_other_is_canonical);
	tcase_add_test(items, item_copy_is_deep);
	tcase_add_test(encode, encode_get_item);
	tcase_add_test(encode, encode_put_item);
	tcase_add_test(encode, encode_update_item);
	tcase_add_test(encode, encode_delete_item);
	tcase_add_test(encode, encode_scan);
	tcase_add_test(encode, encode_table_ops);
	tcase_add_test(encode, encode_appends_compact_json);
	tcase_add_test(encode, encode_rejects_invalid_requests);
	tcase_add_test(encode, encode_rejects_bad_attributes);
	tcase_add_test(encode, encode_matches_jansson_bytes);
	tcase_add_test(encode, encode_respects_buf_cap);
	tcase_add_test(encode, decode_fast_path_matches_general);
	tcase_add_test(decode, decode_get_item);
	tcase_add_test(decode, decode_write_attributes);
	tcase_add_test(decode, decode_scan);
	tcase_add_test(decode, decode_table_ops);
	tcase_add_test(decode, decode_query_and_indexes);
	tcase_add_test(encode, encode_query_and_index_ops);
	tcase_add_test(decode, decode_rejects_malformed);
	tcase_add_test(decode, decode_refuses_every_truncation);
	tcase_add_test(roundtrip, roundtrip_every_op);
	tcase_add_test(roundtrip, roundtrip_other_types);
	tcase_add_test(roundtrip, roundtrip_400k_value);
	tcase_add_test(roundtrip, roundtrip_utf8_and_nul);
	tcase_add_test(errors, error_classification);
	tcase_add_test(errors, error_retry_codes);
	tcase_add_test(errors, error_texts_are_bounded_and_log_safe);
	tcase_add_test(errors, error_set_and_class_str);
	tcase_add_test(errors, error_survives_every_truncation);
	suite_add_tcase(s, numbers);
	suite_add_tcase(s, items);
	suite_add_tcase(s, encode);
	suite_add_tcase(s, decode);
	suite_add_tcase(s, roundtrip);
	suite_add_tcase(s, errors);
	return check_run(s);
}
