/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acpi.h - just enough ACPI for the tiny guests: find the RSDP (legacy scan of
 * [0xe0000, 0x100000) or the address the boot protocol gave), check signatures and
 * checksums, find tables through the XSDT (the DSDT through the FADT), and pick the
 * virtio-mmio devices (LNRO0005) and a few names out of the DSDT's AML by pattern.
 *
 * Every table is read only inside its own length and below 4 GiB (what entry.S
 * maps); a bad table comes back as a reason string, never as a fault. The AML is
 * not parsed: the byte patterns below are the ones a VMM writes for these objects.
 */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "lib.h"

#define ACPI_HDR_LEN 36

/* FADT fields (ACPI 6.x, table 5.9), offsets from the table start. */
#define FADT_DSDT	    40
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS	    112
#define FADT_X_DSDT	    140
#define FADT_SLEEP_CONTROL  244
#define FADT_SLEEP_STATUS   256
#define FADT_SLEEP_END	    268 /* both sleep registers fit below this */
#define FADT_HW_REDUCED	    (1u << 20)
#define SLP_EN		    (1u << 5)

/* A Generic Address Structure (ACPI 6.x 5.2.3.2), unpacked. */
struct acpi_gas {
	u8 space; /* 0 memory, 1 system I/O */
	u8 bit_width;
	u8 bit_offset;
	u8 access_size;
	u64 addr;
};

struct acpi_table {
	u64 addr;
	u32 len;
	u8 rev;
};

/* One LNRO0005 device in the DSDT: its _CRS's Memory32Fixed and first interrupt. */
struct acpi_mmio_dev {
	u64 base;
	u32 size;
	u32 irq;
	u8 irq_flags;
};

/* What a pattern scan of the DSDT found. */
struct acpi_dsdt_facts {
	u32 virtio; /* LNRO0005 _HIDs */
	u32 serial; /* EISAID PNP0501 */
	u32 i8042;  /* EISAID PNP0303 */
	int s5;	    /* first element of \_S5_, -1 = no \_S5_ */
};

/* Little-endian reads at physical (addr); the caller has bounded them. */
u8 acpi_u8(u64 addr);
u16 acpi_u16(u64 addr);
u32 acpi_u32(u64 addr);
u64 acpi_u64(u64 addr);

/* The first valid RSDP on a 16-byte boundary in [0xe0000, 0x100000), or 0. */
u64 acpi_scan_rsdp(void);

/* NULL if a revision-2 RSDP with good checksums sits at (addr), else the reason. */
const char *acpi_check_rsdp(u64 addr);

/* The RSDP: the one the boot protocol gave (b->rsdp) if it checks, else the scan's, or 0. */
u64 acpi_rsdp(const struct boot_info *b);

/*
 * Check the table header at (addr): signature (sig, 4 chars), length and checksum;
 * fill (t). NULL, or the reason.
 */
const char *acpi_check_table(u64 addr, const char *sig, struct acpi_table *t);

/* Find table (sig) through the XSDT of the RSDP at (rsdp). NULL, or the reason. */
const char *acpi_find_table(u64 rsdp, const char *sig, struct acpi_table *t);

/* The XSDT's (nth) entry (from 0): its address, or 0 past the end. */
u64 acpi_xsdt_entry(const struct acpi_table *xsdt, u32 nth);

/* The DSDT named by the FADT (X_DSDT, else DSDT). NULL, or the reason. */
const char *acpi_find_dsdt(const struct acpi_table *fadt, struct acpi_table *dsdt);

/* The GAS at (off) in the FADT (the caller checked the FADT is long enough). */
void acpi_gas(const struct acpi_table *fadt, u32 off, struct acpi_gas *g);

/* Count what the DSDT holds (see struct acpi_dsdt_facts). */
void acpi_dsdt_scan(const struct acpi_table *dsdt, struct acpi_dsdt_facts *f);

/* The DSDT's (nth) (from 0) LNRO0005 device. 0, or -1 if there is none or it is malformed. */
int acpi_dsdt_mmio_dev(const struct acpi_table *dsdt, u32 nth, struct acpi_mmio_dev *d);

/* (nth) LNRO0005 device of the tables (b) leads to. 0, or -1. */
int acpi_virtio_dev(const struct boot_info *b, u32 nth, struct acpi_mmio_dev *d);

#endif
