/*
 * A virtual machine: KVM, guest memory, vCPUs, the buses and the interrupt wiring. The
 * devices on its buses belong to the machine that built it (src/machine).
 */
#ifndef EMBER_VMM_VM_H
#define EMBER_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "bus.h"
#include "coalesced.h"
#include "memory.h"
#include "plumbing.h"
#include "../arch/arch.h"
#include "../config/vm_config.h"
#include "../seccomp/confine.h"
#include "../util/eventloop.h"
#include "../util/log.h"

struct vcpu;

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,	  /* the guest reset or triple-faulted */
	VM_STOP_SHUTDOWN, /* the guest powered off */
	VM_STOP_SIGNAL,	  /* SIGTERM / SIGINT / SIGHUP */
	VM_STOP_ERROR,	  /* a VMM or KVM error */
};

/*
 * A VM restored from a snapshot rather than booted: no kernel is loaded and no boot
 * structure written, and its RAM comes from the snapshot's memory file.
 */
struct vm_restore {
	/* File backend: the memory file, mapped MAP_PRIVATE (the VM keeps no descriptor). */
	int mem_fd;
	/*
	 * Uffd backend (mem_fd -1): RAM is anonymous and registered with a userfaultfd, which
	 * goes with the regions' mappings to the page-fault handler listening on this socket.
	 */
	const char *uffd_socket;
};

struct vm {
	const struct vm_config *cfg; /* the caller's, which outlives the VM */
	struct logger *log;	     /* the owner's, which outlives the VM */
	/* The owner's filters, which each vCPU thread installs on itself; NULL: unconfined. */
	struct seccomp_filters *seccomp;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct bus pio_bus;
	struct bus mmio_bus;
	struct vcpu *vcpus;
	unsigned int nr_vcpus; /* created so far */
	struct boot_info boot;
	bool restoring; /* built by vm_create from a struct vm_restore: nothing to boot */
	int uffd;	/* the Uffd backend's userfaultfd, or -1 */
	int uffd_sock;	/* its page-fault handler's connection, or -1 */
	struct arch_vm arch;
	struct vm_plumbing plumbing;
	struct vm_coalesced coalesced;

	/* Device work, console input and signals: all on the main thread's loop. */
	struct event_loop loop;

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
	/* --realtime: a vCPU thread was refused SCHED_FIFO (warned once, not per vCPU). */
	int realtime_refused; /* an int: riscv64 has no 1-byte atomic exchange */
};

/*
 * The first half of a build, before any device: memory, the kernel, KVM and its irqchip
 * for (cfg), logging to (log); both must outlive the VM. With (from), the memory comes
 * from a snapshot instead and no kernel is loaded. With cfg->track_dirty_pages, KVM logs
 * the guest's writes and guest memory marks ember's. 0, or -errno with the reason in
 * (why, why_len); on failure vm_destroy undoes what was built.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct logger *log,
	      const struct vm_restore *from, char *why, size_t why_len);

/*
 * The second half, with every device in place: the boot structures (which announce the
 * devices; not when restoring), the vCPUs, the arch's last step and the irqfds kept until
 * then. As above.
 */
int vm_finish(struct vm *vm, char *why, size_t why_len);

/*
 * Watch the stop signals (blocked from here on: a SIGTERM is a clean stop) and the stop
 * eventfd on the VM's loop. 0 or -errno.
 */
int vm_watch_stops(struct vm *vm);

/* Start the vCPU threads. One that cannot start stops the VM with an error (logged). */
void vm_start_vcpus(struct vm *vm);

/* After a stop: bring every vCPU thread home. Returns the process exit status. */
int vm_join(struct vm *vm);

/* Destroy the vCPUs (first, so no device sees a request after this). Idempotent. */
void vm_destroy_vcpus(struct vm *vm);

/* Undo whatever vm_create and vm_finish did, vCPUs included. */
void vm_destroy(struct vm *vm);

/* Ask every vCPU to stop with (reason). Safe from any thread; the first reason sticks. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);

/*
 * Park every vCPU outside KVM_RUN (PATCH /vm Paused); devices keep running. 0 once all are
 * parked, -ETIMEDOUT (and nothing paused) if one does not come out, -ESHUTDOWN if stopping.
 */
int vm_pause(struct vm *vm);

/* Before the vCPUs start: have each park before its first KVM_RUN (a Paused restore). */
void vm_pause_at_start(struct vm *vm);

/* Let parked vCPUs run again. */
void vm_resume(struct vm *vm);

/* Called by each vCPU thread between runs: parks it while a pause is requested. */
void vm_vcpu_park(struct vm *vm);

/*
 * Block the signals that stop the VM cleanly (SIGTERM, SIGINT, SIGHUP, SIGQUIT) in this
 * thread and the threads it creates later; a signalfd that reads them, or -1 (errno).
 */
int vm_stop_signals_fd(void);

/*
 * With dirty tracking on: KVM's log of the pages the guest wrote in memory region (i) since
 * the last call, one bit per page, into (kvm_bitmap) (zeroed 64-bit words enough for the
 * region), and the log starts again. ember's own writes are in guest memory's bitmaps
 * (guest_mem_page_dirty). 0 or -errno.
 */
int vm_dirty_log_take(struct vm *vm, unsigned int i, uint64_t *kvm_bitmap);

/* Whether a stop has been requested. */
bool vm_stopping(struct vm *vm);

#endif
