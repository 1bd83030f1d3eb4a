#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "eventloop.h"
#include "util.h"

#define EVENTS_PER_WAIT 32

int event_loop_init(struct event_loop *loop)
{
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
}

static int event_loop_ctl(struct event_loop *loop, int op, struct event_source *src,
			  uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epoll_fd, op, src->fd, &ev) < 0 ? -errno : 0;
}

int event_loop_add(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_loop_ctl(loop, EPOLL_CTL_ADD, src, events);
}

int event_loop_modify(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	return event_loop_ctl(loop, EPOLL_CTL_MOD, src, events);
}

int event_loop_del(struct event_loop *loop, struct event_source *src)
{
	return event_loop_ctl(loop, EPOLL_CTL_DEL, src, 0);
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_WAIT];
	int i, n;

	n = epoll_wait(loop->epoll_fd, ev, ARRAY_SIZE(ev), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct event_source *src = ev[i].data.ptr;

		src->fn(src->opaque, ev[i].events);
	}
	return 0;
}
