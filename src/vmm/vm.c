/* The VM itself: KVM, memory and vCPUs, its run and stop protocol. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "uffd.h"
#include "vm.h"
#include "vcpu.h"
#include "../util/cpus.h"
#include "../util/log.h"
#include "../util/util.h"

/* A slot per confined thread: every vCPU, the API thread and the VMM thread. */
_Static_assert(SECCOMP_MAX_THREADS >= ARCH_MAX_VCPUS + 2, "seccomp slots for every thread");

static int kvm_open(struct vm *vm)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		log_warn(vm->log, "cannot open /dev/kvm");
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_err(vm->log, "unsupported KVM API version");
		return -ENOTSUP;
	}
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_warn(vm->log, "KVM_CREATE_VM");
		return ret;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		log_err(vm->log, "bad KVM_GET_VCPU_MMAP_SIZE");
		return -EINVAL;
	}
	vm_coalesced_probe(vm);
	return 0;
}

static int vm_memory_alloc(struct vm *vm, const struct vm_restore *from, char *why,
			   size_t why_len)
{
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned int nr = 0;
	int ret;

	ret = arch_mem_layout(vm->cfg->mem_mib * MiB, layout, &nr);
	if (ret) {
		snprintf(why, why_len, "--memory %llu: too small", (unsigned long long)vm->cfg->mem_mib);
		return ret;
	}
	if (from && from->mem_fd >= 0)
		ret = guest_mem_init_file(&vm->mem, layout, nr, from->mem_fd);
	else
		ret = guest_mem_init(&vm->mem, layout, nr);
	if (ret) {
		snprintf(why, why_len, "cannot map %llu MiB of guest memory: %s",
			 (unsigned long long)vm->cfg->mem_mib, strerror(-ret));
		return ret;
	}
	if (vm->cfg->track_dirty_pages) {
		ret = guest_mem_track_dirty(&vm->mem);
		if (ret)
			return why_default(why, why_len, ret, "the dirty page bitmaps");
	}
	if (from && from->mem_fd < 0)
		return uffd_handoff(&vm->mem, from->uffd_socket, &vm->uffd, &vm->uffd_sock, why,
				    why_len);
	return 0;
}

static int vm_memory_register(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->mem.nr_regions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
			.flags = vm->cfg->track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
			log_warn(vm->log, "KVM_SET_USER_MEMORY_REGION slot %u", i);
			return -errno;
		}
	}
	return 0;
}

static int vm_vcpus_create(struct vm *vm)
{
	unsigned int i;
	int ret;

	vm->vcpus = calloc(vm->cfg->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (i = 0; i < vm->cfg->vcpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret)
			return ret;
		vm->nr_vcpus++;
	}
	/* The coalesced-write ring is the VM's; any vCPU's fd maps it. */
	/* Fatal: a write KVM already queues (the UART's, from its creation) would be lost. */
	ret = vm_coalesced_map(vm, vm->vcpus[0].fd);
	if (ret)
		log_err(vm->log, "mapping KVM's coalesced I/O ring: %s", strerror(-ret));
	return ret;
}

/* A condition variable whose timed waits use CLOCK_MONOTONIC. */
static int vm_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int ret;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct logger *log,
	      const struct vm_restore *from, char *why, size_t why_len)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	*why = '\0';
	vm->cfg = cfg;
	vm->log = log;
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = vm->signal_fd = vm->loop.epoll_fd = vm->uffd = vm->uffd_sock = -1;
	vm->restoring = from != NULL;
	bus_init(&vm->pio_bus, "pio");
	bus_init(&vm->mmio_bus, "mmio");
	pthread_mutex_init(&vm->stop_lock, NULL);
	vm_coalesced_init(vm);
	ret = vm_cond_init(&vm->pause_cond);
	if (ret)
		return why_default(why, why_len, ret, "pthread_cond_init");
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return why_default(why, why_len, -errno, "eventfd");
	ret = event_loop_init(&vm->loop);
	if (ret)
		return why_default(why, why_len, ret, "the event loop");
	/* Files first: a bad kernel is reported the same with or without /dev/kvm. */
	ret = vm_memory_alloc(vm, from, why, why_len);
	if (ret)
		return ret;
	ret = vm->restoring ? 0 : boot_load_kernel(vm, why, why_len);
	if (ret)
		return ret;
	ret = kvm_open(vm);
	if (ret)
		return why_default(why, why_len, ret, "KVM");
	ret = vm_memory_register(vm);
	if (ret)
		return why_default(why, why_len, ret, "KVM_SET_USER_MEMORY_REGION");
	ret = arch_vm_init(vm, why, why_len);
	if (ret)
		return why_default(why, why_len, ret, "the interrupt controller");
	return 0;
}

int vm_finish(struct vm *vm, char *why, size_t why_len)
{
	int ret;

	ret = vm->restoring ? 0 : boot_finish(vm, why, why_len);
	if (ret)
		return why_default(why, why_len, ret, "the boot structures");
	/* The kernel and the boot structures were written past KVM's log: all of RAM is new. */
	if (!vm->restoring)
		guest_mem_mark_all_dirty(&vm->mem);
	ret = vm_vcpus_create(vm);
	if (ret)
		return why_default(why, why_len, ret, "the vCPUs");
	ret = arch_vm_finalize(vm);
	if (ret)
		return why_default(why, why_len, ret, "the machine's last step");
	ret = vm_irqfds_flush(vm);
	if (ret)
		return why_default(why, why_len, ret, "KVM_IRQFD");
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop_reason == VM_RUNNING)
		vm->stop_reason = reason;
	pthread_cond_broadcast(&vm->pause_cond); /* parked vCPUs must see the stop */
	pthread_mutex_unlock(&vm->stop_lock);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn(vm->log, "cannot signal stop");
}

#define VM_PAUSE_TIMEOUT_S 2

int vm_pause(struct vm *vm)
{
	struct timespec deadline;
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->stop_lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += VM_PAUSE_TIMEOUT_S;
	pthread_mutex_lock(&vm->stop_lock);
	while (!ret && vm->vcpus_parked < vm->nr_vcpus && vm->stop_reason == VM_RUNNING)
		ret = pthread_cond_timedwait(&vm->pause_cond, &vm->stop_lock, &deadline);
	if (vm->stop_reason != VM_RUNNING)
		ret = ESHUTDOWN;
	if (ret) {
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->pause_cond);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	return -ret;
}

void vm_pause_at_start(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->stop_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

void vm_vcpu_park(struct vm *vm)
{
	if (!__atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->stop_lock);
	if (vm->pause_requested) {
		vm->vcpus_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_requested && vm->stop_reason == VM_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->stop_lock);
		vm->vcpus_parked--;
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

int vm_dirty_log_take(struct vm *vm, unsigned int i, uint64_t *kvm_bitmap)
{
	struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = kvm_bitmap };

	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	return 0;
}

bool vm_stopping(struct vm *vm)
{
	bool stopping;

	pthread_mutex_lock(&vm->stop_lock);
	stopping = vm->stop_reason != VM_RUNNING;
	pthread_mutex_unlock(&vm->stop_lock);
	return stopping;
}

int vm_stop_signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	/* Blocked before any vCPU thread exists, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void vm_on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		log_info(vm->log, "signal %u: stopping the VM", si.ssi_signo);
		vm_request_stop(vm, VM_STOP_SIGNAL);
	}
}

static void vm_on_stop(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t n;

	(void)events;
	if (read(vm->stop_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn(vm->log, "stop eventfd");
}

int vm_watch_stops(struct vm *vm)
{
	int ret;

	vm->signal_fd = vm_stop_signals_fd();
	if (vm->signal_fd < 0) {
		log_warn(vm->log, "signalfd");
		return -errno;
	}
	vm->signal_src = (struct event_source){ vm->signal_fd, vm_on_signal, vm };
	vm->stop_src = (struct event_source){ vm->stop_fd, vm_on_stop, vm };
	ret = event_loop_add(&vm->loop, &vm->signal_src, EPOLLIN);
	if (!ret)
		ret = event_loop_add(&vm->loop, &vm->stop_src, EPOLLIN);
	return ret;
}

/*
 * --realtime: a vCPU thread keeps its CPU until it blocks. On no more host CPUs than vCPUs,
 * the VMM and API threads run only while a vCPU is idle, or in what the kernel's RT
 * throttling leaves over: allowed, but the user should know.
 */
static void vm_check_realtime_room(struct vm *vm)
{
	struct cpu_set allowed;
	unsigned int n;

	if (!vm->cfg->realtime || cpus_get_affinity(&allowed))
		return;
	n = cpu_set_count(&allowed);
	if (n <= vm->nr_vcpus)
		log_warnx(vm->log,
			  "--realtime with %u vCPUs on %u host CPUs: the VMM and API threads get a "
			  "CPU only while a vCPU thread is idle; give ember more CPUs than vCPUs",
			  vm->nr_vcpus, n);
}

void vm_start_vcpus(struct vm *vm)
{
	unsigned int i;
	int ret;

	vm_check_realtime_room(vm);
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			log_err(vm->log, "cannot start vCPU %u thread: %s", i, strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
	}
}

int vm_join(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	return vm->stop_reason == VM_STOP_ERROR ? 1 : 0;
}

void vm_destroy_vcpus(struct vm *vm)
{
	if (vm->nr_vcpus)
		log_info(vm->log,
			 "guest RAM resident at exit: %llu KiB, process peak RSS: %llu KiB, "
			 "coalesced writes: %llu",
			 (unsigned long long)(guest_mem_resident(&vm->mem) / 1024),
			 (unsigned long long)peak_rss_kib(),
			 (unsigned long long)vm->coalesced.replayed);
	while (vm->nr_vcpus)
		vcpu_destroy(&vm->vcpus[--vm->nr_vcpus]);
	free(vm->vcpus);
	vm->vcpus = NULL;
}

void vm_destroy(struct vm *vm)
{
	vm_destroy_vcpus(vm);
	arch_vm_destroy(vm);
	guest_mem_destroy(&vm->mem);
	if (vm->uffd >= 0)
		close(vm->uffd);
	/* After the memory: a handler that sees the hang-up stops serving it. */
	if (vm->uffd_sock >= 0)
		close(vm->uffd_sock);
	vm->uffd = vm->uffd_sock = -1;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	bus_destroy(&vm->mmio_bus);
	bus_destroy(&vm->pio_bus);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	vm->stop_fd = vm->signal_fd = -1;
	event_loop_destroy(&vm->loop);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_cond_destroy(&vm->pause_cond);
	vm_coalesced_destroy(vm);
}
