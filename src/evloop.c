/* evloop.c: one epoll set per thread, its sources and its per-turn hooks
 * (evloop.h). An eventfd in the set lets other threads end a wait; it is
 * read only when it fired, so a turn without a wake costs one epoll_wait. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sessiond/evloop.h"

#define EVLOOP_MAX_EVENTS 64

struct evloop {
	int epfd;
	struct evloop_source wake;
	struct evloop_hook *hooks;
	_Atomic uint64_t turns;
};

static void evloop_on_wake(void *arg, uint32_t events)
{
	struct evloop *loop = arg;
	uint64_t n;

	(void)events;
	/* Drains the counter; a failure means it was already drained. */
	if (read(loop->wake.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
}

struct evloop *evloop_new(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->wake.fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto fail;
	loop->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	loop->wake.fn = evloop_on_wake;
	loop->wake.arg = loop;
	if (loop->wake.fd < 0 || evloop_add(loop, &loop->wake, EPOLLIN) != ERROR_OK)
		goto fail;
	return loop;
fail:
	evloop_free(loop);
	return NULL;
}

void evloop_free(struct evloop *loop)
{
	if (!loop)
		return;
	if (loop->wake.fd >= 0)
		close(loop->wake.fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop);
}

static enum error_code evloop_ctl(struct evloop *loop, int op, struct evloop_source *src,
				  uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(loop->epfd, op, src->fd, &ev) == 0)
		return ERROR_OK;
	return errno == ENOMEM || errno == ENOSPC ? ERROR_NOMEM : ERROR_IO;
}

enum error_code evloop_add(struct evloop *loop, struct evloop_source *src, uint32_t events)
{
	return evloop_ctl(loop, EPOLL_CTL_ADD, src, events);
}

enum error_code evloop_mod(struct evloop *loop, struct evloop_source *src, uint32_t events)
{
	return evloop_ctl(loop, EPOLL_CTL_MOD, src, events);
}

void evloop_del(struct evloop *loop, struct evloop_source *src)
{
	/* ENOENT or EBADF: the descriptor is already gone, which is fine. */
	(void)evloop_ctl(loop, EPOLL_CTL_DEL, src, 0);
}

void evloop_add_hook(struct evloop *loop, struct evloop_hook *hook)
{
	struct evloop_hook **pp = &loop->hooks;

	while (*pp)
		pp = &(*pp)->next;
	hook->next = NULL;
	*pp = hook;
}

void evloop_del_hook(struct evloop *loop, struct evloop_hook *hook)
{
	for (struct evloop_hook **pp = &loop->hooks; *pp; pp = &(*pp)->next) {
		if (*pp == hook) {
			*pp = hook->next;
			hook->next = NULL;
			return;
		}
	}
}

int evloop_turn(struct evloop *loop, long max_wait_ms)
{
	struct epoll_event events[EVLOOP_MAX_EVENTS];
	long wait_ms = max_wait_ms;
	int n;

	for (struct evloop_hook *h = loop->hooks; h && wait_ms != 0; h = h->next) {
		long t = h->timeout_ms ? h->timeout_ms(h->arg) : -1;

		if (t >= 0 && (wait_ms < 0 || t < wait_ms))
			wait_ms = t;
	}
	if (wait_ms > 1000L * 3600)
		wait_ms = 1000L * 3600;
	n = epoll_wait(loop->epfd, events, EVLOOP_MAX_EVENTS, (int)wait_ms);
	for (int i = 0; i < n; i++) {
		struct evloop_source *src = events[i].data.ptr;

		src->fn(src->arg, events[i].events);
	}
	/* A hook may remove itself while it runs: take next first. */
	for (struct evloop_hook *h = loop->hooks, *next; h; h = next) {
		next = h->next;
		h->run(h->arg);
	}
	atomic_fetch_add_explicit(&loop->turns, 1, memory_order_relaxed);
	return n > 0 ? n : 0;
}

void evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is already non-zero, the loop will wake. */
	if (write(loop->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

uint64_t evloop_turns(const struct evloop *loop)
{
	return atomic_load_explicit(&loop->turns, memory_order_relaxed);
}
