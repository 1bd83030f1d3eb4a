// SPDX-License-Identifier: Apache-2.0
/*
 * acpi_walk.c - acpi_walk.elf: find the RSDP both ways (legacy scan, boot protocol),
 * walk the XSDT, FADT, MADT and DSDT, check every signature and checksum, and print
 * what they describe:
 *
 *   ACPI rsdp-scan=<hex|none> rsdp-boot=<hex|none> agree=<0|1>
 *   ACPI XSDT ok tables=FACP,APIC
 *   ACPI FADT ok rev=<n> hw-reduced=<0|1> sleep-ctl=<hex> sleep-sts=<hex> boot-arch=<hex>
 *   ACPI MADT ok cpus=<n> ioapic=<hex> lapic=<hex> overrides=<n> nmi=<n>
 *   ACPI DSDT ok virtio=<n> serial=<n> i8042=<n> s5=<n|none>
 *   ACPI VIRTIO <i> base=<hex> size=<hex> irq=<n> id=<virtio device id>
 *   CMDLINE VIRTIO <i> base=<hex> size=<hex> irq=<n> id=<virtio device id>
 *   VIRTIO-CMDLINE=<n>                     virtio_mmio.device= entries on the command line
 *   SUCCESS | FAIL: <table> <why>
 *
 * Without an RSDP (ember --no-acpi) it prints "ACPI none" after the first line, then
 * the command line's devices and SUCCESS. The two VIRTIO line kinds share one format
 * so that run.sh can compare a run with ACPI against one without.
 */
#include "acpi.h"

#define MADT_LAPIC_ADDR 36
#define MADT_FIRST	44
#define VIRTIO_MAGIC	0x74726976

static char why_buf[96];

/* FAIL: "<what> <why>". */
static void __attribute__((noreturn)) bad(const char *what, const char *why)
{
	size_t n = 0;

	for (; *what && n < sizeof(why_buf) / 2; what++)
		why_buf[n++] = *what;
	why_buf[n++] = ' ';
	for (; *why && n < sizeof(why_buf) - 1; why++)
		why_buf[n++] = *why;
	why_buf[n] = 0;
	finish(why_buf);
}

static void put_addr(u64 a)
{
	if (a)
		put_hex(a);
	else
		put_str("none");
}

static void put_sig(u64 addr)
{
	int i;

	for (i = 0; i < 4; i++)
		put_char((char)acpi_u8(addr + i));
}

static u64 find_rsdp(const struct boot_info *b)
{
	u64 scan = acpi_scan_rsdp(), boot = b->rsdp;

	put_str("ACPI rsdp-scan=");
	put_addr(scan);
	put_str(" rsdp-boot=");
	put_addr(boot);
	put_str(" agree=");
	put_dec(scan == boot);
	put_nl();
	if (boot && acpi_check_rsdp(boot))
		bad("RSDP (boot protocol)", acpi_check_rsdp(boot));
	if (scan != boot)
		finish("the scan and the boot protocol disagree on the RSDP");
	return scan;
}

/* Check every table the XSDT lists; print their signatures. */
static void walk_xsdt(u64 rsdp)
{
	struct acpi_table xsdt, t;
	const char *why;
	u64 a;
	u32 i;

	why = acpi_check_table(acpi_u64(rsdp + 24), "XSDT", &xsdt);
	if (why)
		bad("XSDT", why);
	if (acpi_u32(rsdp + 16))
		put_str("ACPI-NOTE RsdtAddress is not 0\n");
	put_str("ACPI XSDT ok tables=");
	for (i = 0; i < (xsdt.len - ACPI_HDR_LEN) / 8; i++) {
		a = acpi_xsdt_entry(&xsdt, i);
		if (!a || a + ACPI_HDR_LEN > MAPPED_LIMIT) {
			put_nl();
			bad("XSDT", "entry outside the first 4 GiB");
		}
		if (i)
			put_char(',');
		put_sig(a);
	}
	put_nl();
	for (i = 0; (a = acpi_xsdt_entry(&xsdt, i)); i++) {
		char sig[5] = { 0 };
		int k;

		for (k = 0; k < 4; k++)
			sig[k] = (char)acpi_u8(a + k);
		why = acpi_check_table(a, sig, &t);
		if (why)
			bad(sig, why);
	}
}

static void walk_fadt(const struct acpi_table *fadt)
{
	struct acpi_gas ctl, sts;
	u32 flags;

	if (fadt->len < FADT_SLEEP_END)
		bad("FACP", "too short for the sleep registers");
	flags = acpi_u32(fadt->addr + FADT_FLAGS);
	acpi_gas(fadt, FADT_SLEEP_CONTROL, &ctl);
	acpi_gas(fadt, FADT_SLEEP_STATUS, &sts);
	put_str("ACPI FADT ok rev=");
	put_dec(fadt->rev);
	put_str(" len=");
	put_dec(fadt->len);
	put_str(" hw-reduced=");
	put_dec(!!(flags & FADT_HW_REDUCED));
	put_str(" sleep-ctl=");
	put_hex(ctl.addr);
	put_str(" sleep-sts=");
	put_hex(sts.addr);
	put_str(" boot-arch=");
	put_hex(acpi_u16(fadt->addr + FADT_IAPC_BOOT_ARCH));
	put_nl();
	if (ctl.space != 1 || ctl.bit_width != 8 || ctl.bit_offset || ctl.access_size != 1)
		bad("FACP", "SLEEP_CONTROL_REG is not an 8-bit system I/O register");
	if (sts.space != 1 || sts.bit_width != 8 || sts.bit_offset || sts.access_size != 1)
		bad("FACP", "SLEEP_STATUS_REG is not an 8-bit system I/O register");
}

static void walk_madt(const struct acpi_table *madt)
{
	u64 p = madt->addr + MADT_FIRST, end = madt->addr + madt->len, ioapic = 0;
	u32 cpus = 0, ioapics = 0, overrides = 0, nmis = 0;

	if (madt->len < MADT_FIRST)
		bad("APIC", "too short");
	while (p < end) {
		u8 type, len;

		if (p + 2 > end)
			bad("APIC", "entry header runs past the table");
		type = acpi_u8(p);
		len = acpi_u8(p + 1);
		if (len < 2 || p + len > end)
			bad("APIC", "entry length runs past the table");
		if (type == 0 && len == 8 && (acpi_u32(p + 4) & 1))
			cpus++;
		else if (type == 0 && len != 8)
			bad("APIC", "local APIC entry is not 8 bytes");
		if (type == 1) {
			if (len != 12)
				bad("APIC", "IOAPIC entry is not 12 bytes");
			ioapics++;
			ioapic = acpi_u32(p + 4);
			if (acpi_u32(p + 8))
				bad("APIC", "IOAPIC GSI base is not 0");
		}
		if (type == 2 && len != 10)
			bad("APIC", "interrupt source override is not 10 bytes");
		overrides += type == 2;
		if (type == 4 && len != 6)
			bad("APIC", "local APIC NMI entry is not 6 bytes");
		nmis += type == 4;
		p += len;
	}
	put_str("ACPI MADT ok cpus=");
	put_dec(cpus);
	put_str(" ioapic=");
	put_hex(ioapic);
	put_str(" lapic=");
	put_hex(acpi_u32(madt->addr + MADT_LAPIC_ADDR));
	put_str(" overrides=");
	put_dec(overrides);
	put_str(" nmi=");
	put_dec(nmis);
	put_nl();
	if (ioapics != 1)
		bad("APIC", "want exactly one IOAPIC");
}

static void walk_dsdt(const struct acpi_table *dsdt)
{
	struct acpi_dsdt_facts f;
	struct acpi_mmio_dev d;
	u32 i;

	acpi_dsdt_scan(dsdt, &f);
	put_str("ACPI DSDT ok virtio=");
	put_dec(f.virtio);
	put_str(" serial=");
	put_dec(f.serial);
	put_str(" i8042=");
	put_dec(f.i8042);
	put_str(" s5=");
	if (f.s5 < 0)
		put_str("none");
	else
		put_dec((u64)f.s5);
	put_nl();
	for (i = 0; i < f.virtio; i++) {
		if (acpi_dsdt_mmio_dev(dsdt, i, &d))
			bad("DSDT", "an LNRO0005 device without Memory32Fixed and Interrupt");
		put_str("ACPI VIRTIO ");
		put_dec(i);
		put_str(" base=");
		put_hex(d.base);
		put_str(" size=");
		put_hex(d.size);
		put_str(" irq=");
		put_dec(d.irq);
		if (d.base < 0xc0000000UL || d.base + d.size > MAPPED_LIMIT) {
			put_nl();
			bad("DSDT", "virtio-mmio window outside [3 GiB, 4 GiB)");
		}
		if (mmio_read32(d.base) != VIRTIO_MAGIC) {
			put_nl();
			bad("DSDT", "no virtio-mmio magic at an LNRO0005 device's base");
		}
		put_str(" id=");
		put_dec(mmio_read32(d.base + 8));
		put_nl();
		/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) */
		if (d.irq_flags != 0x03)
			bad("DSDT", "virtio interrupt not consumer, edge, active-high, exclusive");
	}
}

static u64 parse_num(const char **p, u32 base)
{
	u64 v = 0;

	for (;; (*p)++) {
		char c = **p;
		u32 dig;

		if (c >= '0' && c <= '9')
			dig = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			dig = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			dig = c - 'A' + 10;
		else
			return v;
		v = v * base + dig;
	}
}

/* "virtio_mmio.device=<size>[KMG]@0x<base>:<irq>" entries, printed like the DSDT's. */
static int print_cmdline_devices(const char *cmdline)
{
	static const char key[] = "virtio_mmio.device=";
	const char *p;
	u64 size, base, irq;
	int n = 0;

	for (p = cmdline; *p; p++) {
		if (memcmp(p, key, sizeof(key) - 1))
			continue;
		p += sizeof(key) - 1;
		size = parse_num(&p, 10);
		if (*p == 'K')
			size <<= 10;
		else if (*p == 'M')
			size <<= 20;
		if (*p == 'K' || *p == 'M')
			p++;
		if (memcmp(p, "@0x", 3))
			finish("cannot parse a virtio_mmio.device= entry");
		p += 3;
		base = parse_num(&p, 16);
		irq = 0;
		if (*p == ':') {
			p++;
			irq = parse_num(&p, 10);
		}
		put_str("CMDLINE VIRTIO ");
		put_dec((u64)n++);
		put_str(" base=");
		put_hex(base);
		put_str(" size=");
		put_hex(size);
		put_str(" irq=");
		put_dec(irq);
		if (base < 0xc0000000UL || base >= MAPPED_LIMIT)
			finish("a virtio_mmio.device= outside [3 GiB, 4 GiB)");
		put_str(" id=");
		put_dec(mmio_read32(base + 8));
		put_nl();
		if (!*p)
			break;
	}
	put_str("VIRTIO-CMDLINE=");
	put_dec((u64)n);
	put_nl();
	return n;
}

void guest_main(const struct boot_info *b)
{
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	struct acpi_table fadt, madt, dsdt;
	const char *why;
	u64 rsdp = find_rsdp(b);

	if (!rsdp) {
		put_str("ACPI none\n");
		print_cmdline_devices(cmdline);
		finish(NULL);
	}
	walk_xsdt(rsdp);
	why = acpi_find_table(rsdp, "FACP", &fadt);
	if (why)
		bad("FACP", why);
	walk_fadt(&fadt);
	why = acpi_find_table(rsdp, "APIC", &madt);
	if (why)
		bad("APIC", why);
	walk_madt(&madt);
	why = acpi_find_dsdt(&fadt, &dsdt);
	if (why)
		bad("DSDT", why);
	walk_dsdt(&dsdt);
	print_cmdline_devices(cmdline);
	finish(NULL);
}
