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

#define GUEST_PAGE_SIZE 4096ULL

struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	uint64_t total;
	/*
	 * With dirty tracking on: a bit per page of each region that ember itself wrote
	 * (device buffers, used rings; every page after a boot) since the last snapshot;
	 * KVM's dirty log holds the guest's own writes. NULL when tracking is off.
	 */
	uint64_t *dirty[GUEST_MEM_MAX_REGIONS];
};

/*
 * Map anonymous memory for each of the (nr) ranges in (layout) (only gpa and size are read).
 * Ranges must be page-aligned, sorted and disjoint. Returns 0 or -errno.
 */
int guest_mem_init(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr);

/*
 * As guest_mem_init, but each region maps (fd) MAP_PRIVATE at the region's place in a
 * snapshot memory file, where the regions lie back to back in gpa order: the guest reads
 * pages of the file as it touches them and its writes stay its own. The file must hold
 * every region. 0 or -errno.
 */
int guest_mem_init_file(struct guest_mem *mem, const struct mem_region *layout, unsigned int nr,
			int fd);
void guest_mem_destroy(struct guest_mem *mem);

/* The offset of region (i) in a snapshot memory file: the sizes of the regions before it. */
uint64_t guest_mem_file_offset(const struct guest_mem *mem, unsigned int i);

/* Start tracking the pages ember writes (guest_mem_mark_dirty). 0 or -ENOMEM. */
int guest_mem_track_dirty(struct guest_mem *mem);

/*
 * Record that ember wrote [gpa, gpa + len) of guest RAM: every path that writes guest
 * memory on the host side calls it (guest_mem_write does). Safe from any thread; a no-op
 * when tracking is off or the range is not RAM.
 */
void guest_mem_mark_dirty(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/*
 * Mark every page: after a boot, whose loaders write guest RAM through gpa_to_hva, nothing
 * but a snapshot of all of it is a base for the next Diff.
 */
void guest_mem_mark_all_dirty(struct guest_mem *mem);

/* Whether page (page) of region (i) is marked; clear every mark. */
int guest_mem_page_dirty(const struct guest_mem *mem, unsigned int i, uint64_t page);
void guest_mem_clear_dirty(struct guest_mem *mem);

/*
 * The host address of [gpa, gpa + len), or NULL if any byte of it lies outside a single
 * RAM region or the range wraps. Every guest address in ember goes through here.
 */
void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy (len) bytes to/from guest memory at (gpa); a write marks its pages dirty. 0 or -EFAULT. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

/* How many bytes of guest RAM are resident on the host (touched by guest or VMM). */
uint64_t guest_mem_resident(const struct guest_mem *mem);

/* The end of the RAM region that contains (gpa), or 0 if (gpa) is not RAM. */
uint64_t guest_mem_region_end(const struct guest_mem *mem, uint64_t gpa);

#endif
