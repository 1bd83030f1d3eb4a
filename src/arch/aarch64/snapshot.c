/*
 * Snapshots of arm64 KVM state (section layouts in snapshot_format.h). A vCPU is every
 * register KVM lists for it (KVM_GET_REG_LIST: core, FP/SIMD, system, timer and firmware
 * registers), each saved as KVM gives it, and its MP state (secondaries PSCI has not
 * started, or has stopped, are "stopped"). The vGIC is in vgic_state.c.
 *
 * The restore puts the registers back in KVM's list order, except the counters: setting
 * KVM_REG_ARM_TIMER_CNT moves the VM's virtual counter offset so that the guest reads the
 * saved value at that instant. It is set last, once everything else is in place, so the
 * guest's time goes on from where it was saved: the time between the snapshot and the
 * restore does not exist for it, as for a paused VM.
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
#include "../../snapshot/stream.h"
#include "../../util/log.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

void arch_config_save(const struct arch_config *cfg, struct snap_writer *w)
{
	arm_config_save(cfg, w);
}

void arch_config_load(struct arch_config *cfg, struct snap_cursor *c)
{
	arm_config_load(cfg, c);
}

int arch_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			size_t why_len)
{
	return arm_snapshot_check(f, nr_vcpus, why, why_len);
}

/* A register id as the KVM documentation names it, for error messages. */
static const char *arm_reg_name(uint64_t id, char *buf, size_t len)
{
	switch (id & KVM_REG_ARM_COPROC_MASK) {
	case KVM_REG_ARM_CORE:
		snprintf(buf, len, "core register 0x%llx (kvm_regs word)",
			 (unsigned long long)(id & 0xffff));
		break;
	case KVM_REG_ARM64_SYSREG:
		snprintf(buf, len, "system register S%u_%u_C%u_C%u_%u",
			 (unsigned int)((id & KVM_REG_ARM64_SYSREG_OP0_MASK) >>
					KVM_REG_ARM64_SYSREG_OP0_SHIFT),
			 (unsigned int)((id & KVM_REG_ARM64_SYSREG_OP1_MASK) >>
					KVM_REG_ARM64_SYSREG_OP1_SHIFT),
			 (unsigned int)((id & KVM_REG_ARM64_SYSREG_CRN_MASK) >>
					KVM_REG_ARM64_SYSREG_CRN_SHIFT),
			 (unsigned int)((id & KVM_REG_ARM64_SYSREG_CRM_MASK) >>
					KVM_REG_ARM64_SYSREG_CRM_SHIFT),
			 (unsigned int)((id & KVM_REG_ARM64_SYSREG_OP2_MASK) >>
					KVM_REG_ARM64_SYSREG_OP2_SHIFT));
		break;
	default:
		snprintf(buf, len, "register 0x%016llx", (unsigned long long)id);
	}
	return buf;
}

/* The counters whose write sets the VM's counter offset (the physical one from Linux 6.4). */
static bool arm_reg_is_counter(uint64_t id)
{
	return id == KVM_REG_ARM_TIMER_CNT || id == KVM_REG_ARM_PTIMER_CNT;
}

/* --- saving --- */

/* Which registers (vcpu) has, into (*out), which the caller frees. */
static int arm_reg_list(struct vcpu *vcpu, struct kvm_reg_list **out, char *why, size_t why_len)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;
	int ret = 0;

	*out = NULL;
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, &probe) < 0 && errno != E2BIG) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_GET_REG_LIST: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	if (probe.n > ARM_SNAP_MAX_REGS) {
		snprintf(why, why_len, "vCPU %u: KVM lists %llu registers, more than the %u a "
			 "snapshot holds", vcpu->id, (unsigned long long)probe.n,
			 ARM_SNAP_MAX_REGS);
		return -E2BIG;
	}
	list = calloc(1, sizeof(*list) + probe.n * sizeof(list->reg[0]));
	if (!list) {
		snprintf(why, why_len, "vCPU %u: %s", vcpu->id, strerror(ENOMEM));
		return -ENOMEM;
	}
	list->n = probe.n;
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, list) < 0) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_GET_REG_LIST: %s", vcpu->id, strerror(-ret));
		free(list);
		return ret;
	}
	*out = list;
	return 0;
}

static int arm_save_vcpu(struct vcpu *vcpu, struct snap_writer *w, char *why, size_t why_len)
{
	uint8_t value[ARM_SNAP_MAX_REG_BYTES] __attribute__((aligned(16)));
	struct kvm_mp_state mp;
	struct kvm_reg_list *list;
	char name[64];
	uint64_t i;
	int ret = 0;

	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_GET_MP_STATE: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	ret = arm_reg_list(vcpu, &list, why, why_len);
	if (ret)
		return ret;
	snap_begin(w, ARM_TAG_VCPU, vcpu->id);
	snap_put_u32(w, mp.mp_state);
	snap_put_u32(w, (uint32_t)list->n);
	for (i = 0; !ret && i < list->n; i++) {
		uint64_t id = list->reg[i];
		size_t size = arm_reg_size(id);
		struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };

		if (size < 4 || size > sizeof(value)) {
			snprintf(why, why_len, "vCPU %u: %s has %zu bytes, which a snapshot cannot "
				 "hold", vcpu->id, arm_reg_name(id, name, sizeof(name)), size);
			ret = -EOPNOTSUPP;
		} else if (ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0) {
			ret = -errno;
			snprintf(why, why_len, "vCPU %u: reading %s: %s", vcpu->id,
				 arm_reg_name(id, name, sizeof(name)), strerror(-ret));
		} else {
			snap_put_u64(w, id);
			snap_put_bytes(w, value, size);
		}
	}
	snap_end(w);
	log_debug(vcpu->vm->log, "snapshot: vCPU %u: %llu registers, MP state %u", vcpu->id,
		  (unsigned long long)list->n, mp.mp_state);
	free(list);
	return ret;
}

int arch_snapshot_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = arm_save_vcpu(&vm->vcpus[i], w, why, why_len);
	if (!ret)
		ret = gic_state_save(vm, w, why, why_len);
	return ret;
}

/* --- restoring --- */

/* The registers of (s) that are (counters) or not, in the saved order. */
static int arm_restore_regs(struct vcpu *vcpu, const struct arm_vcpu_state *s, bool counters,
			    char *why, size_t why_len)
{
	uint8_t value[ARM_SNAP_MAX_REG_BYTES] __attribute__((aligned(16)));
	const uint8_t *p = s->regs;
	char name[64];
	uint32_t i;

	for (i = 0; i < s->nr_regs; i++) {
		uint64_t id;
		const uint8_t *v = arm_reg_next(&p, &id);
		struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };

		if (arm_reg_is_counter(id) != counters)
			continue;
		memcpy(value, v, arm_reg_size(id)); /* the decoder bounded it */
		if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0) {
			int err = errno;

			snprintf(why, why_len, "vCPU %u: KVM refused %s: %s", vcpu->id,
				 arm_reg_name(id, name, sizeof(name)), strerror(err));
			return -err;
		}
	}
	return 0;
}

static int arm_restore_vcpu(struct vcpu *vcpu, const struct arm_vcpu_state *s, char *why,
			    size_t why_len)
{
	struct kvm_mp_state mp = { .mp_state = s->mp_state };
	int ret;

	ret = arm_restore_regs(vcpu, s, false, why, why_len);
	if (ret)
		return ret;
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_SET_MP_STATE %u: %s", vcpu->id, mp.mp_state,
			 strerror(-ret));
	}
	return ret;
}

int arch_snapshot_restore(struct vm *vm, const struct snap_file *f, char *why, size_t why_len)
{
	struct arm_vcpu_state v;
	struct arm_gic_state g;
	unsigned int i;
	int ret;

	ret = arm_decode_gic(f, &g, why, why_len);
	if (ret)
		return ret;
	/* --gic auto picks what this host has: the same as when saved, on the same host. */
	if (g.version != vm->arch.gic) {
		snprintf(why, why_len, "the snapshot's vGIC is a GICv%u, this VM's a GICv%u",
			 g.version, vm->arch.gic);
		return -EINVAL;
	}
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		ret = arm_decode_vcpu(f, i, &v, why, why_len);
		if (!ret)
			ret = arm_restore_vcpu(&vm->vcpus[i], &v, why, why_len);
	}
	if (!ret)
		ret = gic_state_restore(vm, f, &g, why, why_len);
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		ret = arm_decode_vcpu(f, i, &v, why, why_len);
		if (!ret)
			ret = arm_restore_regs(&vm->vcpus[i], &v, true, why, why_len);
	}
	return ret;
}
