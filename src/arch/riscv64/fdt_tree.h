/*
 * The riscv64 machine's device tree, from a plain description: no KVM types here, so the
 * unit tests build it on any host and check it with libfdt and dtc.
 */
#ifndef EMBER_ARCH_RISCV64_FDT_TREE_H
#define EMBER_ARCH_RISCV64_FDT_TREE_H

#include <stddef.h>
#include <stdint.h>

#define RISCV_FDT_MAX_CPUS   32
#define RISCV_FDT_MAX_VIRTIO 16

enum riscv_irqchip {
	RISCV_IRQCHIP_PLIC = 1, /* emulated by ember: sifive,plic-1.0.0 */
	RISCV_IRQCHIP_AIA,	/* KVM's in-kernel APLIC + IMSIC */
};

struct riscv_mmio_node {
	uint64_t addr, size;
	unsigned int irq; /* PLIC source (1..plic_nr_sources-1) or APLIC source (1..aia_nr_sources) */
};

struct riscv_fdt_params {
	unsigned int nr_cpus; /* hart ids 0..nr_cpus-1 */
	const char *isa;      /* riscv,isa, e.g. "rv64imafdc_sstc_zihintpause", as KVM exposes */
	uint32_t timebase_hz; /* /cpus timebase-frequency, from KVM's timer registers */
	uint64_t ram_base, ram_size;
	const char *cmdline;		   /* chosen/bootargs, skipped if NULL */
	uint64_t initrd_addr, initrd_size; /* size 0: no initrd */

	enum riscv_irqchip irqchip;
	uint64_t plic_addr, plic_size; /* PLIC: one S-mode context per hart, context n = hart n */
	unsigned int plic_nr_sources;  /* riscv,ndev */
	uint64_t aplic_addr, aplic_size; /* AIA */
	uint64_t imsic_addr, imsic_size; /* AIA: one S-level interrupt file per hart, 4 KiB each */
	unsigned int aia_nr_ids;	 /* riscv,num-ids of the IMSIC */
	unsigned int aia_nr_sources;	 /* riscv,num-sources of the APLIC */

	struct riscv_mmio_node uart; /* 16550 (ns16550a) */
	uint32_t uart_clock;
	struct riscv_mmio_node virtio[RISCV_FDT_MAX_VIRTIO];
	unsigned int nr_virtio;
};

/*
 * Build the blob for (p): at most (max) bytes, malloc'd into (*out) (the caller frees it),
 * its size in (*len). 0 or -errno (-EINVAL for a description that cannot be right; -E2BIG
 * over (max)), with the reason in (why, why_len).
 */
int riscv_fdt_build(const struct riscv_fdt_params *p, size_t max, uint8_t **out, size_t *len,
		    char *why, size_t why_len);

#endif
