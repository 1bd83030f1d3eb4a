/* The state file's writer and reader (the layout is in stream.h). */
#define _GNU_SOURCE /* mkostemp */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"
#include "../util/util.h"

#define SNAP_SECTION_HEADER 12
#define SNAP_TRAILER	    8

/* --- writing --- */

static void *snap_grow(struct snap_writer *w, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > SNAP_MAX_FILE || w->len + n > SNAP_MAX_FILE) {
		w->err = -EFBIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = p;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void snap_writer_init(struct snap_writer *w, uint32_t arch, const char *version)
{
	uint8_t *h;

	memset(w, 0, sizeof(*w));
	h = snap_grow(w, SNAP_HEADER_SIZE);
	if (!h)
		return;
	memset(h, 0, SNAP_HEADER_SIZE);
	memcpy(h, SNAP_MAGIC, 8);
	put_le32(h + 8, SNAP_FORMAT_VERSION);
	put_le32(h + 12, arch);
	strncpy((char *)h + 16, version, 16);
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void snap_begin(struct snap_writer *w, uint32_t tag, uint32_t instance)
{
	size_t at = w->len;
	uint8_t *p;

	if (!w->err && w->section_start) {
		w->err = -EINVAL; /* sections do not nest */
		return;
	}
	p = snap_grow(w, SNAP_SECTION_HEADER);
	if (!p)
		return;
	put_le32(p, tag);
	put_le32(p + 4, instance);
	put_le32(p + 8, 0);
	w->section_start = at;
}

void snap_end(struct snap_writer *w)
{
	if (w->err)
		return;
	if (!w->section_start) {
		w->err = -EINVAL;
		return;
	}
	put_le32(w->buf + w->section_start + 8,
		 (uint32_t)(w->len - w->section_start - SNAP_SECTION_HEADER));
	w->section_start = 0;
	w->nr_sections++;
}

void snap_put_bytes(struct snap_writer *w, const void *p, size_t n)
{
	uint8_t *dst;

	if (!w->err && !w->section_start)
		w->err = -EINVAL; /* every field belongs to a section */
	dst = snap_grow(w, n);
	if (dst && n)
		memcpy(dst, p, n);
}

void snap_put_u8(struct snap_writer *w, uint8_t v)
{
	snap_put_bytes(w, &v, 1);
}

void snap_put_u16(struct snap_writer *w, uint16_t v)
{
	v = htole16(v);
	snap_put_bytes(w, &v, 2);
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
	v = htole32(v);
	snap_put_bytes(w, &v, 4);
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
	v = htole64(v);
	snap_put_bytes(w, &v, 8);
}

void snap_put_blob(struct snap_writer *w, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		if (!w->err)
			w->err = -EFBIG;
		return;
	}
	snap_put_u32(w, (uint32_t)n);
	snap_put_bytes(w, p, n);
}

void snap_put_str(struct snap_writer *w, const char *s)
{
	snap_put_blob(w, s, strlen(s));
}

int snap_writer_finish(struct snap_writer *w)
{
	uint8_t *crc;

	if (!w->err && w->section_start)
		w->err = -EINVAL; /* a section left open */
	crc = snap_grow(w, SNAP_TRAILER);
	if (w->err)
		return w->err;
	put_le64(w->buf + 32, w->len);
	put_le32(w->buf + 40, w->nr_sections);
	put_le64(crc, lzma_crc64(w->buf, w->len - SNAP_TRAILER, 0));
	return 0;
}

int snap_tmp_open(const char *path, char *tmp, size_t tmp_len, char *why, size_t why_len)
{
	int fd;

	if (snprintf(tmp, tmp_len, "%s.XXXXXX", path) >= (int)tmp_len) {
		snprintf(why, why_len, "'%s': path too long", path);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		snprintf(why, why_len, "cannot create '%s': %s", tmp, strerror(-fd));
	}
	return fd;
}

int snap_tmp_sync(int fd, const char *tmp, int ret, char *why, size_t why_len)
{
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		snprintf(why, why_len, "cannot write '%s': %s", tmp, strerror(-ret));
	}
	return ret;
}

int snap_tmp_rename(const char *tmp, const char *path, char *why, size_t why_len)
{
	char dir[PATH_MAX];
	int dfd, ret;

	if (rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
		snprintf(why, why_len, "cannot write '%s': %s", path, strerror(-ret));
		return ret;
	}
	/* The rename itself must reach the disk before the file is reported written. */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int snap_write_file(const char *path, const void *buf, size_t len, char *why, size_t why_len)
{
	char tmp[PATH_MAX];
	int fd = snap_tmp_open(path, tmp, sizeof(tmp), why, why_len);

	int ret;

	if (fd < 0)
		return fd;
	ret = snap_tmp_sync(fd, tmp, write_all(fd, buf, len), why, why_len);
	return ret ? ret : snap_tmp_rename(tmp, path, why, why_len);
}

/* --- reading --- */

const char *snap_tag_name(uint32_t tag, char *buf)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		char ch = (char)(tag >> (8 * i));

		buf[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	buf[4] = '\0';
	return buf;
}

static const char *arch_name(uint32_t arch)
{
	switch (arch) {
	case 62:
		return "x86_64";
	case 183:
		return "aarch64";
	case 243:
		return "riscv64";
	default:
		return "an unknown arch";
	}
}

static int snap_sections(struct snap_file *f, const uint8_t *p, size_t len, uint32_t nr,
			 char *why, size_t why_len)
{
	size_t off = SNAP_HEADER_SIZE, end = len - SNAP_TRAILER;
	char name[5];
	uint32_t i, j;

	if (nr > SNAP_MAX_SECTIONS) {
		snprintf(why, why_len, "bad section table: %u sections (at most %u)", nr,
			 SNAP_MAX_SECTIONS);
		return -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		struct snap_section *s = &f->sections[i];

		if (end - off < SNAP_SECTION_HEADER) {
			snprintf(why, why_len, "bad section table: section %u starts past the end", i);
			return -EINVAL;
		}
		s->tag = get_le32(p + off);
		s->instance = get_le32(p + off + 4);
		s->len = get_le32(p + off + 8);
		off += SNAP_SECTION_HEADER;
		if (s->len > end - off) {
			snprintf(why, why_len, "bad section table: section %s %u runs past the end",
				 snap_tag_name(s->tag, name), s->instance);
			return -EINVAL;
		}
		s->data = p + off;
		off += s->len;
		for (j = 0; j < i; j++)
			if (f->sections[j].tag == s->tag && f->sections[j].instance == s->instance) {
				snprintf(why, why_len, "bad section table: section %s %u twice",
					 snap_tag_name(s->tag, name), s->instance);
				return -EINVAL;
			}
	}
	if (off != end) {
		snprintf(why, why_len, "bad section table: %zu bytes after the last section",
			 end - off);
		return -EINVAL;
	}
	f->nr_sections = nr;
	return 0;
}

int snap_parse(struct snap_file *f, const void *buf, size_t len, uint32_t arch, char *why,
	       size_t why_len)
{
	const uint8_t *p = buf;
	uint64_t said, crc;

	memset(f, 0, sizeof(*f));
	if (len < 8 || memcmp(p, SNAP_MAGIC, 8)) {
		snprintf(why, why_len, "not an ember snapshot (no \"%s\" magic)", SNAP_MAGIC);
		return -EINVAL;
	}
	if (len < SNAP_HEADER_SIZE + SNAP_TRAILER) {
		snprintf(why, why_len, "truncated: %zu bytes, less than a header", len);
		return -EINVAL;
	}
	said = get_le64(p + 32);
	if (said != len) {
		snprintf(why, why_len, "%s: the header says %llu bytes, the file has %zu",
			 said > len ? "truncated" : "bad length", (unsigned long long)said, len);
		return -EINVAL;
	}
	crc = lzma_crc64(p, len - SNAP_TRAILER, 0);
	if (crc != get_le64(p + len - SNAP_TRAILER)) {
		snprintf(why, why_len, "corrupted: CRC64 mismatch");
		return -EINVAL;
	}
	f->version = get_le32(p + 8);
	f->arch = get_le32(p + 12);
	memcpy(f->ember_version, p + 16, 16);
	f->ember_version[16] = '\0';
	if (f->version != SNAP_FORMAT_VERSION) {
		snprintf(why, why_len,
			 "format version %u (written by ember %.16s); this ember reads version %u",
			 f->version, f->ember_version, SNAP_FORMAT_VERSION);
		return -EINVAL;
	}
	if (f->arch != arch) {
		snprintf(why, why_len, "made for %s; this ember runs %s guests",
			 arch_name(f->arch), arch_name(arch));
		return -EINVAL;
	}
	return snap_sections(f, p, len, get_le32(p + 40), why, why_len);
}

int snap_read_file(const char *path, void **buf, size_t *len, char *why, size_t why_len)
{
	struct stat st;
	void *p = NULL;
	ssize_t n = 0;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot open '%s': %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st))
		ret = -errno;
	else if (!S_ISREG(st.st_mode))
		ret = -EINVAL;
	else if ((uint64_t)st.st_size > SNAP_MAX_FILE)
		ret = -EFBIG;
	else if (!(p = malloc(st.st_size ? st.st_size : 1)))
		ret = -ENOMEM;
	while (!ret && (size_t)n < (size_t)st.st_size) {
		ssize_t r = read(fd, (char *)p + n, st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO; /* shrank under us */
			break;
		}
		n += r;
	}
	close(fd);
	if (ret) {
		free(p);
		if (ret == -EFBIG)
			snprintf(why, why_len, "'%s': %llu bytes, more than a state file can be (%u)",
				 path, (unsigned long long)st.st_size, SNAP_MAX_FILE);
		else if (ret == -EINVAL)
			snprintf(why, why_len, "'%s': not a regular file", path);
		else
			snprintf(why, why_len, "cannot read '%s': %s", path, strerror(-ret));
		return ret;
	}
	*buf = p;
	*len = (size_t)n;
	return 0;
}

const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, uint32_t instance)
{
	unsigned int i;

	for (i = 0; i < f->nr_sections; i++)
		if (f->sections[i].tag == tag && f->sections[i].instance == instance)
			return &f->sections[i];
	return NULL;
}

unsigned int snap_count(const struct snap_file *f, uint32_t tag)
{
	unsigned int i, n = 0;

	for (i = 0; i < f->nr_sections; i++)
		n += f->sections[i].tag == tag;
	return n;
}

void snap_cursor_init(struct snap_cursor *c, const struct snap_section *s)
{
	c->s = s;
	c->off = 0;
	c->bad = !s;
	c->refused = NULL;
}


uint8_t snap_get_u8(struct snap_cursor *c)
{
	uint8_t v;

	snap_get_bytes(c, &v, 1);
	return v;
}

uint16_t snap_get_u16(struct snap_cursor *c)
{
	uint16_t v;

	snap_get_bytes(c, &v, 2);
	return le16toh(v);
}

uint32_t snap_get_u32(struct snap_cursor *c)
{
	uint32_t v;

	snap_get_bytes(c, &v, 4);
	return le32toh(v);
}

uint64_t snap_get_u64(struct snap_cursor *c)
{
	uint64_t v;

	snap_get_bytes(c, &v, 8);
	return le64toh(v);
}

const void *snap_get_span(struct snap_cursor *c, size_t n)
{
	const void *p;

	if (c->bad || n > c->s->len - c->off) {
		c->bad = true;
		return NULL;
	}
	p = c->s->data + c->off;
	c->off += n;
	return p;
}

void snap_get_bytes(struct snap_cursor *c, void *dst, size_t n)
{
	const void *p = snap_get_span(c, n);

	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

const void *snap_get_blob(struct snap_cursor *c, size_t max, uint32_t *len)
{
	uint32_t n = snap_get_u32(c);
	const void *p;

	*len = 0;
	if (!c->bad && n > max) {
		c->bad = true;
		return NULL;
	}
	p = snap_get_span(c, n);
	if (p)
		*len = n;
	return p;
}

void snap_get_str(struct snap_cursor *c, char *dst, size_t size)
{
	uint32_t n;
	const char *p = snap_get_blob(c, size - 1, &n);

	if (!p || memchr(p, '\0', n)) {
		c->bad = true;
		*dst = '\0';
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

void snap_cursor_fail(struct snap_cursor *c, const char *what)
{
	if (!c->bad)
		c->refused = what;
	c->bad = true;
}

int snap_cursor_end(struct snap_cursor *c, char *why, size_t why_len)
{
	char name[5];

	if (!c->s) {
		snprintf(why, why_len, "a section is missing");
		return -EINVAL;
	}
	if (c->bad) {
		if (c->refused)
			snprintf(why, why_len, "section %s %u: bad %s", snap_tag_name(c->s->tag, name),
				 c->s->instance, c->refused);
		else
			snprintf(why, why_len, "section %s %u: truncated", snap_tag_name(c->s->tag, name),
				 c->s->instance);
		return -EINVAL;
	}
	if (c->off != c->s->len) {
		snprintf(why, why_len, "section %s %u: %zu bytes left over",
			 snap_tag_name(c->s->tag, name), c->s->instance, c->s->len - c->off);
		return -EINVAL;
	}
	return 0;
}
