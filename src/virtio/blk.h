/*
 * virtio-blk (VIRTIO 1.2, section 5.2) over a raw image file or a host block device.
 * Requests run on io_uring so the event loop never waits for the disk; where io_uring is
 * unavailable (or EMBER_BLK_SYNC=1) they run synchronously on the event loop instead.
 */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "throttle.h"

#define BLK_ID_BYTES 20 /* a GET_ID answer: the serial, NUL-padded (section 5.2.6) */

/* Firecracker's cache_type. */
enum blk_cache {
	BLK_CACHE_UNSAFE,    /* FLUSH is acknowledged without syncing (the default) */
	BLK_CACHE_WRITEBACK, /* FLUSH syncs the image, so acknowledged writes are durable */
};

/* One --disk PATH[,ro][,id=SERIAL][,cache=unsafe|writeback]. */
struct disk_config {
	char path[PATH_MAX];
	char serial[BLK_ID_BYTES + 1]; /* "": a default made from the disk's index */
	bool ro;
	enum blk_cache cache;
	struct throttle_config limit; /* bw= (bytes) and ops= (requests) token buckets */
};

struct vm;
struct virtio_blk;

/*
 * Parse the --disk argument (spec) into (cfg). The path runs to the first comma, so a path
 * containing one cannot be given. Returns 0, or -EINVAL with a reason in (why, why_len).
 */
int blk_parse_option(const char *spec, struct disk_config *cfg, char *why, size_t why_len);

/*
 * Open the image of (cfg), which must outlive the device, and put a virtio-blk device for
 * it on (vm)'s MMIO bus; (index) numbers the disk for its default serial. Logs the reason
 * and returns -errno on failure, else 0 and sets (*out).
 */
int virtio_blk_create(struct vm *vm, const struct disk_config *cfg, unsigned int index,
		      struct virtio_blk **out);

/* Wait for the requests still in flight, then free (blk) and close its image. NULL is a no-op. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
