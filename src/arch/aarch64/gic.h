/*
 * The in-kernel GIC (KVM's vgic), version 2 or 3, behind one small ops table chosen once
 * per VM.
 */
#ifndef EMBER_ARCH_AARCH64_GIC_H
#define EMBER_ARCH_AARCH64_GIC_H

#include "fdt_tree.h"

struct vm;

/*
 * Create the vgic that vm->cfg->arch.gic asks for (0: v3, else v2) and set its layout.
 * 0, or -errno with the reason in (why, why_len).
 */
int gic_create(struct vm *vm, char *why, size_t why_len);

/* After every vCPU exists: size the SPIs and initialise the vgic. */
int gic_finalize(struct vm *vm);

void gic_destroy(struct vm *vm);

/* Fill the GIC fields of the device tree description. */
void gic_describe(const struct vm *vm, struct arm_fdt_params *p);

#endif
