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
#define VM_MAX_DISKS	 8
#define VM_MAX_NETS	 4
#define VM_MAX_MEM_MIB	 (1024 * 1024) /* --memory and machine-config.mem_size_mib */

/* A device on the MMIO bus that the guest must be told about (command line, ACPI, FDT). */
struct vm_mmio_dev {
	uint64_t addr;
	uint64_t size;
	unsigned int irq;
};

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *boot_args;	 /* NULL: the default */
	char *file_strings;	 /* config_file_load()'s copy the three above point into */
	unsigned int vcpus;
	uint64_t mem_mib;
	bool boot_timer;
	bool rng;
	struct throttle_config rng_limit;
	struct disk_config disks[VM_MAX_DISKS]; /* in command-line order: vda, vdb... */
	unsigned int nr_disks;
	struct net_config nets[VM_MAX_NETS];
	unsigned int nr_nets;
	bool balloon;
	struct balloon_config balloon_cfg;
	bool vsock;
	struct vsock_config vsock_cfg;
	enum boot_protocol boot_proto;
	int console_in;	 /* fd read for guest serial input, -1 for none */
	int console_out; /* fd that guest serial output goes to */
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

	/* Device work, console input and signals: all on the main thread's loop. */
	struct event_loop loop;
	struct console console;

	/* Stop protocol: the first stop reason wins; stop_fd wakes the main loop. */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
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

/* Whether a stop has been requested. */
bool vm_stopping(struct vm *vm);

/* Hand out the next MMIO slot of (size) bytes and its interrupt line. 0 or -ENOSPC. */
int vm_alloc_mmio_slot(struct vm *vm, uint64_t size, uint64_t *addr, unsigned int *irq);

/* (De)register (fd) to be signalled by a (len)-byte guest write of (datamatch) at (addr). */
int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned int len, uint64_t datamatch, int fd,
		 bool assign);

/* (De)register (fd) so that writing it raises interrupt line (gsi). */
int vm_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign);

/* Drive interrupt line (gsi) to (level) on the in-kernel irqchip (an irq_line callback). */
void vm_irq_set(void *vm, unsigned int gsi, int level);

#endif
