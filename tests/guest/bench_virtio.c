// SPDX-License-Identifier: Apache-2.0
/*
 * bench_virtio.c - bench_virtio.elf: drive the first virtio-blk device with N 4 KiB reads
 * and the first virtio-net device with N frames, for bench/virtio. N comes from
 * "bench.n=<N>" on the command line (default 1000). With "bench.qd=<D>" (1..8) the block
 * reads go out D at a time, each an indirect descriptor, behind one notification, as a
 * driver with a queue depth does; the default is one request in flight.
 */
#include "virtio.h"

#define ID_NET 1
#define ID_BLK 2
#define F_INDIRECT_DESC (1ULL << 28)
#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4
#define MAX_QD VQ_SIZE

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

/* One in-flight read of a batch: its own header, data, status and indirect table. */
struct blk_slot {
	struct vq_desc table[3];
	u8 hdr[16];
	u8 status;
} __attribute__((aligned(16)));

static struct blk_slot slots[MAX_QD];
static u8 batch_data[MAX_QD][4096] __attribute__((aligned(4096)));

/* (qd) reads at sectors from (sector), posted together with one notification. */
static void blk_batch(u64 sector, u64 qd)
{
	struct vq_used_elem used;
	u64 i;

	for (i = 0; i < qd; i++) {
		struct blk_slot *s = &slots[i];

		s->hdr[0] = 0; /* VIRTIO_BLK_T_IN */
		*(u64 *)(s->hdr + 8) = (sector + i * 8) % 2048;
		s->status = 0xff;
		s->table[0] = (struct vq_desc){ (u64)s->hdr, sizeof(s->hdr), D_NEXT, 1 };
		s->table[1] = (struct vq_desc){ (u64)batch_data[i], 4096, D_WRITE | D_NEXT, 2 };
		s->table[2] = (struct vq_desc){ (u64)&s->status, 1, D_WRITE, 0 };
		blkq.desc[i] = (struct vq_desc){ (u64)s->table, sizeof(s->table), D_INDIRECT, 0 };
		blkq.avail.ring[(blkq.avail.idx + i) % VQ_SIZE] = i;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	blkq.avail.idx += qd;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write32(blkq.base + 0x50, blkq.index); /* QueueNotify */
	for (i = 0; i < qd; i++)
		if (vq_wait(&blkq, &used) || used.id >= qd || slots[used.id].status != 0)
			finish("a batched block read failed");
}

static void bench_blk(u64 base, u64 n, u64 qd)
{
	struct vio_buf req[3] = {
		{ hdr, sizeof(hdr), 0 }, { data, sizeof(data), 1 }, { &status, 1, 1 },
	};
	struct vq_used_elem used;
	const char *err = vio_start(base, ID_BLK, qd > 1 ? F_INDIRECT_DESC : 0);
	u64 i;

	if (!err)
		err = vio_queue(base, 0, &blkq);
	if (err)
		finish(err);
	vio_driver_ok(base);
	blkq.avail.flags = noirq; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	if (qd > 1) {
		for (i = 0; i + qd <= n; i += qd)
			blk_batch(i * 8, qd);
		if (i < n)
			blk_batch(i * 8, n - i);
	}
	for (i = 0; qd <= 1 && i < n; i++) {
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
	u64 blk = vio_find_id(b, ID_BLK), net = vio_find_id(b, ID_NET);

	u64 qd = arg(cmdline, "bench.qd=", 1);

	noirq = arg(cmdline, "bench.noirq=", 0) == 1;
	if (qd < 1 || qd > MAX_QD)
		finish("bench.qd must be 1 to 8");
	if (blk)
		bench_blk(blk, n, qd);
	if (net)
		bench_net(net, n);
	finish(blk || net ? NULL : "no virtio-blk or virtio-net device");
}
