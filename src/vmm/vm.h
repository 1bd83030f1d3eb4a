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
	struct arch_vm arch;
	struct vm_plumbing plumbing;

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
};

/*
 * The first half of a build, before any device: memory, the kernel, KVM and its irqchip
 * for (cfg), logging to (log); both must outlive the VM. 0, or -errno with the reason in
 * (why, why_len); on failure vm_destroy undoes what was built.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct logger *log, char *why,
	      size_t why_len);

/*
 * The second half, with every device in place: the boot structures (which announce the
 * devices), the vCPUs, the arch's last step and the irqfds kept until then. As above.
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

#endif
