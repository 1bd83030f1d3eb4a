#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "util.h"

/* AML opcodes and prefixes (ACPI 6.5, 20.2). */
#define AML_ZERO	 0x00
#define AML_ONE		 0x01
#define AML_NAME	 0x08
#define AML_BYTE	 0x0a
#define AML_WORD	 0x0b
#define AML_DWORD	 0x0c
#define AML_STRING	 0x0d
#define AML_QWORD	 0x0e
#define AML_SCOPE	 0x10
#define AML_BUFFER	 0x11
#define AML_PACKAGE	 0x12
#define AML_EXT		 0x5b
#define AML_DEVICE	 0x82 /* after AML_EXT */
#define AML_ROOT	 '\\'

/* Resource descriptors (6.4): small ones carry their length in the tag. */
#define RES_IRQ_NOFLAGS	 0x22
#define RES_IO		 0x47
#define RES_END		 0x79
#define RES_MEM32_FIXED	 0x86
#define RES_EXT_IRQ	 0x89
#define RES_IO_DECODE16	 0x01
#define RES_IRQ_CONSUMER 0x01
#define RES_IRQ_EDGE	 0x02
#define RES_IRQ_LOW	 0x04

#define PKGLEN_MAX	 (1u << 28)

void acpiw_init(struct acpi_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void acpiw_free(struct acpi_writer *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}

void acpiw_fail(struct acpi_writer *w, int err)
{
	if (!w->error)
		w->error = err;
}

#define fail acpiw_fail

/* Room for (n) more bytes, zeroed; NULL (and the error kept) when there is none. */
static uint8_t *grow(struct acpi_writer *w, size_t n)
{
	size_t need;
	uint8_t *p;

	if (w->error)
		return NULL;
	if (__builtin_add_overflow(w->len, n, &need) || need > w->max) {
		acpiw_fail(w, -E2BIG);
		return NULL;
	}
	if (need > w->cap) {
		size_t cap = MAX(need, MAX(w->cap * 2, (size_t)4096));

		cap = MIN(cap, w->max);
		p = realloc(w->data, cap);
		if (!p) {
			acpiw_fail(w, -ENOMEM);
			return NULL;
		}
		w->data = p;
		w->cap = cap;
	}
	p = w->data + w->len;
	memset(p, 0, n);
	w->len = need;
	return p;
}

void acpiw_bytes(struct acpi_writer *w, const void *src, size_t n)
{
	uint8_t *p = grow(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void acpiw_zeros(struct acpi_writer *w, size_t n)
{
	grow(w, n);
}

static void put_n(struct acpi_writer *w, uint64_t v, unsigned int bytes)
{
	uint8_t *p = grow(w, bytes);

	if (p)
		put_le(p, v, bytes);
}

void acpiw_u8(struct acpi_writer *w, uint8_t v)
{
	put_n(w, v, 1);
}

void acpiw_u16(struct acpi_writer *w, uint16_t v)
{
	put_n(w, v, 2);
}

void acpiw_u32(struct acpi_writer *w, uint32_t v)
{
	put_n(w, v, 4);
}

void acpiw_u64(struct acpi_writer *w, uint64_t v)
{
	put_n(w, v, 8);
}

void acpiw_align(struct acpi_writer *w, size_t align)
{
	if (w->len % align)
		grow(w, align - w->len % align);
}

uint8_t *acpiw_at(struct acpi_writer *w, size_t off, size_t n)
{
	if (w->error || off > w->len || n > w->len - off)
		return NULL;
	return w->data + off;
}

void acpi_gas_put(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access_size,
		  uint64_t addr)
{
	p[0] = space;
	p[1] = bit_width;
	p[2] = 0; /* bit offset */
	p[3] = access_size;
	put_le64(p + 4, addr);
}

/* (s) padded with spaces to (n) bytes; longer is cut. */
static void put_padded(struct acpi_writer *w, const char *s, size_t n)
{
	uint8_t *p = grow(w, n);
	size_t len = strnlen(s, n);

	if (!p)
		return;
	memset(p, ' ', n);
	memcpy(p, s, len);
}

size_t acpiw_table_begin(struct acpi_writer *w, const char *sig, uint8_t revision,
			 const char *table_id)
{
	size_t start = w->len;

	if (strlen(sig) != 4)
		acpiw_fail(w, -EINVAL);
	acpiw_bytes(w, sig, 4);
	acpiw_u32(w, 0); /* length, at the end */
	acpiw_u8(w, revision);
	acpiw_u8(w, 0); /* checksum, at the end */
	acpiw_bytes(w, ACPI_OEM_ID, 6);
	put_padded(w, table_id, 8);
	acpiw_u32(w, 1); /* OEM revision */
	acpiw_bytes(w, ACPI_CREATOR_ID, 4);
	acpiw_u32(w, 1); /* creator revision */
	return start;
}

void acpiw_table_end(struct acpi_writer *w, size_t table)
{
	uint8_t *t = acpiw_at(w, table, ACPI_HEADER_LEN);
	size_t len;

	if (!t)
		return;
	len = w->len - table;
	if (len > UINT32_MAX) {
		acpiw_fail(w, -E2BIG);
		return;
	}
	put_le32(t + 4, len);
	t[9] = 0;
	t[9] = checksum8(t, len);
}

void acpiw_rsdp(struct acpi_writer *w, size_t off, uint64_t xsdt_addr)
{
	uint8_t *r = acpiw_at(w, off, ACPI_RSDP_LEN);

	if (!r)
		return;
	memset(r, 0, ACPI_RSDP_LEN);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2;			    /* revision: ACPI 2.0 and later, with an XSDT */
	put_le32(r + 20, ACPI_RSDP_LEN);    /* the RSDT address (16) stays 0: XSDT only */
	put_le64(r + 24, xsdt_addr);
	r[8] = checksum8(r, 20);	    /* the ACPI 1.0 part */
	r[32] = checksum8(r, ACPI_RSDP_LEN);
}

/* --- AML --- */

static void aml_name_seg(struct acpi_writer *w, const char *name)
{
	size_t i;

	if (name[0] == AML_ROOT) {
		acpiw_u8(w, AML_ROOT);
		name++;
	}
	if (strlen(name) != 4) {
		acpiw_fail(w, -EINVAL);
		return;
	}
	for (i = 0; i < 4; i++) {
		char c = name[i];
		bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (i && c >= '0' && c <= '9');

		if (!ok) {
			acpiw_fail(w, -EINVAL);
			return;
		}
	}
	acpiw_bytes(w, name, 4);
}

/*
 * A PkgLength counts itself, and its size (1 to 4 bytes) depends on the length: four bytes
 * are kept when it opens and the body is moved back over the ones not needed when it closes.
 */
static void pkg_open(struct acpi_writer *w)
{
	if (w->depth == ACPI_MAX_DEPTH) {
		acpiw_fail(w, -E2BIG);
		return;
	}
	w->open[w->depth++] = w->len;
	grow(w, 4);
}

static void pkg_close(struct acpi_writer *w)
{
	size_t start, body, total;
	unsigned int n, i;
	uint8_t *p;

	if (w->error)
		return;
	if (!w->depth) {
		acpiw_fail(w, -EINVAL);
		return;
	}
	start = w->open[--w->depth];
	body = w->len - start - 4;
	n = body + 1 < 0x40 ? 1 : body + 2 < (1u << 12) ? 2 : body + 3 < (1u << 20) ? 3 : 4;
	total = body + n;
	if (total >= PKGLEN_MAX) {
		acpiw_fail(w, -E2BIG);
		return;
	}
	p = w->data + start;
	memmove(p + n, p + 4, body);
	w->len -= 4 - n;
	if (n == 1) {
		p[0] = total;
		return;
	}
	/* Lead byte: the count of bytes that follow, and the low nibble; then 8 bits each. */
	p[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
	for (i = 1; i < n; i++)
		p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

void aml_scope_begin(struct acpi_writer *w, const char *name)
{
	acpiw_u8(w, AML_SCOPE);
	pkg_open(w);
	aml_name_seg(w, name);
}

void aml_device_begin(struct acpi_writer *w, const char *name)
{
	acpiw_u8(w, AML_EXT);
	acpiw_u8(w, AML_DEVICE);
	pkg_open(w);
	aml_name_seg(w, name);
}

void aml_end(struct acpi_writer *w)
{
	pkg_close(w);
}

/* The shortest integer encoding of (v). */
static void aml_int(struct acpi_writer *w, uint64_t v)
{
	if (v == 0)
		acpiw_u8(w, AML_ZERO);
	else if (v == 1)
		acpiw_u8(w, AML_ONE);
	else if (v <= UINT8_MAX) {
		acpiw_u8(w, AML_BYTE);
		acpiw_u8(w, v);
	} else if (v <= UINT16_MAX) {
		acpiw_u8(w, AML_WORD);
		acpiw_u16(w, v);
	} else if (v <= UINT32_MAX) {
		acpiw_u8(w, AML_DWORD);
		acpiw_u32(w, v);
	} else {
		acpiw_u8(w, AML_QWORD);
		acpiw_u64(w, v);
	}
}

void aml_name_int(struct acpi_writer *w, const char *name, uint64_t v)
{
	acpiw_u8(w, AML_NAME);
	aml_name_seg(w, name);
	aml_int(w, v);
}

void aml_name_string(struct acpi_writer *w, const char *name, const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if ((unsigned char)*c > 0x7f)
			acpiw_fail(w, -EINVAL); /* AML strings are ASCII */
	acpiw_u8(w, AML_NAME);
	aml_name_seg(w, name);
	acpiw_u8(w, AML_STRING);
	acpiw_bytes(w, s, strlen(s) + 1);
}

/*
 * "PNP0501" as the 32-bit compressed EISA id: three letters of 5 bits each and four hex
 * digits, stored most significant byte first.
 */
void aml_name_eisaid(struct acpi_writer *w, const char *name, const char *id)
{
	uint8_t b[4];
	unsigned int i, vendor = 0, product = 0;

	if (strlen(id) != 7) {
		acpiw_fail(w, -EINVAL);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			acpiw_fail(w, -EINVAL);
			return;
		}
		vendor = vendor << 5 | (unsigned int)(id[i] - '@');
	}
	for (i = 3; i < 7; i++) {
		char c = id[i];
		unsigned int d = c >= '0' && c <= '9' ? (unsigned int)(c - '0')
				 : c >= 'A' && c <= 'F' ? (unsigned int)(c - 'A' + 10)
							: 16;

		if (d == 16) {
			acpiw_fail(w, -EINVAL);
			return;
		}
		product = product << 4 | d;
	}
	b[0] = vendor >> 8;
	b[1] = vendor & 0xff;
	b[2] = product >> 8;
	b[3] = product & 0xff;
	acpiw_u8(w, AML_NAME);
	aml_name_seg(w, name);
	acpiw_u8(w, AML_DWORD);
	acpiw_bytes(w, b, 4);
}

void aml_name_package(struct acpi_writer *w, const char *name, const uint64_t *v, unsigned int n)
{
	unsigned int i;

	if (n > UINT8_MAX) {
		acpiw_fail(w, -E2BIG);
		return;
	}
	acpiw_u8(w, AML_NAME);
	aml_name_seg(w, name);
	acpiw_u8(w, AML_PACKAGE);
	pkg_open(w);
	acpiw_u8(w, n);
	for (i = 0; i < n; i++)
		aml_int(w, v[i]);
	pkg_close(w);
}

/*
 * Buffer(size) { bytes }: the size is a DWord patched at the end, so it can be written
 * before the bytes are known.
 */
void aml_name_resources_begin(struct acpi_writer *w, const char *name)
{
	acpiw_u8(w, AML_NAME);
	aml_name_seg(w, name);
	acpiw_u8(w, AML_BUFFER);
	pkg_open(w);
	acpiw_u8(w, AML_DWORD);
	acpiw_u32(w, 0);
}

void aml_resources_end(struct acpi_writer *w)
{
	size_t size_at;
	uint8_t *p;

	acpiw_u8(w, RES_END);
	acpiw_u8(w, 0); /* checksum 0: "the template is correct", as the spec allows */
	if (!w->error && !w->depth)
		acpiw_fail(w, -EINVAL);
	if (w->error)
		return;
	size_at = w->open[w->depth - 1] + 4 + 1; /* past the PkgLength room and the DWord prefix */
	p = acpiw_at(w, size_at, 4);
	if (p)
		put_le32(p, w->len - (size_at + 4));
	pkg_close(w);
}

void aml_res_io(struct acpi_writer *w, uint16_t port, uint8_t len)
{
	acpiw_u8(w, RES_IO);
	acpiw_u8(w, RES_IO_DECODE16);
	acpiw_u16(w, port); /* minimum */
	acpiw_u16(w, port); /* maximum */
	acpiw_u8(w, 1);	    /* alignment */
	acpiw_u8(w, len);
}

void aml_res_irq_noflags(struct acpi_writer *w, unsigned int irq)
{
	if (irq >= 16) {
		acpiw_fail(w, -EINVAL);
		return;
	}
	acpiw_u8(w, RES_IRQ_NOFLAGS);
	acpiw_u16(w, (uint16_t)(1u << irq));
}

void aml_res_mem32_fixed(struct acpi_writer *w, bool writable, uint32_t base, uint32_t len)
{
	acpiw_u8(w, RES_MEM32_FIXED);
	acpiw_u16(w, 9); /* the bytes that follow the length */
	acpiw_u8(w, writable);
	acpiw_u32(w, base);
	acpiw_u32(w, len);
}

void aml_res_interrupt(struct acpi_writer *w, bool edge, bool active_low, uint32_t gsi)
{
	acpiw_u8(w, RES_EXT_IRQ);
	acpiw_u16(w, 6); /* flags, count and one interrupt */
	acpiw_u8(w, RES_IRQ_CONSUMER | (edge ? RES_IRQ_EDGE : 0) | (active_low ? RES_IRQ_LOW : 0));
	acpiw_u8(w, 1);
	acpiw_u32(w, gsi);
}
