/*
 * libFuzzer target: virtio-balloon driven by a hostile driver (virtio_driver.h); the
 * fuzzer's bytes are the driver's script, after a head byte that builds the device:
 *
 *   bit 0 statistics on (then u16: the period is 1 + u16 % 3600 s, the API's range),
 *   bit 1 deflate_on_oom, bit 2 dirty page tracking on guest RAM, bits 3-4 the boot
 *   target: 0 MiB, 1 MiB (more than the guest's RAM, which a boot allows), the largest
 *   32-bit page count, or a u32 from the script.
 *
 * Queue 0 inflates, 1 deflates (chains of le32 PFNs: any, and any length), 2 takes the
 * statistics buffer (le16 tag, le64 value entries). The target's own op (balloon_host_op)
 * is the host side: PATCH /balloon (virtio_balloon_set_target), PATCH /balloon/statistics
 * (virtio_balloon_set_stats_period, which hands the held stats buffer back at once), GET
 * /balloon/statistics (virtio_balloon_stats), and a snapshot of the device restored into
 * it, or a section of script bytes restored (as untrusted as a snapshot file).
 *
 * Besides "no crash": every madvise(MADV_DONTNEED) the device makes covers whole, aligned
 * guest pages inside guest RAM (ASan cannot see mmap'd memory, so this target defines
 * madvise itself to look), no more pages than the guest listed in RAM (inflated_pages), and
 * with dirty tracking on, every page given back is marked dirty (a Diff snapshot must carry
 * the zeros). The statistics agree with the config space and with what the host asked
 * for; a target or period the API must refuse changes nothing; a snapshot restored into
 * the device gives back the statistics it was taken of, and a refused one changes nothing.
 *
 * The statistics timer is at least 1 s and the loop is never waited on, so a tick almost
 * never comes within an input: the hand-back it does is what set_stats_period does too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "snapshot/stream.h"
#include "virtio/balloon.h"
#include "virtio_driver.h"

#define BALLOON_FUZZ_PAGES (FUZZ_RAM / GUEST_PAGE_SIZE)
#define BALLOON_SECTION	   0x4e4c4142 /* any tag: the section never leaves this file */

struct balloon_fuzz {
	struct balloon_config cfg; /* the device's: set_target and set_stats_period write it */
	struct virtio_balloon *b;
	uint32_t target_pages; /* what the host last asked for */
	/* inflated_pages and balloon_given at the start, or at the last restore */
	uint64_t inflated_base, given_base;
};

/* The input being run, for madvise: its guest RAM and the pages given back so far. */
static struct fuzz_driver *balloon_driver;
static uint64_t balloon_released[(BALLOON_FUZZ_PAGES + 63) / 64];
static uint64_t balloon_given; /* pages madvised in this input */

static void balloon_fail(const char *what)
{
	fprintf(stderr, "fuzz_virtio_balloon: %s\n", what);
	abort();
}

/*
 * Every madvise in this process comes here (the definition takes libc's place at link
 * time): the balloon's must give back whole guest pages of the input's RAM. Then it does
 * what libc's would.
 */
int madvise(void *addr, size_t len, int advice)
{
	struct fuzz_driver *d = balloon_driver;

	if (d && advice == MADV_DONTNEED) {
		const struct mem_region *r = &d->mem.regions[0];
		uintptr_t start = (uintptr_t)r->hva, p = (uintptr_t)addr;
		uint64_t page, end;

		if (p < start || p >= start + r->size || !len || len > start + r->size - p ||
		    (p - start) % GUEST_PAGE_SIZE || len % GUEST_PAGE_SIZE)
			balloon_fail("madvise outside guest RAM or not whole pages");
		end = (p - start + len) / GUEST_PAGE_SIZE;
		for (page = (p - start) / GUEST_PAGE_SIZE; page < end; page++) {
			balloon_released[page / 64] |= 1ULL << (page % 64);
			balloon_given++;
		}
	}
	return syscall(SYS_madvise, addr, len, advice);
}

/* GET /balloon/statistics as the API reads it, checked against the config space. */
static void balloon_read_stats(struct fuzz_driver *d, struct balloon_fuzz *f)
{
	const struct virtio_dev_ops *ops = d->vd->ops;
	struct balloon_stats s;
	uint32_t config[2];
	unsigned int i;

	virtio_balloon_stats(f->b, &s);
	pthread_mutex_lock(&d->vd->lock);
	ops->config_read(d->vd, 0, &config[0], 4);
	ops->config_read(d->vd, 4, &config[1], 4);
	pthread_mutex_unlock(&d->vd->lock);
	if (s.target_pages != f->target_pages || config[0] != f->target_pages)
		balloon_fail("the target is not what the host asked for");
	/* A page listed twice may go back once, but none goes back unlisted. */
	if (balloon_given - f->given_base > s.inflated_pages - f->inflated_base)
		balloon_fail("more pages given back than the guest listed");
	if (s.actual_pages != config[1])
		balloon_fail("actual differs between the statistics and the config space");
	if (s.target_mib != (uint64_t)s.target_pages * 4096 / MiB ||
	    s.actual_mib != (uint64_t)s.actual_pages * 4096 / MiB)
		balloon_fail("MiB do not follow the page counts");
	for (i = 0; i < BALLOON_S_NR; i++)
		if ((s.valid & (1u << i)) && !balloon_stat_name(i))
			balloon_fail("a reported tag has no name");
	if (balloon_stat_name(BALLOON_S_NR))
		balloon_fail("a name past the last tag");
}

/* The fields a snapshot carries; the target and MiB come from the configuration. */
static bool balloon_stats_equal(const struct balloon_stats *a, const struct balloon_stats *b)
{
	return !memcmp(a->value, b->value, sizeof(a->value)) && a->valid == b->valid &&
	       a->actual_pages == b->actual_pages && a->inflated_pages == b->inflated_pages &&
	       a->deflated_pages == b->deflated_pages;
}

/* Save the device into a section and restore it from there: nothing may change. */
static void balloon_snapshot(struct balloon_fuzz *f)
{
	struct balloon_stats before, after;
	struct snap_section sec = { .tag = BALLOON_SECTION };
	struct snap_writer w;
	struct snap_cursor c;
	char why[128];
	size_t start;

	snap_writer_init(&w, 0, "fuzz");
	start = w.len;
	virtio_balloon_stats(f->b, &before);
	virtio_balloon_save(f->b, &w);
	if (!w.err) {
		sec.data = w.buf + start;
		sec.len = w.len - start;
		snap_cursor_init(&c, &sec);
		if (virtio_balloon_restore(f->b, &c, why, sizeof(why)))
			balloon_fail("the device refuses its own snapshot");
		virtio_balloon_stats(f->b, &after);
		if (!balloon_stats_equal(&before, &after))
			balloon_fail("a snapshot restored gives other statistics");
	}
	snap_writer_free(&w);
}

/* Restore a section of script bytes: refused whole or taken, never half. */
static void balloon_restore_bytes(struct balloon_fuzz *f, struct bin *s)
{
	struct balloon_stats before, after;
	struct snap_section sec = { .tag = BALLOON_SECTION };
	struct snap_cursor c;
	const uint8_t *bytes;
	char why[128];
	int ret;

	sec.len = bin_bytes(s, 192, &bytes);
	sec.data = bytes;
	snap_cursor_init(&c, &sec);
	virtio_balloon_stats(f->b, &before);
	ret = virtio_balloon_restore(f->b, &c, why, sizeof(why));
	virtio_balloon_stats(f->b, &after);
	if (ret && !balloon_stats_equal(&before, &after))
		balloon_fail("a refused snapshot changed the device");
	if (!ret) {
		/* The page count is the snapshot's now: count from here. */
		f->inflated_base = after.inflated_pages;
		f->given_base = balloon_given;
	}
}

/*
 * The host side. Script: u8 what; what % 5 picks PATCH /balloon (u8 % 4 MiB, or a u64 if
 * bit 4: only 0 fits the fuzz RAM), PATCH /balloon/statistics (u8 % 4 s, or a u32 if bit
 * 4: 0 turns statistics off, which must be refused, as must turning them on), GET
 * /balloon/statistics, a snapshot round trip, or a restore of script bytes.
 */
static void balloon_host_op(struct fuzz_driver *d, struct bin *s)
{
	struct balloon_fuzz *f = d->opaque;
	uint8_t what = bin_u8(s);

	switch (what % 5) {
	case 0: {
		uint64_t mib = what & 0x10 ? bin_u64(s) : bin_u8(s) % 4;
		bool fits = mib <= d->mem.total / MiB;
		uint64_t old_mib = f->cfg.target_mib;

		if (virtio_balloon_set_target(f->b, mib) != (fits ? 0 : -EINVAL))
			balloon_fail("set_target: wrong answer");
		if (fits) {
			f->target_pages = mib * MiB / 4096;
			if (f->cfg.target_mib != mib)
				balloon_fail("set_target: the configuration did not follow");
		} else if (f->cfg.target_mib != old_mib) {
			balloon_fail("set_target: a refused target changed the configuration");
		}
		break;
	}
	case 1: {
		unsigned int old = f->cfg.stats_period;
		unsigned int secs = what & 0x10 ? bin_u32(s) : bin_u8(s) % 4;
		int want = balloon_stats_period_check(old, secs) < 0 ? -EINVAL : 0;

		if (virtio_balloon_set_stats_period(f->b, secs) != want)
			balloon_fail("set_stats_period: wrong answer");
		if (virtio_balloon_stats_period(f->b) != (want ? old : secs))
			balloon_fail("set_stats_period: the period is not what was answered");
		break;
	}
	case 2:
		balloon_read_stats(d, f);
		break;
	case 3:
		balloon_snapshot(f);
		break;
	case 4:
		balloon_restore_bytes(f, s);
		break;
	}
}

/* With dirty tracking on, every page given back must be marked for the next Diff. */
static void balloon_check_dirty(const struct fuzz_driver *d)
{
	uint64_t page;

	if (!d->mem.dirty[0])
		return;
	for (page = 0; page < BALLOON_FUZZ_PAGES; page++)
		if ((balloon_released[page / 64] >> (page % 64) & 1) &&
		    !guest_mem_page_dirty(&d->mem, 0, page))
			balloon_fail("a page given back is not marked dirty");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct fuzz_driver *d = malloc(sizeof(*d));
	struct balloon_fuzz f = { 0 };
	uint8_t head;

	if (!d || fuzz_driver_init(d)) {
		free(d);
		return 0;
	}
	head = bin_u8(&s);
	if (head & 1)
		f.cfg.stats_period = 1 + bin_u16(&s) % 3600;
	f.cfg.deflate_on_oom = head & 2;
	switch (head >> 3 & 3) {
	case 0:
		f.cfg.target_mib = 0;
		break;
	case 1:
		f.cfg.target_mib = 1;
		break;
	case 2:
		f.cfg.target_mib = BALLOON_MAX_MIB;
		break;
	case 3:
		f.cfg.target_mib = bin_u32(&s) % (BALLOON_MAX_MIB + 1);
		break;
	}
	f.target_pages = f.cfg.target_mib * MiB / 4096;
	if ((head & 4) && guest_mem_track_dirty(&d->mem))
		goto out;
	if (!virtio_balloon_create(&d->mem, &d->loop, &d->log, &f.cfg, &f.b)) {
		memset(balloon_released, 0, sizeof(balloon_released));
		balloon_given = 0;
		balloon_driver = d;
		d->device_op = balloon_host_op;
		d->opaque = &f;
		fuzz_driver_attach(d, virtio_balloon_dev(f.b));
		fuzz_driver_run(d, &s);
		balloon_read_stats(d, &f);
		balloon_check_dirty(d);
		balloon_driver = NULL;
		virtio_balloon_destroy(f.b);
	}
out:
	fuzz_driver_destroy(d);
	free(d);
	return 0;
}
