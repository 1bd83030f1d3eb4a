/*
 * Virtqueues and virtio devices as snapshots see them: the guest pages the device writes
 * are marked for Diff snapshots, and a device's virtio state goes through save and restore
 * unchanged, or is refused when the file lies. No VM: the test is the driver (rings laid
 * out by hand in guest memory) and the transport (it counts interrupts and requeues).
 */
#include "unit.h"

#include <errno.h>

#include "snapshot/stream.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"

/* Two RAM regions, so a page number is not simply gpa / 4096 everywhere. */
#define LOW_SIZE  (1 * MiB)
#define HIGH_GPA  (16 * MiB)
#define HIGH_SIZE (1 * MiB)
#define DESC_GPA  0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA  0x3000ULL
#define TABLE_GPA 0x8000ULL
#define BUF_GPA	  0x10000ULL
#define QSIZE	  8

struct rig {
	struct guest_mem mem;
	struct virtq q;
	uint16_t avail_idx;
};

static uint8_t *hva(struct rig *r, uint64_t gpa)
{
	uint8_t *p = gpa_to_hva(&r->mem, gpa, 1);

	assert_non_null(p);
	return p;
}

static int rig_setup(void **state)
{
	const struct mem_region layout[2] = {
		{ .gpa = 0, .size = LOW_SIZE },
		{ .gpa = HIGH_GPA, .size = HIGH_SIZE },
	};
	struct rig *r = calloc(1, sizeof(*r));

	if (!r || guest_mem_init(&r->mem, layout, 2)) {
		free(r);
		return -1;
	}
	r->q.size = QSIZE;
	r->q.desc_gpa = DESC_GPA;
	r->q.avail_gpa = AVAIL_GPA;
	r->q.used_gpa = USED_GPA;
	r->q.indirect = true;
	if (virtq_enable(&r->q, &r->mem))
		return -1;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	guest_mem_destroy(&r->mem);
	free(r);
	return 0;
}

static void write_desc(struct rig *r, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		       uint16_t flags, uint16_t next)
{
	uint8_t *d = hva(r, table + 16ULL * i);

	put_u64(d, addr);
	put_u32(d + 8, len);
	put_u16(d + 12, flags);
	put_u16(d + 14, next);
}

static void offer(struct rig *r, uint16_t head)
{
	put_u16(hva(r, AVAIL_GPA + 4 + 2 * (r->avail_idx % r->q.size)), head);
	put_u16(hva(r, AVAIL_GPA + 2), ++r->avail_idx);
}

/* Whether the page holding (gpa) is marked written by the device. */
static bool dirty(struct rig *r, uint64_t gpa)
{
	if (gpa >= HIGH_GPA)
		return guest_mem_page_dirty(&r->mem, 1, (gpa - HIGH_GPA) / GUEST_PAGE_SIZE);
	return guest_mem_page_dirty(&r->mem, 0, gpa / GUEST_PAGE_SIZE);
}

/* How many pages of all RAM are marked. */
static unsigned int nr_dirty(struct rig *r)
{
	unsigned int i, n = 0;
	uint64_t p;

	for (i = 0; i < r->mem.nr_regions; i++)
		for (p = 0; p < r->mem.regions[i].size / GUEST_PAGE_SIZE; p++)
			n += guest_mem_page_dirty(&r->mem, i, p);
	return n;
}

static void test_dirty_pop_and_push(void **state)
{
	struct rig *r = *state;
	struct virtq_elem elem;

	assert_int_equal(guest_mem_track_dirty(&r->mem), 0);
	/*
	 * A readable buffer, a writable one across a page boundary, and an indirect table
	 * with a writable buffer in the high region: only the writable ones are marked.
	 */
	write_desc(r, DESC_GPA, 0, BUF_GPA, 100, VIRTQ_DESC_F_NEXT, 1);
	write_desc(r, DESC_GPA, 1, BUF_GPA + 0x2f00, 0x200, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		   2);
	write_desc(r, DESC_GPA, 2, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	write_desc(r, TABLE_GPA, 0, HIGH_GPA + 0x5000, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	assert_int_equal(elem.nr_in, 2);
	assert_true(dirty(r, BUF_GPA + 0x2000));
	assert_true(dirty(r, BUF_GPA + 0x3000));
	assert_true(dirty(r, HIGH_GPA + 0x5000));
	assert_false(dirty(r, BUF_GPA));     /* readable: the device only read it */
	assert_false(dirty(r, TABLE_GPA));   /* the indirect table is the driver's */
	assert_false(dirty(r, USED_GPA));    /* nothing used yet */
	assert_int_equal(nr_dirty(r), 3);

	/* The used ring when the chain goes back, and nothing of the driver's rings. */
	guest_mem_clear_dirty(&r->mem);
	virtq_push(&r->q, &elem, 0x240);
	assert_true(dirty(r, USED_GPA));
	assert_int_equal(nr_dirty(r), 1);

	/* Notification flags live in the used ring too. */
	guest_mem_clear_dirty(&r->mem);
	virtq_set_notify(&r->q, false);
	assert_true(dirty(r, USED_GPA));
	assert_int_equal(nr_dirty(r), 1);
}

static void test_dirty_event_idx_and_batches(void **state)
{
	struct rig *r = *state;
	struct virtq_elem elem = { .head = 0 };

	/* A used ring whose avail_event lies on the next page: 4 + 8 * 256 bytes from 0x3ff0. */
	virtq_reset(&r->q);
	r->q.size = 256;
	r->q.desc_gpa = DESC_GPA;
	r->q.avail_gpa = AVAIL_GPA;
	r->q.used_gpa = 0x5ff0;
	r->q.event_idx = true;
	assert_int_equal(virtq_enable(&r->q, &r->mem), 0);
	assert_int_equal(guest_mem_track_dirty(&r->mem), 0);
	virtq_set_notify(&r->q, true);
	assert_true(dirty(r, 0x6000 + 4 + 8 * 256 - 16));
	assert_false(dirty(r, 0x5000));
	guest_mem_clear_dirty(&r->mem);
	/* A batch: slots 0 and 1 are on the first page, the index is too. */
	virtq_fill(&r->q, &elem, 1, 0);
	virtq_fill(&r->q, &elem, 1, 3);
	virtq_flush(&r->q, 4);
	assert_true(dirty(r, 0x5ff0));
	assert_true(dirty(r, 0x6000)); /* slot 3 at 0x5ff4 + 24 */
	assert_int_equal(nr_dirty(r), 2);
}

static void test_dirty_off_marks_nothing(void **state)
{
	struct rig *r = *state;
	struct virtq_elem elem;

	/* Tracking was never turned on: the same work costs a NULL test, and marks nothing. */
	write_desc(r, DESC_GPA, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	virtq_push(&r->q, &elem, 64);
	assert_null(r->mem.dirty[0]);
	assert_int_equal(nr_dirty(r), 0);
}

#define RIG_TEST(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		RIG_TEST(test_dirty_pop_and_push),
		RIG_TEST(test_dirty_event_idx_and_batches),
		RIG_TEST(test_dirty_off_marks_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
