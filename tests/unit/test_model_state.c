/*
 * The virtio models' own state through a snapshot, by their machine hooks (device_kind_*
 * .save and .restore): rng's and net's rate limiters, the balloon's statistics and held
 * buffer, vsock's transport reset. Each model is built through its constructor with no VM;
 * the test is its driver and its transport. (virtio-blk: test_blk_state.c.)
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "machine/machine.h"
#include "snap_rig.h"
#include "util/eventloop.h"
#include "virtio/balloon.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"
#include "virtio/vsock.h"

#include "model_rig.h"

static void save_kind(const struct device_kind *kind, void *dev, struct snap_blob *b)
{
	struct snap_writer w;

	snap_rig_begin(&w);
	assert_int_equal(kind->save(dev, &w), 0);
	snap_rig_end(&w, b);
}

/* --- virtio-rng --- */

struct rng_ctx {
	struct rig *r;
	struct throttle_config limit;
	struct virtio_rng *rng;
};

static int rng_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct rng_ctx *ctx = opaque;

	virtio_rng_destroy(ctx->rng);
	assert_int_equal(virtio_rng_create(&ctx->r->mem, &ctx->r->loop, &ctx->r->log,
					   &ctx->limit, &ctx->rng), 0);
	return device_kind_rng.restore(ctx->rng, c, why, why_len);
}

static void test_rng_limiter_round_trip(void **state)
{
	struct rig *r = *state;
	/* 32 bytes, refilled only after an hour: the test never sees a refill. */
	struct rng_ctx live = { r, { .bandwidth = { 32, 16, 3600 * 1000 } } }, fresh = live;
	struct virtio_dev *vd;
	struct snap_blob b;

	assert_int_equal(virtio_rng_create(&r->mem, &r->loop, &r->log, &live.limit, &live.rng), 0);
	vd = virtio_rng_dev(live.rng);
	rig_drive(r, vd, 0);
	rig_post(r, 0, BUF_GPA, 40, true); /* the 16-byte burst and 24 of the 32 */
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);
	save_kind(&device_kind_rng, live.rng, &b);
	assert_int_equal(b.len, 2 * 3 * 8);
	virtio_rng_destroy(live.rng);

	/* Restored, 8 bytes are left: 8 go, the next 8 wait, as they would have. */
	snap_rig_load_ok(rng_load, &fresh, &b);
	vd = virtio_rng_dev(fresh.rng);
	rig_drive(r, vd, 0);
	rig_post(r, 0, BUF_GPA, 8, true);
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);
	rig_post(r, 0, BUF_GPA, 8, true);
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);

	/* Bytes 0-7: the burst left; 8-15: the budget; 16-23: debt. */
	snap_rig_refused(rng_load, &fresh, &b, 0, 17, "rate limiter");
	snap_rig_refused(rng_load, &fresh, &b, 8, 33, "rate limiter");
	snap_rig_refused(rng_load, &fresh, &b, 16, 1, "rate limiter");
	snap_rig_refused(rng_load, &fresh, &b, 24 + 8, 1, "rate limiter"); /* ops: unlimited */
	assert_true(snap_rig_abuse(rng_load, &fresh, &b) > 0);
	snap_blob_free(&b);
	virtio_rng_destroy(fresh.rng);
}

/* --- virtio-balloon --- */

#define STATSQ 2

struct balloon_ctx {
	struct rig *r;
	struct balloon_config cfg;
	struct virtio_balloon *b;
};

static int balloon_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct balloon_ctx *ctx = opaque;

	virtio_balloon_destroy(ctx->b);
	assert_int_equal(virtio_balloon_create(&ctx->r->mem, &ctx->r->loop, &ctx->r->log,
					       &ctx->cfg, &ctx->b), 0);
	return device_kind_balloon.restore(ctx->b, c, why, why_len);
}

static void test_balloon_round_trip(void **state)
{
	struct rig *r = *state;
	struct balloon_ctx live = { r, { .target_mib = 8, .stats_period = 60 } }, fresh = live;
	struct balloon_stats before, after;
	struct virtio_dev *vd;
	uint32_t actual = 512;
	struct snap_blob b;
	uint8_t stat[10];

	assert_int_equal(virtio_balloon_create(&r->mem, &r->loop, &r->log, &live.cfg, &live.b), 0);
	vd = virtio_balloon_dev(live.b);
	/* The guest sent its free memory on the stats queue (the device keeps the buffer)... */
	rig_drive(r, vd, STATSQ);
	put_u16(stat, BALLOON_S_MEMFREE);
	put_u64(stat + 2, 123 * MiB);
	memcpy(hva(r, BUF_GPA), stat, sizeof(stat));
	rig_post(r, 5, BUF_GPA, sizeof(stat), false);
	kick(vd, STATSQ);
	assert_int_equal(used_idx(r), 0);
	/* ...and says how big its balloon is. */
	vd->ops->config_write(vd, 4, &actual, 4);
	virtio_balloon_stats(live.b, &before);
	save_kind(&device_kind_balloon, live.b, &b);
	virtio_balloon_destroy(live.b);

	snap_rig_load_ok(balloon_load, &fresh, &b);
	virtio_balloon_stats(fresh.b, &after);
	assert_memory_equal(before.value, after.value, sizeof(before.value));
	assert_int_equal(before.valid, after.valid);
	assert_int_equal(before.actual_pages, after.actual_pages);
	assert_int_equal(before.target_pages, after.target_pages);
	assert_int_equal(before.inflated_pages, after.inflated_pages);
	assert_int_equal(before.deflated_pages, after.deflated_pages);
	assert_int_equal(after.actual_mib, 2);
	assert_int_equal(after.target_mib, 8);
	assert_true(after.valid & 1u << BALLOON_S_MEMFREE);
	/* The held buffer goes back, by its index, when the device next asks for stats. */
	vd = virtio_balloon_dev(fresh.b);
	vd->transport = &fake_transport;
	vd->transport_priv = r;
	vd->status = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	vd->queues[STATSQ].size = QSIZE;
	vd->queues[STATSQ].desc_gpa = DESC_GPA;
	vd->queues[STATSQ].avail_gpa = AVAIL_GPA;
	vd->queues[STATSQ].used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(&vd->queues[STATSQ], &r->mem), 0);
	vd->queues[STATSQ].last_avail = 1;
	assert_int_equal(virtio_balloon_set_stats_period(fresh.b, 30), 0);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_id(r, 0), 5);

	/* Byte 4: held; 5-6: its head. */
	snap_rig_refused(balloon_load, &fresh, &b, 4, 2, "balloon statistics buffer");
	snap_rig_refused(balloon_load, &fresh, &b, 6, 1, "balloon statistics buffer");
	snap_rig_refused(balloon_load, &fresh, &b, 4, 0, "balloon statistics buffer");
	assert_true(snap_rig_abuse(balloon_load, &fresh, &b) > 0);
	snap_blob_free(&b);
	virtio_balloon_destroy(fresh.b);
}

static void test_balloon_marks_dropped_pages(void **state)
{
	struct rig *r = *state;
	struct balloon_config cfg = { .target_mib = 1 };
	struct virtio_balloon *b;
	struct virtio_dev *vd;
	uint32_t pfns[2] = { 0x300, 0x302 };

	assert_int_equal(virtio_balloon_create(&r->mem, &r->loop, &r->log, &cfg, &b), 0);
	vd = virtio_balloon_dev(b);
	rig_drive(r, vd, 0);
	assert_int_equal(guest_mem_track_dirty(&r->mem), 0);
	memcpy(hva(r, BUF_GPA), pfns, sizeof(pfns));
	rig_post(r, 0, BUF_GPA, sizeof(pfns), false);
	kick(vd, 0);
	assert_int_equal(used_idx(r), 1);
	/* The dropped pages read differently now: a Diff snapshot must carry them. */
	assert_true(guest_mem_page_dirty(&r->mem, 0, 0x300));
	assert_false(guest_mem_page_dirty(&r->mem, 0, 0x301));
	assert_true(guest_mem_page_dirty(&r->mem, 0, 0x302));
	assert_false(guest_mem_page_dirty(&r->mem, 0, BUF_GPA / GUEST_PAGE_SIZE));
	virtio_balloon_destroy(b);
}

/* --- virtio-vsock --- */

#define EVQ 2

struct vsock_ctx {
	struct rig *r;
	struct vsock_config cfg;
	struct virtio_vsock *v;
};

static void vsock_fresh(struct vsock_ctx *ctx)
{
	char why[256];

	virtio_vsock_destroy(ctx->v);
	assert_int_equal(virtio_vsock_create(&ctx->r->mem, &ctx->r->loop, &ctx->r->log,
					     &ctx->cfg, &ctx->v, why, sizeof(why)), 0);
}

static int vsock_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct vsock_ctx *ctx = opaque;

	vsock_fresh(ctx);
	return device_kind_vsock.restore(ctx->v, c, why, why_len);
}

/* Start (v) as the transport does after a restore, with one event buffer posted if (buffer). */
static void vsock_start(struct rig *r, struct virtio_vsock *v, bool buffer)
{
	struct virtio_dev *vd = virtio_vsock_dev(v);

	rig_drive(r, vd, EVQ);
	memset(hva(r, BUF_GPA), 0xee, 8);
	if (buffer)
		rig_post(r, 3, BUF_GPA, 8, true);
	pthread_mutex_lock(&vd->lock);
	assert_int_equal(virtio_dev_resume(vd), 0);
	pthread_mutex_unlock(&vd->lock);
}

static void test_vsock_reset_event(void **state)
{
	struct rig *r = *state;
	struct vsock_ctx ctx = { .r = r, .cfg = { .cid = 3 } };
	char dir[] = "/tmp/ember-vsock-state-XXXXXX";
	struct snap_blob empty = { 0 };

	assert_non_null(mkdtemp(dir));
	snprintf(ctx.cfg.path, sizeof(ctx.cfg.path), "%s/v.sock", dir);
	/* Nothing is saved: the machine opens an empty section. */
	assert_null(device_kind_vsock.save);
	empty.data = malloc(1);

	/* A device started at boot sends nothing. */
	vsock_fresh(&ctx);
	vsock_start(r, ctx.v, true);
	assert_int_equal(used_idx(r), 0);

	/* Restored: the guest is told its connections are gone, event id 0, 4 bytes. */
	snap_rig_load_ok(vsock_load, &ctx, &empty);
	memset(r->interrupts, 0, sizeof(r->interrupts));
	vsock_start(r, ctx.v, true);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_id(r, 0), 3);
	assert_int_equal(get_u32(hva(r, USED_GPA) + 8), 4);
	assert_int_equal(get_u32(hva(r, BUF_GPA)), 0);
	assert_int_equal(hva(r, BUF_GPA)[4], 0xee);
	assert_int_equal(r->interrupts[VIRTIO_INT_VRING], 1);
	/* Once only. */
	rig_post(r, 3, BUF_GPA, 8, true);
	kick(virtio_vsock_dev(ctx.v), EVQ);
	assert_int_equal(used_idx(r), 1);

	/* No buffer posted yet: it goes when the driver posts one and kicks. */
	snap_rig_load_ok(vsock_load, &ctx, &empty);
	vsock_start(r, ctx.v, false);
	assert_int_equal(used_idx(r), 0);
	rig_post(r, 1, BUF_GPA, 4, true);
	kick(virtio_vsock_dev(ctx.v), EVQ);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_id(r, 0), 1);

	/* A driver that resets the device first is owed nothing. */
	snap_rig_load_ok(vsock_load, &ctx, &empty);
	pthread_mutex_lock(&virtio_vsock_dev(ctx.v)->lock);
	virtio_dev_reset(virtio_vsock_dev(ctx.v));
	pthread_mutex_unlock(&virtio_vsock_dev(ctx.v)->lock);
	vsock_start(r, ctx.v, true);
	assert_int_equal(used_idx(r), 0);

	/* Anything in its section is refused, by the machine's end check. */
	{
		const uint8_t junk[1] = { 0 };
		char why[256];

		assert_int_equal(snap_rig_load(vsock_load, &ctx, junk, 1, why, sizeof(why)),
				 -EINVAL);
		assert_non_null(strstr(why, "left over"));
	}
	virtio_vsock_destroy(ctx.v);
	free(empty.data);
	rmdir(dir);
}

/* --- virtio-net: needs a TAP, so root (CAP_NET_ADMIN); skipped without --- */

#define NET_TXQ 1

struct net_ctx {
	struct rig *r;
	struct net_config cfg;
	struct virtio_net *net;
};

static int net_open(struct net_ctx *ctx)
{
	char why[256];

	virtio_net_destroy(ctx->net);
	ctx->net = NULL;
	return virtio_net_create(&ctx->r->mem, &ctx->r->loop, &ctx->r->log, &ctx->cfg,
				 &ctx->net, why, sizeof(why));
}

static int net_load(void *opaque, struct snap_cursor *c, char *why, size_t why_len)
{
	struct net_ctx *ctx = opaque;

	assert_int_equal(net_open(ctx), 0);
	return device_kind_net.restore(ctx->net, c, why, why_len);
}

/* Send one 60-byte frame (after the 12-byte header) from the guest. */
static void net_send(struct rig *r, struct virtio_net *net)
{
	memset(hva(r, BUF_GPA), 0, 12 + 60);
	rig_post(r, 0, BUF_GPA, 12 + 60, false);
	kick(virtio_net_dev(net), NET_TXQ);
}

static void test_net_limiters_round_trip(void **state)
{
	struct rig *r = *state;
	/* tx: two frames, then none for an hour; rx: unlimited. */
	struct net_ctx ctx = { .r = r, .cfg = { .tx_limit = { .ops = { 2, 0, 3600 * 1000 } } } };
	struct net_stats stats;
	struct snap_blob b;

	snprintf(ctx.cfg.tap, sizeof(ctx.cfg.tap), "embst%d", (int)getpid() % 100000);
	if (net_open(&ctx))
		skip();
	rig_drive(r, virtio_net_dev(ctx.net), NET_TXQ);
	net_send(r, ctx.net);
	assert_int_equal(used_idx(r), 1);
	save_kind(&device_kind_net, ctx.net, &b);
	assert_int_equal(b.len, 2 * 2 * 3 * 8);

	/* One frame's worth left after the restore: the second frame waits. */
	snap_rig_load_ok(net_load, &ctx, &b);
	rig_drive(r, virtio_net_dev(ctx.net), NET_TXQ);
	net_send(r, ctx.net);
	assert_int_equal(used_idx(r), 1);
	net_send(r, ctx.net);
	assert_int_equal(used_idx(r), 1);
	virtio_net_stats(ctx.net, &stats);
	assert_int_equal(stats.tx_rate_limiter_throttled, 1);

	/* rx (unlimited) holds no tokens; tx's ops bucket holds at most 2. */
	snap_rig_refused(net_load, &ctx, &b, 8, 1, "rate limiter");
	snap_rig_refused(net_load, &ctx, &b, 48 + 24 + 8, 3, "rate limiter");
	snap_blob_free(&b);
	virtio_net_destroy(ctx.net);
}

#define RIG_TEST(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		RIG_TEST(test_rng_limiter_round_trip),
		RIG_TEST(test_balloon_round_trip),
		RIG_TEST(test_balloon_marks_dropped_pages),
		RIG_TEST(test_vsock_reset_event),
		RIG_TEST(test_net_limiters_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
