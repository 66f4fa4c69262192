/* fake_http.c: the scripted loopback HTTP server of fake_http.h. The
 * server loop and the request framing are fake_server.c's; this file keeps
 * a copy of each request and picks the reply. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "helpers/fake_http.h"
#include "helpers/fake_server.h"

struct fake_http {
	struct fake_server *srv;
	pthread_mutex_t lock; /* count and reqs: the server thread writes, the test reads */
	struct fake_reply *replies;
	size_t n_replies;
	size_t count;
	struct fake_request reqs[FAKE_MAX_REQUESTS];
};

static char *fake_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void fake_reply_send(int fd, const struct fake_reply *r)
{
	char head[512];
	size_t len = strlen(r->body);
	uLong crc = crc32(0L, (const Bytef *)r->body, (uInt)len);
	int n;

	if (r->mode == FAKE_REPLY_BADCRC)
		crc ^= 1;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d Scripted\r\nContent-Type: application/x-amz-json-1.0\r\n"
		     "Content-Length: %zu\r\nx-amz-crc32: %lu\r\n%s\r\n",
		     r->status, len, (unsigned long)crc, r->extra_headers ? r->extra_headers : "");
	fake_server_send(fd, head, (size_t)n);
	fake_server_send(fd, r->body, len);
}

/* Records one request and answers it with the next scripted reply. */
static enum fake_server_next fake_http_handle(void *arg, int fd, char *in, size_t head_len,
					      size_t body_len)
{
	struct fake_http *f = arg;
	const char *eol = memmem(in, head_len, "\r\n", 2);
	const struct fake_reply *r;
	struct fake_request req;

	req.line = fake_strndup(in, (size_t)(eol - in));
	req.headers = fake_strndup(eol + 2, head_len - (size_t)(eol + 2 - in));
	req.body = fake_strndup(in + head_len, body_len);
	req.body_len = body_len;
	pthread_mutex_lock(&f->lock);
	r = &f->replies[f->count < f->n_replies ? f->count : f->n_replies - 1];
	if (f->count < FAKE_MAX_REQUESTS) {
		f->reqs[f->count] = req;
	} else {
		free(req.line);
		free(req.headers);
		free(req.body);
	}
	f->count++;
	pthread_mutex_unlock(&f->lock);
	switch (r->mode) {
	case FAKE_CLOSE:
		return FAKE_SERVER_CLOSE;
	case FAKE_SILENT:
		return FAKE_SERVER_SILENT;
	default:
		fake_reply_send(fd, r);
		return FAKE_SERVER_KEEP;
	}
}

struct fake_http *fake_http_start(const struct fake_reply *replies, size_t n)
{
	struct fake_http *f = calloc(1, sizeof(*f));

	if (!f || !(f->replies = calloc(n, sizeof(*replies))))
		abort();
	memcpy(f->replies, replies, n * sizeof(*replies));
	f->n_replies = n;
	pthread_mutex_init(&f->lock, NULL);
	f->srv = fake_server_start("fake_http", fake_http_handle, f);
	return f;
}

int fake_http_port(const struct fake_http *f)
{
	return fake_server_port(f->srv);
}

size_t fake_http_count(struct fake_http *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->count;
	pthread_mutex_unlock(&f->lock);
	return n;
}

const struct fake_request *fake_http_request(struct fake_http *f, size_t i)
{
	const struct fake_request *r = NULL;

	pthread_mutex_lock(&f->lock);
	if (i < f->count && i < FAKE_MAX_REQUESTS)
		r = &f->reqs[i];
	pthread_mutex_unlock(&f->lock);
	return r;
}

int fake_http_header(const struct fake_request *r, const char *name, char *out, size_t n)
{
	return fake_server_header(r->headers, name, out, n);
}

void fake_http_stop(struct fake_http *f)
{
	if (!f)
		return;
	fake_server_stop(f->srv);
	for (size_t i = 0; i < f->count && i < FAKE_MAX_REQUESTS; i++) {
		free(f->reqs[i].line);
		free(f->reqs[i].headers);
		free(f->reqs[i].body);
	}
	pthread_mutex_destroy(&f->lock);
	free(f->replies);
	free(f);
}
