/* fake_server.h: the loopback plumbing that the test servers fake_http.h
 * (scripted replies) and fake_route.h (a callback) share: a listener on
 * 127.0.0.1, one thread polling it, the connections and a stop pipe, and
 * the framing of each request (header block, Content-Length body). What to
 * answer, and what to remember of a request, is the caller's. */
#ifndef SESSIOND_TEST_FAKE_SERVER_H
#define SESSIOND_TEST_FAKE_SERVER_H

#include <stddef.h>

/* What becomes of a connection once its request was handled. */
enum fake_server_next {
	FAKE_SERVER_KEEP,   /* read the next request */
	FAKE_SERVER_SILENT, /* never answer it again; ignore it until it closes */
	FAKE_SERVER_CLOSE,  /* close it now */
};

/* Called on the server's thread for each whole request: req holds head_len
 * bytes of request line and header block (ending in CRLF CRLF), then
 * body_len bytes of body, not NUL-terminated. req is the server's buffer:
 * the callback may write into it, and must copy what it keeps. It answers
 * (or not) on fd. */
typedef enum fake_server_next (*fake_server_fn)(void *arg, int fd, char *req, size_t head_len,
						size_t body_len);

struct fake_server;

/* Starts the server on 127.0.0.1; fn(arg, ...) handles every request.
 * who names the thread and error messages. Aborts on failure. */
struct fake_server *fake_server_start(const char *who, fake_server_fn fn, void *arg);
/* The port it listens on. */
int fake_server_port(const struct fake_server *s);
/* Stops the thread, closes every socket, frees the server. Accepts NULL. */
void fake_server_stop(struct fake_server *s);

/* Writes all n bytes to fd, giving up quietly if the peer has gone. */
void fake_server_send(int fd, const char *p, size_t n);
/* The value of header name (case-insensitive) in a raw header block of
 * "Name: value\r\n" lines, copied into out (size n); returns 0 if found,
 * -1 if not. */
int fake_server_header(const char *headers, const char *name, char *out, size_t n);

#endif
