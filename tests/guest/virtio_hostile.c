// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_hostile.c - virtio_hostile.elf: feed the first virtio device on the command line
 * (virtio-rng) broken descriptor chains, one per round: each time the device must refuse
 * it (DEVICE_NEEDS_RESET, nothing used), survive, and after a reset answer a good
 * request. ember must stay up throughout.
 */
#include "virtio.h"

#define VIRTIO_ID_RNG	  4
#define S_NEEDS_RESET	  0x40
#define F_NEXT		  1
#define F_WRITE		  2
#define F_INDIRECT	  4
#define STATUS_POLLS	  2000000UL

static struct vq q;
static u8 buf[64] __attribute__((aligned(64)));
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

static const char *setup(u64 base)
{
	const char *err = vio_start(base, VIRTIO_ID_RNG, 1UL << 28 /* INDIRECT_DESC */);

	if (!err)
		err = vio_queue(base, 0, &q);
	if (!err)
		vio_driver_ok(base);
	return err;
}

static const char *good_request(void)
{
	struct vio_buf one = { buf, sizeof(buf), 1 };
	struct vq_used_elem used;

	vq_post(&q, &one, 1);
	if (vq_wait(&q, &used))
		return "no answer to a good request";
	if (used.len != sizeof(buf))
		return "short answer to a good request";
	return NULL;
}

void guest_main(const struct boot_info *b)
{
	u64 base = b->cmdline ? vio_find(phys(b->cmdline), 0) : 0;
	const char *err;
	unsigned long i;
	unsigned int a;

	if (!base)
		finish("no virtio_mmio.device= on the command line");
	for (a = 0; a < sizeof(attacks) / sizeof(attacks[0]); a++) {
		err = setup(base);
		if (err)
			finish(err);
		attacks[a].build(&q);
		for (i = 0; i < STATUS_POLLS && !(vio_status(base) & S_NEEDS_RESET); i++)
			cpu_relax();
		put_str("ATTACK ");
		put_str(attacks[a].name);
		if (!(vio_status(base) & S_NEEDS_RESET) || q.used.idx != 0) {
			put_str(" not refused\n");
			finish("a broken chain was not refused");
		}
		put_str(" refused\n");
		/* A reset must bring the device back for honest work. */
		err = setup(base);
		if (!err)
			err = good_request();
		if (err)
			finish(err);
		put_str("GOOD-REQUEST-OK\n");
	}
	finish(NULL);
}
