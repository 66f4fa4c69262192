/* http_server.c: the libmicrohttpd front end (http_server.h).
 *
 * DESIGN. A request object is made in MHD's URI log callback, which sees the
 * raw request target before MHD percent-decodes it (MHD would cut a path at
 * "%00"). On the first access-handler call everything that can be judged
 * from the request line and headers is judged: smuggling shapes, control
 * bytes, route, method, auth, id, content type, announced size. A refusal
 * is queued at once, so the body is never read (MHD then closes the
 * connection). Otherwise the body is accumulated up to limits.max_body and
 * the handler runs; a handler that waits for DynamoDB suspends the
 * connection and answers later, which resumes it, and MHD calls the access
 * handler once more to queue the answer.
 *
 * Threads. Each worker thread owns one MHD daemon in external-epoll mode on
 * its own listening socket, and an evloop that watches MHD's epoll fd
 * next to whatever the attach hook adds (the worker's DynamoDB loop). So a
 * request is usually answered on the thread that read it: the completion
 * runs in the same turn, http_respond flags the worker, and the turn ends
 * with MHD_run, which writes the answer. An answer from another thread
 * resumes the connection through MHD's ITC, which wakes the worker. Work
 * that must run on a worker (quiesce, detach, stop) is handed over with
 * http_worker_do.
 *
 * Listening. The workers' sockets form one SO_REUSEPORT group, so the
 * kernel spreads new connections evenly by their addresses. On one shared
 * socket, whichever worker woke first took every connection of a burst (16
 * keep-alive connections of a benchmark all on one worker, the other idle).
 * The first socket binds and listens without SO_REUSEPORT and sets it only
 * then: a port that anything else holds, another sessiond included, still
 * fails at start, and only a socket of the same user that asks to share can
 * join. Where the kernel will not form the group, the workers share the
 * first socket, as they did before.
 *
 * The kernel picks a worker by address, not by load, so limits.max_connections
 * is one total that every daemon checks in its accept policy: with a share
 * per daemon, a worker at its share would leave the connections hashed to
 * it waiting in its queue while another had room. Past the total a new
 * connection is closed at once (two workers accepting together may pass it
 * by one each). Each daemon's own limit is the total plus the workers, so
 * that it is never reached first: a daemon at its limit stops accepting,
 * and the connections hashed to it would wait unanswered instead. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sessiond/buf.h"
#include "sessiond/evloop.h"
#include "sessiond/http_check.h"
#include "sessiond/http_server.h"
#include "sessiond/log.h"
#include "sessiond/metrics.h"
#include "sessiond/now.h"
#include "sessiond/session.h"

#define HTTP_MAX_RESPONSE_HEADERS 8
#define HTTP_RID_MAX 128
/* Per-connection pool for the request line, headers and MHD's buffers.
 * MHD 0.9.75 zeroes the whole pool on every keep-alive request
 * (MHD_pool_reset memsets it on Linux), so every connection that served a
 * request keeps all of it resident: an idle connection costs this much
 * plus about 0.5 KiB. 7 KiB keeps an idle connection under 8 KiB (7.3 KiB
 * measured by make bench; 10,000 idle connections: 71 MiB) and takes a
 * request head (request line and headers) of up to about 6.5 KiB, which
 * is over 2 KiB more than the longest legitimate one: a user id of 256
 * four-byte characters percent-encoded in the path (3 KiB) with its
 * cursor (under 2 KiB), a token and a request id. A larger head: 431. */
#define HTTP_CONNECTION_MEMORY (7 * 1024)
#define HTTP_LINGER_MAX (1024 * 1024) /* bytes drained after an early 413 */

struct http_header {
	char *name;
	char *value;
};

struct http_request {
	struct http_server *srv;
	struct http_worker *worker; /* the thread whose daemon holds conn */
	struct MHD_Connection *conn;
	char *raw_uri; /* as received, percent-encoded */
	uintptr_t raw_at; /* where MHD's buffer held it: see http_check_head */
	size_t raw_len;   /* its length as received */
	const struct http_route *route;
	enum http_method method;
	char id[HTTP_CHECK_ID_SIZE];
	char rid[HTTP_RID_MAX + 1];
	struct buf body;
	bool started;    /* the first access-handler call happened */
	bool dispatched; /* the handler ran */
	/* Worker threads only: set by http_suspend, cleared by the first call
	 * after MHD resumed the connection. http_respond on another thread
	 * reads it (written before the handler handed req over) but never
	 * writes it: the worker reads it after the handler returns, which may
	 * be while the answering thread is inside http_respond. */
	bool suspended;
	bool queued;
	bool early_413;  /* answered on the socket; draining, then closing */
	size_t drained;
	/* The answer, written once by http_respond (maybe on another thread
	 * while suspended; MHD's resume orders it before the next call). */
	bool responded;
	bool close; /* send Connection: close */
	unsigned status;
	const char *content_type;
	char *resp_body;
	size_t resp_len;
	struct http_header headers[HTTP_MAX_RESPONSE_HEADERS];
	size_t n_headers;
	unsigned attempts;
	struct timespec start;
};

/* One worker thread: its daemon, its loop, and the work handed to it. */
struct http_worker {
	struct http_server *srv;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	struct MHD_Daemon *mhd;
	struct evloop *ev;
	struct evloop_source mhd_src; /* MHD's own epoll fd */
	struct evloop_hook hook;
	void *peer;    /* what the attach hook returned */
	bool run_mhd;  /* an answer was given on this thread this turn */
	_Atomic bool resumed_elsewhere; /* ... or on another thread */
	bool running;
	bool quiesced;
	_Atomic uint64_t connections; /* open client connections it holds */
	/* http_worker_do: a function for the worker to run, and its ack. */
	pthread_mutex_t lock;
	pthread_cond_t done;
	void (*todo)(struct http_worker *w);
	_Atomic bool has_todo;
	uint64_t turns_seen; /* the watchdog's last look at evloop_turns */
};

struct http_server {
	struct http_worker *workers;
	unsigned n_workers;
	void *(*attach)(void *arg, struct evloop *ev);
	void (*detach)(void *arg, void *peer);
	void *attach_arg;
	/* Listening sockets: one per worker, or only the first, which then
	 * every worker shares. */
	int *listen_fds;
	unsigned n_listen_fds;
	unsigned port;
	char probe_url[96]; /* http://<loopback or bound address>:<port>/healthz */
	size_t max_body;
	bool protect_optional;
	const struct http_route *routes;
	void *ctx;
	/* Tokens as SHA-256 digests, so comparison time does not depend on
	 * their lengths; replaced whole on SIGHUP under the lock. */
	pthread_rwlock_t tokens_lock;
	unsigned char (*token_digests)[SHA256_DIGEST_LENGTH];
	size_t n_tokens;
	_Atomic uint64_t requests, in_flight;
	_Atomic uint64_t connections, refused; /* open client connections, turned away */
	unsigned max_connections;
	unsigned daemon_limit;  /* each daemon's own: max_connections + workers */
	/* Requests whose handler ran and that are not answered yet: what a
	 * graceful stop waits for. A client still sending its headers or body
	 * is not waited for. */
	_Atomic uint64_t busy;
	_Atomic bool closing; /* the drain: every answer closes its connection */
	/* Per route (and one more for requests that matched none): answers by
	 * status code and latency. */
	size_t n_routes;
	struct http_route_metrics *route_metrics;
};

struct http_route_metrics {
	_Atomic uint64_t by_status[500]; /* status - 100 */
	struct metrics_histogram latency;
};

static const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_HEAD: return "HEAD";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_PATCH: return "PATCH";
	case HTTP_DELETE: return "DELETE";
	}
	return "?";
}

static enum http_method http_method_parse(const char *s)
{
	static const enum http_method all[] = { HTTP_GET, HTTP_HEAD, HTTP_POST,
						HTTP_PUT, HTTP_PATCH, HTTP_DELETE };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, http_method_name(all[i])) == 0)
			return all[i];
	return 0;
}

static const char *http_reason(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 501: return "Not Implemented";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* The worker the calling thread is, or NULL. */
static _Thread_local struct http_worker *http_this_worker;

/* ---- responses ----------------------------------------------------------- */

enum error_code http_add_header(struct http_request *req, const char *name, const char *value)
{
	struct http_header *h;

	if (req->n_headers == HTTP_MAX_RESPONSE_HEADERS)
		return ERROR_TOO_LARGE;
	h = &req->headers[req->n_headers];
	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		return ERROR_NOMEM;
	}
	req->n_headers++;
	return ERROR_OK;
}

/* Counts the answer and writes its log line. */
static void http_log_line(struct http_request *req)
{
	struct http_server *srv = req->srv;
	struct http_route_metrics *m;
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - req->start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - req->start.tv_nsec) / 1e6;
	m = &srv->route_metrics[req->route ? (size_t)(req->route - srv->routes) : srv->n_routes];
	if (req->status >= 100 && req->status < 600)
		atomic_fetch_add_explicit(&m->by_status[req->status - 100], 1,
					  memory_order_relaxed);
	metrics_observe(&m->latency, ms / 1e3);
	log_request(req->rid, http_method_name(req->method), req->route ? req->route->name : "-",
		    req->status, ms, req->attempts);
}

/* Hands the stored answer to MHD. Worker thread only. */
static enum MHD_Result http_queue(struct http_request *req)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer_with_free_callback(req->resp_len, req->resp_body,
								 free);
	if (!r)
		return MHD_NO;
	req->resp_body = NULL; /* MHD owns it now */
	if (req->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	MHD_add_response_header(r, "X-Request-Id", req->rid);
	for (size_t i = 0; i < req->n_headers; i++)
		MHD_add_response_header(r, req->headers[i].name, req->headers[i].value);
	/* libmicrohttpd closes the connection after an answer that carries
	 * this header (tests/integration/drain.test.js checks it). */
	if (req->close || (req->worker && atomic_load_explicit(&req->worker->srv->closing,
							       memory_order_relaxed)))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(req->conn, req->status, r);
	MHD_destroy_response(r);
	req->queued = true;
	http_log_line(req);
	return ret;
}

void http_respond(struct http_request *req, unsigned status, const char *content_type,
		  char *body, size_t len)
{
	if (req->responded) { /* a handler bug: never answer twice */
		free(body);
		return;
	}
	req->status = status;
	req->content_type = content_type;
	req->resp_body = body;
	req->resp_len = body ? len : 0;
	req->responded = true;
	if (req->suspended) {
		/* On the request's own worker, the turn ends with MHD_run,
		 * which sends the answer at once; from elsewhere, that worker
		 * is woken to run MHD (in external mode, MHD signals nothing
		 * itself). The resume comes first, so the MHD_run after the
		 * wake sees it. */
		struct http_worker *w = req->worker;

		if (w && w == http_this_worker) {
			w->run_mhd = true;
			MHD_resume_connection(req->conn);
		} else {
			MHD_resume_connection(req->conn);
			if (w) {
				atomic_store(&w->resumed_elsewhere, true);
				evloop_wake(w->ev);
			}
		}
	}
}

void http_respond_problem(struct http_request *req, unsigned status, const char *detail)
{
	json_t *doc = json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title",
				http_reason(status), "status", (int)status);
	char *text = NULL;

	if (doc && detail)
		json_object_set_new(doc, "detail", json_string(detail));
	if (doc)
		text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	http_respond(req, status, "application/problem+json", text, text ? strlen(text) : 0);
}

void http_suspend(struct http_request *req)
{
	req->suspended = true;
	MHD_suspend_connection(req->conn);
}

/* ---- request accessors ----------------------------------------------------- */

const char *http_request_id(const struct http_request *req)
{
	return req->id;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_rid(const struct http_request *req)
{
	return req->rid;
}

void http_request_add_attempts(struct http_request *req, unsigned attempts)
{
	req->attempts += attempts;
}

const char *http_request_query_string(const struct http_request *req)
{
	const char *q = strchr(req->raw_uri, '?');

	return q ? q + 1 : NULL;
}

int http_request_query(const struct http_request *req, const char *name, char *out, size_t n)
{
	const char *q = strchr(req->raw_uri, '?');
	size_t nl = strlen(name);

	while (q && *q) {
		const char *p = q + 1, *end = strchr(p, '&'), *eq;
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq && (size_t)(eq - p) == nl && strncmp(p, name, nl) == 0) {
			size_t vl = (size_t)(end - eq - 1);
			if (vl + 1 > n)
				return -1;
			memcpy(out, eq + 1, vl);
			out[vl] = '\0';
			return 1;
		}
		q = *end ? end : NULL;
	}
	return 0;
}

/* ---- request ids and auth ---------------------------------------------------- */

/* splitmix64: request ids need to be unique, not secret, so one CSPRNG
 * seed per thread replaces a RAND_bytes call (and its getpid system call)
 * per request. */
static uint64_t http_rid_next(void)
{
	static _Thread_local uint64_t state;
	static _Thread_local bool seeded;
	uint64_t z;

	if (!seeded) {
		if (RAND_bytes((unsigned char *)&state, sizeof(state)) != 1)
			state = (uint64_t)now_mono_ms() ^ (uint64_t)(uintptr_t)&state;
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 16 characters of base64url: 96 random bits. */
static void http_rid_new(char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint64_t a = http_rid_next(), b = http_rid_next();

	for (size_t i = 0; i < 8; i++) {
		out[i] = alphabet[(a >> (6 * i)) & 63];
		out[8 + i] = alphabet[(b >> (6 * i)) & 63];
	}
	out[16] = '\0';
}

enum error_code http_server_set_tokens(struct http_server *srv, char *const *tokens, size_t n)
{
	unsigned char(*d)[SHA256_DIGEST_LENGTH] = NULL, (*old)[SHA256_DIGEST_LENGTH];

	if (n) {
		d = calloc(n, sizeof(*d));
		if (!d)
			return ERROR_NOMEM;
		for (size_t i = 0; i < n; i++)
			SHA256((const unsigned char *)tokens[i], strlen(tokens[i]), d[i]);
	}
	pthread_rwlock_wrlock(&srv->tokens_lock);
	old = srv->token_digests;
	srv->token_digests = d;
	srv->n_tokens = n;
	pthread_rwlock_unlock(&srv->tokens_lock);
	free(old);
	return ERROR_OK;
}

/* True when auth is off or the Authorization header carries a configured
 * bearer token. Every token is compared, in constant time, whatever the
 * outcome. */
static bool http_authorized(struct http_request *req, int n_authz_headers)
{
	struct http_server *srv = req->srv;
	const char *h = http_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char digest[SHA256_DIGEST_LENGTH];
	bool ok = false, enabled;

	pthread_rwlock_rdlock(&srv->tokens_lock);
	enabled = srv->n_tokens > 0;
	if (enabled && h && n_authz_headers == 1 && strncasecmp(h, "Bearer ", 7) == 0) {
		const char *t = h + 7;
		while (*t == ' ')
			t++;
		SHA256((const unsigned char *)t, strlen(t), digest);
		for (size_t i = 0; i < srv->n_tokens; i++)
			ok |= CRYPTO_memcmp(digest, srv->token_digests[i], sizeof(digest)) == 0;
	}
	pthread_rwlock_unlock(&srv->tokens_lock);
	return !enabled || ok;
}

/* ---- routing ------------------------------------------------------------- */

/* Finds the route for the request; on failure answers it (404/405/400). The
 * auth check sits between 405 and 400 so that an unauthenticated client
 * learns nothing about ids. */
static bool http_route_find(struct http_request *req, int n_authz)
{
	const char *path = req->raw_uri, *q = strchr(path, '?');
	size_t len = q ? (size_t)(q - path) : strlen(path);
	const struct http_route *r, *hit = NULL, *any = NULL;
	enum http_check_match m, hit_match = HTTP_CHECK_MATCH_NONE;
	unsigned allow = 0;
	char id[HTTP_CHECK_ID_SIZE];
	struct buf allow_text;

	for (r = req->srv->routes; r->pattern; r++) {
		m = http_check_match(r->pattern, path, len, id);
		if (m == HTTP_CHECK_MATCH_NONE)
			continue;
		any = r;
		allow |= r->method;
		/* HEAD is served by the GET route. */
		if (r->method == req->method || (req->method == HTTP_HEAD && r->method == HTTP_GET)) {
			hit = r;
			hit_match = m;
			if (m == HTTP_CHECK_MATCH_PATH)
				memcpy(req->id, id, sizeof(id));
		}
	}
	if (!any) {
		http_respond_problem(req, 404, "no such resource");
		return false;
	}
	req->route = hit ? hit : any;
	if (!hit) {
		if (allow & HTTP_GET)
			allow |= HTTP_HEAD;
		buf_init(&allow_text, 128);
		for (unsigned bit = 1; bit <= HTTP_DELETE; bit <<= 1)
			if (allow & bit)
				buf_printf(&allow_text, "%s%s", allow_text.len ? ", " : "",
					   http_method_name((enum http_method)bit));
		http_add_header(req, "Allow", allow_text.data ? allow_text.data : "");
		buf_free(&allow_text);
		http_respond_problem(req, 405, "method not allowed on this resource");
		return false;
	}
	if ((hit->auth == HTTP_AUTH_REQUIRED ||
	     (hit->auth == HTTP_AUTH_OPTIONAL && req->srv->protect_optional)) &&
	    !http_authorized(req, n_authz)) {
		http_add_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		http_respond_problem(req, 401, "a valid bearer token is required");
		return false;
	}
	if (hit_match == HTTP_CHECK_MATCH_BAD_ID && strstr(hit->pattern, "{uid}")) {
		http_respond_problem(req, 400, "user ids are 1 to 256 characters of UTF-8 "
					       "without control characters");
		return false;
	}
	if (hit_match == HTTP_CHECK_MATCH_BAD_ID) {
		http_respond_problem(req, 400, "session ids are 1 to 256 characters of "
					       "A-Z a-z 0-9 . _ ~ -");
		return false;
	}
	return true;
}

/* Content-Length and Content-Type against the route, before any byte of
 * the body is read. */
static bool http_body_acceptable(struct http_request *req, bool chunked)
{
	const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *ct = http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	unsigned long long length = 0;
	const char *want;

	if (cl && !http_check_content_length(cl, &length)) {
		req->close = true;
		http_respond_problem(req, 400, "malformed Content-Length");
		return false;
	}
	if (length > req->srv->max_body) {
		req->close = true;
		http_respond_problem(req, 413, "request body over limits.max_body");
		return false;
	}
	if (length == 0 && !chunked)
		return true;
	switch (req->route->body) {
	case HTTP_BODY_JSON:
		want = "application/json";
		break;
	case HTTP_BODY_MERGE_PATCH:
		want = "application/merge-patch+json";
		break;
	default:
		return true; /* the body is read and ignored */
	}
	if (!ct || !http_check_media_type(ct, want)) {
		req->close = true;
		http_respond_problem(req, 415, req->route->body == HTTP_BODY_JSON
						       ? "the body must be application/json"
						       : "the body must be application/merge-patch+json");
		return false;
	}
	return true;
}

static bool http_has_body(struct http_request *req)
{
	const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return http_request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	       (cl && strcmp(cl, "0") != 0);
}

_Static_assert(HTTP_RID_MAX >= HTTP_CHECK_RID_MAX, "an echoed X-Request-Id fits req->rid");

/* MHD_get_connection_values callback: hands each header field to the
 * pure check. */
static enum MHD_Result http_count_header(void *cls, enum MHD_ValueKind kind, const char *key,
					 const char *value)
{
	(void)kind;
	http_check_head_field(cls, key, value);
	return MHD_YES;
}

/* Everything judged from the request line and headers. false when the
 * request has been answered already. */
static bool http_first_look(struct http_request *req, const char *method,
			    const char *version)
{
	struct http_check_head head = {
		.method = method,
		.target = req->raw_uri,
		.target_at = req->raw_at,
		.target_len = req->raw_len,
		.version = version,
		.span = HTTP_CONNECTION_MEMORY,
	};
	struct http_check_verdict v;
	const char *rid;

	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, http_count_header, &head);
	rid = http_check_head_rid(&head);
	if (rid) { /* checked: at most HTTP_RID_MAX characters; no printf here */
		size_t n = strnlen(rid, sizeof(req->rid) - 1);

		memcpy(req->rid, rid, n);
		req->rid[n] = '\0';
	} else {
		http_rid_new(req->rid);
	}
	req->method = http_method_parse(method);
	v = http_check_head_judge(&head);
	if (v.status) {
		req->close = true;
		http_respond_problem(req, v.status, v.detail);
		return false;
	}
	/* An unknown method (0) matches no route: 404 or 405 with Allow. */
	if (!http_route_find(req, head.authorization))
		return false;
	return http_body_acceptable(req, head.te != NULL);
}

/* ---- MHD callbacks -------------------------------------------------------- */

static void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *srv = cls;
	struct http_request *req = calloc(1, sizeof(*req));

	(void)conn;
	if (!req)
		return NULL;
	req->srv = srv;
	req->worker = http_this_worker;
	req->raw_uri = strdup(uri ? uri : "");
	req->raw_at = (uintptr_t)uri;
	req->raw_len = req->raw_uri ? strlen(req->raw_uri) : 0;
	http_check_origin_form(req->raw_uri); /* RFC 9112 3.2.2: routed by its path */
	buf_init(&req->body, srv->max_body);
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	atomic_fetch_add(&srv->requests, 1);
	atomic_fetch_add(&srv->in_flight, 1);
	return req;
}

static void http_request_free(struct http_request *req)
{
	free(req->raw_uri);
	buf_free(&req->body);
	free(req->resp_body);
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	(void)conn;
	(void)toe;
	if (!req)
		return;
	atomic_fetch_sub(&srv->in_flight, 1);
	if (req->dispatched)
		atomic_fetch_sub(&srv->busy, 1);
	http_request_free(req);
	*con_cls = NULL;
}

/* A chunked body just crossed limits.max_body. MHD 0.9.75 accepts no
 * response until the body has been read, and a body can be endless, so
 * the 413 is written on the socket directly and the connection closed once
 * a bounded amount more has been drained. */
static enum MHD_Result http_refuse_body(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct buf out;

	req->close = true;
	http_respond_problem(req, 413, "request body over limits.max_body");
	buf_init(&out, 0);
	buf_printf(&out,
		   "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
		   "Content-Type: %s\r\nX-Request-Id: %s\r\nContent-Length: %zu\r\n\r\n",
		   req->content_type, req->rid, req->resp_len);
	buf_append(&out, req->resp_body, req->resp_len);
	if (!ci || !out.data ||
	    send(ci->connect_fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		buf_free(&out);
		return MHD_NO;
	}
	buf_free(&out);
	/* FIN after the answer: the client stops sending and closes, so the
	 * connection does not linger until limits.connection_timeout. */
	shutdown(ci->connect_fd, SHUT_WR);
	req->early_413 = true;
	http_log_line(req);
	return MHD_YES;
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	(void)url;
	if (!req)
		return MHD_NO; /* out of memory in http_on_uri */
	if (!req->started) {
		req->started = true;
		req->conn = conn;
		if (http_first_look(req, method, version))
			return MHD_YES;
		/* A refusal of a request that has a body is sent now, so the
		 * body is never read (MHD then closes). One without a body
		 * waits for MHD's next call, which keeps the connection open. */
		if (req->close || http_has_body(req))
			return http_queue(req);
		return MHD_YES;
	}
	/* MHD calls a suspended connection back only once it is resumed,
	 * that is once http_respond has run. */
	req->suspended = false;
	if (req->queued)
		return MHD_YES;
	if (req->responded && !req->dispatched && !req->early_413 && !*upload_data_size)
		return http_queue(req); /* an early refusal of a bodiless request */
	if (req->early_413 && !*upload_data_size)
		return MHD_NO; /* the whole body arrived after the 413: close */
	if (*upload_data_size) {
		/* Chunked bodies have no announced size: the cap applies here. */
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (req->early_413) {
			/* Drain a little, so the client reads the 413 before
			 * our close turns into a reset; then hang up. */
			req->drained += n;
			return req->drained > HTTP_LINGER_MAX ? MHD_NO : MHD_YES;
		}
		if (buf_append(&req->body, upload_data, n) != ERROR_OK)
			/* Over the cap: 413. Out of memory: no answer can be
			 * queued before the body is read, so hang up. */
			return buf_error(&req->body) == ERROR_TOO_LARGE ? http_refuse_body(req)
									: MHD_NO;
		return MHD_YES;
	}
	if (!req->responded && !req->dispatched) {
		req->dispatched = true;
		atomic_fetch_add(&srv->busy, 1);
		req->route->handler(srv->ctx, req);
	}
	/* A suspended handler answers later; MHD then calls us again. Until
	 * then req is the answering thread's: suspended is checked first. */
	if (req->suspended || !req->responded)
		return MHD_YES;
	return http_queue(req);
}

static void http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			       enum MHD_ConnectionNotificationCode toe)
{
	struct http_worker *w = cls;

	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&w->connections, 1);
		atomic_fetch_add(&w->srv->connections, 1);
	} else {
		atomic_fetch_sub(&w->connections, 1);
		atomic_fetch_sub(&w->srv->connections, 1);
	}
}

/* MHD's accept policy: limits.max_connections over all workers (DESIGN). */
static enum MHD_Result http_on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http_server *srv = cls;

	(void)addr;
	(void)len;
	if (atomic_load(&srv->connections) < srv->max_connections)
		return MHD_YES;
	atomic_fetch_add(&srv->refused, 1);
	return MHD_NO;
}

/* The attribute tells clang that fmt is a format (its -Wformat-nonliteral
 * has no exception for va_list functions, unlike gcc's). */
static void http_on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void http_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", line);
}

/* ---- workers ------------------------------------------------------------ */

static void http_on_mhd_ready(void *arg, uint32_t events)
{
	struct http_worker *w = arg;

	(void)events;
	w->run_mhd = false;
	MHD_run(w->mhd);
}

/* evloop hook: MHD's connection timeouts bound the wait. */
static long http_hook_timeout(void *arg)
{
	struct http_worker *w = arg;
	MHD_UNSIGNED_LONG_LONG ms;

	if (w->run_mhd || atomic_load(&w->resumed_elsewhere))
		return 0;
	if (MHD_get_timeout(w->mhd, &ms) != MHD_YES)
		return -1;
	return ms > 1000L * 3600 ? 1000L * 3600 : (long)ms;
}

/* evloop hook, after the other hooks (the DynamoDB loop's completions may
 * have answered requests): let MHD send answers and handle timeouts. */
static void http_hook_run(void *arg)
{
	struct http_worker *w = arg;
	MHD_UNSIGNED_LONG_LONG ms;

	if (atomic_load(&w->resumed_elsewhere))
		w->run_mhd = atomic_exchange(&w->resumed_elsewhere, false) || w->run_mhd;
	/* After answering a resumed connection, MHD wants two more runs
	 * (timeout 0) before it reads again: running them here saves the
	 * loop's two empty epoll_waits. Bounded, so other sources still get
	 * their turn. */
	for (int i = 0; i < 3; i++) {
		if (!w->run_mhd && !(MHD_get_timeout(w->mhd, &ms) == MHD_YES && ms == 0))
			break;
		w->run_mhd = false;
		MHD_run(w->mhd);
	}
}

/* Runs the work handed over by http_worker_do, on the worker. */
static void http_worker_take_todo(struct http_worker *w)
{
	void (*fn)(struct http_worker *);

	if (!atomic_load_explicit(&w->has_todo, memory_order_acquire))
		return;
	pthread_mutex_lock(&w->lock);
	fn = w->todo;
	pthread_mutex_unlock(&w->lock);
	if (fn)
		fn(w);
	/* What fn answered is logged before the caller goes on. */
	log_flush();
	pthread_mutex_lock(&w->lock);
	w->todo = NULL;
	atomic_store(&w->has_todo, false);
	pthread_cond_broadcast(&w->done);
	pthread_mutex_unlock(&w->lock);
}

/* Runs fn on worker w and waits until it has run. */
static void http_worker_do(struct http_worker *w, void (*fn)(struct http_worker *))
{
	if (!w->thread_started)
		return;
	pthread_mutex_lock(&w->lock);
	w->todo = fn;
	atomic_store_explicit(&w->has_todo, true, memory_order_release);
	evloop_wake(w->ev);
	while (w->todo)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void *http_worker_main(void *arg)
{
	struct http_worker *w = arg;
	struct http_server *srv = w->srv;
	char name[16];

	snprintf(name, sizeof(name), "http-%u", w->index);
	pthread_setname_np(pthread_self(), name);
	http_this_worker = w;
	/* The peer's hooks go first, so this turn's completions are sent by
	 * the MHD hook that follows. */
	if (srv->attach)
		w->peer = srv->attach(srv->attach_arg, w->ev);
	evloop_add_hook(w->ev, &w->hook);
	log_batch_begin();
	while (w->running) {
		evloop_turn(w->ev, 1000);
		http_worker_take_todo(w);
		log_flush(); /* before the next turn's wait */
	}
	log_batch_end();
	http_this_worker = NULL;
	return NULL;
}

/* On the worker: stop accepting; the listening sockets are closed by
 * http_server_drain or http_server_free, once every daemon has let go. */
static void http_worker_quiesce(struct http_worker *w)
{
	if (!w->quiesced)
		MHD_quiesce_daemon(w->mhd);
	w->quiesced = true;
}

/* On the worker: the peer lets go (its requests are answered), and MHD
 * sends what that answered. */
static void http_worker_detach(struct http_worker *w)
{
	struct http_server *srv = w->srv;

	if (srv->detach && w->peer)
		srv->detach(srv->attach_arg, w->peer);
	w->peer = NULL;
	MHD_run(w->mhd);
}

static void http_worker_stop(struct http_worker *w)
{
	w->running = false;
}

/* The worker's own listening socket, or the first, which all share. */
static int http_worker_listen_fd(const struct http_worker *w)
{
	const struct http_server *srv = w->srv;

	return srv->listen_fds[w->index < srv->n_listen_fds ? w->index : 0];
}

static bool http_worker_start(struct http_server *srv, struct http_worker *w,
			      const struct http_server_config *cfg, unsigned flags)
{
	const union MHD_DaemonInfo *info;

	w->srv = srv;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done, NULL);
	w->ev = evloop_new();
	if (!w->ev)
		return false;
	w->mhd = MHD_start_daemon(
		flags, 0, http_on_accept, srv, http_on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, http_on_mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, http_worker_listen_fd(w),
		MHD_OPTION_CONNECTION_LIMIT, srv->daemon_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, srv,
		MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, w,
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_END);
	if (!w->mhd)
		return false;
	info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return false;
	w->mhd_src = (struct evloop_source){ .fd = info->epoll_fd, .fn = http_on_mhd_ready,
					     .arg = w };
	w->hook = (struct evloop_hook){ .timeout_ms = http_hook_timeout, .run = http_hook_run,
					.arg = w };
	if (evloop_add(w->ev, &w->mhd_src, EPOLLIN) != ERROR_OK)
		return false;
	w->running = true;
	if (pthread_create(&w->thread, NULL, http_worker_main, w) != 0) {
		w->running = false;
		return false;
	}
	w->thread_started = true;
	return true;
}

/* Stops the thread, then the daemon (no MHD_run can race it any more). */
static void http_worker_free(struct http_worker *w)
{
	if (w->thread_started) {
		/* Quiesced, a daemon leaves its listening socket to us: the
		 * first one may be shared by every daemon. */
		http_worker_do(w, http_worker_quiesce);
		http_worker_do(w, http_worker_detach);
		http_worker_do(w, http_worker_stop);
		pthread_join(w->thread, NULL);
	} else if (w->mhd) {
		MHD_quiesce_daemon(w->mhd);
	}
	if (w->mhd)
		MHD_stop_daemon(w->mhd);
	evloop_free(w->ev);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
}

/* ---- start and stop ---------------------------------------------------- */

/* The address to listen on, with the configured port. */
static bool http_listen_address(const struct http_server_config *cfg,
				struct sockaddr_storage *ss, socklen_t *len, bool *v6,
				char *why, size_t why_len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*v6 = false;
	if (inet_pton(AF_INET, cfg->address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)cfg->port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, cfg->address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->port);
		*len = sizeof(*in6);
		*v6 = true;
	} else {
		snprintf(why, why_len, "listen.address \"%s\" is not an IP address", cfg->address);
		return false;
	}
	return true;
}

/* Binds and listens ourselves, for exact errors and the real port, which
 * is written back into ss. SO_REUSEPORT comes only once the socket listens
 * (DESIGN, Listening): before that, a second daemon's bind could slip in
 * beside ours and then join the group. A kernel that refuses it only costs
 * the spread. */
static int http_listen(const struct http_server_config *cfg, struct sockaddr_storage *ss,
		       socklen_t *len, bool *v6, char *why, size_t why_len)
{
	int fd, one = 1;

	if (!http_listen_address(cfg, ss, len, v6, why, why_len))
		return -1;
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)ss, *len))
		goto fail;
	if (listen(fd, 1024) || getsockname(fd, (struct sockaddr *)ss, len))
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	return fd;
fail:
	snprintf(why, why_len, "cannot listen on %s%s%s:%u: %s", *v6 ? "[" : "", cfg->address,
		 *v6 ? "]" : "", cfg->port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* One more socket in the first one's SO_REUSEPORT group, or -1. */
static int http_listen_beside(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 1024))
		goto fail;
	return fd;
fail:
	log_warn("no SO_REUSEPORT group on the port (%s): the workers share one socket, "
		 "and one may take more connections than the others",
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Each further worker gets its own socket beside the first; if one cannot,
 * all share the first (a group with a hole would spread unevenly). */
static void http_listen_spread(struct http_server *srv, unsigned threads,
			       const struct sockaddr_storage *ss, socklen_t len)
{
	while (srv->n_listen_fds < threads) {
		int fd = http_listen_beside(ss, len);

		if (fd < 0) {
			while (srv->n_listen_fds > 1)
				close(srv->listen_fds[--srv->n_listen_fds]);
			return;
		}
		srv->listen_fds[srv->n_listen_fds++] = fd;
	}
}

/* Closes every listening socket, once every daemon is quiesced. */
static void http_listen_close(struct http_server *srv)
{
	while (srv->n_listen_fds > 0)
		close(srv->listen_fds[--srv->n_listen_fds]);
}

/* The wildcard addresses are probed on the loopback of their family. */
static void http_probe_url(struct http_server *srv, const char *address, bool v6)
{
	const char *host = address;

	if (strcmp(address, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (v6 && strcmp(address, "::") == 0)
		host = "::1";
	snprintf(srv->probe_url, sizeof(srv->probe_url), "http://%s%s%s:%u/healthz",
		 v6 ? "[" : "", host, v6 ? "]" : "", srv->port);
}

struct http_server *http_server_new(const struct http_server_config *cfg, char *why,
				    size_t why_len)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	unsigned threads = cfg->threads;
	unsigned flags;
	struct sockaddr_storage ss;
	socklen_t len;
	bool v6;

	if (!srv) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&srv->tokens_lock, NULL);
	srv->routes = cfg->routes;
	while (cfg->routes[srv->n_routes].pattern)
		srv->n_routes++;
	srv->route_metrics = calloc(srv->n_routes + 1, sizeof(*srv->route_metrics));
	if (!srv->route_metrics) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	srv->ctx = cfg->ctx;
	srv->max_body = cfg->max_body;
	srv->protect_optional = cfg->protect_optional;
	srv->attach = cfg->worker_attach;
	srv->detach = cfg->worker_detach;
	srv->attach_arg = cfg->worker_arg;
	if (http_server_set_tokens(srv, cfg->tokens, cfg->n_tokens) != ERROR_OK) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	srv->workers = calloc(threads, sizeof(*srv->workers));
	srv->listen_fds = calloc(threads, sizeof(*srv->listen_fds));
	if (!srv->workers || !srv->listen_fds) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	srv->listen_fds[0] = http_listen(cfg, &ss, &len, &v6, why, why_len);
	if (srv->listen_fds[0] < 0)
		goto fail;
	srv->n_listen_fds = 1;
	srv->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			     : ((struct sockaddr_in *)&ss)->sin_port);
	http_probe_url(srv, cfg->address, v6);
	http_listen_spread(srv, threads, &ss, len);
	/* External epoll: MHD runs no thread; the worker turns it, and every
	 * call into MHD but MHD_resume_connection happens on that worker (an
	 * answer from elsewhere wakes it with evloop_wake), so MHD needs no
	 * inter-thread channel of its own. */
	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		(v6 ? MHD_USE_IPv6 : 0);
	srv->max_connections = cfg->max_connections;
	srv->daemon_limit = cfg->max_connections + threads;
	for (unsigned i = 0; i < threads; i++) {
		srv->workers[i].index = i;
		srv->n_workers++;
		if (!http_worker_start(srv, &srv->workers[i], cfg, flags)) {
			snprintf(why, why_len, "cannot start the HTTP server on %s:%u", cfg->address,
				 srv->port);
			goto fail;
		}
	}
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

static size_t http_discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

bool http_server_self_check(struct http_server *srv, long timeout_ms)
{
	CURL *easy = curl_easy_init();
	long status = 0;
	bool ok;

	if (!easy)
		return false;
	curl_easy_setopt(easy, CURLOPT_URL, srv->probe_url);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROXY, ""); /* never through a proxy */
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_discard);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	ok = curl_easy_perform(easy) == CURLE_OK &&
	     curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
	curl_easy_cleanup(easy);
	return ok;
}

bool http_server_workers_turning(struct http_server *srv)
{
	bool all = true;

	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct http_worker *w = &srv->workers[i];
		uint64_t turns = evloop_turns(w->ev);

		if (turns == w->turns_seen)
			all = false;
		w->turns_seen = turns;
	}
	return all;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_close_connections(struct http_server *srv)
{
	if (srv)
		atomic_store(&srv->closing, true);
}

void http_server_drain(struct http_server *srv, long grace_ms)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	if (!srv)
		return;
	for (unsigned i = 0; i < srv->n_workers; i++)
		http_worker_do(&srv->workers[i], http_worker_quiesce);
	http_listen_close(srv);
	for (long waited = 0; waited < grace_ms && atomic_load(&srv->busy) > 0; waited += 10)
		nanosleep(&nap, NULL);
}

void http_server_release_peers(struct http_server *srv)
{
	if (!srv || !srv->workers)
		return;
	for (unsigned i = 0; i < srv->n_workers; i++)
		http_worker_do(&srv->workers[i], http_worker_detach);
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	/* Every peer first: a peer's cancellation may answer a request held
	 * by another worker's daemon, which must still be running. */
	http_server_release_peers(srv);
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		http_worker_free(&srv->workers[i]);
	http_listen_close(srv);
	free(srv->listen_fds);
	free(srv->workers);
	pthread_rwlock_destroy(&srv->tokens_lock);
	free(srv->token_digests);
	free(srv->route_metrics);
	free(srv);
}

void http_server_write_metrics(struct http_server *srv, struct buf *b)
{
	char labels[96];
	uint64_t connections = 0;

	metrics_family(b, "sessiond_http_requests_total", "counter",
		       "HTTP requests answered, by route and status code.");
	for (size_t i = 0; i <= srv->n_routes; i++) {
		const char *route = i < srv->n_routes ? srv->routes[i].name : "none";
		for (unsigned st = 0; st < 500; st++) {
			uint64_t v = atomic_load(&srv->route_metrics[i].by_status[st]);
			if (!v)
				continue;
			snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%u\"", route, st + 100);
			metrics_sample(b, "sessiond_http_requests_total", labels, v);
		}
	}
	metrics_family(b, "sessiond_http_request_duration_seconds", "histogram",
		       "Time from request line to answer, by route.");
	for (size_t i = 0; i <= srv->n_routes; i++) {
		snprintf(labels, sizeof(labels), "route=\"%s\"",
			 i < srv->n_routes ? srv->routes[i].name : "none");
		metrics_histogram_write(b, "sessiond_http_request_duration_seconds", labels,
					&srv->route_metrics[i].latency);
	}
	metrics_family(b, "sessiond_http_requests_in_flight", "gauge",
		       "HTTP requests received and not yet answered.");
	metrics_sample(b, "sessiond_http_requests_in_flight", NULL, atomic_load(&srv->in_flight));
	/* The total is the sum of the samples, read once each, so the two
	 * families agree within one scrape. */
	metrics_family(b, "sessiond_http_worker_connections", "gauge",
		       "Open client connections, by the worker thread that holds them.");
	for (unsigned i = 0; i < srv->n_workers; i++) {
		uint64_t n = atomic_load(&srv->workers[i].connections);

		connections += n;
		snprintf(labels, sizeof(labels), "worker=\"%u\"", i);
		metrics_sample(b, "sessiond_http_worker_connections", labels, n);
	}
	metrics_family(b, "sessiond_http_connections", "gauge", "Open client connections.");
	metrics_sample(b, "sessiond_http_connections", NULL, connections);
	metrics_family(b, "sessiond_http_connections_refused_total", "counter",
		       "Connections closed on accept: limits.max_connections were open.");
	metrics_sample(b, "sessiond_http_connections_refused_total", NULL,
		       atomic_load(&srv->refused));
}
