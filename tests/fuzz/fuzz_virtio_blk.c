/*
 * libFuzzer target: virtio-blk driven by a hostile driver (virtio_driver.h); the fuzzer's
 * bytes are the driver's script, after a head byte that builds the disk:
 *
 *   bit 0 read-only, bit 1 cache=unsafe (else writeback), bit 2 the synchronous engine
 *   (else io_uring where the host has it), bit 3 a rate limiter (then u16 bandwidth
 *   bucket size, u8 ops bucket size, both refilled in 1 ms), bits 4-6 the image's size
 *   from blk_sizes[] (sizes that are no whole number of sectors among them).
 *
 * The image is one of two memfds made once per process, opened by the device through
 * /proc/self/fd/N and emptied to its size for each input, so nothing is left behind and a
 * write of one input is not seen by the next. The four disks (read-only or not, each
 * engine) are made once too and reset between inputs (LLVMFuzzerTestOneInput says why
 * and how). The target's own op (blk_host_op) is the host side: PATCH /drives, i.e.
 * virtio_blk_update with the same image (re-opened), the other one, or a path that must
 * be refused, and new limits in range or not, after resizing either image under the
 * device if the script says so.
 *
 * Besides "no crash": with the synchronous engine, every request a kick answers is
 * answered within that kick, so the chain behind each used-ring entry it wrote can still
 * be read as the device popped it; the used length must not exceed the chain's writable
 * bytes (blk_check_used). The check gives up where the device's own writes may have
 * changed the descriptors or the used ring it reads back.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "virtio/blk_int.h"
#include "virtio_driver.h"

/* Image sizes in bytes: empty, part of a sector, whole sectors, ragged tails. */
static const uint32_t blk_sizes[8] = { 0, 100, 512, 1324, 2048, 4095, 4096, 8209 };

struct blk_fuzz {
	struct disk_config cfg; /* the disk's: virtio_blk_update rewrites path and limit */
	struct virtio_blk *blk;
	const struct virtio_dev_ops *ops; /* the device's own, which blk_checked_ops wraps */
	uint8_t desc_before[VIRTQ_MAX_SIZE * 16];
};

static struct fuzz_driver *blk_driver; /* guest RAM and event loop, kept */
static struct blk_fuzz *blk_disks[4];
static int blk_img_fd[2] = { -1, -1 };
static char blk_img_path[2][32];
static char blk_long_path[PATH_MAX + 8];
static struct virtio_dev_ops blk_checked_ops;

/* The two images, once per process: memfds leave no file behind when the fuzzer dies. */
static int blk_images_init(void)
{
	int i;

	if (blk_img_fd[0] >= 0)
		return 0;
	for (i = 0; i < 2; i++) {
		blk_img_fd[i] = memfd_create(i ? "ember-fuzz-blk-b" : "ember-fuzz-blk-a",
					     MFD_CLOEXEC);
		if (blk_img_fd[i] < 0)
			return -1;
		snprintf(blk_img_path[i], sizeof(blk_img_path[i]), "/proc/self/fd/%d",
			 blk_img_fd[i]);
	}
	memset(blk_long_path, 'a', sizeof(blk_long_path) - 1);
	return 0;
}

/* Image (i) made (size) bytes of zeros: what an earlier input wrote is gone. */
static void blk_image_reset(int i, uint32_t size)
{
	if (ftruncate(blk_img_fd[i], 0) || ftruncate(blk_img_fd[i], size))
		abort(); /* a memfd that cannot be truncated: nothing here would be meaningful */
}

/* Does [gpa, gpa + len) meet [start, start + size)? */
static bool blk_overlaps(uint64_t gpa, uint64_t len, uint64_t start, uint64_t size)
{
	return gpa < start + size && start < gpa + len;
}

/*
 * The used entries a kick wrote, from the last back to the first (used slots from
 * (first) on), against the chains in (table), the descriptor table the kick read. An
 * entry is written after its request's data and status, so the last is intact; an earlier
 * one only while no later request's writable buffers reach into the used ring. Gives up
 * there, and at an indirect table (not copied).
 */
static void blk_check_used(struct fuzz_driver *d, const struct virtq *vq, const uint8_t *table,
			   uint16_t first)
{
	uint64_t ring_bytes = 4 + 8ULL * vq->size + 2, table_bytes = 16ULL * vq->size;
	uint16_t i = vq->next_used, n = 0;

	while (i != first && n++ < vq->size) {
		uint32_t used[2], len;
		uint64_t writable = 0, addr;
		uint16_t idx, flags, next;
		const uint8_t *u;
		bool overlap = false;
		unsigned int visited = 0;

		i--;
		u = gpa_to_hva(&d->mem, vq->used_gpa + 4 + 8ULL * (i & (vq->size - 1)), 8);
		if (!u)
			return;
		memcpy(used, u, sizeof(used));
		if (used[0] >= vq->size)
			return;
		for (idx = used[0];; idx = next) {
			const uint8_t *desc = table + 16 * idx;

			if (++visited > vq->size)
				return;
			memcpy(&addr, desc, 8);
			memcpy(&len, desc + 8, 4);
			memcpy(&flags, desc + 12, 2);
			memcpy(&next, desc + 14, 2);
			if (flags & VIRTQ_DESC_F_INDIRECT)
				return;
			if (flags & VIRTQ_DESC_F_WRITE) {
				writable += len;
				overlap |= blk_overlaps(addr, len, vq->used_gpa, ring_bytes) ||
					   blk_overlaps(addr, len, vq->desc_gpa, table_bytes);
			}
			if (!(flags & VIRTQ_DESC_F_NEXT))
				break;
			if (next >= vq->size)
				return;
		}
		if (used[1] > writable) {
			fprintf(stderr, "used length %u > %llu writable bytes (head %u)\n", used[1],
				(unsigned long long)writable, used[0]);
			abort();
		}
		if (overlap)
			return;
	}
}

/*
 * A kick, as the device's queue_notify, wrapped: with the synchronous engine, check what
 * it answered unless its writes changed the descriptor table it read.
 */
static void blk_checked_notify(struct virtio_dev *vd, unsigned int q)
{
	struct fuzz_driver *d = vd->transport_priv;
	struct blk_fuzz *f = d->opaque;
	const struct virtq *vq = &vd->queues[q];
	uint64_t table_bytes = 16ULL * vq->size;
	const uint8_t *table = gpa_to_hva(&d->mem, vq->desc_gpa, table_bytes);
	uint16_t first = vq->next_used;
	bool check = table && table_bytes <= sizeof(f->desc_before) && !f->blk->io.uring;

	if (check)
		memcpy(f->desc_before, table, table_bytes);
	f->ops->queue_notify(vd, q);
	if (check && vq->enabled && !memcmp(f->desc_before, table, table_bytes))
		blk_check_used(d, vq, f->desc_before, first);
}

/*
 * The disk for (which): bit 0 read-only, bit 1 the synchronous engine, its kicks checked.
 * Made on first use and kept, with the driver's RAM and loop, for the life of the process.
 */
static struct blk_fuzz *blk_disk(unsigned int which)
{
	struct blk_fuzz *f = blk_disks[which];
	struct virtio_dev *vd;
	char why[256];
	int ret;

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->cfg.path, sizeof(f->cfg.path), "%s", blk_img_path[0]);
	f->cfg.ro = which & 1;
	/* The engine is chosen from the environment at creation; one thread, so no race. */
	if (which & 2)
		setenv("EMBER_BLK_SYNC", "1", 1);
	ret = virtio_blk_create(&blk_driver->mem, &blk_driver->loop, &blk_driver->log, &f->cfg,
				which, &f->blk, why, sizeof(why));
	unsetenv("EMBER_BLK_SYNC");
	if (ret) {
		free(f);
		return NULL;
	}
	vd = virtio_blk_dev(f->blk);
	f->ops = vd->ops;
	blk_checked_ops = *vd->ops;
	blk_checked_ops.queue_notify = blk_checked_notify;
	vd->ops = &blk_checked_ops;
	blk_disks[which] = f;
	return f;
}

/*
 * The host side, PATCH /drives. Script: u8 what (bits 0-1 path: none, the disk's own
 * path, the other image, or one refused as bits 4-5 say; bit 2 new limits, out of range
 * if bit 3; bit 6 first resize image bit 7 to a u16 size), then the op's arguments.
 * With no path, bit 4 waits for the requests in flight and answers them (as a snapshot
 * or an update does): io_uring completes on its own time, this at a point the script
 * chooses.
 */
static void blk_host_op(struct fuzz_driver *d, struct bin *s)
{
	static const char *const refused[3] = { "/nonexistent/ember-fuzz", "/dev/null", "/tmp" };
	struct blk_fuzz *f = d->opaque;
	struct throttle_config limit = { 0 };
	uint8_t what = bin_u8(s);
	const char *path = NULL;
	unsigned int bad;

	if (what & 0x40) {
		uint16_t size = bin_u16(s);

		if (ftruncate(blk_img_fd[what >> 7], size))
			abort();
	}
	switch (what & 3) {
	case 0:
		/* No update: wait for the requests in flight instead, answering them. */
		if (what & 0x10) {
			pthread_mutex_lock(&d->vd->lock);
			blk_io_quiesce(f->blk, 1000);
			pthread_mutex_unlock(&d->vd->lock);
		}
		break;
	case 1:
		path = f->cfg.path; /* aliases the destination of the update's copy */
		break;
	case 2:
		path = blk_img_path[strcmp(f->cfg.path, blk_img_path[0]) ? 0 : 1];
		break;
	case 3:
		bad = (what >> 4) & 3;
		path = bad < 3 ? refused[bad] : blk_long_path;
		break;
	}
	if (what & 4) {
		limit.bandwidth.size = bin_u16(s);
		limit.bandwidth.one_time_burst = bin_u8(s);
		limit.bandwidth.refill_time_ms = 1 + bin_u8(s) % 4;
		limit.ops.size = bin_u8(s);
		limit.ops.refill_time_ms = 1;
		if (what & 8)
			limit.ops.size = UINT64_MAX;
	}
	virtio_blk_update(f->blk, path, what & 4 ? &limit : NULL);
}

/* What an earlier input may have left armed or signalled: no wake-up carries over. */
static void blk_quiet(struct blk_fuzz *f)
{
	const struct itimerspec off = { 0 };
	struct virtio_dev *vd = virtio_blk_dev(f->blk);
	uint64_t count;

	pthread_mutex_lock(&vd->lock);
	f->blk->throttle.waiting = false;
	if (timerfd_settime(f->blk->throttle.timer_fd, 0, &off, NULL) ||
	    (read(f->blk->throttle.timer_fd, &count, sizeof(count)) < 0 && errno != EAGAIN))
		abort();
	if (f->blk->io.event_fd >= 0 && read(f->blk->io.event_fd, &count, sizeof(count)) < 0 &&
	    errno != EAGAIN)
		abort();
	pthread_mutex_unlock(&vd->lock);
}

/*
 * A device per input would cost most of the time in its request pool's allocation (a
 * megabyte, poisoned and unpoisoned by ASan) and its io_uring set-up: so each of the four
 * disks is made once and brought back to a known state per input instead, the way a
 * guest's reboot finds it: reset (the kernel done with every buffer), images emptied,
 * re-opened (capacity) and limits replaced (fresh buckets), guest RAM zeroed.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct throttle_config limit = { 0 }, none = { 0 };
	struct fuzz_driver *d;
	struct blk_fuzz *f;
	uint8_t head = bin_u8(&s);

	if (blk_images_init())
		return 0;
	if (!blk_driver) {
		blk_driver = malloc(sizeof(*blk_driver));
		if (!blk_driver || fuzz_driver_init(blk_driver))
			abort();
	}
	d = blk_driver;
	f = blk_disk((head & 1) | ((head >> 1) & 2));
	if (!f)
		return 0;
	blk_image_reset(0, blk_sizes[(head >> 4) & 7]);
	blk_image_reset(1, blk_sizes[((head >> 4) + 3) & 7]);
	memset(d->mem.regions[0].hva, 0, FUZZ_RAM);
	memset(d->avail_idx, 0, sizeof(d->avail_idx));
	memset(d->next_desc, 0, sizeof(d->next_desc));
	d->requeued = 0;
	d->interrupts = 0;
	fuzz_driver_attach(d, virtio_blk_dev(f->blk));
	d->device_op = blk_host_op;
	d->opaque = f;
	blk_quiet(f);
	f->cfg.cache = head & 2 ? BLK_CACHE_UNSAFE : BLK_CACHE_WRITEBACK;
	if (virtio_blk_update(f->blk, blk_img_path[0], &none))
		abort();
	if (head & 8) {
		limit.bandwidth.size = 1 + bin_u16(&s);
		limit.bandwidth.refill_time_ms = 1;
		limit.ops.size = bin_u8(&s);
		limit.ops.refill_time_ms = 1;
		if (virtio_blk_update(f->blk, NULL, &limit))
			abort();
	}
	fuzz_driver_run(d, &s);
	/* Reset: waits for what io_uring still has in flight, before the next input's RAM. */
	pthread_mutex_lock(&d->vd->lock);
	fuzz_write_status(d, 0);
	pthread_mutex_unlock(&d->vd->lock);
	return 0;
}
