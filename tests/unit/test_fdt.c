/* ember's FDT writer, read back with the host's libfdt and decompiled with dtc. */
#include <libfdt.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "unit.h"
#include "util/fdt.h"

/* A tree shaped like the arm64 one: root cells, cpus, memory, chosen, a GIC and a device. */
static int build(uint8_t **blob, size_t *len)
{
	static const char *const gic_compat[] = {"arm,gic-400", "arm,cortex-a15-gic"};
	uint32_t gic_reg[] = {0, 0x3fff0000, 0, 0x1000, 0, 0x3ffe0000, 0, 0x2000};
	struct fdt_writer f;

	fdtw_init(&f);
	fdtw_begin_node(&f, "");
	fdtw_prop_string(&f, "compatible", "linux,dummy-virt");
	fdtw_prop_u32(&f, "#address-cells", 2);
	fdtw_prop_u32(&f, "#size-cells", 2);
	fdtw_prop_u32(&f, "interrupt-parent", 1);
	fdtw_begin_node(&f, "cpus");
	fdtw_prop_u32(&f, "#address-cells", 1);
	fdtw_prop_u32(&f, "#size-cells", 0);
	fdtw_begin_node(&f, "cpu@0");
	fdtw_prop_string(&f, "device_type", "cpu");
	fdtw_prop_string(&f, "compatible", "arm,cortex-a72");
	fdtw_prop_string(&f, "enable-method", "psci");
	fdtw_prop_u32(&f, "reg", 0);
	fdtw_end_node(&f);
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "memory@80000000");
	fdtw_prop_string(&f, "device_type", "memory");
	fdtw_prop_cells(&f, "reg", (uint32_t[]){0, 0x80000000, 0, 0x8000000}, 4);
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "chosen");
	fdtw_prop_string(&f, "bootargs", "console=ttyS0 \"quoted\"");
	fdtw_prop_u64(&f, "linux,initrd-start", 0x88000000ULL);
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "intc@3fff0000");
	fdtw_prop_strings(&f, "compatible", gic_compat, 2);
	fdtw_prop_empty(&f, "interrupt-controller");
	fdtw_prop_u32(&f, "#interrupt-cells", 3);
	fdtw_prop_cells(&f, "reg", gic_reg, 8);
	fdtw_prop_u32(&f, "phandle", 1);
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "virtio_mmio@a000000");
	fdtw_prop_string(&f, "compatible", "virtio,mmio");
	fdtw_prop_empty(&f, "dma-coherent");
	fdtw_end_node(&f);
	fdtw_end_node(&f);
	return fdtw_finish(&f, 64 * 1024, blob, len);
}

static void test_libfdt_reads_it(void **state)
{
	const struct fdt_property *p;
	uint8_t *blob;
	size_t len;
	int node, plen;

	(void)state;
	assert_int_equal(build(&blob, &len), 0);
	assert_int_equal(fdt_check_header(blob), 0);
	assert_int_equal(fdt_totalsize(blob), len);
	assert_int_equal(fdt_check_full(blob, len), 0);
	node = fdt_path_offset(blob, "/cpus/cpu@0");
	assert_true(node >= 0);
	assert_string_equal(fdt_getprop(blob, node, "enable-method", NULL), "psci");
	node = fdt_path_offset(blob, "/intc@3fff0000");
	assert_true(node >= 0);
	assert_int_equal(fdt_node_check_compatible(blob, node, "arm,cortex-a15-gic"), 0);
	p = fdt_get_property(blob, node, "interrupt-controller", &plen);
	assert_non_null(p);
	assert_int_equal(plen, 0);
	assert_int_equal(fdt_get_phandle(blob, node), 1);
	node = fdt_path_offset(blob, "/memory@80000000");
	assert_int_equal(fdt_address_cells(blob, 0), 2);
	assert_memory_equal(fdt_getprop(blob, node, "reg", &plen),
			    "\0\0\0\0\x80\0\0\0\0\0\0\0\x08\0\0\0", 16);
	node = fdt_path_offset(blob, "/chosen");
	assert_memory_equal(fdt_getprop(blob, node, "linux,initrd-start", &plen),
			    "\0\0\0\0\x88\0\0\0", 8);
	assert_true(fdt_path_offset(blob, "/virtio_mmio@a000000") >= 0);
	free(blob);
}

static void test_dtc_decompiles_it(void **state)
{
	char path[] = "/tmp/ember-fdt-XXXXXX", cmd[256], out[8192];
	uint8_t *blob;
	size_t len, n;
	FILE *p;
	int fd;

	(void)state;
	assert_int_equal(build(&blob, &len), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, blob, len), 0);
	close(fd);
	free(blob);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	/* dtc 1.6 prints a string list as "a\0b", later ones as "a", "b". */
	if ((!strstr(out, "compatible = \"arm,gic-400\", \"arm,cortex-a15-gic\";") &&
	     !strstr(out, "compatible = \"arm,gic-400\\0arm,cortex-a15-gic\";")) ||
	    !strstr(out, "dma-coherent;") || !strstr(out, "enable-method = \"psci\";") ||
	    !strstr(out, "reg = <0x00 0x80000000 0x00 0x8000000>;"))
		fail_msg("dtc output lacks an expected line:\n%s", out);
}

static void test_refusals(void **state)
{
	uint8_t *blob = NULL;
	size_t len;
	struct fdt_writer f;
	int i;

	(void)state;
	fdtw_init(&f); /* nothing at all */
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), -EINVAL);
	fdtw_init(&f); /* a node left open */
	fdtw_begin_node(&f, "");
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), -EINVAL);
	fdtw_init(&f); /* a property outside any node */
	fdtw_prop_u32(&f, "x", 1);
	fdtw_begin_node(&f, "");
	fdtw_end_node(&f);
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), -EINVAL);
	fdtw_init(&f); /* a second root */
	fdtw_begin_node(&f, "");
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "");
	fdtw_end_node(&f);
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), -EINVAL);
	fdtw_init(&f); /* too deep */
	for (i = 0; i <= FDT_MAX_DEPTH; i++)
		fdtw_begin_node(&f, "n");
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), -EINVAL);
	fdtw_init(&f); /* over the size limit */
	fdtw_begin_node(&f, "");
	fdtw_prop(&f, "big", (uint8_t[200]){0}, 200);
	fdtw_end_node(&f);
	assert_int_equal(fdtw_finish(&f, 128, &blob, &len), -E2BIG);
	assert_null(blob);
}

static void test_strings_shared(void **state)
{
	uint8_t *blob;
	size_t len;
	struct fdt_writer f;

	(void)state;
	fdtw_init(&f);
	fdtw_begin_node(&f, "");
	fdtw_begin_node(&f, "a");
	fdtw_prop_u32(&f, "reg", 1);
	fdtw_end_node(&f);
	fdtw_begin_node(&f, "b");
	fdtw_prop_u32(&f, "reg", 2);
	fdtw_end_node(&f);
	fdtw_end_node(&f);
	assert_int_equal(fdtw_finish(&f, 4096, &blob, &len), 0);
	assert_int_equal(fdt_size_dt_strings(blob), sizeof("reg"));
	assert_int_equal(fdt_check_full(blob, len), 0);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libfdt_reads_it),
		cmocka_unit_test(test_dtc_decompiles_it),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_strings_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
