// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_balloon.c - virtio_balloon.elf: touch as many pages as the balloon's target asks
 * for, wait for the host to measure, give them to the balloon, wait again. The host checks
 * that ember's RSS fell. With a stats queue, the device must come back for statistics.
 */
#include "virtio.h"

#define VIRTIO_ID_BALLOON 5
#define F_STATS_VQ	  1
#define PAGE		  4096UL
#define TOUCH_BASE	  (32UL << 20) /* well above the guest image */
#define MAX_PAGES	  4096
#define CHUNK_PAGES	  (PAGE / 4)  /* PFNs in one descriptor */
#define GO_POLLS	  5000000UL

static struct vq inflateq, deflateq, statsq;
static u32 pfns[MAX_PAGES] __attribute__((aligned(4096)));
static u8 stats[2][10] __attribute__((aligned(16)));

/* The host writes a byte on the console when it has measured. */
static int wait_for_host(void)
{
	unsigned long i;

	for (i = 0; i < GO_POLLS; i++) {
		if (try_get_char() >= 0)
			return 0;
		cpu_relax();
	}
	return -1;
}

void guest_main(const struct boot_info *b)
{
	u64 base = vio_find_id(b, VIRTIO_ID_BALLOON);
	struct vio_buf bufs[MAX_PAGES / CHUNK_PAGES];
	struct vq_used_elem used;
	const char *err;
	u32 target, i;
	int with_stats;

	if (!base)
		finish("no virtio-balloon device");
	with_stats = (mmio_read32(base + 0x010) >> F_STATS_VQ) & 1; /* features, low word */
	err = vio_start(base, VIRTIO_ID_BALLOON, with_stats ? 1UL << F_STATS_VQ : 0);
	if (!err)
		err = vio_queue(base, 0, &inflateq);
	if (!err)
		err = vio_queue(base, 1, &deflateq);
	if (!err && with_stats)
		err = vio_queue(base, 2, &statsq);
	if (err)
		finish(err);
	vio_driver_ok(base);
	target = mmio_read32(base + 0x100);
	put_str("BALLOON-TARGET-PAGES=");
	put_dec(target);
	put_nl();
	if (target == 0 || target > MAX_PAGES)
		finish("target out of the range this guest handles");
	if (with_stats) {
		struct vio_buf s = { stats[0], sizeof(stats[0]), 0 };

		stats[0][0] = 4; /* VIRTIO_BALLOON_S_MEMFREE */
		stats[0][2] = 0x39;
		vq_post(&statsq, &s, 1);
	}

	for (i = 0; i < target; i++) {
		*(volatile u8 *)(TOUCH_BASE + i * PAGE) = 1;
		pfns[i] = (TOUCH_BASE + i * PAGE) / PAGE;
	}
	put_str("BALLOON-TOUCHED\n");
	if (wait_for_host())
		finish("the host never said go (touched)");

	for (i = 0; i * CHUNK_PAGES < target; i++) {
		u32 n = target - i * CHUNK_PAGES;

		bufs[i].addr = &pfns[i * CHUNK_PAGES];
		bufs[i].len = (n > CHUNK_PAGES ? CHUNK_PAGES : n) * 4;
		bufs[i].device_writes = 0;
	}
	vq_post(&inflateq, bufs, i);
	if (vq_wait(&inflateq, &used))
		finish("the device never took the page list");
	mmio_write32(base + 0x104, target); /* actual */
	put_str("BALLOON-INFLATED\n");
	if (wait_for_host())
		finish("the host never said go (inflated)");

	if (with_stats) {
		if (vq_wait(&statsq, &used))
			finish("the device never asked for fresh statistics");
		put_str("BALLOON-STATS-REQUESTED\n");
	}
	finish(NULL);
}
