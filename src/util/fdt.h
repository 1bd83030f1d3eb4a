/*
 * A flattened device tree writer (Devicetree Specification v0.4, chapter 5), for the arm64
 * and riscv64 boot code: nodes and properties are appended in order into one growing
 * buffer, property names are shared in the strings block, and fdtw_finish() lays out the
 * header, the (empty) memory reservation map, the structure and the strings.
 * Errors stick: the first failure is kept and returned by fdtw_finish().
 */
#ifndef EMBER_UTIL_FDT_H
#define EMBER_UTIL_FDT_H

#include <stddef.h>
#include <stdint.h>

#define FDT_MAX_DEPTH 16

struct fdt_writer {
	uint8_t *structs; /* the structure block being built */
	size_t structs_len, structs_cap;
	char *strings; /* the strings block */
	size_t strings_len, strings_cap;
	unsigned int depth; /* nodes open */
	int error;	    /* the first -errno, or 0 */
	uint32_t boot_cpuid;
};

/* An empty tree. */
void fdtw_init(struct fdt_writer *f);

/* Open a node called (name) ("" for the root) inside the current one. */
void fdtw_begin_node(struct fdt_writer *f, const char *name);
void fdtw_end_node(struct fdt_writer *f);

/* Open "(base)@(addr)": the unit address in lower-case hex, no leading zeros. */
void fdtw_begin_node_at(struct fdt_writer *f, const char *base, uint64_t addr);

/* A property of the open node: raw bytes, an empty one, cells, a string, a list of strings. */
void fdtw_prop(struct fdt_writer *f, const char *name, const void *val, size_t len);
void fdtw_prop_empty(struct fdt_writer *f, const char *name);
void fdtw_prop_u32(struct fdt_writer *f, const char *name, uint32_t v);
void fdtw_prop_u64(struct fdt_writer *f, const char *name, uint64_t v);
void fdtw_prop_cells(struct fdt_writer *f, const char *name, const uint32_t *cells, size_t n);
void fdtw_prop_string(struct fdt_writer *f, const char *name, const char *s);
/* (list) holds (n) NUL-terminated strings back to back, as "compatible" wants them. */
void fdtw_prop_strings(struct fdt_writer *f, const char *name, const char *const *list, size_t n);

/*
 * The blob: every node closed, at most (max) bytes. (*out) is malloc'd (the caller frees
 * it), (*len) its size. 0, or -errno (-EINVAL: nodes still open; -E2BIG: over (max)).
 * (f) is freed either way.
 */
/*
 * The nodes and properties both machines write alike, for a parent with two address and
 * two size cells (the root, or a soc bus mapping 1:1 onto it):
 * "reg" as one (addr, size) range;
 */
void fdtw_prop_reg(struct fdt_writer *f, uint64_t addr, uint64_t size);
/* /memory@(base) covering (size) bytes; */
void fdtw_memory_node(struct fdt_writer *f, uint64_t base, uint64_t size);
/*
 * /chosen: bootargs (none if (cmdline) is NULL), stdout-path, and the initrd's bounds if
 * (initrd_size) is not 0.
 */
void fdtw_chosen_node(struct fdt_writer *f, const char *cmdline, const char *stdout_path,
		      uint64_t initrd_addr, uint64_t initrd_size);

int fdtw_finish(struct fdt_writer *f, size_t max, uint8_t **out, size_t *len);

/* Free (f) without producing a blob. */
void fdtw_free(struct fdt_writer *f);

#endif
