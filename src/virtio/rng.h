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

#endif
