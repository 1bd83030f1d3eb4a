#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"
#include "../util/util.h"

int guest_mem_init(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr)
{
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
		p = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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

void guest_mem_destroy(struct guest_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		munmap(mem->regions[i].hva, mem->regions[i].size);
	memset(mem, 0, sizeof(*mem));
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
