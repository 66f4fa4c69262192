/* fake_route.c: the callback-driven loopback HTTP server of fake_route.h.
 * The server loop and the request framing are fake_server.c's; this file
 * splits the request line for the callback and writes its reply. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/fake_route.h"
#include "helpers/fake_server.h"

struct fake_route {
	struct fake_server *srv;
	pthread_mutex_t lock; /* count: the server thread writes, the test reads */
	size_t count;
	fake_route_fn fn;
	void *arg;
	struct fake_route_reply reply; /* the server thread's scratch */
};

static const char *fake_route_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	default:
		return "Scripted";
	}
}

/* Hands one request to the callback and sends what it answered. */
static enum fake_server_next fake_route_handle(void *arg, int fd, char *in, size_t head_len,
					       size_t body_len)
{
	struct fake_route *f = arg;
	struct fake_route_request req;
	struct fake_route_reply *r = &f->reply;
	char head[512], *eol, *sp1, *sp2, *body;
	int n;

	/* Split the request line in place: METHOD SP TARGET SP VERSION. */
	eol = memmem(in, head_len, "\r\n", 2);
	*eol = '\0';
	sp1 = strchr(in, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2)
		return FAKE_SERVER_CLOSE;
	*sp1 = *sp2 = '\0';
	in[head_len - 2] = '\0'; /* the header block keeps its last CRLF */
	body = malloc(body_len + 1);
	if (!body)
		abort();
	memcpy(body, in + head_len, body_len);
	body[body_len] = '\0';
	req = (struct fake_route_request){
	    .method = in,
	    .target = sp1 + 1,
	    .headers = eol + 2,
	    .body = body,
	    .body_len = body_len,
	};
	memset(r, 0, sizeof(*r));
	r->status = 200;
	f->fn(f->arg, &req, r);
	free(body);

	pthread_mutex_lock(&f->lock);
	f->count++;
	pthread_mutex_unlock(&f->lock);
	if (r->status == 0)
		return FAKE_SERVER_SILENT;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", r->status,
		     fake_route_reason(r->status),
		     r->content_type[0] ? r->content_type : "application/json", strlen(r->body));
	fake_server_send(fd, head, (size_t)n);
	fake_server_send(fd, r->body, strlen(r->body));
	return FAKE_SERVER_KEEP;
}

struct fake_route *fake_route_start(fake_route_fn fn, void *arg)
{
	struct fake_route *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->fn = fn;
	f->arg = arg;
	pthread_mutex_init(&f->lock, NULL);
	f->srv = fake_server_start("fake_route", fake_route_handle, f);
	return f;
}

int fake_route_port(const struct fake_route *f)
{
	return fake_server_port(f->srv);
}

size_t fake_route_count(struct fake_route *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->count;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int fake_route_header(const char *headers, const char *name, char *out, size_t n)
{
	return fake_server_header(headers, name, out, n);
}

void fake_route_stop(struct fake_route *f)
{
	if (!f)
		return;
	fake_server_stop(f->srv);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
