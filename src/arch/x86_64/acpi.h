/* The x86_64 machine's ACPI tables: RSDP, XSDT, FADT, MADT and DSDT. */
#ifndef EMBER_ARCH_X86_64_ACPI_H
#define EMBER_ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "../../util/acpi.h"
#include "../../vmm/plumbing.h"

/* What the tables describe: everything is sized from it. */
struct x86_acpi_machine {
	unsigned int nr_cpus;
	const struct vm_mmio_dev *mmio; /* the virtio-mmio devices, in slot order */
	unsigned int nr_mmio;
	bool i8042;
};

/*
 * Build every table into (w) as it will sit at guest physical (base), the RSDP first
 * (16-byte aligned, so the legacy scan finds it at (base)). 0, or -errno (-E2BIG: more than
 * the writer's max, -EINVAL: a description no table can hold).
 */
int x86_acpi_build(const struct x86_acpi_machine *m, uint64_t base, struct acpi_writer *w);

struct vm;

/*
 * Write the tables for (vm) (its vCPUs and the MMIO devices handed out) into its RAM at
 * X86_ACPI_BASE and set (*rsdp_addr). 0, or -errno (logged).
 */
int x86_acpi_write(struct vm *vm, uint64_t *rsdp_addr);

#endif
