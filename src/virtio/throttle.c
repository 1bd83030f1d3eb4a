#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "throttle.h"
#include "virtio.h"
#include "../snapshot/stream.h"
#include "../util/log.h"
#include "../util/util.h"

static void throttle_timer(void *opaque, uint32_t events)
{
	struct throttle *t = opaque;
	uint64_t expirations;

	(void)events;
	if (read(t->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&t->vd->lock);
	if (t->waiting) {
		t->waiting = false;
		if (virtio_dev_running(t->vd))
			t->resume(t->vd);
	}
	pthread_mutex_unlock(&t->vd->lock);
}

int throttle_init(struct throttle *t, const struct throttle_config *cfg, struct event_loop *loop,
		  struct virtio_dev *vd, void (*resume)(struct virtio_dev *vd))
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->timer_fd = -1;
	t->loop = loop;
	t->vd = vd;
	t->resume = resume;
	ret = rate_limiter_init(&t->rl, &cfg->bandwidth, &cfg->ops, rate_limiter_now_ns());
	if (ret)
		return ret;
	t->cfg = *cfg;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->timer_fd < 0)
		return -errno;
	t->src = (struct event_source){ t->timer_fd, throttle_timer, t };
	ret = event_loop_add(loop, &t->src, EPOLLIN);
	if (ret) {
		close(t->timer_fd);
		t->timer_fd = -1;
	}
	return ret;
}

void throttle_destroy(struct throttle *t)
{
	if (t->timer_fd < 0)
		return;
	event_loop_del(t->loop, &t->src);
	close(t->timer_fd);
	t->timer_fd = -1;
}

bool throttle_allow(struct throttle *t, uint64_t bytes)
{
	struct itimerspec its = { 0 };
	uint64_t now, wait;

	/* The common case costs no clock read. */
	if (rate_limiter_is_unlimited(&t->rl))
		return true;
	now = rate_limiter_now_ns();
	if (rate_limiter_consume(&t->rl, now, bytes, 1))
		return true;
	/* A zero it_value would disarm the timer and strand the queue. */
	wait = rate_limiter_next_refill_ns(&t->rl, now, bytes, 1) ?: 1;
	its.it_value.tv_sec = wait / 1000000000ULL;
	its.it_value.tv_nsec = wait % 1000000000ULL;
	if (timerfd_settime(t->timer_fd, 0, &its, NULL) < 0)
		log_warn(t->vd->log, "throttle: timerfd_settime");
	t->waiting = true;
	t->throttled++;
	return false;
}

static bool bucket_cfg_equal(const struct token_bucket_cfg *a, const struct token_bucket_cfg *b)
{
	return a->size == b->size && a->refill_time_ms == b->refill_time_ms &&
	       a->one_time_burst == b->one_time_burst;
}

int throttle_update(struct throttle *t, const struct throttle_config *cfg)
{
	/* The same expiry as a refill: the timer handler resumes the queue, as it would then. */
	struct itimerspec now = { .it_value.tv_nsec = 1 };
	const struct token_bucket_cfg *bw = &cfg->bandwidth, *ops = &cfg->ops;
	int ret;

	/* NULL: rate_limiter_update keeps that bucket as it is, tokens and all. */
	if (bucket_cfg_equal(bw, &t->cfg.bandwidth))
		bw = NULL;
	if (bucket_cfg_equal(ops, &t->cfg.ops))
		ops = NULL;
	ret = rate_limiter_update(&t->rl, bw, ops, rate_limiter_now_ns());
	if (ret)
		return ret;
	t->cfg = *cfg;
	if (t->waiting && t->timer_fd >= 0 && timerfd_settime(t->timer_fd, 0, &now, NULL) < 0)
		log_warn(t->vd->log, "throttle: timerfd_settime");
	return 0;
}

static void bucket_save(const struct token_bucket *tb, uint64_t now, struct snap_writer *w)
{
	struct token_bucket_state s;

	token_bucket_get_state(tb, now, &s);
	snap_put_u64(w, s.one_time_burst);
	snap_put_u64(w, s.budget);
	snap_put_u64(w, s.debt);
}

void throttle_save(const struct throttle *t, struct snap_writer *w)
{
	uint64_t now = rate_limiter_now_ns();

	bucket_save(&t->rl.bandwidth, now, w);
	bucket_save(&t->rl.ops, now, w);
}

static void bucket_read(struct snap_cursor *c, struct token_bucket_state *s)
{
	s->one_time_burst = snap_get_u64(c);
	s->budget = snap_get_u64(c);
	s->debt = snap_get_u64(c);
}

int throttle_restore(struct throttle *t, struct snap_cursor *c)
{
	struct token_bucket_state bw, ops;
	struct rate_limiter rl = t->rl;
	uint64_t now = rate_limiter_now_ns();

	bucket_read(c, &bw);
	bucket_read(c, &ops);
	if (c->bad)
		return -EINVAL;
	if (token_bucket_set_state(&rl.bandwidth, &bw, now) ||
	    token_bucket_set_state(&rl.ops, &ops, now)) {
		snap_cursor_fail(c, "rate limiter");
		return -EINVAL;
	}
	t->rl = rl;
	return 0;
}
