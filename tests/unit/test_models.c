/*
 * Virtio models built through their public constructors from what they use (guest memory,
 * an event loop, their config) and nothing else: no VM, no KVM, no MMIO slot. The test is
 * the driver (it lays the rings out in guest memory) and the transport (it counts the
 * interrupts the model raises).
 */
#include "unit.h"

#include <errno.h>

#include "util/eventloop.h"
#include "virtio/balloon.h"
#include "virtio/queue.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"

#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x11000ULL
#define USED_GPA  0x12000ULL
#define BUF_GPA	  0x20000ULL
#define QSIZE	  8

struct rig {
	struct guest_mem mem;
	struct event_loop loop;
	struct logger log;
	unsigned int interrupts[3]; /* by reason: [VIRTIO_INT_VRING], [VIRTIO_INT_CONFIG] */
	unsigned int requeues;
	uint16_t avail_idx;
};

static struct rig *rig_of(struct virtio_dev *vd)
{
	return vd->transport_priv;
}

static void fake_interrupt(struct virtio_dev *vd, uint32_t why)
{
	rig_of(vd)->interrupts[why]++;
}

static void fake_requeue(struct virtio_dev *vd, unsigned int q)
{
	(void)q;
	rig_of(vd)->requeues++;
}

static const struct virtio_transport_ops fake_transport = {
	.interrupt = fake_interrupt,
	.requeue = fake_requeue,
};

static uint8_t *hva(struct rig *r, uint64_t gpa)
{
	uint8_t *p = gpa_to_hva(&r->mem, gpa, 1);

	assert_non_null(p);
	return p;
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	unit_mem_init(&r->mem, 16);
	logger_init(&r->log);
	if (event_loop_init(&r->loop))
		return -1;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	event_loop_destroy(&r->loop);
	guest_mem_destroy(&r->mem);
	logger_destroy(&r->log);
	free(r);
	return 0;
}

/* What a driver does before it posts buffers: take the transport, enable queue (q), go. */
static void rig_drive(struct rig *r, struct virtio_dev *vd, unsigned int q)
{
	struct virtq *vq = &vd->queues[q];

	vd->transport = &fake_transport;
	vd->transport_priv = r;
	memset(hva(r, DESC_GPA), 0, USED_GPA + 0x1000 - DESC_GPA);
	vq->size = QSIZE;
	vq->desc_gpa = DESC_GPA;
	vq->avail_gpa = AVAIL_GPA;
	vq->used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(vq, &r->mem), 0);
	vd->driver_features = 1ULL << VIRTIO_F_VERSION_1;
	vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	r->avail_idx = 0;
}

/* Post one device-writable buffer of (len) bytes at BUF_GPA as descriptor 0. */
static void rig_post_writable(struct rig *r, uint32_t len)
{
	uint8_t *d = hva(r, DESC_GPA);
	uint8_t *avail = hva(r, AVAIL_GPA);

	put_u64(d, BUF_GPA);
	put_u32(d + 8, len);
	put_u16(d + 12, VIRTQ_DESC_F_WRITE);
	put_u16(avail + 4 + 2 * (r->avail_idx % QSIZE), 0);
	r->avail_idx++;
	put_u16(avail + 2, r->avail_idx);
}

static uint16_t used_idx(struct rig *r)
{
	uint16_t v;

	memcpy(&v, hva(r, USED_GPA) + 2, 2);
	return v;
}

static uint32_t used_len(struct rig *r, unsigned int slot)
{
	uint32_t v;

	memcpy(&v, hva(r, USED_GPA) + 4 + 8 * slot + 4, 4);
	return v;
}

static void kick(struct virtio_dev *vd, unsigned int q)
{
	pthread_mutex_lock(&vd->lock);
	vd->ops->queue_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

static void test_rng_without_a_vm(void **state)
{
	struct rig *r = *state;
	struct throttle_config unlimited = { 0 };
	struct virtio_rng *rng;
	struct virtio_dev *vd;
	static const uint8_t zero[64];

	assert_int_equal(virtio_rng_create(&r->mem, &r->loop, &r->log, &unlimited, &rng), 0);
	vd = virtio_rng_dev(rng);
	assert_int_equal(vd->ops->device_id, VIRTIO_ID_RNG);
	assert_null(vd->transport); /* nothing put it on a bus */
	rig_drive(r, vd, 0);
	memset(hva(r, BUF_GPA), 0, 64);
	rig_post_writable(r, 64);
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_len(r, 0), 64);
	assert_memory_not_equal(hva(r, BUF_GPA), zero, 64); /* 2^-512 to be wrong */
	assert_int_equal(r->interrupts[VIRTIO_INT_VRING], 1);
	virtio_rng_destroy(rng);
}

static void test_rng_throttled_waits_for_the_loop(void **state)
{
	struct rig *r = *state;
	/* one 16-byte request's worth of bandwidth, refilled only after a second */
	struct throttle_config limit = { .bandwidth = { .size = 16, .refill_time_ms = 1000 } };
	struct virtio_rng *rng;
	struct virtio_dev *vd;

	assert_int_equal(virtio_rng_create(&r->mem, &r->loop, &r->log, &limit, &rng), 0);
	vd = virtio_rng_dev(rng);
	rig_drive(r, vd, 0);
	rig_post_writable(r, 16);
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);
	rig_post_writable(r, 16);
	kick(vd, 0);
	/* out of tokens: the request waits on the throttle's timer in the loop, unanswered */
	assert_int_equal(used_idx(r), 1);
	virtio_rng_destroy(rng);
}

static void test_balloon_without_a_vm(void **state)
{
	struct rig *r = *state;
	struct balloon_config cfg = { .target_mib = 4, .deflate_on_oom = true };
	struct virtio_balloon *b;
	struct balloon_stats s;
	struct virtio_dev *vd;
	uint32_t pages;

	assert_int_equal(virtio_balloon_create(&r->mem, &r->loop, &r->log, &cfg, &b), 0);
	vd = virtio_balloon_dev(b);
	assert_int_equal(vd->ops->device_id, VIRTIO_ID_BALLOON);
	assert_int_equal(virtio_balloon_stats_period(b), 0);
	vd->ops->config_read(vd, 0, &pages, 4);
	assert_int_equal(pages, 4 * MiB / 4096);
	rig_drive(r, vd, 0);
	/* a new target reaches the driver as a configuration change */
	assert_int_equal(virtio_balloon_set_target(b, 8), 0);
	assert_int_equal(r->interrupts[VIRTIO_INT_CONFIG], 1);
	vd->ops->config_read(vd, 0, &pages, 4);
	assert_int_equal(pages, 8 * MiB / 4096);
	/* the guest's RAM is what the model was given: 16 MiB, so 17 is refused */
	assert_int_equal(virtio_balloon_set_target(b, 17), -EINVAL);
	assert_int_equal(r->interrupts[VIRTIO_INT_CONFIG], 1);
	virtio_balloon_stats(b, &s);
	assert_int_equal(s.target_mib, 8);
	/* statistics cannot be switched on after creation */
	assert_int_equal(virtio_balloon_set_stats_period(b, 5), -EINVAL);
	virtio_balloon_destroy(b);
}

static void test_balloon_stats_timer_on_the_loop(void **state)
{
	struct rig *r = *state;
	struct balloon_config cfg = { .target_mib = 0, .stats_period = 1 };
	struct virtio_balloon *b;

	assert_int_equal(virtio_balloon_create(&r->mem, &r->loop, &r->log, &cfg, &b), 0);
	assert_int_equal(virtio_balloon_stats_period(b), 1);
	assert_int_equal(virtio_balloon_set_stats_period(b, 2), 0);
	assert_int_equal(virtio_balloon_stats_period(b), 2);
	virtio_balloon_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rng_without_a_vm, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_rng_throttled_waits_for_the_loop, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_balloon_without_a_vm, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_balloon_stats_timer_on_the_loop, rig_setup,
						rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
