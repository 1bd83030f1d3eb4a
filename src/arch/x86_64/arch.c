/*
 * x86_64 machine: memory layout, in-kernel irqchip and PIT, virtio-mmio devices on the
 * command line when the guest has no ACPI tables to find them in.
 */
#include <ctype.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

void arch_host_check(struct logger *log)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int found = 0;

	if (!f)
		return;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5))
			found = strstr(line, " vmx") || strstr(line, " svm") ? 1 : -1;
	fclose(f);
	if (found < 0)
		log_warnx(log, "this CPU shows no vmx/svm flag: /dev/kvm may be emulated, and "
			  "guest code may run slowly");
}

int arch_mem_layout(uint64_t ram_size, struct mem_region *regions, unsigned int *nr)
{
	uint64_t low = MIN(ram_size, X86_MMIO_HOLE_START);

	if (ram_size < 2 * MiB)
		return -EINVAL;
	regions[0] = (struct mem_region){ .gpa = 0, .size = low };
	*nr = 1;
	if (ram_size > low) {
		regions[1] = (struct mem_region){ .gpa = X86_MMIO_HOLE_END, .size = ram_size - low };
		*nr = 2;
	}
	return 0;
}

int arch_config_option(struct arch_config *cfg, const char *name, const char *value, char *why,
		       size_t why_len)
{
	(void)cfg;
	(void)name;
	(void)value;
	(void)why;
	(void)why_len; /* the in-kernel PIC, I/O APIC and LAPIC are the only irqchip */
	return -ENOENT;
}

int arch_vm_init(struct vm *vm, char *why, size_t why_len)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = X86_IDENTITY_MAP_ADDR;

	(void)why;
	(void)why_len; /* nothing here is the user's to fix: the caller names the step */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0) {
		log_warn(vm->log, "KVM_SET_TSS_ADDR");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		log_warn(vm->log, "KVM_SET_IDENTITY_MAP_ADDR");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_warn(vm->log, "KVM_CREATE_IRQCHIP");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_warn(vm->log, "KVM_CREATE_PIT2");
		return -errno;
	}
	vm->arch.have_pit = 1;
	return 0;
}

void arch_vm_destroy(struct vm *vm)
{
	(void)vm; /* the irqchip and PIT go with the VM fd */
}

/* Whether (cmdline) has the word "acpi=off": such a kernel finds nothing in the tables. */
static bool cmdline_acpi_off(const char *cmdline)
{
	const char *p = cmdline;
	size_t n = strlen("acpi=off");

	while ((p = strstr(p, "acpi=off"))) {
		bool starts = p == cmdline || isspace((unsigned char)p[-1]);
		bool ends = p[n] == '\0' || isspace((unsigned char)p[n]);

		if (starts && ends)
			return true;
		p += n;
	}
	return false;
}

int arch_cmdline_devices(const struct vm *vm, char *buf, size_t size)
{
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	/*
	 * With ACPI the guest finds the devices in the DSDT; listing them here too would make
	 * a kernel with both ways register each twice. Without it, Linux's virtio_mmio driver
	 * takes them from the command line (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
	 */
	if (vm->cfg->acpi && !vm->cfg->virtio_mmio_cmdline && !cmdline_acpi_off(vm->boot.cmdline))
		return 0;
	for (i = 0; i < vm->plumbing.nr_mmio_devs; i++) {
		const struct vm_mmio_dev *d = &vm->plumbing.mmio_devs[i];
		int n = snprintf(buf + len, size - len, " virtio_mmio.device=%lluK@0x%llx:%u",
				 (unsigned long long)(d->size / 1024), (unsigned long long)d->addr,
				 d->irq);

		if (n < 0 || (size_t)n >= size - len)
			return -E2BIG;
		len += n;
	}
	return len;
}

int arch_vm_finalize(struct vm *vm)
{
	(void)vm; /* the boot tables are written; the vCPUs need nothing more */
	return 0;
}

bool arch_irqfd_ready(const struct vm *vm)
{
	(void)vm; /* the in-kernel PIC and I/O APIC take irqfds from KVM_CREATE_IRQCHIP on */
	return true;
}

int arch_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		/* With an in-kernel LAPIC KVM handles HLT; seeing one means interrupts are dead. */
		log_err(vcpu->vm->log, "vCPU %u: halted with no way to wake", vcpu->id);
		return -EINVAL;
	default:
		log_err(vcpu->vm->log, "vCPU %u: unhandled KVM exit %u", vcpu->id,
			run->exit_reason);
		return -EINVAL;
	}
}
