/*
 * virtio-net on an ember-switch port (src/virtio/net_backend.c), with the test as both the
 * guest's driver (the model rig) and the switch (the accepted end of a SOCK_SEQPACKET
 * socket): no offloads offered, the header stripped on the way out and a zero one put in
 * front on the way in, a frame too large dropped, and a switch that goes away.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/net.h"
#include "virtio/virtio.h"

#include "model_rig.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define HDR	12
#define FRAME	60
/* CSUM, GUEST_CSUM, GUEST_TSO4/6, GUEST_UFO, HOST_TSO4/6, HOST_UFO. */
#define OFFLOADS                                                                                   \
	(1ULL << 0 | 1ULL << 1 | 1ULL << 7 | 1ULL << 8 | 1ULL << 10 | 1ULL << 11 | 1ULL << 12 |    \
	 1ULL << 14)

struct sw_ctx {
	struct rig *r;
	char dir[64];
	struct net_config cfg;
	struct virtio_net *net;
	int listen_fd, peer; /* the switch's side */
};

static int sw_setup(void **state)
{
	struct sw_ctx *ctx = calloc(1, sizeof(*ctx));
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char why[256] = "";
	void *rig;

	if (!ctx || rig_setup(&rig))
		return -1;
	ctx->r = rig;
	strcpy(ctx->dir, "/tmp/ember-netsw-XXXXXX");
	assert_non_null(mkdtemp(ctx->dir));
	snprintf(ctx->cfg.switch_path, sizeof(ctx->cfg.switch_path), "%s/sw.sock", ctx->dir);
	strcpy(ctx->cfg.id, "net0");
	ctx->cfg.has_mac = true;
	memcpy(ctx->cfg.mac, "\x02\x00\x00\x00\x00\x01", 6);
	strcpy(addr.sun_path, ctx->cfg.switch_path);
	ctx->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(ctx->listen_fd >= 0);
	assert_int_equal(bind(ctx->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(ctx->listen_fd, 4), 0);
	assert_int_equal(virtio_net_create(&ctx->r->mem, &ctx->r->loop, &ctx->r->log, &ctx->cfg,
					   &ctx->net, why, sizeof(why)),
			 0);
	ctx->peer = accept(ctx->listen_fd, NULL, NULL);
	assert_true(ctx->peer >= 0);
	*state = ctx;
	return 0;
}

static int sw_teardown(void **state)
{
	struct sw_ctx *ctx = *state;
	void *rig = ctx->r;

	virtio_net_destroy(ctx->net);
	if (ctx->peer >= 0)
		close(ctx->peer);
	close(ctx->listen_fd);
	unlink(ctx->cfg.switch_path);
	rmdir(ctx->dir);
	free(ctx);
	return rig_teardown(&rig);
}

/* A frame's bytes: its number in every byte past the addresses. */
static void fill_frame(uint8_t *f, size_t len, uint8_t tag)
{
	memset(f, tag, len);
	memcpy(f, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01", 12);
}

/* How many of the loop's descriptors epoll reports ready, without waiting. */
static int loop_ready(struct rig *r)
{
	struct epoll_event ev[4];

	return epoll_wait(r->loop.epoll_fd, ev, 4, 0);
}

static void test_no_offloads_offered(void **state)
{
	struct sw_ctx *ctx = *state;
	uint64_t f = virtio_dev_features(virtio_net_dev(ctx->net));

	assert_int_equal(f & OFFLOADS, 0);
	assert_true(f & (1ULL << 15)); /* MRG_RXBUF */
	assert_true(f & (1ULL << 5));  /* MAC */
}

/* The guest's frame, its header split over two descriptors, leaves without the header. */
static void test_transmit_strips_header(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	uint8_t *buf = hva(r, BUF_GPA), got[FRAME + 8];
	uint8_t *d0 = hva(r, DESC_GPA), *d1 = hva(r, DESC_GPA + 16);
	struct net_stats stats;

	rig_drive(r, virtio_net_dev(ctx->net), NET_TXQ);
	memset(buf, 0x5a, HDR); /* a header with flags set: nothing of it may go out */
	fill_frame(buf + HDR, FRAME, 7);
	/* 8 bytes of header, then 4 more and the frame. */
	put_u64(d0, BUF_GPA);
	put_u32(d0 + 8, 8);
	put_u16(d0 + 12, VIRTQ_DESC_F_NEXT);
	put_u16(d0 + 14, 1);
	put_u64(d1, BUF_GPA + 8);
	put_u32(d1 + 8, HDR - 8 + FRAME);
	put_u16(d1 + 12, 0);
	put_u16(hva(r, AVAIL_GPA) + 4, 0);
	put_u16(hva(r, AVAIL_GPA) + 2, ++r->avail_idx);
	kick(virtio_net_dev(ctx->net), NET_TXQ);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(recv(ctx->peer, got, sizeof(got), MSG_DONTWAIT), FRAME);
	assert_memory_equal(got, buf + HDR, FRAME);

	/* The header alone in the first descriptor. */
	rig_post(r, 0, BUF_GPA, HDR + FRAME, false);
	kick(virtio_net_dev(ctx->net), NET_TXQ);
	assert_int_equal(recv(ctx->peer, got, sizeof(got), MSG_DONTWAIT), FRAME);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.tx_frames, 2);
	assert_int_equal(stats.tx_bytes, 2 * FRAME);
	assert_int_equal(stats.tx_dropped, 0);
}

/* A frame from the switch reaches the guest behind a zero header; then one by the loop. */
static void test_receive_adds_zero_header(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	uint8_t frame[FRAME], *buf = hva(r, BUF_GPA);
	static const uint8_t zero[HDR - 2];
	struct net_stats stats;

	rig_drive(r, virtio_net_dev(ctx->net), NET_RXQ);
	memset(buf, 0xee, 2048);
	rig_post_writable(r, 2048);
	fill_frame(frame, FRAME, 9);
	assert_int_equal(send(ctx->peer, frame, FRAME, 0), FRAME);
	kick(virtio_net_dev(ctx->net), NET_RXQ);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_len(r, 0), HDR + FRAME);
	assert_memory_equal(buf, zero, sizeof(zero)); /* no checksum, no GSO */
	assert_int_equal(buf[10] | buf[11] << 8, 1);  /* num_buffers */
	assert_memory_equal(buf + HDR, frame, FRAME);

	/* The device now watches the socket: the next frame comes through the event loop. */
	rig_post(r, 1, BUF_GPA + 4096, 2048, true);
	fill_frame(frame, FRAME, 10);
	assert_int_equal(send(ctx->peer, frame, FRAME - 1, 0), FRAME - 1);
	assert_int_equal(event_loop_run_once(&r->loop, 1000), 0);
	assert_int_equal(used_idx(r), 2);
	assert_int_equal(used_len(r, 1), HDR + FRAME - 1);
	assert_memory_equal(hva(r, BUF_GPA + 4096 + HDR), frame, FRAME - 1);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.rx_frames, 2);
	assert_int_equal(stats.rx_bytes, 2 * FRAME - 1);
}

/* A message larger than any frame the device takes is dropped whole, not cut. */
static void test_oversized_frame_dropped(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	size_t big = 70000;
	uint8_t *frame = calloc(1, big);
	struct net_stats stats;

	assert_non_null(frame);
	rig_drive(r, virtio_net_dev(ctx->net), NET_RXQ);
	rig_post_writable(r, 2048);
	assert_int_equal(send(ctx->peer, frame, big, 0), (ssize_t)big);
	fill_frame(frame, FRAME, 3);
	assert_int_equal(send(ctx->peer, frame, FRAME, 0), FRAME);
	kick(virtio_net_dev(ctx->net), NET_RXQ);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.rx_dropped, 1);
	assert_int_equal(stats.rx_frames, 1);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_len(r, 0), HDR + FRAME);
	free(frame);
}

/*
 * With MRG_RXBUF a frame spreads over as many buffers as it needs; until the guest has
 * posted enough, it waits and the buffers stay posted. The first one's header counts them.
 */
static void test_receive_merges_buffers(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	struct virtio_dev *vd = virtio_net_dev(ctx->net);
	enum { BIG = 1500, PIECE = 600 };
	uint8_t frame[BIG], got[HDR + BIG], *hdr = hva(r, BUF_GPA);
	unsigned int i;

	rig_drive(r, vd, NET_RXQ);
	vd->driver_features |= 1ULL << 15; /* MRG_RXBUF */
	rig_post(r, 0, BUF_GPA, PIECE, true);
	rig_post(r, 1, BUF_GPA + 4096, PIECE, true);
	fill_frame(frame, BIG, 7);
	assert_int_equal(send(ctx->peer, frame, BIG, 0), BIG);
	kick(vd, NET_RXQ);
	assert_int_equal(used_idx(r), 0); /* 1200 bytes posted for 1512: it waits */

	rig_post(r, 2, BUF_GPA + 8192, PIECE, true);
	kick(vd, NET_RXQ);
	assert_int_equal(used_idx(r), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(used_id(r, i), i);
		assert_int_equal(used_len(r, i), i < 2 ? PIECE : HDR + BIG - 2 * PIECE);
		memcpy(got + i * PIECE, hva(r, BUF_GPA + 4096 * i), used_len(r, i));
	}
	assert_int_equal(hdr[10] | hdr[11] << 8, 3); /* num_buffers */
	assert_memory_equal(got + HDR, frame, BIG);
}

/* Without MRG_RXBUF a frame must fit one buffer: one that does not is dropped, the buffer kept. */
static void test_receive_unmerged_too_big_dropped(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	struct virtio_dev *vd = virtio_net_dev(ctx->net);
	uint8_t frame[200];
	struct net_stats stats;

	rig_drive(r, vd, NET_RXQ);
	rig_post(r, 0, BUF_GPA, 100, true);
	rig_post(r, 1, BUF_GPA + 4096, 100, true);
	fill_frame(frame, sizeof(frame), 5);
	assert_int_equal(send(ctx->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	fill_frame(frame, FRAME, 6);
	assert_int_equal(send(ctx->peer, frame, FRAME, 0), FRAME);
	kick(vd, NET_RXQ);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.rx_dropped, 1);
	assert_int_equal(stats.rx_frames, 1);
	assert_int_equal(used_idx(r), 1);
	assert_int_equal(used_id(r, 0), 0); /* the first buffer, given back for the next frame */
	assert_int_equal(used_len(r, 0), HDR + FRAME);
	assert_memory_equal(hva(r, BUF_GPA + HDR), frame, FRAME);
}

/*
 * The switch closes while the device is not even reading: the loop hears of it once and
 * stops watching the socket; what the guest sends is then dropped and counted.
 */
static void test_switch_gone(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	struct net_stats stats;

	close(ctx->peer);
	ctx->peer = -1;
	assert_int_equal(loop_ready(r), 1); /* the hang-up, reported with no events asked */
	assert_int_equal(event_loop_run_once(&r->loop, 0), 0);
	assert_int_equal(loop_ready(r), 0); /* and no more: it left the loop */
	rig_drive(r, virtio_net_dev(ctx->net), NET_TXQ);
	rig_post(r, 0, BUF_GPA, HDR + FRAME, false);
	rig_post(r, 1, BUF_GPA, HDR + FRAME, false);
	kick(virtio_net_dev(ctx->net), NET_TXQ);
	assert_int_equal(used_idx(r), 2);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.tx_dropped, 2);
	assert_int_equal(stats.tx_frames, 0);
}

/* The same found by a send, before the loop has seen the hang-up. */
static void test_switch_gone_on_send(void **state)
{
	struct sw_ctx *ctx = *state;
	struct rig *r = ctx->r;
	struct net_stats stats;

	close(ctx->peer);
	ctx->peer = -1;
	rig_drive(r, virtio_net_dev(ctx->net), NET_TXQ);
	rig_post(r, 0, BUF_GPA, HDR + FRAME, false);
	kick(virtio_net_dev(ctx->net), NET_TXQ);
	assert_int_equal(used_idx(r), 1);
	virtio_net_stats(ctx->net, &stats);
	assert_int_equal(stats.tx_dropped, 1);
	assert_int_equal(loop_ready(r), 0);
}

static void test_no_switch(void **state)
{
	struct rig *r = *state;
	struct net_config cfg = {.id = "net0", .switch_path = "/nonexistent/ember/sw.sock"};
	struct virtio_net *net = NULL;
	char why[256] = "";

	assert_int_equal(
	    virtio_net_create(&r->mem, &r->loop, &r->log, &cfg, &net, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "cannot connect to the switch"));
	assert_null(net);
}

#define SW_TEST(f) cmocka_unit_test_setup_teardown(f, sw_setup, sw_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    SW_TEST(test_no_offloads_offered),
	    SW_TEST(test_transmit_strips_header),
	    SW_TEST(test_receive_adds_zero_header),
	    SW_TEST(test_oversized_frame_dropped),
	    SW_TEST(test_receive_merges_buffers),
	    SW_TEST(test_receive_unmerged_too_big_dropped),
	    SW_TEST(test_switch_gone),
	    SW_TEST(test_switch_gone_on_send),
	    cmocka_unit_test_setup_teardown(test_no_switch, rig_setup, rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
