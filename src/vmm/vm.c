#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"
#include "vcpu.h"
#include "../virtio/blk.h"
#include "../virtio/rng.h"
#include "../util/log.h"
#include "../util/util.h"

static int kvm_open(struct vm *vm)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		log_warn("cannot open /dev/kvm");
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_err("unsupported KVM API version");
		return -ENOTSUP;
	}
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_warn("KVM_CREATE_VM");
		return ret;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		log_err("bad KVM_GET_VCPU_MMAP_SIZE");
		return -EINVAL;
	}
	return 0;
}

static int vm_memory_alloc(struct vm *vm)
{
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned int nr = 0;
	int ret;

	ret = arch_mem_layout(vm->cfg.mem_mib * MiB, layout, &nr);
	if (ret) {
		log_err("--memory %llu: too small", (unsigned long long)vm->cfg.mem_mib);
		return ret;
	}
	ret = guest_mem_init(&vm->mem, layout, nr);
	if (ret)
		log_err("cannot map %llu MiB of guest memory: %s",
			(unsigned long long)vm->cfg.mem_mib, strerror(-ret));
	return ret;
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
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
			log_warn("KVM_SET_USER_MEMORY_REGION slot %u", i);
			return -errno;
		}
	}
	return 0;
}

static int vm_vcpus_create(struct vm *vm)
{
	unsigned int i;
	int ret;

	vm->vcpus = calloc(vm->cfg.vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (i = 0; i < vm->cfg.vcpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret)
			return ret;
		vm->nr_vcpus++;
	}
	return 0;
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

static int vm_irqfds_flush(struct vm *vm);

int vm_build(struct vm *vm, const struct vm_config *cfg, uint64_t start_us)
{
	unsigned int i;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->signal_fd = vm->loop.epoll_fd = -1;
	vm->console.in_fd = -1;
	vm->boot_timer.start_us = start_us;
	bus_init(&vm->pio_bus, "pio");
	bus_init(&vm->mmio_bus, "mmio");
	pthread_mutex_init(&vm->stop_lock, NULL);
	ret = vm_cond_init(&vm->pause_cond);
	if (ret)
		goto err;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = event_loop_init(&vm->loop);
	if (ret)
		goto err;
	/* Files first: a bad kernel is reported the same with or without /dev/kvm. */
	ret = vm_memory_alloc(vm);
	if (ret)
		goto err;
	ret = boot_load_kernel(vm);
	if (ret)
		goto err;
	ret = kvm_open(vm);
	if (ret)
		goto err;
	ret = vm_memory_register(vm);
	if (ret)
		goto err;
	ret = arch_vm_init(vm);
	if (ret)
		goto err;
	if (cfg->boot_timer) {
		ret = bus_register(&vm->mmio_bus, ARCH_MMIO_BASE, BOOT_TIMER_SPAN, &boot_timer_ops,
				   &vm->boot_timer, "boot-timer");
		if (ret)
			goto err;
	}
	ret = arch_devices_init(vm);
	if (ret)
		goto err;
	if (cfg->rng) {
		ret = virtio_rng_create(vm, &cfg->rng_limit, &vm->rng);
		if (ret)
			goto err;
	}
	/* In command-line order, so the guest names them vda, vdb... in that order. */
	while (vm->nr_disks < cfg->nr_disks) {
		ret = virtio_blk_create(vm, &vm->cfg.disks[vm->nr_disks], vm->nr_disks,
					&vm->disks[vm->nr_disks]);
		if (ret)
			goto err;
		vm->nr_disks++;
	}
	for (i = 0; i < cfg->nr_nets; i++) {
		ret = virtio_net_create(vm, &cfg->nets[i], &vm->nets[i]);
		if (ret)
			goto err;
	}
	if (cfg->balloon) {
		ret = virtio_balloon_create(vm, &cfg->balloon_cfg, &vm->balloon);
		if (ret)
			goto err;
	}
	if (cfg->vsock) {
		ret = virtio_vsock_create(vm, &vm->cfg.vsock_cfg, &vm->vsock);
		if (ret)
			goto err;
	}
	ret = boot_finish(vm);
	if (ret)
		goto err;
	ret = vm_vcpus_create(vm);
	if (ret)
		goto err;
	ret = arch_vm_finalize(vm);
	if (ret)
		goto err;
	ret = vm_irqfds_flush(vm);
	if (ret)
		goto err;
	return 0;

err:
	/* vm_destroy undoes exactly the steps that completed. */
	vm_destroy(vm);
	return ret;
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
		log_warn("cannot signal stop");
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

bool vm_stopping(struct vm *vm)
{
	bool stopping;

	pthread_mutex_lock(&vm->stop_lock);
	stopping = vm->stop_reason != VM_RUNNING;
	pthread_mutex_unlock(&vm->stop_lock);
	return stopping;
}

void vm_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = ARCH_IRQ_LINE(gsi), .level = level };

	if (vm->irq_lines) {
		vm->irq_lines->set_level(vm->irq_lines_opaque, gsi, level);
		return;
	}
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %u", gsi);
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

int vm_alloc_mmio_slot(struct vm *vm, uint64_t size, uint64_t *addr, unsigned int *irq)
{
	unsigned int n = vm->nr_mmio_devs;
	struct vm_mmio_dev *d = &vm->mmio_devs[n];

	/* Slot 0 belongs to the boot timer, present or not, as in Firecracker's layout. */
	if (n >= VM_MAX_MMIO_DEVS || ARCH_VIRTIO_IRQ_BASE + n > ARCH_VIRTIO_IRQ_MAX ||
	    size > ARCH_MMIO_SLOT_SIZE)
		return -ENOSPC;
	d->addr = ARCH_MMIO_BASE + (uint64_t)(n + 1) * ARCH_MMIO_SLOT_SIZE;
	d->size = size;
	d->irq = ARCH_VIRTIO_IRQ_BASE + n;
	vm->nr_mmio_devs++;
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
		log_warn("KVM_IOEVENTFD at 0x%llx", (unsigned long long)addr);
		return -errno;
	}
	return 0;
}

/*
 * An irqfd asked for before the irqchip can take one (arm's vgic refuses them until it is
 * initialised, which needs every vCPU) is kept here and assigned by vm_irqfds_flush().
 */
static int vm_irqfd_defer(struct vm *vm, unsigned int gsi, int fd, bool assign)
{
	unsigned int i;

	for (i = 0; i < vm->nr_pending_irqfds; i++)
		if (vm->pending_irqfds[i].gsi == gsi && vm->pending_irqfds[i].fd == fd)
			break;
	if (!assign) {
		if (i < vm->nr_pending_irqfds)
			vm->pending_irqfds[i] = vm->pending_irqfds[--vm->nr_pending_irqfds];
		return 0;
	}
	if (i < vm->nr_pending_irqfds)
		return -EEXIST;
	if (vm->nr_pending_irqfds == VM_MAX_MMIO_DEVS)
		return -ENOSPC;
	vm->pending_irqfds[vm->nr_pending_irqfds++] = (struct vm_irqfd){ gsi, fd };
	return 0;
}

static int vm_irqfds_flush(struct vm *vm)
{
	int ret;

	while (vm->nr_pending_irqfds) {
		const struct vm_irqfd *p = &vm->pending_irqfds[vm->nr_pending_irqfds - 1];

		ret = vm_irqfd(vm, p->gsi, p->fd, true);
		if (ret)
			return ret;
		vm->nr_pending_irqfds--;
	}
	return 0;
}

static void vm_on_line_irqfd(void *opaque, uint32_t events)
{
	struct vm_line_irqfd *u = opaque;
	struct vm *vm = u->vm;
	uint64_t n;

	(void)events;
	/* However many writes came in, one edge: the guest reads the device's status. */
	if (read(u->src.fd, &n, sizeof(n)) == sizeof(n))
		vm->irq_lines->trigger(vm->irq_lines_opaque, u->line);
}

/* An irqfd on a line ember drives (vm->irq_lines): served by the event loop, not KVM. */
static int vm_line_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign)
{
	struct vm_line_irqfd *u;
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nr_line_irqfds; i++)
		if (vm->line_irqfds[i].line == gsi && vm->line_irqfds[i].src.fd == fd)
			break;
	if (!assign) {
		if (i == vm->nr_line_irqfds)
			return 0;
		/* The loop holds pointers into the array: free the slot, move nothing. */
		event_loop_del(&vm->loop, &vm->line_irqfds[i].src);
		vm->line_irqfds[i].src.fd = -1;
		return 0;
	}
	if (i < vm->nr_line_irqfds)
		return -EEXIST;
	if (vm->nr_line_irqfds == VM_MAX_MMIO_DEVS)
		return -ENOSPC;
	u = &vm->line_irqfds[vm->nr_line_irqfds];
	*u = (struct vm_line_irqfd){ { fd, vm_on_line_irqfd, u }, vm, gsi };
	ret = event_loop_add(&vm->loop, &u->src, EPOLLIN);
	if (ret)
		return ret;
	vm->nr_line_irqfds++;
	return 0;
}

int vm_irqfd(struct vm *vm, unsigned int gsi, int fd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (vm->irq_lines)
		return vm_line_irqfd(vm, gsi, fd, assign);
	if (!arch_irqfd_ready(vm))
		return vm_irqfd_defer(vm, gsi, fd, assign);
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn("KVM_IRQFD gsi %u", gsi);
		return -errno;
	}
	return 0;
}

static void vm_on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("signal %u: stopping the VM", si.ssi_signo);
		vm_request_stop(vm, VM_STOP_SIGNAL);
	}
}

static void vm_on_stop(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t n;

	(void)events;
	if (read(vm->stop_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("stop eventfd");
}

static int vm_loop_start(struct vm *vm)
{
	int ret;

	vm->signal_fd = vm_stop_signals_fd();
	if (vm->signal_fd < 0) {
		log_warn("signalfd");
		return -errno;
	}
	vm->signal_src = (struct event_source){ vm->signal_fd, vm_on_signal, vm };
	vm->stop_src = (struct event_source){ vm->stop_fd, vm_on_stop, vm };
	ret = event_loop_add(&vm->loop, &vm->signal_src, EPOLLIN);
	if (!ret)
		ret = event_loop_add(&vm->loop, &vm->stop_src, EPOLLIN);
	if (!ret)
		ret = console_start(&vm->console, vm->cfg.console_in, vm->serial, &vm->loop);
	return ret;
}

int vm_run(struct vm *vm)
{
	unsigned int i;
	int ret;

	ret = vm_loop_start(vm);
	if (ret) {
		log_err("cannot start the event loop: %s", strerror(-ret));
		return 1;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			log_err("cannot start vCPU %u thread: %s", i, strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
	}
	while (!vm_stopping(vm)) {
		ret = event_loop_run_once(&vm->loop, console_retry(&vm->console));
		if (ret) {
			log_err("event loop: %s", strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR);
		}
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	console_stop(&vm->console);
	/* Every device backend runs on this thread: its CPU time is the device model's cost. */
	log_info("event loop thread CPU: %llu us", (unsigned long long)thread_cpu_us());
	return vm->stop_reason == VM_STOP_ERROR ? 1 : 0;
}

void vm_destroy(struct vm *vm)
{
	unsigned int i;

	console_stop(&vm->console);
	if (vm->nr_vcpus)
		log_info("guest RAM resident at exit: %llu KiB, process peak RSS: %llu KiB",
			 (unsigned long long)(guest_mem_resident(&vm->mem) / 1024),
			 (unsigned long long)peak_rss_kib());
	while (vm->nr_vcpus)
		vcpu_destroy(&vm->vcpus[--vm->nr_vcpus]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	virtio_vsock_destroy(vm->vsock);
	vm->vsock = NULL;
	virtio_balloon_destroy(vm->balloon);
	vm->balloon = NULL;
	for (i = 0; i < VM_MAX_NETS; i++) {
		virtio_net_destroy(vm->nets[i]);
		vm->nets[i] = NULL;
	}
	/* After the vCPUs: nothing can queue a request, and the disks drain what is in flight. */
	while (vm->nr_disks)
		virtio_blk_destroy(vm->disks[--vm->nr_disks]);
	virtio_rng_destroy(vm->rng);
	vm->rng = NULL;
	arch_devices_destroy(vm);
	arch_vm_destroy(vm);
	guest_mem_destroy(&vm->mem);
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
}
