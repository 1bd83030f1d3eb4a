/* The MP table: how a guest without ACPI finds its CPUs and the I/O APIC. */
#ifndef EMBER_ARCH_X86_64_MPTABLE_H
#define EMBER_ARCH_X86_64_MPTABLE_H

#include "../../vmm/memory.h"

/* Write an MP table for (nr_cpus) CPUs at X86_MPTABLE_ADDR. 0, -EFAULT or -E2BIG. */
int x86_mptable_write(struct guest_mem *mem, unsigned int nr_cpus);

#endif
