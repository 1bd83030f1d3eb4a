/* Guest physical memory: a few anonymous host mappings, and the one checked way into them. */
#ifndef EMBER_VMM_MEMORY_H
#define EMBER_VMM_MEMORY_H

#include <stdint.h>
#include <stddef.h>

#define GUEST_MEM_MAX_REGIONS 4

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	uint64_t total;
};

/*
 * Map anonymous memory for each of the (nr) ranges in (layout) (only gpa and size are read).
 * Ranges must be page-aligned, sorted and disjoint. Returns 0 or -errno.
 */
int guest_mem_init(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr);
void guest_mem_destroy(struct guest_mem *mem);

/*
 * The host address of [gpa, gpa + len), or NULL if any byte of it lies outside a single
 * RAM region or the range wraps. Every guest address in ember goes through here.
 */
void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy (len) bytes to/from guest memory at (gpa). Returns 0 or -EFAULT. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

/* How many bytes of guest RAM are resident on the host (touched by guest or VMM). */
uint64_t guest_mem_resident(const struct guest_mem *mem);

/* The end of the RAM region that contains (gpa), or 0 if (gpa) is not RAM. */
uint64_t guest_mem_region_end(const struct guest_mem *mem, uint64_t gpa);

#endif
