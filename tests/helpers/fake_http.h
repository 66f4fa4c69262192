/* fake_http.h: a scripted HTTP/1.1 server on a loopback port for tests.
 * It answers each request with the next scripted reply (the last one
 * repeats), records what it received, and can misbehave on purpose: wrong
 * x-amz-crc32, a close without answering, or no answer at all.
 * fake_route.h is the sibling that answers through a callback; both run on
 * fake_server.h's loop. */
#ifndef SESSIOND_TEST_FAKE_HTTP_H
#define SESSIOND_TEST_FAKE_HTTP_H

#include <stddef.h>

enum fake_mode {
	FAKE_REPLY,        /* send status, headers, body */
	FAKE_REPLY_BADCRC, /* as FAKE_REPLY with a wrong x-amz-crc32 */
	FAKE_CLOSE,        /* close the connection without a byte */
	FAKE_SILENT,       /* read the request, never answer (until stop) */
};

struct fake_reply {
	enum fake_mode mode;
	int status;
	const char *body;          /* borrowed for the server's lifetime */
	const char *extra_headers; /* NULL, or lines each ending in \r\n */
};

#define FAKE_MAX_REQUESTS 64

/* One received request: the request line, the raw header block and the body
 * (all NUL-terminated copies). */
struct fake_request {
	char *line;
	char *headers;
	char *body;
	size_t body_len;
};

struct fake_http;

/* Starts the server on 127.0.0.1 with n scripted replies (copied). */
struct fake_http *fake_http_start(const struct fake_reply *replies, size_t n);
/* The port it listens on. */
int fake_http_port(const struct fake_http *f);
/* How many requests arrived so far; and the i-th (borrowed, valid until
 * fake_http_stop; i < FAKE_MAX_REQUESTS). */
size_t fake_http_count(struct fake_http *f);
const struct fake_request *fake_http_request(struct fake_http *f, size_t i);
/* The value of header name in a received request's header block, copied
 * into out (size n); returns 0 if found, -1 if not. */
int fake_http_header(const struct fake_request *r, const char *name, char *out, size_t n);
/* Stops the thread, closes every socket, frees everything. */
void fake_http_stop(struct fake_http *f);

#endif
