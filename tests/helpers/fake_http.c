/* fake_http.c: the scripted loopback HTTP server of fake_http.h.
 * One thread polls the listener, the connections and a stop pipe; requests
 * are parsed just enough (headers, Content-Length body) to answer them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers/fake_http.h"

#define FAKE_MAX_CONNS 64

struct fake_conn {
	int fd;
	bool silent;
	char *in;
	size_t len, alloc;
};

struct fake_http {
	int listen_fd;
	int port;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct fake_reply *replies;
	size_t n_replies;
	size_t count;
	struct fake_request reqs[FAKE_MAX_REQUESTS];
	struct fake_conn conns[FAKE_MAX_CONNS];
};

static char *fake_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void fake_conn_close(struct fake_conn *c)
{
	close(c->fd);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void fake_send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
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
	fake_send_all(fd, head, (size_t)n);
	fake_send_all(fd, r->body, len);
}

/* If c->in holds a whole request, records it, answers it and returns true. */
static bool fake_handle_one(struct fake_http *f, struct fake_conn *c)
{
	char *end = c->in ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
	size_t head_len, body_len = 0, total;
	const struct fake_reply *r;
	struct fake_request req;
	char *cl, *eol;

	if (!end)
		return false;
	head_len = (size_t)(end - c->in) + 4;
	cl = strcasestr(c->in, "\r\ncontent-length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	total = head_len + body_len;
	if (c->len < total)
		return false;
	eol = memmem(c->in, head_len, "\r\n", 2);
	req.line = fake_strndup(c->in, (size_t)(eol - c->in));
	req.headers = fake_strndup(eol + 2, head_len - (size_t)(eol + 2 - c->in));
	req.body = fake_strndup(c->in + head_len, body_len);
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
	memmove(c->in, c->in + total, c->len - total);
	c->len -= total;
	switch (r->mode) {
	case FAKE_CLOSE:
		fake_conn_close(c);
		return false;
	case FAKE_SILENT:
		c->silent = true;
		return false;
	default:
		fake_reply_send(c->fd, r);
		return true;
	}
}

static void fake_conn_read(struct fake_http *f, struct fake_conn *c)
{
	ssize_t n;

	if (c->alloc - c->len < 4096) {
		c->alloc = c->alloc ? c->alloc * 2 : 8192;
		c->in = realloc(c->in, c->alloc + 1);
	}
	n = recv(c->fd, c->in + c->len, c->alloc - c->len, 0);
	if (n <= 0) {
		fake_conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->in[c->len] = '\0';
	while (!c->silent && c->fd >= 0 && fake_handle_one(f, c))
		;
}

static void fake_accept(struct fake_http *f)
{
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	for (int i = 0; i < FAKE_MAX_CONNS; i++) {
		if (f->conns[i].fd < 0) {
			f->conns[i].fd = fd;
			return;
		}
	}
	close(fd);
}

static void *fake_thread(void *arg)
{
	struct fake_http *f = arg;
	struct pollfd pfd[FAKE_MAX_CONNS + 2];
	int map[FAKE_MAX_CONNS + 2];

	for (;;) {
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){ .fd = f->stop_pipe[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = f->listen_fd, .events = POLLIN };
		for (int i = 0; i < FAKE_MAX_CONNS; i++) {
			if (f->conns[i].fd >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){ .fd = f->conns[i].fd, .events = POLLIN };
			}
		}
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			fake_accept(f);
		for (nfds_t i = 2; i < n; i++)
			if (pfd[i].revents)
				fake_conn_read(f, &f->conns[map[i]]);
	}
	return NULL;
}

struct fake_http *fake_http_start(const struct fake_reply *replies, size_t n)
{
	struct fake_http *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	f->replies = calloc(n, sizeof(*replies));
	memcpy(f->replies, replies, n * sizeof(*replies));
	f->n_replies = n;
	for (int i = 0; i < FAKE_MAX_CONNS; i++)
		f->conns[i].fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(f->listen_fd, 64) || getsockname(f->listen_fd, (struct sockaddr *)&sa, &sl) ||
	    pipe(f->stop_pipe)) {
		perror("fake_http_start");
		abort();
	}
	f->port = ntohs(sa.sin_port);
	pthread_create(&f->thread, NULL, fake_thread, f);
	return f;
}

int fake_http_port(const struct fake_http *f)
{
	return f->port;
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
	size_t nl = strlen(name);

	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, n, "%.*s", (int)(eol - v), v);
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

void fake_http_stop(struct fake_http *f)
{
	if (!f)
		return;
	if (write(f->stop_pipe[1], "x", 1) != 1)
		abort();
	pthread_join(f->thread, NULL);
	for (int i = 0; i < FAKE_MAX_CONNS; i++)
		if (f->conns[i].fd >= 0)
			fake_conn_close(&f->conns[i]);
	for (size_t i = 0; i < f->count && i < FAKE_MAX_REQUESTS; i++) {
		free(f->reqs[i].line);
		free(f->reqs[i].headers);
		free(f->reqs[i].body);
	}
	close(f->listen_fd);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	pthread_mutex_destroy(&f->lock);
	free(f->replies);
	free(f);
}
