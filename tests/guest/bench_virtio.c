// SPDX-License-Identifier: Apache-2.0
/*
 * bench_virtio.c - bench_virtio.elf: drive the first virtio-blk device with N sequential
 * 4 KiB reads and the first virtio-net device with N frames, one request in flight at a
 * time, for bench/virtio. N comes from "bench.n=<N>" on the command line (default 1000).
 */
#include "virtio.h"

#define ID_NET 1
#define ID_BLK 2

static struct vq blkq, rxq, txq;
static u8 hdr[16] __attribute__((aligned(16)));
static u8 data[4096] __attribute__((aligned(4096)));
static u8 status;
static u8 frame[12 + 64] __attribute__((aligned(64)));

/* The number after (key) on the command line, or (def). */
static u64 arg(const char *c, const char *key, u64 def)
{
	size_t len = 0;
	u64 n = 0;

	while (key[len])
		len++;
	for (; *c; c++)
		if (!memcmp(c, key, len)) {
			for (c += len; *c >= '0' && *c <= '9'; c++)
				n = n * 10 + (*c - '0');
			return n;
		}
	return def;
}

/* bench.noirq=1: this guest polls, so it may tell the device it needs no interrupts. */
static int noirq;

static void bench_blk(u64 base, u64 n)
{
	struct vio_buf req[3] = {
		{ hdr, sizeof(hdr), 0 }, { data, sizeof(data), 1 }, { &status, 1, 1 },
	};
	struct vq_used_elem used;
	const char *err = vio_start(base, ID_BLK, 0);
	u64 i;

	if (!err)
		err = vio_queue(base, 0, &blkq);
	if (err)
		finish(err);
	vio_driver_ok(base);
	blkq.avail.flags = noirq; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	for (i = 0; i < n; i++) {
		hdr[0] = 0;			 /* VIRTIO_BLK_T_IN */
		*(u64 *)(hdr + 8) = (i * 8) % 2048; /* sector, within a 1 MiB disk */
		status = 0xff;
		vq_post(&blkq, req, 3);
		if (vq_wait(&blkq, &used) || status != 0)
			finish("a block read failed");
	}
	put_str("BENCH-BLK-REQUESTS=");
	put_dec(n);
	put_nl();
}

static void bench_net(u64 base, u64 n)
{
	struct vio_buf tx = { frame, sizeof(frame), 0 };
	struct vq_used_elem used;
	const char *err = vio_start(base, ID_NET, 0);
	u64 i;

	if (!err)
		err = vio_queue(base, 0, &rxq);
	if (!err)
		err = vio_queue(base, 1, &txq);
	if (err)
		finish(err);
	vio_driver_ok(base);
	memset(frame, 0, sizeof(frame));
	memset(frame + 12, 0xff, 6);
	frame[12 + 6] = 0x02;
	frame[12 + 12] = 0x88;
	frame[12 + 13] = 0xb5;
	txq.avail.flags = noirq;
	for (i = 0; i < n; i++) {
		vq_post(&txq, &tx, 1);
		if (vq_wait(&txq, &used))
			finish("a frame was not sent");
	}
	put_str("BENCH-NET-FRAMES=");
	put_dec(n);
	put_nl();
}

void guest_main(const struct boot_info *b)
{
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	u64 n = arg(cmdline, "bench.n=", 1000);
	u64 blk = vio_find_id(cmdline, ID_BLK), net = vio_find_id(cmdline, ID_NET);

	noirq = arg(cmdline, "bench.noirq=", 0) == 1;
	if (blk)
		bench_blk(blk, n);
	if (net)
		bench_net(net, n);
	finish(blk || net ? NULL : "no virtio-blk or virtio-net device");
}
