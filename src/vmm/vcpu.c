#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vcpu.h"
#include "vm.h"
#include "../util/cpus.h"
#include "../util/log.h"
#include "../util/util.h"

/* A real-time signal only interrupts KVM_RUN; its handler does nothing. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 0)
/*
 * --realtime: the lowest SCHED_FIFO priority. It is enough to run ahead of every normal
 * thread on the CPU, and leaves the host's own real-time threads (higher) ahead of it.
 */
#define VCPU_RT_PRIORITY 1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signal_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu *vcpu)
{
	void *run;
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_warn(vm->log, "KVM_CREATE_VCPU %u", id);
		return ret;
	}
	run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		log_warn(vm->log, "mmap of vCPU %u run area", id);
		goto err_close;
	}
	vcpu->run = run;
	ret = arch_vcpu_init(vcpu);
	if (ret)
		goto err_unmap;
	return 0;

err_unmap:
	munmap(vcpu->run, vm->vcpu_mmap_size);
err_close:
	close(vcpu->fd);
	vcpu->fd = -1;
	vcpu->run = NULL;
	return ret;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static int vcpu_one_reg(struct vcpu *vcpu, unsigned long req, uint64_t id, const void *val,
			const char *name)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	if (ioctl(vcpu->fd, req, &reg) < 0) {
		log_warn(vcpu->vm->log, "vCPU %u: %s %s", vcpu->id,
			 req == KVM_GET_ONE_REG ? "reading" : "setting", name);
		return -errno;
	}
	return 0;
}

int vcpu_reg_get(struct vcpu *vcpu, uint64_t id, void *val, const char *name)
{
	return vcpu_one_reg(vcpu, KVM_GET_ONE_REG, id, val, name);
}

int vcpu_reg_set(struct vcpu *vcpu, uint64_t id, const void *val, const char *name)
{
	return vcpu_one_reg(vcpu, KVM_SET_ONE_REG, id, val, name);
}

/* A bus access from (vcpu); the bus has no logger, so an unhandled one is logged here. */
static void vcpu_bus_access(struct vcpu *vcpu, const struct bus *bus, uint64_t addr, void *data,
			    unsigned int len, bool is_write)
{
	if (!bus_access(bus, addr, data, len, is_write))
		log_debug(vcpu->vm->log, "%s: unhandled %s of %u bytes at 0x%llx", bus->name,
			  is_write ? "write" : "read", len, (unsigned long long)addr);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;

	/* A string instruction (rep outsb...) arrives as (count) accesses of (size). */
	for (i = 0; i < run->io.count; i++, data += run->io.size)
		vcpu_bus_access(vcpu, &vcpu->vm->pio_bus, run->io.port, data, run->io.size,
				is_write);
}

static int vcpu_handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		log_info(vcpu->vm->log, "vCPU %u: guest powered off", vcpu->id);
		vm_request_stop(vcpu->vm, VM_STOP_SHUTDOWN);
		return 0;
	case KVM_SYSTEM_EVENT_RESET:
		log_info(vcpu->vm->log, "vCPU %u: guest reset", vcpu->id);
		vm_request_stop(vcpu->vm, VM_STOP_RESET);
		return 0;
	case KVM_SYSTEM_EVENT_CRASH:
		log_err(vcpu->vm->log, "vCPU %u: guest reported a crash", vcpu->id);
		return -EFAULT;
	default:
		log_err(vcpu->vm->log, "vCPU %u: unknown system event %u", vcpu->id,
			vcpu->run->system_event.type);
		return -EINVAL;
	}
}

/* Handle one exit. 0: run again; -errno: stop the VM with an error. */
static int vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	/* The guest's coalesced writes came before this exit: their devices see them first. */
	vm_coalesced_replay(vcpu->vm);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		__atomic_fetch_add(run->io.direction == KVM_EXIT_IO_OUT ? &vcpu->metrics.exit_io_out
									 : &vcpu->metrics.exit_io_in,
				   1, __ATOMIC_RELAXED);
		vcpu_handle_io(vcpu);
		return 0;
	case KVM_EXIT_MMIO:
		__atomic_fetch_add(run->mmio.is_write ? &vcpu->metrics.exit_mmio_write
						      : &vcpu->metrics.exit_mmio_read,
				   1, __ATOMIC_RELAXED);
		vcpu_bus_access(vcpu, &vcpu->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data,
				run->mmio.len <= 8 ? run->mmio.len : 8, run->mmio.is_write);
		return 0;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		/* On x86 a triple fault resets the machine; a reset ends ember. */
		log_info(vcpu->vm->log, "vCPU %u: shutdown exit (triple fault), treating as reset",
			 vcpu->id);
		vm_request_stop(vcpu->vm, VM_STOP_RESET);
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		return vcpu_handle_system_event(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		log_err(vcpu->vm->log, "vCPU %u: KVM entry failed, hardware reason 0x%llx",
			vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return -EIO;
	case KVM_EXIT_INTERNAL_ERROR:
		log_err(vcpu->vm->log, "vCPU %u: KVM internal error, suberror %u", vcpu->id,
			run->internal.suberror);
		return -EIO;
	default:
		return arch_handle_exit(vcpu);
	}
}

/*
 * KVM finishes the exit userspace just handled (an MMIO or port read's value into its
 * register, the SBI call's return values, the pc moved past the instruction) only when it
 * is entered again, and that state is in no register userspace can read. So before a
 * pause, which a snapshot may follow, KVM is entered once with immediate_exit: it finishes
 * the operation and returns EINTR without running the guest.
 */
static void vcpu_finish_exit(struct vcpu *vcpu)
{
	unsigned int i;
	int ret = 0;

	vcpu->run->immediate_exit = 1;
	/*
	 * Finishing one exit may raise the next (the next batch of a `rep ins`, the second
	 * half of a split MMIO access): handle those too, a bounded number of times.
	 */
	for (i = 0; i < 64; i++) {
		ret = ioctl(vcpu->fd, KVM_RUN, 0);
		if (ret < 0)
			break;
		if (vcpu_handle_exit(vcpu) < 0) {
			vm_request_stop(vcpu->vm, VM_STOP_ERROR);
			break;
		}
	}
	if (i == 64 || (ret < 0 && errno != EINTR && errno != EAGAIN))
		log_warn(vcpu->vm->log, "vCPU %u: finishing an exit before the pause", vcpu->id);
	vcpu->run->immediate_exit = 0;
}

/*
 * --realtime, before the thread's seccomp filter (which has no scheduling syscalls). A host
 * that refuses is not an error: the vCPU runs on as a normal thread, and the user is told
 * once why.
 */
static void vcpu_realtime(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	char why[200];

	if (!thread_realtime(VCPU_RT_PRIORITY, why, sizeof(why))) {
		log_info(vm->log, "vCPU %u: SCHED_FIFO priority %d", vcpu->id, VCPU_RT_PRIORITY);
		return;
	}
	if (!__atomic_exchange_n(&vm->realtime_refused, 1, __ATOMIC_RELAXED))
		log_warnx(vm->log, "--realtime: %s; the vCPU threads run SCHED_OTHER instead", why);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	bool exit_handled = false; /* KVM has yet to finish the last exit */
	char name[16];
	sigset_t set;
	int ret;

	/* Named for ps, logs and fault reports; confined before its first KVM_RUN. */
	snprintf(name, sizeof(name), "ember_vcpu %u", vcpu->id);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	if (vm->cfg->realtime)
		vcpu_realtime(vcpu);
	ret = seccomp_thread_enter(vm->seccomp, SECCOMP_VCPU);
	if (ret) {
		log_err(vm->log, "vCPU %u: seccomp filter: %s", vcpu->id, strerror(-ret));
		vm_request_stop(vm, VM_STOP_ERROR);
		return NULL;
	}
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (vcpu->id == 0)
		log_info(vcpu->vm->log, "first KVM_RUN: monotonic %llu us, CPU %llu us",
			 (unsigned long long)now_us(), (unsigned long long)cpu_us());

	while (!vm_stopping(vm)) {
		/*
		 * A pause asked for after this check kicks KVM_RUN below, whose entry finishes
		 * the last exit all the same; the next turn parks.
		 */
		if (__atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE)) {
			if (exit_handled)
				vcpu_finish_exit(vcpu);
			exit_handled = false;
			vm_coalesced_replay(vm); /* none left in the ring for a snapshot */
			vm_vcpu_park(vm);
			/* A stop's kick may have been spent above: look before running again. */
			if (vm_stopping(vm))
				break;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				exit_handled = false; /* entering KVM_RUN finished it */
				continue;
			}
			log_warn(vcpu->vm->log, "vCPU %u: KVM_RUN", vcpu->id);
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
		exit_handled = true;
		if (vcpu_handle_exit(vcpu) < 0) {
			__atomic_fetch_add(&vcpu->metrics.failures, 1, __ATOMIC_RELAXED);
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
	}
	vm_coalesced_replay(vm); /* the guest's last output */
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (ret)
		return -ret;
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}
