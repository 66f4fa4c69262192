/* ddb_client.h: the asynchronous DynamoDB client. Each thread that turns an
 * event loop (an HTTP worker) attaches a loop of its own: a curl multi handle
 * and a pool of keep-alive connections, so its requests are sent and
 * completed on that thread. Every other thread submits through the client's
 * own I/O thread. Requests are signed (SigV4) at each attempt, checked
 * against x-amz-crc32, and retried with full-jitter exponential backoff when
 * the error is retryable. */
#ifndef SESSIOND_DDB_CLIENT_H
#define SESSIOND_DDB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/buf.h"
#include "sessiond/creds.h"
#include "sessiond/ddb_codec.h"
#include "sessiond/error.h"

/* Settings; strings are copied by ddb_client_new. NULL or "" means unset. */
struct ddb_client_config {
	const char *region;            /* required, e.g. "us-east-1" */
	const char *endpoint;          /* "" = https://dynamodb.<region>.amazonaws.com */
	struct creds *creds;           /* the credential chain (borrowed; must outlive
	                                  the client); NULL: the static keys below */
	const char *access_key_id;     /* static credentials, when creds is NULL */
	const char *secret_access_key;
	const char *session_token;
	const char *proxy;             /* "" = libcurl's HTTPS_PROXY/NO_PROXY handling */
	const char *ca_file;           /* extra CA bundle; TLS is always verified */
	unsigned max_connections;      /* pooled connections in all, 1..; 0 = 64 */
	unsigned worker_loops;         /* loops that will attach (HTTP workers);
	                                  each, and the own loop, gets an equal
	                                  share of max_connections */
	long timeout_ms;               /* one attempt; 0 = 1000 */
	unsigned max_attempts;         /* first try included; 0 = 4 */
	size_t max_response;           /* bytes of one response body; 0 = 16 MiB */
	unsigned backoff_base_ms;      /* first retry waits up to this; 0 = 25 */
	unsigned backoff_max_ms;       /* no retry waits longer; 0 = 2000 */
	long deadline_ms;              /* whole request, retries included; 0 = none:
	                                  no retry starts that could not finish in time */
	unsigned retry_quota;          /* retry token bucket (AWS standard mode); 0 = 500 */
};

/* The outcome of one request, handed to the completion callback. rc is
 * ERROR_OK with resp filled, or: ERROR_CONDITION (conditional check failed),
 * ERROR_UNAVAILABLE (retryable failures until attempts ran out),
 * ERROR_UPSTREAM (DynamoDB refused it), ERROR_IO (a transport fault that
 * another attempt would not cure, e.g. a rejected certificate),
 * ERROR_TOO_LARGE (response over the cap), ERROR_CANCELLED (the client shut
 * down first), ERROR_NOMEM. err says what the last attempt saw. */
struct ddb_result {
	enum error_code rc;
	struct ddb_response resp;
	struct ddb_error err;
	unsigned attempts; /* how many attempts were sent */
	/* An attempt before the last was sent whole and got no usable answer
	 * (timeout, reset, 5xx): DynamoDB may have applied it, so a conditional
	 * write's final ConditionalCheckFailed may be about our own write. */
	bool maybe_applied;
};

/* Runs on the thread of the loop that ran the request (the submitter's own
 * when it turns an attached loop, else the client's I/O thread); it must
 * not block. result belongs to the client and is valid only during the
 * call: to keep resp, move it out (copy the struct, then zero result->resp). */
typedef void (*ddb_done_fn)(void *arg, struct ddb_result *result);

struct ddb_client_stats {
	uint64_t submitted;          /* requests accepted by ddb_client_submit */
	uint64_t completed;          /* callbacks run, cancellations included */
	uint64_t attempts;           /* HTTP requests sent */
	uint64_t retries;            /* attempts after the first */
	uint64_t throttles;          /* throttling errors seen */
	uint64_t connections_opened; /* sockets opened since start */
	uint64_t connections_open;   /* sockets open now */
	uint64_t connections_peak;   /* the most sockets open at once */
	uint64_t loops;              /* the own I/O loop's turns: at least one a
	                                second while the thread is alive (the watchdog) */
	uint64_t retry_quota;        /* retry tokens left */
	int64_t clock_offset_s;      /* DynamoDB's clock minus ours, after a skew */
};

struct ddb_client;
struct ddb_loop;
struct evloop;

/* Starts the I/O thread. NULL on failure, with the reason in *rc
 * (ERROR_INVALID for a bad config, ERROR_NOMEM, ERROR_IO). */
struct ddb_client *ddb_client_new(const struct ddb_client_config *cfg, enum error_code *rc);

/* Stops the I/O thread: every request still queued or in flight on the
 * client's own loop completes with ERROR_CANCELLED, on the I/O thread,
 * before this returns; from then on every submit from a thread without an
 * attached loop returns ERROR_CANCELLED. The memory stays valid, so
 * threads that may still submit (HTTP workers serving their last
 * requests) can run until ddb_client_free. Idempotent; accepts NULL. Must
 * not be called from a completion callback. */
void ddb_client_stop(struct ddb_client *client);

/* ddb_client_stop, then frees everything. Every attached loop must have
 * been detached, and no thread may submit any more. Accepts NULL. */
void ddb_client_free(struct ddb_client *client);

/* Gives the calling thread, which turns ev, a loop of its own: from now on
 * its submits run on it, during ev's turns, and complete on this thread.
 * NULL when out of memory (its submits then go to the client's I/O thread).
 * The client must outlive the loop. */
struct ddb_loop *ddb_client_attach(struct ddb_client *client, struct evloop *ev);

/* On the attaching thread: completes the loop's unfinished requests with
 * ERROR_CANCELLED (their callbacks run here, now) and frees it. Accepts
 * NULL. Must not be called from a completion callback. */
void ddb_client_detach(struct ddb_loop *loop);

/* Queues req. The request body is encoded here, on the calling thread, so
 * req and everything it points to may be freed once this returns. done is
 * called exactly once when this returns ERROR_OK, never otherwise. On a
 * thread with an attached loop it runs on that thread, after this returns;
 * from any other thread it runs on the I/O thread and may run before this
 * returns, so the caller must not touch arg after handing it over.
 * ERROR_INVALID for a request the codec refuses; ERROR_CANCELLED once the
 * client is shutting down. Thread-safe. */
enum error_code ddb_client_submit(struct ddb_client *client, const struct ddb_request *req,
				  ddb_done_fn done, void *arg);

/* As ddb_client_submit, but the first attempt starts no sooner than
 * delay_ms from now: for callers that back off between their own retries
 * (a read-merge-write that lost a race) without holding a thread. */
enum error_code ddb_client_submit_delayed(struct ddb_client *client,
					  const struct ddb_request *req, long delay_ms,
					  ddb_done_fn done, void *arg);

/* Blocking wrapper for start-up code and tests: submits req and waits.
 * On return, *result is the caller's: clear it with ddb_result_clear.
 * Never call it from a completion callback or a thread with an attached
 * loop (the loop would wait on itself). Returns result->rc. */
enum error_code ddb_client_call(struct ddb_client *client, const struct ddb_request *req,
				struct ddb_result *result);

void ddb_result_clear(struct ddb_result *result);

/* Appends the client's metrics in Prometheus text: requests by operation
 * and outcome, latency, attempts, retries, throttles, connections. */
void ddb_client_write_metrics(struct ddb_client *client, struct buf *b);

/* A consistent-enough snapshot of the counters (each read atomically). */
void ddb_client_stats(struct ddb_client *client, struct ddb_client_stats *out);

#endif
