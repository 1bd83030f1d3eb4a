#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"
#include "../util/util.h"

/*
 * Anonymous guest RAM at a 2 MiB-aligned host address, so that the host's transparent huge
 * pages (where its policy is "always") can back it: KVM then maps the guest with 2 MiB
 * pages, and a guest touching its RAM takes one nested page fault per 2 MiB instead of one
 * per 4 KiB (measured in a nested L1: 16k faults per Linux boot down to 38, a quarter of
 * all its exits; bench/nested-exits). ember asks for no huge pages itself: a host set to
 * "madvise" or "never" keeps 4 KiB pages and memory granularity. The slack around the
 * aligned range is unmapped at once.
 */
static void *map_anonymous_aligned(uint64_t size)
{
	const uint64_t align = 2 * MiB;
	uint64_t head;
	uint8_t *p;

	p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return p;
	head = ALIGN_UP((uintptr_t)p, align) - (uintptr_t)p;
	if (head)
		munmap(p, head);
	munmap(p + head + size, align - head);
	return p + head;
}

static int guest_mem_map(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr,
			 int fd)
{
	uint64_t offset = 0;
	unsigned int i;

	memset(mem, 0, sizeof(*mem));
	if (nr == 0 || nr > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		const struct mem_region *r = &layout[i];
		uint64_t end;
		void *p;

		if (!r->size || (r->gpa | r->size) & 0xfff ||
		    __builtin_add_overflow(r->gpa, r->size, &end) ||
		    (i && r->gpa < layout[i - 1].gpa + layout[i - 1].size)) {
			guest_mem_destroy(mem);
			return -EINVAL;
		}
		/* NORESERVE: only what the guest touches costs host memory. */
		if (fd < 0)
			p = map_anonymous_aligned(r->size);
		else
			p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
				 fd, (off_t)offset);
		offset += r->size;
		if (p == MAP_FAILED) {
			int err = -errno;

			guest_mem_destroy(mem);
			return err;
		}
		mem->regions[i] = (struct mem_region){ .gpa = r->gpa, .size = r->size, .hva = p };
		mem->nr_regions = i + 1;
		mem->total += r->size;
	}
	return 0;
}

int guest_mem_init(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr)
{
	return guest_mem_map(mem, layout, nr, -1);
}

int guest_mem_init_file(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr,
			int fd)
{
	return fd < 0 ? -EBADF : guest_mem_map(mem, layout, nr, fd);
}

void guest_mem_destroy(struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		munmap(mem->regions[i].hva, mem->regions[i].size);
		free(mem->dirty[i]);
	}
	memset(mem, 0, sizeof(*mem));
}

uint64_t guest_mem_file_offset(const struct guest_mem *mem, unsigned int i)
{
	uint64_t offset = 0;

	while (i--)
		offset += mem->regions[i].size;
	return offset;
}

static uint64_t dirty_words(const struct mem_region *r)
{
	return (r->size / GUEST_PAGE_SIZE + 63) / 64;
}

int guest_mem_track_dirty(struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		if (mem->dirty[i])
			continue;
		mem->dirty[i] = calloc(dirty_words(&mem->regions[i]), sizeof(uint64_t));
		if (!mem->dirty[i])
			return -ENOMEM;
	}
	return 0;
}

void guest_mem_mark_dirty(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t end, page, last;
	unsigned int i;

	if (!len || !mem->dirty[0] || __builtin_add_overflow(gpa, len - 1, &end))
		return;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa >= r->gpa + r->size)
			continue;
		last = (MIN(end, r->gpa + r->size - 1) - r->gpa) / GUEST_PAGE_SIZE;
		for (page = (gpa - r->gpa) / GUEST_PAGE_SIZE; page <= last; page++)
			__atomic_fetch_or(&mem->dirty[i][page / 64], 1ULL << (page % 64),
					  __ATOMIC_RELAXED);
		return;
	}
}

void guest_mem_mark_all_dirty(struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		if (mem->dirty[i])
			memset(mem->dirty[i], 0xff, dirty_words(&mem->regions[i]) * sizeof(uint64_t));
}

int guest_mem_page_dirty(const struct guest_mem *mem, unsigned int i, uint64_t page)
{
	if (!mem->dirty[i])
		return 0;
	return (__atomic_load_n(&mem->dirty[i][page / 64], __ATOMIC_RELAXED) >> (page % 64)) & 1;
}

void guest_mem_clear_dirty(struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		if (mem->dirty[i])
			memset(mem->dirty[i], 0, dirty_words(&mem->regions[i]) * sizeof(uint64_t));
}

void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size && gpa < r->gpa + r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gpa_to_hva(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	guest_mem_mark_dirty(mem, gpa, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src = gpa_to_hva(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_mem_region_end(const struct guest_mem *mem, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa < r->gpa + r->size)
			return r->gpa + r->size;
	}
	return 0;
}

uint64_t guest_mem_resident(const struct guest_mem *mem)
{
	uint64_t page = sysconf(_SC_PAGESIZE), total = 0;
	unsigned char vec[4096];
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		uint64_t off, j;

		/* In chunks of 4096 pages, so the vector stays on the stack. */
		for (off = 0; off < r->size; off += sizeof(vec) * page) {
			uint64_t len = MIN(r->size - off, sizeof(vec) * page);

			if (mincore(r->hva + off, len, vec) < 0)
				return 0;
			for (j = 0; j < (len + page - 1) / page; j++)
				total += (vec[j] & 1) * page;
		}
	}
	return total;
}
