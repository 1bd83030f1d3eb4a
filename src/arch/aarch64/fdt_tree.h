/*
 * The arm64 machine's device tree, from a plain description: no KVM types here, so the
 * unit tests build it on any host and check it with libfdt and dtc.
 */
#ifndef EMBER_ARCH_AARCH64_FDT_TREE_H
#define EMBER_ARCH_AARCH64_FDT_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "arch_defs.h"

#define ARM_FDT_MAX_VIRTIO 16

struct arm_mmio_node {
	uint64_t addr, size;
	unsigned int spi; /* SPI number (INTID - 32) */
};

struct arm_fdt_params {
	unsigned int nr_cpus;
	uint64_t mpidr[ARCH_MAX_VCPUS]; /* each vCPU's MPIDR_EL1; the affinity bits name it */
	uint64_t ram_base, ram_size;
	const char *cmdline;		   /* chosen/bootargs */
	uint64_t initrd_addr, initrd_size; /* size 0: no initrd */

	enum arm_gic_version gic;
	uint64_t gic_dist_addr, gic_dist_size;
	uint64_t gic_cpu_addr, gic_cpu_size;	   /* v2 */
	uint64_t gic_redist_addr, gic_redist_size; /* v3: one region for every vCPU */

	struct arm_mmio_node uart; /* 16550 (ns16550a), 1-byte registers */
	uint32_t uart_clock;
	struct arm_mmio_node rtc; /* PL031 */
	struct arm_mmio_node virtio[ARM_FDT_MAX_VIRTIO];
	unsigned int nr_virtio;
};

/*
 * Build the blob for (p): at most (max) bytes, malloc'd into (*out) (the caller frees it),
 * its size in (*len). 0 or -errno (-EINVAL for a description that cannot be right, such
 * as no CPUs or a GICv2 with more than 8; -E2BIG over (max)) with the reason in
 * (why, why_len).
 */
int arm_fdt_build(const struct arm_fdt_params *p, size_t max, uint8_t **out, size_t *len,
		  char *why, size_t why_len);

#endif
