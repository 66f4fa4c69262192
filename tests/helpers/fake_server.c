/* fake_server.c: the loopback server loop of fake_server.h. One thread
 * polls the listener, the connections and a stop pipe; a connection's bytes
 * are buffered (at most FAKE_SERVER_IN_MAX) until a whole request is there,
 * which then goes to the caller's function. */
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

#include "helpers/fake_server.h"

#define FAKE_SERVER_CONNS  64
#define FAKE_SERVER_IN_MAX (1 << 20)

struct fake_server_conn {
	int fd;
	bool silent; /* never answer: read and drop until it closes */
	char *in;
	size_t len, alloc;
};

struct fake_server {
	int listen_fd;
	int port;
	int stop_pipe[2];
	char who[16]; /* the thread's name */
	pthread_t thread;
	fake_server_fn fn;
	void *arg;
	struct fake_server_conn conns[FAKE_SERVER_CONNS];
};

static void fake_server_conn_close(struct fake_server_conn *c)
{
	close(c->fd);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void fake_server_send(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* If c->in holds a whole request, hands it to the caller, drops it from
 * the buffer and returns true when the connection may carry another. */
static bool fake_server_handle_one(struct fake_server *s, struct fake_server_conn *c)
{
	char *end = c->in ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
	size_t head_len, body_len = 0, total;
	enum fake_server_next next;
	char *cl;

	if (!end)
		return false;
	head_len = (size_t)(end - c->in) + 4;
	cl = strcasestr(c->in, "\r\ncontent-length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	total = head_len + body_len;
	if (c->len < total)
		return false;
	next = s->fn(s->arg, c->fd, c->in, head_len, body_len);
	if (next == FAKE_SERVER_CLOSE) {
		fake_server_conn_close(c);
		return false;
	}
	memmove(c->in, c->in + total, c->len - total);
	c->len -= total;
	c->in[c->len] = '\0';
	c->silent = next == FAKE_SERVER_SILENT;
	return !c->silent;
}

static void fake_server_read(struct fake_server *s, struct fake_server_conn *c)
{
	ssize_t n;

	if (c->alloc - c->len < 4096) {
		if (c->alloc >= FAKE_SERVER_IN_MAX) {
			fake_server_conn_close(c);
			return;
		}
		c->alloc = c->alloc ? c->alloc * 2 : 8192;
		c->in = realloc(c->in, c->alloc + 1);
		if (!c->in)
			abort();
	}
	n = recv(c->fd, c->in + c->len, c->alloc - c->len, 0);
	if (n <= 0) {
		fake_server_conn_close(c);
		return;
	}
	if (c->silent)
		return;
	c->len += (size_t)n;
	c->in[c->len] = '\0'; /* so that strcasestr stops at the bytes read */
	while (c->fd >= 0 && fake_server_handle_one(s, c))
		;
}

static void fake_server_accept(struct fake_server *s)
{
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	for (int i = 0; i < FAKE_SERVER_CONNS; i++) {
		if (s->conns[i].fd < 0) {
			s->conns[i].fd = fd;
			return;
		}
	}
	close(fd);
}

static void *fake_server_thread(void *arg)
{
	struct fake_server *s = arg;
	struct pollfd pfd[FAKE_SERVER_CONNS + 2];
	int map[FAKE_SERVER_CONNS + 2];

	pthread_setname_np(pthread_self(), s->who);
	for (;;) {
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){.fd = s->stop_pipe[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		for (int i = 0; i < FAKE_SERVER_CONNS; i++) {
			if (s->conns[i].fd >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
			}
		}
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			fake_server_accept(s);
		for (nfds_t i = 2; i < n; i++)
			if (pfd[i].revents)
				fake_server_read(s, &s->conns[map[i]]);
	}
	return NULL;
}

struct fake_server *fake_server_start(const char *who, fake_server_fn fn, void *arg)
{
	struct fake_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	if (!s)
		abort();
	snprintf(s->who, sizeof(s->who), "%s", who);
	s->fn = fn;
	s->arg = arg;
	for (int i = 0; i < FAKE_SERVER_CONNS; i++)
		s->conns[i].fd = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s->listen_fd, 64) || getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl) ||
	    pipe(s->stop_pipe)) {
		perror(who);
		abort();
	}
	s->port = ntohs(sa.sin_port);
	if (pthread_create(&s->thread, NULL, fake_server_thread, s))
		abort();
	return s;
}

int fake_server_port(const struct fake_server *s)
{
	return s->port;
}

void fake_server_stop(struct fake_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) != 1)
		abort();
	pthread_join(s->thread, NULL);
	for (int i = 0; i < FAKE_SERVER_CONNS; i++)
		if (s->conns[i].fd >= 0)
			fake_server_conn_close(&s->conns[i]);
	close(s->listen_fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	free(s);
}

int fake_server_header(const char *headers, const char *name, char *out, size_t n)
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
