/*
 * virtio-blk requests, from the ring to the disk and back: check each chain, answer what
 * needs no disk at once, hand reads, writes and flushes to the I/O engine (io_engine.c)
 * and answer them as it hands them back through blk_io_ops. The pool of requests in
 * flight, and the rule that a dry pool stalls the queue until requests come back.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blk_int.h"
#include "../util/log.h"
#include "../util/util.h"

_Static_assert(sizeof(struct blk_req_hdr) == 16, "virtio_blk_req header is 16 bytes");

/* Drop the first (n) bytes of the buffers (*iov, *nr): both move past what is consumed. */
static void iov_skip(struct iovec **iov, unsigned int *nr, uint64_t n)
{
	while (*nr && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*nr)--;
	}
	if (*nr && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

int blk_req_parse(struct blk_req *req, uint64_t capacity, bool ro, struct logger *log,
		  uint8_t *status)
{
	struct virtq_elem *e = &req->elem;
	struct blk_req_hdr hdr;
	struct iovec *last;
	uint64_t off, end;

	req->type = VIRTIO_BLK_T_NONE;
	req->io = (struct io_op){ 0 };
	req->status = NULL;
	if (!e->nr_in)
		return -EINVAL;
	/*
	 * The status is the very last writable byte, wherever the driver put the boundary
	 * between data and status: take it out of the data buffers. The walker drops empty
	 * buffers, so the last one holds at least that byte.
	 */
	last = &e->iov[e->nr_out + e->nr_in - 1];
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (--last->iov_len == 0)
		e->nr_in--;
	e->in_len--;

	*status = VIRTIO_BLK_S_IOERR;
	if (virtq_elem_read(e, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		log_debug(log, "virtio-blk: request header shorter than %zu bytes", sizeof(hdr));
		return 0;
	}
	req->type = hdr.type;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		/* Readable bytes past the header carry nothing for a read; ignore them. */
		req->io.type = IO_OP_READ;
		req->io.iov = e->iov + e->nr_out;
		req->io.nr_iov = e->nr_in;
		req->io.len = e->in_len;
		break;
	case VIRTIO_BLK_T_OUT:
		if (ro) {
			log_debug(log, "virtio-blk: write to a read-only disk refused");
			return 0;
		}
		req->io.type = IO_OP_WRITE;
		req->io.iov = e->iov;
		req->io.nr_iov = e->nr_out;
		req->io.len = e->out_len - sizeof(hdr);
		iov_skip(&req->io.iov, &req->io.nr_iov, sizeof(hdr));
		break;
	case VIRTIO_BLK_T_GET_ID:
		req->io.iov = e->iov + e->nr_out;
		req->io.nr_iov = e->nr_in;
		req->io.len = e->in_len;
		*status = VIRTIO_BLK_S_OK;
		return 0;
	case VIRTIO_BLK_T_FLUSH:
		req->io.type = IO_OP_FLUSH;
		*status = VIRTIO_BLK_S_OK;
		return 0;
	default:
		log_debug(log, "virtio-blk: request type %u unsupported", hdr.type);
		*status = VIRTIO_BLK_S_UNSUPP;
		return 0;
	}
	/* Sector-sized transfers within the disk; (capacity) came from a byte size. */
	if (req->io.len % BLK_SECTOR_SIZE ||
	    __builtin_mul_overflow(hdr.sector, BLK_SECTOR_SIZE, &off) ||
	    __builtin_add_overflow(off, req->io.len, &end) || end > capacity << BLK_SECTOR_SHIFT) {
		log_debug(log,
			  "virtio-blk: %s of %llu bytes at sector %llu refused (capacity %llu)",
			  hdr.type == VIRTIO_BLK_T_IN ? "read" : "write",
			  (unsigned long long)req->io.len, (unsigned long long)hdr.sector,
			  (unsigned long long)capacity);
		req->io.len = 0;
		return 0;
	}
	req->io.offset = off;
	*status = VIRTIO_BLK_S_OK;
	return 0;
}

struct blk_req *blk_req_get(struct virtio_blk *blk)
{
	return blk->nr_free ? &blk->reqs[blk->free[--blk->nr_free]] : NULL;
}

static void blk_req_put(struct virtio_blk *blk, struct blk_req *req)
{
	blk->free[blk->nr_free++] = req - blk->reqs;
}

/* Write (status) for (req), return it to the driver and put it back in the pool. */
static void blk_req_finish(struct virtio_blk *blk, struct blk_req *req, uint8_t status)
{
	/* Used length: the bytes written into the driver's buffers, status included. */
	uint64_t written = req->type == VIRTIO_BLK_T_OUT ? 0 : req->io.done;

	if (status == VIRTIO_BLK_S_OK) {
		switch (req->type) {
		case VIRTIO_BLK_T_IN:
			blk->metrics.read_count++;
			blk->metrics.read_bytes += req->io.done;
			break;
		case VIRTIO_BLK_T_OUT:
			blk->metrics.write_count++;
			blk->metrics.write_bytes += req->io.done;
			break;
		case VIRTIO_BLK_T_FLUSH:
			blk->metrics.flush_count++;
			break;
		default:
			break;
		}
	}
	*req->status = status;
	virtq_push(&blk->vd.queues[0], &req->elem, (uint32_t)MIN(written + 1, UINT32_MAX));
	blk_req_put(blk, req);
}

/* Whether (req), checked and fine, needs the engine: data to move, or a flush to honour. */
static bool blk_req_needs_io(const struct virtio_blk *blk, const struct blk_req *req)
{
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return req->io.len != 0;
	case VIRTIO_BLK_T_FLUSH:
		/* cache=unsafe: the host's page cache may keep the data; say it is done. */
		return blk->cfg->cache == BLK_CACHE_WRITEBACK;
	default:
		return false;
	}
}

/*
 * A host I/O error (errno (err); IO_OP_EOF: the image ended first) is the image's problem,
 * not the guest's: say so once, loudly. Returns the status that answers (req).
 */
static uint8_t blk_io_failed(struct virtio_blk *blk, const struct blk_req *req, int err)
{
	const char *what = req->type == VIRTIO_BLK_T_IN	   ? "read"
			   : req->type == VIRTIO_BLK_T_OUT ? "write"
							   : "flush";
	const char *why = err == IO_OP_EOF ? "end of file" : strerror(err);

	blk->metrics.execute_fails++;
	if (!blk->io_error_logged)
		log_warnx(blk->vd.log, "virtio-blk %s: %s at byte %llu: %s", blk->cfg->path, what,
			  (unsigned long long)req->io.offset, why);
	else
		log_debug(blk->vd.log, "virtio-blk %s: %s at byte %llu: %s", blk->cfg->path, what,
			  (unsigned long long)req->io.offset, why);
	blk->io_error_logged = true;
	return VIRTIO_BLK_S_IOERR;
}

/* The status that answers (req) when the engine's result is (err), 0 or -errno. */
static uint8_t blk_io_status(struct virtio_blk *blk, const struct blk_req *req, int err)
{
	return err ? blk_io_failed(blk, req, -err) : VIRTIO_BLK_S_OK;
}

/* Start (req): 1 if it was answered already, 0 if in flight, -EINVAL if the device failed. */
static int blk_req_start(struct virtio_blk *blk, struct blk_req *req)
{
	uint8_t status;
	int ret;

	if (blk_req_parse(req, blk->capacity, blk->cfg->ro, blk->vd.log, &status)) {
		blk->metrics.invalid_reqs_count++;
		blk_req_put(blk, req);
		virtio_dev_fail(&blk->vd, "request without a status byte");
		return -EINVAL;
	}
	if (status != VIRTIO_BLK_S_OK)
		blk->metrics.invalid_reqs_count++;
	if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_GET_ID) {
		req->io.done =
			virtq_elem_write(&req->elem, 0, blk->id, MIN(req->io.len, BLK_ID_BYTES));
	} else if (status == VIRTIO_BLK_S_OK && blk_req_needs_io(blk, req)) {
		req->io.fd = blk->fd;
		ret = io_engine_start(&blk->io, &req->io);
		if (ret == -EINPROGRESS)
			return 0;
		status = blk_io_status(blk, req, ret);
	}
	blk_req_finish(blk, req, status);
	return 1;
}

/*
 * Start every chain in the ring; (*pushed) tells whether any was answered at once. Returns
 * 0 when the ring is empty, -EBUSY when every request is in flight, -EINVAL if the device
 * failed.
 */
static int blk_queue_pop_all(struct virtio_blk *blk, bool *pushed)
{
	struct virtq *q = &blk->vd.queues[0];
	struct blk_req *req;
	int ret;

	for (;;) {
		req = blk_req_get(blk);
		if (!req)
			return -EBUSY;
		ret = virtq_pop(q, &req->elem);
		if (ret <= 0) {
			blk_req_put(blk, req);
			if (ret < 0)
				virtio_dev_fail(&blk->vd, "malformed request chain");
			return ret;
		}
		/* Out of tokens: put the chain back; the throttle's timer resumes the queue. */
		if (!throttle_allow(&blk->throttle, req->elem.out_len + req->elem.in_len)) {
			virtq_unpop(q, 1);
			blk_req_put(blk, req);
			return -EAGAIN;
		}
		ret = blk_req_start(blk, req);
		if (ret < 0)
			return ret;
		*pushed |= ret;
	}
}

void blk_queue_process(struct virtio_blk *blk)
{
	struct virtq *q = &blk->vd.queues[0];
	bool pushed = false;
	int ret;

	for (;;) {
		ret = blk_queue_pop_all(blk, &pushed);
		/* A dry pool leaves chains in the ring: the next completion comes back for them. */
		blk->stalled = ret == -EBUSY;
		if (ret)
			break;
		/* Re-arm notifications, then look again: the driver may have raced us. */
		virtq_set_notify(q, true);
		if (!virtq_has_avail(q))
			break;
	}
	/* What the kernel finished inside the submit (the page cache) is answered here. */
	if (io_engine_submit_and_reap(&blk->io))
		virtio_dev_signal_queue(&blk->vd, 0);
	if (pushed)
		virtio_dev_signal_queue(&blk->vd, 0);
}

/* The engine hands a request back: (op) is the io of a request in the pool. */
static struct blk_req *blk_req_of(struct io_op *op)
{
	return (struct blk_req *)((char *)op - offsetof(struct blk_req, io));
}

/* The engine is done with a request: answer it. */
static void blk_io_complete(void *opaque, struct io_op *op, int err)
{
	struct virtio_blk *blk = opaque;
	struct blk_req *req = blk_req_of(op);

	blk_req_finish(blk, req, blk_io_status(blk, req, err));
}

/* A reset or teardown waited for the request: the driver forgot it, so no answer. */
static void blk_io_dropped(void *opaque, struct io_op *op)
{
	blk_req_put(opaque, blk_req_of(op));
}

/* Answer what the engine finished and tell the driver. vd.lock held. True if any. */
static bool blk_io_reap(struct virtio_blk *blk)
{
	if (!io_engine_reap(&blk->io))
		return false;
	virtio_dev_signal_queue(&blk->vd, 0);
	return true;
}

void blk_restart_stalled(struct virtio_blk *blk)
{
	if (blk->stalled && blk->nr_free && virtio_dev_running(&blk->vd) &&
	    blk->vd.queues[0].enabled)
		blk_queue_process(blk);
}

/* io_uring completions are waiting (event loop thread). */
static void blk_io_ready(void *opaque)
{
	struct virtio_blk *blk = opaque;

	pthread_mutex_lock(&blk->vd.lock);
	if (blk_io_reap(blk))
		blk_restart_stalled(blk);
	pthread_mutex_unlock(&blk->vd.lock);
}

static const struct io_engine_ops blk_io_ops = {
	.complete = blk_io_complete,
	.dropped = blk_io_dropped,
	.ready = blk_io_ready,
};

int blk_io_init(struct virtio_blk *blk, struct event_loop *loop)
{
	const char *sync = getenv("EMBER_BLK_SYNC");
	struct io_engine_config cfg = {
		.loop = loop,
		.depth = VIRTQ_MAX_SIZE, /* the pool: no more requests are ever in flight */
		.sync = sync && !strcmp(sync, "1"),
		.ops = &blk_io_ops,
		.opaque = blk,
		.log_prefix = "virtio-blk",
		.log_name = blk->cfg->path, /* virtio_blk_update rewrites it in place */
		.log = blk->vd.log,
	};

	if (cfg.sync)
		log_info(blk->vd.log, "virtio-blk %s: synchronous I/O (EMBER_BLK_SYNC=1)",
			 blk->cfg->path);
	return io_engine_init(&blk->io, &cfg);
}

int blk_io_quiesce(struct virtio_blk *blk, unsigned int timeout_ms)
{
	uint64_t deadline_us = now_us() + (uint64_t)timeout_ms * 1000;
	int ret;

	for (;;) {
		/* Answers what completed; the engine submits the rest of short transfers. */
		blk_io_reap(blk);
		if (!blk->io.in_flight)
			return 0;
		ret = io_engine_wait(&blk->io, deadline_us);
		if (ret)
			return ret;
	}
}
