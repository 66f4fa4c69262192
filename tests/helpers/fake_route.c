/* fake_route.c: the callback-driven loopback HTTP server of fake_route.h.
 * One thread polls the listener, the connections and a stop pipe; requests
 * are parsed just enough (request line, headers, Content-Length body) to
 * hand them to the callback. */
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

#include "helpers/fake_route.h"

#define FAKE_ROUTE_CONNS  32
#define FAKE_ROUTE_IN_MAX (1 << 20)

struct fake_route_conn {
	int fd;
	bool silent; /* answered "never": ignore it until it closes */
	char *in;
	size_t len, alloc;
};

struct fake_route {
	int listen_fd;
	int port;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	size_t count;
	fake_route_fn fn;
	void *arg;
	struct fake_route_reply reply; /* the server thread's scratch */
	struct fake_route_conn conns[FAKE_ROUTE_CONNS];
};

static void fake_route_conn_close(struct fake_route_conn *c)
{
	close(c->fd);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void fake_route_send(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

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

/* If c->in holds a whole request, answers it and returns true. */
static bool fake_route_handle_one(struct fake_route *f, struct fake_route_conn *c)
{
	char *end = c->in ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
	size_t head_len, body_len = 0, total;
	struct fake_route_request req;
	struct fake_route_reply *r = &f->reply;
	char head[512], *cl, *eol, *sp1, *sp2, *body;
	int n;

	if (!end)
		return false;
	head_len = (size_t)(end - c->in) + 4;
	cl = strcasestr(c->in, "\r\ncontent-length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	total = head_len + body_len;
	if (c->len < total)
		return false;

	/* Split the request line in place: METHOD SP TARGET SP VERSION. */
	eol = memmem(c->in, head_len, "\r\n", 2);
	*eol = '\0';
	sp1 = strchr(c->in, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2) {
		fake_route_conn_close(c);
		return false;
	}
	*sp1 = *sp2 = '\0';
	end[2] = '\0'; /* the header block keeps its last CRLF */
	body = malloc(body_len + 1);
	memcpy(body, c->in + head_len, body_len);
	body[body_len] = '\0';
	req = (struct fake_route_request){
	    .method = c->in,
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
	memmove(c->in, c->in + total, c->len - total);
	c->len -= total;
	if (r->status == 0) {
		c->silent = true;
		return false;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", r->status,
		     fake_route_reason(r->status),
		     r->content_type[0] ? r->content_type : "application/json", strlen(r->body));
	fake_route_send(c->fd, head, (size_t)n);
	fake_route_send(c->fd, r->body, strlen(r->body));
	return true;
}

static void fake_route_read(struct fake_route *f, struct fake_route_conn *c)
{
	ssize_t n;

	if (c->alloc - c->len < 4096) {
		if (c->alloc >= FAKE_ROUTE_IN_MAX) {
			fake_route_conn_close(c);
			return;
		}
		c->alloc = c->alloc ? c->alloc * 2 : 8192;
		c->in = realloc(c->in, c->alloc + 1);
	}
	n = recv(c->fd, c->in + c->len, c->alloc - c->len, 0);
	if (n <= 0) {
		fake_route_conn_close(c);
		return;
	}
	if (c->silent)
		return;
	c->len += (size_t)n;
	c->in[c->len] = '\0';
	while (!c->silent && c->fd >= 0 && fake_route_handle_one(f, c))
		;
}

static void fake_route_accept(struct fake_route *f)
{
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	for (int i = 0; i < FAKE_ROUTE_CONNS; i++) {
		if (f->conns[i].fd < 0) {
			f->conns[i].fd = fd;
			return;
		}
	}
	close(fd);
}

static void *fake_route_thread(void *arg)
{
	struct fake_route *f = arg;
	struct pollfd pfd[FAKE_ROUTE_CONNS + 2];
	int map[FAKE_ROUTE_CONNS + 2];

	for (;;) {
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){.fd = f->stop_pipe[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = f->listen_fd, .events = POLLIN};
		for (int i = 0; i < FAKE_ROUTE_CONNS; i++) {
			if (f->conns[i].fd >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){.fd = f->conns[i].fd, .events = POLLIN};
			}
		}
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			fake_route_accept(f);
		for (nfds_t i = 2; i < n; i++)
			if (pfd[i].revents)
				fake_route_read(f, &f->conns[map[i]]);
	}
	return NULL;
}

struct fake_route *fake_route_start(fake_route_fn fn, void *arg)
{
	struct fake_route *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	if (!f)
		abort();
	f->fn = fn;
	f->arg = arg;
	for (int i = 0; i < FAKE_ROUTE_CONNS; i++)
		f->conns[i].fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(f->listen_fd, 64) || getsockname(f->listen_fd, (struct sockaddr *)&sa, &sl) ||
	    pipe(f->stop_pipe)) {
		perror("fake_route_start");
		abort();
	}
	f->port = ntohs(sa.sin_port);
	pthread_create(&f->thread, NULL, fake_route_thread, f);
	return f;
}

int fake_route_port(const struct fake_route *f)
{
	return f->port;
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
	size_t nl = strlen(name);

	for (const char *p = headers; p && *p;) {
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

void fake_route_stop(struct fake_route *f)
{
	if (!f)
		return;
	if (write(f->stop_pipe[1], "x", 1) != 1)
		abort();
	pthread_join(f->thread, NULL);
	for (int i = 0; i < FAKE_ROUTE_CONNS; i++)
		if (f->conns[i].fd >= 0)
			fake_route_conn_close(&f->conns[i]);
	close(f->listen_fd);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
