/*
 * Virtqueues and virtio devices as snapshots see them: the guest pages the device writes
 * are marked for Diff snapshots, and a device's virtio state goes through save and restore
 * unchanged, or is refused when the file lies. No VM: the test is the driver (rings laid
 * out by hand in guest memory) and the transport (it counts interrupts and requeues).
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "snap_rig.h"
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

/* --- a queue through a snapshot --- */

static void save_queue(const struct virtq *q, struct snap_blob *b)
{
	struct snap_writer w;

	snap_rig_begin(&w);
	virtq_save(q, &w);
	snap_rig_end(&w, b);
}

/* Restore into ctx's queue, over the rig's memory, as a device would. */
struct queue_ctx {
	struct rig *r;
	struct virtq q;
};

static int restore_queue(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct queue_ctx *ctx = opaque;
	int ret;

	virtq_reset(&ctx->q);
	ret = virtq_restore(&ctx->q, &ctx->r->mem, c);
	return ret ? snap_cursor_end(c, why, why_len) : 0;
}

/* Offsets of the fields in a saved queue. */
#define QOFF_SIZE	0
#define QOFF_DESC	2
#define QOFF_USED	18
#define QOFF_EVENT_IDX	26
#define QOFF_ENABLED	28
#define QOFF_LAST_AVAIL 29
#define QOFF_NEXT_USED	31
#define QOFF_VALID	35
#define QUEUE_BYTES	36

static void test_queue_round_trip(void **state)
{
	struct rig *r = *state;
	struct queue_ctx ctx = { .r = r };
	struct virtq_elem elem;
	struct snap_blob b;

	/* Three chains offered, two taken, one of them answered, one signal sent. */
	write_desc(r, DESC_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	write_desc(r, DESC_GPA, 1, BUF_GPA + 16, 16, VIRTQ_DESC_F_WRITE, 0);
	write_desc(r, DESC_GPA, 2, BUF_GPA + 32, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	offer(r, 1);
	offer(r, 2);
	r->q.event_idx = true;
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	virtq_push(&r->q, &elem, 16);
	assert_true(virtq_should_notify(&r->q));
	assert_int_equal(virtq_pop(&r->q, &elem), 1);
	save_queue(&r->q, &b);
	assert_int_equal(b.len, QUEUE_BYTES);

	snap_rig_load_ok(restore_queue, &ctx, &b);
	assert_true(ctx.q.enabled);
	assert_int_equal(ctx.q.size, QSIZE);
	assert_int_equal(ctx.q.desc_gpa, DESC_GPA);
	assert_int_equal(ctx.q.avail_gpa, AVAIL_GPA);
	assert_int_equal(ctx.q.used_gpa, USED_GPA);
	assert_true(ctx.q.indirect);
	assert_true(ctx.q.event_idx);
	assert_int_equal(ctx.q.last_avail, 2);
	assert_int_equal(ctx.q.next_used, 1);
	assert_int_equal(ctx.q.signalled_used, 1);
	assert_true(ctx.q.signalled_used_valid);
	/* The rings were mapped again, through the checked path. */
	assert_ptr_equal(ctx.q.desc, r->q.desc);
	assert_ptr_equal(ctx.q.used, r->q.used);
	assert_ptr_equal(ctx.q.mem, &r->mem);
	/* It goes on where it was: the third chain is next, the second is answered next. */
	assert_int_equal(virtq_pop(&ctx.q, &elem), 1);
	assert_int_equal(elem.head, 2);
	virtq_push(&ctx.q, &elem, 7);
	assert_int_equal(get_u32(hva(r, USED_GPA + 4 + 8)), 2);
	snap_blob_free(&b);

	/* A queue the driver is still setting up keeps what it wrote, and does not run. */
	virtq_reset(&r->q);
	r->q.size = 4;
	r->q.desc_gpa = 0xdead000; /* not RAM: nobody checked yet */
	save_queue(&r->q, &b);
	snap_rig_load_ok(restore_queue, &ctx, &b);
	assert_false(ctx.q.enabled);
	assert_int_equal(ctx.q.size, 4);
	assert_int_equal(ctx.q.desc_gpa, 0xdead000);
	assert_null(ctx.q.desc);
	snap_blob_free(&b);
}

static void test_queue_restore_refuses(void **state)
{
	struct rig *r = *state;
	struct queue_ctx ctx = { .r = r };
	struct snap_blob b;
	unsigned int refused;

	r->q.last_avail = 5;
	r->q.next_used = 3;
	save_queue(&r->q, &b);
	snap_rig_load_ok(restore_queue, &ctx, &b);
	/* Sizes: not a power of two, beyond the maximum, 0 while running. */
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_SIZE, 3, "queue size");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_SIZE + 1, 2, "queue size");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_SIZE, 0, "queue rings");
	/* Rings: misaligned, outside RAM, between the two regions. */
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_DESC, 0x08, "queue rings");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_DESC + 4, 1, "queue rings");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_USED + 2, 0x80, "queue rings");
	/* Flags are 0 or 1. */
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_EVENT_IDX, 2, "queue flags");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_ENABLED, 0xff, "queue flags");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_VALID, 2, "queue flags");
	/* More chains out than the ring holds; indices on a queue that is not running. */
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_LAST_AVAIL, 3 + QSIZE + 1, "queue indices");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_NEXT_USED, 6, "queue indices");
	snap_rig_refused(restore_queue, &ctx, &b, QOFF_ENABLED, 0, "queue indices");
	refused = snap_rig_abuse(restore_queue, &ctx, &b);
	assert_true(refused > 0);
	snap_blob_free(&b);
}

/* --- a whole device: a made-up model with two queues and one feature of its own --- */

#define FAKE_F_OWN  5
#define FAKE_ID	    0x77
#define ALL_STATUS  (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
		     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)

struct fake {
	struct virtio_dev vd;
	struct rig *r;
	unsigned int activations, requeued[VIRTIO_MAX_QUEUES], interrupts;
	int activate_result;
};

static uint64_t fake_features(struct virtio_dev *vd)
{
	(void)vd;
	return 1ULL << FAKE_F_OWN;
}

static int fake_activate(struct virtio_dev *vd)
{
	struct fake *f = vd->priv;

	f->activations++;
	return f->activate_result;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = FAKE_ID,
	.num_queues = 2,
	.features = fake_features,
	.activate = fake_activate,
};

static const struct virtio_dev_ops other_ops = {
	.name = "other",
	.device_id = FAKE_ID + 1,
	.num_queues = 2,
};

static void fake_interrupt(struct virtio_dev *vd, uint32_t why)
{
	(void)why;
	((struct fake *)vd->priv)->interrupts++;
}

static void fake_requeue(struct virtio_dev *vd, unsigned int q)
{
	((struct fake *)vd->priv)->requeued[q]++;
}

static const struct virtio_transport_ops fake_transport = {
	.interrupt = fake_interrupt,
	.requeue = fake_requeue,
};

static void fake_init(struct fake *f, struct rig *r, const struct virtio_dev_ops *ops)
{
	memset(f, 0, sizeof(*f));
	virtio_dev_init(&f->vd, ops, f, &r->mem, NULL);
	f->vd.transport = &fake_transport;
	f->r = r;
}

/* A device running: features taken, queue 0 live, queue 1 written but not ready. */
static void fake_drive(struct fake *f)
{
	struct virtio_dev *vd = &f->vd;

	vd->driver_features = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << FAKE_F_OWN |
			      1ULL << VIRTIO_F_RING_EVENT_IDX;
	vd->status = ALL_STATUS;
	vd->config_generation = 3;
	vd->queues[0] = f->r->q;
	vd->queues[0].last_avail = 9;
	vd->queues[0].next_used = 8;
	vd->queues[1].size = 16;
	vd->queues[1].used_gpa = 0x7000;
}

static void save_dev(struct virtio_dev *vd, struct snap_blob *b)
{
	struct snap_writer w;

	snap_rig_begin(&w);
	virtio_dev_save(vd, &w);
	snap_rig_end(&w, b);
}

/* Restore into a fresh fake device, as the transport does: restore, then resume. */
static int restore_dev(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct fake *f = opaque;
	int activate_result = f->activate_result;

	fake_init(f, f->r, f->vd.ops);
	f->activate_result = activate_result;
	if (virtio_dev_restore(&f->vd, c))
		return snap_cursor_end(c, why, why_len);
	if (virtio_dev_resume(&f->vd)) {
		snprintf(why, why_len, "could not be started again");
		return -EIO;
	}
	return 0;
}

/* Offsets in a saved device. */
#define DOFF_ID	      0
#define DOFF_NR_Q     4
#define DOFF_FEATURES 5
#define DOFF_STATUS   13
#define DOFF_QUEUES   18

static void test_dev_round_trip(void **state)
{
	struct rig *r = *state;
	struct fake live, fresh;
	struct snap_blob b;

	fake_init(&live, r, &fake_ops);
	fake_drive(&live);
	save_dev(&live.vd, &b);
	assert_int_equal(b.len, DOFF_QUEUES + 2 * QUEUE_BYTES);
	fake_init(&fresh, r, &fake_ops);
	fresh.vd.popped[0] = 17;
	snap_rig_load_ok(restore_dev, &fresh, &b);
	assert_int_equal(fresh.vd.driver_features, live.vd.driver_features);
	assert_int_equal(fresh.vd.status, ALL_STATUS);
	assert_int_equal(fresh.vd.config_generation, 3);
	assert_true(fresh.vd.queues[0].enabled);
	assert_int_equal(fresh.vd.queues[0].last_avail, 9);
	assert_int_equal(fresh.vd.queues[0].next_used, 8);
	assert_false(fresh.vd.queues[1].enabled);
	assert_int_equal(fresh.vd.queues[1].size, 16);
	assert_int_equal(fresh.vd.queues[1].used_gpa, 0x7000);
	assert_int_equal(fresh.vd.popped[0], 0);
	/* Started as if the driver had just set DRIVER_OK; the live queue is looked at. */
	assert_int_equal(fresh.activations, 1);
	assert_int_equal(fresh.requeued[0], 1);
	assert_int_equal(fresh.requeued[1], 0);
	assert_int_equal(fresh.interrupts, 0);
	snap_blob_free(&b);
	virtio_dev_destroy(&live.vd);
	virtio_dev_destroy(&fresh.vd);
}

static void test_dev_resume_follows_status(void **state)
{
	struct rig *r = *state;
	struct fake live, fresh;
	struct snap_blob b;

	/* Not started by its driver: nothing starts it. */
	fake_init(&live, r, &fake_ops);
	fake_drive(&live);
	live.vd.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK;
	save_dev(&live.vd, &b);
	fake_init(&fresh, r, &fake_ops);
	snap_rig_load_ok(restore_dev, &fresh, &b);
	assert_int_equal(fresh.activations, 0);
	assert_int_equal(fresh.requeued[0], 0);
	snap_blob_free(&b);

	/* Failed (NEEDS_RESET): its backends start, its queues stay ignored. */
	live.vd.status = ALL_STATUS | VIRTIO_STATUS_NEEDS_RESET;
	save_dev(&live.vd, &b);
	snap_rig_load_ok(restore_dev, &fresh, &b);
	assert_int_equal(fresh.vd.status, ALL_STATUS | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(fresh.activations, 1);
	assert_int_equal(fresh.requeued[0], 0);
	snap_blob_free(&b);

	/* A model that cannot start again fails the restore. */
	live.vd.status = ALL_STATUS;
	save_dev(&live.vd, &b);
	{
		char why[256];

		fresh.activate_result = -ENODEV;
		assert_int_equal(snap_rig_load(restore_dev, &fresh, b.data, b.len, why,
					       sizeof(why)), -EIO);
	}
	snap_blob_free(&b);
	virtio_dev_destroy(&live.vd);
	virtio_dev_destroy(&fresh.vd);
}

static void test_dev_restore_refuses(void **state)
{
	struct rig *r = *state;
	struct fake live, fresh, other;
	struct snap_blob b;
	unsigned int refused;

	fake_init(&live, r, &fake_ops);
	fake_drive(&live);
	save_dev(&live.vd, &b);
	fake_init(&fresh, r, &fake_ops);
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_ID, FAKE_ID + 1, "device type");
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_NR_Q, 3, "device type");
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_NR_Q, 200, "device type");
	/* A feature the device never offered; FEATURES_OK without VERSION_1. */
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_FEATURES, 1u << 4 | 1u << FAKE_F_OWN,
			 "driver features");
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_FEATURES + 4, 0, "device status");
	/* Unknown status bits; DRIVER_OK without FEATURES_OK. */
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_STATUS, ALL_STATUS | 0x10, "device status");
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_STATUS, ALL_STATUS | 0x20, "device status");
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_STATUS,
			 ALL_STATUS & ~VIRTIO_STATUS_FEATURES_OK, "device status");
	/* A queue refused is the whole device refused. */
	snap_rig_refused(restore_dev, &fresh, &b, DOFF_QUEUES + QUEUE_BYTES + QOFF_SIZE, 17,
			 "queue size");
	refused = snap_rig_abuse(restore_dev, &fresh, &b);
	assert_true(refused > 0);
	/* The same bytes into another model: refused. */
	fake_init(&other, r, &other_ops);
	{
		char why[256];

		assert_int_equal(snap_rig_load(restore_dev, &other, b.data, b.len, why,
					       sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "device type"));
	}
	snap_blob_free(&b);
	virtio_dev_destroy(&live.vd);
	virtio_dev_destroy(&fresh.vd);
	virtio_dev_destroy(&other.vd);
}

#define RIG_TEST(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		RIG_TEST(test_dirty_pop_and_push),
		RIG_TEST(test_dirty_event_idx_and_batches),
		RIG_TEST(test_dirty_off_marks_nothing),
		RIG_TEST(test_queue_round_trip),
		RIG_TEST(test_queue_restore_refuses),
		RIG_TEST(test_dev_round_trip),
		RIG_TEST(test_dev_resume_follows_status),
		RIG_TEST(test_dev_restore_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
