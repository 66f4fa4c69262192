/* cursor.c: the paging cursor of a user's sessions (cursor.h): the
 * LastEvaluatedKey of a Query on the users' index, as JSON in base64url,
 * and the strict check of one coming back. The same shape check runs both
 * ways, so the daemon never hands out a cursor that it would refuse. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sessiond/buf.h"
#include "sessiond/cursor.h"
#include "sessiond/session.h"

static const char cursor_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Whether a is an attribute of the shape's key named name. */
static bool cursor_attr_ok(const struct ddb_attr *a, const struct cursor_shape *shape)
{
	size_t plen = strlen(shape->prefix);
	int64_t v;

	if (strcmp(a->name, shape->hash_key) == 0)
		return a->type == DDB_TYPE_S && a->value_len > plen &&
		       memcmp(a->value, shape->prefix, plen) == 0 &&
		       session_id_valid(a->value + plen, a->value_len - plen);
	if (strcmp(a->name, shape->attribute) == 0)
		return a->type == DDB_TYPE_S && a->value_len == shape->uid_len &&
		       memcmp(a->value, shape->uid, shape->uid_len) == 0;
	if (strcmp(a->name, "expires") == 0)
		return a->type == DDB_TYPE_N && ddb_number_valid(a->value) &&
		       ddb_number_to_i64(a->value, true, &v) == ERROR_OK;
	return false;
}

/* Exactly the three attributes, each once (ddb_item keeps names unique). */
static bool cursor_key_ok(const struct ddb_item *key, const struct cursor_shape *shape)
{
	if (key->n != 3)
		return false;
	for (size_t i = 0; i < key->n; i++)
		if (!cursor_attr_ok(&key->attrs[i], shape))
			return false;
	return true;
}

static bool cursor_shape_ok(const struct cursor_shape *s)
{
	return s && s->hash_key && s->prefix && s->attribute && s->uid &&
	       strcmp(s->hash_key, s->attribute) != 0 && strcmp(s->hash_key, "expires") != 0 &&
	       strcmp(s->attribute, "expires") != 0;
}

enum error_code cursor_encode(const struct ddb_item *key, const struct cursor_shape *shape,
			      char **out)
{
	json_t *root = NULL;
	char *text = NULL;
	enum error_code rc = ERROR_INVALID;
	struct buf b;
	size_t len, i;

	buf_init(&b, 0);
	if (!out)
		return ERROR_INVALID;
	*out = NULL;
	if (!key || !cursor_shape_ok(shape) || !cursor_key_ok(key, shape))
		goto out;
	rc = ERROR_NOMEM;
	root = json_object();
	if (!root)
		goto out;
	for (i = 0; i < key->n; i++) {
		const struct ddb_attr *a = &key->attrs[i];
		json_t *av = json_pack("{s:s%}", a->type == DDB_TYPE_S ? "S" : "N", a->value,
				       a->value_len);
		if (!av || json_object_set_new(root, a->name, av))
			goto out;
	}
	text = json_dumps(root, JSON_COMPACT);
	if (!text)
		goto out;
	/* Base64url by hand: three bytes make four characters; a tail of
	 * one or two bytes makes two or three, without padding. */
	len = strlen(text);
	for (i = 0; i < len; i += 3) {
		unsigned long v = (unsigned long)(unsigned char)text[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (unsigned long)(unsigned char)text[i + 1] << 8;
		if (n > 2)
			v |= (unsigned char)text[i + 2];
		buf_append_char(&b, cursor_alphabet[(v >> 18) & 63]);
		buf_append_char(&b, cursor_alphabet[(v >> 12) & 63]);
		if (n > 1)
			buf_append_char(&b, cursor_alphabet[(v >> 6) & 63]);
		if (n > 2)
			buf_append_char(&b, cursor_alphabet[v & 63]);
	}
	*out = buf_steal(&b);
	rc = *out ? ERROR_OK : ERROR_NOMEM;
out:
	json_decref(root);
	free(text);
	buf_free(&b);
	return rc;
}

static int cursor_value(char c)
{
	const char *p = c ? strchr(cursor_alphabet, c) : NULL;

	return p ? (int)(p - cursor_alphabet) : -1;
}

/* Strict base64url into out (a new allocation, NUL-terminated, *n bytes).
 * ERROR_PARSE for another alphabet, padding, a length of 4k + 1, or bits
 * left over in the last character (so each cursor has one spelling). */
static enum error_code cursor_unbase64(const char *text, size_t len, char **out, size_t *n)
{
	unsigned long acc = 0;
	int bits = 0;
	char *o;

	*out = NULL;
	if (len == 0 || len > CURSOR_MAX || len % 4 == 1)
		return ERROR_PARSE;
	o = malloc(len / 4 * 3 + 3);
	if (!o)
		return ERROR_NOMEM;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		int v = cursor_value(text[i]);

		if (v < 0) {
			free(o);
			return ERROR_PARSE;
		}
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[(*n)++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (acc & ((1ul << bits) - 1)) {
		free(o);
		return ERROR_PARSE;
	}
	o[*n] = '\0';
	*out = o;
	return ERROR_OK;
}

/* {"S": "..."} or {"N": "..."} with nothing else, into key as name. */
static enum error_code cursor_attr_decode(json_t *av, const char *name, struct ddb_item *key)
{
	const char *tag;
	json_t *v;

	if (!json_is_object(av) || json_object_size(av) != 1)
		return ERROR_PARSE;
	tag = json_object_iter_key(json_object_iter(av));
	v = json_object_get(av, tag);
	if (!json_is_string(v))
		return ERROR_PARSE;
	if (strcmp(tag, "S") == 0)
		return ddb_item_add_s(key, name, json_string_value(v), json_string_length(v));
	if (strcmp(tag, "N") == 0) {
		/* ddb_item_add_n reads a C string: a NUL inside would hide a tail. */
		if (strlen(json_string_value(v)) != json_string_length(v))
			return ERROR_PARSE;
		return ddb_item_add_n(key, name, json_string_value(v));
	}
	return ERROR_PARSE;
}

enum error_code cursor_decode(const char *text, size_t len, const struct cursor_shape *shape,
			      struct ddb_item *key)
{
	json_t *root = NULL, *av;
	char *raw = NULL;
	const char *name;
	size_t n = 0;
	enum error_code rc;

	if (!text || !key || key->n != 0 || !cursor_shape_ok(shape))
		return ERROR_INVALID;
	rc = cursor_unbase64(text, len, &raw, &n);
	if (rc != ERROR_OK)
		return rc;
	rc = ERROR_PARSE;
	root = json_loadb(raw, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root) || json_object_size(root) != 3)
		goto out;
	json_object_foreach(root, name, av)
	{
		rc = cursor_attr_decode(av, name, key);
		if (rc != ERROR_OK)
			goto out;
	}
	rc = cursor_key_ok(key, shape) ? ERROR_OK : ERROR_PARSE;
out:
	if (rc == ERROR_INVALID)
		rc = ERROR_PARSE; /* a bad number or text from the client */
	if (rc != ERROR_OK)
		ddb_item_clear(key);
	json_decref(root);
	free(raw);
	return rc;
}
