/*
 * vCPU entry state, per the arm64 boot protocol: EL1h with every exception masked, MMU
 * and caches off (KVM's reset state), PC at the image, X0 the device tree, X1-X3 zero.
 * Secondary vCPUs start powered off and the guest brings them up with PSCI CPU_ON. A
 * vCPU of a VM restored from a snapshot only needs KVM_ARM_VCPU_INIT: its registers and
 * power state come from the snapshot (arch_snapshot_restore).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/ioctl.h>

#include "../arch.h"
#include "../../util/log.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

#define PSR_MODE_EL1H 0x5
#define PSR_F	      (1U << 6)
#define PSR_I	      (1U << 7)
#define PSR_A	      (1U << 8)
#define PSR_D	      (1U << 9)

#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))
#define REG_MPIDR_EL1  ARM64_SYS_REG(3, 0, 0, 0, 5)

int arch_vcpu_init(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct kvm_vcpu_init init = { .target = vm->arch.kvm_target };
	uint64_t pstate = PSR_MODE_EL1H | PSR_F | PSR_I | PSR_A | PSR_D;
	int ret;

	init.features[0] = 1U << KVM_ARM_VCPU_PSCI_0_2;
	if (vcpu->id)
		init.features[0] |= 1U << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		log_warn(vcpu->vm->log, "vCPU %u: KVM_ARM_VCPU_INIT (target %u)", vcpu->id,
			 init.target);
		return -errno;
	}
	ret = vcpu_reg_get(vcpu, REG_MPIDR_EL1, &vcpu->arch.mpidr, "MPIDR_EL1");
	if (ret || vcpu->id || vm->restoring)
		return ret;
	ret = vcpu_reg_set(vcpu, CORE_REG(regs.pstate), &pstate, "PSTATE");
	if (!ret)
		ret = vcpu_reg_set(vcpu, CORE_REG(regs.pc), &vm->boot.entry, "PC");
	if (!ret)
		ret = vcpu_reg_set(vcpu, CORE_REG(regs.regs[0]), &vm->boot.arch.fdt_addr, "X0");
	return ret;
}
