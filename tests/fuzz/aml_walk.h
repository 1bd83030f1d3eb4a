/*
 * An AML reader for fuzz_acpi and fuzz_aml: it walks the subset of ACPI 6.5's AML (chapter
 * 20) that ember's writer emits (Scope, Device, Name with integers, strings, packages of
 * integers and resource-template buffers) and refuses anything else. On the way it checks
 * what a strict interpreter would: every PkgLength inside its parent and in its shortest
 * form, name segments of the spec's characters, ASCII strings, a package's element count,
 * a buffer's size term against its bytes, resource descriptors that fit, an end tag last.
 *
 * What it reads goes into a log, one record per term, in a byte format the target also
 * writes from what it asked for, so comparing the two compares the tables' meaning:
 *   'S'/'D' name  Scope/Device opens      'E'          one closes
 *   'I' name op value                     'T' name length hash    (an integer, a string)
 *   'P' name count (op value)...          'B' name     a resource template opens
 *   'o' info min max align len (IO)       'q' mask (IRQNoFlags)
 *   'm' writable base length (Memory32Fixed)  'x' flags count gsi (Interrupt)  'e' end tag
 * A name is five bytes: 1 if rooted ('\'), then its segment. Strings are logged by length
 * and hash, so a megabyte of them costs twelve bytes. The alog_* writers below let a target
 * log what it asked for in the same form.
 */
#ifndef EMBER_FUZZ_AML_WALK_H
#define EMBER_FUZZ_AML_WALK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder_input.h"

#define ALOG_MAX     (1u << 20)
#define AML_MAX_NEST 32

struct alog {
	uint8_t buf[ALOG_MAX];
	size_t len;
	bool over; /* more than ALOG_MAX bytes: not comparable */
};

static inline NOCOV void alog_put(struct alog *l, const void *p, size_t n)
{
	if (n > ALOG_MAX - l->len) {
		l->over = true;
		return;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static inline NOCOV void alog_u8(struct alog *l, uint8_t v)
{
	alog_put(l, &v, 1);
}

/* (v) as (n) little-endian bytes. */
static inline NOCOV void alog_le(struct alog *l, uint64_t v, unsigned int n)
{
	while (n--) {
		alog_u8(l, (uint8_t)v);
		v >>= 8;
	}
}

static inline NOCOV uint64_t alog_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

struct aml_rd {
	const uint8_t *p;
	size_t pos;
	struct alog *log;
	unsigned int nest;
	char why[160];
};

static inline NOCOV int aml_fail(struct aml_rd *r, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->why, sizeof(r->why), "at 0x%zx: ", r->pos);

	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof(r->why) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A PkgLength starting at r->pos, inside (end): where its package ends, in (*pkg_end). */
static inline NOCOV int aml_pkglen(struct aml_rd *r, size_t end, size_t *pkg_end)
{
	static const uint32_t limit[4] = {63, 4095, (1u << 20) - 1, (1u << 28) - 1};
	size_t start = r->pos;
	unsigned int n, i, k;
	uint32_t len;
	uint8_t lead;

	if (r->pos >= end)
		return aml_fail(r, "PkgLength past its parent");
	lead = r->p[r->pos++];
	n = lead >> 6;
	if (!n) {
		len = lead & 0x3f;
	} else {
		if (lead & 0x30)
			return aml_fail(r, "PkgLength lead 0x%x: reserved bits set", lead);
		if (end - r->pos < n)
			return aml_fail(r, "PkgLength bytes past the parent");
		len = lead & 0xf;
		for (i = 0; i < n; i++)
			len |= (uint32_t)r->p[r->pos++] << (4 + 8 * i);
	}
	if (len < n + 1 || len > end - start)
		return aml_fail(r, "PkgLength %u: outside its parent (%zu left)", len, end - start);
	/* The shortest encoding of what it holds: ember's writer promises no padding. */
	for (k = 0; len - (n + 1) + k + 1 > limit[k]; k++)
		;
	if (k != n)
		return aml_fail(r, "PkgLength %u in %u bytes, %u would do", len, n + 1, k + 1);
	*pkg_end = start + len;
	return 0;
}

/* A NameString: an optional root prefix and one NameSeg, as five bytes into (out). */
static inline NOCOV int aml_name(struct aml_rd *r, size_t end, uint8_t out[5])
{
	unsigned int i;

	out[0] = 0;
	if (r->pos < end && r->p[r->pos] == '\\') {
		out[0] = 1;
		r->pos++;
	}
	if (end - r->pos < 4)
		return aml_fail(r, "NameSeg past its package");
	for (i = 0; i < 4; i++) {
		uint8_t c = r->p[r->pos + i];

		if (!(c == '_' || (c >= 'A' && c <= 'Z') || (i && c >= '0' && c <= '9')))
			return aml_fail(r, "NameSeg byte %u is 0x%x", i, c);
		out[1 + i] = c;
	}
	r->pos += 4;
	return 0;
}

/*
 * An integer term (Zero, One, Byte/Word/DWord/QWordConst) into (*out); its opcode and
 * value logged if (logged).
 */
static inline NOCOV int aml_integer(struct aml_rd *r, size_t end, uint64_t *out, bool logged)
{
	static const unsigned int width[] = {[0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8};
	uint8_t op;
	uint64_t v = 0;
	unsigned int n, i;

	if (r->pos >= end)
		return aml_fail(r, "integer past its package");
	op = r->p[r->pos++];
	if (op == 0x00 || op == 0x01) {
		v = op;
	} else {
		n = op < sizeof(width) / sizeof(width[0]) ? width[op] : 0;
		if (!n)
			return aml_fail(r, "opcode 0x%x where an integer goes", op);
		if (end - r->pos < n)
			return aml_fail(r, "integer past its package");
		for (i = 0; i < n; i++)
			v |= (uint64_t)r->p[r->pos++] << (8 * i);
	}
	if (logged) {
		alog_u8(r->log, op);
		alog_le(r->log, v, 8);
	}
	if (out)
		*out = v;
	return 0;
}

/* Buffer { BufferSize, resource descriptors ..., end tag } up to (end). */
static inline NOCOV int aml_resources(struct aml_rd *r, size_t end)
{
	size_t pkg_end;
	bool ended = false;
	uint64_t size;

	if (aml_pkglen(r, end, &pkg_end))
		return -1;
	/* The size is checked, not logged: the template's bytes say it all. */
	if (aml_integer(r, pkg_end, &size, false))
		return -1;
	if (size != pkg_end - r->pos)
		return aml_fail(r, "buffer size %llu, %zu bytes follow", (unsigned long long)size,
				pkg_end - r->pos);
	while (r->pos < pkg_end) {
		const uint8_t *d = r->p + r->pos;
		size_t left = pkg_end - r->pos, n;

		if (d[0] & 0x80) { /* a large descriptor: tag, 16-bit length, body */
			if (left < 3 || (n = 3 + (d[1] | d[2] << 8)) > left)
				return aml_fail(r, "large descriptor past the buffer");
			if (d[0] == 0x86 && n == 12) {
				alog_u8(r->log, 'm');
				alog_u8(r->log, d[3]);
				alog_put(r->log, d + 4, 8);
			} else if (d[0] == 0x89 && n == 9 && d[4] == 1) {
				alog_u8(r->log, 'x');
				alog_put(r->log, d + 3, 6);
			} else {
				return aml_fail(r, "large descriptor 0x%x of %zu bytes", d[0], n);
			}
		} else { /* small: type in bits 6-3, length in 2-0 */
			n = 1 + (d[0] & 7);
			if (n > left)
				return aml_fail(r, "small descriptor past the buffer");
			if (d[0] == 0x47) {
				alog_u8(r->log, 'o');
				alog_put(r->log, d + 1, 7);
			} else if (d[0] == 0x22) {
				alog_u8(r->log, 'q');
				alog_put(r->log, d + 1, 2);
			} else if (d[0] == 0x79) {
				if (r->pos + n != pkg_end)
					return aml_fail(r, "bytes after the end tag");
				alog_u8(r->log, 'e');
				alog_u8(r->log, d[1]);
				ended = true;
			} else {
				return aml_fail(r, "small descriptor 0x%x", d[0]);
			}
		}
		r->pos += n;
	}
	if (!ended)
		return aml_fail(r, "resource template without an end tag");
	return 0;
}

static inline NOCOV int aml_terms(struct aml_rd *r, size_t end);

/* Name(NameString, DataRefObject). */
static inline NOCOV int aml_named(struct aml_rd *r, size_t end)
{
	size_t pkg_end, i;
	uint8_t op, name[5];
	uint64_t count;

	if (aml_name(r, end, name))
		return -1;
	if (r->pos >= end)
		return aml_fail(r, "Name without a value");
	op = r->p[r->pos];
	switch (op) {
	case 0x0d: { /* String: ASCII up to a NUL */
		const uint8_t *s = r->p + r->pos + 1;
		size_t n = 0;

		while (r->pos + 1 + n < end && s[n]) {
			if (s[n] > 0x7f)
				return aml_fail(r, "string byte 0x%x", s[n]);
			n++;
		}
		if (r->pos + 1 + n >= end)
			return aml_fail(r, "string past its package");
		alog_u8(r->log, 'T');
		alog_put(r->log, name, 5);
		alog_le(r->log, n, 4);
		alog_le(r->log, alog_hash(s, n), 8);
		r->pos += 1 + n + 1;
		return 0;
	}
	case 0x12: /* Package(n) { integers } */
		r->pos++;
		if (aml_pkglen(r, end, &pkg_end))
			return -1;
		if (r->pos >= pkg_end)
			return aml_fail(r, "package without its element count");
		count = r->p[r->pos++];
		alog_u8(r->log, 'P');
		alog_put(r->log, name, 5);
		alog_u8(r->log, (uint8_t)count);
		for (i = 0; r->pos < pkg_end; i++)
			if (aml_integer(r, pkg_end, NULL, true))
				return -1;
		if (i != count)
			return aml_fail(r, "package of %llu elements holds %zu",
					(unsigned long long)count, i);
		return 0;
	case 0x11: /* Buffer: a resource template */
		r->pos++;
		alog_u8(r->log, 'B');
		alog_put(r->log, name, 5);
		return aml_resources(r, end);
	default:
		alog_u8(r->log, 'I');
		alog_put(r->log, name, 5);
		return aml_integer(r, end, NULL, true);
	}
}

/* Terms up to (end): Scope, Device, Name. */
static inline NOCOV int aml_terms(struct aml_rd *r, size_t end)
{
	while (r->pos < end) {
		uint8_t op = r->p[r->pos++], name[5];
		size_t pkg_end;

		if (op == 0x08) {
			if (aml_named(r, end))
				return -1;
			continue;
		}
		if (op == 0x5b && r->pos < end && r->p[r->pos] == 0x82) {
			r->pos++;
			op = 'D';
		} else if (op == 0x10) {
			op = 'S';
		} else {
			r->pos--;
			return aml_fail(r, "opcode 0x%x", op);
		}
		if (r->nest == AML_MAX_NEST)
			return aml_fail(r, "nested deeper than %d", AML_MAX_NEST);
		if (aml_pkglen(r, end, &pkg_end) || aml_name(r, pkg_end, name))
			return -1;
		alog_u8(r->log, op);
		alog_put(r->log, name, 5);
		r->nest++;
		if (aml_terms(r, pkg_end))
			return -1;
		r->nest--;
		alog_u8(r->log, 'E');
	}
	return 0;
}

/* Walk the AML (p, n) into (log). 0, or -1 with the reason in (why). */
static inline NOCOV int aml_walk(const uint8_t *p, size_t n, struct alog *log, char *why,
				 size_t why_len)
{
	struct aml_rd r = {.p = p, .log = log};
	int ret;

	log->len = 0;
	log->over = false;
	ret = aml_terms(&r, n);
	if (ret)
		snprintf(why, why_len, "%s", r.why);
	return ret;
}

/* ---- The same records, written by a target from what it asked for ---- */

/* A name as logged: 1 if it begins with '\\', then the four characters after that. */
static inline NOCOV void alog_name(struct alog *l, const char *name)
{
	alog_u8(l, name[0] == '\\');
	alog_put(l, name + (name[0] == '\\'), 4);
}

/* The opcode of the shortest integer term holding (v). */
static inline NOCOV uint8_t aml_int_op(uint64_t v)
{
	return v == 0		 ? 0x00
	       : v == 1		 ? 0x01
	       : v <= 0xff	 ? 0x0a
	       : v <= 0xffff	 ? 0x0b
	       : v <= 0xffffffff ? 0x0c
				 : 0x0e;
}

static inline NOCOV void alog_int(struct alog *l, uint8_t op, uint64_t v)
{
	alog_u8(l, op);
	alog_le(l, v, 8);
}

static inline NOCOV void alog_named_int(struct alog *l, const char *name, uint8_t op, uint64_t v)
{
	alog_u8(l, 'I');
	alog_name(l, name);
	alog_int(l, op, v);
}

static inline NOCOV void alog_string(struct alog *l, const char *name, const char *s, size_t n)
{
	alog_u8(l, 'T');
	alog_name(l, name);
	alog_le(l, n, 4);
	alog_le(l, alog_hash((const uint8_t *)s, n), 8);
}

/* 'S', 'D' or 'B' (a resource template) and its name. */
static inline NOCOV void alog_open(struct alog *l, uint8_t kind, const char *name)
{
	alog_u8(l, kind);
	alog_name(l, name);
}

static inline NOCOV void alog_io(struct alog *l, uint16_t port, uint8_t len)
{
	alog_u8(l, 'o');
	alog_u8(l, 1); /* decodes 16 bits */
	alog_le(l, port, 2);
	alog_le(l, port, 2);
	alog_u8(l, 1);
	alog_u8(l, len);
}

static inline NOCOV void alog_irq(struct alog *l, unsigned int irq)
{
	alog_u8(l, 'q');
	alog_le(l, 1u << irq, 2);
}

static inline NOCOV void alog_mem32(struct alog *l, bool rw, uint32_t base, uint32_t len)
{
	alog_u8(l, 'm');
	alog_u8(l, rw);
	alog_le(l, base, 4);
	alog_le(l, len, 4);
}

static inline NOCOV void alog_interrupt(struct alog *l, bool edge, bool low, uint32_t gsi)
{
	alog_u8(l, 'x');
	alog_u8(l, 1 | (edge ? 2 : 0) | (low ? 4 : 0)); /* a consumer */
	alog_u8(l, 1);
	alog_le(l, gsi, 4);
}

/* The end tag, its checksum 0 ("the template is right", as ember writes it). */
static inline NOCOV void alog_end_tag(struct alog *l)
{
	alog_u8(l, 'e');
	alog_u8(l, 0);
}

/* "PNP0501" compressed as ASL's EISAID() does, as the DWord's value. */
static inline NOCOV uint32_t aml_eisa_value(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
		     (uint32_t)(id[2] - '@') << 16 | (uint32_t)strtoul(id + 3, NULL, 16);

	return __builtin_bswap32(v);
}

/* The ACPI header every ember table has: (sig), (len), checksum 0, OEM and creator ids. */
static inline NOCOV void acpi_want_header(const uint8_t *t, const char *sig, size_t len)
{
	if (memcmp(t, sig, 4) || le32_of(t + 4) != len || sum8(t, len) ||
	    memcmp(t + 10, "EMBER ", 6) || memcmp(t + 28, "EMBR", 4))
		BUG("%.4s table: signature, length %u (want %zu), checksum 0x%x or ids wrong", t,
		    le32_of(t + 4), len, sum8(t, len));
}

#endif
