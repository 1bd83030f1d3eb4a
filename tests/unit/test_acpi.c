/*
 * ember's ACPI tables for x86: their layout and checksums read back here, and every table
 * decompiled by the host's iasl (acpica-tools), whose text must name what ember put in.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "unit.h"

#define BASE 0xe0000ULL

static const struct vm_mmio_dev mmio3[] = {
	{ 0xd0001000, 0x1000, 5 },
	{ 0xd0002000, 0x1000, 6 },
	{ 0xd0003000, 0x1000, 20 },
};

static uint32_t u32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64_at(const uint8_t *p)
{
	return u32_at(p) | (uint64_t)u32_at(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void build(struct acpi_writer *w, unsigned int cpus, const struct vm_mmio_dev *mmio,
		  unsigned int nr_mmio)
{
	const struct x86_acpi_machine m = { cpus, mmio, nr_mmio, true };

	acpiw_init(w, 0x20000);
	assert_int_equal(x86_acpi_build(&m, BASE, w), 0);
}

/* The table at guest address (addr), its signature and checksum checked. */
static const uint8_t *table(const struct acpi_writer *w, uint64_t addr, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(addr >= BASE && addr - BASE + ACPI_HEADER_LEN <= w->len);
	t = w->data + (addr - BASE);
	assert_memory_equal(t, sig, 4);
	len = u32_at(t + 4);
	assert_true(len >= ACPI_HEADER_LEN && addr - BASE + len <= w->len);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "EMBER ", 6);
	return t;
}

/* The XSDT's (n)th entry. */
static const uint8_t *xsdt_entry(const struct acpi_writer *w, unsigned int n, const char *sig)
{
	const uint8_t *r = w->data, *x = table(w, u64_at(r + 24), "XSDT");

	assert_true(ACPI_HEADER_LEN + (n + 1) * 8 <= u32_at(x + 4));
	return table(w, u64_at(x + ACPI_HEADER_LEN + n * 8), sig);
}

static void test_rsdp_and_xsdt(void **state)
{
	struct acpi_writer w;
	const uint8_t *r, *x;

	(void)state;
	build(&w, 1, NULL, 0);
	r = w.data; /* first, at the base: the legacy scan looks at 16-byte boundaries */
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(u32_at(r + 16), 0); /* no RSDT */
	assert_int_equal(u32_at(r + 20), 36);
	x = table(&w, u64_at(r + 24), "XSDT");
	assert_int_equal(u32_at(x + 4), ACPI_HEADER_LEN + 2 * 8);
	xsdt_entry(&w, 0, "FACP");
	xsdt_entry(&w, 1, "APIC");
	acpiw_free(&w);
}

static void test_fadt(void **state)
{
	struct acpi_writer w;
	const uint8_t *f;

	(void)state;
	build(&w, 2, mmio3, 3);
	f = xsdt_entry(&w, 0, "FACP");
	assert_int_equal(u32_at(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_true(u32_at(f + 112) & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_int_equal(f[109] | f[110] << 8, 0x2 | 0x4 | 0x8 | 0x20);
	assert_int_equal(u32_at(f + 40), u64_at(f + 140));
	table(&w, u64_at(f + 140), "DSDT");
	/* Sleep control and status: system I/O, 8 bits, byte access, ember's ports. */
	assert_memory_equal(f + 244, "\x01\x08\x00\x01", 4);
	assert_int_equal(u64_at(f + 248), ARCH_ACPI_SLEEP_PORT);
	assert_memory_equal(f + 256, "\x01\x08\x00\x01", 4);
	assert_int_equal(u64_at(f + 260), ARCH_ACPI_SLEEP_PORT + 1);
	/* The reset register is the i8042's pulse. */
	assert_int_equal(u64_at(f + 120), 0x64);
	assert_int_equal(f[128], 0xfe);
	assert_int_equal(f[46] | f[47] << 8, 0); /* no SCI */
	acpiw_free(&w);
}

/* The MADT of (cpus) vCPUs: one enabled LAPIC each with ID = index, one I/O APIC, NMI. */
static void check_madt(unsigned int cpus)
{
	unsigned int lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
	struct acpi_writer w;
	const uint8_t *m, *e, *end;

	build(&w, cpus, mmio3, 3);
	m = xsdt_entry(&w, 1, "APIC");
	assert_int_equal(u32_at(m + 36), 0xfee00000);
	assert_int_equal(u32_at(m + 40), 1);
	end = m + u32_at(m + 4);
	for (e = m + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics); /* processor UID */
			assert_int_equal(e[3], lapics); /* APIC ID */
			assert_int_equal(u32_at(e + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], cpus);
			assert_int_equal(u32_at(e + 4), 0xfec00000);
			assert_int_equal(u32_at(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_not_equal(e[3], 0); /* never IRQ 0: see madt_build */
			assert_int_equal(u32_at(e + 4), e[3]);
			overrides++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("MADT entry of type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(overrides, 2);
	assert_int_equal(nmis, 1);
	acpiw_free(&w);
}

static void test_madt_1_2_32_cpus(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(2);
	check_madt(32);
}

/* iasl's disassembly of the table at (t): the text of (path).dsl, malloc'd. */
static char *iasl_disassemble(const uint8_t *t)
{
	char dir[] = "/tmp/ember-acpi-XXXXXX", path[64], dsl[80], cmd[256];
	size_t len = u32_at(t + 4), n;
	char *text;
	FILE *f;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.dat", dir);
	snprintf(dsl, sizeof(dsl), "%s/t.dsl", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, t, len), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "iasl -d %s >%s/log 2>&1", path, dir);
	if (system(cmd))
		fail_msg("iasl -d failed on %.4s (is acpica-tools installed?)", (const char *)t);
	f = fopen(dsl, "r");
	assert_non_null(f);
	text = calloc(1, 1 << 16);
	assert_non_null(text);
	n = fread(text, 1, (1 << 16) - 1, f);
	text[n] = '\0';
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return text;
}

static void expect(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("iasl's disassembly lacks \"%s\":\n%s", what, text);
}

static void test_dsdt_decompiles(void **state)
{
	struct acpi_writer w;
	const uint8_t *f;
	char *text;

	(void)state;
	build(&w, 2, mmio3, 3);
	f = xsdt_entry(&w, 0, "FACP");
	text = iasl_disassemble(w.data + (u64_at(f + 140) - BASE));
	expect(text, "Scope (\\_SB)");
	expect(text, "Device (COM1)");
	expect(text, "Name (_HID, EisaId (\"PNP0501\")");
	expect(text, "IO (Decode16,\n                    0x03F8,");
	expect(text, "IRQNoFlags ()\n                    {4}");
	expect(text, "Device (PS2K)");
	expect(text, "Name (_HID, EisaId (\"PNP0303\")");
	expect(text, "Device (V000)");
	expect(text, "Device (V002)");
	expect(text, "Name (_HID, \"LNRO0005\")");
	expect(text, "Memory32Fixed (ReadWrite,\n                    0xD0003000,");
	expect(text, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n"
		     "                {\n                    0x00000014,");
	expect(text, "Name (\\_S5, Package (0x04)");
	free(text);
	acpiw_free(&w);
}

static void test_other_tables_decompile(void **state)
{
	struct acpi_writer w;
	char *text;

	(void)state;
	build(&w, 32, mmio3, 3);
	text = iasl_disassemble(xsdt_entry(&w, 0, "FACP"));
	expect(text, "Hardware Reduced (V5) : 1");
	expect(text, "Sleep Control Register");
	expect(text, "Hypervisor ID : 4D4D565245424D45"); /* "EMBERVMM" */
	free(text);
	text = iasl_disassemble(xsdt_entry(&w, 1, "APIC"));
	expect(text, "Local Apic ID : 1F");
	expect(text, "I/O Apic ID : 20");
	expect(text, "Subtable Type : 04 [Local APIC NMI]");
	free(text);
	acpiw_free(&w);
}

static void test_sized_from_the_configuration(void **state)
{
	struct vm_mmio_dev many[VM_MAX_MMIO_DEVS];
	struct acpi_writer w;
	size_t small, large;
	unsigned int i;

	(void)state;
	for (i = 0; i < VM_MAX_MMIO_DEVS; i++)
		many[i] = (struct vm_mmio_dev){ 0xd0001000 + i * 0x1000, 0x1000, 5 + i };
	build(&w, 1, NULL, 0);
	small = w.len;
	acpiw_free(&w);
	build(&w, 32, many, VM_MAX_MMIO_DEVS);
	large = w.len;
	acpiw_free(&w);
	assert_true(small < 1024);
	assert_true(large > small && large < 4096);
}

static void test_refusals(void **state)
{
	const struct vm_mmio_dev high = { 0x100000000ULL, 0x1000, 5 };
	struct x86_acpi_machine m = { 0, NULL, 0, true };
	struct acpi_writer w;

	(void)state;
	acpiw_init(&w, 0x20000);
	assert_int_equal(x86_acpi_build(&m, BASE, &w), -EINVAL); /* no CPU */
	acpiw_free(&w);
	m.nr_cpus = ARCH_MAX_VCPUS + 1;
	acpiw_init(&w, 0x20000);
	assert_int_equal(x86_acpi_build(&m, BASE, &w), -EINVAL);
	acpiw_free(&w);
	/* Memory32Fixed cannot say an address above 4 GiB. */
	m = (struct x86_acpi_machine){ 1, &high, 1, true };
	acpiw_init(&w, 0x20000);
	assert_int_equal(x86_acpi_build(&m, BASE, &w), -EINVAL);
	acpiw_free(&w);
	/* Tables that do not fit the area are refused, not cut. */
	m = (struct x86_acpi_machine){ 32, mmio3, 3, true };
	acpiw_init(&w, 512);
	assert_int_equal(x86_acpi_build(&m, BASE, &w), -E2BIG);
	acpiw_free(&w);
}

/* PkgLength takes 1 to 4 bytes, and counts itself. */
static void test_aml_package_lengths(void **state)
{
	struct acpi_writer w;
	char name[5];
	unsigned int i;

	(void)state;
	acpiw_init(&w, 1 << 16);
	aml_scope_begin(&w, "\\_SB_");
	aml_end(&w);
	assert_int_equal(w.error, 0);
	assert_memory_equal(w.data, "\x10\x06\\_SB_", 7);
	acpiw_free(&w);

	acpiw_init(&w, 1 << 16);
	aml_scope_begin(&w, "ABCD");
	for (i = 0; i < 20; i++) { /* 20 x 6 bytes: a 2-byte PkgLength of 2 + 4 + 120 */
		snprintf(name, sizeof(name), "N%03u", i);
		aml_name_int(&w, name, 0);
	}
	aml_end(&w);
	assert_int_equal(w.error, 0);
	assert_int_equal(w.len, 1 + 2 + 4 + 120);
	assert_int_equal(w.data[1], 0x40 | ((2 + 4 + 120) & 0xf));
	assert_int_equal(w.data[2], (2 + 4 + 120) >> 4);
	acpiw_free(&w);

	/* Bad names stick as -EINVAL; unbalanced ends too. */
	acpiw_init(&w, 1 << 16);
	aml_name_int(&w, "toolong", 1);
	assert_int_equal(w.error, -EINVAL);
	acpiw_free(&w);
	acpiw_init(&w, 1 << 16);
	aml_end(&w);
	assert_int_equal(w.error, -EINVAL);
	acpiw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_and_xsdt),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_madt_1_2_32_cpus),
		cmocka_unit_test(test_dsdt_decompiles),
		cmocka_unit_test(test_other_tables_decompile),
		cmocka_unit_test(test_sized_from_the_configuration),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_aml_package_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
