/*
 * The vGIC's state in a snapshot: its registers read and written through KVM's device
 * attributes (Linux's Documentation/virt/kvm/devices/arm-vgic{,-v3}.rst), register by
 * register, in the order of the tables in snapshot_format.c. Both need the vGIC initialised
 * (CTRL_INIT) and no vCPU in KVM_RUN: KVM refuses otherwise (EBUSY).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gic.h"
#include "snapshot_format.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

static const char *const group_names[ARM_GIC_NR_GROUPS] = {
	[ARM_GIC_DIST] = "distributor",
	[ARM_GIC_LEVELS] = "line level",
	[ARM_GIC_PRIVATE] = "private interrupt",
	[ARM_GIC_CPUIF] = "CPU interface",
};

/* The affinity fields of an MPIDR packed as the GICv3 device's attr wants (Aff3 at 31..24). */
static uint64_t gic_v3_affinity(uint64_t mpidr)
{
	return (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;
}

/* KVM's attribute groups: GICv2 has its banked registers in the distributor's frame. */
static const uint32_t v2_groups[ARM_GIC_NR_GROUPS] = {
	[ARM_GIC_DIST] = KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
	[ARM_GIC_PRIVATE] = KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
	[ARM_GIC_CPUIF] = KVM_DEV_ARM_VGIC_GRP_CPU_REGS,
};

static const uint32_t v3_groups[ARM_GIC_NR_GROUPS] = {
	[ARM_GIC_DIST] = KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
	[ARM_GIC_LEVELS] = KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
	[ARM_GIC_PRIVATE] = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
	[ARM_GIC_CPUIF] = KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
};

/*
 * KVM's attribute for register (key) of (group), as seen by (vcpu): GICv2 names the CPU by
 * its index, GICv3 by its affinity; both ignore it for the distributor's shared registers.
 */
static void gic_attr(const struct vm *vm, enum arm_gic_group group, const struct vcpu *vcpu,
		     uint32_t key, struct kvm_device_attr *a)
{
	if (vm->arch.gic == ARM_GIC_V2) {
		a->group = v2_groups[group];
		a->attr = (uint64_t)vcpu->id << KVM_DEV_ARM_VGIC_CPUID_SHIFT | key;
		return;
	}
	a->group = v3_groups[group];
	a->attr = gic_v3_affinity(vcpu->arch.mpidr) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT | key;
	if (group == ARM_GIC_LEVELS)
		a->attr |= (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL
			   << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT;
}

/* One register: 32 bits for the MMIO frames and line levels, 64 for ICC_*. */
static int gic_access(struct vm *vm, unsigned long req, enum arm_gic_group group,
		      const struct vcpu *vcpu, uint32_t key, uint64_t *value)
{
	bool wide = arm_gic_table(vm->arch.gic, group)->wide;
	struct kvm_device_attr a = { 0 };
	uint32_t v32 = (uint32_t)*value;

	gic_attr(vm, group, vcpu, key, &a);
	a.addr = wide ? (uint64_t)(uintptr_t)value : (uint64_t)(uintptr_t)&v32;
	if (ioctl(vm->arch.gic_fd, req, &a) < 0)
		return -errno;
	if (!wide)
		*value = v32;
	return 0;
}

/*
 * Every register of (group)'s table that this KVM has, as a list. KVM answers ENXIO for a
 * register it does not know and, for the ICC_* ones, EINVAL for an active priority
 * register beyond the host's priority bits: those are left out.
 */
static int gic_save_list(struct vm *vm, enum arm_gic_group group, const struct vcpu *vcpu,
			 struct snap_writer *w, char *why, size_t why_len)
{
	const struct arm_gic_table *t = arm_gic_table(vm->arch.gic, group);
	unsigned int i, n = 0, size = arm_gic_table_size(t);
	const struct arm_gic_range *range;
	uint64_t *values;
	uint32_t *keys;
	int ret = 0;

	keys = calloc(size ? size : 1, sizeof(*keys));
	values = calloc(size ? size : 1, sizeof(*values));
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < size; i++) {
		keys[n] = arm_gic_table_key(t, i, &range);
		values[n] = 0;
		ret = gic_access(vm, KVM_GET_DEVICE_ATTR, group, vcpu, keys[n], &values[n]);
		if (ret == -ENXIO || (ret == -EINVAL && t->wide)) {
			ret = 0;
			continue;
		}
		if (ret) {
			snprintf(why, why_len, "vGIC: reading %s register 0x%x of vCPU %u: %s",
				 group_names[group], keys[n], vcpu->id, strerror(-ret));
			goto out;
		}
		n++;
	}
	arm_gic_list_put(w, keys, values, n);
	log_debug(vm->log, "snapshot: vCPU %u: %u of %u vGIC %s registers", vcpu->id, n, size,
		  group_names[group]);
out:
	free(keys);
	free(values);
	return ret;
}

/* A set-only register (enable, pending, active) is written after its clear twin. */
static int gic_restore_list(struct vm *vm, enum arm_gic_group group, const struct vcpu *vcpu,
			    const struct arm_gic_list *l, char *why, size_t why_len)
{
	const struct arm_gic_table *t = arm_gic_table(vm->arch.gic, group);
	const struct arm_gic_range *range;
	uint64_t value, clear;
	uint32_t i, key;
	int ret = 0;

	for (i = 0; !ret && i < l->n; i++) {
		arm_gic_list_entry(l, t, i, &key, &value, &range);
		clear = ~value & 0xffffffff;
		if (range->clear)
			ret = gic_access(vm, KVM_SET_DEVICE_ATTR, group, vcpu,
					 key + (uint32_t)range->clear, &clear);
		if (!ret)
			ret = gic_access(vm, KVM_SET_DEVICE_ATTR, group, vcpu, key, &value);
		if (ret)
			snprintf(why, why_len, "vGIC: setting %s register 0x%x of vCPU %u: %s",
				 group_names[group], key, vcpu->id, strerror(-ret));
	}
	return ret;
}

int gic_state_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	unsigned int i;
	int ret;

	snap_begin(w, ARM_TAG_GIC, 0);
	snap_put_u8(w, (uint8_t)vm->arch.gic);
	snap_put_u32(w, ARM_GIC_NR_IRQS);
	/* Shared state, read through vCPU 0 (the SPIs' levels are the same from every vCPU). */
	ret = gic_save_list(vm, ARM_GIC_DIST, &vm->vcpus[0], w, why, why_len);
	if (!ret)
		ret = gic_save_list(vm, ARM_GIC_LEVELS, &vm->vcpus[0], w, why, why_len);
	snap_end(w);
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		snap_begin(w, ARM_TAG_GIC_CPU, i);
		ret = gic_save_list(vm, ARM_GIC_PRIVATE, &vm->vcpus[i], w, why, why_len);
		if (!ret)
			ret = gic_save_list(vm, ARM_GIC_CPUIF, &vm->vcpus[i], w, why, why_len);
		snap_end(w);
	}
	return ret;
}

/*
 * (g), the decoded AGIC section of (f), back into the vGIC: the distributor first (its
 * GICD_IIDR before anything else, its GICD_CTLR last), then the SPI levels, then each
 * vCPU's private interrupts and CPU interface.
 */
int gic_state_restore(struct vm *vm, const struct snap_file *f, const struct arm_gic_state *g,
		      char *why, size_t why_len)
{
	struct arm_gic_cpu_state c;
	unsigned int i;
	int ret;

	ret = gic_restore_list(vm, ARM_GIC_DIST, &vm->vcpus[0], &g->dist, why, why_len);
	if (!ret)
		ret = gic_restore_list(vm, ARM_GIC_LEVELS, &vm->vcpus[0], &g->levels, why, why_len);
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		ret = arm_decode_gic_cpu(f, g->version, i, &c, why, why_len);
		if (!ret)
			ret = gic_restore_list(vm, ARM_GIC_PRIVATE, &vm->vcpus[i], &c.priv, why,
					       why_len);
		if (!ret)
			ret = gic_restore_list(vm, ARM_GIC_CPUIF, &vm->vcpus[i], &c.cpuif, why,
					       why_len);
	}
	return ret;
}
