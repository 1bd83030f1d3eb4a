#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <string.h>
#include <unistd.h>

#include "coalesced.h"
#include "vm.h"
#include "../util/util.h"

void vm_coalesced_init(struct vm *vm)
{
	pthread_mutex_init(&vm->coalesced.lock, NULL);
	vm->coalesced.flush_src.fd = -1;
}

void vm_coalesced_probe(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	int off = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	long page = sysconf(_SC_PAGESIZE);

	/* The answer is the ring's page offset in the vCPU mmap, which must reach it. */
	if (off <= 0 || page <= 0 || (long)vm->vcpu_mmap_size < (off + 1) * page)
		return;
	c->page_offset = off;
	c->pio = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
	c->max = (page - sizeof(struct kvm_coalesced_mmio_ring)) / sizeof(struct kvm_coalesced_mmio);
}

void vm_coalesced_destroy(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;

	if (c->ring)
		munmap(c->ring, sysconf(_SC_PAGESIZE));
	c->ring = NULL;
	/* The loop goes first (vm_destroy): its epoll set goes with it. */
	if (c->flush_src.fd >= 0)
		close(c->flush_src.fd);
	c->flush_src.fd = -1;
	pthread_mutex_destroy(&c->lock);
}

static void vm_coalesced_on_flush(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;

	(void)events;
	if (read(vm->coalesced.flush_src.fd, &expirations, sizeof(expirations)) < 0)
		return; /* spurious: the timer has not fired */
	__atomic_store_n(&vm->coalesced.flush_armed, 0, __ATOMIC_RELEASE);
	vm_coalesced_replay(vm);
}

int vm_coalesced_map(struct vm *vm, int vcpu_fd)
{
	struct vm_coalesced *c = &vm->coalesced;
	long page = sysconf(_SC_PAGESIZE);
	int ret;
	void *p;

	if (!c->page_offset || c->ring)
		return 0;
	c->flush_src = (struct event_source){
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), vm_coalesced_on_flush, vm
	};
	if (c->flush_src.fd < 0)
		return -errno;
	ret = event_loop_add(&vm->loop, &c->flush_src, EPOLLIN);
	if (ret)
		return ret;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, c->page_offset * page);
	if (p == MAP_FAILED)
		return -errno;
	c->ring = p;
	return 0;
}

void vm_coalesced_flush_soon(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	const struct itimerspec in = { .it_value.tv_nsec = COALESCED_FLUSH_MS * 1000000L };

	if (!c->ring || __atomic_exchange_n(&c->flush_armed, 1, __ATOMIC_ACQ_REL))
		return;
	if (timerfd_settime(c->flush_src.fd, 0, &in, NULL) < 0)
		__atomic_store_n(&c->flush_armed, 0, __ATOMIC_RELEASE); /* the next one tries again */
}

int vm_coalesce(struct vm *vm, bool pio, uint64_t addr, uint32_t len, bool on)
{
	struct kvm_coalesced_mmio_zone zone = { .addr = addr, .size = len, .pio = pio };
	const struct vm_coalesced *c = &vm->coalesced;

	if (!c->page_offset || (pio && !c->pio))
		return -EOPNOTSUPP;
	if (ioctl(vm->vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO,
		  &zone) < 0)
		return -errno;
	return 0;
}

void vm_coalesced_replay(struct vm *vm)
{
	struct vm_coalesced *c = &vm->coalesced;
	struct kvm_coalesced_mmio_ring *ring = c->ring;
	uint32_t first, last;

	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
			     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	/* The kernel owns the ring's contents; its indices are still checked before use. */
	for (first = ring->first;
	     first < c->max && (last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) < c->max &&
	     first != last;
	     first = (first + 1) % c->max) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[first];
		uint8_t data[8];

		memcpy(data, e->data, sizeof(data));
		bus_access(e->pio ? &vm->pio_bus : &vm->mmio_bus, e->phys_addr, data,
			   MIN(e->len, (uint32_t)sizeof(data)), true);
		c->replayed++;
		__atomic_store_n(&ring->first, (first + 1) % c->max, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
}
