/*
 * The FDT writer. Everything in the blob is big-endian; the structure block is a sequence
 * of 32-bit tokens, node names and property values padded to 4 bytes.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdt.h"

#define FDT_MAGIC	   0xd00dfeed
#define FDT_VERSION	   17
#define FDT_LAST_COMP	   16
#define FDT_BEGIN_NODE	   0x1
#define FDT_END_NODE	   0x2
#define FDT_PROP	   0x3
#define FDT_END		   0x9
#define FDT_HEADER_SIZE	   40
#define FDT_RSVMAP_SIZE	   16 /* one all-zero entry: the map is empty */

void fdtw_init(struct fdt_writer *f)
{
	memset(f, 0, sizeof(*f));
}

void fdtw_free(struct fdt_writer *f)
{
	free(f->structs);
	free(f->strings);
	fdtw_init(f);
}

/* Room for (n) more bytes in (*buf); 0 or -ENOMEM (kept in f->error). */
static int grow(struct fdt_writer *f, void **buf, size_t *cap, size_t len, size_t n)
{
	size_t want = *cap ? *cap : 256;
	void *p;

	if (f->error)
		return f->error;
	if (n > SIZE_MAX / 2 - len) {
		f->error = -E2BIG;
		return f->error;
	}
	while (want < len + n)
		want *= 2;
	if (want == *cap)
		return 0;
	p = realloc(*buf, want);
	if (!p) {
		f->error = -ENOMEM;
		return f->error;
	}
	*buf = p;
	*cap = want;
	return 0;
}

/* Append (n) bytes to the structure block, zero-padded to 4. */
static void put(struct fdt_writer *f, const void *data, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;

	if (grow(f, (void **)&f->structs, &f->structs_cap, f->structs_len, padded))
		return;
	if (n)
		memcpy(f->structs + f->structs_len, data, n);
	memset(f->structs + f->structs_len + n, 0, padded - n);
	f->structs_len += padded;
}

static void put_u32(struct fdt_writer *f, uint32_t v)
{
	v = htobe32(v);
	put(f, &v, 4);
}

/* The offset of (name) in the strings block, added if it is not there yet. */
static uint32_t string_offset(struct fdt_writer *f, const char *name)
{
	size_t n = strlen(name) + 1, off = 0;

	while (off < f->strings_len) {
		if (!strcmp(f->strings + off, name))
			return off;
		off += strlen(f->strings + off) + 1;
	}
	if (grow(f, (void **)&f->strings, &f->strings_cap, f->strings_len, n))
		return 0;
	memcpy(f->strings + f->strings_len, name, n);
	f->strings_len += n;
	return off;
}

void fdtw_begin_node(struct fdt_writer *f, const char *name)
{
	/* Too deep, a second root, or a named one (the spec's root is "", libfdt checks). */
	if (f->depth == FDT_MAX_DEPTH || (f->depth == 0 && (f->structs_len || *name))) {
		f->error = f->error ?: -EINVAL;
		return;
	}
	f->depth++;
	put_u32(f, FDT_BEGIN_NODE);
	put(f, name, strlen(name) + 1);
}

void fdtw_end_node(struct fdt_writer *f)
{
	if (!f->depth) {
		f->error = f->error ?: -EINVAL;
		return;
	}
	f->depth--;
	put_u32(f, FDT_END_NODE);
}

void fdtw_prop(struct fdt_writer *f, const char *name, const void *val, size_t len)
{
	uint32_t nameoff;

	if (!f->depth || len > UINT32_MAX) {
		f->error = f->error ?: -EINVAL;
		return;
	}
	nameoff = string_offset(f, name);
	put_u32(f, FDT_PROP);
	put_u32(f, len);
	put_u32(f, nameoff);
	put(f, val, len);
}

void fdtw_prop_empty(struct fdt_writer *f, const char *name)
{
	fdtw_prop(f, name, NULL, 0);
}

void fdtw_prop_u32(struct fdt_writer *f, const char *name, uint32_t v)
{
	fdtw_prop_cells(f, name, &v, 1);
}

void fdtw_prop_u64(struct fdt_writer *f, const char *name, uint64_t v)
{
	uint32_t cells[2] = {v >> 32, (uint32_t)v};

	fdtw_prop_cells(f, name, cells, 2);
}

void fdtw_prop_cells(struct fdt_writer *f, const char *name, const uint32_t *cells, size_t n)
{
	uint32_t be[64];
	size_t i;

	if (n > sizeof(be) / sizeof(be[0])) {
		f->error = f->error ?: -E2BIG;
		return;
	}
	for (i = 0; i < n; i++)
		be[i] = htobe32(cells[i]);
	fdtw_prop(f, name, be, n * 4);
}

void fdtw_prop_string(struct fdt_writer *f, const char *name, const char *s)
{
	fdtw_prop(f, name, s, strlen(s) + 1);
}

void fdtw_prop_strings(struct fdt_writer *f, const char *name, const char *const *list, size_t n)
{
	char buf[256];
	size_t len = 0, i;

	for (i = 0; i < n; i++) {
		size_t l = strlen(list[i]) + 1;

		if (l > sizeof(buf) - len) {
			f->error = f->error ?: -E2BIG;
			return;
		}
		memcpy(buf + len, list[i], l);
		len += l;
	}
	fdtw_prop(f, name, buf, len);
}

static void be32_at(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

int fdtw_finish(struct fdt_writer *f, size_t max, uint8_t **out, size_t *len)
{
	size_t off_struct = FDT_HEADER_SIZE + FDT_RSVMAP_SIZE, off_strings, total;
	uint8_t *blob;
	int ret;

	if (!f->error && (f->depth || !f->structs_len))
		f->error = -EINVAL;
	put_u32(f, FDT_END);
	ret = f->error;
	off_strings = off_struct + f->structs_len;
	total = off_strings + f->strings_len;
	if (!ret && (total > max || total > UINT32_MAX))
		ret = -E2BIG;
	if (ret) {
		fdtw_free(f);
		return ret;
	}
	blob = calloc(1, total);
	if (!blob) {
		fdtw_free(f);
		return -ENOMEM;
	}
	be32_at(blob + 0, FDT_MAGIC);
	be32_at(blob + 4, total);
	be32_at(blob + 8, off_struct);
	be32_at(blob + 12, off_strings);
	be32_at(blob + 16, FDT_HEADER_SIZE); /* off_mem_rsvmap */
	be32_at(blob + 20, FDT_VERSION);
	be32_at(blob + 24, FDT_LAST_COMP);
	be32_at(blob + 28, f->boot_cpuid);
	be32_at(blob + 32, f->strings_len);
	be32_at(blob + 36, f->structs_len);
	memcpy(blob + off_struct, f->structs, f->structs_len);
	memcpy(blob + off_strings, f->strings, f->strings_len);
	fdtw_free(f);
	*out = blob;
	*len = total;
	return 0;
}

void fdtw_begin_node_at(struct fdt_writer *f, const char *base, uint64_t addr)
{
	char name[64];

	if (snprintf(name, sizeof(name), "%s@%" PRIx64, base, addr) >= (int)sizeof(name)) {
		f->error = f->error ?: -E2BIG;
		return;
	}
	fdtw_begin_node(f, name);
}

void fdtw_prop_reg(struct fdt_writer *f, uint64_t addr, uint64_t size)
{
	uint32_t cells[4] = {addr >> 32, (uint32_t)addr, size >> 32, (uint32_t)size};

	fdtw_prop_cells(f, "reg", cells, 4);
}

void fdtw_memory_node(struct fdt_writer *f, uint64_t base, uint64_t size)
{
	fdtw_begin_node_at(f, "memory", base);
	fdtw_prop_string(f, "device_type", "memory");
	fdtw_prop_reg(f, base, size);
	fdtw_end_node(f);
}

void fdtw_chosen_node(struct fdt_writer *f, const char *cmdline, const char *stdout_path,
		      uint64_t initrd_addr, uint64_t initrd_size)
{
	fdtw_begin_node(f, "chosen");
	if (cmdline)
		fdtw_prop_string(f, "bootargs", cmdline);
	fdtw_prop_string(f, "stdout-path", stdout_path);
	if (initrd_size) {
		fdtw_prop_u64(f, "linux,initrd-start", initrd_addr);
		fdtw_prop_u64(f, "linux,initrd-end", initrd_addr + initrd_size);
	}
	fdtw_end_node(f);
}
