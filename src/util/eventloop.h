/*
 * An epoll event loop. The VMM's main thread runs it: console input, signals, the stop
 * request and every virtio queue notification arrive here, never on a vCPU thread.
 */
#ifndef EMBER_UTIL_EVENTLOOP_H
#define EMBER_UTIL_EVENTLOOP_H

#include <stdint.h>

/* Called with the epoll events (EPOLLIN...) that fired on the source's fd. */
typedef void (*event_fn)(void *opaque, uint32_t events);

/* Owned by the caller and must outlive its registration. */
struct event_source {
	int fd;
	event_fn fn;
	void *opaque;
};

struct event_loop {
	int epoll_fd;
};

int event_loop_init(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

/* Watch (src->fd) for (events); call src->fn when they fire. 0 or -errno. */
int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events);

/* Change what (src) is watched for; 0 events keeps it registered but silent. 0 or -errno. */
int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events);

/* Stop watching (src). 0 or -errno. */
int event_loop_del(struct event_loop *loop, struct event_source *src);

/* Wait up to (timeout_ms) (-1: forever) and dispatch what fired. 0 or -errno (not EINTR). */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);

#endif
