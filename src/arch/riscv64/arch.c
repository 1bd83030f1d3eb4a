/*
 * The riscv64 machine: RAM at 2 GiB, a 16550 on MMIO, SBI (in KVM) for timers, IPIs and
 * hart power, and a device tree. Interrupts go through KVM's AIA where it has one, else
 * through a PLIC that ember emulates and wires to each hart's external interrupt.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "aia.h"
#include "fdt_tree.h"
#include "../arch.h"
#include "../../devices/plic.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

void arch_host_check(struct logger *log)
{
	/* KVM on riscv64 says what it lacks through its ioctls; nothing to guess here. */
	(void)log;
}

int arch_mem_layout(uint64_t ram_size, struct mem_region *regions, unsigned int *nr)
{
	/* The FDT takes the last 2 MiB; the kernel needs room below it. */
	if (ram_size < 2 * RISCV_FDT_MAX_SIZE || ram_size > 1024 * GiB)
		return -EINVAL;
	regions[0] = (struct mem_region){ .gpa = RISCV_RAM_BASE, .size = ram_size };
	*nr = 1;
	return 0;
}

/*
 * The PLIC's output for context (context), hart (context)'s S-level external interrupt:
 * KVM_INTERRUPT, which KVM takes from any thread.
 */
static void plic_line_to_hart(void *opaque, unsigned int context, bool level)
{
	struct vm *vm = opaque;
	struct kvm_interrupt irq = { .irq = level ? KVM_INTERRUPT_SET : KVM_INTERRUPT_UNSET };

	if (context >= vm->nr_vcpus)
		return; /* no hart yet: nothing runs that could have raised it */
	if (ioctl(vm->vcpus[context].fd, KVM_INTERRUPT, &irq) < 0)
		log_warn(vm->log, "vCPU %u: KVM_INTERRUPT", context);
}

static void plic_irq_set_level(void *chip, unsigned int line, int level)
{
	plic_set_level(chip, line, level);
}

static void plic_irq_trigger(void *chip, unsigned int line)
{
	plic_trigger(chip, line);
}

static const struct irq_lines_ops plic_irqchip_ops = {
	.set_level = plic_irq_set_level,
	.trigger = plic_irq_trigger,
};

static int plic_setup(struct vm *vm, char *why, size_t why_len)
{
	int ret;

	if (vm->cfg->vcpus > PLIC_MAX_CONTEXTS) {
		snprintf(why, why_len, "--vcpus %u: the PLIC serves at most %d harts",
			 vm->cfg->vcpus, PLIC_MAX_CONTEXTS);
		return -EINVAL;
	}
	vm->arch.plic = plic_create(vm->cfg->vcpus, plic_line_to_hart, vm, vm->log);
	if (!vm->arch.plic)
		return -errno;
	ret = bus_register(&vm->mmio_bus, RISCV_PLIC_ADDR, PLIC_SPAN(vm->cfg->vcpus), &plic_ops,
			   vm->arch.plic, "plic");
	if (ret) {
		plic_destroy(vm->arch.plic);
		vm->arch.plic = NULL;
		return ret;
	}
	vm->arch.irqchip = RISCV_IRQCHIP_PLIC;
	vm->plumbing.irq_lines = &plic_irqchip_ops;
	vm->plumbing.irq_lines_opaque = vm->arch.plic;
	return 0;
}

int arch_config_option(struct arch_config *cfg, const char *name, const char *value, char *why,
		       size_t why_len)
{
	if (strcmp(name, "irqchip"))
		return -ENOENT;
	if (!strcmp(value, "auto"))
		cfg->irqchip = 0;
	else if (!strcmp(value, "plic"))
		cfg->irqchip = RISCV_IRQCHIP_PLIC;
	else if (!strcmp(value, "aia"))
		cfg->irqchip = RISCV_IRQCHIP_AIA;
	else {
		snprintf(why, why_len, "--irqchip %s: must be plic, aia or auto", value);
		return -EINVAL;
	}
	return 0;
}

/* --irqchip: aia needs KVM's; auto takes it where there is one, else the PLIC. */
int arch_vm_init(struct vm *vm, char *why, size_t why_len)
{
	enum riscv_irqchip want = vm->cfg->arch.irqchip;
	int ret;

	if (want != RISCV_IRQCHIP_PLIC) {
		ret = aia_create(vm);
		if (ret != -ENODEV)
			goto out;
		if (want == RISCV_IRQCHIP_AIA) {
			snprintf(why, why_len, "--irqchip aia: this KVM has no in-kernel AIA "
				 "(Linux 6.5 or later, on a host with Ssaia)");
			return -ENODEV;
		}
	}
	ret = plic_setup(vm, why, why_len);
out:
	if (!ret)
		log_info(vm->log, "interrupt controller: %s",
			 vm->arch.irqchip == RISCV_IRQCHIP_AIA ? "AIA (KVM's APLIC + IMSIC)"
							       : "PLIC (emulated)");
	return ret;
}

void arch_vm_destroy(struct vm *vm)
{
	aia_destroy(vm);
	plic_destroy(vm->arch.plic);
	vm->arch.plic = NULL;
	vm->arch.irqchip = 0;
	vm->plumbing.irq_lines = NULL;
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
	(void)vm; /* the device tree lists every hart: arch_vm_finalize writes it */
	return 0;
}

bool arch_irqfd_ready(const struct vm *vm)
{
	(void)vm; /* never asked: ember drives the lines of both irqchips (irq_lines) */
	return true;
}

static void riscv_describe(const struct vm *vm, struct riscv_fdt_params *p)
{
	unsigned int i;

	p->nr_cpus = vm->nr_vcpus;
	p->isa = vm->arch.isa;
	p->timebase_hz = (uint32_t)vm->arch.timebase_hz;
	p->ram_base = vm->mem.regions[0].gpa;
	p->ram_size = vm->mem.regions[0].size;
	p->cmdline = vm->boot.cmdline;
	p->initrd_addr = vm->boot.initrd_addr;
	p->initrd_size = vm->boot.initrd_size;
	p->irqchip = vm->arch.irqchip;
	p->plic_addr = RISCV_PLIC_ADDR;
	p->plic_size = PLIC_SPAN(vm->nr_vcpus);
	p->plic_nr_sources = PLIC_NR_SOURCES;
	p->aplic_addr = RISCV_APLIC_ADDR;
	p->aplic_size = RISCV_APLIC_SIZE;
	p->imsic_addr = RISCV_IMSIC_ADDR;
	p->imsic_size = riscv_imsic_size(vm->nr_vcpus);
	p->aia_nr_ids = vm->arch.aia_nr_ids;
	p->aia_nr_sources = RISCV_NR_IRQS - 1;
	p->uart = (struct riscv_mmio_node){ RISCV_UART_ADDR, RISCV_UART_SIZE, RISCV_UART_IRQ };
	p->uart_clock = RISCV_UART_CLOCK;
	for (i = 0; i < vm->plumbing.nr_mmio_devs && i < RISCV_FDT_MAX_VIRTIO; i++)
		p->virtio[i] = (struct riscv_mmio_node){ vm->plumbing.mmio_devs[i].addr,
							 vm->plumbing.mmio_devs[i].size,
							 vm->plumbing.mmio_devs[i].irq };
	p->nr_virtio = vm->plumbing.nr_mmio_devs;
}

/*
 * The AIA (its IMSICs belong to vCPUs), then the device tree, which lists every hart (not
 * for a restore).
 */
int arch_vm_finalize(struct vm *vm)
{
	struct riscv_fdt_params *p;
	uint8_t *blob;
	char reason[160];
	size_t len;
	int ret;

	if (vm->arch.irqchip == RISCV_IRQCHIP_AIA) {
		ret = aia_finalize(vm);
		if (ret)
			return ret;
	}
	/* Restoring: the guest's RAM, device tree and all, comes from the snapshot. */
	if (vm->restoring)
		return 0;
	if (vm->arch.timebase_hz > UINT32_MAX) {
		log_err(vm->log, "KVM's timebase, %llu Hz, does not fit the device tree's 32 bits",
			(unsigned long long)vm->arch.timebase_hz);
		return -ERANGE;
	}
	log_info(vm->log, "%u harts \"%s\", timebase %llu Hz", vm->nr_vcpus, vm->arch.isa,
		 (unsigned long long)vm->arch.timebase_hz);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	riscv_describe(vm, p);
	ret = riscv_fdt_build(p, RISCV_FDT_MAX_SIZE, &blob, &len, reason, sizeof(reason));
	free(p);
	if (ret) {
		log_err(vm->log, "building the device tree: %s", reason);
		return ret;
	}
	ret = boot_write_fdt(vm, vm->boot.arch.fdt_addr, blob, len);
	free(blob);
	return ret;
}
