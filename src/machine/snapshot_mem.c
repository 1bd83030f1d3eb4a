/*
 * Snapshot memory files: every page (Full) or the pages written since the last snapshot
 * (Diff), at their offsets in a sparse file of the whole RAM's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot_mem.h"
#include "../snapshot/stream.h"
#include "../util/util.h"

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[64];
	unsigned int i;

	for (i = 0; i < GUEST_PAGE_SIZE; i += sizeof(zero))
		if (memcmp(p + i, zero, sizeof(zero)))
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Write the pages of region (r) at (base) in the file for which (want) says so, joining
 * neighbours into one write. (want) NULL: every page that is not all zeros (a hole reads
 * back as zeros anyway).
 */
static int write_pages(int fd, const struct mem_region *r, uint64_t base,
		       bool (*want)(const void *ctx, uint64_t page), const void *ctx)
{
	uint64_t pages = r->size / GUEST_PAGE_SIZE, page, run = 0;
	int ret;

	for (page = 0; page <= pages; page++) {
		bool take = page < pages && (want ? want(ctx, page)
						  : !page_is_zero(r->hva + page * GUEST_PAGE_SIZE));

		if (take) {
			run++;
			continue;
		}
		if (run) {
			uint64_t first = page - run;

			ret = pwrite_all(fd, r->hva + first * GUEST_PAGE_SIZE, run * GUEST_PAGE_SIZE,
					 (off_t)(base + first * GUEST_PAGE_SIZE));
			if (ret)
				return ret;
			run = 0;
		}
	}
	return 0;
}

struct dirty_pages {
	const struct guest_mem *mem;
	unsigned int region;
	const uint64_t *kvm; /* KVM's log of the region */
};

static bool page_dirty(const void *ctx, uint64_t page)
{
	const struct dirty_pages *d = ctx;

	return (d->kvm[page / 64] >> (page % 64) & 1) ||
	       guest_mem_page_dirty(d->mem, d->region, page);
}

/* Fetch KVM's log of every region (it restarts), or NULL bitmaps with tracking off. */
static int take_dirty_logs(struct vm *vm, uint64_t *logs[GUEST_MEM_MAX_REGIONS])
{
	unsigned int i;
	int ret;

	for (i = 0; i < vm->mem.nr_regions; i++) {
		uint64_t words = (vm->mem.regions[i].size / GUEST_PAGE_SIZE + 63) / 64;

		logs[i] = calloc(words, sizeof(uint64_t));
		if (!logs[i])
			return -ENOMEM;
		ret = vm_dirty_log_take(vm, i, logs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void keep_dirty_logs(struct guest_mem *mem, uint64_t *logs[GUEST_MEM_MAX_REGIONS])
{
	unsigned int i;
	uint64_t page;

	for (i = 0; i < mem->nr_regions && logs[i]; i++)
		for (page = 0; page < mem->regions[i].size / GUEST_PAGE_SIZE; page++)
			if (logs[i][page / 64] >> (page % 64) & 1)
				guest_mem_mark_dirty(mem, mem->regions[i].gpa + page * GUEST_PAGE_SIZE,
						     GUEST_PAGE_SIZE);
}

int snapshot_mem_prepare(struct vm *vm, bool diff, const char *path, struct mem_snapshot *ms,
			 char *why, size_t why_len)
{
	unsigned int i;
	int fd, ret = 0;

	memset(ms, 0, sizeof(*ms));
	ms->tracking = vm->cfg->track_dirty_pages;
	/* Logs first: a Full snapshot is the base the next Diff is taken against. */
	if (ms->tracking) {
		ret = take_dirty_logs(vm, ms->logs);
		if (ret) {
			snprintf(why, why_len, "KVM_GET_DIRTY_LOG: %s", strerror(-ret));
			return ret;
		}
	}
	fd = snap_tmp_open(path, ms->tmp, sizeof(ms->tmp), why, why_len);
	if (fd < 0) {
		ms->tmp[0] = '\0';
		return fd;
	}
	if (ftruncate(fd, (off_t)vm->mem.total))
		ret = -errno;
	for (i = 0; !ret && i < vm->mem.nr_regions; i++) {
		struct dirty_pages d = { &vm->mem, i, ms->logs[i] };

		ret = write_pages(fd, &vm->mem.regions[i], guest_mem_file_offset(&vm->mem, i),
				  diff ? page_dirty : NULL, &d);
	}
	ret = snap_tmp_sync(fd, ms->tmp, ret, why, why_len);
	if (ret)
		ms->tmp[0] = '\0'; /* removed */
	return ret;
}

void snapshot_mem_finish(struct vm *vm, struct mem_snapshot *ms, bool done)
{
	unsigned int i;

	if (!done && ms->tmp[0])
		unlink(ms->tmp);
	/* Not done: KVM has forgotten what it logged, and ember's bitmaps keep it for a retry. */
	if (ms->tracking && done)
		guest_mem_clear_dirty(&vm->mem);
	else if (ms->tracking)
		keep_dirty_logs(&vm->mem, ms->logs);
	for (i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(ms->logs[i]);
	memset(ms, 0, sizeof(*ms));
}
