#include <errno.h>

#include "arch/arch.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"
#include "unit.h"

/* One RAM region at gpa 0; rings, indirect tables and buffers are laid out in it by hand. */
#define RAM_SIZE  (1 * MiB)
#define DESC_GPA  0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA  0x3000ULL
#define TABLE_GPA 0x8000ULL /* indirect tables: room for VIRTQ_MAX_SIZE + 1 entries */
#define BUF_GPA	  0x10000ULL
#define QSIZE	  16

#define F_NEXT	   VIRTQ_DESC_F_NEXT
#define F_WRITE	   VIRTQ_DESC_F_WRITE
#define F_INDIRECT VIRTQ_DESC_F_INDIRECT

struct ring {
	struct guest_mem mem;
	struct virtq q;
	uint16_t avail_idx; /* the driver's copy of avail->idx */
};

static uint8_t *hva(struct ring *r, uint64_t gpa)
{
	uint8_t *p = gpa_to_hva(&r->mem, gpa, 1);

	assert_non_null(p);
	return p;
}

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Zero the ring pages and enable a fresh queue of (size) at the standard addresses. */
static void ring_start(struct ring *r, uint16_t size, bool indirect, bool event_idx)
{
	virtq_reset(&r->q);
	memset(hva(r, DESC_GPA), 0, USED_GPA + 0x1000 - DESC_GPA);
	r->q.size = size;
	r->q.desc_gpa = DESC_GPA;
	r->q.avail_gpa = AVAIL_GPA;
	r->q.used_gpa = USED_GPA;
	r->q.indirect = indirect;
	r->q.event_idx = event_idx;
	r->avail_idx = 0;
	assert_int_equal(virtq_enable(&r->q, &r->mem), 0);
}

static int ring_setup(void **state)
{
	const struct mem_region layout = { .gpa = 0, .size = RAM_SIZE };
	struct ring *r = calloc(1, sizeof(*r));

	if (!r || guest_mem_init(&r->mem, &layout, 1)) {
		free(r);
		return -1;
	}
	ring_start(r, QSIZE, true, false);
	*state = r;
	return 0;
}

static int ring_teardown(void **state)
{
	struct ring *r = *state;

	guest_mem_destroy(&r->mem);
	free(r);
	return 0;
}

static void write_desc(struct ring *r, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next)
{
	uint8_t *d = hva(r, table + 16ULL * i);

	put_u64(d, addr);
	put_u32(d + 8, len);
	put_u16(d + 12, flags);
	put_u16(d + 14, next);
}

static void set_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	write_desc(r, DESC_GPA, i, addr, len, flags, next);
}

static void set_avail_idx(struct ring *r, uint16_t idx)
{
	put_u16(hva(r, AVAIL_GPA + 2), idx);
}

/* Put (head) in the avail ring and publish it, as a driver would. */
static void offer(struct ring *r, uint16_t head)
{
	put_u16(hva(r, AVAIL_GPA + 4 + 2 * (r->avail_idx % r->q.size)), head);
	set_avail_idx(r, ++r->avail_idx);
}

static uint16_t used_idx(struct ring *r)
{
	return get_u16(hva(r, USED_GPA + 2));
}

static uint32_t used_id(struct ring *r, uint16_t slot)
{
	return get_u32(hva(r, USED_GPA + 4 + 8 * slot));
}

static uint32_t used_len(struct ring *r, uint16_t slot)
{
	return get_u32(hva(r, USED_GPA + 8 + 8 * slot));
}

static void set_used_event(struct ring *r, uint16_t v)
{
	put_u16(hva(r, AVAIL_GPA + 4 + 2 * r->q.size), v);
}

static uint16_t avail_event(struct ring *r)
{
	return get_u16(hva(r, USED_GPA + 4 + 8 * r->q.size));
}

/* A well-formed chain still pops after whatever came before it. */
static void expect_good_next(struct ring *r)
{
	uint16_t head = r->q.size - 1;
	struct virtq_elem elem;

	set_desc(r, head, BUF_GPA, 64, F_WRITE, 0);
	offer(r, head);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.head, head);
	assert_int_equal(elem.nr_out, 0);
	assert_int_equal(elem.nr_in, 1);
	assert_int_equal(elem.in_len, 64);
	assert_ptr_equal(elem.iov[0].iov_base, hva(r, BUF_GPA));
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
}

/* Offer (head), which must be refused once, and then not block the ring. */
static void expect_bad(struct ring *r, uint16_t head)
{
	struct virtq_elem elem;

	offer(r, head);
	assert_int_equal(virtq_pop(&r->q, &elem), -EINVAL);
	expect_good_next(r);
}

static void test_good_chain(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	uint8_t out[100], in[80], buf[128];
	unsigned int i;

	for (i = 0; i < sizeof(out); i++)
		out[i] = i + 1;
	for (i = 0; i < sizeof(in); i++)
		in[i] = 0xa0 + i;
	memcpy(hva(r, BUF_GPA), out, sizeof(out));
	/* Scattered indices: 5 -> 2 -> 9. */
	set_desc(r, 5, BUF_GPA, 100, F_NEXT, 2);
	set_desc(r, 2, BUF_GPA + 0x1000, 50, F_WRITE | F_NEXT, 9);
	set_desc(r, 9, BUF_GPA + 0x2000, 30, F_WRITE, 0);
	offer(r, 5);
	assert_true(virtq_has_avail(&r->q));
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_false(virtq_has_avail(&r->q));
	assert_int_equal(elem.head, 5);
	assert_int_equal(elem.nr_out, 1);
	assert_int_equal(elem.nr_in, 2);
	assert_int_equal(elem.out_len, 100);
	assert_int_equal(elem.in_len, 80);
	assert_ptr_equal(elem.iov[0].iov_base, hva(r, BUF_GPA));
	assert_int_equal(elem.iov[0].iov_len, 100);
	assert_ptr_equal(elem.iov[1].iov_base, hva(r, BUF_GPA + 0x1000));
	assert_int_equal(elem.iov[1].iov_len, 50);
	assert_ptr_equal(elem.iov[2].iov_base, hva(r, BUF_GPA + 0x2000));
	assert_int_equal(elem.iov[2].iov_len, 30);

	/* Reads see only the readable part, and stop where it ends. */
	assert_int_equal(virtq_elem_read(&elem, 0, buf, sizeof(buf)), 100);
	assert_memory_equal(buf, out, 100);
	assert_int_equal(virtq_elem_read(&elem, 90, buf, 20), 10);
	assert_memory_equal(buf, out + 90, 10);
	assert_int_equal(virtq_elem_read(&elem, 100, buf, 1), 0);
	assert_int_equal(virtq_elem_read(&elem, UINT64_MAX, buf, 1), 0);

	/* Writes span the two writable buffers. */
	assert_int_equal(virtq_elem_write(&elem, 0, in, sizeof(in)), 80);
	assert_memory_equal(hva(r, BUF_GPA + 0x1000), in, 50);
	assert_memory_equal(hva(r, BUF_GPA + 0x2000), in + 50, 30);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(virtq_elem_write(&elem, 45, buf, 10), 10);
	assert_memory_equal(hva(r, BUF_GPA + 0x1000 + 45), buf, 5);
	assert_memory_equal(hva(r, BUF_GPA + 0x2000), buf, 5);
	assert_int_equal(hva(r, BUF_GPA + 0x2000)[5], in[55]);
	assert_int_equal(virtq_elem_write(&elem, 70, buf, 50), 10);
	/* The readable buffer was not written. */
	assert_memory_equal(hva(r, BUF_GPA), out, sizeof(out));

	virtq_push(&r->q, &elem, 80);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_id(r, 0), 5);
	assert_int_equal(used_len(r, 0), 80);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
}

static void test_empty_ring(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;

	assert_false(virtq_has_avail(&r->q));
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
	expect_good_next(r);
}

static void test_several_in_order(void **state)
{
	static const uint16_t heads[] = { 3, 0, 7, 12 };
	struct ring *r = *state;
	struct virtq_elem elem;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		set_desc(r, heads[i], BUF_GPA + 0x100 * i, 10 + i, F_WRITE, 0);
		offer(r, heads[i]);
	}
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		assert_int_equal(virtq_pop(&r->q, &elem), 1);
		assert_int_equal(elem.head, heads[i]);
		assert_int_equal(elem.in_len, 10 + i);
		virtq_push(&r->q, &elem, i);
	}
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
	assert_int_equal(used_idx(r), ARRAY_SIZE(heads));
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		assert_int_equal(used_id(r, i), heads[i]);
		assert_int_equal(used_len(r, i), i);
	}
}

/* Exactly a full ring of outstanding chains is legal. */
static void test_full_ring(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	unsigned int i;

	set_desc(r, 0, BUF_GPA, 8, 0, 0);
	for (i = 0; i < QSIZE; i++)
		offer(r, 0);
	for (i = 0; i < QSIZE; i++)
		assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
}

static unsigned int requeued;

static void fake_interrupt(struct virtio_dev *vd, uint32_t why)
{
	(void)vd;
	(void)why;
}

static void fake_requeue(struct virtio_dev *vd, unsigned int q)
{
	(void)vd;
	(void)q;
	requeued++;
}

/* A queue kept full takes VIRTIO_QUEUE_BUDGET chains, then yields the loop and is requeued. */
static void test_dev_pop_budget(void **state)
{
	static const struct virtio_transport_ops fake = { fake_interrupt, fake_requeue };
	static const struct virtio_dev_ops ops = { .name = "test", .num_queues = 1 };
	struct ring *r = *state;
	struct virtio_dev vd;
	struct virtq_elem elem;
	struct logger log;
	unsigned int i;

	ring_start(r, VIRTQ_MAX_SIZE, false, false);
	logger_init(&log);
	virtio_dev_init(&vd, &ops, NULL, &r->mem, &log);
	vd.transport = &fake;
	vd.queues[0] = r->q;
	set_desc(r, 0, BUF_GPA, 8, 0, 0);
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		offer(r, 0);
	requeued = 0;
	for (i = 0; i < VIRTIO_QUEUE_BUDGET; i++) {
		assert_int_equal(virtio_dev_pop(&vd, 0, &elem, "bad"), 1);
		virtq_push(&vd.queues[0], &elem, 0);
		if (i < VIRTQ_MAX_SIZE - VIRTIO_QUEUE_BUDGET + 1)
			offer(r, 0); /* the driver keeps the ring full */
	}
	assert_int_equal(virtio_dev_pop(&vd, 0, &elem, "bad"), 0);
	assert_int_equal(requeued, 1);
	/* Its next turn starts a fresh budget. */
	assert_int_equal(virtio_dev_pop(&vd, 0, &elem, "bad"), 1);
	virtio_dev_destroy(&vd);
	logger_destroy(&log);
	ring_start(r, QSIZE, true, false);
}

static void test_index_wrap(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	unsigned int i, n = 65536 + 40;

	ring_start(r, 4, false, false);
	for (i = 0; i < 4; i++)
		set_desc(r, i, BUF_GPA + 0x100 * i, 16, F_WRITE, 0);
	for (i = 0; i < n; i++) {
		/* Two in flight at a time, so the two rings wrap at different moments. */
		offer(r, i % 4);
		if (i % 2 == 0)
			continue;
		assert_int_equal(virtq_pop(&r->q, &elem), 1);
		assert_int_equal(elem.head, (i - 1) % 4);
		virtq_push(&r->q, &elem, i);
		assert_int_equal(virtq_pop(&r->q, &elem), 1);
		assert_int_equal(elem.head, i % 4);
		virtq_push(&r->q, &elem, i);
		assert_int_equal(virtq_pop(&r->q, &elem), 0);
	}
	assert_int_equal(used_idx(r), (uint16_t)n);
	assert_int_equal(r->q.last_avail, (uint16_t)n);
	assert_int_equal(used_id(r, (n - 1) % 4), (n - 1) % 4);
	assert_int_equal(used_len(r, (n - 1) % 4), n - 1);
}

static void test_bad_loops_and_indices(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	unsigned int i;

	set_desc(r, 0, BUF_GPA, 8, F_NEXT, 1); /* 0 -> 1 -> 0 */
	set_desc(r, 1, BUF_GPA, 8, F_NEXT, 0);
	expect_bad(r, 0);
	set_desc(r, 2, BUF_GPA, 8, F_NEXT, 2); /* 2 -> 2 */
	expect_bad(r, 2);
	/* A chain through every descriptor and on: longer than the ring. */
	for (i = 0; i < QSIZE; i++)
		set_desc(r, i, BUF_GPA, 1, F_NEXT, (i + 1) % QSIZE);
	expect_bad(r, 3);
	/* The same chain ended at the last descriptor is exactly ring-sized and fine. */
	for (i = 0; i < QSIZE; i++)
		set_desc(r, i, BUF_GPA, 1, i < QSIZE - 1 ? F_NEXT : 0, i + 1);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.nr_out, QSIZE);
	assert_int_equal(elem.out_len, QSIZE);
	set_desc(r, 4, BUF_GPA, 8, F_NEXT, QSIZE);
	expect_bad(r, 4);
	set_desc(r, 4, BUF_GPA, 8, F_NEXT, 0xffff);
	expect_bad(r, 4);
	expect_bad(r, QSIZE);
	expect_bad(r, 0xffff);
}

static void test_bad_avail_idx(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;

	set_desc(r, 0, BUF_GPA, 8, 0, 0);
	set_avail_idx(r, QSIZE + 1);
	assert_int_equal(virtq_pop(&r->q, &elem), -EINVAL);
	/* Nothing can be trusted, so nothing is consumed: it keeps failing. */
	assert_int_equal(virtq_pop(&r->q, &elem), -EINVAL);
	assert_int_equal(r->q.last_avail, 0);
	set_avail_idx(r, 0xffff); /* "behind" us is just as far ahead */
	assert_int_equal(virtq_pop(&r->q, &elem), -EINVAL);
	set_avail_idx(r, r->avail_idx);
	expect_good_next(r);
}

static void test_bad_buffers(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;

	set_desc(r, 0, RAM_SIZE, 1, 0, 0); /* just past RAM */
	expect_bad(r, 0);
	set_desc(r, 0, RAM_SIZE - 1, 2, F_WRITE, 0); /* crosses the end */
	expect_bad(r, 0);
	set_desc(r, 0, 0x40000000, 16, 0, 0);
	expect_bad(r, 0);
	set_desc(r, 0, UINT64_MAX - 0xff, 0x200, 0, 0); /* addr + len wraps */
	expect_bad(r, 0);
	set_desc(r, 0, 0x100, UINT32_MAX, 0, 0);
	expect_bad(r, 0);
	/* The bad buffer may come late in the chain. */
	set_desc(r, 0, BUF_GPA, 8, F_NEXT, 1);
	set_desc(r, 1, BUF_GPA, 8, F_WRITE | F_NEXT, 2);
	set_desc(r, 2, UINT64_MAX, 1, F_WRITE, 0);
	expect_bad(r, 0);
	/* Readable after writable. */
	set_desc(r, 0, BUF_GPA, 8, F_WRITE | F_NEXT, 1);
	set_desc(r, 1, BUF_GPA, 8, 0, 0);
	expect_bad(r, 0);

	/* The last byte of RAM is fine. */
	set_desc(r, 0, RAM_SIZE - 1, 1, 0, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_ptr_equal(elem.iov[0].iov_base, hva(r, RAM_SIZE - 1));
	/* An empty buffer is skipped, wherever it points. */
	set_desc(r, 0, BUF_GPA, 8, F_WRITE | F_NEXT, 1);
	set_desc(r, 1, UINT64_MAX, 0, F_NEXT, 2);
	set_desc(r, 2, BUF_GPA, 4, F_WRITE, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.nr_in, 2);
	assert_int_equal(elem.in_len, 12);
}

static void test_indirect_good(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	uint64_t tables[] = { TABLE_GPA, TABLE_GPA + 0x804 }; /* aligned, and not */
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		/* A direct readable buffer, then a table of 3, which starts at 0: 0 -> 2 -> 1. */
		set_desc(r, 6, BUF_GPA, 10, F_NEXT, 7);
		set_desc(r, 7, tables[i], 3 * 16, F_INDIRECT, 0);
		write_desc(r, tables[i], 0, BUF_GPA + 0x100, 20, F_NEXT, 2);
		write_desc(r, tables[i], 2, BUF_GPA + 0x200, 30, F_WRITE | F_NEXT, 1);
		write_desc(r, tables[i], 1, BUF_GPA + 0x300, 40, F_WRITE, 0);
		offer(r, 6);
		assert_int_equal(virtq_pop(&r->q, &elem), 1);
		assert_int_equal(elem.head, 6);
		assert_int_equal(elem.nr_out, 2);
		assert_int_equal(elem.nr_in, 2);
		assert_int_equal(elem.out_len, 30);
		assert_int_equal(elem.in_len, 70);
		assert_ptr_equal(elem.iov[1].iov_base, hva(r, BUF_GPA + 0x100));
		assert_ptr_equal(elem.iov[2].iov_base, hva(r, BUF_GPA + 0x200));
		assert_ptr_equal(elem.iov[3].iov_base, hva(r, BUF_GPA + 0x300));
		assert_int_equal(elem.iov[3].iov_len, 40);
	}
	/* The largest table, all of it one chain: VIRTQ_MAX_SEGS buffers exactly. */
	set_desc(r, 0, TABLE_GPA, VIRTQ_MAX_SIZE * 16, F_INDIRECT, 0);
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		write_desc(r, TABLE_GPA, i, BUF_GPA + i, 1, i + 1 < VIRTQ_MAX_SIZE ? F_NEXT : 0,
			   i + 1);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.nr_out, VIRTQ_MAX_SEGS);
	assert_int_equal(elem.out_len, VIRTQ_MAX_SEGS);
}

static void test_indirect_bad(void **state)
{
	struct ring *r = *state;
	unsigned int i;

	write_desc(r, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	write_desc(r, TABLE_GPA, 1, BUF_GPA, 8, 0, 0);
	set_desc(r, 0, TABLE_GPA, 32, F_INDIRECT | F_NEXT, 1); /* INDIRECT with NEXT */
	set_desc(r, 1, BUF_GPA, 8, 0, 0);
	expect_bad(r, 0);
	set_desc(r, 0, TABLE_GPA, 24, F_INDIRECT, 0); /* not a multiple of 16 */
	expect_bad(r, 0);
	set_desc(r, 0, TABLE_GPA, 0, F_INDIRECT, 0);
	expect_bad(r, 0);
	set_desc(r, 0, TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16, F_INDIRECT, 0);
	expect_bad(r, 0);
	set_desc(r, 0, TABLE_GPA, 0xfffffff0, F_INDIRECT, 0);
	expect_bad(r, 0);
	set_desc(r, 0, RAM_SIZE - 16, 32, F_INDIRECT, 0); /* crosses the end of RAM */
	expect_bad(r, 0);
	set_desc(r, 0, 0x80000000, 32, F_INDIRECT, 0);
	expect_bad(r, 0);
	set_desc(r, 0, UINT64_MAX - 15, 32, F_INDIRECT, 0);
	expect_bad(r, 0);

	set_desc(r, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	write_desc(r, TABLE_GPA, 0, BUF_GPA, 8, F_NEXT, 1); /* nested table */
	write_desc(r, TABLE_GPA, 1, TABLE_GPA, 32, F_INDIRECT, 0);
	expect_bad(r, 0);
	write_desc(r, TABLE_GPA, 1, BUF_GPA, 8, F_NEXT, 0); /* 0 -> 1 -> 0 */
	expect_bad(r, 0);
	write_desc(r, TABLE_GPA, 1, BUF_GPA, 8, F_NEXT, 1); /* 1 -> 1 */
	expect_bad(r, 0);
	write_desc(r, TABLE_GPA, 1, BUF_GPA, 8, F_NEXT, 2); /* past the table */
	expect_bad(r, 0);
	write_desc(r, TABLE_GPA, 0, BUF_GPA, 8, F_WRITE | F_NEXT, 1); /* readable after writable */
	write_desc(r, TABLE_GPA, 1, BUF_GPA, 8, 0, 0);
	expect_bad(r, 0);
	write_desc(r, TABLE_GPA, 0, 0xfff00000, 8, 0, 0); /* a buffer outside RAM */
	expect_bad(r, 0);

	/* Direct buffers plus a full table: more than VIRTQ_MAX_SEGS. */
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		write_desc(r, TABLE_GPA, i, BUF_GPA + i, 1, i + 1 < VIRTQ_MAX_SIZE ? F_NEXT : 0,
			   i + 1);
	set_desc(r, 0, BUF_GPA, 1, F_NEXT, 1);
	set_desc(r, 1, TABLE_GPA, VIRTQ_MAX_SIZE * 16, F_INDIRECT, 0);
	expect_bad(r, 0);

	/* Without the feature, even a good table is refused. */
	ring_start(r, QSIZE, false, false);
	write_desc(r, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(r, 0, TABLE_GPA, 16, F_INDIRECT, 0);
	expect_bad(r, 0);
}

static int try_enable(struct ring *r, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	int ret;

	virtq_reset(&r->q);
	r->q.size = size;
	r->q.desc_gpa = desc;
	r->q.avail_gpa = avail;
	r->q.used_gpa = used;
	ret = virtq_enable(&r->q, &r->mem);
	assert_int_equal(r->q.enabled, ret == 0);
	return ret;
}

static void test_enable_checks(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;
	uint64_t avail_end = RAM_SIZE - (6 + 2 * QSIZE), used_end = RAM_SIZE - 136;

	assert_int_equal(try_enable(r, 1, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	assert_int_equal(try_enable(r, VIRTQ_MAX_SIZE, DESC_GPA, 0x4000, 0x5000), 0);
	assert_int_equal(try_enable(r, 0, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, 3, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, 100, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, VIRTQ_MAX_SIZE * 2, DESC_GPA, 0x4000, 0x5000), -EINVAL);
	assert_int_equal(try_enable(r, 0xffff, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);

	/* Alignment: 16, 2, 4. */
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA + 8, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, AVAIL_GPA + 1, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA + 2), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA + 16, AVAIL_GPA + 2, USED_GPA + 4), 0);

	/* Outside RAM, or wrapping. */
	assert_int_equal(try_enable(r, QSIZE, 0x200000, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, 0x80000000, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, UINT64_MAX - 15, AVAIL_GPA, USED_GPA), -EINVAL);

	/* Just fitting at the end of RAM, and crossing it (the event fields count). */
	assert_int_equal(try_enable(r, QSIZE, RAM_SIZE - 16 * QSIZE, AVAIL_GPA, USED_GPA), 0);
	assert_int_equal(try_enable(r, QSIZE, RAM_SIZE - 16 * QSIZE + 16, AVAIL_GPA, USED_GPA),
			 -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, avail_end, USED_GPA), 0);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, avail_end + 2, USED_GPA), -EINVAL);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, AVAIL_GPA, used_end), 0);
	assert_int_equal(try_enable(r, QSIZE, DESC_GPA, AVAIL_GPA, used_end + 4), -EINVAL);

	/* A refused queue is inert. */
	assert_int_equal(try_enable(r, 3, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
	assert_false(virtq_has_avail(&r->q));
	assert_false(virtq_should_notify(&r->q));
}

/* Each enable maps the rings afresh from the current addresses. */
static void test_enable_rederives(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;

	set_desc(r, 0, BUF_GPA, 8, 0, 0);
	write_desc(r, 0x6000, 0, BUF_GPA + 0x100, 24, F_WRITE, 0);
	r->q.desc_gpa = 0x6000;
	assert_int_equal(virtq_enable(&r->q, &r->mem), 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.in_len, 24);
	assert_ptr_equal(elem.iov[0].iov_base, hva(r, BUF_GPA + 0x100));
	/* A failed enable leaves nothing usable behind. */
	r->q.desc_gpa = 0x6008;
	assert_int_equal(virtq_enable(&r->q, &r->mem), -EINVAL);
	assert_false(r->q.enabled);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
}

static void test_reset(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem = { .head = 0 };

	virtq_reset(&r->q);
	assert_false(r->q.enabled);
	assert_int_equal(r->q.size, 0);
	assert_int_equal(r->q.desc_gpa, 0);
	set_avail_idx(r, 1);
	assert_int_equal(virtq_pop(&r->q, &elem), 0);
	assert_false(virtq_has_avail(&r->q));
	virtq_push(&r->q, &elem, 1);
	assert_int_equal(used_idx(r), 0);
	virtq_set_notify(&r->q, false);
	assert_int_equal(get_u16(hva(r, USED_GPA)), 0);
}

/* Push (n) dummy entries. */
static void push_n(struct ring *r, unsigned int n)
{
	const struct virtq_elem elem = { .head = 0 };

	while (n--)
		virtq_push(&r->q, &elem, 0);
}

static void test_notify_flags(void **state)
{
	struct ring *r = *state;

	push_n(r, 1);
	assert_true(virtq_should_notify(&r->q));
	put_u16(hva(r, AVAIL_GPA), VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_n(r, 1);
	assert_false(virtq_should_notify(&r->q));
	put_u16(hva(r, AVAIL_GPA), 0);
	assert_true(virtq_should_notify(&r->q));

	virtq_set_notify(&r->q, false);
	assert_int_equal(get_u16(hva(r, USED_GPA)), VIRTQ_USED_F_NO_NOTIFY);
	virtq_set_notify(&r->q, true);
	assert_int_equal(get_u16(hva(r, USED_GPA)), 0);
	assert_int_equal(avail_event(r), 0);
}

static void test_notify_event_idx(void **state)
{
	struct ring *r = *state;
	struct virtq_elem elem;

	ring_start(r, QSIZE, false, true);
	/* The first signal always goes out: there is no previous one to compare with. */
	push_n(r, 1);
	set_used_event(r, 5);
	assert_true(virtq_should_notify(&r->q)); /* old = 1 from here */
	/* The driver wants an interrupt once entry 5 is used. */
	push_n(r, 2);
	assert_false(virtq_should_notify(&r->q)); /* [1, 3) */
	push_n(r, 2);
	assert_false(virtq_should_notify(&r->q)); /* [3, 5) */
	push_n(r, 1);
	assert_true(virtq_should_notify(&r->q));  /* [5, 6) */
	assert_false(virtq_should_notify(&r->q)); /* nothing new */
	/* Inside a batch. */
	set_used_event(r, 8);
	push_n(r, 4);
	assert_true(virtq_should_notify(&r->q)); /* [6, 10) */
	/* An event index already passed is not signalled again. */
	push_n(r, 1);
	assert_false(virtq_should_notify(&r->q));
	/* NO_INTERRUPT means nothing with EVENT_IDX. */
	put_u16(hva(r, AVAIL_GPA), VIRTQ_AVAIL_F_NO_INTERRUPT);
	set_used_event(r, 11);
	push_n(r, 1);
	assert_true(virtq_should_notify(&r->q));

	/* Across the 16-bit wrap. */
	push_n(r, 65534 - 12);
	assert_int_equal(r->q.next_used, 65534);
	virtq_should_notify(&r->q);
	set_used_event(r, 65535);
	push_n(r, 2); /* next_used wraps to 0 */
	assert_int_equal(used_idx(r), 0);
	assert_true(virtq_should_notify(&r->q)); /* [65534, 0) holds 65535 */
	set_used_event(r, 0xffff);
	push_n(r, 1);
	assert_false(virtq_should_notify(&r->q)); /* [0, 1) */
	set_used_event(r, 2);
	push_n(r, 3);
	assert_true(virtq_should_notify(&r->q)); /* [1, 4) */

	/* set_notify(true) asks for a kick past what was consumed; false leaves it be. */
	set_desc(r, 0, BUF_GPA, 8, 0, 0);
	offer(r, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	virtq_set_notify(&r->q, true);
	assert_int_equal(avail_event(r), 1);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	virtq_set_notify(&r->q, false);
	assert_int_equal(avail_event(r), 1);
	virtq_set_notify(&r->q, true);
	assert_int_equal(avail_event(r), 2);
	assert_int_equal(get_u16(hva(r, USED_GPA)), 0); /* flags untouched */
}

#define RING_TEST(f) cmocka_unit_test_setup_teardown(f, ring_setup, ring_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		RING_TEST(test_good_chain),
		RING_TEST(test_empty_ring),
		RING_TEST(test_several_in_order),
		RING_TEST(test_full_ring),
		RING_TEST(test_dev_pop_budget),
		RING_TEST(test_index_wrap),
		RING_TEST(test_bad_loops_and_indices),
		RING_TEST(test_bad_avail_idx),
		RING_TEST(test_bad_buffers),
		RING_TEST(test_indirect_good),
		RING_TEST(test_indirect_bad),
		RING_TEST(test_enable_checks),
		RING_TEST(test_enable_rederives),
		RING_TEST(test_reset),
		RING_TEST(test_notify_flags),
		RING_TEST(test_notify_event_idx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
