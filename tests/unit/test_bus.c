#include <errno.h>

#include "arch/arch.h"
#include "vmm/bus.h"
#include "unit.h"

struct fake_dev {
	uint64_t last_off;
	unsigned int last_len;
	uint32_t value;
	int writes;
};

static void fake_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct fake_dev *d = opaque;

	d->last_off = off;
	d->last_len = len;
	memcpy(data, &d->value, len > 4 ? 4 : len);
}

static void fake_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct fake_dev *d = opaque;

	d->last_off = off;
	d->last_len = len;
	d->writes++;
	memcpy(&d->value, data, len > 4 ? 4 : len);
}

static const struct bus_dev_ops fake_ops = { .read = fake_read, .write = fake_write };

static void test_register_and_find(void **state)
{
	struct bus bus;
	struct fake_dev a = { 0 }, b = { 0 };

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x60, 1, &fake_ops, &b, "b"), 0);
	assert_ptr_equal(bus_find(&bus, 0x3f8, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x3ff, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x60, 1)->opaque, &b);
	assert_null(bus_find(&bus, 0x400, 1));
	assert_null(bus_find(&bus, 0x3f7, 1));
	assert_null(bus_find(&bus, 0x61, 1));
	/* An access that straddles the end of a range belongs to nobody. */
	assert_null(bus_find(&bus, 0x3fe, 4));
	bus_destroy(&bus);
}

static void test_overlaps_rejected(void **state)
{
	struct bus bus;
	struct fake_dev a = { 0 };

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &fake_ops, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &fake_ops, &a, "same"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x10ff, 1, &fake_ops, &a, "last"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf00, 0x101, &fake_ops, &a, "tail"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x0, 0x10000, &fake_ops, &a, "cover"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x1080, 0x10, &fake_ops, &a, "inside"), -EEXIST);
	/* Adjacent ranges on both sides are fine. */
	assert_int_equal(bus_register(&bus, 0xf00, 0x100, &fake_ops, &a, "below"), 0);
	assert_int_equal(bus_register(&bus, 0x1100, 0x100, &fake_ops, &a, "above"), 0);
	assert_int_equal(bus.nr, 3);
	bus_destroy(&bus);
}

static void test_bad_ranges(void **state)
{
	struct bus bus;
	struct fake_dev a = { 0 };

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0x1000, 0, &fake_ops, &a, "empty"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 2, 8, &fake_ops, &a, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 7, 8, &fake_ops, &a, "top"), 0);
	assert_null(bus_find(&bus, UINT64_MAX, 2));
	assert_non_null(bus_find(&bus, UINT64_MAX, 1));
	bus_destroy(&bus);
}

static void test_dispatch_offsets(void **state)
{
	struct bus bus;
	struct fake_dev a = { .value = 0x11223344 };
	uint32_t v = 0;

	(void)state;
	bus_init(&bus, "test");
	assert_int_equal(bus_register(&bus, 0xd0000000, 0x1000, &fake_ops, &a, "a"), 0);
	assert_true(bus_access(&bus, 0xd0000010, &v, 4, false));
	assert_int_equal(v, 0x11223344);
	assert_int_equal(a.last_off, 0x10);
	v = 0xdeadbeef;
	assert_true(bus_access(&bus, 0xd0000ffc, &v, 4, true));
	assert_int_equal(a.last_off, 0xffc);
	assert_int_equal(a.value, 0xdeadbeef);
	/* Nobody home: reads give all-ones, writes vanish. */
	v = 0;
	assert_false(bus_access(&bus, 0xe0000000, &v, 4, false));
	assert_int_equal(v, 0xffffffff);
	assert_false(bus_access(&bus, 0xe0000000, &v, 4, true));
	assert_int_equal(a.writes, 1);
	bus_destroy(&bus);
}

static void test_many_ranges_sorted(void **state)
{
	struct bus bus;
	struct fake_dev a = { 0 };
	unsigned int i;

	(void)state;
	bus_init(&bus, "test");
	/* Insert in a scrambled order; lookups must still find each one. */
	for (i = 0; i < 64; i++)
		assert_int_equal(bus_register(&bus, ((i * 37) % 64) * 0x1000, 0x800, &fake_ops,
					      &a, "r"), 0);
	for (i = 1; i < bus.nr; i++)
		assert_true(bus.ranges[i - 1].base < bus.ranges[i].base);
	for (i = 0; i < 64; i++) {
		assert_non_null(bus_find(&bus, i * 0x1000 + 0x7ff, 1));
		assert_null(bus_find(&bus, i * 0x1000 + 0x800, 1));
	}
	bus_destroy(&bus);
}

static void test_guest_mem_bounds(void **state)
{
	struct guest_mem mem;

	(void)state;
	unit_mem_init(&mem, 4096);
	assert_int_equal(mem.nr_regions, 2);
	assert_non_null(gpa_to_hva(&mem, 0, 4096));
	assert_non_null(gpa_to_hva(&mem, 0xc0000000 - 16, 16));
	assert_null(gpa_to_hva(&mem, 0xc0000000 - 16, 17));   /* runs into the hole */
	assert_null(gpa_to_hva(&mem, 0xd0000000, 1));	      /* in the hole */
	assert_non_null(gpa_to_hva(&mem, 0x100000000, 1));
	assert_null(gpa_to_hva(&mem, 0x140000000, 1));	      /* past the end */
	assert_null(gpa_to_hva(&mem, 0x13fffffff, 2));
	assert_null(gpa_to_hva(&mem, UINT64_MAX, 2));	      /* wraps */
	assert_null(gpa_to_hva(&mem, 16, UINT64_MAX));
	assert_int_equal(guest_mem_region_end(&mem, 0x1000), 0xc0000000);
	assert_int_equal(guest_mem_region_end(&mem, 0xc0000000), 0);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_find),
		cmocka_unit_test(test_overlaps_rejected),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_dispatch_offsets),
		cmocka_unit_test(test_many_ranges_sorted),
		cmocka_unit_test(test_guest_mem_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
