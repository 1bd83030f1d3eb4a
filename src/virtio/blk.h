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
#include <stdint.h>

#include "throttle.h"
#include "../util/log.h"
#include "../config/devices.h"


struct event_loop;
struct guest_mem;
struct virtio_blk;
struct virtio_dev;


/*
 * Cumulative counters of one disk, named after Firecracker's block metrics. Requests are
 * counted when they are answered.
 */
struct blk_metrics {
	/* Reads and writes answered OK, and the data bytes they moved. */
	uint64_t read_count, write_count;
	uint64_t read_bytes, write_bytes;
	/* Flushes answered OK (with cache=unsafe too, where they do nothing). */
	uint64_t flush_count;
	/* Refused before any I/O: bad header, out of range, write to a read-only disk, type
	 * not supported, no status byte. */
	uint64_t invalid_reqs_count;
	/* Host I/O errors, answered VIRTIO_BLK_S_IOERR. */
	uint64_t execute_fails;
	/* Requests that had to wait for the rate limiter's tokens. */
	uint64_t rate_limiter_throttled_events;
	/* The io_uring submission ring was found full (Firecracker's meaning; never expected:
	 * the ring has a slot per request). */
	uint64_t io_engine_throttled_events;
	/* virtio_blk_update calls that changed something / that failed (nothing changed). */
	uint64_t update_count, update_fails;
};

/*
 * Open the image of (cfg), which must outlive the device, and create a virtio-blk device
 * for it over (mem), served on (loop); (index) numbers the disk for its default serial.
 * 0 and (*out), or -errno with the reason in (why, why_len) when it is the image's. The
 * device writes cfg->path and cfg->limit when virtio_blk_update changes them, so (cfg)
 * always says what is in force.
 */
int virtio_blk_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, struct disk_config *cfg, unsigned int index,
		      struct virtio_blk **out, char *why, size_t why_len);

/* The device as its transport sees it. */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk);

/*
 * Firecracker's PATCH /drives/{id}, on the event loop thread, device running or not.
 * (path) non-NULL: open it (read-only if the disk is), let the requests already in flight
 * on the old image finish (answered to the guest as usual; the event loop and any vCPU
 * touching this device's registers wait for them, a second at most), then close the old
 * image and serve every later request from the new one, with the capacity in the config
 * space updated and, once the driver is up, a configuration-change interrupt so the guest
 * re-reads it. The same path again re-opens it (to pick up a resized image); (path) may be
 * cfg->path itself. (limit) non-NULL: replace the token buckets (see throttle_update); a
 * request waiting for tokens is re-evaluated at once. Both NULL: nothing to do, 0.
 * All or nothing: on failure nothing changed and the old image is still in use.
 * Returns 0, or: -EINVAL (limit out of range, or (path) is not a regular file or block
 * device), -ENAMETOOLONG, -errno of open()/fstat() on (path) (logged with the path), or
 * -ETIMEDOUT (the old image's requests did not finish in time; try again later).
 */
int virtio_blk_update(struct virtio_blk *blk, const char *path,
		      const struct throttle_config *limit);

/* A snapshot of (blk)'s counters. On the event loop thread, which is the only one writing them. */
void virtio_blk_metrics(const struct virtio_blk *blk, struct blk_metrics *out);

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots, on the event loop thread with the vCPUs paused. Save: first let every request
 * in flight finish and answer it (so no request is half done in the saved guest memory and
 * rings; the wait is bounded, -ETIMEDOUT past it, with nothing saved), then the serial
 * GET_ID answers (the guest has seen it: it stays the disk's even where the configuration
 * would name the disk otherwise) and the rate limiter's tokens, as fields of a section the
 * caller opened. The image, its path and its limits are configuration. Restore reads the tokens into a disk just created from the
 * configuration, as untrusted input: 0, or -EINVAL with why and the cursor marked bad.
 */
int virtio_blk_save(struct virtio_blk *blk, struct snap_writer *w);
int virtio_blk_restore(struct virtio_blk *blk, struct snap_cursor *c, char *why,
		       size_t why_len);

/* Wait for the requests still in flight, then free (blk) and close its image. NULL is a no-op. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
