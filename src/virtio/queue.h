/*
 * Split virtqueues (VIRTIO 1.2, section 2.7), walked as if the guest were hostile: every
 * ring and buffer address goes through gpa_to_hva, chains are bounded by the queue size,
 * loops and nested indirect tables are refused, and lengths are overflow-checked.
 */
#ifndef EMBER_VIRTIO_QUEUE_H
#define EMBER_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../vmm/memory.h"

struct snap_writer;
struct snap_cursor;

#define VIRTQ_MAX_SIZE 256 /* the largest queue ember offers (QueueNumMax) */
#define VIRTQ_MAX_SEGS 256 /* buffers in one chain, direct and indirect together */

/* Descriptor flags. */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

/* Ring flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

struct virtq {
	/* Set by the transport from the driver's writes, then checked by virtq_enable. */
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_RING_INDIRECT_DESC negotiated */

	/* Run-time state, valid while enabled. */
	bool enabled;
	const struct guest_mem *mem;
	uint16_t last_avail; /* next avail ring slot to consume */
	uint16_t next_used;  /* next used ring slot to fill */
	uint16_t signalled_used;
	bool signalled_used_valid;

	/*
	 * Private to queue.c: the rings' host addresses, derived from the gpas above by every
	 * virtq_enable. Caching them is safe because guest RAM never moves while the VM lives.
	 */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
};

/* One request: a chain's buffers, device-readable ones first, then device-writable ones. */
struct virtq_elem {
	uint16_t head;		/* descriptor index to return in the used ring */
	unsigned int nr_out;	/* device-readable: iov[0 .. nr_out) */
	unsigned int nr_in;	/* device-writable: iov[nr_out .. nr_out + nr_in) */
	uint64_t out_len;	/* bytes in the readable buffers */
	uint64_t in_len;	/* bytes in the writable buffers */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/*
 * Check the ring addresses, alignment and size (a power of two, 1..VIRTQ_MAX_SIZE) and
 * start the queue from index 0. Returns 0 or -EINVAL; the queue stays disabled on error.
 */
int virtq_enable(struct virtq *q, const struct guest_mem *mem);

/* Stop the queue and forget its state (device reset). Keeps nothing. */
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain into (elem). Returns 1 with a request, 0 if the ring is
 * empty, or -EINVAL if the driver broke the ring's rules (bad index, loop, chain too long,
 * address outside RAM, readable after writable, nested indirect...): the caller then
 * fails the device (DEVICE_NEEDS_RESET). A bad chain is not consumed twice.
 *
 * Dirty page tracking: the chain's device-writable buffers are marked written here, whole,
 * and the used ring wherever the queue writes it: what a device writes through its chains
 * needs no mark of its own.
 * A mark taken at the pop only covers writes made before the next snapshot clears it: a
 * device that keeps a writable chain across event loop turns (virtio-blk's requests in
 * flight) must finish it before its state is saved.
 */
int virtq_pop(struct virtq *q, struct virtq_elem *elem);

/* Give (elem) back through the used ring, saying (written) bytes were written to it. */
void virtq_push(struct virtq *q, const struct virtq_elem *elem, uint32_t written);

/*
 * Batched returns, for a result spread over several chains (mergeable rx buffers): write
 * (elem) into used slot (i) past the last published one, then publish (n) slots at once.
 */
void virtq_fill(struct virtq *q, const struct virtq_elem *elem, uint32_t written, unsigned int i);
void virtq_flush(struct virtq *q, unsigned int n);

/* Put back the last (n) chains popped and not yet returned, to be popped again later. */
void virtq_unpop(struct virtq *q, unsigned int n);

/*
 * Whether the driver wants an interrupt for what was pushed since the last call that
 * returned true (used_event with EVENT_IDX, else the avail ring's NO_INTERRUPT flag).
 */
bool virtq_should_notify(struct virtq *q);

/* Whether the avail ring holds chains not yet popped. */
bool virtq_has_avail(const struct virtq *q);

/*
 * With EVENT_IDX: ask the driver to notify when it adds past (last_avail) (writes
 * avail_event). Without it: set or clear VIRTQ_USED_F_NO_NOTIFY per (enable).
 */
void virtq_set_notify(struct virtq *q, bool enable);

/*
 * Copy (len) bytes from the readable part of (elem), starting (off) bytes in, to (dst).
 * Returns the bytes copied (less when the buffers end first).
 */
uint64_t virtq_elem_read(const struct virtq_elem *elem, uint64_t off, void *dst, uint64_t len);

/* Copy (len) bytes from (src) into the writable part of (elem) at (off). Returns bytes copied. */
uint64_t virtq_elem_write(const struct virtq_elem *elem, uint64_t off, const void *src,
			  uint64_t len);

/*
 * A snapshot of (q): what the driver wrote (size, ring addresses, ring features), whether
 * it runs and where it is in its rings. Fields of a section the caller opened.
 */
void virtq_save(const struct virtq *q, struct snap_writer *w);

/*
 * Read a queue saved by virtq_save from (c), as untrusted input: a size that is not a power
 * of two up to VIRTQ_MAX_SIZE, a running queue whose rings virtq_enable refuses in (mem),
 * or indices that cannot be are refused (the cursor marked bad, -EINVAL, (q) untouched).
 * 0: (q) runs again, or not, exactly where it was saved.
 */
int virtq_restore(struct virtq *q, const struct guest_mem *mem, struct snap_cursor *c);

#endif
