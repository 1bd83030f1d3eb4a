/*
 * KVM's AIA device. The order is KVM's: create it before any vCPU runs; then, with every
 * vCPU created (each IMSIC address belongs to one), set the number of sources, the hart
 * bits, the APLIC and IMSIC addresses, and CTRL_INIT.
 *
 * Device interrupts do not use KVM's irqfds here: on riscv an irqfd write raises its APLIC
 * input and nothing lowers it again, so a rising-edge source would interrupt only once and
 * a level one would never stop. ember reads the irqfds in its event loop and pulses the
 * line with KVM_IRQ_LINE instead.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "aia.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../vmm/vm.h"

/* Linux 6.5's uapi; Debian 12's cross headers are 6.1's and predate it. */
#ifndef KVM_DEV_RISCV_AIA_GRP_CONFIG
#define KVM_DEV_TYPE_RISCV_AIA		    11
#define KVM_DEV_RISCV_AIA_GRP_CONFIG	    0
#define KVM_DEV_RISCV_AIA_CONFIG_MODE	    0
#define KVM_DEV_RISCV_AIA_CONFIG_IDS	    1
#define KVM_DEV_RISCV_AIA_CONFIG_SRCS	    2
#define KVM_DEV_RISCV_AIA_CONFIG_HART_BITS  5
#define KVM_DEV_RISCV_AIA_GRP_ADDR	    1
#define KVM_DEV_RISCV_AIA_ADDR_APLIC	    0
#define KVM_DEV_RISCV_AIA_ADDR_IMSIC(vcpu)  (1 + (vcpu))
#define KVM_DEV_RISCV_AIA_GRP_CTRL	    2
#define KVM_DEV_RISCV_AIA_CTRL_INIT	    0
#endif

static int aia_attr(struct vm *vm, unsigned long req, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};

	return ioctl(vm->arch.aia_fd, req, &a) < 0 ? -errno : 0;
}

static int aia_set(struct vm *vm, uint32_t group, uint64_t attr, void *val, const char *what)
{
	int ret = aia_attr(vm, KVM_SET_DEVICE_ATTR, group, attr, val);

	if (ret)
		log_err(vm->log, "AIA: setting %s: %s", what, strerror(-ret));
	return ret;
}

static void aia_line_set(void *opaque, unsigned int line, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = line, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn(vm->log, "AIA: KVM_IRQ_LINE %u", line);
}

/* An edge for an irqfd write: up, then down, so that the next write is an edge too. */
static void aia_line_trigger(void *opaque, unsigned int line)
{
	aia_line_set(opaque, line, 1);
	aia_line_set(opaque, line, 0);
}

static const struct irq_lines_ops aia_lines_ops = {
	.set_level = aia_line_set,
	.trigger = aia_line_trigger,
};

int aia_create(struct vm *vm)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_RISCV_AIA };
	uint32_t nr_ids;
	int ret;

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		ret = -errno;
		/* Older KVM knows no such device type; a host without Ssaia refuses it. */
		if (ret == -ENODEV || ret == -ENXIO || ret == -EINVAL)
			return -ENODEV;
		log_err(vm->log, "AIA: KVM_CREATE_DEVICE: %s", strerror(-ret));
		return ret;
	}
	vm->arch.aia_fd = dev.fd;
	ret = aia_attr(vm, KVM_GET_DEVICE_ATTR, KVM_DEV_RISCV_AIA_GRP_CONFIG,
		       KVM_DEV_RISCV_AIA_CONFIG_IDS, &nr_ids);
	if (ret) {
		log_err(vm->log, "AIA: reading the number of IMSIC identities: %s", strerror(-ret));
		close(dev.fd);
		return ret;
	}
	vm->arch.aia_nr_ids = nr_ids;
	vm->arch.irqchip = RISCV_IRQCHIP_AIA;
	/* KVM's irqfds only ever raise an APLIC input: ember pulses the lines itself. */
	vm->plumbing.irq_lines = &aia_lines_ops;
	vm->plumbing.irq_lines_opaque = vm;
	return 0;
}

static unsigned int aia_hart_bits(unsigned int nr_harts)
{
	unsigned int bits = 0;

	while ((1U << bits) < nr_harts)
		bits++;
	return bits;
}

uint64_t aia_imsic_size(unsigned int nr_harts)
{
	return RISCV_IMSIC_PAGE << aia_hart_bits(nr_harts);
}

int aia_finalize(struct vm *vm)
{
	uint32_t nr_sources = RISCV_NR_IRQS - 1, hart_bits = aia_hart_bits(vm->nr_vcpus);
	uint64_t addr = RISCV_APLIC_ADDR;
	unsigned int i;
	int ret;

	ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS,
		      &nr_sources, "the number of sources");
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS,
			      &hart_bits, "the hart index bits");
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, &addr,
			      "the APLIC address");
	for (i = 0; !ret && i < vm->nr_vcpus; i++) {
		addr = RISCV_IMSIC_ADDR + i * RISCV_IMSIC_PAGE;
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i),
			      &addr, "an IMSIC address");
	}
	if (!ret)
		ret = aia_set(vm, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, NULL,
			      "CTRL_INIT");
	return ret;
}

void aia_destroy(struct vm *vm)
{
	if (vm->arch.irqchip == RISCV_IRQCHIP_AIA)
		close(vm->arch.aia_fd);
}
