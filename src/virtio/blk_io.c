/*
 * virtio-blk I/O engines. io_uring: readv/writev/fsync straight between the image and
 * the guest's buffers (no copy), completions signalled on an eventfd that the event
 * loop watches, so the loop never waits for the disk. Synchronous: preadv/pwritev/
 * fdatasync on the event loop thread, for hosts without io_uring or EMBER_BLK_SYNC=1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "blk_io.h"
#include "../util/log.h"

/* A host I/O error is the image's problem, not the guest's: say so once, loudly. */
static void blk_io_error(struct virtio_blk *blk, const struct blk_req *req, int err)
{
	const char *what = req->type == VIRTIO_BLK_T_IN	   ? "read"
			   : req->type == VIRTIO_BLK_T_OUT ? "write"
							   : "flush";

	blk->metrics.execute_fails++;
	if (!blk->io_error_logged)
		log_warnx("virtio-blk %s: %s at byte %llu: %s", blk->cfg->path, what,
			  (unsigned long long)req->offset, err ? strerror(err) : "end of file");
	else
		log_debug("virtio-blk %s: %s at byte %llu: %s", blk->cfg->path, what,
			  (unsigned long long)req->offset, err ? strerror(err) : "end of file");
	blk->io_error_logged = true;
}

/* (n) more bytes of (req) moved: step its offset and buffers past them. */
static void blk_io_advance(struct blk_req *req, uint64_t n)
{
	if (n > req->len)
		n = req->len; /* the kernel never moves more than asked; stay safe if it did */
	req->done += n;
	req->len -= n;
	req->offset += n;
	while (req->nr_iov && n >= req->iov->iov_len) {
		n -= req->iov->iov_len;
		req->iov++;
		req->nr_iov--;
	}
	if (req->nr_iov && n) {
		req->iov->iov_base = (uint8_t *)req->iov->iov_base + n;
		req->iov->iov_len -= n;
	}
}

/* The synchronous engine: loop over short transfers until done or failed. */
static uint8_t blk_io_sync(struct virtio_blk *blk, struct blk_req *req)
{
	ssize_t n;

	if (req->type == VIRTIO_BLK_T_FLUSH) {
		if (fdatasync(blk->fd) == 0)
			return VIRTIO_BLK_S_OK;
		blk_io_error(blk, req, errno);
		return VIRTIO_BLK_S_IOERR;
	}
	while (req->len) {
		if (req->type == VIRTIO_BLK_T_IN)
			n = preadv(blk->fd, req->iov, req->nr_iov, req->offset);
		else
			n = pwritev(blk->fd, req->iov, req->nr_iov, req->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* 0: the image shrank under us; without this we would spin. */
			blk_io_error(blk, req, n < 0 ? errno : 0);
			return VIRTIO_BLK_S_IOERR;
		}
		blk_io_advance(req, n);
	}
	return VIRTIO_BLK_S_OK;
}

/* Queue (req)'s next transfer on the ring. 0, or -EBUSY if the ring has no room. */
static int blk_io_queue(struct virtio_blk *blk, struct blk_req *req)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&blk->ring);

	if (!sqe) {
		/* The ring has a slot per pool entry, so this is only a failed earlier submit. */
		blk->metrics.io_engine_throttled_events++;
		blk_io_submit(blk);
		sqe = io_uring_get_sqe(&blk->ring);
		if (!sqe)
			return -EBUSY;
	}
	if (req->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, blk->fd, req->iov, req->nr_iov, req->offset);
	else if (req->type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, blk->fd, req->iov, req->nr_iov, req->offset);
	else
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, req);
	return 0;
}

int blk_io_start(struct virtio_blk *blk, struct blk_req *req)
{
	if (!blk->uring)
		return blk_io_sync(blk, req);
	if (blk_io_queue(blk, req)) {
		blk_io_error(blk, req, EBUSY);
		return VIRTIO_BLK_S_IOERR;
	}
	return -EINPROGRESS;
}

void blk_io_submit(struct virtio_blk *blk)
{
	int ret;

	if (!blk->uring || !io_uring_sq_ready(&blk->ring))
		return;
	do
		ret = io_uring_submit(&blk->ring);
	while (ret == -EINTR);
	/* What the kernel did not take stays queued for the next submit. */
	if (ret < 0)
		log_warnx("virtio-blk %s: io_uring submit: %s", blk->cfg->path, strerror(-ret));
}

/* A completion for (req) with result (res): its final status, or -EINPROGRESS if requeued. */
static int blk_io_result(struct virtio_blk *blk, struct blk_req *req, int res)
{
	if (res < 0 || (res == 0 && req->len)) {
		blk_io_error(blk, req, -res);
		return VIRTIO_BLK_S_IOERR;
	}
	if (req->type == VIRTIO_BLK_T_FLUSH)
		return VIRTIO_BLK_S_OK;
	blk_io_advance(req, res);
	if (!req->len)
		return VIRTIO_BLK_S_OK;
	/* A short transfer: queue the rest. */
	if (blk_io_queue(blk, req)) {
		blk_io_error(blk, req, EBUSY);
		return VIRTIO_BLK_S_IOERR;
	}
	return -EINPROGRESS;
}

bool blk_io_reap(struct virtio_blk *blk)
{
	struct io_uring_cqe *cqe;
	bool pushed = false;
	int ret;

	if (!blk->uring)
		return false;
	/* Empty if a reset reaped these completions first while we waited for the lock. */
	while (io_uring_peek_cqe(&blk->ring, &cqe) == 0) {
		struct blk_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&blk->ring, cqe);
		ret = blk_io_result(blk, req, res);
		if (ret == -EINPROGRESS)
			continue;
		blk_req_finish(blk, req, ret);
		pushed = true;
	}
	blk_io_submit(blk);
	if (pushed)
		virtio_dev_signal_queue(&blk->vd, 0);
	return pushed;
}

void blk_io_submit_and_reap(struct virtio_blk *blk)
{
	if (!blk->uring)
		return;
	/*
	 * The eventfd is muted during the submit and the ring is read after it is unmuted,
	 * so a completion is either reaped here or signalled, never lost.
	 */
	io_uring_cq_eventfd_toggle(&blk->ring, false);
	blk_io_submit(blk);
	io_uring_cq_eventfd_toggle(&blk->ring, true);
	blk_io_reap(blk);
}

/* The event loop side of the ring's eventfd: answer what completed. */
static void blk_io_on_complete(void *opaque, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	uint64_t count;
	bool pushed;

	(void)events;
	if (read(blk->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("virtio-blk %s: completion eventfd", blk->cfg->path);
	pthread_mutex_lock(&blk->vd.lock);
	pushed = blk_io_reap(blk);
	/* Requests came back to the pool: take up the chains the driver is waiting on. */
	if (pushed && blk->stalled && virtio_dev_running(&blk->vd) && blk->vd.queues[0].enabled)
		blk_queue_process(blk);
	pthread_mutex_unlock(&blk->vd.lock);
}

void blk_io_drain(struct virtio_blk *blk)
{
	struct io_uring_cqe *cqe;
	struct blk_req *req;
	int ret;

	if (!blk->uring)
		return;
	if (blk->nr_free < VIRTQ_MAX_SIZE)
		log_debug("virtio-blk %s: waiting for %u requests in flight", blk->cfg->path,
			  VIRTQ_MAX_SIZE - blk->nr_free);
	/* Anything still queued must reach the kernel, or we would wait for it forever. */
	blk_io_submit(blk);
	while (blk->nr_free < VIRTQ_MAX_SIZE) {
		/* EINTR: a vCPU kick; the transfer itself goes on, so wait again. */
		ret = io_uring_wait_cqe(&blk->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret) {
			log_warnx("virtio-blk %s: waiting for requests in flight: %s",
				  blk->cfg->path, strerror(-ret));
			return;
		}
		req = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&blk->ring, cqe);
		blk->free[blk->nr_free++] = req - blk->reqs;
	}
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int blk_io_quiesce(struct virtio_blk *blk, unsigned int timeout_ms)
{
	uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000ULL, now;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	if (!blk->uring)
		return 0;
	for (;;) {
		/* Answers what completed and submits what is queued (short transfers' rest). */
		blk_io_reap(blk);
		if (blk->nr_free == VIRTQ_MAX_SIZE)
			return 0;
		now = monotonic_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		ts.tv_sec = (deadline - now) / 1000000000ULL;
		ts.tv_nsec = (deadline - now) % 1000000000ULL;
		ret = io_uring_wait_cqe_timeout(&blk->ring, &cqe, &ts);
		if (ret == -ETIME)
			return -ETIMEDOUT;
		if (ret && ret != -EINTR && ret != -EAGAIN) {
			log_warnx("virtio-blk %s: waiting for requests in flight: %s",
				  blk->cfg->path, strerror(-ret));
			return ret;
		}
	}
}

/* io_uring needs a recent kernel and may be refused (seccomp, sysctl): say which engine runs. */
int blk_io_init(struct virtio_blk *blk, struct event_loop *loop)
{
	const char *sync = getenv("EMBER_BLK_SYNC");
	int ret;

	blk->loop = loop;
	if (sync && !strcmp(sync, "1")) {
		log_info("virtio-blk %s: synchronous I/O (EMBER_BLK_SYNC=1)", blk->cfg->path);
		return 0;
	}
	/* One submission slot per pool entry: a request in flight always has room. */
	ret = io_uring_queue_init(VIRTQ_MAX_SIZE, &blk->ring, 0);
	if (ret) {
		log_info("virtio-blk %s: io_uring unavailable (%s); synchronous I/O",
			 blk->cfg->path, strerror(-ret));
		return 0;
	}
	blk->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (blk->event_fd < 0) {
		ret = -errno;
		log_warn("virtio-blk %s: eventfd", blk->cfg->path);
		goto err;
	}
	/*
	 * Every completion signals the eventfd: io_uring_register_eventfd_async would skip
	 * the ones finished by task work (pipes, sockets, buffered reads that miss the cache)
	 * and strand them. Inline completions are also reaped right after the submit.
	 */
	ret = io_uring_register_eventfd(&blk->ring, blk->event_fd);
	if (ret) {
		log_info("virtio-blk %s: io_uring eventfd refused (%s); synchronous I/O",
			 blk->cfg->path, strerror(-ret));
		close(blk->event_fd);
		blk->event_fd = -1;
		io_uring_queue_exit(&blk->ring);
		return 0;
	}
	blk->event_src = (struct event_source){ blk->event_fd, blk_io_on_complete, blk };
	ret = event_loop_add(loop, &blk->event_src, EPOLLIN);
	if (ret)
		goto err;
	blk->uring = true;
	return 0;
err:
	if (blk->event_fd >= 0)
		close(blk->event_fd);
	blk->event_fd = -1;
	io_uring_queue_exit(&blk->ring);
	return ret;
}

void blk_io_exit(struct virtio_blk *blk)
{
	if (!blk->uring)
		return;
	/* Closing the ring would not wait for transfers into guest RAM: do it here. */
	blk_io_drain(blk);
	event_loop_del(blk->loop, &blk->event_src);
	io_uring_queue_exit(&blk->ring);
	close(blk->event_fd);
	blk->event_fd = -1;
	blk->uring = false;
}
