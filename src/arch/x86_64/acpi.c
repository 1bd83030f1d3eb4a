/*
 * ACPI tables for a hardware-reduced x86 PC without PCI (ACPI 6.5): the guest finds every
 * CPU and the I/O APIC in the MADT, its fixed devices (the 16550, the i8042, each
 * virtio-mmio slot) in the DSDT, and powers off through the FADT's sleep registers and the
 * DSDT's \_S5. The FADT's boot flags also tell Linux which legacy hardware is not there
 * (no VGA, no CMOS RTC), so it does not probe for it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "../arch.h"
#include "../../util/util.h"
#include "../../vmm/vm.h"

#define FADT_REVISION	      6
#define FADT_MINOR	      5
#define FADT_LEN	      276
#define MADT_REVISION	      5
#define DSDT_REVISION	      2
#define XSDT_REVISION	      1

/* FADT flags (5.2.9, table 5.10) and IA-PC boot architecture flags (5.2.9.3). */
#define FADT_PWR_BUTTON	      (1u << 4) /* no fixed power button */
#define FADT_SLP_BUTTON	      (1u << 5) /* no fixed sleep button */
#define FADT_RESET_REG_SUP    (1u << 10)
#define FADT_HW_REDUCED	      (1u << 20)
#define BOOT_8042	      (1u << 1)
#define BOOT_NO_VGA	      (1u << 2)
#define BOOT_NO_MSI	      (1u << 3)
#define BOOT_NO_CMOS_RTC      (1u << 5)

/* FADT field offsets used here (table 5.9). */
#define FADT_DSDT	      40
#define FADT_IAPC_BOOT_ARCH   109
#define FADT_FLAGS	      112
#define FADT_RESET_REG	      116
#define FADT_RESET_VALUE      128
#define FADT_MINOR_VERSION    131
#define FADT_X_DSDT	      140
#define FADT_SLEEP_CONTROL    244
#define FADT_SLEEP_STATUS     256
#define FADT_HYPERVISOR_ID    268

/* MADT (5.2.12). */
#define MADT_PCAT_COMPAT      1 /* the 8259s are there: Linux masks them */
#define MADT_LAPIC	      0
#define MADT_IOAPIC	      1
#define MADT_INT_OVERRIDE     2
#define MADT_LAPIC_NMI	      4
#define MADT_LAPIC_ENABLED    1
#define MADT_ALL_CPUS	      0xff
#define MPS_INTI_HIGH_EDGE    0x5 /* polarity active high (1), trigger edge (1 << 2) */

#define GAS_BYTE_ACCESS	      1
#define I8042_RESET_PORT      0x64
#define I8042_RESET_VALUE     0xfe

static size_t fadt_build(struct acpi_writer *w, const struct x86_acpi_machine *m,
			 uint64_t dsdt_addr)
{
	size_t t = acpiw_table_begin(w, "FACP", FADT_REVISION, "EMBERVM");
	uint8_t *f;

	acpiw_zeros(w, FADT_LEN - ACPI_HEADER_LEN);
	f = acpiw_at(w, t, FADT_LEN);
	if (!f)
		return t;
	/*
	 * Hardware-reduced: no PM1 blocks, no PM timer, no GPEs, no SCI, no FACS. The guest
	 * sleeps (only S5 is offered) through the two registers below.
	 */
	put_le32(f + FADT_DSDT, (uint32_t)dsdt_addr);
	put_le64(f + FADT_X_DSDT, dsdt_addr);
	put_le32(f + FADT_FLAGS, FADT_HW_REDUCED | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
					 (m->i8042 ? FADT_RESET_REG_SUP : 0));
	put_le(f + FADT_IAPC_BOOT_ARCH,
	       BOOT_NO_VGA | BOOT_NO_MSI | BOOT_NO_CMOS_RTC | (m->i8042 ? BOOT_8042 : 0), 2);
	f[FADT_MINOR_VERSION] = FADT_MINOR;
	memcpy(f + FADT_HYPERVISOR_ID, "EMBERVMM", 8);
	if (m->i8042) {
		/* The i8042's pulse-reset command: reboot=acpi does what reboot=kbd does. */
		acpi_gas_put(f + FADT_RESET_REG, ACPI_GAS_SYSTEM_IO, 8, GAS_BYTE_ACCESS,
			     I8042_RESET_PORT);
		f[FADT_RESET_VALUE] = I8042_RESET_VALUE;
	}
	acpi_gas_put(f + FADT_SLEEP_CONTROL, ACPI_GAS_SYSTEM_IO, 8, GAS_BYTE_ACCESS,
		     ARCH_ACPI_SLEEP_PORT);
	acpi_gas_put(f + FADT_SLEEP_STATUS, ACPI_GAS_SYSTEM_IO, 8, GAS_BYTE_ACCESS,
		     ARCH_ACPI_SLEEP_PORT + 1);
	acpiw_table_end(w, t);
	return t;
}

static void madt_override(struct acpi_writer *w, uint8_t isa_irq, uint32_t gsi)
{
	acpiw_u8(w, MADT_INT_OVERRIDE);
	acpiw_u8(w, 10);
	acpiw_u8(w, 0); /* bus: ISA */
	acpiw_u8(w, isa_irq);
	acpiw_u32(w, gsi);
	acpiw_u16(w, MPS_INTI_HIGH_EDGE);
}

static size_t madt_build(struct acpi_writer *w, const struct x86_acpi_machine *m)
{
	size_t t = acpiw_table_begin(w, "APIC", MADT_REVISION, "EMBERVM");
	unsigned int i;

	acpiw_u32(w, X86_LAPIC_ADDR);
	acpiw_u32(w, MADT_PCAT_COMPAT);
	/* Processor UID and local APIC ID are the vCPU index, as in the MP table. */
	for (i = 0; i < m->nr_cpus; i++) {
		acpiw_u8(w, MADT_LAPIC);
		acpiw_u8(w, 8);
		acpiw_u8(w, i);
		acpiw_u8(w, i);
		acpiw_u32(w, MADT_LAPIC_ENABLED);
	}
	/* The I/O APIC has the MP table's ID (the first after the CPUs); its pin n is GSI n. */
	acpiw_u8(w, MADT_IOAPIC);
	acpiw_u8(w, 12);
	acpiw_u8(w, m->nr_cpus);
	acpiw_u8(w, 0);
	acpiw_u32(w, X86_IOAPIC_ADDR);
	acpiw_u32(w, 0);
	/*
	 * KVM wires ISA IRQ n to pin n, so no line moves; the overrides state the trigger of
	 * the ISA lines ember drives. None for IRQ 0: with no SCI the FADT's SCI_INT is 0, and
	 * an override of IRQ 0 would be read as the SCI's (level, active low) and stop the
	 * PIT's interrupts.
	 */
	if (m->i8042)
		madt_override(w, X86_KBD_IRQ, X86_KBD_IRQ);
	madt_override(w, X86_SERIAL_IRQ, X86_SERIAL_IRQ);
	/* Every local APIC's LINT1 takes NMI. */
	acpiw_u8(w, MADT_LAPIC_NMI);
	acpiw_u8(w, 6);
	acpiw_u8(w, MADT_ALL_CPUS);
	acpiw_u16(w, 0); /* flags: as the bus */
	acpiw_u8(w, 1);
	acpiw_table_end(w, t);
	return t;
}

static size_t dsdt_build(struct acpi_writer *w, const struct x86_acpi_machine *m)
{
	size_t t = acpiw_table_begin(w, "DSDT", DSDT_REVISION, "EMBERVM");
	/* \_S5: SLP_TYPa, SLP_TYPb and two reserved; SLP_TYP is what the sleep register takes. */
	const uint64_t s5[] = { ARCH_ACPI_S5_TYPE, ARCH_ACPI_S5_TYPE, 0, 0 };
	unsigned int i;

	aml_scope_begin(w, "\\_SB_");

	aml_device_begin(w, "COM1");
	aml_name_eisaid(w, "_HID", "PNP0501");
	aml_name_int(w, "_UID", 0);
	aml_name_resources_begin(w, "_CRS");
	aml_res_io(w, X86_SERIAL_PORT, 8);
	aml_res_irq_noflags(w, X86_SERIAL_IRQ);
	aml_resources_end(w);
	aml_end(w);

	if (m->i8042) {
		aml_device_begin(w, "PS2K");
		aml_name_eisaid(w, "_HID", "PNP0303");
		aml_name_resources_begin(w, "_CRS");
		aml_res_io(w, 0x60, 1);
		aml_res_io(w, 0x64, 1);
		aml_res_irq_noflags(w, X86_KBD_IRQ);
		aml_resources_end(w);
		aml_end(w);
	}

	/* Linux's virtio_mmio driver matches LNRO0005; edge-triggered like the MP table's. */
	for (i = 0; i < m->nr_mmio; i++) {
		const struct vm_mmio_dev *d = &m->mmio[i];
		char name[5];

		if (d->addr > UINT32_MAX || d->size > UINT32_MAX - d->addr) {
			acpiw_fail(w, -EINVAL);
			break;
		}
		snprintf(name, sizeof(name), "V%03X", i & 0xfff);
		aml_device_begin(w, name);
		aml_name_string(w, "_HID", "LNRO0005");
		aml_name_int(w, "_UID", i);
		aml_name_resources_begin(w, "_CRS");
		aml_res_mem32_fixed(w, true, (uint32_t)d->addr, (uint32_t)d->size);
		aml_res_interrupt(w, true, false, d->irq);
		aml_resources_end(w);
		aml_end(w);
	}
	aml_end(w);

	aml_name_package(w, "\\_S5_", s5, ARRAY_SIZE(s5));
	acpiw_table_end(w, t);
	return t;
}

int x86_acpi_build(const struct x86_acpi_machine *m, uint64_t base, struct acpi_writer *w)
{
	size_t rsdp, dsdt, fadt, madt, xsdt;

	if (!m->nr_cpus || m->nr_cpus > ARCH_MAX_VCPUS || m->nr_mmio > 0xfff)
		return -EINVAL;
	rsdp = w->len;
	acpiw_zeros(w, ACPI_RSDP_LEN); /* written last, once the XSDT's address is known */
	acpiw_align(w, 16);
	dsdt = w->len;
	dsdt_build(w, m);
	acpiw_align(w, 8);
	fadt = fadt_build(w, m, base + dsdt);
	acpiw_align(w, 8);
	madt = madt_build(w, m);
	acpiw_align(w, 8);
	xsdt = acpiw_table_begin(w, "XSDT", XSDT_REVISION, "EMBERVM");
	acpiw_u64(w, base + fadt);
	acpiw_u64(w, base + madt);
	acpiw_table_end(w, xsdt);
	acpiw_rsdp(w, rsdp, base + xsdt);
	return w->error;
}

int x86_acpi_write(struct vm *vm, uint64_t *rsdp_addr)
{
	const struct x86_acpi_machine m = {
		.nr_cpus = vm->cfg->vcpus,
		.mmio = vm->plumbing.mmio_devs,
		.nr_mmio = vm->plumbing.nr_mmio_devs,
		.i8042 = ARCH_HAS_I8042,
	};
	struct acpi_writer w;
	int ret;

	acpiw_init(&w, X86_ACPI_END - X86_ACPI_BASE);
	ret = x86_acpi_build(&m, X86_ACPI_BASE, &w);
	if (ret)
		log_err(vm->log, "ACPI tables: %s", strerror(-ret));
	else if (guest_mem_write(&vm->mem, X86_ACPI_BASE, w.data, w.len)) {
		log_err(vm->log, "ACPI tables: no guest RAM at 0x%x", X86_ACPI_BASE);
		ret = -EFAULT;
	} else {
		log_debug(vm->log, "ACPI tables: %zu bytes at 0x%x", w.len, X86_ACPI_BASE);
		*rsdp_addr = X86_ACPI_BASE;
	}
	acpiw_free(&w);
	return ret;
}
