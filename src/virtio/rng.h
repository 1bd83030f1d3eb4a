/* virtio-rng (VIRTIO 1.2, section 5.4): entropy from the host's getrandom(). */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include "throttle.h"

struct vm;
struct virtio_rng;

/* Create the device, limited by (limit), and put it on (vm)'s MMIO bus. 0 or -errno. */
int virtio_rng_create(struct vm *vm, const struct throttle_config *limit,
		      struct virtio_rng **out);
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
