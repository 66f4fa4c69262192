/* ddb_client.c: the DynamoDB transport, curl multi loops driven by epoll.
 *
 * DESIGN. A client has several loops (struct ddb_loop), each with its own
 * curl multi handle, connection pool, signer and queues, and each turned by
 * exactly one thread, so none of that needs a lock:
 *  - every HTTP worker thread attaches a loop to its own event loop
 *    (ddb_client_attach); a handler's submit goes to the loop of the thread
 *    it runs on, and the completion runs there too. A request is read,
 *    signed, sent, decoded and answered on one thread, with no hand-off;
 *  - the client's own loop runs on its own thread, for every other thread
 *    (start-up, the reaper, blocking calls): they push onto a locked inbox
 *    and wake it with an eventfd.
 * curl is driven with curl_multi_socket_action: its sockets sit in the
 * thread's epoll set and its timer is a deadline the loop sleeps toward, so
 * a turn costs only the sockets that are ready. A loop starts at most its
 * share of max_connections attempts at once, so curl never queues a
 * transfer internally and the per-attempt timeout measures the attempt,
 * not time spent waiting for a free connection. HTTP/1.1 only: each
 * attempt in flight holds one pooled keep-alive connection. */
#include <curl/curl.h>
#include <zlib.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>

#include "sessiond/buf.h"
#include "sessiond/ddb_client.h"
#include "sessiond/evloop.h"
#include "sessiond/jitter.h"
#include "sessiond/log.h"
#include "sessiond/now.h"
#include "sessiond/metrics.h"
#include "sessiond/secret.h"
#include "sessiond/sigv4.h"
#include "sessiond/xfer.h"

#define DDB_CONTENT_TYPE "application/x-amz-json-1.0"
#define DDB_DEFAULT_MAX_CONNECTIONS 64
#define DDB_DEFAULT_TIMEOUT_MS 1000
#define DDB_DEFAULT_MAX_ATTEMPTS 4
#define DDB_DEFAULT_MAX_RESPONSE (16u << 20)
#define DDB_DEFAULT_BACKOFF_BASE_MS 25
#define DDB_DEFAULT_BACKOFF_MAX_MS 2000
#define DDB_DEFAULT_RETRY_QUOTA 500
/* The loop wakes at least this often even when nothing is due. */
#define DDB_POLL_MAX_MS 1000

/* One submitted request, from ddb_client_submit to its callback. */
struct ddb_call {
	struct ddb_call *next; /* in exactly one queue at a time */
	struct ddb_client *client;
	struct ddb_loop *loop; /* the loop that runs it, start to end */
	enum ddb_op op;
	char *body; /* owned, the encoded JSON */
	size_t body_len;
	struct timespec submitted; /* for the latency histogram */
	ddb_done_fn done;
	void *arg;
	int64_t due_ms;       /* backoff: monotonic time of the next attempt */
	int64_t deadline_ms;  /* monotonic; 0 = none */
	unsigned retry_cost;  /* quota tokens the pending retry took */
	bool skew_retried;    /* the one re-signed retry after a clock skew */
	bool skew_pending;    /* ... is due now */
	bool token_refreshed; /* the one retry after ExpiredTokenException */
	bool earlier_maybe_applied; /* an attempt before this one may have been applied */
	unsigned sends;       /* requests curl sent in this attempt (it may resend) */
	bool no_replay;       /* see ddb_request.no_replay */
	bool timed_out;       /* the last attempt ended in a timeout */
	char date[64];        /* the Date header of the current attempt */
	CURL *easy;           /* while an attempt is in flight */
	struct xfer_block headers; /* signed anew for every attempt */
	struct buf response;  /* body of the current attempt, capped */
	bool too_large;       /* the write callback refused more bytes */
	bool have_crc;
	uint32_t crc;         /* x-amz-crc32 of the current attempt */
	char curl_error[CURL_ERROR_SIZE];
	struct ddb_result result;
};

/* A FIFO of calls. */
struct ddb_queue {
	struct ddb_call *head;
	struct ddb_call *tail;
};

/* A socket curl asked us to watch. When curl stops watching it (the
 * connection went back to the pool idle), it stays in the epoll set,
 * parked, so the next request on it costs no epoll_ctl; an event on a
 * parked socket (the peer closed it) unwatches it for real. Freed only
 * after the turn that closed it, since an event for it may still be in
 * that turn's batch. */
struct ddb_sock {
	struct evloop_source src;
	struct ddb_loop *loop;
	uint32_t events;  /* registered in the epoll set; 0: not registered */
	bool ours;        /* opened by ddb_open_socket, so closed through
	                     ddb_close_socket: only such a socket is parked
	                     (curl closes its resolver's socketpair itself,
	                     without telling us) */
	bool parked;      /* curl does not watch it now */
	bool dead;        /* closed */
	struct ddb_sock *next_dead;
};

/* One curl multi loop; everything here belongs to the thread that turns
 * ev, except the inbox (under lock), which other threads fill. */
struct ddb_loop {
	struct ddb_client *client;
	struct evloop *ev;
	struct evloop_hook hook;
	CURLM *multi;
	struct sigv4_signer *signer;
	struct creds_value creds; /* the signer's copy (creds_get_cached) */
	uint64_t creds_of;
	struct ddb_queue ready;   /* waiting for a free connection */
	struct ddb_queue backoff; /* waiting for their retry time */
	struct ddb_queue flight;  /* attempts in curl's hands */
	unsigned n_flight;
	unsigned max_connections; /* this loop's share of the total */
	CURL **idle_easy;         /* reusable easy handles, at most max_connections */
	unsigned n_idle_easy;
	struct jitter jitter;     /* backoff jitter */
	int64_t curl_due_ms;      /* curl's timer, monotonic; -1: none */
	struct ddb_sock **socks;  /* by descriptor: the sockets curl opened */
	size_t n_socks;
	struct ddb_sock *dead;    /* sockets closed in this turn */
	_Atomic bool stopping;    /* detached or freed: cancel, start nothing;
	                             other threads read it under lock */

	pthread_mutex_t lock;     /* the inbox, from other threads */
	struct ddb_queue inbox;
	_Atomic bool inbox_pending;
};

struct ddb_client {
	/* Settings, immutable after ddb_client_new. */
	char *region;
	char *url;  /* the endpoint as given, or the default one */
	char *host; /* the Host header value: host[:port] as in url */
	char *path; /* the request path, "/" for DynamoDB */
	char *access_key_id;
	char *secret_access_key; /* wiped on free */
	char *session_token;     /* wiped on free */
	struct creds *creds;     /* borrowed; when set, the keys above are unused */
	char *proxy;
	char *ca_file;
	unsigned max_connections;
	long timeout_ms;
	unsigned max_attempts;
	size_t max_response;
	unsigned backoff_base_ms;
	unsigned backoff_max_ms;
	long deadline_ms;
	unsigned retry_quota_max;

	unsigned loop_connections; /* each loop's share of max_connections */

	/* The client's own loop and the thread that turns it. */
	struct ddb_loop *own;
	pthread_t thread;
	bool thread_started;
	_Atomic bool stopping;

	/* Shared by every loop. */
	_Atomic unsigned quota; /* retry tokens left (AWS standard mode) */
	_Atomic int64_t clock_offset_s; /* DynamoDB's clock minus ours */

	/* Counters, written by the loops (submitted: by submitters). */
	_Atomic uint64_t submitted, completed, attempts, retries, throttles;
	_Atomic uint64_t conns_opened, conns_open, conns_peak;
	_Atomic uint64_t outcomes[DDB_OP_COUNT][ERROR_COUNT]; /* completed calls */
	struct metrics_histogram latency[DDB_OP_COUNT];       /* submit to callback */
};

static void ddb_queue_push(struct ddb_queue *q, struct ddb_call *call)
{
	call->next = NULL;
	if (q->tail)
		q->tail->next = call;
	else
		q->head = call;
	q->tail = call;
}

static struct ddb_call *ddb_queue_pop(struct ddb_queue *q)
{
	struct ddb_call *call = q->head;

	if (call) {
		q->head = call->next;
		if (!q->head)
			q->tail = NULL;
		call->next = NULL;
	}
	return call;
}

/* Moves all of src to the end of dst. */
static void ddb_queue_splice(struct ddb_queue *dst, struct ddb_queue *src)
{
	if (!src->head)
		return;
	if (dst->tail)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	src->head = src->tail = NULL;
}

static void ddb_queue_remove(struct ddb_queue *q, struct ddb_call *call)
{
	struct ddb_call **pp = &q->head, *prev = NULL;

	while (*pp && *pp != call) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = call->next;
	if (q->tail == call)
		q->tail = prev;
	call->next = NULL;
}

static void ddb_counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- calls ------------------------------------------------------------- */

static void ddb_call_free(struct ddb_call *call)
{
	if (!call)
		return;
	free(call->body);
	buf_free(&call->response);
	xfer_block_free(&call->headers);
	ddb_result_clear(&call->result);
	free(call);
}

/* Hands the result to the callback and frees the call. I/O thread only. */
static void ddb_call_complete(struct ddb_client *client, struct ddb_call *call,
			      enum error_code rc)
{
	struct timespec now;

	call->result.rc = rc;
	if (rc != ERROR_OK)
		ddb_response_clear(&call->result.resp);
	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_fetch_add_explicit(&client->outcomes[call->op][rc], 1, memory_order_relaxed);
	metrics_observe(&client->latency[call->op],
			(double)(now.tv_sec - call->submitted.tv_sec) +
				(double)(now.tv_nsec - call->submitted.tv_nsec) / 1e9);
	call->done(call->arg, &call->result);
	ddb_counter_add(&client->completed, 1);
	ddb_call_free(call);
}

/* ---- sockets: counted so tests and metrics can see the pool ------------ */

static void ddb_sock_forget(struct ddb_loop *loop, curl_socket_t fd);
static void ddb_sock_mark_ours(struct ddb_loop *loop, curl_socket_t fd);

static curl_socket_t ddb_open_socket(void *clientp, curlsocktype purpose,
				     struct curl_sockaddr *addr)
{
	struct ddb_loop *loop = clientp;
	struct ddb_client *client = loop->client;
	uint64_t open, peak;
	curl_socket_t fd;

	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd == CURL_SOCKET_BAD)
		return fd;
	ddb_sock_mark_ours(loop, fd);
	ddb_counter_add(&client->conns_opened, 1);
	open = atomic_fetch_add(&client->conns_open, 1) + 1;
	peak = atomic_load(&client->conns_peak);
	while (open > peak && !atomic_compare_exchange_weak(&client->conns_peak, &peak, open))
		;
	return fd;
}

static int ddb_close_socket(void *clientp, curl_socket_t fd)
{
	struct ddb_loop *loop = clientp;

	ddb_sock_forget(loop, fd);
	atomic_fetch_sub(&loop->client->conns_open, 1);
	return close(fd);
}

/* ---- curl callbacks ---------------------------------------------------- */

static size_t ddb_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct ddb_call *call = userp;
	size_t len = size * nmemb;

	if (buf_append(&call->response, data, len) != ERROR_OK) {
		call->too_large = true;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Parses the unsigned decimal x-amz-crc32 value; false if it is not one. */
static bool ddb_parse_crc(const char *p, const char *end, uint32_t *out)
{
	uint64_t v = 0;
	bool any = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
		any = true;
	}
	*out = (uint32_t)v;
	return any;
}

static size_t ddb_on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	static const char name[] = "x-amz-crc32:";
	struct ddb_call *call = userp;
	size_t len = size * nmemb;

	/* A new status line starts a new header block (e.g. after a 100). */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		call->have_crc = false;
		call->date[0] = '\0';
	} else if (len > 5 && strncasecmp(data, "date:", 5) == 0) {
		size_t n = len - 5 < sizeof(call->date) - 1 ? len - 5 : sizeof(call->date) - 1;
		memcpy(call->date, data + 5, n);
		call->date[n] = '\0';
		call->date[strcspn(call->date, "\r\n")] = '\0';
	}
	else if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
		call->have_crc = ddb_parse_crc(data + sizeof(name) - 1, data + len, &call->crc);
	return len;
}

/* Called by curl right before it sends the request. libcurl 7.88 silently
 * resends a request (up to five times) when a reused connection dies before
 * the answer: each resend is counted as an attempt against max_attempts,
 * and a resent write counts as possibly applied. */
static int ddb_on_prereq(void *userp, char *conn_primary_ip, char *conn_local_ip,
			 int conn_primary_port, int conn_local_port)
{
	struct ddb_call *call = userp;
	struct ddb_client *client = call->client;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (call->sends++ == 0)
		return CURL_PREREQFUNC_OK;
	call->result.maybe_applied = true;
	if (call->no_replay || call->result.attempts >= client->max_attempts)
		return CURL_PREREQFUNC_ABORT;
	call->result.attempts++;
	ddb_counter_add(&client->attempts, 1);
	ddb_counter_add(&client->retries, 1);
	return CURL_PREREQFUNC_OK;
}

/* ---- easy handles ------------------------------------------------------ */

/* Options that never change between attempts are set once per handle. */
static CURL *ddb_easy_new(struct ddb_loop *loop)
{
	struct ddb_client *client = loop->client;
	CURL *easy = curl_easy_init();

	if (!easy)
		return NULL;
	curl_easy_setopt(easy, CURLOPT_URL, client->url);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, client->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, client->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* TLS 1.2 or newer, peer and host name always verified. */
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (client->ca_file) {
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, xfer_on_ssl_ctx);
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, client->ca_file);
	}
	/* Unset, libcurl reads HTTPS_PROXY/https_proxy and NO_PROXY itself. */
	if (client->proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, client->proxy);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, ddb_open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, loop);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, ddb_close_socket);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, loop);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, ddb_on_body);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, ddb_on_header);
	return easy;
}

static CURL *ddb_easy_get(struct ddb_loop *loop)
{
	if (loop->n_idle_easy)
		return loop->idle_easy[--loop->n_idle_easy];
	return ddb_easy_new(loop);
}

static void ddb_easy_put(struct ddb_loop *loop, CURL *easy)
{
	if (loop->n_idle_easy < loop->max_connections)
		loop->idle_easy[loop->n_idle_easy++] = easy;
	else
		curl_easy_cleanup(easy);
}

/* ---- one attempt ------------------------------------------------------- */

/* Signs the call at the current time and builds its header list. */
static enum error_code ddb_sign(struct ddb_loop *loop, struct ddb_call *call)
{
	struct ddb_client *client = loop->client;
	const char *target = ddb_op_target(call->op);
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	struct sigv4_header signed_headers[5];
	struct sigv4_credentials creds = {
		.access_key_id = client->access_key_id,
		.secret_access_key = client->secret_access_key,
		.session_token = client->session_token,
	};
	struct sigv4_params params = {
		.region = client->region,
		.service = "dynamodb",
		.now = time(NULL) + atomic_load(&client->clock_offset_s),
		.normalize_path = true,
	};
	struct sigv4_request req = {
		.method = "POST",
		.path = client->path,
		.headers = signed_headers,
		.body = call->body,
		.body_len = call->body_len,
	};
	struct buf authz;
	enum error_code rc;
	size_t n = 0;

	buf_init(&authz, 0);
	if (client->creds) {
		/* The loop's copy of the current ones, taken again only when
		 * they change; blocks only if they expired. */
		rc = creds_get_cached(client->creds, &loop->creds, &loop->creds_of);
		if (rc != ERROR_OK)
			goto out;
		creds.access_key_id = loop->creds.access_key_id;
		creds.secret_access_key = loop->creds.secret_access_key;
		creds.session_token = loop->creds.session_token[0] ? loop->creds.session_token : NULL;
	}
	sigv4_amz_date(params.now, amz_date);
	signed_headers[n++] = (struct sigv4_header){ "Host", client->host };
	signed_headers[n++] = (struct sigv4_header){ "Content-Type", DDB_CONTENT_TYPE };
	signed_headers[n++] = (struct sigv4_header){ "X-Amz-Date", amz_date };
	signed_headers[n++] = (struct sigv4_header){ "X-Amz-Target", target };
	if (creds.session_token && *creds.session_token)
		signed_headers[n++] = (struct sigv4_header){ "X-Amz-Security-Token",
							     creds.session_token };
	req.n_headers = n;
	rc = sigv4_signer_sign(loop->signer, &creds, &req, &params, &authz);
	if (rc != ERROR_OK)
		goto out;
	/* The easy handle that read the last attempt's lines is detached. */
	xfer_block_reset(&call->headers);
	for (size_t i = 0; i < n; i++) {
		rc = xfer_block_add(&call->headers, signed_headers[i].name, signed_headers[i].value);
		if (rc != ERROR_OK)
			goto out;
	}
	if ((rc = xfer_block_add(&call->headers, "Authorization", authz.data)) != ERROR_OK ||
	    (rc = xfer_block_add(&call->headers, "Accept-Encoding", "identity")) != ERROR_OK)
		goto out;
	/* An empty value removes curl's "Expect: 100-continue", which would
	 * cost a round trip before every body over 1 KiB. */
	rc = xfer_block_add(&call->headers, "Expect", "");
out:
	buf_free_secret(&authz);
	return rc;
}

/* The attempt's timeout: timeout_ms, cut short by the request's deadline. */
static long ddb_attempt_timeout(const struct ddb_client *client, const struct ddb_call *call)
{
	int64_t left;

	if (!call->deadline_ms)
		return client->timeout_ms;
	left = call->deadline_ms - now_mono_ms();
	if (left < 1)
		left = 1;
	return left < client->timeout_ms ? (long)left : client->timeout_ms;
}

/* Hands call to curl; on failure completes it at once. */
static void ddb_attempt_start(struct ddb_loop *loop, struct ddb_call *call)
{
	struct ddb_client *client = loop->client;
	enum error_code rc;

	buf_reset(&call->response);
	call->too_large = false;
	call->have_crc = false;
	call->timed_out = false;
	call->earlier_maybe_applied = call->result.maybe_applied;
	call->sends = 0;
	call->curl_error[0] = '\0';
	if (call->deadline_ms && now_mono_ms() >= call->deadline_ms) {
		ddb_error_set(&call->result.err, DDB_ERR_RETRYABLE, 0, "DeadlineExceeded",
			      "limits.request_timeout_ms passed before an attempt could start");
		ddb_call_complete(client, call, ERROR_UNAVAILABLE);
		return;
	}
	rc = ddb_sign(loop, call);
	if (rc == ERROR_UNAVAILABLE) {
		ddb_error_set(&call->result.err, DDB_ERR_RETRYABLE, 0, "NoCredentials",
			      "the credentials expired and could not be refreshed");
		ddb_call_complete(client, call, ERROR_UNAVAILABLE);
		return;
	}
	if (rc != ERROR_OK)
		goto fail;
	call->easy = ddb_easy_get(loop);
	if (!call->easy) {
		rc = ERROR_NOMEM;
		goto fail;
	}
	curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, ddb_attempt_timeout(client, call));
	curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(call->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, xfer_block_list(&call->headers));
	curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(call->easy, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(call->easy, CURLOPT_ERRORBUFFER, call->curl_error);
	curl_easy_setopt(call->easy, CURLOPT_PRIVATE, call);
	curl_easy_setopt(call->easy, CURLOPT_PREREQFUNCTION, ddb_on_prereq);
	curl_easy_setopt(call->easy, CURLOPT_PREREQDATA, call);
	if (curl_multi_add_handle(loop->multi, call->easy) != CURLM_OK) {
		ddb_easy_put(loop, call->easy);
		call->easy = NULL;
		rc = ERROR_NOMEM;
		goto fail;
	}
	call->result.attempts++;
	ddb_counter_add(&client->attempts, 1);
	if (call->result.attempts > 1)
		ddb_counter_add(&client->retries, 1);
	ddb_queue_push(&loop->flight, call);
	loop->n_flight++;
	return;
fail:
	ddb_error_set(&call->result.err, DDB_ERR_FATAL, 0, "ClientError", error_str(rc));
	ddb_call_complete(client, call, rc);
}

/* Takes call's easy handle back from curl. */
static void ddb_attempt_detach(struct ddb_loop *loop, struct ddb_call *call)
{
	curl_multi_remove_handle(loop->multi, call->easy);
	ddb_easy_put(loop, call->easy);
	call->easy = NULL;
	ddb_queue_remove(&loop->flight, call);
	loop->n_flight--;
}

/* Transport faults worth another attempt: the network or the peer hiccuped.
 * Anything else (bad URL, certificate rejected, out of memory) will fail
 * the same way again. */
static bool ddb_transport_retryable(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR: /* the seed's EPROTO handshake resets */
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_ABORTED_BY_CALLBACK: /* ddb_on_prereq: curl's own resends ran out */
		return true;
	default:
		return false;
	}
}

/* AWS "standard" retry mode: a retry costs quota tokens (more after a
 * timeout), so an outage does not multiply the load on DynamoDB; a success
 * returns what its retry took, or one token when it needed none. */
#define DDB_RETRY_COST 5
#define DDB_TIMEOUT_RETRY_COST 10
#define DDB_NO_RETRY_INCREMENT 1

/* The quota is one bucket for the whole client, shared by its loops. */
static void ddb_quota_give(struct ddb_client *client, unsigned n)
{
	unsigned q = atomic_load(&client->quota), want;

	do {
		want = q + n > client->retry_quota_max ? client->retry_quota_max : q + n;
	} while (!atomic_compare_exchange_weak(&client->quota, &q, want));
}

/* Takes cost tokens; false (and nothing taken) when fewer are left. */
static bool ddb_quota_take(struct ddb_client *client, unsigned cost)
{
	unsigned q = atomic_load(&client->quota);

	do {
		if (q < cost)
			return false;
	} while (!atomic_compare_exchange_weak(&client->quota, &q, q - cost));
	return true;
}

static void ddb_quota_on_success(struct ddb_client *client, const struct ddb_call *call)
{
	ddb_quota_give(client, call->result.attempts > 1 ? call->retry_cost
							 : DDB_NO_RETRY_INCREMENT);
}

/* Whether call gets another attempt, and after how long: full-jitter
 * exponential backoff, uniform in [0, min(max, base * 2^(attempts - 1))].
 * No: attempts spent, the quota empty, or no time left to finish one more
 * attempt before the deadline. why names the reason. */
static bool ddb_retry_decide(struct ddb_loop *loop, struct ddb_call *call,
			     int64_t *delay_ms, const char **why)
{
	struct ddb_client *client = loop->client;
	uint64_t ceiling = client->backoff_base_ms;
	unsigned shift = call->result.attempts - 1;
	unsigned cost = call->timed_out ? DDB_TIMEOUT_RETRY_COST : DDB_RETRY_COST;

	if (call->result.attempts >= client->max_attempts) {
		*why = "attempts";
		return false;
	}
	ceiling = shift >= 31 ? client->backoff_max_ms : ceiling << shift;
	if (ceiling > client->backoff_max_ms)
		ceiling = client->backoff_max_ms;
	*delay_ms = (int64_t)jitter_next(&loop->jitter, ceiling);
	if (call->deadline_ms &&
	    now_mono_ms() + *delay_ms + client->timeout_ms > call->deadline_ms) {
		*why = "deadline";
		return false;
	}
	if (!ddb_quota_take(client, cost)) {
		*why = "retry quota";
		return false;
	}
	call->retry_cost = cost;
	return true;
}

/* A signature refused for time skew: learn DynamoDB's clock from its Date
 * header so the next signature uses it. true when the offset was taken. */
static bool ddb_learn_skew(struct ddb_client *client, const struct ddb_call *call)
{
	const struct ddb_error *err = &call->result.err;
	struct tm tm = { 0 };
	const char *p = call->date;
	time_t server;

	if (strcmp(err->type, "InvalidSignatureException") != 0 &&
	    strcmp(err->type, "RequestTimeTooSkewed") != 0 &&
	    strcmp(err->type, "SignatureDoesNotMatch") != 0)
		return false;
	if (strcmp(err->type, "RequestTimeTooSkewed") != 0 && !strstr(err->message, "expired") &&
	    !strstr(err->message, "skew") && !strstr(err->message, "Signature not yet current"))
		return false;
	while (*p == ' ')
		p++;
	if (!strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return false;
	server = timegm(&tm);
	atomic_store(&client->clock_offset_s, (int64_t)(server - time(NULL)));
	log_warn("dynamodb: clock skew of %" PRId64 " s; signing with DynamoDB's time",
		 (int64_t)atomic_load(&client->clock_offset_s));
	return true;
}

/* Classifies a finished transfer into call->result.err. On success fills
 * call->result.resp and returns ERROR_OK. */
/* Whether the whole request body went out: only then can DynamoDB have
 * applied an attempt that got no answer. */
static bool ddb_sent_whole(const struct ddb_call *call)
{
	curl_off_t sent = 0;

	curl_easy_getinfo(call->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
	return sent >= (curl_off_t)call->body_len;
}

static enum error_code ddb_attempt_judge(struct ddb_client *client, struct ddb_call *call,
					 CURLcode res)
{
	struct ddb_error *err = &call->result.err;
	long status = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK) {
		if (call->too_large) {
			ddb_error_set(err, DDB_ERR_FATAL, status, "ResponseTooLarge",
				      "response body over the configured cap");
			return ERROR_TOO_LARGE;
		}
		ddb_error_set(err, ddb_transport_retryable(res) ? DDB_ERR_RETRYABLE : DDB_ERR_FATAL,
			      0, curl_easy_strerror(res),
			      call->curl_error[0] ? call->curl_error : curl_easy_strerror(res));
		call->timed_out = res == CURLE_OPERATION_TIMEDOUT;
		if (ddb_sent_whole(call))
			call->result.maybe_applied = true;
		return ERROR_IO;
	}
	if (status < 200 || status > 299) {
		ddb_error_from_response(status, call->response.data, call->response.len, err);
		if (err->throttled)
			ddb_counter_add(&client->throttles, 1);
		/* A 5xx may come after DynamoDB applied the request. */
		if (status >= 500)
			call->result.maybe_applied = true;
		/* Temporary credentials expired under us: refresh, retry once. */
		if (err->cls == DDB_ERR_FATAL && client->creds && !call->token_refreshed &&
		    (strcmp(err->type, "ExpiredTokenException") == 0 ||
		     strcmp(err->type, "ExpiredToken") == 0)) {
			call->token_refreshed = true;
			if (creds_refresh_now(client->creds) == ERROR_OK) {
				call->skew_pending = true; /* the same free, immediate retry */
				err->cls = DDB_ERR_RETRYABLE;
			}
		}
		if (err->cls == DDB_ERR_FATAL && !call->skew_retried && ddb_learn_skew(client, call)) {
			call->skew_retried = true;
			call->skew_pending = true;
			err->cls = DDB_ERR_RETRYABLE;
		}
		return err->cls == DDB_ERR_CONDITION ? ERROR_CONDITION : ERROR_UPSTREAM;
	}
	/* A 2xx means DynamoDB applied the request, even when the body is
	 * damaged on the way (retried, never trusted): a replay may then fail
	 * its condition on our own write. */
	call->result.maybe_applied = true;
	if (call->have_crc &&
	    (uint32_t)crc32(0L, (const Bytef *)call->response.data, (uInt)call->response.len) !=
		    call->crc) {
		ddb_error_set(err, DDB_ERR_RETRYABLE, status, "CRC32Mismatch",
			      "x-amz-crc32 does not match the response body");
		return ERROR_IO;
	}
	ddb_response_clear(&call->result.resp);
	if (ddb_response_decode(call->op, call->response.data, call->response.len,
				&call->result.resp) != ERROR_OK) {
		ddb_error_set(err, DDB_ERR_RETRYABLE, status, "MalformedResponse",
			      "2xx response body does not parse");
		return ERROR_PARSE;
	}
	/* This attempt succeeded: only earlier ones may have been applied
	 * unseen. */
	call->result.maybe_applied = call->earlier_maybe_applied;
	ddb_error_set(err, DDB_ERR_NONE, status, "", "");
	return ERROR_OK;
}

/* A transfer ended: complete the call, or park it for a retry. */
static void ddb_attempt_done(struct ddb_loop *loop, struct ddb_call *call, CURLcode res)
{
	struct ddb_client *client = loop->client;
	enum error_code rc = ddb_attempt_judge(client, call, res);
	int64_t delay;

	const char *why = NULL;

	ddb_attempt_detach(loop, call);
	if (rc == ERROR_OK)
		ddb_quota_on_success(client, call);
	if (rc == ERROR_OK || call->result.err.cls != DDB_ERR_RETRYABLE) {
		ddb_call_complete(client, call, rc);
		return;
	}
	if (call->no_replay && call->result.maybe_applied) {
		ddb_call_complete(client, call, ERROR_UNAVAILABLE);
		return;
	}
	if (call->skew_pending) {
		call->skew_pending = false;
		delay = 0; /* the one re-signed retry, outside the quota */
	} else if (!ddb_retry_decide(loop, call, &delay, &why)) {
		log_debug("dynamodb %s: no retry (%s): %s", ddb_op_name(call->op), why,
			  call->result.err.type);
		ddb_call_complete(client, call, ERROR_UNAVAILABLE);
		return;
	}
	log_debug("dynamodb %s attempt %u failed (%s), retrying in %" PRId64 " ms",
		  ddb_op_name(call->op), call->result.attempts, call->result.err.type, delay);
	call->due_ms = now_mono_ms() + delay;
	ddb_queue_push(&loop->backoff, call);
}

/* ---- the loop ---------------------------------------------------------- */

/* Moves due retries to the ready queue; returns ms until the next one is
 * due, or -1 when none waits. */
static long ddb_promote_due(struct ddb_loop *loop)
{
	int64_t now, next = -1;
	struct ddb_queue keep = { 0 };
	struct ddb_call *call;

	if (!loop->backoff.head)
		return -1;
	now = now_mono_ms();
	while ((call = ddb_queue_pop(&loop->backoff))) {
		if (call->due_ms <= now) {
			ddb_queue_push(&loop->ready, call);
		} else {
			if (next < 0 || call->due_ms < next)
				next = call->due_ms;
			ddb_queue_push(&keep, call);
		}
	}
	loop->backoff = keep;
	return next < 0 ? -1 : (long)(next - now);
}

static void ddb_collect_done(struct ddb_loop *loop)
{
	struct ddb_call *call;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(loop->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		ddb_attempt_done(loop, call, msg->data.result);
	}
}

/* Lets curl act on a socket (or, with CURL_SOCKET_TIMEOUT, on its timer)
 * and finishes the transfers that ended. */
static void ddb_socket_action(struct ddb_loop *loop, curl_socket_t fd, int mask)
{
	int running;

	curl_multi_socket_action(loop->multi, fd, mask, &running);
	ddb_collect_done(loop);
}

static void ddb_on_socket_event(void *arg, uint32_t events)
{
	struct ddb_sock *sock = arg;
	int mask = 0;

	if (sock->dead)
		return;
	if (sock->parked) {
		/* An idle pooled connection stirred (the peer closed it, most
		 * likely): stop watching it; curl finds out when it next
		 * checks the connection. */
		evloop_del(sock->loop->ev, &sock->src);
		sock->events = 0;
		return;
	}
	if (events & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	ddb_socket_action(sock->loop, sock->src.fd, mask);
}

/* The record of fd, made if need be; NULL when out of memory. */
static struct ddb_sock *ddb_sock_get(struct ddb_loop *loop, curl_socket_t fd)
{
	struct ddb_sock *sock;

	if (fd < 0)
		return NULL;
	if ((size_t)fd >= loop->n_socks) {
		size_t n = (size_t)fd + 64;
		struct ddb_sock **p = realloc(loop->socks, n * sizeof(struct ddb_sock *));

		if (!p)
			return NULL;
		memset(p + loop->n_socks, 0, (n - loop->n_socks) * sizeof(struct ddb_sock *));
		loop->socks = p;
		loop->n_socks = n;
	}
	sock = loop->socks[fd];
	if (!sock) {
		sock = calloc(1, sizeof(*sock));
		if (!sock)
			return NULL;
		sock->src = (struct evloop_source){ .fd = fd, .fn = ddb_on_socket_event, .arg = sock };
		sock->loop = loop;
		loop->socks[fd] = sock;
	}
	return sock;
}

/* A new socket of ours: a record left at its number by a descriptor that
 * was closed behind our back is stale, and goes first. */
static void ddb_sock_mark_ours(struct ddb_loop *loop, curl_socket_t fd)
{
	struct ddb_sock *sock;

	ddb_sock_forget(loop, fd);
	sock = ddb_sock_get(loop, fd);
	if (sock)
		sock->ours = true;
}

/* curl closes fd, or stops watching a socket it will close itself: unwatch
 * it, and free its record after this turn. */
static void ddb_sock_forget(struct ddb_loop *loop, curl_socket_t fd)
{
	struct ddb_sock *sock;

	if (fd < 0 || (size_t)fd >= loop->n_socks || !(sock = loop->socks[fd]))
		return;
	loop->socks[fd] = NULL;
	if (sock->events)
		evloop_del(loop->ev, &sock->src);
	sock->dead = true;
	sock->next_dead = loop->dead;
	loop->dead = sock;
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it wants on a socket. */
static int ddb_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct ddb_loop *loop = userp;
	struct ddb_sock *sock = socketp;
	uint32_t events = 0;
	enum error_code rc = ERROR_OK;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sock && !sock->ours) {
			/* The resolver's socket: curl closes it right after. */
			curl_multi_assign(loop->multi, fd, NULL);
			ddb_sock_forget(loop, fd);
		} else if (sock) {
			sock->parked = true;
			/* Parked sockets wait for input only: a writable
			 * socket would wake the loop in every turn. */
			if ((sock->events & EPOLLOUT) &&
			    evloop_mod(loop->ev, &sock->src, EPOLLIN) != ERROR_OK) {
				evloop_del(loop->ev, &sock->src);
				sock->events = 0;
			} else if (sock->events & EPOLLOUT) {
				sock->events = EPOLLIN;
			}
			curl_multi_assign(loop->multi, fd, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (!sock) {
		sock = ddb_sock_get(loop, fd);
		if (!sock) {
			/* Returning -1 would kill the whole multi handle; unwatched,
			 * the transfer ends at its timeout instead. */
			log_warn("dynamodb: out of memory watching a socket");
			return 0;
		}
		curl_multi_assign(loop->multi, fd, sock);
	}
	sock->parked = false;
	if (sock->events == events)
		return 0;
	/* Our idea of the registration can be wrong only for a descriptor
	 * closed behind our back: try the other operation before giving up. */
	if (!sock->events)
		rc = evloop_add(loop->ev, &sock->src, events) == ERROR_OK
			     ? ERROR_OK
			     : evloop_mod(loop->ev, &sock->src, events);
	else
		rc = evloop_mod(loop->ev, &sock->src, events) == ERROR_OK
			     ? ERROR_OK
			     : evloop_add(loop->ev, &sock->src, events);
	if (rc != ERROR_OK) {
		log_warn("dynamodb: cannot watch a socket (%s); its attempt will time out",
			 error_str(rc));
		sock->events = 0;
		return 0;
	}
	sock->events = events;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's next deadline (-1: none). */
static int ddb_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct ddb_loop *loop = userp;

	(void)multi;
	loop->curl_due_ms = timeout_ms < 0 ? -1 : now_mono_ms() + timeout_ms;
	return 0;
}

/* Moves calls other threads queued for this loop onto its backoff queue,
 * which releases them when due: at once unless submitted with a delay. */
static void ddb_take_inbox(struct ddb_loop *loop)
{
	if (!atomic_load_explicit(&loop->inbox_pending, memory_order_acquire))
		return;
	pthread_mutex_lock(&loop->lock);
	atomic_store_explicit(&loop->inbox_pending, false, memory_order_relaxed);
	ddb_queue_splice(&loop->backoff, &loop->inbox);
	pthread_mutex_unlock(&loop->lock);
}

/* Calls waiting for a free connection whose deadline passed end now, as
 * an attempt that could not start in time would. Returns ms until the next
 * waiting call's deadline, or -1. */
static long ddb_expire_waiting(struct ddb_loop *loop)
{
	struct ddb_queue keep = { 0 };
	struct ddb_call *call;
	int64_t now, next = -1;

	if (!loop->ready.head)
		return -1;
	now = now_mono_ms();
	while ((call = ddb_queue_pop(&loop->ready))) {
		if (call->deadline_ms && call->deadline_ms <= now) {
			ddb_error_set(&call->result.err, DDB_ERR_RETRYABLE, 0, "DeadlineExceeded",
				      "limits.request_timeout_ms passed while waiting for a "
				      "connection");
			ddb_call_complete(loop->client, call, ERROR_UNAVAILABLE);
			continue;
		}
		if (call->deadline_ms && (next < 0 || call->deadline_ms < next))
			next = call->deadline_ms;
		ddb_queue_push(&keep, call);
	}
	/* A completion may have queued more calls meanwhile: keep them too. */
	ddb_queue_splice(&keep, &loop->ready);
	loop->ready = keep;
	return next < 0 ? -1 : (long)(next - now);
}

/* evloop hook: how long the loop may sleep before this one has work. */
static long ddb_hook_timeout(void *arg)
{
	struct ddb_loop *loop = arg;
	long wait = -1, t;

	if (atomic_load_explicit(&loop->inbox_pending, memory_order_acquire) ||
	    (loop->ready.head && loop->n_flight < loop->max_connections))
		return 0;
	if (loop->ready.head) { /* waiting for a connection: until a deadline */
		for (struct ddb_call *c = loop->ready.head; c; c = c->next) {
			if (!c->deadline_ms)
				continue;
			t = (long)(c->deadline_ms - now_mono_ms());
			t = t < 0 ? 0 : t;
			if (wait < 0 || t < wait)
				wait = t;
		}
	}
	if (loop->curl_due_ms >= 0) {
		t = (long)(loop->curl_due_ms - now_mono_ms());
		wait = t < 0 ? 0 : t;
	}
	if (loop->backoff.head) {
		t = ddb_promote_due(loop);
		if (loop->ready.head && loop->n_flight < loop->max_connections)
			return 0;
		if (t >= 0 && (wait < 0 || t < wait))
			wait = t;
	}
	return wait;
}

/* evloop hook, once per turn: curl's timer, due retries, new calls. A
 * started attempt makes curl ask for an immediate timeout, so the loop
 * goes round until curl has nothing more to do now (the request is on the
 * wire) and no call could start. */
static void ddb_hook_run(void *arg)
{
	struct ddb_loop *loop = arg;
	struct ddb_sock *sock;
	struct ddb_call *call;

	for (int round = 0; round < 8; round++) {
		bool started = false;

		ddb_take_inbox(loop);
		ddb_promote_due(loop);
		while (!loop->stopping && loop->n_flight < loop->max_connections &&
		       (call = ddb_queue_pop(&loop->ready))) {
			ddb_attempt_start(loop, call);
			started = true;
		}
		if (loop->curl_due_ms >= 0 && loop->curl_due_ms <= now_mono_ms()) {
			loop->curl_due_ms = -1;
			ddb_socket_action(loop, CURL_SOCKET_TIMEOUT, 0);
		} else if (!started) {
			break;
		}
	}
	if (loop->ready.head && loop->n_flight >= loop->max_connections)
		ddb_expire_waiting(loop);
	while ((sock = loop->dead)) {
		loop->dead = sock->next_dead;
		free(sock);
	}
}

/* Completes every call of loop that has not finished with ERROR_CANCELLED,
 * on loop's thread. */
static void ddb_cancel_all(struct ddb_loop *loop)
{
	struct ddb_call *call;

	pthread_mutex_lock(&loop->lock);
	atomic_store(&loop->stopping, true);
	pthread_mutex_unlock(&loop->lock);
	while ((call = loop->flight.head)) {
		ddb_attempt_detach(loop, call);
		ddb_queue_push(&loop->ready, call);
	}
	ddb_queue_splice(&loop->ready, &loop->backoff);
	pthread_mutex_lock(&loop->lock);
	ddb_queue_splice(&loop->ready, &loop->inbox);
	pthread_mutex_unlock(&loop->lock);
	while ((call = ddb_queue_pop(&loop->ready))) {
		ddb_error_set(&call->result.err, DDB_ERR_FATAL, 0, "Cancelled",
			      "the client shut down");
		ddb_call_complete(loop->client, call, ERROR_CANCELLED);
	}
}

/* The loop the calling thread turns, if any (see ddb_client_attach). */
static _Thread_local struct ddb_loop *ddb_this_loop;

static void ddb_loop_free(struct ddb_loop *loop)
{
	struct ddb_sock *sock;

	if (!loop)
		return;
	if (loop->ev)
		evloop_del_hook(loop->ev, &loop->hook);
	if (loop->multi)
		curl_multi_cleanup(loop->multi); /* closes every socket: forgotten */
	while ((sock = loop->dead)) {
		loop->dead = sock->next_dead;
		free(sock);
	}
	for (size_t i = 0; i < loop->n_socks; i++)
		free(loop->socks[i]); /* none should be left; a leak guard */
	free(loop->socks);
	for (unsigned i = 0; i < loop->n_idle_easy; i++)
		curl_easy_cleanup(loop->idle_easy[i]);
	free(loop->idle_easy);
	sigv4_signer_free(loop->signer);
	creds_value_wipe(&loop->creds);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

/* A loop on ev, which the calling thread turns. */
static struct ddb_loop *ddb_loop_new(struct ddb_client *client, struct evloop *ev)
{
	struct ddb_loop *loop = calloc(1, sizeof(*loop));
	long max;

	if (!loop)
		return NULL;
	pthread_mutex_init(&loop->lock, NULL);
	loop->client = client;
	loop->curl_due_ms = -1;
	loop->max_connections = client->loop_connections;
	max = (long)loop->max_connections;
	loop->multi = curl_multi_init();
	loop->idle_easy = calloc(loop->max_connections, sizeof(*loop->idle_easy));
	loop->signer = sigv4_signer_new();
	if (!loop->multi || !loop->idle_easy || !loop->signer) {
		ddb_loop_free(loop);
		return NULL;
	}
	/* The loop already keeps attempts <= max; these make curl agree, keep
	 * that many idle connections, and never multiplex. */
	curl_multi_setopt(loop->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max);
	curl_multi_setopt(loop->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max);
	curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, max);
	curl_multi_setopt(loop->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, ddb_on_socket);
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, ddb_on_timer);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
	jitter_seed(&loop->jitter);
	loop->ev = ev;
	loop->hook = (struct evloop_hook){
		.timeout_ms = ddb_hook_timeout, .run = ddb_hook_run, .arg = loop
	};
	evloop_add_hook(ev, &loop->hook);
	return loop;
}

struct ddb_loop *ddb_client_attach(struct ddb_client *client, struct evloop *ev)
{
	struct ddb_loop *loop = ddb_loop_new(client, ev);

	if (loop)
		ddb_this_loop = loop;
	return loop;
}

void ddb_client_detach(struct ddb_loop *loop)
{
	if (!loop)
		return;
	ddb_cancel_all(loop);
	if (ddb_this_loop == loop)
		ddb_this_loop = NULL;
	ddb_loop_free(loop);
}

/* The client's own loop, for every thread that turns none. */
static void *ddb_io_thread(void *arg)
{
	struct ddb_client *client = arg;

	pthread_setname_np(pthread_self(), "ddb-io");
	ddb_this_loop = client->own;
	while (!atomic_load(&client->stopping))
		evloop_turn(client->own->ev, DDB_POLL_MAX_MS);
	ddb_cancel_all(client->own);
	return NULL;
}

/* ---- construction ------------------------------------------------------ */

/* Region names go into the default endpoint URL: keep them to [a-z0-9-]. */
static bool ddb_region_valid(const char *region)
{
	size_t n = region ? strlen(region) : 0;

	if (n == 0 || n > 64)
		return false;
	return strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Splits the endpoint URL into the Host header value and the path. */
static enum error_code ddb_parse_endpoint(struct ddb_client *client)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	enum error_code rc = ERROR_INVALID;
	struct buf b;

	buf_init(&b, 0);
	if (!u)
		return ERROR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, client->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		goto out;
	if (buf_append_str(&b, host) != ERROR_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    buf_printf(&b, ":%s", port) != ERROR_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	client->host = buf_steal(&b);
	client->path = strdup(path);
	rc = client->host && client->path ? ERROR_OK : ERROR_NOMEM;
out:
	buf_free(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

static void ddb_client_release(struct ddb_client *client)
{
	struct evloop *ev = client->own ? client->own->ev : NULL;

	ddb_loop_free(client->own); /* before its evloop: curl unwatches sockets */
	evloop_free(ev);
	free(client->region);
	free(client->url);
	free(client->host);
	free(client->path);
	free(client->access_key_id);
	secret_free(client->secret_access_key);
	secret_free(client->session_token);
	free(client->proxy);
	free(client->ca_file);
	free(client);
	curl_global_cleanup();
}

static enum error_code ddb_client_configure(struct ddb_client *client,
					    const struct ddb_client_config *cfg)
{
	bool nomem = false;
	struct buf url;

	if (!ddb_region_valid(cfg->region))
		return ERROR_INVALID;
	if (!cfg->creds && (!cfg->access_key_id || !*cfg->access_key_id ||
			    !cfg->secret_access_key || !*cfg->secret_access_key))
		return ERROR_INVALID;
	client->creds = cfg->creds;
	client->region = secret_dup(cfg->region, &nomem);
	client->access_key_id = secret_dup(cfg->access_key_id, &nomem);
	client->secret_access_key = secret_dup(cfg->secret_access_key, &nomem);
	client->session_token = secret_dup(cfg->session_token, &nomem);
	client->proxy = secret_dup(cfg->proxy, &nomem);
	client->ca_file = secret_dup(cfg->ca_file, &nomem);
	if (cfg->endpoint && *cfg->endpoint) {
		client->url = secret_dup(cfg->endpoint, &nomem);
	} else {
		buf_init(&url, 0);
		if (buf_printf(&url, "https://dynamodb.%s.amazonaws.com/", cfg->region) != ERROR_OK)
			nomem = true;
		client->url = buf_steal(&url);
	}
	if (nomem || !client->url)
		return ERROR_NOMEM;
	client->max_connections = cfg->max_connections ? cfg->max_connections
						       : DDB_DEFAULT_MAX_CONNECTIONS;
	client->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DDB_DEFAULT_TIMEOUT_MS;
	client->max_attempts = cfg->max_attempts ? cfg->max_attempts : DDB_DEFAULT_MAX_ATTEMPTS;
	client->max_response = cfg->max_response ? cfg->max_response : DDB_DEFAULT_MAX_RESPONSE;
	client->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms
						       : DDB_DEFAULT_BACKOFF_BASE_MS;
	client->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms
						     : DDB_DEFAULT_BACKOFF_MAX_MS;
	client->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 0;
	client->retry_quota_max = cfg->retry_quota ? cfg->retry_quota : DDB_DEFAULT_RETRY_QUOTA;
	atomic_store(&client->quota, client->retry_quota_max);
	/* max_connections is a total: each worker loop and the client's own
	 * loop get an equal share, rounded up. */
	client->loop_connections = (client->max_connections + cfg->worker_loops) /
				   (cfg->worker_loops + 1);
	if (client->loop_connections == 0)
		client->loop_connections = 1;
	return ddb_parse_endpoint(client);
}

static enum error_code ddb_own_loop_setup(struct ddb_client *client)
{
	struct evloop *ev = evloop_new();

	if (!ev)
		return ERROR_NOMEM;
	client->own = ddb_loop_new(client, ev);
	if (!client->own) {
		evloop_free(ev);
		return ERROR_NOMEM;
	}
	return ERROR_OK;
}

struct ddb_client *ddb_client_new(const struct ddb_client_config *cfg, enum error_code *rcp)
{
	struct ddb_client *client = NULL;
	enum error_code rc = ERROR_NOMEM;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	client = calloc(1, sizeof(*client));
	if (!client) {
		curl_global_cleanup();
		goto out;
	}
	if ((rc = ddb_client_configure(client, cfg)) != ERROR_OK ||
	    (rc = ddb_own_loop_setup(client)) != ERROR_OK)
		goto out;
	if (pthread_create(&client->thread, NULL, ddb_io_thread, client) != 0) {
		rc = ERROR_IO;
		goto out;
	}
	client->thread_started = true;
	rc = ERROR_OK;
out:
	if (rc != ERROR_OK && client) {
		ddb_client_release(client);
		client = NULL;
	}
	if (rcp)
		*rcp = rc;
	return client;
}

void ddb_client_stop(struct ddb_client *client)
{
	if (!client || !client->thread_started)
		return;
	pthread_mutex_lock(&client->own->lock);
	atomic_store(&client->stopping, true);
	pthread_mutex_unlock(&client->own->lock);
	evloop_wake(client->own->ev);
	pthread_join(client->thread, NULL);
	client->thread_started = false;
}

void ddb_client_free(struct ddb_client *client)
{
	if (!client)
		return;
	ddb_client_stop(client);
	ddb_client_release(client);
}

/* ---- submitting -------------------------------------------------------- */

enum error_code ddb_client_submit(struct ddb_client *client, const struct ddb_request *req,
				  ddb_done_fn done, void *arg)
{
	return ddb_client_submit_delayed(client, req, 0, done, arg);
}

enum error_code ddb_client_submit_delayed(struct ddb_client *client,
					  const struct ddb_request *req, long delay_ms,
					  ddb_done_fn done, void *arg)
{
	struct ddb_call *call = NULL;
	enum error_code rc = ERROR_NOMEM;
	struct ddb_loop *loop;
	struct buf body;
	bool stopping;

	buf_init(&body, 0);
	if (!done) {
		rc = ERROR_INVALID;
		goto out;
	}
	if ((rc = ddb_request_encode(req, &body)) != ERROR_OK)
		goto out;
	rc = ERROR_NOMEM;
	call = calloc(1, sizeof(*call));
	if (!call)
		goto out;
	call->op = req->op;
	call->client = client;
	call->no_replay = req->no_replay;
	call->body_len = body.len;
	call->body = buf_steal(&body);
	if (!call->body)
		goto out;
	call->done = done;
	call->arg = arg;
	call->due_ms = delay_ms > 0 ? now_mono_ms() + delay_ms : 0;
	clock_gettime(CLOCK_MONOTONIC, &call->submitted);
	if (req->deadline_ms > 0)
		call->deadline_ms = req->deadline_ms;
	else
		call->deadline_ms = client->deadline_ms ? now_mono_ms() + client->deadline_ms : 0;
	buf_init(&call->response, client->max_response);
	loop = ddb_this_loop;
	if (loop && loop->client == client && !loop->stopping) {
		/* This thread turns the loop: queue without a lock; the loop
		 * starts it in this very turn, after the handler returns. */
		call->loop = loop;
		ddb_queue_push(&loop->backoff, call);
	} else {
		loop = client->own;
		call->loop = loop;
		pthread_mutex_lock(&loop->lock);
		stopping = atomic_load(&client->stopping) || loop->stopping;
		if (!stopping) {
			ddb_queue_push(&loop->inbox, call);
			atomic_store_explicit(&loop->inbox_pending, true, memory_order_release);
		}
		pthread_mutex_unlock(&loop->lock);
		if (stopping) {
			rc = ERROR_CANCELLED;
			goto out;
		}
		evloop_wake(loop->ev);
	}
	call = NULL; /* the loop owns it now */
	ddb_counter_add(&client->submitted, 1);
	rc = ERROR_OK;
out:
	ddb_call_free(call);
	buf_free(&body);
	return rc;
}

/* The blocking wrapper's rendezvous with the I/O thread. */
struct ddb_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	struct ddb_result *result;
};

static void ddb_on_blocking_done(void *arg, struct ddb_result *result)
{
	struct ddb_waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	*w->result = *result;
	memset(&result->resp, 0, sizeof(result->resp)); /* moved to the waiter */
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

enum error_code ddb_client_call(struct ddb_client *client, const struct ddb_request *req,
				struct ddb_result *result)
{
	struct ddb_waiter w = { .done = false, .result = result };
	enum error_code rc;

	memset(result, 0, sizeof(*result));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	rc = ddb_client_submit(client, req, ddb_on_blocking_done, &w);
	if (rc == ERROR_OK) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = result->rc;
	} else {
		result->rc = rc;
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

void ddb_result_clear(struct ddb_result *result)
{
	ddb_response_clear(&result->resp);
}

void ddb_client_stats(struct ddb_client *client, struct ddb_client_stats *out)
{
	out->submitted = atomic_load(&client->submitted);
	out->completed = atomic_load(&client->completed);
	out->attempts = atomic_load(&client->attempts);
	out->retries = atomic_load(&client->retries);
	out->throttles = atomic_load(&client->throttles);
	out->connections_opened = atomic_load(&client->conns_opened);
	out->connections_open = atomic_load(&client->conns_open);
	out->connections_peak = atomic_load(&client->conns_peak);
	out->loops = evloop_turns(client->own->ev);
	out->retry_quota = atomic_load(&client->quota);
	out->clock_offset_s = atomic_load(&client->clock_offset_s);
}

/* The outcome label of a completed call. */
static const char *ddb_outcome_name(enum error_code rc)
{
	switch (rc) {
	case ERROR_OK: return "ok";
	case ERROR_CONDITION: return "condition_failed";
	case ERROR_UNAVAILABLE: return "unavailable";
	case ERROR_UPSTREAM: return "refused";
	case ERROR_CANCELLED: return "cancelled";
	case ERROR_IO: return "transport_error";
	case ERROR_TOO_LARGE: return "too_large";
	default: return "error";
	}
}

void ddb_client_write_metrics(struct ddb_client *client, struct buf *b)
{
	char labels[96];

	metrics_family(b, "sessiond_dynamodb_requests_total", "counter",
		       "DynamoDB requests completed, by operation and outcome.");
	for (int op = 0; op < DDB_OP_COUNT; op++)
		for (int rc = 0; rc < ERROR_COUNT; rc++) {
			uint64_t v = atomic_load(&client->outcomes[op][rc]);
			if (!v)
				continue;
			snprintf(labels, sizeof(labels), "operation=\"%s\",outcome=\"%s\"",
				 ddb_op_name((enum ddb_op)op), ddb_outcome_name((enum error_code)rc));
			metrics_sample(b, "sessiond_dynamodb_requests_total", labels, v);
		}
	metrics_family(b, "sessiond_dynamodb_request_duration_seconds", "histogram",
		       "Time from submission to completion, retries included, by operation.");
	for (int op = 0; op < DDB_OP_COUNT; op++) {
		if (!atomic_load(&client->latency[op].count))
			continue;
		snprintf(labels, sizeof(labels), "operation=\"%s\"", ddb_op_name((enum ddb_op)op));
		metrics_histogram_write(b, "sessiond_dynamodb_request_duration_seconds", labels,
					&client->latency[op]);
	}
	metrics_family(b, "sessiond_dynamodb_attempts_total", "counter",
		       "HTTP attempts sent to DynamoDB, retries included.");
	metrics_sample(b, "sessiond_dynamodb_attempts_total", NULL, atomic_load(&client->attempts));
	metrics_family(b, "sessiond_dynamodb_retries_total", "counter",
		       "Attempts after the first.");
	metrics_sample(b, "sessiond_dynamodb_retries_total", NULL, atomic_load(&client->retries));
	metrics_family(b, "sessiond_dynamodb_throttles_total", "counter",
		       "Throttling errors answered by DynamoDB.");
	metrics_sample(b, "sessiond_dynamodb_throttles_total", NULL,
		       atomic_load(&client->throttles));
	metrics_family(b, "sessiond_dynamodb_retry_quota", "gauge",
		       "Retry tokens left (AWS standard retry mode; a retry takes 5, 10 after a "
		       "timeout).");
	metrics_sample(b, "sessiond_dynamodb_retry_quota", NULL, atomic_load(&client->quota));
	metrics_family(b, "sessiond_dynamodb_in_flight", "gauge",
		       "DynamoDB requests submitted and not yet completed.");
	metrics_sample(b, "sessiond_dynamodb_in_flight", NULL,
		       atomic_load(&client->submitted) - atomic_load(&client->completed));
	metrics_family(b, "sessiond_dynamodb_connections", "gauge",
		       "Open pooled connections to DynamoDB.");
	metrics_sample(b, "sessiond_dynamodb_connections", NULL, atomic_load(&client->conns_open));
	metrics_family(b, "sessiond_dynamodb_connections_opened_total", "counter",
		       "Connections to DynamoDB opened since start.");
	metrics_sample(b, "sessiond_dynamodb_connections_opened_total", NULL,
		       atomic_load(&client->conns_opened));
}
