/* A virtual machine: every piece of state ember has for one guest hangs off struct vm. */
#ifndef EMBER_VMM_VM_H
#define EMBER_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot.h"
#include "bus.h"
#include "console.h"
#include "memory.h"
#include "../arch/arch.h"
#include "../config/vm_config.h"
#include "../devices/boot_timer.h"
#include "../util/eventloop.h"
#include "../virtio/blk.h"
#include "../virtio/balloon.h"
#include "../virtio/net.h"
#include "../virtio/vsock.h"
#include "../virtio/throttle.h"

struct vcpu;
struct virtio_rng;
struct virtio_blk;
struct serial;
struct i8042;

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

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,	  /* the guest reset or triple-faulted */
	VM_STOP_SHUTDOWN, /* the guest powered off */
	VM_STOP_SIGNAL,	  /* SIGTERM / SIGINT / SIGHUP */
	VM_STOP_ERROR,	  /* a VMM or KVM error */
};

struct vm {
	struct vm_config cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct bus pio_bus;
	struct bus mmio_bus;
	struct vcpu *vcpus;
	unsigned int nr_vcpus; /* created so far */
	struct boot_info boot;
	struct arch_vm arch;

	struct serial *serial;
	struct i8042 *i8042;
	struct boot_timer boot_timer;
	struct virtio_rng *rng;
	struct virtio_blk *disks[VM_MAX_DISKS];
	unsigned int nr_disks; /* created so far */
	struct virtio_net *nets[VM_MAX_NETS];
	struct virtio_balloon *balloon;
	struct virtio_vsock *vsock;

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

	/* Device work, console input and signals: all on the main thread's loop. */
	struct event_loop loop;
	struct console console;

	/* Stop protocol: the first stop reason wins; stop_fd wakes the main loop. */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
	/* Pause protocol, under stop_lock: vCPUs park on pause_cond while pause_requested. */
	pthread_cond_t pause_cond;
	bool pause_requested;
	unsigned int vcpus_parked;
	int stop_fd;
	struct event_source stop_src;
	int signal_fd;
	struct event_source signal_src;
};

/*
 * Build the VM described by (cfg): KVM, memory, devices, kernel, vCPUs. On failure
 * everything built so far is undone, the reason is logged, and -errno returned.
 */
int vm_build(struct vm *vm, const struct vm_config *cfg, uint64_t start_us);

/* Run until the guest or a signal stops it. Returns the process exit status. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

/* Ask every vCPU to stop with (reason). Safe from any thread; the first reason sticks. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);

/*
 * Park every vCPU outside KVM_RUN (PATCH /vm Paused); devices keep running. 0 once all are
 * parked, -ETIMEDOUT (and nothing paused) if one does not come out, -ESHUTDOWN if stopping.
 */
int vm_pause(struct vm *vm);

/* Let parked vCPUs run again. */
void vm_resume(struct vm *vm);

/* Called by each vCPU thread between runs: parks it while a pause is requested. */
void vm_vcpu_park(struct vm *vm);

/*
 * Block the signals that stop the VM cleanly (SIGTERM, SIGINT, SIGHUP, SIGQUIT) in this
 * thread and the threads it creates later; a signalfd that reads them, or -1 (errno).
 */
int vm_stop_signals_fd(void);

/* Whether a stop has been requested. */
bool vm_stopping(struct vm *vm);

/* Hand out the next MMIO slot of (size) bytes and its interrupt line. 0 or -ENOSPC. */
int vm_alloc_mmio_slot(struct vm *vm, uint64_t size, uint64_t *addr, unsigned int *irq);

/* (De)register (fd) to be signalled by a (len)-byte guest write of (datamatch) at (addr). */
int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd,
		 bool assign);

/*
 * (De)register (fd) so that writing it raises interrupt line (gsi). Before the irqchip
 * can take irqfds (arch_irqfd_ready), the request is kept and carried out by vm_build
 * once the vCPUs exist. Where ember drives the lines (vm->irq_lines), the event loop
 * reads (fd) and triggers the line.
 */
int vm_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign);

/* Drive interrupt line (gsi) to (level) on the VM's irqchip (an irq_line callback). */
void vm_irq_set(void *vm, unsigned int gsi, int level);

#endif
