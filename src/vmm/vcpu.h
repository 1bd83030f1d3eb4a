/* A vCPU: one KVM vCPU fd, its shared kvm_run page, and the thread that runs it. */
#ifndef EMBER_VMM_VCPU_H
#define EMBER_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "../arch/arch.h"

struct vm;

/* Firecracker's vcpu metrics: exits by kind, written by the vCPU's thread (relaxed atomics). */
struct vcpu_metrics {
	uint64_t exit_io_in, exit_io_out;
	uint64_t exit_mmio_read, exit_mmio_write;
	uint64_t failures;
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	struct vcpu_metrics metrics;
	struct arch_vcpu arch;
};

/* Create vCPU (id) of (vm) and set it up for boot. 0 or -errno. */
int vcpu_create(struct vm *vm, unsigned int id, struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Start the vCPU's thread. 0 or -errno. */
int vcpu_start(struct vcpu *vcpu);

/* Make a running vCPU leave KVM_RUN soon; it then sees the VM is stopping. */
void vcpu_kick(struct vcpu *vcpu);

/*
 * Read or write one of the vCPU's registers by its KVM_{GET,SET}_ONE_REG id; (val) holds
 * as many bytes as the id's size field says. (name) is for the log. 0 or -errno.
 */
int vcpu_reg_get(struct vcpu *vcpu, uint64_t id, void *val, const char *name);
int vcpu_reg_set(struct vcpu *vcpu, uint64_t id, const void *val, const char *name);

/* Install the (empty) handler for the kick signal. Once per process, from main. */
int vcpu_signal_setup(void);

#endif
