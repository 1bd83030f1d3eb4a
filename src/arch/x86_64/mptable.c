/*
 * Intel MultiProcessor Specification 1.4 tables, so a guest without ACPI finds every
 * CPU: a floating pointer, then a configuration table with processor, bus, I/O APIC,
 * I/O interrupt and local interrupt entries.
 */
#include <errno.h>
#include <string.h>

#include "mptable.h"
#include "../arch.h"
#include "../../util/util.h"

#define MP_SPEC_REV	 4
#define MP_APIC_VERSION	 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_ENABLED	 0x1
#define MP_CPU_BSP	 0x2
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES	 0x201 /* FPU, APIC */

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_FLOATING_LEN 16
#define MP_HEADER_LEN	44
#define MP_CPU_LEN	20
#define MP_ENTRY_LEN	8
#define MP_TABLE_MAX	(0xa0000 - X86_MPTABLE_ADDR)

static uint8_t *mp_intsrc(uint8_t *p, uint8_t type, uint8_t irqtype, uint8_t bus_irq,
			  uint8_t dst_id, uint8_t dst_pin)
{
	p[0] = type;
	p[1] = irqtype;
	put_le(p + 2, 0, 2); /* polarity and trigger conform to the bus */
	p[4] = 0;	 /* source bus: ISA */
	p[5] = bus_irq;
	p[6] = dst_id;
	p[7] = dst_pin;
	return p + MP_ENTRY_LEN;
}

int x86_mptable_write(struct guest_mem *mem, unsigned int nr_cpus)
{
	size_t len = MP_FLOATING_LEN + MP_HEADER_LEN + nr_cpus * MP_CPU_LEN +
		     (2 + X86_NR_IOAPIC_PINS + 2) * MP_ENTRY_LEN;
	uint8_t *base, *table, *p;
	uint8_t ioapic_id = nr_cpus;
	unsigned int i, entries = 0;

	if (!nr_cpus || nr_cpus > ARCH_MAX_VCPUS || len > MP_TABLE_MAX)
		return -E2BIG;
	base = gpa_to_hva(mem, X86_MPTABLE_ADDR, len);
	if (!base)
		return -EFAULT;
	memset(base, 0, len);

	/* Floating pointer: "_MP_", the table's address, length in 16-byte units. */
	memcpy(base, "_MP_", 4);
	put_le(base + 4, X86_MPTABLE_ADDR + MP_FLOATING_LEN, 4);
	base[8] = 1;
	base[9] = MP_SPEC_REV;
	base[10] = checksum8(base, MP_FLOATING_LEN);

	table = base + MP_FLOATING_LEN;
	p = table + MP_HEADER_LEN;
	for (i = 0; i < nr_cpus; i++, entries++) {
		p[0] = MP_PROCESSOR;
		p[1] = i; /* local APIC ID == vCPU index */
		p[2] = MP_APIC_VERSION;
		p[3] = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		put_le(p + 4, MP_CPU_SIGNATURE, 4);
		put_le(p + 8, MP_CPU_FEATURES, 4);
		p += MP_CPU_LEN;
	}
	p[0] = MP_BUS;
	memcpy(p + 2, "ISA   ", 6);
	p += MP_ENTRY_LEN;
	entries++;

	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 1; /* enabled */
	put_le(p + 4, X86_IOAPIC_ADDR, 4);
	p += MP_ENTRY_LEN;
	entries++;

	/* KVM routes GSI n to I/O APIC pin n; pins 16-23 carry the virtio-mmio devices. */
	for (i = 0; i < X86_NR_IOAPIC_PINS; i++, entries++)
		p = mp_intsrc(p, MP_IOINTR, MP_INT, i, ioapic_id, i);
	/* Every local APIC: LINT0 takes the 8259's ExtINT, LINT1 takes NMI. */
	p = mp_intsrc(p, MP_LINTR, MP_EXTINT, 0, 0xff, 0);
	p = mp_intsrc(p, MP_LINTR, MP_NMI, 0, 0xff, 1);
	entries += 2;

	memcpy(table, "PCMP", 4);
	put_le(table + 4, (uint16_t)(p - table), 2);
	table[6] = MP_SPEC_REV;
	memcpy(table + 8, "EMBER   ", 8);
	memcpy(table + 16, "MICROVM     ", 12);
	put_le(table + 34, entries, 2);
	put_le(table + 36, X86_LAPIC_ADDR, 4);
	table[7] = checksum8(table, p - table);
	return 0;
}
