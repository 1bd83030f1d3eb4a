#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "coalesced.h"
#include "vm.h"
#include "../util/util.h"

void vm_coalesced_init(struct vm *vm)
{
	pthread_mutex_init(&vm->coalesced.lock, NULL);
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
	pthread_mutex_destroy(&c->lock);
}

int vm_coalesced_map(struct vm *vm, int vcpu_fd)
{
	struct vm_coalesced *c = &vm->coalesced;
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (!c->page_offset || c->ring)
		return 0;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, c->page_offset * page);
	if (p == MAP_FAILED)
		return -errno;
	c->ring = p;
	return 0;
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
	uint32_t first;

	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
			     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	/* The kernel owns the ring's contents; its indices are still checked before use. */
	for (first = ring->first; first < c->max && first != __atomic_load_n(&ring->last,
								     __ATOMIC_ACQUIRE);
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
