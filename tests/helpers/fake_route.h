/* fake_route.h: a loopback HTTP/1.1 server for tests that answers through a
 * callback instead of a script, so one fake can play a metadata service, a
 * container endpoint or STS: look at the method, path and headers, refuse
 * what a real service would refuse, and misbehave on purpose (never answer).
 * fake_http.h is the scripted sibling; both run on fake_server.h's loop. */
#ifndef SESSIOND_TEST_FAKE_ROUTE_H
#define SESSIOND_TEST_FAKE_ROUTE_H

#include <stddef.h>

#define FAKE_ROUTE_BODY_MAX 16384

/* One received request; every pointer is valid only during the callback. */
struct fake_route_request {
	const char *method;  /* "GET", "PUT", "POST" */
	const char *target;  /* "/latest/api/token", query included */
	const char *headers; /* raw header block, "Name: value\r\n" lines */
	const char *body;    /* NUL-terminated copy of the body */
	size_t body_len;
};

/* What to answer. The callback starts with status 200 and an empty body. */
struct fake_route_reply {
	int status;			/* 0: never answer; the connection stays open */
	char content_type[64];		/* "" = application/json */
	char body[FAKE_ROUTE_BODY_MAX]; /* NUL-terminated */
};

/* Runs on the server's thread, one request at a time. */
typedef void (*fake_route_fn)(void *arg, const struct fake_route_request *req,
			      struct fake_route_reply *reply);

struct fake_route;

/* Starts the server on 127.0.0.1; fn(arg, ...) answers every request. */
struct fake_route *fake_route_start(fake_route_fn fn, void *arg);
/* The port it listens on. */
int fake_route_port(const struct fake_route *f);
/* How many requests arrived so far. */
size_t fake_route_count(struct fake_route *f);
/* The value of header name (case-insensitive) in a raw header block, copied
 * into out (size n); returns 0 if found, -1 if not. */
int fake_route_header(const char *headers, const char *name, char *out, size_t n);
/* Stops the thread, closes every socket, frees everything. Accepts NULL. */
void fake_route_stop(struct fake_route *f);

#endif
