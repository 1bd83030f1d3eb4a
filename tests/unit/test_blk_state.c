/*
 * virtio-blk through a snapshot, by its machine hooks (device_kind_disk): the save answers
 * the requests in flight before it writes anything, and the serial and the rate limiter's
 * tokens come back in a disk built from the same configuration, checked as untrusted. The io_uring engine
 * on a pipe (blk_rig.h) keeps a read in flight until the test writes its data.
 */
#define _GNU_SOURCE /* pipe2, in blk_rig.h */
#include <pthread.h>

#include "blk_rig.h"
#include "machine/machine.h"
#include "snap_rig.h"

static int rig_setup(void **state)
{
	return blk_rig_setup((struct blk_rig **)state, false);
}

static int rig_teardown(void **state)
{
	blk_rig_teardown(*state);
	return 0;
}

static void *late_writer(void *opaque)
{
	struct blk_rig *r = opaque;
	uint8_t data[1024];

	usleep(100 * 1000);
	memset(data, 'c', sizeof(data));
	assert_int_equal(write(r->pipe[1], data, sizeof(data)), sizeof(data));
	return NULL;
}

static void save_disk(struct virtio_blk *blk, struct snap_blob *b)
{
	struct snap_writer w;

	snap_rig_begin(&w);
	assert_int_equal(device_kind_disk.save(blk, &w), 0);
	snap_rig_end(&w, b);
}

/* Two reads in flight when the snapshot comes: both are answered before it is taken. */
static void test_save_answers_what_is_in_flight(void **state)
{
	struct blk_rig *r = *state;
	uint8_t want[512];
	pthread_t writer;
	struct snap_blob b;

	if (!r->blk->io.uring)
		skip();
	blk_rig_read(r->blk, r->buf[0], sizeof(r->buf[0]), &r->status[0]);
	blk_rig_read(r->blk, r->buf[1], sizeof(r->buf[1]), &r->status[1]);
	io_engine_submit(&r->blk->io);
	assert_int_equal(r->blk->io.in_flight, 2);
	assert_int_equal(pthread_create(&writer, NULL, late_writer, r), 0);
	save_disk(r->blk, &b);
	pthread_join(writer, NULL);
	assert_int_equal(r->blk->io.in_flight, 0);
	assert_int_equal(r->blk->nr_free, VIRTQ_MAX_SIZE);
	assert_int_equal(r->status[0], VIRTIO_BLK_S_OK);
	assert_int_equal(r->status[1], VIRTIO_BLK_S_OK);
	memset(want, 'c', sizeof(want));
	assert_memory_equal(r->buf[0], want, sizeof(want));
	assert_memory_equal(r->buf[1], want, sizeof(want));
	assert_int_equal(b.len, BLK_ID_BYTES + 2 * 3 * 8);
	snap_blob_free(&b);
}

static int disk_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct blk_rig *r = opaque;

	return device_kind_disk.restore(r->blk, c, why, why_len);
}

static void set_limit(struct blk_rig *r, const struct throttle_config *limit)
{
	pthread_mutex_lock(&r->blk->vd.lock);
	assert_int_equal(throttle_update(&r->blk->throttle, limit), 0);
	pthread_mutex_unlock(&r->blk->vd.lock);
	r->cfg.limit = *limit;
}

#define L BLK_ID_BYTES /* where the rate limiter starts in the section */

static void test_state_round_trip(void **state)
{
	struct blk_rig *r = *state, *fresh;
	/* 4 KiB with a 1 KiB burst and 3 requests, refilled over an hour. */
	const struct throttle_config limit = { .bandwidth = { 4096, 1024, 3600 * 1000 },
					       .ops = { 3, 0, 3600 * 1000 } };
	const struct token_bucket *bw, *ops;
	struct snap_blob b;

	set_limit(r, &limit);
	assert_true(throttle_allow(&r->blk->throttle, 1024 + 1000));
	/* The serial the guest reads (GET_ID) travels too, whatever the configuration says. */
	memset(r->blk->id, 0, sizeof(r->blk->id));
	memcpy(r->blk->id, "first-disk", 10);
	save_disk(r->blk, &b);
	assert_int_equal(b.len, BLK_ID_BYTES + 2 * 3 * 8);

	assert_int_equal(blk_rig_setup(&fresh, true), 0);
	set_limit(fresh, &limit);
	snap_rig_load_ok(disk_load, fresh, &b);
	bw = &fresh->blk->throttle.rl.bandwidth;
	ops = &fresh->blk->throttle.rl.ops;
	assert_int_equal(bw->one_time_burst, 0);
	assert_int_equal(bw->budget, 4096 - 1000);
	assert_int_equal(ops->budget, 2);
	/* The limits stay the configuration's. */
	assert_int_equal(bw->size, 4096);
	assert_int_equal(ops->size, 3);
	assert_memory_equal(fresh->blk->id, r->blk->id, BLK_ID_BYTES);
	assert_string_not_equal(fresh->blk->id, "ember-disk-0");

	/* A serial the guest could not have been given: unprintable, or text after the NULs. */
	snap_rig_refused(disk_load, fresh, &b, 3, 0x01, "disk serial");
	snap_rig_refused(disk_load, fresh, &b, 15, 'x', "disk serial");
	snap_rig_refused(disk_load, fresh, &b, L + 0, 1, "rate limiter");	  /* a burst back */
	snap_rig_refused(disk_load, fresh, &b, L + 9, 0x20, "rate limiter");  /* budget > size */
	snap_rig_refused(disk_load, fresh, &b, L + 24 + 8, 4, "rate limiter"); /* ops > size */
	/* Whatever was refused changed nothing. */
	assert_int_equal(bw->budget, 4096 - 1000);
	assert_int_equal(ops->budget, 2);
	assert_true(snap_rig_abuse(disk_load, fresh, &b) > 0);
	snap_blob_free(&b);
	blk_rig_teardown(fresh);
}

#define RIG_TEST(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		RIG_TEST(test_save_answers_what_is_in_flight),
		RIG_TEST(test_state_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
