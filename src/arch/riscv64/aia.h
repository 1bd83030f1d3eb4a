/*
 * KVM's in-kernel AIA (Linux 6.5 and later): an APLIC for wired sources that sends MSIs
 * to one IMSIC interrupt file per hart.
 */
#ifndef EMBER_ARCH_RISCV64_AIA_H
#define EMBER_ARCH_RISCV64_AIA_H

#include <stdint.h>

struct vm;

/*
 * Create the device and make it the VM's irqchip. -ENODEV (quietly) where KVM has none, so auto can fall back to the
 * PLIC; other -errno are logged.
 */
int aia_create(struct vm *vm);

/* Once every vCPU exists: sources, hart bits, addresses, CTRL_INIT. 0 or -errno. */
int aia_finalize(struct vm *vm);

/* The IMSIC region for (nr_harts): a power of two of 4 KiB pages, as KVM's hart bits want. */
uint64_t aia_imsic_size(unsigned int nr_harts);

void aia_destroy(struct vm *vm);

#endif
