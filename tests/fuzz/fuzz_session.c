/* fuzz_session.c: libFuzzer harness for src/session.c and src/cursor.c: one
 * input is a body of each kind (with its owner), a merge patch, a stored
 * sess text, an If-Match, a ?ttl= value, an owner and a paging cursor. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/cursor.h"
#include "sessiond/jsontext.h"
#include "sessiond/session.h"

#define NOW INT64_C(1764000000)
#define MAX_TTL INT64_C(2592000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the daemon stores must read back as the same session. */
static void round_trip(const struct session *s)
{
	struct ddb_item item = { 0 };
	struct session back;
	char *text;

	if (session_to_item(s, "id", "sess:", &item) != ERROR_OK)
		return;
	if (session_from_item(&item, "id", "sess:", &back) != ERROR_OK ||
	    strcmp(back.id, s->id) != 0 || back.expires != s->expires ||
	    back.version != s->version || back.data || !back.text)
		abort();
	/* Stored text comes back byte for byte; a tree comes back equal. */
	if (!s->data && (back.text_len != s->text_len || memcmp(back.text, s->text, s->text_len)))
		abort();
	if (s->data && (session_load_data(&back) != ERROR_OK || !json_equal(back.data, s->data)))
		abort();
	text = session_to_json(&back);
	free(text);
	session_clear(&back);
	ddb_item_clear(&item);
}

/* jsontext and jansson agree on what a JSON object is, but for what
 * jansson cannot hold (numbers beyond its types, NUL in member names) and
 * raw NUL bytes, which jansson 2.14 skips in some places of a buffer
 * although JSON has no room for them outside strings, and none inside. */
static void same_verdict(const char *in, size_t len)
{
	json_error_t err;
	json_t *v = json_loadb(in, len, JSON_ALLOW_NUL, &err);
	bool jansson_ok = v && json_is_object(v);
	bool ours = jsontext_object_valid(in, len, JSONTEXT_MAX_DEPTH);

	if (jansson_ok && !ours && !memchr(in, '\0', len))
		abort();
	if (ours && !v && json_error_code(&err) != json_error_numeric_overflow &&
	    json_error_code(&err) != json_error_null_byte_in_key &&
	    json_error_code(&err) != json_error_out_of_memory)
		abort();
	json_decref(v);
}

/* The input as a stored sess attribute, as connect-dynamodb may write it. */
static void read_stored(const char *in, size_t len)
{
	struct ddb_item item = { 0 };
	struct session s;

	same_verdict(in, len);
	if (ddb_item_add_s(&item, "id", "sess:abc", 8) == ERROR_OK &&
	    ddb_item_add_n(&item, "expires", "1764000000.5") == ERROR_OK &&
	    ddb_item_add_s(&item, "sess", in, len) == ERROR_OK &&
	    session_from_item(&item, "id", "sess:", &s) == ERROR_OK) {
		if (s.expires != NOW + 1 || s.version != 0)
			abort();
		round_trip(&s);
		session_clear(&s);
	}
	ddb_item_clear(&item);
}

/* A body's owner: valid, and the same after the item and the resource. */
static void owner_round_trip(const struct session_body *b)
{
	struct session s = { .id = "abc", .expires = NOW + 1, .version = 1 };
	struct ddb_item item = { 0 };
	struct session back;
	json_t *doc;
	char *text;

	if (!b->user)
		return;
	if (!session_user_valid(b->user, b->user_len))
		abort();
	s.data = json_object();
	if (session_user_set(&s, b->user, b->user_len) != ERROR_OK)
		goto out;
	if (session_to_item(&s, "id", "sess:", &item) != ERROR_OK ||
	    session_user_to_item(&s, "uid", &item) != ERROR_OK)
		goto out;
	if (session_from_item(&item, "id", "sess:", &back) != ERROR_OK)
		abort();
	if (session_user_from_item(&item, "uid", &back) != ERROR_OK ||
	    back.user_len != b->user_len || memcmp(back.user, b->user, b->user_len) != 0)
		abort();
	text = session_to_json(&back);
	doc = text ? json_loads(text, 0, NULL) : NULL;
	if (text && (!doc || !json_is_string(json_object_get(doc, "user")) ||
		     json_string_length(json_object_get(doc, "user")) != b->user_len ||
		     memcmp(json_string_value(json_object_get(doc, "user")), b->user, b->user_len)))
		abort();
	json_decref(doc);
	free(text);
	session_clear(&back);
out:
	ddb_item_clear(&item);
	session_clear(&s);
}

/* The input as a cursor: what decodes has the shape and encodes back to a
 * cursor that decodes to the same key. */
static void cursor_check(const char *in, size_t len)
{
	static const struct cursor_shape shape = {
		.hash_key = "id", .prefix = "sess:", .attribute = "uid", .uid = "alice", .uid_len = 5,
	};
	struct ddb_item key = { 0 }, again = { 0 };
	char *text = NULL;

	if (cursor_decode(in, len, &shape, &key) != ERROR_OK) {
		if (key.n)
			abort();
		return;
	}
	if (key.n != 3 || cursor_encode(&key, &shape, &text) != ERROR_OK ||
	    cursor_decode(text, strlen(text), &shape, &again) != ERROR_OK || again.n != 3)
		abort();
	for (size_t i = 0; i < key.n; i++) {
		const struct ddb_attr *a = &key.attrs[i], *b = ddb_item_get(&again, a->name);
		if (!b || a->type != b->type || a->value_len != b->value_len ||
		    memcmp(a->value, b->value, a->value_len))
			abort();
	}
	free(text);
	ddb_item_clear(&key);
	ddb_item_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct session s = { .id = "abc", .expires = NOW + 60, .version = 7 };
	struct session_body b[3];
	struct session_why why;
	json_t *patch = NULL;
	char text[64];
	int64_t v;
	bool any;

	memset(b, 0, sizeof(b));
	for (int k = SESSION_BODY_CREATE; k <= SESSION_BODY_TOUCH; k++)
		if (session_body_parse(k, in, size, NOW, MAX_TTL, &b[k], &why) == ERROR_OK &&
		    ((b[k].has_ttl && (b[k].ttl < 1 || b[k].ttl > MAX_TTL)) ||
		     (b[k].has_expires && (b[k].expires <= NOW || b[k].expires > NOW + MAX_TTL)) ||
		     (k != SESSION_BODY_TOUCH && !json_is_object(b[k].data))))
			abort();
	/* data kept as text is valid JSON, and the same data as the tree. */
	for (int k = SESSION_BODY_CREATE; k <= SESSION_BODY_TOUCH; k++) {
		json_t *back;

		if (!b[k].data_text)
			continue;
		if (strlen(b[k].data_text) != b[k].data_text_len ||
		    !jsontext_object_valid(b[k].data_text, b[k].data_text_len, JSONTEXT_MAX_DEPTH))
			abort();
		back = json_loadb(b[k].data_text, b[k].data_text_len, JSON_ALLOW_NUL, NULL);
		if (!back || !json_equal(back, b[k].data))
			abort();
		json_decref(back);
	}
	owner_round_trip(&b[SESSION_BODY_CREATE]);
	owner_round_trip(&b[SESSION_BODY_PUT]);
	if (b[SESSION_BODY_TOUCH].user)
		abort(); /* no owner in a touch */
	session_user_valid(in, size);
	cursor_check(in, size);
	s.data = b[SESSION_BODY_CREATE].data ? json_incref(b[SESSION_BODY_CREATE].data)
					      : json_object();
	if (session_patch_parse(in, size, &patch, &why) == ERROR_OK) {
		json_t *self = json_deep_copy(patch);
		if (session_merge_patch(s.data, patch) == ERROR_OK)
			round_trip(&s);
		if (self)
			session_merge_patch(self, patch);
		json_decref(self);
	}
	read_stored(in, size);
	/* Header and query values are short C strings. */
	memcpy(text, in, size < sizeof(text) ? size : sizeof(text) - 1);
	text[size < sizeof(text) ? size : sizeof(text) - 1] = '\0';
	if (session_if_match_parse(text, &v, &any) && v < 0)
		abort();
	if (session_ttl_parse(text, MAX_TTL, &v, &why) == ERROR_OK && (v < 1 || v > MAX_TTL))
		abort();
	session_id_valid(in, size);
	json_decref(patch);
	session_clear(&s);
	for (int k = SESSION_BODY_CREATE; k <= SESSION_BODY_TOUCH; k++)
		session_body_clear(&b[k]);
	return 0;
}
