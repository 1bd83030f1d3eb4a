/*
 * How a device is wired into a VM: its MMIO slot, the interrupt line it raises (directly or
 * through an irqfd) and the ioeventfds its queue notifications arrive on. Devices ask for
 * these; the VM decides how each is delivered (KVM's irqchip, or lines ember drives).
 */
#ifndef EMBER_VMM_PLUMBING_H
#define EMBER_VMM_PLUMBING_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/eventloop.h"

struct vm;

#define VM_MAX_MMIO_DEVS 16

/* A device on the MMIO bus that the guest must be told about (command line, ACPI, FDT). */
struct vm_mmio_dev {
	uint64_t addr;
	uint64_t size;
	unsigned int irq;
};

/* An irqfd waiting for the irqchip to take it (see vm_irqfd). */
struct vm_irqfd {
	unsigned int gsi;
	int fd;
};

/*
 * Interrupt lines that ember drives itself instead of through KVM_IRQ_LINE and KVM_IRQFD:
 * an irqchip it emulates (riscv64's PLIC where KVM has none), or one whose irqfds do not
 * fit (KVM's riscv AIA: an irqfd write only ever raises its APLIC input and never lowers
 * it, so an edge-triggered source sees a single edge). set_level drives a line; trigger
 * is one edge, for an irqfd write. Both may be called from any thread.
 */
struct irq_lines_ops {
	void (*set_level)(void *chip, unsigned int line, int level);
	void (*trigger)(void *chip, unsigned int line);
};

/* An irqfd that ember serves itself: the event loop reads it and triggers the line. */
struct vm_line_irqfd {
	struct event_source src;
	struct vm *vm;
	unsigned int line;
};

/* The wiring state of one VM (a member of struct vm). */
struct vm_plumbing {
	/* MMIO slots handed out so far, in order, for the arch to announce. */
	struct vm_mmio_dev mmio_devs[VM_MAX_MMIO_DEVS];
	unsigned int nr_mmio_devs;
	struct vm_irqfd pending_irqfds[VM_MAX_MMIO_DEVS];
	unsigned int nr_pending_irqfds;
	/* Set by arch_vm_init when ember drives the lines itself; NULL: KVM's irqfds. */
	const struct irq_lines_ops *irq_lines;
	void *irq_lines_opaque;
	struct vm_line_irqfd line_irqfds[VM_MAX_MMIO_DEVS];
	unsigned int nr_line_irqfds;
};

/* Hand out the next MMIO slot of (size) bytes and its interrupt line. 0 or -ENOSPC. */
int vm_alloc_mmio_slot(struct vm *vm, uint64_t size, uint64_t *addr, unsigned int *irq);

/* (De)register (fd) to be signalled by a (len)-byte guest write of (datamatch) at (addr). */
int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd,
		 bool assign);

/*
 * (De)register (fd) so that writing it raises interrupt line (gsi). Before the irqchip
 * can take irqfds (arch_irqfd_ready), the request is kept and carried out by
 * vm_irqfds_flush once the vCPUs exist. Where ember drives the lines (irq_lines), the
 * event loop reads (fd) and triggers the line.
 */
int vm_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign);

/* Assign the irqfds kept until the irqchip could take them. 0 or -errno. */
int vm_irqfds_flush(struct vm *vm);

/* Drive interrupt line (gsi) to (level) on the VM's irqchip (an irq_line callback). */
void vm_irq_set(void *vm, unsigned int gsi, int level);

#endif
