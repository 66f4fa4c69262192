/* evloop.h: a minimal per-thread event loop on epoll, shared by the modules
 * that one worker thread drives together (its libmicrohttpd daemon and its
 * DynamoDB connections), so a request is read, sent upstream, answered and
 * written on one thread. Not thread-safe: a loop belongs to the thread that
 * turns it; the only cross-thread entry is evloop_wake. */
#ifndef SESSIOND_EVLOOP_H
#define SESSIOND_EVLOOP_H

#include <stdint.h>

#include "sessiond/error.h"

struct evloop;

/* A watched file descriptor. The memory is the caller's and must stay put
 * while watched; fn runs on the loop's thread with the epoll events seen. */
struct evloop_source {
	int fd;
	void (*fn)(void *arg, uint32_t events);
	void *arg;
};

/* Work that runs once per turn, after the ready sources were dispatched:
 * timers and queued work. timeout_ms says how long the loop may sleep before
 * run is due (-1: no limit of its own). The memory is the caller's. */
struct evloop_hook {
	long (*timeout_ms)(void *arg);
	void (*run)(void *arg);
	void *arg;
	struct evloop_hook *next; /* the loop's list */
};

/* NULL when out of memory or descriptors. */
struct evloop *evloop_new(void);
/* Accepts NULL. Sources and hooks still registered are simply forgotten. */
void evloop_free(struct evloop *loop);

/* Start, change or stop watching src->fd for events (EPOLLIN, EPOLLOUT...). */
enum error_code evloop_add(struct evloop *loop, struct evloop_source *src, uint32_t events);
enum error_code evloop_mod(struct evloop *loop, struct evloop_source *src, uint32_t events);
void evloop_del(struct evloop *loop, struct evloop_source *src);

/* Hooks run in the order they were added. */
void evloop_add_hook(struct evloop *loop, struct evloop_hook *hook);
void evloop_del_hook(struct evloop *loop, struct evloop_hook *hook);

/* One turn: waits up to max_wait_ms (or less, as the hooks ask; 0 polls)
 * for events, dispatches them, then runs every hook. Returns the number of
 * sources dispatched. A wake (evloop_wake) ends the wait early. */
int evloop_turn(struct evloop *loop, long max_wait_ms);

/* Ends the current or next wait of loop's thread early. Any thread;
 * async-signal-safe. */
void evloop_wake(struct evloop *loop);

/* Turns completed so far; any thread may read it (the watchdog). */
uint64_t evloop_turns(const struct evloop *loop);

#endif
