/* Wiring devices into the VM: MMIO slots, interrupt lines, irqfds and ioeventfds. */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "plumbing.h"
#include "vm.h"
#include "../util/log.h"

void vm_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct vm *vm = opaque;
	struct vm_plumbing *p = &vm->plumbing;
	struct kvm_irq_level irq = { .irq = ARCH_IRQ_LINE(gsi), .level = level };

	if (p->irq_lines) {
		p->irq_lines->set_level(p->irq_lines_opaque, gsi, level);
		return;
	}
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn(vm->log, "KVM_IRQ_LINE %u", gsi);
}

int vm_alloc_mmio_slot(struct vm *vm, uint64_t size, uint64_t *addr, unsigned int *irq)
{
	struct vm_plumbing *p = &vm->plumbing;
	unsigned int n = p->nr_mmio_devs;
	struct vm_mmio_dev *d = &p->mmio_devs[n];

	/* Slot 0 belongs to the boot timer, present or not, as in Firecracker's layout. */
	if (n >= VM_MAX_MMIO_DEVS || ARCH_VIRTIO_IRQ_BASE + n > ARCH_VIRTIO_IRQ_MAX ||
	    size > ARCH_MMIO_SLOT_SIZE)
		return -ENOSPC;
	d->addr = ARCH_MMIO_BASE + (uint64_t)(n + 1) * ARCH_MMIO_SLOT_SIZE;
	d->size = size;
	d->irq = ARCH_VIRTIO_IRQ_BASE + n;
	p->nr_mmio_devs++;
	*addr = d->addr;
	*irq = d->irq;
	return 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd,
		 bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_warn(vm->log, "KVM_IOEVENTFD at 0x%llx", (unsigned long long)addr);
		return -errno;
	}
	return 0;
}

/*
 * An irqfd asked for before the irqchip can take one (arm's vgic refuses them until it is
 * initialised, which needs every vCPU) is kept here and assigned by vm_irqfds_flush().
 */
static int vm_irqfd_defer(struct vm_plumbing *p, unsigned int gsi, int fd, bool assign)
{
	unsigned int i;

	for (i = 0; i < p->nr_pending_irqfds; i++)
		if (p->pending_irqfds[i].gsi == gsi && p->pending_irqfds[i].fd == fd)
			break;
	if (!assign) {
		if (i < p->nr_pending_irqfds)
			p->pending_irqfds[i] = p->pending_irqfds[--p->nr_pending_irqfds];
		return 0;
	}
	if (i < p->nr_pending_irqfds)
		return -EEXIST;
	if (p->nr_pending_irqfds == VM_MAX_MMIO_DEVS)
		return -ENOSPC;
	p->pending_irqfds[p->nr_pending_irqfds++] = (struct vm_irqfd){ gsi, fd };
	return 0;
}

int vm_irqfds_flush(struct vm *vm)
{
	struct vm_plumbing *p = &vm->plumbing;
	int ret;

	while (p->nr_pending_irqfds) {
		const struct vm_irqfd *q = &p->pending_irqfds[p->nr_pending_irqfds - 1];

		ret = vm_irqfd(vm, q->gsi, q->fd, true);
		if (ret)
			return ret;
		p->nr_pending_irqfds--;
	}
	return 0;
}

static void vm_on_line_irqfd(void *opaque, uint32_t events)
{
	struct vm_line_irqfd *u = opaque;
	struct vm_plumbing *p = &u->vm->plumbing;
	uint64_t n;

	(void)events;
	/* However many writes came in, one edge: the guest reads the device's status. */
	if (read(u->src.fd, &n, sizeof(n)) == sizeof(n))
		p->irq_lines->trigger(p->irq_lines_opaque, u->line);
}

/* An irqfd on a line ember drives (irq_lines): served by the event loop, not KVM. */
static int vm_line_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign)
{
	struct vm_plumbing *p = &vm->plumbing;
	struct vm_line_irqfd *u;
	unsigned int i;
	int ret;

	for (i = 0; i < p->nr_line_irqfds; i++)
		if (p->line_irqfds[i].line == gsi && p->line_irqfds[i].src.fd == fd)
			break;
	if (!assign) {
		if (i == p->nr_line_irqfds)
			return 0;
		/* The loop holds pointers into the array: free the slot, move nothing. */
		event_loop_del(&vm->loop, &p->line_irqfds[i].src);
		p->line_irqfds[i].src.fd = -1;
		return 0;
	}
	if (i < p->nr_line_irqfds)
		return -EEXIST;
	if (p->nr_line_irqfds == VM_MAX_MMIO_DEVS)
		return -ENOSPC;
	u = &p->line_irqfds[p->nr_line_irqfds];
	*u = (struct vm_line_irqfd){ { fd, vm_on_line_irqfd, u }, vm, gsi };
	ret = event_loop_add(&vm->loop, &u->src, EPOLLIN);
	if (ret)
		return ret;
	p->nr_line_irqfds++;
	return 0;
}

int vm_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (vm->plumbing.irq_lines)
		return vm_line_irqfd(vm, gsi, fd, assign);
	if (!arch_irqfd_ready(vm))
		return vm_irqfd_defer(&vm->plumbing, gsi, fd, assign);
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn(vm->log, "KVM_IRQFD gsi %u", gsi);
		return -errno;
	}
	return 0;
}
