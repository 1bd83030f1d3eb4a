// SPDX-License-Identifier: Apache-2.0
/*
 * snap_virtio.c - snap_virtio.elf, the guest of the device snapshot tests: drives a
 * virtio-rng, a virtio-blk and a virtio-vsock device in a loop and prints
 * "VIO <n>" about every 100 ms. Each turn takes 16 random bytes and reads sector
 * n % 8 of the disk, whose sector k the host filled with 'A' + k, into pages only the
 * devices write (a Diff snapshot holds them only by ember's dirty marks); every answer
 * is checked, and a device that stops answering ends the guest with "FAIL: ...". One
 * buffer waits on the vsock event queue; an event that arrives there is printed
 * as "VSOCK-EVENT <id>" (after a restore: 0, the transport reset) and the buffer
 * posted again. With a virtio-net device too, each turn also sends a frame. A restored
 * guest must go on counting where it stopped.
 */
#include "virtio.h"

#define VIRTIO_ID_NET	1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG	4
#define VIRTIO_ID_VSOCK 19
#define SECTOR		512
#define TICK_TSC	250000000UL /* ~100 ms at the assumed 2.5 GHz TSC */
#define TICK_TURNS	200UL	    /* or this many turns if the TSC does not tick */

struct req_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
};

static struct vq rngq, blkq, vs_rxq, vs_txq, vs_evq, net_rxq, net_txq;
/*
 * Pages only the devices write (the guest reads them, never writes): a Diff snapshot
 * holds them only if ember marked them dirty, which the tests check.
 */
static u8 random[4096] __attribute__((aligned(4096)));
static u8 sector[4096] __attribute__((aligned(4096)));
static struct req_hdr hdr;
static u8 status;
static u8 frame[12 + 60] __attribute__((aligned(64))); /* virtio_net_hdr_v1, broadcast */
static u32 event_id;

static u64 find(const struct boot_info *b, u32 id)
{
	u64 base = vio_find_id(b, id);

	if (!base)
		finish("a virtio device is missing");
	return base;
}

static void setup(u64 base, u32 id, struct vq *q0, struct vq *q1, struct vq *q2)
{
	const char *err = vio_start(base, id, 0);

	if (!err)
		err = vio_queue(base, 0, q0);
	if (!err && q1)
		err = vio_queue(base, 1, q1);
	if (!err && q2)
		err = vio_queue(base, 2, q2);
	if (err)
		finish(err);
}

static void post_event_buffer(void)
{
	struct vio_buf ev = { &event_id, sizeof(event_id), 1 };

	event_id = 0xffffffff;
	vq_post(&vs_evq, &ev, 1);
}

static void take_random(void)
{
	struct vio_buf one = { random, 16, 1 };
	struct vq_used_elem used;

	vq_post(&rngq, &one, 1);
	if (vq_wait(&rngq, &used) || used.len != 16)
		finish("virtio-rng did not answer");
}

static void read_sector(u64 n)
{
	struct vio_buf bufs[3] = {
		{ &hdr, sizeof(hdr), 0 },
		{ sector, SECTOR, 1 },
		{ &status, 1, 1 },
	};
	struct vq_used_elem used;
	int i;

	hdr.type = 0;
	hdr.reserved = 0;
	hdr.sector = n;
	status = 0xff;
	vq_post(&blkq, bufs, 3);
	if (vq_wait(&blkq, &used))
		finish("virtio-blk did not answer");
	if (status != 0 || used.len != SECTOR + 1)
		finish("virtio-blk read failed");
	for (i = 0; i < SECTOR; i++)
		if (sector[i] != 'A' + n)
			finish("virtio-blk read the wrong data");
}

/* One frame out of the optional network device: answered whether the TAP takes it or not. */
static void send_frame(void)
{
	struct vio_buf one = { frame, sizeof(frame), 0 };
	struct vq_used_elem used;

	vq_post(&net_txq, &one, 1);
	if (vq_wait(&net_txq, &used))
		finish("virtio-net did not answer");
}

static void check_events(void)
{
	struct vq_used_elem used;

	if (*(volatile u16 *)&vs_evq.used.idx == vs_evq.last_used)
		return;
	if (vq_wait(&vs_evq, &used) || used.len != sizeof(event_id))
		finish("a bad vsock event");
	put_str("VSOCK-EVENT ");
	put_dec(event_id);
	put_nl();
	post_event_buffer();
}

void guest_main(const struct boot_info *b)
{
	u64 rng = find(b, VIRTIO_ID_RNG), blk = find(b, VIRTIO_ID_BLOCK);
	u64 vsock = find(b, VIRTIO_ID_VSOCK), last = rdtsc(), turns = 0, n = 0;
	u64 net = vio_find_id(b, VIRTIO_ID_NET);

	memset(frame + 12, 0xff, 6);
	frame[12 + 12] = 0x88;
	frame[12 + 13] = 0xb5;
	if (net) {
		u64 i;

		setup(net, VIRTIO_ID_NET, &net_rxq, &net_txq, 0);
		vio_driver_ok(net);
		/* From the device's MAC, which a switch learns (all zeros without one). */
		for (i = 0; i < 6; i++)
			frame[12 + 6 + i] = *(volatile u8 *)(net + 0x100 + i);
	}
	setup(rng, VIRTIO_ID_RNG, &rngq, 0, 0);
	setup(blk, VIRTIO_ID_BLOCK, &blkq, 0, 0);
	setup(vsock, VIRTIO_ID_VSOCK, &vs_rxq, &vs_txq, &vs_evq);
	post_event_buffer();
	vio_driver_ok(rng);
	vio_driver_ok(blk);
	vio_driver_ok(vsock);
	put_str("SNAPV-READY\n");
	for (;;) {
		u64 now;

		take_random();
		read_sector(n % 8);
		if (net)
			send_frame();
		check_events();
		n++;
		now = rdtsc();
		if (now - last >= TICK_TSC || ++turns >= TICK_TURNS) {
			put_str("VIO ");
			put_dec(n);
			put_nl();
			last = now;
			turns = 0;
		}
	}
}
