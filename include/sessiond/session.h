/* session.h: the session resource, pure: id generation and validation,
 * request-body parsing (data, ttl, expires), JSON merge patch (RFC 7386),
 * the resource JSON, and the mapping to the connect-dynamodb item layout
 * (hash key = prefix + id, expires N, type "connect-session", sess = JSON
 * text of data, version N). No I/O; the clock is a parameter. */
#ifndef SESSIOND_SESSION_H
#define SESSIOND_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/ddb_codec.h"
#include "sessiond/error.h"

#define SESSION_ID_LEN 32        /* generated ids: 24 random bytes, base64url */
#define SESSION_ID_MAX 256       /* client-chosen ids: 1..256 unreserved chars */
#define SESSION_JSON_MAX_DEPTH 64 /* deeper request bodies are refused */
#define SESSION_ETAG_SIZE 32      /* room for session_etag's output */
#define SESSION_USER_MAX 256      /* owners: 1..256 characters (code points) */
#define SESSION_USER_BYTES (SESSION_USER_MAX * 4) /* their UTF-8 at most */

/* Writes a new id (SESSION_ID_LEN base64url characters from 24 bytes of
 * RAND_bytes, 192 bits) and a NUL into out. ERROR_IO if the CSPRNG fails. */
enum error_code session_id_new(char *out);

/* True if id[0..len) is 1..SESSION_ID_MAX characters of [A-Za-z0-9._~-]. */
bool session_id_valid(const char *id, size_t len);

/* True if user[0..len) is an owner (api.md, v1.1): valid UTF-8 of 1 to
 * SESSION_USER_MAX characters, none of them a control character (C0, DEL
 * or C1; a NUL included). */
bool session_user_valid(const char *user, size_t len);

/* Why a request body was refused: a short English detail for the problem
 * document (never containing the body itself; only a short printable ASCII
 * name of an unknown top-level member is quoted). Always valid UTF-8; ""
 * on success. Functions taking a why accept NULL. */
struct session_why {
	char detail[160];
};

/* What a request body said. data is a new reference or NULL when absent. */
struct session_body {
	json_t *data;
	/* data's value as the body wrote it, without the whitespace between
	 * tokens: the text to store, so the tree need not be printed again.
	 * Owned; NULL when data was absent or its text could not be told
	 * apart (a top-level name written with escapes): then print data. */
	char *data_text;
	size_t data_text_len;
	bool has_ttl;
	int64_t ttl;
	bool has_expires;
	int64_t expires;
	char *user; /* "user" (CREATE and PUT), valid; owned, NULL when absent */
	size_t user_len;
};

enum session_body_kind {
	SESSION_BODY_CREATE, /* POST /v1/sessions: data optional ({}), ttl|expires optional */
	SESSION_BODY_PUT,    /* PUT: data required, ttl|expires optional */
	SESSION_BODY_TOUCH,  /* touch: empty body allowed; only ttl|expires */
};

/* Parses and validates a JSON body of kind. len 0 is allowed for TOUCH
 * only. Rules: an object; nesting at most SESSION_JSON_MAX_DEPTH levels,
 * the body's own object being level 1 (so data's contents reach level 64);
 * valid UTF-8; no duplicate keys; no trailing data; data a JSON object (not
 * allowed in TOUCH; CREATE without it gets {}; PUT requires it); ttl a JSON
 * integer (not 1.0, 1e3 or "5") 1..max_ttl; expires a JSON integer with
 * now < expires <= now + max_ttl; not both ttl and expires; user (not in
 * TOUCH) a string that session_user_valid accepts; "id" and
 * "version" members are read-only and ignored; any other member is refused.
 * Numbers outside int64_t anywhere in the body are refused (jansson).
 * "\u0000" in strings is accepted. ERROR_PARSE with why filled on any
 * violation; out is then empty. ERROR_INVALID for bad arguments (max_ttl
 * < 1). Caller releases out with session_body_clear. */
enum error_code session_body_parse(enum session_body_kind kind, const char *body, size_t len,
				   int64_t now, int64_t max_ttl, struct session_body *out,
				   struct session_why *why);
void session_body_clear(struct session_body *b);

/* Parses a merge-patch body (application/merge-patch+json) with the same
 * JSON rules as session_body_parse. A patch for data must be an object (a
 * non-object patch would replace data with a non-object: ERROR_PARSE), and
 * since it stands where data stands it may nest SESSION_JSON_MAX_DEPTH - 1
 * levels. *patch is a new reference the caller releases; NULL on error. */
enum error_code session_patch_parse(const char *body, size_t len, json_t **patch,
				    struct session_why *why);

/* Parses a ttl given as text (the ?ttl=N of PATCH): decimal digits only
 * (no sign, no space; leading zeros are fine: "060" is 60), 1..max_ttl.
 * ERROR_PARSE with why filled otherwise. */
enum error_code session_ttl_parse(const char *text, int64_t max_ttl, int64_t *ttl,
				  struct session_why *why);

/* Applies an RFC 7386 merge patch to target (an object, modified in place):
 * null members delete, objects merge recursively, anything else replaces
 * (with a deep copy: target shares no node with patch, which stays the
 * caller's). ERROR_INVALID unless both are objects; ERROR_NOMEM leaves
 * target partly patched, so the caller must discard it. */
enum error_code session_merge_patch(json_t *target, const json_t *patch);

/* A session as stored. Its data is held as a tree (data), as text (text),
 * or both: a session read from an item keeps the stored text, checked to
 * be a JSON object, and parses it only when asked (session_load_data), so
 * a read is answered without a parse-and-print round. */
struct session {
	char id[SESSION_ID_MAX + 1]; /* without the prefix */
	json_t *data;                /* an object, or NULL; owned reference */
	char *text;                  /* the stored JSON text, or NULL; owned */
	size_t text_len;
	int64_t expires;             /* Unix seconds, rounded up from the stored decimal */
	int64_t version;             /* 0 for an item connect-dynamodb wrote */
	char *user;                  /* the owner (valid), or NULL; owned */
	size_t user_len;
};

void session_clear(struct session *s);

/* Builds the item for s: hash_key = prefix + s->id (S), expires (N),
 * type "connect-session" (S), sess = compact JSON text of data in its own
 * key order (S), version (N). item must be empty; it is empty again on
 * error. ERROR_INVALID for an invalid id, data not an object, or a
 * hash_key named expires, type, sess or version. */
enum error_code session_to_item(const struct session *s, const char *hash_key,
				const char *prefix, struct ddb_item *item);

/* Reads an item back into out (which it overwrites; release it with
 * session_clear). ERROR_PARSE when the item is not a session: the key lacks
 * the prefix or the rest is not a valid id, sess is missing or not a JSON
 * object, expires is missing (connect-dynamodb always writes it) or not an
 * N in int64_t range, version is not a whole N >= 0. A fractional expires
 * is rounded up. An item without version (connect-dynamodb wrote it) is
 * version 0. type is not checked; sess is read leniently (duplicate keys
 * are kept, and JSON.parse, like jansson, keeps the last). out->text holds
 * a copy of sess, out->data is NULL. out is empty on error. */
enum error_code session_from_item(const struct ddb_item *item, const char *hash_key,
				  const char *prefix, struct session *out);

/* The owner in items: session_user_to_item adds s->user to item as the S
 * attribute attr (nothing when s has no owner); session_user_from_item
 * sets s->user from item's attr (NULL when absent). ERROR_PARSE when the
 * stored attribute is not an S that session_user_valid accepts (s is left
 * ownerless then), ERROR_NOMEM. */
enum error_code session_user_to_item(const struct session *s, const char *attr,
				     struct ddb_item *item);
enum error_code session_user_from_item(const struct ddb_item *item, const char *attr,
				       struct session *s);

/* Sets s->user to a copy of user[0..len) (NULL: ownerless). */
enum error_code session_user_set(struct session *s, const char *user, size_t len);

/* Makes s->data the tree of s->text (parsed now if need be) and drops the
 * text, so the caller may change the data. ERROR_NOMEM, or ERROR_PARSE for
 * text jansson refuses (an integer beyond int64_t, say). */
enum error_code session_load_data(struct session *s);

/* The inverse: makes s->text the compact text of s->data (in its own key
 * order, as session_to_item writes it) and drops the tree, once the data
 * will not change again, so that the size check, the item and the answer
 * copy one text rather than print the tree each. Nothing to do when s has
 * text only. ERROR_INVALID without data or text, ERROR_NOMEM (s is then
 * unchanged). */
enum error_code session_store_text(struct session *s);

/* True if the session counts as absent at now: expires <= now. */
bool session_expired(const struct session *s, int64_t now);

/* The resource JSON {"id","data","expires","version"} (and "user" when s
 * has an owner), compact; a new
 * string the caller frees with free(); NULL on allocation failure or when
 * s has no data. The data is s->text as stored when s has it. */
char *session_to_json(const struct session *s);

/* The answer of a touch, {"id","expires","version"}, compact, built
 * without a JSON tree; a new string the caller frees with free(); NULL on
 * allocation failure or when id is not a valid session id. */
char *session_summary_json(const char *id, int64_t expires, int64_t version);

/* The ETag value for a version: "\"<version>\"" into out
 * (SESSION_ETAG_SIZE bytes suffice). */
void session_etag(int64_t version, char *out, size_t n);

/* Parses an If-Match value: a single strong or weak ETag "\"<v>\"" (W/ is
 * accepted and compared weakly), optional spaces or tabs around it. false if
 * it is not one such ETag that this daemon could have issued: lists, "",
 * "\"\"", signs, non-digits, leading zeros ("\"03\"" is not version 3's
 * ETag), values beyond int64_t, lower-case "w/". "*" is reported with
 * *any = true and *version = 0. */
bool session_if_match_parse(const char *value, int64_t *version, bool *any);

#endif
