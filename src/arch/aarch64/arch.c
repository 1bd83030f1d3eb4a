/*
 * The arm64 machine: RAM at 2 GiB, a vgic, a 16550 and a PL031 on MMIO, PSCI for CPU
 * power, and a device tree instead of boot tables.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "fdt_tree.h"
#include "gic.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

void arch_host_check(struct logger *log)
{
	/* KVM on arm64 says what it lacks through its ioctls; nothing to guess here. */
	(void)log;
}

int arch_mem_layout(uint64_t ram_size, struct mem_region *regions, unsigned int *nr)
{
	/* The FDT takes the last 2 MiB; the kernel needs room below it. */
	if (ram_size < 2 * ARM_FDT_MAX_SIZE || ram_size > 1024 * GiB)
		return -EINVAL;
	regions[0] = (struct mem_region){ .gpa = ARM_RAM_BASE, .size = ram_size };
	*nr = 1;
	return 0;
}

int arch_config_option(struct arch_config *cfg, const char *name, const char *value, char *why,
		       size_t why_len)
{
	if (strcmp(name, "gic"))
		return -ENOENT;
	if (!strcmp(value, "auto"))
		cfg->gic = 0;
	else if (!strcmp(value, "v2") || !strcmp(value, "2"))
		cfg->gic = ARM_GIC_V2;
	else if (!strcmp(value, "v3") || !strcmp(value, "3"))
		cfg->gic = ARM_GIC_V3;
	else {
		snprintf(why, why_len, "--gic %s: must be v2, v3 or auto", value);
		return -EINVAL;
	}
	return 0;
}

int arch_vm_init(struct vm *vm, char *why, size_t why_len)
{
	struct kvm_vcpu_init target;

	/* The host's preferred vCPU model, used for every vCPU: KVM emulates no other. */
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &target) < 0) {
		log_warn(vm->log, "KVM_ARM_PREFERRED_TARGET");
		return -errno;
	}
	vm->arch.kvm_target = target.target;
	return gic_create(vm, why, why_len);
}

void arch_vm_destroy(struct vm *vm)
{
	gic_destroy(vm);
}

int arch_cmdline_devices(const struct vm *vm, char *buf, size_t size)
{
	(void)vm;
	(void)size; /* the device tree names every device */
	buf[0] = '\0';
	return 0;
}

int arch_boot_setup(struct vm *vm)
{
	(void)vm; /* the device tree needs every vCPU's MPIDR: arch_vm_finalize writes it */
	return 0;
}

bool arch_irqfd_ready(const struct vm *vm)
{
	return vm->arch.gic_ready;
}

static void arm_describe(const struct vm *vm, struct arm_fdt_params *p)
{
	unsigned int i;

	p->nr_cpus = vm->nr_vcpus;
	for (i = 0; i < vm->nr_vcpus; i++)
		p->mpidr[i] = vm->vcpus[i].arch.mpidr;
	p->ram_base = vm->mem.regions[0].gpa;
	p->ram_size = vm->mem.regions[0].size;
	p->cmdline = vm->boot.cmdline;
	p->initrd_addr = vm->boot.initrd_addr;
	p->initrd_size = vm->boot.initrd_size;
	gic_describe(vm, p);
	p->uart = (struct arm_mmio_node){ ARM_UART_ADDR, ARM_UART_SIZE, ARM_UART_SPI };
	p->uart_clock = ARM_UART_CLOCK;
	p->rtc = (struct arm_mmio_node){ ARM_RTC_ADDR, ARM_RTC_SIZE, ARM_RTC_SPI };
	for (i = 0; i < vm->plumbing.nr_mmio_devs && i < ARM_FDT_MAX_VIRTIO; i++)
		p->virtio[i] = (struct arm_mmio_node){ vm->plumbing.mmio_devs[i].addr,
						       vm->plumbing.mmio_devs[i].size,
						       vm->plumbing.mmio_devs[i].irq };
	p->nr_virtio = vm->plumbing.nr_mmio_devs;
}

/*
 * The vgic, then the device tree: the only boot structure, with the cmdline and initrd. A
 * restored VM's guest RAM already holds the tree it booted with; its vgic is initialised
 * here all the same, as KVM wants before its state can be put back.
 */
int arch_vm_finalize(struct vm *vm)
{
	struct arm_fdt_params *p;
	uint8_t *blob;
	char reason[160];
	size_t len;
	int ret;

	ret = gic_finalize(vm);
	if (ret)
		return ret;
	vm->arch.gic_ready = true;
	if (vm->restoring)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	arm_describe(vm, p);
	ret = arm_fdt_build(p, ARM_FDT_MAX_SIZE, &blob, &len, reason, sizeof(reason));
	free(p);
	if (ret) {
		log_err(vm->log, "building the device tree: %s", reason);
		return ret;
	}
	ret = boot_write_fdt(vm, vm->boot.arch.fdt_addr, blob, len);
	free(blob);
	return ret;
}

int arch_handle_exit(struct vcpu *vcpu)
{
	log_err(vcpu->vm->log, "vCPU %u: unhandled KVM exit %u", vcpu->id, vcpu->run->exit_reason);
	return -EINVAL;
}
