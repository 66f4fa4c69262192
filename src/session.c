/* session.c: the session resource as pure functions (see session.h): ids,
 * request bodies and merge patches checked before anything reaches
 * DynamoDB, RFC 7386 merge patch, the resource JSON and ETags, and the
 * mapping to connect-dynamodb's item layout. No I/O beyond RAND_bytes for
 * ids and no clock: now is a parameter. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sessiond/buf.h"
#include "sessiond/jsontext.h"
#include "sessiond/session.h"

/*
 * DESIGN
 *
 * Request bodies are checked in two passes. A byte scan bounds the nesting
 * depth first, so a megabyte of '[' costs 65 bytes of work and no
 * recursion; only then does jansson parse, refusing duplicate keys and
 * invalid UTF-8 itself. jansson's error texts quote the offending token,
 * which may be session data, so details are built from its error code and
 * byte position only.
 *
 * Depth counts open arrays and objects: a body's top-level object is level
 * 1, so "data" is level 2 and its contents reach at most level 64. A merge
 * patch *is* data, so it may nest 63 levels: whatever the daemon stores can
 * be read back and PUT again unchanged.
 *
 * "\u0000" inside strings is accepted (JSON_ALLOW_NUL): JavaScript strings
 * may hold it and JSON.stringify writes it, so refusing it would make some
 * Node-written sessions unreadable. jansson still refuses it inside keys.
 *
 * Items are read leniently, because connect-dynamodb wrote some of them:
 * sess may repeat a key (the last wins, as in JSON.parse) and may nest
 * deeper than a request could (jansson's own limit of 2048 levels still
 * bounds recursion).
 */

#define SESSION_ID_RAW 24 /* random bytes behind a generated id */
_Static_assert(SESSION_ID_RAW / 3 * 4 == SESSION_ID_LEN, "24 bytes are 32 base64 characters");

/* Longest member name echoed back in "unknown member" details. */
#define SESSION_ECHO_MAX 32

static const char session_type[] = "connect-session";

static void session_why_set(struct session_why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void session_why_set(struct session_why *why, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
	va_end(ap);
}

static void session_why_clear(struct session_why *why)
{
	if (why)
		why->detail[0] = '\0';
}

/* ---- ids ----------------------------------------------------------------- */

/* Random bytes for ids, drawn from OpenSSL's DRBG a pool at a time: each
 * RAND_bytes call costs about 3.5 us of fixed work whatever its size (perf,
 * POST /v1/sessions at 64 connections: 2.6 % of all CPU), so one call per
 * SESSION_ID_POOL / SESSION_ID_RAW ids instead of one per id. Each id's
 * bytes are wiped from the pool as they are taken, so it only ever holds
 * ids not yet handed out, which the DRBG's own state in this process
 * determines anyway. Per thread, so no lock; sessiond never forks, which
 * would hand the same pool to two processes. */
#define SESSION_ID_POOL (SESSION_ID_RAW * 170)
static _Thread_local unsigned char session_id_pool[SESSION_ID_POOL];
static _Thread_local size_t session_id_left;

static int session_id_random(unsigned char *raw)
{
	unsigned char *take;

	if (!session_id_left) {
		if (RAND_bytes(session_id_pool, sizeof(session_id_pool)) != 1)
			return 0;
		session_id_left = sizeof(session_id_pool);
	}
	session_id_left -= SESSION_ID_RAW;
	take = session_id_pool + session_id_left;
	memcpy(raw, take, SESSION_ID_RAW);
	OPENSSL_cleanse(take, SESSION_ID_RAW);
	return 1;
}

enum error_code session_id_new(char *out)
{
	unsigned char raw[SESSION_ID_RAW];
	enum error_code rc = ERROR_IO;
	int i;

	if (!out)
		return ERROR_INVALID;
	out[0] = '\0';
	if (!session_id_random(raw))
		goto out;
	/* Whole 3-byte groups: exactly SESSION_ID_LEN characters and a NUL,
	 * no '=' padding; then the URL-safe alphabet of RFC 4648 section 5. */
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	for (i = 0; i < SESSION_ID_LEN; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	rc = ERROR_OK;
out:
	/* The id is a bearer secret until it is handed out. */
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

/* RFC 3986 unreserved, spelled out: isalnum() would follow the locale. */
static bool session_id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

bool session_id_valid(const char *id, size_t len)
{
	size_t i;

	if (!id || len == 0 || len > SESSION_ID_MAX)
		return false;
	/* A NUL is not unreserved, so an embedded one is refused here too. */
	for (i = 0; i < len; i++)
		if (!session_id_char(id[i]))
			return false;
	return true;
}

/* ---- owners -------------------------------------------------------------- */

bool session_user_valid(const char *user, size_t len)
{
	const unsigned char *u = (const unsigned char *)user;
	size_t i = 0, chars = 0;

	if (!user || len == 0 || len > SESSION_USER_BYTES)
		return false;
	while (i < len) {
		unsigned char c = u[i];
		unsigned long cp;
		size_t n, k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			chars++;
			continue;
		}
		/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or values
		 * past U+10FFFF, which DynamoDB would refuse as an S value. */
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (k = 1; k < n; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += n;
		chars++;
	}
	return chars <= SESSION_USER_MAX;
}

/* ---- parsing JSON from clients ------------------------------------------- */

/* True if body nests arrays and objects at most max levels deep. Brackets
 * inside strings do not count, and a backslash there hides the next byte,
 * so "\"[" stays inside its string. Malformed text is left to jansson. */
static bool session_depth_ok(const char *body, size_t len, int max)
{
	bool in_string = false;
	int depth = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = body[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

/* Our words for jansson's error codes: its own texts quote the input. */
static const char *session_json_error_text(const json_error_t *err)
{
	switch (json_error_code(err)) {
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "trailing data after the value";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_numeric_overflow:
		return "number out of range (integers must fit in 64 bits)";
	case json_error_null_byte_in_key:
		return "\\u0000 in an object key";
	case json_error_stack_overflow:
		return "nested too deeply";
	default:
		return "syntax error";
	}
}

/* Parses len bytes of body (len > 0) nested at most max_depth levels into
 * *out, a new reference. ERROR_PARSE with why filled, ERROR_NOMEM. */
static enum error_code session_json_load(const char *body, size_t len, int max_depth, json_t **out,
					 struct session_why *why)
{
	const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_error_t err;

	*out = NULL;
	if (!session_depth_ok(body, len, max_depth)) {
		session_why_set(why, "JSON nested deeper than %d levels", max_depth);
		return ERROR_PARSE;
	}
	/* JSON_DECODE_ANY: a scalar body gets our "must be a JSON object"
	 * rather than jansson's complaint about the first byte. */
	*out = json_loadb(body, len, flags, &err);
	if (*out)
		return ERROR_OK;
	if (json_error_code(&err) == json_error_out_of_memory)
		return ERROR_NOMEM;
	session_why_set(why, "malformed JSON: %s at byte %d", session_json_error_text(&err),
			err.position);
	return ERROR_PARSE;
}

/* A member name is echoed only when it is short printable ASCII: the detail
 * lands in a JSON problem document and a log line, and cutting a multi-byte
 * character short would make it invalid UTF-8. */
static void session_why_unknown(struct session_why *why, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < n && n <= SESSION_ECHO_MAX; i++)
		if (name[i] < 0x20 || name[i] > 0x7e || name[i] == '"' || name[i] == '\\')
			break;
	if (n > 0 && i == n)
		session_why_set(why, "unknown member \"%s\"", name);
	else
		session_why_set(why, "unknown member in body");
}

static bool session_ttl_ok(const json_t *v, int64_t max_ttl)
{
	return json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= max_ttl;
}

static bool session_expires_ok(int64_t expires, int64_t now, int64_t max_ttl)
{
	int64_t ahead;

	/* Only absurd values overflow, and those are refused anyway. */
	if (__builtin_sub_overflow(expires, now, &ahead))
		return false;
	return ahead >= 1 && ahead <= max_ttl;
}

/* Takes one member of a request body into out. value is borrowed from the
 * parsed body; data keeps its own reference. */
static enum error_code session_body_member(enum session_body_kind kind, const char *name,
					   json_t *value, int64_t now, int64_t max_ttl,
					   struct session_body *out, struct session_why *why)
{
	/* Read-only members of the resource: a client may send back what it
	 * read, and what it says there changes nothing. */
	if (strcmp(name, "id") == 0 || strcmp(name, "version") == 0)
		return ERROR_OK;
	if (strcmp(name, "data") == 0) {
		if (kind == SESSION_BODY_TOUCH) {
			session_why_set(why, "data is not allowed in a touch");
			return ERROR_PARSE;
		}
		if (!json_is_object(value)) {
			session_why_set(why, "data must be a JSON object");
			return ERROR_PARSE;
		}
		out->data = json_incref(value);
		return ERROR_OK;
	}
	if (strcmp(name, "user") == 0) {
		if (kind == SESSION_BODY_TOUCH) {
			session_why_set(why, "user is not allowed in a touch");
			return ERROR_PARSE;
		}
		if (!json_is_string(value) ||
		    !session_user_valid(json_string_value(value), json_string_length(value))) {
			session_why_set(why, "user must be a string of 1 to %d characters without "
					     "control characters",
					SESSION_USER_MAX);
			return ERROR_PARSE;
		}
		out->user_len = json_string_length(value);
		out->user = malloc(out->user_len + 1);
		if (!out->user)
			return ERROR_NOMEM;
		memcpy(out->user, json_string_value(value), out->user_len + 1);
		return ERROR_OK;
	}
	if (strcmp(name, "ttl") == 0) {
		/* json_is_integer refuses 1.0, 1e3, "5", true and null. */
		if (!session_ttl_ok(value, max_ttl)) {
			session_why_set(why, "ttl must be an integer from 1 to %" PRId64, max_ttl);
			return ERROR_PARSE;
		}
		out->has_ttl = true;
		out->ttl = json_integer_value(value);
		return ERROR_OK;
	}
	if (strcmp(name, "expires") == 0) {
		if (!json_is_integer(value)) {
			session_why_set(why, "expires must be an integer (Unix seconds)");
			return ERROR_PARSE;
		}
		if (!session_expires_ok(json_integer_value(value), now, max_ttl)) {
			session_why_set(why,
					"expires must be in the future and at most %" PRId64
					" seconds ahead",
					max_ttl);
			return ERROR_PARSE;
		}
		out->has_expires = true;
		out->expires = json_integer_value(value);
		return ERROR_OK;
	}
	session_why_unknown(why, name);
	return ERROR_PARSE;
}

/* data's text, cut from the body jansson has just accepted whole, so it is
 * valid JSON, strict UTF-8, depth-checked and free of duplicate names. But
 * for raw NUL bytes: jansson 2.14 lets one pass after a number
 * ({"a":1\0}), which no JSON reader would take back; such a body is
 * printed from the tree. (fuzz_session checks that the text kept is
 * jsontext-valid and equal to the tree.) */
static enum error_code session_body_data_text(const char *body, size_t len,
					      struct session_body *out)
{
	size_t off, n;

	if (memchr(body, '\0', len) ||
	    jsontext_member(body, len, "data", &off, &n) != JSONTEXT_FOUND)
		return ERROR_OK; /* the caller prints the tree */
	out->data_text = malloc(n + 1);
	if (!out->data_text)
		return ERROR_NOMEM;
	out->data_text_len = jsontext_compact(body + off, n, out->data_text);
	out->data_text[out->data_text_len] = '\0';
	return ERROR_OK;
}

enum error_code session_body_parse(enum session_body_kind kind, const char *body, size_t len,
				   int64_t now, int64_t max_ttl, struct session_body *out,
				   struct session_why *why)
{
	json_t *root = NULL;
	json_t *value;
	const char *name;
	enum error_code rc = ERROR_PARSE;

	session_why_clear(why);
	if (!out || (!body && len) || max_ttl < 1 || kind < SESSION_BODY_CREATE ||
	    kind > SESSION_BODY_TOUCH)
		return ERROR_INVALID;
	memset(out, 0, sizeof(*out));
	if (len == 0) {
		if (kind == SESSION_BODY_TOUCH)
			return ERROR_OK;
		session_why_set(why, "body must be a JSON object");
		return ERROR_PARSE;
	}
	rc = session_json_load(body, len, SESSION_JSON_MAX_DEPTH, &root, why);
	if (rc != ERROR_OK)
		goto out;
	rc = ERROR_PARSE;
	if (!json_is_object(root)) {
		session_why_set(why, "body must be a JSON object");
		goto out;
	}
	/* Checked before the values, so the answer does not depend on which
	 * of the two comes first or whether either is in range. */
	if (json_object_get(root, "ttl") && json_object_get(root, "expires")) {
		session_why_set(why, "ttl and expires are mutually exclusive");
		goto out;
	}
	json_object_foreach(root, name, value)
	{
		rc = session_body_member(kind, name, value, now, max_ttl, out, why);
		if (rc != ERROR_OK)
			goto out;
	}
	rc = ERROR_PARSE;
	if (!out->data && kind == SESSION_BODY_PUT) {
		session_why_set(why, "data is required");
		goto out;
	}
	if (!out->data && kind == SESSION_BODY_CREATE) {
		out->data = json_object();
		if (!out->data) {
			rc = ERROR_NOMEM;
			goto out;
		}
	} else if (out->data) {
		rc = session_body_data_text(body, len, out);
		if (rc != ERROR_OK)
			goto out;
	}
	rc = ERROR_OK;
out:
	json_decref(root);
	if (rc != ERROR_OK)
		session_body_clear(out);
	return rc;
}

void session_body_clear(struct session_body *b)
{
	if (!b)
		return;
	json_decref(b->data);
	free(b->data_text);
	free(b->user);
	memset(b, 0, sizeof(*b));
}

enum error_code session_patch_parse(const char *body, size_t len, json_t **patch,
				    struct session_why *why)
{
	json_t *root = NULL;
	enum error_code rc;

	session_why_clear(why);
	if (!patch || (!body && len))
		return ERROR_INVALID;
	*patch = NULL;
	if (len == 0) {
		session_why_set(why, "merge patch must be a JSON object");
		return ERROR_PARSE;
	}
	/* The patch stands where data stands, one level below a body. */
	rc = session_json_load(body, len, SESSION_JSON_MAX_DEPTH - 1, &root, why);
	if (rc != ERROR_OK)
		return rc;
	/* Any other value would replace data with a non-object (RFC 7386). */
	if (!json_is_object(root)) {
		json_decref(root);
		session_why_set(why, "merge patch must be a JSON object");
		return ERROR_PARSE;
	}
	*patch = root;
	return ERROR_OK;
}

enum error_code session_ttl_parse(const char *text, int64_t max_ttl, int64_t *ttl,
				  struct session_why *why)
{
	const char *p;
	int64_t v = 0;

	session_why_clear(why);
	if (!text || !ttl || max_ttl < 1)
		return ERROR_INVALID;
	for (p = text; *p; p++) {
		int d = *p - '0';

		if (*p < '0' || *p > '9')
			goto bad;
		/* v * 10 + d > max_ttl, asked without overflowing. */
		if (d > max_ttl || v > (max_ttl - d) / 10)
			goto bad;
		v = v * 10 + d;
	}
	if (v < 1)
		goto bad;
	*ttl = v;
	return ERROR_OK;
bad:
	session_why_set(why, "ttl must be an integer from 1 to %" PRId64, max_ttl);
	return ERROR_PARSE;
}

/* ---- merge patch --------------------------------------------------------- */

/* Applies one member of a patch object to target (RFC 7386 section 2). */
static enum error_code session_merge_member(json_t *target, const char *name, json_t *value)
{
	json_t *child;

	if (json_is_null(value)) {
		json_object_del(target, name); /* deleting an absent name is fine */
		return ERROR_OK;
	}
	if (!json_is_object(value)) {
		/* A copy, so target shares no node with the patch that a later
		 * change to either could reach through the other. set_new
		 * consumes the copy, and fails on a NULL one. */
		if (json_object_set_new(target, name, json_deep_copy(value)))
			return ERROR_NOMEM;
		return ERROR_OK;
	}
	child = json_object_get(target, name);
	if (!json_is_object(child)) {
		/* An object patch on anything else starts from {}. */
		child = json_object();
		if (json_object_set_new(target, name, child))
			return ERROR_NOMEM;
	}
	/* child is borrowed from target. Recursion is bounded by the patch's
	 * depth, which session_patch_parse limits. */
	return session_merge_patch(child, value);
}

enum error_code session_merge_patch(json_t *target, const json_t *patch)
{
	/* jansson's iterators take a non-const object but only read it. */
	json_t *p = (json_t *)patch;
	json_t *value;
	const char *name;
	enum error_code rc;

	if (!json_is_object(target) || !json_is_object(patch) || target == patch)
		return ERROR_INVALID;
	json_object_foreach(p, name, value)
	{
		rc = session_merge_member(target, name, value);
		if (rc != ERROR_OK)
			return rc;
	}
	return ERROR_OK;
}

/* ---- sessions and items -------------------------------------------------- */

void session_clear(struct session *s)
{
	if (!s)
		return;
	json_decref(s->data);
	free(s->text);
	free(s->user);
	memset(s, 0, sizeof(*s));
}

enum error_code session_load_data(struct session *s)
{
	json_error_t err;

	if (!s || (!s->data && !s->text))
		return ERROR_INVALID;
	if (!s->data) {
		s->data = json_loadb(s->text, s->text_len, JSON_ALLOW_NUL, &err);
		if (!s->data)
			return json_error_code(&err) == json_error_out_of_memory ? ERROR_NOMEM
										 : ERROR_PARSE;
		if (!json_is_object(s->data)) {
			json_decref(s->data);
			s->data = NULL;
			return ERROR_PARSE;
		}
	}
	free(s->text);
	s->text = NULL;
	s->text_len = 0;
	return ERROR_OK;
}

enum error_code session_store_text(struct session *s)
{
	char *text;

	if (!s || (!s->data && !s->text))
		return ERROR_INVALID;
	if (!s->data)
		return ERROR_OK;
	/* The flags of session_to_item's own print: the same bytes. */
	text = json_dumps(s->data, JSON_COMPACT);
	if (!text)
		return ERROR_NOMEM;
	json_decref(s->data);
	s->data = NULL;
	free(s->text);
	s->text = text;
	s->text_len = strlen(text);
	return ERROR_OK;
}

/* The attribute names this module writes besides the hash key. */
static bool session_reserved_name(const char *name)
{
	return strcmp(name, "expires") == 0 || strcmp(name, "type") == 0 ||
	       strcmp(name, "sess") == 0 || strcmp(name, "version") == 0;
}

enum error_code session_to_item(const struct session *s, const char *hash_key, const char *prefix,
				struct ddb_item *item)
{
	struct buf key;
	char *sess = NULL;
	enum error_code rc;

	if (!s || !hash_key || !*hash_key || !prefix || !item || item->n != 0)
		return ERROR_INVALID;
	/* A hash key named like another attribute would be overwritten. */
	if (session_reserved_name(hash_key))
		return ERROR_INVALID;
	if (!session_id_valid(s->id, strnlen(s->id, sizeof(s->id))) ||
	    (!json_is_object(s->data) && !s->text))
		return ERROR_INVALID;
	buf_init(&key, 0);
	rc = buf_append_str(&key, prefix);
	if (rc == ERROR_OK)
		rc = buf_append_str(&key, s->id);
	if (rc != ERROR_OK)
		goto out;
	rc = ddb_item_add_s(item, hash_key, key.data, key.len);
	if (rc == ERROR_OK)
		rc = ddb_item_add_n_i64(item, "expires", s->expires);
	if (rc == ERROR_OK)
		rc = ddb_item_add_s(item, "type", session_type, strlen(session_type));
	if (rc != ERROR_OK)
		goto out;
	/* Keys stay in the client's order (no JSON_SORT_KEYS) and the
	 * separators are JSON.stringify's, so Node readers see familiar text.
	 * Without a tree, the text as read is written back unchanged. */
	if (s->data) {
		sess = json_dumps(s->data, JSON_COMPACT);
		if (!sess) {
			rc = ERROR_NOMEM;
			goto out;
		}
		rc = ddb_item_add_s(item, "sess", sess, strlen(sess));
	} else {
		rc = ddb_item_add_s(item, "sess", s->text, s->text_len);
	}
	if (rc == ERROR_OK)
		rc = ddb_item_add_n_i64(item, "version", s->version);
out:
	free(sess);
	buf_free(&key);
	if (rc != ERROR_OK)
		ddb_item_clear(item);
	return rc;
}

enum error_code session_user_set(struct session *s, const char *user, size_t len)
{
	char *copy = NULL;

	if (!s || (!user && len))
		return ERROR_INVALID;
	if (user) {
		copy = malloc(len + 1);
		if (!copy)
			return ERROR_NOMEM;
		memcpy(copy, user, len);
		copy[len] = '\0';
	}
	free(s->user);
	s->user = copy;
	s->user_len = user ? len : 0;
	return ERROR_OK;
}

enum error_code session_user_to_item(const struct session *s, const char *attr,
				     struct ddb_item *item)
{
	if (!s || !attr || !*attr || !item)
		return ERROR_INVALID;
	if (!s->user)
		return ERROR_OK;
	if (!session_user_valid(s->user, s->user_len))
		return ERROR_INVALID;
	return ddb_item_add_s(item, attr, s->user, s->user_len);
}

enum error_code session_user_from_item(const struct ddb_item *item, const char *attr,
				       struct session *s)
{
	const struct ddb_attr *a;

	if (!item || !attr || !s)
		return ERROR_INVALID;
	a = ddb_item_get(item, attr);
	if (!a)
		return session_user_set(s, NULL, 0);
	if (a->type != DDB_TYPE_S || !session_user_valid(a->value, a->value_len)) {
		session_user_set(s, NULL, 0);
		return ERROR_PARSE;
	}
	return session_user_set(s, a->value, a->value_len);
}

/* Copies the id out of a stored hash key "<prefix><id>". */
static enum error_code session_key_read(const struct ddb_attr *a, const char *prefix, char *id)
{
	size_t plen = strlen(prefix);
	size_t n;

	if (!a || a->type != DDB_TYPE_S || a->value_len < plen ||
	    memcmp(a->value, prefix, plen) != 0)
		return ERROR_PARSE;
	n = a->value_len - plen;
	if (!session_id_valid(a->value + plen, n))
		return ERROR_PARSE;
	memcpy(id, a->value + plen, n);
	id[n] = '\0';
	return ERROR_OK;
}

/* The daemon writes versions as whole numbers from 1, so a fraction or a
 * sign means some other writer; such an item is not trusted. */
static enum error_code session_version_read(const struct ddb_attr *a, int64_t *version)
{
	int64_t down, up;

	if (!a) {
		*version = 0; /* connect-dynamodb wrote it */
		return ERROR_OK;
	}
	if (a->type != DDB_TYPE_N || ddb_number_to_i64(a->value, false, &down) != ERROR_OK ||
	    ddb_number_to_i64(a->value, true, &up) != ERROR_OK || down != up || down < 0)
		return ERROR_PARSE;
	*version = down;
	return ERROR_OK;
}

/* sess as text: a checked copy in out. Lenient, see DESIGN. */
static enum error_code session_sess_read(const struct ddb_attr *a, struct session *out)
{
	if (!a || a->type != DDB_TYPE_S ||
	    !jsontext_object_valid(a->value, a->value_len, JSONTEXT_MAX_DEPTH))
		return ERROR_PARSE;
	out->text = malloc(a->value_len + 1);
	if (!out->text)
		return ERROR_NOMEM;
	memcpy(out->text, a->value, a->value_len);
	out->text[a->value_len] = '\0';
	out->text_len = a->value_len;
	return ERROR_OK;
}

enum error_code session_from_item(const struct ddb_item *item, const char *hash_key,
				  const char *prefix, struct session *out)
{
	const struct ddb_attr *expires;
	enum error_code rc;

	if (!item || !hash_key || !prefix || !out)
		return ERROR_INVALID;
	memset(out, 0, sizeof(*out));
	rc = session_key_read(ddb_item_get(item, hash_key), prefix, out->id);
	if (rc != ERROR_OK)
		goto out;
	/* connect-dynamodb may have stored a fraction ("1764060000.123").
	 * Rounding up keeps such a session alive until its last fraction of a
	 * second has passed, as connect-dynamodb's own check does. */
	rc = ERROR_PARSE;
	expires = ddb_item_get(item, "expires");
	if (!expires || expires->type != DDB_TYPE_N ||
	    ddb_number_to_i64(expires->value, true, &out->expires) != ERROR_OK)
		goto out;
	/* type is not checked: connect-dynamodb does not check it either. */
	rc = session_version_read(ddb_item_get(item, "version"), &out->version);
	if (rc == ERROR_OK)
		rc = session_sess_read(ddb_item_get(item, "sess"), out);
out:
	if (rc != ERROR_OK)
		session_clear(out);
	return rc;
}

/* ---- the resource -------------------------------------------------------- */

bool session_expired(const struct session *s, int64_t now)
{
	return s->expires <= now;
}

char *session_to_json(const struct session *s)
{
	char *dumped = NULL;
	const char *data;
	size_t data_len;
	struct buf b;

	if (!s || (!json_is_object(s->data) && !s->text))
		return NULL;
	if (s->text) {
		/* Known to be one JSON object: session_from_item checked it. */
		data = s->text;
		data_len = s->text_len;
	} else {
		dumped = json_dumps(s->data, JSON_COMPACT);
		if (!dumped)
			return NULL;
		data = dumped;
		data_len = strlen(dumped);
	}
	/* Ids are [A-Za-z0-9._~-] (session_id_valid): nothing to escape. */
	buf_init(&b, 0);
	buf_append_str(&b, "{\"id\":\"");
	buf_append_str(&b, s->id);
	buf_append_str(&b, "\",\"data\":");
	buf_append(&b, data, data_len);
	buf_append_str(&b, ",\"expires\":");
	buf_append_i64(&b, s->expires);
	buf_append_str(&b, ",\"version\":");
	buf_append_i64(&b, s->version);
	if (s->user) {
		/* An owner may hold any character but controls: jansson
		 * escapes it. */
		json_t *u = json_stringn(s->user, s->user_len);
		char *text = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;

		json_decref(u);
		if (!text) {
			free(dumped);
			buf_free(&b);
			return NULL;
		}
		buf_append_str(&b, ",\"user\":");
		buf_append_str(&b, text);
		free(text);
	}
	buf_append_char(&b, '}');
	free(dumped);
	return buf_steal(&b); /* NULL if any append failed */
}

char *session_summary_json(const char *id, int64_t expires, int64_t version)
{
	struct buf b;

	if (!id || !session_id_valid(id, strlen(id)))
		return NULL;
	/* A valid id has nothing to escape (see session_to_json). */
	buf_init(&b, 0);
	buf_append_str(&b, "{\"id\":\"");
	buf_append_str(&b, id);
	buf_append_str(&b, "\",\"expires\":");
	buf_append_i64(&b, expires);
	buf_append_str(&b, ",\"version\":");
	buf_append_i64(&b, version);
	buf_append_char(&b, '}');
	return buf_steal(&b); /* NULL if any append failed */
}

void session_etag(int64_t version, char *out, size_t n)
{
	char tag[BUF_I64_SIZE + 2];
	size_t len;

	if (!out || n == 0)
		return;
	/* Every answer carries one: no printf (buf_i64_text). */
	tag[0] = '"';
	len = buf_i64_text(version, tag + 1) + 1;
	tag[len++] = '"';
	if (len > n - 1)
		len = n - 1; /* cut, as snprintf would */
	memcpy(out, tag, len);
	out[len] = '\0';
}

/* Reads the digits of an ETag we issued: "0" or digits without a leading
 * zero. ETags compare as strings, so "03" is not version 3's "3" and could
 * never match; refusing it keeps the two notions the same. */
static bool session_etag_digits(const char *p, const char *end, int64_t *version)
{
	int64_t v = 0;

	if (p == end || (*p == '0' && end - p > 1))
		return false;
	for (; p < end; p++) {
		int d = *p - '0';

		if (*p < '0' || *p > '9' || v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*version = v;
	return true;
}

bool session_if_match_parse(const char *value, int64_t *version, bool *any)
{
	const char *p, *end;

	if (!value || !version || !any)
		return false;
	*version = 0;
	*any = false;
	p = value;
	end = value + strlen(value);
	/* A field value may carry optional whitespace at either end. */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - p == 1 && *p == '*') {
		*any = true;
		return true;
	}
	/* "W/" is case-sensitive (RFC 9110 section 8.8.3). */
	if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
		p += 2;
	if (end - p < 3 || p[0] != '"' || end[-1] != '"')
		return false;
	return session_etag_digits(p + 1, end - 1, version);
}
