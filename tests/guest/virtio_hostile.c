// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_hostile.c - virtio_hostile.elf: feed every rng, blk, net, vsock and balloon device
 * ember gave (vio_find) broken descriptor chains, one per round: each time the device must refuse
 * it (DEVICE_NEEDS_RESET, nothing used), survive, and after a reset answer a good request
 * of its own kind. ember must stay up throughout.
 */
#include "virtio.h"

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19
#define S_NEEDS_RESET	  0x40
#define F_NEXT		  1
#define F_WRITE		  2
#define F_INDIRECT	  4
#define STATUS_POLLS	  2000000UL

static struct vq q;
static u8 buf[512] __attribute__((aligned(4096)));
static struct vq_desc table[4] __attribute__((aligned(16)));

struct attack {
	const char *name;
	void (*build)(struct vq *q);
};

static void post_head(struct vq *vq, u16 head)
{
	vq->avail.ring[vq->avail.idx % VQ_SIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write32(vq->base + 0x50, vq->index);
}

static void set_desc(struct vq_desc *d, u64 addr, u32 len, u16 flags, u16 next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void loop_chain(struct vq *vq)
{
	set_desc(&vq->desc[0], (u64)buf, 8, F_WRITE | F_NEXT, 1);
	set_desc(&vq->desc[1], (u64)buf, 8, F_WRITE | F_NEXT, 0);
	post_head(vq, 0);
}

static void outside_ram(struct vq *vq)
{
	set_desc(&vq->desc[0], 0xfff00000000UL, 64, F_WRITE, 0);
	post_head(vq, 0);
}

static void wrapping_len(struct vq *vq)
{
	set_desc(&vq->desc[0], 0xffffffffffffff00UL, 0x1000, F_WRITE, 0);
	post_head(vq, 0);
}

static void next_out_of_range(struct vq *vq)
{
	set_desc(&vq->desc[0], (u64)buf, 8, F_WRITE | F_NEXT, 200);
	post_head(vq, 0);
}

static void head_out_of_range(struct vq *vq)
{
	post_head(vq, 77);
}

static void nested_indirect(struct vq *vq)
{
	set_desc(&table[0], (u64)table, sizeof(table), F_INDIRECT, 0);
	set_desc(&vq->desc[0], (u64)table, sizeof(table), F_INDIRECT, 0);
	post_head(vq, 0);
}

static void avail_jump(struct vq *vq)
{
	set_desc(&vq->desc[0], (u64)buf, 8, F_WRITE, 0);
	vq->avail.ring[0] = 0;
	vq->avail.idx += 1000; /* claims far more chains than the ring holds */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write32(vq->base + 0x50, vq->index);
}

static const struct attack attacks[] = {
	{ "loop", loop_chain },
	{ "outside-ram", outside_ram },
	{ "wrapping-length", wrapping_len },
	{ "next-out-of-range", next_out_of_range },
	{ "head-out-of-range", head_out_of_range },
	{ "nested-indirect", nested_indirect },
	{ "avail-index-jump", avail_jump },
};

/* The queue a device reads the driver's requests from: the transmit queue for net and vsock. */
static u32 request_queue(u32 id)
{
	return id == VIRTIO_ID_NET || id == VIRTIO_ID_VSOCK ? 1 : 0;
}

static const char *setup(u64 base, u32 id)
{
	const char *err = vio_start(base, id, 1UL << 28 /* INDIRECT_DESC */);

	if (!err)
		err = vio_queue(base, request_queue(id), &q);
	if (!err)
		vio_driver_ok(base);
	return err;
}

/* One honest request on queue 0, in the shape device (id) expects. */
static const char *good_request(u32 id)
{
	static u8 blk_hdr[16] __attribute__((aligned(16)));
	static u8 blk_status;
	static u32 pfn;
	struct vio_buf rng = { buf, sizeof(buf), 1 };
	struct vio_buf blk[3] = {
		{ blk_hdr, sizeof(blk_hdr), 0 }, { buf, sizeof(buf), 1 }, { &blk_status, 1, 1 },
	};
	struct vio_buf inflate = { &pfn, sizeof(pfn), 0 };
	struct vio_buf frame = { buf, 12 + 60, 0 };	/* a zeroed vnet header and frame */
	struct vio_buf packet = { buf, 44, 0 };		/* a vsock header: RST to the host */
	struct vq_used_elem used;

	memset(blk_hdr, 0, sizeof(blk_hdr)); /* VIRTIO_BLK_T_IN, sector 0 */
	blk_status = 0xff;
	pfn = (u32)((u64)buf >> 12);
	if (id == VIRTIO_ID_RNG) {
		vq_post(&q, &rng, 1);
	} else if (id == VIRTIO_ID_BLOCK) {
		vq_post(&q, blk, 3);
	} else if (id == VIRTIO_ID_NET) {
		memset(buf, 0, 12 + 60);
		memset(buf + 12, 0xff, 6);
		vq_post(&q, &frame, 1);
	} else if (id == VIRTIO_ID_VSOCK) {
		memset(buf, 0, 44);
		*(u64 *)buf = *(volatile u64 *)(q.base + 0x100); /* src_cid: ours */
		*(u64 *)(buf + 8) = 2;				 /* dst_cid: the host */
		*(u16 *)(buf + 28) = 1;				 /* type: stream */
		*(u16 *)(buf + 30) = 3;				 /* op: RST */
		vq_post(&q, &packet, 1);
	} else {
		vq_post(&q, &inflate, 1);
	}
	if (vq_wait(&q, &used))
		return "no answer to a good request";
	if (id == VIRTIO_ID_RNG && used.len != sizeof(buf))
		return "short answer to a good request";
	if (id == VIRTIO_ID_BLOCK && blk_status != 0)
		return "a good block read failed";
	return NULL;
}

static const char *name_of(u32 id)
{
	return id == VIRTIO_ID_RNG	? "rng"
	       : id == VIRTIO_ID_BLOCK	? "blk"
	       : id == VIRTIO_ID_NET	? "net"
	       : id == VIRTIO_ID_VSOCK ? "vsock"
					: "balloon";
}

/* Every attack against queue 0 of the device at (base). */
static void attack_device(u64 base, u32 id)
{
	const char *err;
	unsigned long i;
	unsigned int a;

	for (a = 0; a < sizeof(attacks) / sizeof(attacks[0]); a++) {
		err = setup(base, id);
		if (err)
			finish(err);
		attacks[a].build(&q);
		for (i = 0; i < STATUS_POLLS && !(vio_status(base) & S_NEEDS_RESET); i++)
			cpu_relax();
		put_str("ATTACK ");
		put_str(name_of(id));
		put_char(' ');
		put_str(attacks[a].name);
		if (!(vio_status(base) & S_NEEDS_RESET) || q.used.idx != 0) {
			put_str(" not refused\n");
			finish("a broken chain was not refused");
		}
		put_str(" refused\n");
		/* A reset must bring the device back for honest work. */
		err = setup(base, id);
		if (!err)
			err = good_request(id);
		if (err)
			finish(err);
		put_str("GOOD-REQUEST-OK\n");
	}
}

void guest_main(const struct boot_info *b)
{
	unsigned int devices = 0;
	u64 base;
	int n;

	for (n = 0; (base = vio_find(b, n)); n++) {
		u32 id = mmio_read32(base + 0x008);

		if (id != VIRTIO_ID_RNG && id != VIRTIO_ID_BLOCK && id != VIRTIO_ID_BALLOON &&
		    id != VIRTIO_ID_NET && id != VIRTIO_ID_VSOCK)
			continue;
		attack_device(base, id);
		devices++;
	}
	if (!devices)
		finish("no virtio device this guest knows");
	finish(NULL);
}
