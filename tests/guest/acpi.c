// SPDX-License-Identifier: Apache-2.0
/* acpi.c - see acpi.h. */
#include "acpi.h"

#define RSDP_SCAN_START 0xe0000UL
#define RSDP_SCAN_END	0x100000UL
#define RSDP_V1_LEN	20
#define RSDP_V2_LEN	36
#define RSDP_XSDT	24
#define TABLE_MAX	(1u << 20) /* no table of ours comes near 1 MiB */

/* AML byte patterns (ACPI 6.x 19/20: StringPrefix, EISAID as DWordPrefix + u32). */
static const u8 lnro0005[] = { 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0 };
static const u8 pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
static const u8 pnp0303[] = { 0x0c, 0x41, 0xd0, 0x03, 0x03 };
static const u8 s5_name[] = { '_', 'S', '5', '_', 0x12 }; /* the name, then PackageOp */
static const u8 mem32_fixed[] = { 0x86, 0x09, 0x00 };	  /* tag, length 9 */
static const u8 ext_irq[] = { 0x89 };			  /* tag; length follows */

u8 acpi_u8(u64 addr)
{
	return *(const volatile u8 *)phys(addr);
}

u16 acpi_u16(u64 addr)
{
	return acpi_u8(addr) | (u16)acpi_u8(addr + 1) << 8;
}

u32 acpi_u32(u64 addr)
{
	return acpi_u16(addr) | (u32)acpi_u16(addr + 2) << 16;
}

u64 acpi_u64(u64 addr)
{
	return acpi_u32(addr) | (u64)acpi_u32(addr + 4) << 32;
}

/* [addr, addr + len) is non-empty, does not wrap and lies in the mapped 4 GiB. */
static int span_ok(u64 addr, u64 len)
{
	return addr && len && addr + len > addr && addr + len <= MAPPED_LIMIT;
}

static u8 sum8(u64 addr, u32 len)
{
	u8 s = 0;

	while (len--)
		s += acpi_u8(addr++);
	return s;
}

static int bytes_eq(u64 addr, const u8 *want, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (acpi_u8(addr + i) != want[i])
			return 0;
	return 1;
}

const char *acpi_check_rsdp(u64 addr)
{
	u32 len;

	if (!span_ok(addr, RSDP_V2_LEN))
		return "RSDP address outside the first 4 GiB";
	if (!bytes_eq(addr, (const u8 *)"RSD PTR ", 8))
		return "no 'RSD PTR ' signature";
	if (sum8(addr, RSDP_V1_LEN))
		return "bad RSDP checksum";
	if (acpi_u8(addr + 15) < 2)
		return "RSDP revision below 2 (no XSDT)";
	len = acpi_u32(addr + 20);
	if (len < RSDP_V2_LEN || len > 4096 || !span_ok(addr, len))
		return "bad RSDP length";
	if (sum8(addr, len))
		return "bad RSDP extended checksum";
	return NULL;
}

u64 acpi_scan_rsdp(void)
{
	u64 a;

	for (a = RSDP_SCAN_START; a < RSDP_SCAN_END; a += 16)
		if (!acpi_check_rsdp(a))
			return a;
	return 0;
}

u64 acpi_rsdp(const struct boot_info *b)
{
	if (b->rsdp && !acpi_check_rsdp(b->rsdp))
		return b->rsdp;
	return acpi_scan_rsdp();
}

const char *acpi_check_table(u64 addr, const char *sig, struct acpi_table *t)
{
	if (!span_ok(addr, ACPI_HDR_LEN))
		return "table address outside the first 4 GiB";
	if (!bytes_eq(addr, (const u8 *)sig, 4))
		return "wrong signature";
	t->addr = addr;
	t->len = acpi_u32(addr + 4);
	t->rev = acpi_u8(addr + 8);
	if (t->len < ACPI_HDR_LEN)
		return "length shorter than the header";
	if (t->len > TABLE_MAX || !span_ok(addr, t->len))
		return "length out of bounds";
	if (sum8(addr, t->len))
		return "bad checksum";
	return NULL;
}

u64 acpi_xsdt_entry(const struct acpi_table *xsdt, u32 nth)
{
	if (nth >= (xsdt->len - ACPI_HDR_LEN) / 8)
		return 0;
	return acpi_u64(xsdt->addr + ACPI_HDR_LEN + 8 * (u64)nth);
}

const char *acpi_find_table(u64 rsdp, const char *sig, struct acpi_table *t)
{
	struct acpi_table xsdt;
	const char *why = acpi_check_rsdp(rsdp);
	u64 a;
	u32 i;

	if (why)
		return why;
	why = acpi_check_table(acpi_u64(rsdp + RSDP_XSDT), "XSDT", &xsdt);
	if (why)
		return why;
	for (i = 0; (a = acpi_xsdt_entry(&xsdt, i)); i++)
		if (span_ok(a, 4) && bytes_eq(a, (const u8 *)sig, 4))
			return acpi_check_table(a, sig, t);
	return "not listed in the XSDT";
}

const char *acpi_find_dsdt(const struct acpi_table *fadt, struct acpi_table *dsdt)
{
	u64 x = 0, legacy = 0;

	if (fadt->len >= FADT_DSDT + 4)
		legacy = acpi_u32(fadt->addr + FADT_DSDT);
	if (fadt->len >= FADT_X_DSDT + 8)
		x = acpi_u64(fadt->addr + FADT_X_DSDT);
	if (x && legacy && x != legacy)
		return "FADT's DSDT and X_DSDT differ";
	if (!x && !legacy)
		return "FADT names no DSDT";
	return acpi_check_table(x ? x : legacy, "DSDT", dsdt);
}

void acpi_gas(const struct acpi_table *fadt, u32 off, struct acpi_gas *g)
{
	u64 a = fadt->addr + off;

	g->space = acpi_u8(a);
	g->bit_width = acpi_u8(a + 1);
	g->bit_offset = acpi_u8(a + 2);
	g->access_size = acpi_u8(a + 3);
	g->addr = acpi_u64(a + 4);
}

/* The first (pat) in [from, end), or 0. */
static u64 find_bytes(u64 from, u64 end, const u8 *pat, u32 n)
{
	for (; from + n <= end; from++)
		if (bytes_eq(from, pat, n))
			return from;
	return 0;
}

static u32 count_bytes(const struct acpi_table *t, const u8 *pat, u32 n)
{
	u64 p = t->addr + ACPI_HDR_LEN, end = t->addr + t->len;
	u32 count = 0;

	while ((p = find_bytes(p, end, pat, n))) {
		count++;
		p += n;
	}
	return count;
}

/*
 * \_S5_'s first element: after PackageOp, a PkgLength (its lead byte's top two bits
 * count the bytes that follow), NumElements, then ZeroOp, OneOp, or BytePrefix + byte.
 */
static int s5_value(const struct acpi_table *dsdt)
{
	u64 end = dsdt->addr + dsdt->len;
	u64 p = find_bytes(dsdt->addr + ACPI_HDR_LEN, end, s5_name, sizeof(s5_name));

	if (!p || (acpi_u8(p - 1) != 0x08 && !(acpi_u8(p - 1) == '\\' && acpi_u8(p - 2) == 0x08)))
		return -1;
	p += sizeof(s5_name);
	if (p >= end)
		return -1;
	p += 1 + (acpi_u8(p) >> 6); /* PkgLength */
	p += 1;			    /* NumElements */
	if (p >= end)
		return -1;
	switch (acpi_u8(p)) {
	case 0x00:
		return 0;
	case 0x01:
		return 1;
	case 0x0a:
		return p + 1 < end ? acpi_u8(p + 1) : -1;
	default:
		return -1;
	}
}

void acpi_dsdt_scan(const struct acpi_table *dsdt, struct acpi_dsdt_facts *f)
{
	f->virtio = count_bytes(dsdt, lnro0005, sizeof(lnro0005));
	f->serial = count_bytes(dsdt, pnp0501, sizeof(pnp0501));
	f->i8042 = count_bytes(dsdt, pnp0303, sizeof(pnp0303));
	f->s5 = s5_value(dsdt);
}

int acpi_dsdt_mmio_dev(const struct acpi_table *dsdt, u32 nth, struct acpi_mmio_dev *d)
{
	u64 end = dsdt->addr + dsdt->len, p = dsdt->addr + ACPI_HDR_LEN, next, mem, irq;

	for (;;) {
		p = find_bytes(p, end, lnro0005, sizeof(lnro0005));
		if (!p)
			return -1;
		p += sizeof(lnro0005);
		if (!nth--)
			break;
	}
	/* This device's descriptors come before the next device's _HID. */
	next = find_bytes(p, end, lnro0005, sizeof(lnro0005));
	if (next)
		end = next;
	mem = find_bytes(p, end, mem32_fixed, sizeof(mem32_fixed));
	if (!mem || mem + 12 > end)
		return -1;
	/* Extended Interrupt: tag, u16 length (>= 6), flags, count (>= 1), u32 numbers. */
	irq = find_bytes(mem + 12, end, ext_irq, sizeof(ext_irq));
	if (!irq || irq + 9 > end || acpi_u16(irq + 1) < 6 || !acpi_u8(irq + 4))
		return -1;
	d->base = acpi_u32(mem + 4);
	d->size = acpi_u32(mem + 8);
	d->irq_flags = acpi_u8(irq + 3);
	d->irq = acpi_u32(irq + 5);
	return 0;
}

int acpi_virtio_dev(const struct boot_info *b, u32 nth, struct acpi_mmio_dev *d)
{
	struct acpi_table fadt, dsdt;
	u64 rsdp = acpi_rsdp(b);

	if (!rsdp || acpi_find_table(rsdp, "FACP", &fadt) || acpi_find_dsdt(&fadt, &dsdt))
		return -1;
	return acpi_dsdt_mmio_dev(&dsdt, nth, d);
}
