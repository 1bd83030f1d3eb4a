/* virtio-rng (VIRTIO 1.2, section 5.4): entropy from the host's getrandom(). */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include "throttle.h"
#include "../util/log.h"

struct guest_mem;
struct virtio_dev;
struct virtio_rng;

/* Create the device over (mem), served on (loop), limited by (limit). 0 or -errno. */
int virtio_rng_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, const struct throttle_config *limit,
		      struct virtio_rng **out);

/* The device as its transport sees it. */
struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng);
void virtio_rng_destroy(struct virtio_rng *rng);

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots: the rate limiter's tokens (throttle_save), as fields of a section the caller
 * opened; restore reads them into a device just created from the same configuration, as
 * untrusted input: 0, or -EINVAL with why and the cursor marked bad.
 */
int virtio_rng_save(struct virtio_rng *rng, struct snap_writer *w);
int virtio_rng_restore(struct virtio_rng *rng, struct snap_cursor *c, char *why,
		       size_t why_len);

#endif
