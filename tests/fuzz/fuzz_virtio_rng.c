/*
 * libFuzzer target: virtio-rng driven by a hostile driver (virtio_driver.h); the fuzzer's
 * bytes are the driver's script. A tight rate limit half the time, so requests also wait
 * on the throttle's timer and are resumed from the event loop.
 */
#include <stdlib.h>

#include "virtio/rng.h"
#include "virtio_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct throttle_config limit = { 0 };
	struct fuzz_driver *d = malloc(sizeof(*d));
	struct virtio_rng *rng;

	if (!d || fuzz_driver_init(d)) {
		free(d);
		return 0;
	}
	if (bin_u8(&s) & 1) {
		limit.bandwidth.size = 1 + bin_u16(&s);
		limit.bandwidth.refill_time_ms = 1;
		limit.ops.size = bin_u8(&s);
		limit.ops.refill_time_ms = 1;
	}
	if (!virtio_rng_create(&d->mem, &d->loop, &d->log, &limit, &rng)) {
		fuzz_driver_attach(d, virtio_rng_dev(rng));
		fuzz_driver_run(d, &s);
		virtio_rng_destroy(rng);
	}
	fuzz_driver_destroy(d);
	free(d);
	return 0;
}
