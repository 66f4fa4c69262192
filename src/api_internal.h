/* api_internal.h: what the endpoint modules share (api.c, api_users.c,
 * api_regen.c): the settings and DynamoDB client behind the handlers' ctx,
 * the session <-> item mapping with the owner attribute, and the answers
 * for JSON documents and DynamoDB failures. Not a public interface. */
#ifndef SESSIOND_API_INTERNAL_H
#define SESSIOND_API_INTERNAL_H

#include <jansson.h>

#include "sessiond/api.h"
#include "sessiond/buf.h"
#include "sessiond/keyring.h"
#include "sessiond/session.h"

/* The api's settings and client (borrowed from it). */
const struct conf *api_conf(const struct api *api);
struct ddb_client *api_ddb(const struct api *api);

/* A new reference to the encryption keys in force (keyring_unref it), or
 * NULL when encryption is off. */
struct keyring *api_keyring(const struct api *api);

/* session_to_item / session_from_item with the configured key layout, and
 * the owner in users.attribute when users.index is on. */
enum error_code api_session_to_item(const struct api *api, const struct session *s,
				    struct ddb_item *item);
enum error_code api_session_from_item(const struct api *api, const struct ddb_item *item,
				      struct session *s);

/* The item key of session id: dynamodb.prefix + id, as new heap text (the
 * caller frees it), or NULL when out of memory. No printf: every request
 * builds one. */
char *api_key_new(const struct conf *c, const char *id);

/* "/v1/sessions/<id>", the Location of a new session, into out. */
#define API_LOCATION_SIZE (sizeof("/v1/sessions/") + SESSION_ID_MAX)
void api_location(char out[API_LOCATION_SIZE], const char *id);

/* Answers with doc (consumed; NULL answers 500) as compact JSON. */
void api_respond_json(struct http_request *req, unsigned status, json_t *doc);

/* Answers a failed DynamoDB call: 503 with Retry-After when another try
 * later may work, 502 when DynamoDB refused it, else 500; never 2xx, and no
 * upstream text beyond its error code. */
void api_respond_ddb_error(struct http_request *req, const struct ddb_result *res);

/* The handlers of api_users.c (ctx is the struct api) and their metrics. */
void api_users_list(void *ctx, struct http_request *req);
void api_users_revoke(void *ctx, struct http_request *req);
void api_users_write_metrics(struct buf *b);

/* The handler of api_regen.c and its metrics. */
void api_regen_post(void *ctx, struct http_request *req);
void api_regen_write_metrics(struct buf *b);

#endif
