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
#include "../config/devices.h"

struct virtio_dev;
struct snap_writer;
struct snap_cursor;


struct throttle {
	struct rate_limiter rl;
	struct throttle_config cfg; /* the limits in force, as last given */
	struct event_loop *loop;
	int timer_fd;
	struct event_source src;
	bool waiting; /* a request was refused; the timer will call (resume) */
	struct virtio_dev *vd;
	void (*resume)(struct virtio_dev *vd);
	uint64_t throttled; /* requests that had to wait, for metrics */
};


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


/*
 * Change the limits at run time (PATCH), with the device's vd->lock held. A bucket whose
 * limits differ from those in force starts afresh (full, with its new one-time burst); a
 * bucket given the same limits keeps its state, so re-sending the old limits for the part
 * that did not change costs nothing. If a request was waiting for tokens, it is tried
 * again on the next event loop turn under the new limits (resume is called then).
 * 0 or -EINVAL (nothing changed).
 */
int throttle_update(struct throttle *t, const struct throttle_config *cfg);

/*
 * Snapshots: the tokens of both buckets (token_bucket_state), as fields of a section the
 * caller opened. The limits themselves are configuration, restored with it.
 */
void throttle_save(const struct throttle *t, struct snap_writer *w);

/*
 * Read them into (t), made from the same limits, its buckets refilling from now on. A state
 * those limits cannot have marks the cursor bad ("rate limiter") and returns -EINVAL with
 * (t) unchanged. A request that waited for tokens is not remembered: its chain is still in
 * the ring, and the queue is looked at again when the device resumes.
 */
int throttle_restore(struct throttle *t, struct snap_cursor *c);

#endif
