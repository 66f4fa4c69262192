/* api.h: the endpoints of the session API (docs/api.md), one small
 * function each: parse, validate, call DynamoDB, answer. They run on
 * libmicrohttpd's workers and finish on the DynamoDB client's I/O thread. */
#ifndef SESSIOND_API_H
#define SESSIOND_API_H

#include "sessiond/conf.h"
#include "sessiond/creds.h"
#include "sessiond/ddb_client.h"
#include "sessiond/http_server.h"
#include "sessiond/keyring.h"
#include "sessiond/reaper.h"

struct api;

/* conf and ddb are borrowed and must outlive the api. NULL when out of
 * memory. */
struct api *api_new(const struct conf *conf, struct ddb_client *ddb);
void api_free(struct api *api);

/* Let /metrics read the server's and the reaper's counters (set once at
 * start; reaper may be NULL when disabled). */
void api_set_http(struct api *api, struct http_server *http);
void api_set_reaper(struct api *api, struct reaper *reaper);
/* Lets /readyz and /metrics report on the credentials (borrowed). */
void api_set_creds(struct api *api, struct creds *creds);

/* The encryption keys (borrowed; set once at start, before the server).
 * Each request uses the keyring in force when it started. */
void api_set_keyring(struct api *api, struct keyring_holder *keys);

/* The routing table for http_server_config.routes (static). */
const struct http_route *api_routes(void);

#endif
