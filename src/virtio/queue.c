/*
 * Split virtqueues. The rings live in guest RAM and the guest may rewrite them at any time,
 * so every value read from them is copied once and checked before it is used.
 */
#include <errno.h>
#include <string.h>

#include "queue.h"
#include "../snapshot/stream.h"
#include "../util/util.h"

/* The ring layouts of VIRTIO 1.2 section 2.7, little-endian like every host we run on. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* [size], then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* [size], then avail_event */
};

#define DESC_ALIGN  16
#define AVAIL_ALIGN 2
#define USED_ALIGN  4

/* Ring sizes include the trailing event field, which exists whether or not it is used. */
static uint64_t desc_table_bytes(uint16_t size)
{
	return (uint64_t)sizeof(struct virtq_desc) * size;
}

static uint64_t avail_ring_bytes(uint16_t size)
{
	return sizeof(struct virtq_avail) + sizeof(uint16_t) * ((uint64_t)size + 1);
}

static uint64_t used_ring_bytes(uint16_t size)
{
	return sizeof(struct virtq_used) + sizeof(struct virtq_used_elem) * (uint64_t)size +
	       sizeof(uint16_t);
}

static uint16_t *used_event_field(const struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static uint16_t *avail_event_field(const struct virtq *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

/*
 * The guest address of (field), somewhere in the used ring: what the device writes there
 * is marked for dirty page tracking (guest_mem_mark_dirty) like every other host write.
 */
static uint64_t used_field_gpa(const struct virtq *q, const void *field)
{
	return q->used_gpa + (uint64_t)((const uint8_t *)field - (const uint8_t *)q->used);
}

/* Map [gpa, gpa + len) if it is all RAM and (gpa) is (align)-aligned. */
static void *ring_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa & (align - 1))
		return NULL;
	return gpa_to_hva(mem, gpa, len);
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem)
{
	uint16_t size = q->size;

	q->enabled = false;
	if (!mem || size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	q->desc = ring_hva(mem, q->desc_gpa, desc_table_bytes(size), DESC_ALIGN);
	q->avail = ring_hva(mem, q->avail_gpa, avail_ring_bytes(size), AVAIL_ALIGN);
	q->used = ring_hva(mem, q->used_gpa, used_ring_bytes(size), USED_ALIGN);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -EINVAL;
	}
	q->mem = mem;
	q->last_avail = 0;
	q->next_used = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	q->enabled = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/*
 * Copy one descriptor out of guest memory. The compiler barrier stops it from re-reading
 * the guest's copy after the checks, when the guest may already have changed it.
 */
static void desc_read_once(struct virtq_desc *d, const void *src)
{
	memcpy(d, src, sizeof(*d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Append the buffer of (d) to (elem): readable ones may not follow writable ones. */
static int elem_add_buffer(const struct virtq *q, struct virtq_elem *elem,
			   const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned int slot = elem->nr_out + elem->nr_in;
	void *hva;

	/* An empty buffer carries nothing, so its place in the chain cannot matter. */
	if (d->len == 0)
		return 0;
	if ((!writable && elem->nr_in) || slot >= VIRTQ_MAX_SEGS)
		return -EINVAL;
	hva = gpa_to_hva(q->mem, d->addr, d->len);
	if (!hva)
		return -EINVAL;
	elem->iov[slot].iov_base = hva;
	elem->iov[slot].iov_len = d->len;
	if (writable) {
		/*
		 * The device may write any byte of it from now until it pushes the chain, so
		 * the whole buffer counts as written (see virtq_pop).
		 */
		guest_mem_mark_dirty(q->mem, d->addr, d->len);
		elem->nr_in++;
		if (__builtin_add_overflow(elem->in_len, d->len, &elem->in_len))
			return -EINVAL;
	} else {
		elem->nr_out++;
		if (__builtin_add_overflow(elem->out_len, d->len, &elem->out_len))
			return -EINVAL;
	}
	return 0;
}

/*
 * Walk the indirect table that (ind) points to. Its entries chain among themselves by
 * index within the table, may not point to further tables, and are visited at most once
 * each, so a loop ends the walk with -EINVAL.
 */
static int elem_add_indirect(const struct virtq *q, struct virtq_elem *elem,
			     const struct virtq_desc *ind)
{
	const uint8_t *table;
	unsigned int count, visited = 0;
	uint16_t idx = 0;

	if (!q->indirect || (ind->flags & VIRTQ_DESC_F_NEXT))
		return -EINVAL;
	if (ind->len == 0 || ind->len % sizeof(struct virtq_desc) ||
	    ind->len / sizeof(struct virtq_desc) > VIRTQ_MAX_SIZE)
		return -EINVAL;
	count = ind->len / sizeof(struct virtq_desc);
	table = gpa_to_hva(q->mem, ind->addr, ind->len);
	if (!table)
		return -EINVAL;
	for (;;) {
		struct virtq_desc d;
		int ret;

		if (++visited > count)
			return -EINVAL;
		/* The spec asks no alignment of the table, hence byte offsets and a copy. */
		desc_read_once(&d, table + (size_t)idx * sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		ret = elem_add_buffer(q, elem, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return -EINVAL;
		idx = d.next;
	}
}

/*
 * Walk the chain starting at (head): zero or more direct descriptors, optionally ended by
 * one indirect descriptor. A chain longer than the ring must revisit a descriptor.
 */
static int elem_fill(const struct virtq *q, struct virtq_elem *elem, uint16_t head)
{
	unsigned int visited = 0;
	uint16_t idx = head;

	elem->head = head;
	elem->nr_out = 0;
	elem->nr_in = 0;
	elem->out_len = 0;
	elem->in_len = 0;
	if (head >= q->size)
		return -EINVAL;
	for (;;) {
		struct virtq_desc d;
		int ret;

		if (++visited > q->size)
			return -EINVAL;
		desc_read_once(&d, &q->desc[idx]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return elem_add_indirect(q, elem, &d);
		ret = elem_add_buffer(q, elem, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->size)
			return -EINVAL;
		idx = d.next;
	}
}

/*
 * A bad chain is consumed all the same (last_avail moves past its head), so a caller that
 * keeps popping never sees it twice. A bad avail index is not: no head can be trusted then,
 * and every pop refuses until the driver puts the index right or the device is reset.
 */
int virtq_pop(struct virtq *q, struct virtq_elem *elem)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (!q->enabled)
		return 0;
	/* Acquire: the ring entry and descriptors were written before the index. */
	avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	pending = avail_idx - q->last_avail;
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return -EINVAL;
	head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);
	q->last_avail++;
	ret = elem_fill(q, elem, head);
	return ret ? ret : 1;
}

void virtq_unpop(struct virtq *q, unsigned int n)
{
	if (q->enabled)
		q->last_avail -= n;
}

void virtq_fill(struct virtq *q, const struct virtq_elem *elem, uint32_t written, unsigned int i)
{
	struct virtq_used_elem *slot;
	uint16_t idx;

	if (!q->enabled)
		return;
	idx = (uint16_t)(q->next_used + i) & (q->size - 1);
	slot = &q->used->ring[idx];
	slot->id = elem->head;
	slot->len = written;
	guest_mem_mark_dirty(q->mem, used_field_gpa(q, &slot->id), sizeof(*slot));
}

void virtq_flush(struct virtq *q, unsigned int n)
{
	if (!q->enabled)
		return;
	q->next_used += n;
	/* Release: the driver must see the entries before the index that covers them. */
	__atomic_store_n(&q->used->idx, q->next_used, __ATOMIC_RELEASE);
	guest_mem_mark_dirty(q->mem, used_field_gpa(q, &q->used->idx), sizeof(q->used->idx));
}

void virtq_push(struct virtq *q, const struct virtq_elem *elem, uint32_t written)
{
	virtq_fill(q, elem, written, 0);
	virtq_flush(q, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t used_event, old, new;
	bool valid;

	if (!q->enabled)
		return false;
	/* Our used->idx store must be visible before we read what the driver asked for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	used_event = __atomic_load_n(used_event_field(q), __ATOMIC_RELAXED);
	old = q->signalled_used;
	new = q->next_used;
	valid = q->signalled_used_valid;
	q->signalled_used = new;
	q->signalled_used_valid = true;
	/* Notify iff the driver's used_event lies in [old, new), the entries pushed since. */
	return !valid || (uint16_t)(new - used_event - 1) < (uint16_t)(new - old);
}

bool virtq_has_avail(const struct virtq *q)
{
	if (!q->enabled)
		return false;
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

void virtq_set_notify(struct virtq *q, bool enable)
{
	if (!q->enabled)
		return;
	if (q->event_idx) {
		/* Suppression is simply not moving avail_event forward. */
		if (enable) {
			__atomic_store_n(avail_event_field(q), q->last_avail, __ATOMIC_RELAXED);
			guest_mem_mark_dirty(q->mem, used_field_gpa(q, avail_event_field(q)),
					     sizeof(uint16_t));
		}
	} else {
		uint16_t flags = __atomic_load_n(&q->used->flags, __ATOMIC_RELAXED);

		flags = enable ? flags & ~VIRTQ_USED_F_NO_NOTIFY : flags | VIRTQ_USED_F_NO_NOTIFY;
		__atomic_store_n(&q->used->flags, flags, __ATOMIC_RELAXED);
		guest_mem_mark_dirty(q->mem, used_field_gpa(q, &q->used->flags), sizeof(flags));
	}
	/*
	 * The caller looks at the avail index next; the driver must see this store first, or
	 * it may add a chain and skip the kick just as we decide the ring is empty.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copy between (buf) and the (nr) buffers of (iov), starting (off) bytes into them. */
static uint64_t iov_copy(const struct iovec *iov, unsigned int nr, uint64_t off, void *buf,
			 uint64_t len, bool to_iov)
{
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; i < nr && done < len; i++) {
		uint64_t seg_len = iov[i].iov_len, n;
		uint8_t *seg = iov[i].iov_base;

		if (off >= seg_len) {
			off -= seg_len;
			continue;
		}
		n = MIN(seg_len - off, len - done);
		if (to_iov)
			memcpy(seg + off, (uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, seg + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_elem_read(const struct virtq_elem *elem, uint64_t off, void *dst, uint64_t len)
{
	return iov_copy(elem->iov, elem->nr_out, off, dst, len, false);
}

uint64_t virtq_elem_write(const struct virtq_elem *elem, uint64_t off, const void *src,
			  uint64_t len)
{
	/* iov_copy only reads (buf) in this direction. */
	return iov_copy(elem->iov + elem->nr_out, elem->nr_in, off, (void *)src, len, true);
}

/* --- snapshots --- */

void virtq_save(const struct virtq *q, struct snap_writer *w)
{
	snap_put_u16(w, q->size);
	snap_put_u64(w, q->desc_gpa);
	snap_put_u64(w, q->avail_gpa);
	snap_put_u64(w, q->used_gpa);
	snap_put_u8(w, q->event_idx);
	snap_put_u8(w, q->indirect);
	snap_put_u8(w, q->enabled);
	snap_put_u16(w, q->last_avail);
	snap_put_u16(w, q->next_used);
	snap_put_u16(w, q->signalled_used);
	snap_put_u8(w, q->signalled_used_valid);
}

/* A flag saved as one byte: 0 or 1, anything else refused as (what). */
static bool get_flag(struct snap_cursor *c, const char *what)
{
	uint8_t v = snap_get_u8(c);

	if (v > 1)
		snap_cursor_fail(c, what);
	return v;
}

int virtq_restore(struct virtq *q, const struct guest_mem *mem, struct snap_cursor *c)
{
	uint16_t last_avail, next_used, signalled_used;
	bool enabled, signalled_valid;
	struct virtq s = { 0 };

	s.size = snap_get_u16(c);
	s.desc_gpa = snap_get_u64(c);
	s.avail_gpa = snap_get_u64(c);
	s.used_gpa = snap_get_u64(c);
	s.event_idx = get_flag(c, "queue flags");
	s.indirect = get_flag(c, "queue flags");
	enabled = get_flag(c, "queue flags");
	last_avail = snap_get_u16(c);
	next_used = snap_get_u16(c);
	signalled_used = snap_get_u16(c);
	signalled_valid = get_flag(c, "queue flags");
	if (c->bad)
		return -EINVAL;
	/* The driver's values are only checked when it sets QueueReady: check them anyway. */
	if (s.size > VIRTQ_MAX_SIZE || (s.size & (s.size - 1)))
		snap_cursor_fail(c, "queue size");
	else if (enabled && virtq_enable(&s, mem))
		snap_cursor_fail(c, "queue rings (size 0, misaligned or outside guest RAM)");
	/* A disabled queue has not run since its reset; a live one owes at most its size. */
	else if (!enabled && (last_avail || next_used || signalled_used || signalled_valid))
		snap_cursor_fail(c, "queue indices");
	else if (enabled && (uint16_t)(last_avail - next_used) > s.size)
		snap_cursor_fail(c, "queue indices");
	if (c->bad)
		return -EINVAL;
	/* virtq_enable started it from index 0: move it on to where it was. */
	s.last_avail = last_avail;
	s.next_used = next_used;
	s.signalled_used = signalled_used;
	s.signalled_used_valid = signalled_valid;
	*q = s;
	return 0;
}
