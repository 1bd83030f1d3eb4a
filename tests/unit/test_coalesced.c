/*
 * Replaying KVM's coalesced-write ring, on a ring laid out here as KVM lays it out: writes
 * reach their bus in ring order, wrap at the end, stop at bad indices, and an empty or
 * unmapped ring costs nothing.
 */
#include <errno.h>
#include <linux/kvm.h>

#include "vmm/vm.h"
#include "unit.h"

#define RING_MAX 8

struct log_dev {
	char seen[64];
	unsigned int n;
};

static void log_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void log_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct log_dev *d = opaque;

	assert_int_equal(off, 0);
	assert_int_equal(len, 1);
	if (d->n < sizeof(d->seen) - 1)
		d->seen[d->n++] = *(const char *)data;
}

static const struct bus_dev_ops log_ops = { .read = log_read, .write = log_write };

struct rig {
	struct vm vm;
	struct log_dev pio, mmio;
	struct kvm_coalesced_mmio_ring *ring;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->vm.pio_bus, "pio");
	bus_init(&r->vm.mmio_bus, "mmio");
	assert_int_equal(bus_register(&r->vm.pio_bus, 0x3f8, 1, &log_ops, &r->pio, "p"), 0);
	assert_int_equal(bus_register(&r->vm.mmio_bus, 0x9000000, 1, &log_ops, &r->mmio, "m"), 0);
	vm_coalesced_init(&r->vm);
	r->ring = calloc(1, sizeof(*r->ring) + RING_MAX * sizeof(struct kvm_coalesced_mmio));
	assert_non_null(r->ring);
	r->vm.coalesced.ring = r->ring;
	r->vm.coalesced.max = RING_MAX;
}

static void rig_destroy(struct rig *r)
{
	r->vm.coalesced.ring = NULL; /* not KVM's page: vm_coalesced_destroy must not unmap it */
	vm_coalesced_destroy(&r->vm);
	free(r->ring);
	bus_destroy(&r->vm.pio_bus);
	bus_destroy(&r->vm.mmio_bus);
}

/* KVM's side: append one write at (last). */
static void push(struct rig *r, bool pio, uint64_t addr, char c)
{
	struct kvm_coalesced_mmio *e = &r->ring->coalesced_mmio[r->ring->last];

	*e = (struct kvm_coalesced_mmio){ .phys_addr = addr, .len = 1, .pio = pio };
	e->data[0] = (uint8_t)c;
	r->ring->last = (r->ring->last + 1) % RING_MAX;
}

static void test_replays_in_order_and_wraps(void **state)
{
	struct rig r;
	int i;

	(void)state;
	rig_init(&r);
	vm_coalesced_replay(&r.vm); /* empty: nothing */
	assert_int_equal(r.vm.coalesced.replayed, 0);
	r.ring->first = r.ring->last = RING_MAX - 2; /* start near the end, to wrap */
	for (i = 0; i < 5; i++)
		push(&r, true, 0x3f8, (char)('a' + i));
	push(&r, false, 0x9000000, 'Z');
	vm_coalesced_replay(&r.vm);
	assert_string_equal(r.pio.seen, "abcde");
	assert_string_equal(r.mmio.seen, "Z");
	assert_int_equal(r.ring->first, r.ring->last);
	assert_int_equal(r.vm.coalesced.replayed, 6);
	rig_destroy(&r);
}

static void test_bad_entries_and_indices(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	/* An address nobody is at, and a length past 8, are dropped or cut; the rest flows. */
	push(&r, true, 0x1234, 'x');
	push(&r, true, 0x3f8, 'y');
	r.ring->coalesced_mmio[1].len = 4096;
	push(&r, true, 0x3f8, 'z');
	vm_coalesced_replay(&r.vm);
	assert_string_equal(r.pio.seen, "z");
	assert_int_equal(r.ring->first, 3);
	/* An index past the ring is never followed, nor waited for. */
	r.ring->first = RING_MAX + 3;
	r.ring->last = 0;
	vm_coalesced_replay(&r.vm);
	assert_int_equal(r.ring->first, RING_MAX + 3);
	r.ring->first = 0;
	r.ring->last = RING_MAX + 3;
	vm_coalesced_replay(&r.vm);
	assert_int_equal(r.ring->first, 0);
	/* No ring mapped (KVM without coalesced I/O): a no-op. */
	r.vm.coalesced.ring = NULL;
	vm_coalesced_replay(&r.vm);
	assert_int_equal(vm_coalesce(&r.vm, true, 0x3f8, 1, true), -EOPNOTSUPP);
	rig_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replays_in_order_and_wraps),
		cmocka_unit_test(test_bad_entries_and_indices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
