/*
 * A device queue's rate limiter, tied to the event loop: a request the token buckets
 * refuse waits for a timerfd set to when enough tokens will be there, never for polling.
 */
#ifndef EMBER_VIRTIO_THROTTLE_H
#define EMBER_VIRTIO_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/eventloop.h"
#include "../util/ratelimit.h"

struct virtio_dev;

/* The limits for one queue; a bucket with size 0 is unlimited. */
struct throttle_config {
	struct token_bucket_cfg bandwidth;
	struct token_bucket_cfg ops;
};

struct throttle {
	struct rate_limiter rl;
	struct event_loop *loop;
	int timer_fd;
	struct event_source src;
	bool waiting; /* a request was refused; the timer will call (resume) */
	struct virtio_dev *vd;
	void (*resume)(struct virtio_dev *vd);
	uint64_t throttled; /* requests that had to wait, for metrics */
};

/*
 * Parse "bw=SIZE:REFILL_MS[:BURST],ops=SIZE:REFILL_MS[:BURST]" (either part optional)
 * from the start of (s) up to (end) or the string's end. 0 or -EINVAL.
 */
int throttle_config_parse(const char *s, struct throttle_config *cfg);

/* Parse one bucket, "SIZE:REFILL_MS[:BURST]". 0 or -EINVAL. */
int throttle_bucket_parse(const char *s, struct token_bucket_cfg *b);

/*
 * Set up (t) with (cfg) on (loop). When a refused request may go, (resume)(vd) is called
 * on the event loop with vd->lock held. 0 or -errno.
 */
int throttle_init(struct throttle *t, const struct throttle_config *cfg, struct event_loop *loop,
		  struct virtio_dev *vd, void (*resume)(struct virtio_dev *vd));
void throttle_destroy(struct throttle *t);

/*
 * Whether a request of (bytes) and one operation may go now; if not, the timer is armed
 * and the caller must put the request back and stop. Always true when unlimited.
 */
bool throttle_allow(struct throttle *t, uint64_t bytes);

/* Change the limits at run time. 0 or -EINVAL (nothing changed). */
int throttle_update(struct throttle *t, const struct throttle_config *cfg);

#endif
