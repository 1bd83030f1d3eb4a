// SPDX-License-Identifier: Apache-2.0
/* virtio.c - see virtio.h. */
#include "virtio.h"
#include "acpi.h"

#define R_MAGIC		0x000
#define R_VERSION	0x004
#define R_DEVICE_ID	0x008
#define R_DEV_FEAT	0x010
#define R_DEV_FEAT_SEL	0x014
#define R_DRV_FEAT	0x020
#define R_DRV_FEAT_SEL	0x024
#define R_QUEUE_SEL	0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM	0x038
#define R_QUEUE_READY	0x044
#define R_QUEUE_NOTIFY	0x050
#define R_STATUS	0x070
#define R_DESC_LO	0x080
#define R_DESC_HI	0x084
#define R_AVAIL_LO	0x090
#define R_AVAIL_HI	0x094
#define R_USED_LO	0x0a0
#define R_USED_HI	0x0a4
#define R_CONFIG	0x100

#define S_ACK	      1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8

#define WAIT_POLLS 20000000UL

static u64 parse_hex(const char **p)
{
	u64 v = 0;

	if ((*p)[0] == '0' && ((*p)[1] == 'x' || (*p)[1] == 'X'))
		*p += 2;
	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return v;
	}
}

u64 vio_find_cmdline(const char *cmdline, int nth)
{
	static const char key[] = "virtio_mmio.device=";
	const char *p = cmdline;

	for (; p && *p; p++) {
		if (memcmp(p, key, sizeof(key) - 1))
			continue;
		p += sizeof(key) - 1;
		while (*p && *p != '@' && *p != ' ')
			p++;
		if (*p != '@')
			continue;
		p++;
		if (nth-- == 0)
			return parse_hex(&p);
	}
	return 0;
}

u64 vio_find(const struct boot_info *b, int nth)
{
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	struct acpi_mmio_dev d;

	/* With ACPI on, ember leaves the devices off the command line. */
	if (vio_find_cmdline(cmdline, 0))
		return vio_find_cmdline(cmdline, nth);
	if (nth < 0 || acpi_virtio_dev(b, (u32)nth, &d))
		return 0;
	return d.base;
}

u64 vio_find_id(const struct boot_info *b, u32 id)
{
	u64 base;
	int i;

	for (i = 0; (base = vio_find(b, i)); i++)
		if (mmio_read32(base + R_DEVICE_ID) == id)
			return base;
	return 0;
}

static u32 rd(u64 base, u32 off)
{
	return mmio_read32(base + off);
}

static void wr(u64 base, u32 off, u32 v)
{
	mmio_write32(base + off, v);
}

const char *vio_start(u64 base, u32 device_id, u64 features)
{
	if (rd(base, R_MAGIC) != 0x74726976)
		return "no virtio-mmio magic";
	if (rd(base, R_VERSION) != 2)
		return "not a version 2 virtio-mmio device";
	if (rd(base, R_DEVICE_ID) != device_id)
		return "unexpected device id";
	wr(base, R_STATUS, 0);
	wr(base, R_STATUS, S_ACK);
	wr(base, R_STATUS, S_ACK | S_DRIVER);
	wr(base, R_DEV_FEAT_SEL, 1);
	if (!(rd(base, R_DEV_FEAT) & 1))
		return "device lacks VERSION_1";
	wr(base, R_DRV_FEAT_SEL, 0);
	wr(base, R_DRV_FEAT, (u32)features);
	wr(base, R_DRV_FEAT_SEL, 1);
	wr(base, R_DRV_FEAT, (u32)(features >> 32) | 1);
	wr(base, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(base, R_STATUS) & S_FEATURES_OK))
		return "device refused our features";
	return NULL;
}

const char *vio_queue(u64 base, u32 index, struct vq *q)
{
	u64 d = (u64)q->desc, a = (u64)&q->avail, u = (u64)&q->used;

	memset(q, 0, sizeof(*q));
	q->base = base;
	q->index = index;
	wr(base, R_QUEUE_SEL, index);
	if (rd(base, R_QUEUE_READY))
		return "queue already live";
	if (rd(base, R_QUEUE_NUM_MAX) < VQ_SIZE)
		return "queue too small";
	wr(base, R_QUEUE_NUM, VQ_SIZE);
	wr(base, R_DESC_LO, (u32)d);
	wr(base, R_DESC_HI, (u32)(d >> 32));
	wr(base, R_AVAIL_LO, (u32)a);
	wr(base, R_AVAIL_HI, (u32)(a >> 32));
	wr(base, R_USED_LO, (u32)u);
	wr(base, R_USED_HI, (u32)(u >> 32));
	wr(base, R_QUEUE_READY, 1);
	if (!rd(base, R_QUEUE_READY))
		return "device refused the queue";
	return NULL;
}

void vio_driver_ok(u64 base)
{
	wr(base, R_STATUS, rd(base, R_STATUS) | S_DRIVER_OK);
}

u32 vio_status(u64 base)
{
	return rd(base, R_STATUS);
}

u64 vio_features(u64 base)
{
	u64 f;

	wr(base, R_DEV_FEAT_SEL, 1);
	f = (u64)rd(base, R_DEV_FEAT) << 32;
	wr(base, R_DEV_FEAT_SEL, 0);
	return f | rd(base, R_DEV_FEAT);
}

u32 vio_config32(u64 base, u32 off)
{
	return rd(base, R_CONFIG + off);
}

u16 vq_post(struct vq *q, const struct vio_buf *bufs, int n)
{
	u16 head = q->next_desc % VQ_SIZE;
	int i;

	for (i = 0; i < n; i++) {
		struct vq_desc *d = &q->desc[(head + i) % VQ_SIZE];

		d->addr = (u64)bufs[i].addr;
		d->len = bufs[i].len;
		d->flags = (bufs[i].device_writes ? 2 : 0) | (i + 1 < n ? 1 : 0);
		d->next = (head + i + 1) % VQ_SIZE;
	}
	q->next_desc += n;
	q->avail.ring[q->avail.idx % VQ_SIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(q->base, R_QUEUE_NOTIFY, q->index);
	return head;
}

int vq_wait(struct vq *q, struct vq_used_elem *out)
{
	unsigned long i;

	for (i = 0; i < WAIT_POLLS; i++) {
		if (*(volatile u16 *)&q->used.idx != q->last_used) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			*out = q->used.ring[q->last_used % VQ_SIZE];
			q->last_used++;
			return 0;
		}
		cpu_relax();
	}
	return -1;
}
