/* fuzz_ddb_codec.c: libFuzzer harness for src/ddb_codec.c. One input is the
 * body of a 2xx answer to every operation, an error answer, and a number. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/ddb_codec.h"
#include "sessiond/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded item is copied, looked up, sent back and read as a session. */
static void use_item(const struct ddb_item *item)
{
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = "sessions", .item = item };
	struct ddb_item copy = { 0 };
	struct session s;
	struct buf out;

	if (ddb_item_copy(&copy, item) != ERROR_OK || copy.n != item->n)
		abort();
	for (size_t i = 0; i < copy.n; i++)
		if (ddb_item_get(item, copy.attrs[i].name) == NULL)
			abort();
	buf_init(&out, 1 << 20);
	/* The body is written by hand, not by jansson: it must still be JSON
	 * that jansson reads back, with every attribute. */
	if (ddb_request_encode(&req, &out) == ERROR_OK) {
		json_t *body = json_loadb(out.data, out.len, JSON_ALLOW_NUL, NULL);
		json_t *map = json_object_get(body, "Item");

		if (!body || !json_is_object(map) || json_object_size(map) != item->n)
			abort();
		json_decref(body);
	}
	buf_free(&out);
	if (session_from_item(&copy, "id", "sess:", &s) == ERROR_OK)
		session_clear(&s);
	ddb_item_clear(&copy);
}

/* Rounding the two ways differs by at most one, and only one of them can
 * fall off an end of int64_t. */
static void number(const char *in, size_t size)
{
	char text[128];
	int64_t down = 0, up = 0;
	size_t n = size < sizeof(text) ? size : sizeof(text) - 1;
	bool ok_down, ok_up;

	memcpy(text, in, n);
	text[n] = '\0';
	ok_down = ddb_number_to_i64(text, false, &down) == ERROR_OK;
	ok_up = ddb_number_to_i64(text, true, &up) == ERROR_OK;
	if ((ok_down || ok_up) && !ddb_number_valid(text))
		abort();
	if (ok_down && ok_up && up != down && (down == INT64_MAX || up != down + 1))
		abort();
	if (ok_down != ok_up && (ok_down ? down != INT64_MAX : up != INT64_MIN))
		abort();
}

/* The fast path for item answers reads every body as the general decoder
 * does: the same verdict, the same attributes in the same order. */
static void same_as_general(enum ddb_op op, const char *in, size_t size)
{
	struct ddb_response fast, slow;
	enum error_code a, b;

	memset(&fast, 0, sizeof(fast));
	memset(&slow, 0, sizeof(slow));
	a = ddb_response_decode(op, in, size, &fast);
	b = ddb_response_decode_general(op, in, size, &slow);
	if ((a == ERROR_OK) != (b == ERROR_OK) || fast.has_item != slow.has_item ||
	    fast.item.n != slow.item.n)
		abort();
	for (size_t i = 0; i < fast.item.n; i++) {
		const struct ddb_attr *x = &fast.item.attrs[i], *y = &slow.item.attrs[i];

		if (strcmp(x->name, y->name) || x->type != y->type || x->value_len != y->value_len ||
		    memcmp(x->value, y->value, x->value_len))
			abort();
	}
	ddb_response_clear(&fast);
	ddb_response_clear(&slow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 400, 429, 500, 503 };
	const char *in = (const char *)data;
	struct ddb_response r;
	struct ddb_error err;

	memset(&r, 0, sizeof(r));
	for (int op = 0; op < DDB_OP_COUNT; op++) {
		if (ddb_response_decode(op, in, size, &r) == ERROR_OK) {
			if (r.has_item)
				use_item(&r.item);
			for (size_t i = 0; i < r.n_items; i++)
				use_item(&r.items[i]);
			if (r.has_last_key)
				use_item(&r.last_key);
			if (strlen(r.table_status) >= sizeof(r.table_status))
				abort();
		}
		ddb_response_clear(&r);
	}
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		ddb_error_from_response(statuses[i], in, size, &err);
		if (err.cls == DDB_ERR_NONE || strlen(err.type) >= sizeof(err.type) ||
		    strlen(err.message) >= sizeof(err.message))
			abort();
	}
	number(in, size);
	same_as_general(DDB_OP_GET_ITEM, in, size);
	same_as_general(DDB_OP_UPDATE_ITEM, in, size);
	return 0;
}
