/*
 * The machine's device table: devices are built kind by kind in table order, found by
 * their API id, unwound newest first when one fails, and destroyed in reverse.
 * Fake kinds record what is done to them; no VM is needed for any of this.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "machine/machine.h"

/* What the fake kinds were asked to do, in order: "+a0 +a1 -a1 ...". */
static char events[512];

static void note(char sign, const char *name, unsigned int index)
{
	size_t n = strlen(events);

	snprintf(events + n, sizeof(events) - n, "%s%c%s%u", n ? " " : "", sign, name, index);
}

struct fake_dev {
	const char *name;
	unsigned int index;
};

static unsigned int fail_at_b = ~0u; /* the index of kind b whose create fails */
static unsigned int nr_big = 0;	     /* how many devices kind "big" asks for */

static unsigned int count_two(const struct vm_config *cfg)
{
	(void)cfg;
	return 2;
}

static unsigned int count_one(const struct vm_config *cfg)
{
	(void)cfg;
	return 1;
}

static unsigned int count_none(const struct vm_config *cfg)
{
	(void)cfg;
	return 0;
}

static unsigned int count_big(const struct vm_config *cfg)
{
	(void)cfg;
	return nr_big;
}

static const char *a_id(const struct vm_config *cfg, unsigned int index)
{
	(void)cfg;
	return index ? "second" : "first";
}

static int fake_create(const char *name, unsigned int index, void **dev)
{
	struct fake_dev *d = malloc(sizeof(*d));

	assert_non_null(d);
	*d = (struct fake_dev){ name, index };
	note('+', name, index);
	*dev = d;
	return 0;
}

static int a_create(struct machine *m, unsigned int index, void **dev, char *why, size_t len)
{
	(void)m;
	(void)why;
	(void)len;
	return fake_create("a", index, dev);
}

static int b_create(struct machine *m, unsigned int index, void **dev, char *why, size_t len)
{
	(void)m;
	if (index == fail_at_b) {
		snprintf(why, len, "b%u: the backing file is gone", index);
		return -ENOENT;
	}
	return fake_create("b", index, dev);
}

/* Fails without a reason of its own: the machine names the kind and the errno. */
static int mute_create(struct machine *m, unsigned int index, void **dev, char *why, size_t len)
{
	(void)m;
	(void)index;
	(void)dev;
	(void)why;
	(void)len;
	return -EIO;
}

static int big_create(struct machine *m, unsigned int index, void **dev, char *why, size_t len)
{
	(void)m;
	(void)why;
	(void)len;
	return fake_create("big", index, dev);
}

static void fake_destroy(void *dev)
{
	struct fake_dev *d = dev;

	note('-', d->name, d->index);
	free(d);
}

static const struct device_kind kind_a = {
	.name = "a", .count = count_two, .id = a_id, .create = a_create, .destroy = fake_destroy,
};
static const struct device_kind kind_b = {
	.name = "b", .count = count_two, .create = b_create, .destroy = fake_destroy,
};
static const struct device_kind kind_none = {
	.name = "none", .count = count_none, .create = mute_create, .destroy = fake_destroy,
};
static const struct device_kind kind_mute = {
	.name = "mute", .count = count_one, .create = mute_create, .destroy = fake_destroy,
};
static const struct device_kind kind_big = {
	.name = "big", .count = count_big, .create = big_create, .destroy = fake_destroy,
};

static struct machine *machine_new(void)
{
	static struct vm_config cfg;
	struct machine *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	vm_config_init(&cfg);
	m->cfg = &cfg;
	events[0] = '\0';
	fail_at_b = ~0u;
	nr_big = 0;
	return m;
}

static void test_build_in_table_order(void **state)
{
	const struct device_kind *const kinds[] = { &kind_a, &kind_none, &kind_b };
	struct machine *m = machine_new();
	char why[128];
	struct fake_dev *d;

	(void)state;
	assert_int_equal(machine_add_devices(m, kinds, 3, why, sizeof(why)), 0);
	assert_string_equal(events, "+a0 +a1 +b0 +b1");
	assert_int_equal(m->nr_devs, 4);
	/* found by API id, never by position */
	d = machine_find(m, &kind_a, "second");
	assert_non_null(d);
	assert_int_equal(d->index, 1);
	assert_null(machine_find(m, &kind_a, "third"));
	/* a kind without ids: NULL finds the first */
	d = machine_find(m, &kind_b, NULL);
	assert_non_null(d);
	assert_int_equal(d->index, 0);
	assert_null(machine_find(m, &kind_b, "first"));
	assert_null(machine_find(m, &kind_none, NULL));
	machine_remove_devices(m);
	free(m);
}

static void test_unwind_after_failure_in_the_middle(void **state)
{
	const struct device_kind *const kinds[] = { &kind_a, &kind_b, &kind_mute };
	struct machine *m = machine_new();
	char why[128];

	(void)state;
	fail_at_b = 1;
	assert_int_equal(machine_add_devices(m, kinds, 3, why, sizeof(why)), -ENOENT);
	/* built a0 a1 b0, then b1 failed: undone newest first, and kind mute never asked */
	assert_string_equal(events, "+a0 +a1 +b0 -b0 -a1 -a0");
	assert_string_equal(why, "b1: the backing file is gone");
	assert_int_equal(m->nr_devs, 0);
	free(m);
}

static void test_failure_without_reason_is_named(void **state)
{
	const struct device_kind *const kinds[] = { &kind_a, &kind_mute };
	struct machine *m = machine_new();
	char why[128];

	(void)state;
	assert_int_equal(machine_add_devices(m, kinds, 2, why, sizeof(why)), -EIO);
	assert_string_equal(why, "mute: Input/output error");
	assert_string_equal(events, "+a0 +a1 -a1 -a0");
	free(m);
}

static void test_unwind_keeps_earlier_devices(void **state)
{
	const struct device_kind *const first[] = { &kind_a };
	const struct device_kind *const second[] = { &kind_b, &kind_mute };
	struct machine *m = machine_new();
	char why[128];

	(void)state;
	assert_int_equal(machine_add_devices(m, first, 1, why, sizeof(why)), 0);
	assert_int_equal(machine_add_devices(m, second, 2, why, sizeof(why)), -EIO);
	/* the failed call undoes only its own devices */
	assert_string_equal(events, "+a0 +a1 +b0 +b1 -b1 -b0");
	assert_int_equal(m->nr_devs, 2);
	machine_remove_devices(m);
	assert_string_equal(events, "+a0 +a1 +b0 +b1 -b1 -b0 -a1 -a0");
	free(m);
}

static void test_destroy_in_reverse(void **state)
{
	const struct device_kind *const kinds[] = { &kind_b, &kind_a };
	struct machine *m = machine_new();
	char why[128];

	(void)state;
	assert_int_equal(machine_add_devices(m, kinds, 2, why, sizeof(why)), 0);
	events[0] = '\0';
	machine_remove_devices(m);
	assert_string_equal(events, "-a1 -a0 -b1 -b0");
	assert_int_equal(m->nr_devs, 0);
	machine_remove_devices(m); /* twice is harmless */
	free(m);
}

static void test_too_many_devices(void **state)
{
	const struct device_kind *const kinds[] = { &kind_a, &kind_big };
	struct machine *m = machine_new();
	char why[128];

	(void)state;
	nr_big = MACHINE_MAX_DEVICES;
	assert_int_equal(machine_add_devices(m, kinds, 2, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "big: more than"));
	assert_int_equal(m->nr_devs, 0);
	free(m);
}

/* The real table: every kind complete, the platform before virtio, ids where the API has them. */
static void test_real_table(void **state)
{
	struct vm_config cfg;
	unsigned int i, serial = ~0u, disk = ~0u, total = 0;

	(void)state;
	vm_config_init(&cfg);
	cfg.nr_disks = 2;
	snprintf(cfg.disks[1].id, sizeof(cfg.disks[1].id), "scratch");
	for (i = 0; i < machine_nr_device_kinds; i++) {
		const struct device_kind *k = machine_device_kinds[i];

		assert_non_null(k->name);
		assert_non_null(k->count);
		assert_non_null(k->create);
		assert_non_null(k->destroy);
		if (k == &device_kind_serial)
			serial = i;
		if (k == &device_kind_disk)
			disk = i;
		total += k->count(&cfg);
	}
	assert_true(serial < disk);
	assert_int_equal(device_kind_serial.count(&cfg), 1);
	assert_int_equal(device_kind_i8042.count(&cfg), ARCH_HAS_I8042);
	assert_int_equal(device_kind_disk.count(&cfg), 2);
	assert_string_equal(device_kind_disk.id(&cfg, 1), "scratch");
	assert_int_equal(device_kind_net.count(&cfg), 0);
	assert_non_null(device_kind_net.id);
	assert_int_equal(device_kind_balloon.count(&cfg), 0);
	assert_int_equal(device_kind_acpi_sleep.count(&cfg), ARCH_HAS_ACPI_SLEEP);
	assert_int_equal(total, 1 + ARCH_HAS_I8042 + ARCH_HAS_RTC + ARCH_HAS_ACPI_SLEEP + 2);
	cfg.acpi = false; /* --no-acpi: no sleep registers either */
	assert_int_equal(device_kind_acpi_sleep.count(&cfg), 0);
	vm_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_in_table_order),
		cmocka_unit_test(test_unwind_after_failure_in_the_middle),
		cmocka_unit_test(test_failure_without_reason_is_named),
		cmocka_unit_test(test_unwind_keeps_earlier_devices),
		cmocka_unit_test(test_destroy_in_reverse),
		cmocka_unit_test(test_too_many_devices),
		cmocka_unit_test(test_real_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
