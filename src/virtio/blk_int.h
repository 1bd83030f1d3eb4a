/*
 * Private to blk.c (the device and its life cycle), blk_req.c (the request path) and the
 * unit tests that build a device by hand: a virtio-blk device's state, its requests and
 * the wire format. Moving the data is the I/O engine's job (io_engine.h), which knows
 * nothing of any of this.
 *
 * Threads: the event loop pops and starts requests (queue_notify, vd.lock held) and
 * reaps io_uring completions (blk_io_ready, which takes vd.lock); a vCPU thread resets
 * the device (vd.lock held) and then waits for every request still in flight. vd.lock
 * therefore guards the request pool and the engine. Lock order: vd.lock is the only lock
 * taken here, and nothing blk does under it takes another.
 */
#ifndef EMBER_VIRTIO_BLK_INT_H
#define EMBER_VIRTIO_BLK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "blk.h"
#include "io_engine.h"
#include "virtio.h"
#include "../util/eventloop.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 (1u << BLK_SECTOR_SHIFT)

/* Feature bits (section 5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

/* Request types and status values (section 5.2.6). */
#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_NONE   UINT32_MAX /* ours: no readable header yet */

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* The request header, at the start of the device-readable buffers. */
struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Device configuration space (section 5.2.4), little-endian like every host we run on. */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
} __attribute__((packed));

/*
 * One request from pop to push. It lives in the device's pool, so the iovecs the kernel
 * reads for an io_uring readv/writev stay put until the request completes.
 */
struct blk_req {
	struct virtq_elem elem;
	uint32_t type;
	/*
	 * The data part: where in the image, the buffers still to move (a tail of elem.iov)
	 * and the bytes moved so far. IN, OUT and FLUSH go to the engine as they are;
	 * GET_ID uses the buffers and (done) only.
	 */
	struct io_op io;
	uint8_t *status; /* the status byte, in guest RAM */
};

struct virtio_blk {
	struct virtio_dev vd;
	struct disk_config *cfg; /* the caller's; path and limit follow virtio_blk_update */
	int fd;
	uint64_t capacity; /* 512-byte sectors: a partial last sector is not addressable */
	char id[BLK_ID_BYTES];
	struct blk_config config;

	/*
	 * The request pool, guarded by vd.lock. However the driver fills its ring, at most
	 * VIRTQ_MAX_SIZE requests are in flight; (free) stacks the idle ones' indices.
	 */
	struct blk_req *reqs;
	uint16_t free[VIRTQ_MAX_SIZE];
	unsigned int nr_free;
	bool stalled; /* the pool ran dry with chains left: completions resume the queue */
	struct throttle throttle;

	struct io_engine io;  /* guarded by vd.lock */
	bool io_error_logged; /* the first host I/O error is a warning, the rest debug */

	struct blk_metrics metrics; /* written on the event loop thread only */
};

/*
 * blk_req.c: the request path. All but blk_io_init run with vd.lock held.
 */

/*
 * Check the request in (req->elem) against a disk of (capacity) sectors, read-only if
 * (ro): find the status byte and the data buffers and set req's fields. Returns -EINVAL
 * when the chain has no writable byte for a status (the device must fail), else 0 with
 * (*status) VIRTIO_BLK_S_OK if the request should run, or the status to answer with now.
 * A refused request is logged to (log) at debug level.
 */
int blk_req_parse(struct blk_req *req, uint64_t capacity, bool ro, struct logger *log,
		  uint8_t *status);

/* Take an idle request from (blk)'s pool, or NULL if all are in flight. */
struct blk_req *blk_req_get(struct virtio_blk *blk);

/* Pop and start what the driver queued. */
void blk_queue_process(struct virtio_blk *blk);

/* Requests came back to a pool that had run dry: take up the chains left in the ring. */
void blk_restart_stalled(struct virtio_blk *blk);

/*
 * Pick (blk)'s I/O engine: io_uring, with completions on an eventfd in (loop), unless
 * EMBER_BLK_SYNC=1 or the host refuses io_uring. Returns 0 or -errno.
 */
int blk_io_init(struct virtio_blk *blk, struct event_loop *loop);

/*
 * Let every request in flight finish and answer it as usual (it is not dropped), waiting
 * at most (timeout_ms) in all: before the image changes under the engine. Returns 0 when
 * nothing is in flight any more, -ETIMEDOUT (some still are) or -errno from io_uring.
 * Nothing is ever in flight with the synchronous engine.
 */
int blk_io_quiesce(struct virtio_blk *blk, unsigned int timeout_ms);

#endif
