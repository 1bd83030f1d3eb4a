/*
 * Glue between a virtio-net device and an MMDS stack. The stack is pure (no clock, no
 * descriptors); here it gets the monotonic clock, its sequence numbers from getrandom(),
 * and a timerfd on the event loop armed at its next deadline, which kicks the device's
 * receive side so a due retransmission goes out although the guest sent nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mmds_link.h"
#include "../mmds/mmds.h"
#include "../util/eventloop.h"
#include "../util/log.h"
#include "../util/util.h"
#include "../virtio/net.h"

struct mmds_link {
	struct mmds_stack *stack;
	struct virtio_net *net;
	struct event_loop *loop;
	struct logger *log;
	struct event_source timer_src;
	uint64_t armed_ms; /* the deadline the timer is set for; UINT64_MAX: disarmed */
	struct mmds_link **slot;
};

static uint64_t link_now_ms(void)
{
	return now_us() / 1000;
}

static uint32_t link_isn(void *opaque)
{
	uint32_t isn = 0;

	(void)opaque;
	/* getrandom of 4 bytes does not block once the pool is ready, which it is by boot. */
	if (getrandom(&isn, sizeof(isn), GRND_NONBLOCK) != sizeof(isn))
		isn = (uint32_t)now_us() * 2654435761u;
	return isn;
}

/*
 * When a deadline has passed and the stack still was not asked (the device is stopped, or
 * a frame already waits for guest buffers), look again this much later, not at once: a
 * timer set in the past would fire in a loop.
 */
#define LINK_RETRY_MS 50

/* Set the timer to the stack's deadline, if that moved. */
static void link_arm(struct mmds_link *l)
{
	uint64_t deadline = mmds_stack_deadline(l->stack), now = link_now_ms();
	struct itimerspec its = { 0 };

	if (deadline != UINT64_MAX && deadline <= now)
		deadline = now + LINK_RETRY_MS;

	if (deadline == l->armed_ms)
		return;
	if (deadline != UINT64_MAX) {
		/* CLOCK_MONOTONIC, absolute: the same clock as now_us(). */
		its.it_value.tv_sec = deadline / 1000;
		its.it_value.tv_nsec = (deadline % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(l->timer_src.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		l->armed_ms = deadline;
	else
		log_warn(l->log, "mmds: timerfd_settime");
}

static void link_timer(void *opaque, uint32_t events)
{
	struct mmds_link *l = opaque;
	uint64_t expirations;

	(void)events;
	if (read(l->timer_src.fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn(l->log, "mmds: timerfd read");
	virtio_net_detour_kick(l->net);
}

/*
 * Under the device's lock, as every other use of the stack and the timer (a reset comes
 * on a vCPU thread): the timer fired, so it is set again from the stack's deadline. A
 * kick of a stopped device asks nothing of the stack, and the timer must not be lost then.
 */
static void link_kick(void *opaque)
{
	struct mmds_link *l = opaque;

	l->armed_ms = UINT64_MAX;
	link_arm(l);
}

static bool link_wants(void *opaque, const uint8_t *head, size_t len)
{
	struct mmds_link *l = opaque;

	return mmds_stack_wants(l->stack, head, len);
}

static void link_take(void *opaque, const uint8_t *frame, size_t len, bool csum_partial)
{
	struct mmds_link *l = opaque;

	mmds_stack_take(l->stack, frame, len, csum_partial, link_now_ms());
	link_arm(l);
}

static size_t link_next(void *opaque, uint8_t *buf, size_t size)
{
	struct mmds_link *l = opaque;
	size_t n = mmds_stack_next_frame(l->stack, buf, size, link_now_ms());

	link_arm(l);
	return n;
}

static void link_reset(void *opaque)
{
	struct mmds_link *l = opaque;

	mmds_stack_reset(l->stack);
	link_arm(l);
}

static void link_free(struct mmds_link *l)
{
	if (l->timer_src.fd >= 0) {
		event_loop_del(l->loop, &l->timer_src);
		close(l->timer_src.fd);
	}
	mmds_stack_destroy(l->stack);
	if (l->slot)
		*l->slot = NULL;
	free(l);
}

static void link_destroy(void *opaque)
{
	link_free(opaque);
}

static const struct net_detour_ops link_ops = {
	.wants = link_wants,
	.take = link_take,
	.next = link_next,
	.reset = link_reset,
	.kick = link_kick,
	.destroy = link_destroy,
	.peek = MMDS_PEEK_LEN,
};

int mmds_link_attach(struct virtio_net *net, struct event_loop *loop, struct logger *log,
		     struct mmds *mmds, const char *ipv4, struct mmds_link **slot)
{
	struct mmds_link *l = calloc(1, sizeof(*l));
	struct in_addr addr;
	int ret;

	if (!l)
		return -ENOMEM;
	l->net = net;
	l->loop = loop;
	l->log = log;
	l->armed_ms = UINT64_MAX;
	l->timer_src = (struct event_source){ -1, link_timer, l };
	if (inet_pton(AF_INET, ipv4, &addr) != 1) {
		ret = -EINVAL;
		goto err;
	}
	l->stack = mmds_stack_create(addr.s_addr, mmds_serve, link_isn, mmds);
	if (!l->stack) {
		ret = -ENOMEM;
		goto err;
	}
	l->timer_src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timer_src.fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = event_loop_add(loop, &l->timer_src, EPOLLIN);
	if (ret) {
		close(l->timer_src.fd);
		l->timer_src.fd = -1;
		goto err;
	}
	ret = virtio_net_set_detour(net, &link_ops, l);
	if (ret)
		goto err;
	l->slot = slot;
	*slot = l;
	return 0;
err:
	link_free(l);
	return ret;
}

void mmds_link_stats_add(const struct mmds_link *l, struct mmds_stack_stats *sum)
{
	struct mmds_stack_stats s;
	uint64_t *to = (uint64_t *)sum;
	const uint64_t *from = (const uint64_t *)&s;
	size_t i;

	mmds_stack_stats(l->stack, &s);
	for (i = 0; i < sizeof(s) / sizeof(uint64_t); i++)
		to[i] += from[i];
}
