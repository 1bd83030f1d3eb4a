/*
 * The I/O engines. io_uring: readv/writev/fsync straight between the file and the
 * caller's buffers (no copy), completions signalled on an eventfd that the event loop
 * watches. Synchronous: preadv/pwritev/fdatasync on the caller's thread.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io_engine.h"
#include "../util/log.h"
#include "../util/util.h"

/* (n) more bytes of (op) moved: step its offset and buffers past them. */
static void io_op_advance(struct io_op *op, uint64_t n)
{
	if (n > op->len)
		n = op->len; /* the kernel never moves more than asked; stay safe if it did */
	op->done += n;
	op->len -= n;
	op->offset += n;
	while (op->nr_iov && n >= op->iov->iov_len) {
		n -= op->iov->iov_len;
		op->iov++;
		op->nr_iov--;
	}
	if (op->nr_iov && n) {
		op->iov->iov_base = (uint8_t *)op->iov->iov_base + n;
		op->iov->iov_len -= n;
	}
}

/* The synchronous engine: loop over short transfers until done or failed. 0 or -errno. */
static int io_op_run_sync(struct io_op *op)
{
	ssize_t n;

	if (op->type == IO_OP_FLUSH)
		return fdatasync(op->fd) ? -errno : 0;
	while (op->len) {
		if (op->type == IO_OP_READ)
			n = preadv(op->fd, op->iov, op->nr_iov, op->offset);
		else
			n = pwritev(op->fd, op->iov, op->nr_iov, op->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/* The file shrank under us; without this we would spin. */
		if (n == 0)
			return -IO_OP_EOF;
		io_op_advance(op, n);
	}
	return 0;
}

/* Queue (op)'s next transfer on the ring. 0, or -EBUSY if the ring has no room. */
static int io_engine_queue(struct io_engine *io, struct io_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

	if (!sqe) {
		/* A slot per operation in flight: only a failed earlier submit gets here. */
		io->ring_full++;
		io_engine_submit(io);
		sqe = io_uring_get_sqe(&io->ring);
		if (!sqe)
			return -EBUSY;
	}
	if (op->type == IO_OP_READ)
		io_uring_prep_readv(sqe, op->fd, op->iov, op->nr_iov, op->offset);
	else if (op->type == IO_OP_WRITE)
		io_uring_prep_writev(sqe, op->fd, op->iov, op->nr_iov, op->offset);
	else
		io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int io_engine_start(struct io_engine *io, struct io_op *op)
{
	int ret;

	if (!io->uring)
		return io_op_run_sync(op);
	ret = io_engine_queue(io, op);
	if (ret)
		return ret;
	io->in_flight++;
	return -EINPROGRESS;
}

void io_engine_submit(struct io_engine *io)
{
	int ret;

	if (!io->uring || !io_uring_sq_ready(&io->ring))
		return;
	do
		ret = io_uring_submit(&io->ring);
	while (ret == -EINTR);
	/* What the kernel did not take stays queued for the next submit. */
	if (ret < 0)
		log_warnx(io->log, "%s %s: io_uring submit: %s", io->log_prefix, io->log_name,
			  strerror(-ret));
}

/* A completion for (op) with result (res): 0 or -errno if (op) is over, -EINPROGRESS if not. */
static int io_engine_result(struct io_engine *io, struct io_op *op, int res)
{
	if (res < 0)
		return res;
	if (res == 0 && op->len)
		return -IO_OP_EOF;
	if (op->type == IO_OP_FLUSH)
		return 0;
	io_op_advance(op, res);
	if (!op->len)
		return 0;
	/* A short transfer: queue the rest. */
	return io_engine_queue(io, op) ? -EBUSY : -EINPROGRESS;
}

unsigned int io_engine_reap(struct io_engine *io)
{
	struct io_uring_cqe *cqe;
	unsigned int reported = 0;
	int ret;

	if (!io->uring)
		return 0;
	/*
	 * Empty if io_engine_drain took these completions first: a reset on a vCPU thread
	 * while the event loop waited for the owner's lock.
	 */
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		struct io_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&io->ring, cqe);
		ret = io_engine_result(io, op, res);
		if (ret == -EINPROGRESS)
			continue;
		io->in_flight--;
		io->ops->complete(io->opaque, op, ret);
		reported++;
	}
	io_engine_submit(io);
	return reported;
}

unsigned int io_engine_submit_and_reap(struct io_engine *io)
{
	if (!io->uring)
		return 0;
	/*
	 * The eventfd is muted during the submit and the ring is read after it is unmuted,
	 * so a completion is either reaped here or signalled, never lost.
	 */
	io_uring_cq_eventfd_toggle(&io->ring, false);
	io_engine_submit(io);
	io_uring_cq_eventfd_toggle(&io->ring, true);
	return io_engine_reap(io);
}

/* The event loop side of the ring's eventfd: the owner takes its lock and reaps. */
static void io_engine_on_eventfd(void *opaque, uint32_t events)
{
	struct io_engine *io = opaque;
	uint64_t count;

	(void)events;
	if (read(io->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn(io->log, "%s %s: completion eventfd", io->log_prefix, io->log_name);
	io->ops->ready(io->opaque);
}

int io_engine_wait(struct io_engine *io, uint64_t deadline_us)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t now = now_us();
	int ret;

	if (now >= deadline_us)
		return -ETIMEDOUT;
	ts.tv_sec = (deadline_us - now) / 1000000;
	ts.tv_nsec = (deadline_us - now) % 1000000 * 1000;
	ret = io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts);
	if (ret == -ETIME)
		return -ETIMEDOUT;
	if (ret && ret != -EINTR && ret != -EAGAIN) {
		log_warnx(io->log, "%s %s: waiting for requests in flight: %s", io->log_prefix,
			  io->log_name, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * Work a ring carries is never seen by seccomp: a ring that could open files or sockets
 * would undo the filters. So the ring takes the three operations a disk needs and nothing
 * else, and no more registrations (none listed: all refused), before it is enabled.
 * (Through the syscall: Debian 12's shared liburing does not export these two helpers.)
 */
static int io_engine_restrict(struct io_engine *io)
{
	static const unsigned char ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC };
	struct io_uring_restriction res[ARRAY_SIZE(ops)];
	unsigned int i;

	memset(res, 0, sizeof(res));
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	if (syscall(__NR_io_uring_register, io->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    ARRAY_SIZE(res)) < 0 ||
	    syscall(__NR_io_uring_register, io->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return -errno;
	return 0;
}

void io_engine_drain(struct io_engine *io)
{
	struct io_uring_cqe *cqe;
	struct io_op *op;
	int ret;

	if (!io->uring)
		return;
	if (io->in_flight)
		log_debug(io->log, "%s %s: waiting for %u requests in flight", io->log_prefix,
			  io->log_name, io->in_flight);
	/* Anything still queued must reach the kernel, or we would wait for it forever. */
	io_engine_submit(io);
	while (io->in_flight) {
		/* EINTR: a vCPU kick; the transfer itself goes on, so wait again. */
		ret = io_uring_wait_cqe(&io->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret) {
			log_warnx(io->log, "%s %s: waiting for requests in flight: %s",
				  io->log_prefix, io->log_name, strerror(-ret));
			return;
		}
		op = io_uring_cqe_get_data(cqe);
		io_uring_cqe_seen(&io->ring, cqe);
		io->in_flight--;
		io->ops->dropped(io->opaque, op);
	}
}

/* io_uring needs a recent kernel and may be refused (seccomp, sysctl): say which engine runs. */
int io_engine_init(struct io_engine *io, const struct io_engine_config *cfg)
{
	const char *refusal;
	int ret;

	*io = (struct io_engine){
		.ops = cfg->ops,
		.opaque = cfg->opaque,
		.log_prefix = cfg->log_prefix,
		.log_name = cfg->log_name,
		.log = cfg->log,
		.event_fd = -1,
		.loop = cfg->loop,
	};
	if (cfg->sync)
		return 0;
	/*
	 * One submission slot per operation in flight: an operation always has room. Made
	 * disabled, so that it can be limited (io_engine_restrict) before it takes any work.
	 */
	ret = io_uring_queue_init(cfg->depth, &io->ring, IORING_SETUP_R_DISABLED);
	if (ret) {
		log_info(io->log, "%s %s: io_uring unavailable (%s); synchronous I/O",
			 io->log_prefix, io->log_name, strerror(-ret));
		return 0;
	}
	io->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->event_fd < 0) {
		ret = -errno;
		log_warn(io->log, "%s %s: eventfd", io->log_prefix, io->log_name);
		goto err;
	}
	/*
	 * Every completion signals the eventfd: io_uring_register_eventfd_async would skip
	 * the ones finished by task work (pipes, sockets, buffered reads that miss the cache)
	 * and strand them. Inline completions are also reaped right after the submit.
	 */
	ret = io_uring_register_eventfd(&io->ring, io->event_fd);
	if (ret) {
		refusal = "io_uring eventfd refused";
		goto synchronous;
	}
	ret = io_engine_restrict(io);
	if (ret) {
		refusal = "io_uring cannot be restricted";
		goto synchronous;
	}
	io->event_src = (struct event_source){ io->event_fd, io_engine_on_eventfd, io };
	ret = event_loop_add(io->loop, &io->event_src, EPOLLIN);
	if (ret)
		goto err;
	io->uring = true;
	return 0;
synchronous:
	log_info(io->log, "%s %s: %s (%s); synchronous I/O", io->log_prefix, io->log_name,
		 refusal, strerror(-ret));
	close(io->event_fd);
	io->event_fd = -1;
	io_uring_queue_exit(&io->ring);
	return 0;
err:
	if (io->event_fd >= 0)
		close(io->event_fd);
	io->event_fd = -1;
	io_uring_queue_exit(&io->ring);
	return ret;
}

void io_engine_exit(struct io_engine *io)
{
	if (!io->uring)
		return;
	/* Closing the ring would not wait for transfers into the caller's buffers: do it here. */
	io_engine_drain(io);
	event_loop_del(io->loop, &io->event_src);
	io_uring_queue_exit(&io->ring);
	close(io->event_fd);
	io->event_fd = -1;
	io->uring = false;
}
