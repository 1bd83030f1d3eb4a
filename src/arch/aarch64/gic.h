/*
 * The in-kernel GIC (KVM's vgic), version 2 or 3, behind one small ops table chosen once
 * per VM.
 */
#ifndef EMBER_ARCH_AARCH64_GIC_H
#define EMBER_ARCH_AARCH64_GIC_H

#include "fdt_tree.h"

struct vm;
struct snap_writer;
struct snap_file;
struct arm_gic_state;

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

/*
 * Snapshots (vgic_state.c): the vGIC's registers into sections AGIC and AGCP of (w), with
 * every vCPU out of KVM_RUN; and back from (f), whose AGIC section (g) is already decoded
 * and of this VM's GIC version, into an initialised vGIC. 0, or -errno with (why).
 */
int gic_state_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len);
int gic_state_restore(struct vm *vm, const struct snap_file *f, const struct arm_gic_state *g,
		      char *why, size_t why_len);

#endif
