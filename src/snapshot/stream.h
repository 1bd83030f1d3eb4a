/*
 * ember's VM state file: a header, tagged sections, and a CRC64 over everything before it.
 *
 *   offset  size  field (all integers little-endian)
 *   0       8     magic "EMBERSNP"
 *   8       4     format version (SNAP_FORMAT_VERSION)
 *   12      4     arch: the ELF e_machine of the guest (62 x86_64, 183 aarch64, 243 riscv64)
 *   16      16    the ember version that wrote it, NUL-padded
 *   32      8     length of the whole file, trailer included
 *   40      4     number of sections
 *   44      4     reserved, 0
 *   48            sections, each: tag (4 ASCII bytes), instance (u32), length (u32), payload
 *   len-8   8     CRC64 (ECMA-182, as xz computes it) of bytes [0, len-8)
 *
 * The magic, the length and the CRC stay where they are in every format version, so any
 * file can be told truncated or corrupted before its version is read. A loader reads only
 * its own format version: a change to any section's layout bumps it.
 *
 * The writer builds the file in memory and puts it on disk atomically (a temporary file,
 * fsync, rename). The reader treats a file as hostile: it checks the header, the length,
 * the CRC and the section table before anyone reads a field, and a cursor over one section
 * never reads past it.
 */
#ifndef EMBER_SNAPSHOT_STREAM_H
#define EMBER_SNAPSHOT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC	    "EMBERSNP"
#define SNAP_FORMAT_VERSION 2 /* 2: x86 machines have the ACPI sleep registers */
#define SNAP_HEADER_SIZE    48
#define SNAP_MAX_FILE	    (64u << 20) /* a state file is kilobytes; refuse giants unread */
#define SNAP_MAX_SECTIONS   256

/* A section tag from four ASCII characters, 'V','C','P','U' -> "VCPU" in the file. */
#define SNAP_TAG(a, b, c, d)                                                              \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
	 (uint32_t)(uint8_t)(d) << 24)

/* The file being written. Errors are sticky: check snap_writer_finish's result once. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start; /* offset of the open section's header, or 0 */
	uint32_t nr_sections;
	int err; /* the first error, -errno */
};

/* An empty file for (arch) written by ember (version). */
void snap_writer_init(struct snap_writer *w, uint32_t arch, const char *version);
void snap_writer_free(struct snap_writer *w);

/* Open section (tag, instance); snap_end closes it. Sections do not nest. */
void snap_begin(struct snap_writer *w, uint32_t tag, uint32_t instance);
void snap_end(struct snap_writer *w);

void snap_put_u8(struct snap_writer *w, uint8_t v);
void snap_put_u16(struct snap_writer *w, uint16_t v);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
/* (n) raw bytes: a fixed-size structure whose size the reader knows. */
void snap_put_bytes(struct snap_writer *w, const void *p, size_t n);
/* A u32 length, then the bytes: for what varies in size. */
void snap_put_blob(struct snap_writer *w, const void *p, size_t n);
/* A string as a blob without its NUL. */
void snap_put_str(struct snap_writer *w, const char *s);

/* Fill in the header and the CRC. 0, or the first error of any put. */
int snap_writer_finish(struct snap_writer *w);

/*
 * Put (len) bytes at (path) atomically: written to a temporary file beside it, synced and
 * renamed over it, so a writer killed half-way leaves either the old file or none. 0, or
 * -errno with the reason in (why, why_len).
 */
int snap_write_file(const char *path, const void *buf, size_t len, char *why, size_t why_len);

/*
 * The same in steps, for a file written piece by piece or two files that must appear
 * together: a new temporary file beside (path), its name into (tmp) of (tmp_len) bytes,
 * its descriptor or -errno with (why)...
 */
int snap_tmp_open(const char *path, char *tmp, size_t tmp_len, char *why, size_t why_len);
/*
 * ... once written (ret: 0, or the writer's -errno), synced and closed; on a failure it is
 * removed. 0, or -errno with (why)...
 */
int snap_tmp_sync(int fd, const char *tmp, int ret, char *why, size_t why_len);
/* ... and renamed over (path), or removed. 0, or -errno with (why). */
int snap_tmp_rename(const char *tmp, const char *path, char *why, size_t why_len);

/* One section of a parsed file. (data) points into the file's buffer. */
struct snap_section {
	uint32_t tag, instance;
	const uint8_t *data;
	uint32_t len;
};

/* A file whose header, length, CRC and section table are known good. */
struct snap_file {
	uint32_t version;
	uint32_t arch;
	char ember_version[17];
	struct snap_section sections[SNAP_MAX_SECTIONS];
	unsigned int nr_sections;
};

/*
 * Check (buf, len) as a state file for (arch) and index its sections into (f), which then
 * points into (buf). 0, or -EINVAL with what is wrong in (why, why_len): too short,
 * truncated, not a state file, corrupted (CRC), another format version, another arch, a
 * bad section table (overlapping the trailer, a duplicate).
 */
int snap_parse(struct snap_file *f, const void *buf, size_t len, uint32_t arch, char *why,
	       size_t why_len);

/*
 * Read the whole file at (path) into a new buffer (*buf, *len) for snap_parse, refusing
 * one over SNAP_MAX_FILE. 0, or -errno with the reason in (why, why_len).
 */
int snap_read_file(const char *path, void **buf, size_t *len, char *why, size_t why_len);

/* Section (tag, instance) of (f), or NULL. */
const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance);

/* How many sections of (tag) (f) has. */
unsigned int snap_count(const struct snap_file *f, uint32_t tag);

/* The tag as text, "VCPU", into (buf) of at least 5 bytes; returns buf. */
const char *snap_tag_name(uint32_t tag, char *buf);

/*
 * Reading one section field by field. A read past the end marks the cursor bad and yields
 * zeros from then on; snap_cursor_end says so once, at the end.
 */
struct snap_cursor {
	const struct snap_section *s;
	size_t off;
	bool bad;
	const char *refused; /* what snap_cursor_fail refused, or NULL: ran out of bytes */
};

/* A cursor at the start of (s); (s) NULL gives a cursor that is bad from the start. */
void snap_cursor_init(struct snap_cursor *c, const struct snap_section *s);
uint8_t snap_get_u8(struct snap_cursor *c);
uint16_t snap_get_u16(struct snap_cursor *c);
uint32_t snap_get_u32(struct snap_cursor *c);
uint64_t snap_get_u64(struct snap_cursor *c);
/* (n) raw bytes into (dst); zeros when the section ends first. */
void snap_get_bytes(struct snap_cursor *c, void *dst, size_t n);
/* A blob of at most (max) bytes, in place: its address and (*len), or NULL (cursor bad). */
const void *snap_get_blob(struct snap_cursor *c, size_t max, uint32_t *len);
/* (n) bytes in place: their address, or NULL (cursor bad) when the section ends first. */
const void *snap_get_span(struct snap_cursor *c, size_t n);
/* A string blob into (dst) of (size) bytes, NUL-terminated; bad if it does not fit or has a NUL. */
void snap_get_str(struct snap_cursor *c, char *dst, size_t size);
/* Mark the cursor bad: a field read well but holds a value the reader refuses (what). */
void snap_cursor_fail(struct snap_cursor *c, const char *what);

/*
 * Whether the section was read exactly to its end. 0, or -EINVAL with "section VCPU 1:
 * truncated", "... N bytes left over" or "... bad <what>" in (why, why_len).
 */
int snap_cursor_end(struct snap_cursor *c, char *why, size_t why_len);

#endif
