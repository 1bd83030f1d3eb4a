/*
 * A disk image's I/O engine: reads, writes and flushes on a file at an offset, straight
 * between the file and the caller's buffers. It knows files and iovecs, nothing of the
 * device or the protocol that asked for them: each operation comes back to its owner
 * through a callback.
 *
 * Two engines behind one interface. io_uring: the operation is queued on a ring and
 * completes later, signalled on an eventfd the event loop watches, so the loop never
 * waits for the disk. Synchronous: preadv/pwritev/fdatasync at once, on the caller's
 * thread, for hosts without io_uring or where the owner asks for it.
 *
 * Not thread-safe: the owner serializes every call with a lock of its own. The one call
 * made without that lock is ops->ready, from the event loop, so that the owner can take
 * it before it reaps.
 */
#ifndef EMBER_VIRTIO_IO_ENGINE_H
#define EMBER_VIRTIO_IO_ENGINE_H

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../util/eventloop.h"
#include "../util/log.h"

enum io_op_type {
	IO_OP_READ,
	IO_OP_WRITE,
	IO_OP_FLUSH, /* fdatasync: what was written reaches the disk */
};

/*
 * One operation. The owner's memory, lent to the engine from io_engine_start until it
 * comes back through ops->complete or ops->dropped; meanwhile the kernel reads (iov) and
 * the engine steps (offset, len, done, iov, nr_iov) past every byte moved.
 */
struct io_op {
	enum io_op_type type;
	int fd;
	uint64_t offset;   /* where in the file the data still to move goes */
	uint64_t len;	   /* data bytes still to move (0 for a flush) */
	uint64_t done;	   /* data bytes moved so far */
	struct iovec *iov; /* the buffers still to move */
	unsigned int nr_iov;
};

/* What an operation that failed reports when the file ended before it was done. */
#define IO_OP_EOF ENODATA

struct io_engine_ops {
	/*
	 * (op) is over and the owner's again: (err) 0, or -errno (-IO_OP_EOF: the file
	 * ended first, as when an image shrinks under the device).
	 */
	void (*complete)(void *opaque, struct io_op *op, int err);
	/* io_engine_drain waited for (op) and drops it: the owner's again, with no result. */
	void (*dropped)(void *opaque, struct io_op *op);
	/*
	 * io_uring has completions waiting. Called on the event loop thread without the
	 * owner's lock: take it, then io_engine_reap.
	 */
	void (*ready)(void *opaque);
};

/* How to set an engine up: read by io_engine_init, (log_name) excepted. */
struct io_engine_config {
	struct event_loop *loop; /* where io_uring's completion eventfd is watched */
	unsigned int depth;	 /* the most operations ever in flight at once */
	bool sync;		 /* the synchronous engine even where io_uring works */
	const struct io_engine_ops *ops;
	void *opaque; /* the first argument of every ops call */
	/*
	 * Log lines start "<log_prefix> <log_name>: ". (log_name) is read at every line, so
	 * its owner may rewrite the string (a disk's new image path).
	 */
	const char *log_prefix, *log_name;
	struct logger *log; /* the owner's, which outlives the engine */
};

struct io_engine {
	const struct io_engine_ops *ops;
	void *opaque;
	const char *log_prefix, *log_name;
	struct logger *log;
	bool uring;	      /* false: the synchronous engine */
	unsigned int in_flight; /* operations started and not yet back (io_uring only) */
	uint64_t ring_full;   /* times an operation found no free submission slot */
	struct io_uring ring;
	int event_fd; /* the ring signals completions here */
	struct event_source event_src;
	struct event_loop *loop;
};

/*
 * Set up (io) per (cfg): io_uring, with completions on an eventfd in cfg->loop, unless
 * cfg->sync or the host refuses io_uring (then the synchronous engine, said in the log).
 * Returns 0 or -errno. A zeroed (io) may be given to io_engine_exit without this.
 */
int io_engine_init(struct io_engine *io, const struct io_engine_config *cfg);

/* Wait for what is in flight, dropping it (io_engine_drain), then tear (io) down. */
void io_engine_exit(struct io_engine *io);

/*
 * Start (op). Returns -EINPROGRESS when io_uring took it (it comes back through
 * ops->complete), else its result as ops->complete would give it: 0 or -errno (the
 * synchronous engine, or -EBUSY when the ring had no room).
 */
int io_engine_start(struct io_engine *io, struct io_op *op);

/* Hand what io_engine_start queued to the kernel. */
void io_engine_submit(struct io_engine *io);

/*
 * Report every completed operation through ops->complete (a short transfer is queued
 * again for the rest, not reported), then submit. Returns how many were reported.
 */
unsigned int io_engine_reap(struct io_engine *io);

/*
 * Submit, then reap what completed inside the submit (reads from the page cache usually
 * do) without a round trip through the eventfd and the event loop. Returns as reap.
 */
unsigned int io_engine_submit_and_reap(struct io_engine *io);

/*
 * Wait until a completion is there to reap or the monotonic clock (now_us) reaches
 * (deadline_us). 0 (also when a signal cut the wait short), -ETIMEDOUT, or -errno from
 * io_uring (logged).
 */
int io_engine_wait(struct io_engine *io, uint64_t deadline_us);

/*
 * Wait for every operation in flight and hand each back through ops->dropped, with no
 * result (the owner no longer wants it: a device reset, a teardown). The kernel is done
 * with every buffer when this returns, unless io_uring itself failed (logged).
 */
void io_engine_drain(struct io_engine *io);

#endif
