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

#include "model_rig.h"

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
