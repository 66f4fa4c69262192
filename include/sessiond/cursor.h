/* cursor.h: the opaque paging cursor of GET /v1/users/{uid}/sessions: the
 * base64url (no padding) of the JSON of DynamoDB's LastEvaluatedKey for the
 * users' index, checked strictly when it comes back, so that a forged or
 * damaged cursor is the client's 400 and never reaches DynamoDB. Pure. */
#ifndef SESSIOND_CURSOR_H
#define SESSIOND_CURSOR_H

#include <stddef.h>

#include "sessiond/ddb_codec.h"
#include "sessiond/error.h"

#define CURSOR_MAX 4096 /* longest cursor text accepted (the longest key fits) */

/* What a key of the users' index looks like: exactly three attributes,
 * the table's hash key (S: prefix + a valid session id), the owner
 * attribute (S: equal to uid) and "expires" (N). Strings are borrowed. */
struct cursor_shape {
	const char *hash_key;
	const char *prefix;
	const char *attribute;
	const char *uid;
	size_t uid_len;
};

/* Encodes key (which must have the shape) into *out, a new NUL-terminated
 * string the caller frees. ERROR_INVALID when the key has another shape
 * (DynamoDB answered something unexpected), ERROR_NOMEM. */
enum error_code cursor_encode(const struct ddb_item *key, const struct cursor_shape *shape,
			      char **out);

/* Decodes text[0..len) into key (which must be empty; it is empty again on
 * error). ERROR_PARSE for anything but a cursor of that shape: bad
 * base64url, padding, bits left over, malformed or duplicate JSON, members
 * missing, extra or of the wrong type, an id that is not one, another
 * user's uid. ERROR_NOMEM. */
enum error_code cursor_decode(const char *text, size_t len, const struct cursor_shape *shape,
			      struct ddb_item *key);

#endif
