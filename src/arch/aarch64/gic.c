/*
 * KVM's vgic. The order is fixed by KVM: create the device, give it its addresses, then,
 * once every vCPU exists, the number of interrupts and CTRL_INIT. A v2 vgic can only
 * exist where the host GIC has a v2 CPU interface to lend (GIC-400, or a GICv3 with
 * GICv2 compatibility), so auto tries v3 first.
 */
#include <errno.h>
#include <stdio.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "gic.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../vmm/vm.h"

struct gic_ops {
	enum arm_gic_version version;
	const char *name;
	uint32_t kvm_type;
	unsigned int max_vcpus;
	/* Place the regions; a refusal says why in (why, why_len). */
	int (*set_layout)(int fd, unsigned int nr_vcpus, char *why, size_t why_len);
	void (*describe)(unsigned int nr_vcpus, struct arm_fdt_params *p);
};

static int gic_set_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int gic_set_addr(int fd, uint64_t type, uint64_t addr, const char *what, char *why,
			size_t why_len)
{
	int ret = gic_set_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, type, &addr);

	if (ret)
		snprintf(why, why_len, "vgic: setting the %s address 0x%llx: %s", what,
			 (unsigned long long)addr, strerror(-ret));
	return ret;
}

static int gic_v2_set_layout(int fd, unsigned int nr_vcpus, char *why, size_t why_len)
{
	int ret;

	(void)nr_vcpus;
	ret = gic_set_addr(fd, KVM_VGIC_V2_ADDR_TYPE_DIST, ARM_GIC_DIST_ADDR, "distributor", why,
			   why_len);
	if (!ret)
		ret = gic_set_addr(fd, KVM_VGIC_V2_ADDR_TYPE_CPU, ARM_GIC_CPU_ADDR,
				   "CPU interface", why, why_len);
	return ret;
}

static void gic_v2_describe(unsigned int nr_vcpus, struct arm_fdt_params *p)
{
	(void)nr_vcpus;
	p->gic_cpu_addr = ARM_GIC_CPU_ADDR;
	p->gic_cpu_size = ARM_GIC_CPU_SIZE;
}

static int gic_v3_set_layout(int fd, unsigned int nr_vcpus, char *why, size_t why_len)
{
	int ret;

	(void)nr_vcpus; /* KVM sizes the redistributor region by the vCPUs at CTRL_INIT */
	ret = gic_set_addr(fd, KVM_VGIC_V3_ADDR_TYPE_DIST, ARM_GIC_DIST_ADDR, "distributor", why,
			   why_len);
	if (!ret)
		ret = gic_set_addr(fd, KVM_VGIC_V3_ADDR_TYPE_REDIST, ARM_GIC_REDIST_ADDR,
				   "redistributor", why, why_len);
	return ret;
}

static void gic_v3_describe(unsigned int nr_vcpus, struct arm_fdt_params *p)
{
	p->gic_redist_addr = ARM_GIC_REDIST_ADDR;
	p->gic_redist_size = nr_vcpus * ARM_GIC_REDIST_STRIDE;
}

static const struct gic_ops gic_v2_ops = {
	.version = ARM_GIC_V2,
	.name = "GICv2",
	.kvm_type = KVM_DEV_TYPE_ARM_VGIC_V2,
	.max_vcpus = ARM_GICV2_MAX_VCPUS,
	.set_layout = gic_v2_set_layout,
	.describe = gic_v2_describe,
};

static const struct gic_ops gic_v3_ops = {
	.version = ARM_GIC_V3,
	.name = "GICv3",
	.kvm_type = KVM_DEV_TYPE_ARM_VGIC_V3,
	.max_vcpus = ARCH_MAX_VCPUS,
	.set_layout = gic_v3_set_layout,
	.describe = gic_v3_describe,
};

static const struct gic_ops *gic_ops_of(const struct vm *vm)
{
	return vm->arch.gic == ARM_GIC_V2 ? &gic_v2_ops : &gic_v3_ops;
}

/* (why) NULL: quietly, for auto's first try. */
static int gic_try_create(struct vm *vm, const struct gic_ops *ops, char *why, size_t why_len)
{
	struct kvm_create_device dev = { .type = ops->kvm_type };

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		int err = -errno;

		if (why)
			snprintf(why, why_len, "vgic: KVM cannot create a %s here (%s)%s",
				 ops->name, strerror(-err),
				 ops->version == ARM_GIC_V2
					 ? "; the host GIC needs a GICv2 CPU interface (GIC-400, "
					   "or GICv3 with v2 compatibility)"
					 : "");
		return err;
	}
	vm->arch.gic_fd = dev.fd;
	vm->arch.gic = ops->version;
	return 0;
}

int gic_create(struct vm *vm, char *why, size_t why_len)
{
	const struct gic_ops *ops;
	enum arm_gic_version want = vm->cfg->arch.gic;
	int ret;

	if (want == 0) {
		/* auto: v3 if KVM can, else v2 */
		ret = gic_try_create(vm, &gic_v3_ops, NULL, 0);
		if (ret)
			ret = gic_try_create(vm, &gic_v2_ops, why, why_len);
	} else {
		ret = gic_try_create(vm, want == ARM_GIC_V2 ? &gic_v2_ops : &gic_v3_ops, why,
				     why_len);
	}
	if (ret)
		return ret;
	ops = gic_ops_of(vm);
	if (vm->cfg->vcpus > ops->max_vcpus) {
		snprintf(why, why_len, "--vcpus %u: a %s serves at most %u vCPUs", vm->cfg->vcpus,
			 ops->name, ops->max_vcpus);
		return -EINVAL;
	}
	log_info(vm->log, "interrupt controller: %s", ops->name);
	return ops->set_layout(vm->arch.gic_fd, vm->cfg->vcpus, why, why_len);
}

int gic_finalize(struct vm *vm)
{
	uint32_t nr_irqs = ARM_GIC_NR_IRQS;
	int ret;

	ret = gic_set_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret) {
		log_err(vm->log, "vgic: setting %u interrupts: %s", nr_irqs, strerror(-ret));
		return ret;
	}
	ret = gic_set_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
			   NULL);
	if (ret)
		log_err(vm->log, "vgic: initialising the %s: %s", gic_ops_of(vm)->name,
			strerror(-ret));
	return ret;
}

void gic_destroy(struct vm *vm)
{
	/* (gic) is set only with a created device: a VM that failed earlier has no fd here. */
	if (vm->arch.gic)
		close(vm->arch.gic_fd);
	vm->arch.gic = 0;
	vm->arch.gic_fd = -1;
}

void gic_describe(const struct vm *vm, struct arm_fdt_params *p)
{
	p->gic = vm->arch.gic;
	p->gic_dist_addr = ARM_GIC_DIST_ADDR;
	p->gic_dist_size = ARM_GIC_DIST_SIZE;
	gic_ops_of(vm)->describe(vm->nr_vcpus, p);
}
