/* http_server.h: the HTTP front end on libmicrohttpd. It owns the listener,
 * the worker threads (each with its own daemon and event loop), routing,
 * request ids, bearer-token auth, bounded bodies and the refusal of hostile
 * requests; handlers (api.c) see only a validated request and answer it now
 * or later, best on the same worker thread, from any thread if need be. */
#ifndef SESSIOND_HTTP_SERVER_H
#define SESSIOND_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
};

enum http_body {
	HTTP_BODY_NONE,        /* a body is read (up to limits.max_body) and ignored */
	HTTP_BODY_JSON,        /* application/json, may be empty where the handler allows */
	HTTP_BODY_MERGE_PATCH, /* application/merge-patch+json */
};

/* Whether a route wants the bearer token (when tokens are configured). */
enum http_auth {
	HTTP_AUTH_NONE,     /* never: health probes */
	HTTP_AUTH_REQUIRED, /* always: the session API */
	HTTP_AUTH_OPTIONAL, /* when the server's protect_optional says so: /metrics */
};

struct http_request;
struct evloop;
typedef void (*http_handler_fn)(void *ctx, struct http_request *req);

/* One row of the routing table. A pattern is a path whose "{id}" segment
 * matches a session id (decoded, validated: 400 when it is not one). */
struct http_route {
	const char *pattern;   /* "/v1/sessions/{id}/touch" */
	enum http_method method;
	const char *name;      /* for logs and metrics: "touch" */
	enum http_body body;
	enum http_auth auth;
	http_handler_fn handler;
};

struct http_server_config {
	const char *address;           /* IPv4 or IPv6 literal */
	unsigned port;                 /* 0: any free port */
	unsigned threads;              /* 0: number of CPUs */
	unsigned max_connections;
	unsigned connection_timeout;   /* seconds */
	size_t max_body;
	bool protect_optional;         /* HTTP_AUTH_OPTIONAL routes need the token */
	char *const *tokens;           /* bearer tokens accepted from the start (copied) */
	size_t n_tokens;
	const struct http_route *routes; /* borrowed, ends with a NULL pattern */
	void *ctx;                       /* passed to every handler */
	/* Optional: run on each worker thread as it starts, with the worker's
	 * event loop, so another module can do its I/O on that thread (the
	 * DynamoDB client attaches a loop); the result is handed back to
	 * worker_detach, on the same thread, by http_server_release_peers. */
	void *(*worker_attach)(void *arg, struct evloop *ev);
	void (*worker_detach)(void *arg, void *peer);
	void *worker_arg;
};

struct http_server;

/* Binds, listens and starts the worker threads. NULL on failure with one
 * line in why (e.g. "127.0.0.1:8080: Address already in use"). */
struct http_server *http_server_new(const struct http_server_config *cfg, char *why,
				    size_t why_len);

/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *srv);

/* Replaces the accepted bearer tokens (copied; n = 0: no auth). Safe from
 * any thread while serving: SIGHUP reloads use it. */
enum error_code http_server_set_tokens(struct http_server *srv, char *const *tokens, size_t n);

/* Stops accepting new connections and waits up to grace_ms for the
 * requests being handled (their handler ran; they may wait for DynamoDB) to
 * be answered. Clients still sending a request are not waited for: a crowd
 * of slow clients cannot hold a stop up. Then: http_server_release_peers,
 * ddb_client_free (its cancellations still answer suspended requests
 * through the running workers), http_server_free. */
void http_server_drain(struct http_server *srv, long grace_ms);

/* From now on every answer carries Connection: close and its connection
 * is closed after it (the drain: keep-alive clients go elsewhere). Safe
 * from any thread. */
void http_server_close_connections(struct http_server *srv);

/* Each worker's worker_detach runs, on the worker (a DynamoDB loop cancels
 * what it still runs, which answers those requests); the workers keep
 * serving answers until http_server_free. */
void http_server_release_peers(struct http_server *srv);

/* Stops the threads and frees everything (releasing the peers first, if
 * that was not done). Accepts NULL. */
void http_server_free(struct http_server *srv);

/* For the watchdog: true when every worker's loop turned since the last
 * call (a worker turns at least once a second, even when idle). One
 * caller only. */
bool http_server_workers_turning(struct http_server *srv);

/* For the systemd watchdog: asks GET /healthz of this server over the
 * loopback, answered by a worker thread, within timeout_ms. */
bool http_server_self_check(struct http_server *srv, long timeout_ms);

/* Appends the server's metrics (requests by route and code, latency
 * histograms, in-flight requests, open connections) in Prometheus text. */
void http_server_write_metrics(struct http_server *srv, struct buf *b);

/* ---- for handlers -------------------------------------------------------- */

/* The decoded, validated {id} of the route, or "" when it has none. */
const char *http_request_id(const struct http_request *req);
/* The body (NUL-terminated, len may be 0); borrowed from req. */
const char *http_request_body(const struct http_request *req, size_t *len);
/* The raw query (the text after '?', still percent-encoded), or NULL when
 * the target has no '?'; borrowed. */
const char *http_request_query_string(const struct http_request *req);
/* A request header (first of its name) or NULL; borrowed. */
const char *http_request_header(const struct http_request *req, const char *name);
/* The raw (still percent-encoded) value of query parameter name, copied
 * into out: 1 when found, 0 when absent, -1 when longer than n - 1. */
int http_request_query(const struct http_request *req, const char *name, char *out, size_t n);
/* The request id, as echoed in X-Request-Id. */
const char *http_request_rid(const struct http_request *req);
/* Lets the handler note the DynamoDB attempts it used, for the log line. */
void http_request_add_attempts(struct http_request *req, unsigned attempts);

/* Adds a response header (copied). Before http_respond only. */
enum error_code http_add_header(struct http_request *req, const char *name, const char *value);

/* Answers req with body (owned: freed by the server; may be NULL with len
 * 0). Callable once per request, from the handler or later from any thread
 * (the connection is resumed then). */
void http_respond(struct http_request *req, unsigned status, const char *content_type,
		  char *body, size_t len);

/* Answers with an RFC 9457 problem document; detail may be NULL. */
void http_respond_problem(struct http_request *req, unsigned status, const char *detail);

/* A handler that will answer later calls this before starting the work
 * that answers, so the worker thread goes back to serving others. */
void http_suspend(struct http_request *req);

#endif
