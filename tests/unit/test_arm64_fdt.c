/* The arm64 machine's device tree, read back with the host's libfdt and decompiled with dtc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libfdt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/fdt_tree.h"
#include "fdt_read.h"

#define BLOB_MAX      (64 * 1024)
#define NR_VIRTIO     3
#define CMDLINE	      "console=ttyS0 reboot=k panic=1"
#define INITRD_ADDR   0x8f000000ULL
#define INITRD_SIZE   0x345000ULL
#define GIC_PATH      "/intc@8000000"
#define UART_PATH     "/uart@9000000"
#define RTC_PATH      "/rtc@9010000"
#define MPIDR_RES1    0x80000000ULL /* bit 31 reads as one */
#define MPIDR_UP      0x40000000ULL /* bit 30: a uniprocessor system; not affinity */
#define GIC_V3_NR_CPU 4

/* What arch.c would describe for a GICv2 host: two CPUs, an initrd, three virtio devices. */
static void params_v2(struct arm_fdt_params *p)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->nr_cpus = 2;
	p->mpidr[0] = MPIDR_RES1;
	p->mpidr[1] = MPIDR_RES1 | 1;
	p->ram_base = ARM_RAM_BASE;
	p->ram_size = 256ULL << 20;
	p->cmdline = CMDLINE;
	p->initrd_addr = INITRD_ADDR;
	p->initrd_size = INITRD_SIZE;
	p->gic = ARM_GIC_V2;
	p->gic_dist_addr = ARM_GIC_DIST_ADDR;
	p->gic_dist_size = ARM_GIC_DIST_SIZE;
	p->gic_cpu_addr = ARM_GIC_CPU_ADDR;
	p->gic_cpu_size = ARM_GIC_CPU_SIZE;
	p->uart = (struct arm_mmio_node){ARM_UART_ADDR, ARM_UART_SIZE, ARM_UART_SPI};
	p->uart_clock = ARM_UART_CLOCK;
	p->rtc = (struct arm_mmio_node){ARM_RTC_ADDR, ARM_RTC_SIZE, ARM_RTC_SPI};
	for (i = 0; i < NR_VIRTIO; i++) {
		/* Slot 0 is the boot timer's. */
		p->virtio[i].addr = ARCH_MMIO_BASE + (i + 1) * ARCH_MMIO_SLOT_SIZE;
		p->virtio[i].size = ARCH_MMIO_SLOT_SIZE;
		p->virtio[i].spi = ARCH_VIRTIO_IRQ_BASE + i;
	}
	p->nr_virtio = NR_VIRTIO;
}

/* A GICv3 host: four CPUs in several clusters (Aff1, one with Aff3), no initrd or cmdline. */
static void params_v3(struct arm_fdt_params *p)
{
	params_v2(p);
	p->nr_cpus = GIC_V3_NR_CPU;
	p->mpidr[0] = MPIDR_RES1 | 0x100;
	p->mpidr[1] = MPIDR_RES1 | 0x200;
	p->mpidr[2] = MPIDR_RES1 | 0x301;
	p->mpidr[3] = (1ULL << 32) | MPIDR_RES1 | MPIDR_UP | 0x400;
	p->cmdline = NULL;
	p->initrd_addr = 0;
	p->initrd_size = 0;
	p->gic = ARM_GIC_V3;
	p->gic_cpu_addr = 0;
	p->gic_cpu_size = 0;
	p->gic_redist_addr = ARM_GIC_REDIST_ADDR;
	p->gic_redist_size = GIC_V3_NR_CPU * ARM_GIC_REDIST_STRIDE;
	p->nr_virtio = 1;
}

static uint8_t *build_checked(const struct arm_fdt_params *p, size_t *len)
{
	uint8_t *blob = NULL;
	char why[256] = "";

	assert_int_equal(arm_fdt_build(p, BLOB_MAX, &blob, len, why, sizeof(why)), 0);
	assert_non_null(blob);
	assert_int_equal(fdt_totalsize(blob), *len);
	assert_int_equal(fdt_check_full(blob, *len), 0);
	return blob;
}

static void assert_cpus(const void *blob, const struct arm_fdt_params *p)
{
	int cpus = node_at(blob, "/cpus"), node;
	unsigned int n = 0;

	assert_int_equal(prop_u32(blob, cpus, "#address-cells"), 2);
	assert_int_equal(prop_u32(blob, cpus, "#size-cells"), 0);
	fdt_for_each_subnode(node, blob, cpus)
	{
		uint64_t affinity = p->mpidr[n] & 0xff00ffffffULL;
		char name[32];

		assert_true(n < p->nr_cpus);
		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)affinity);
		assert_string_equal(fdt_get_name(blob, node, NULL), name);
		assert_string_equal(fdt_getprop(blob, node, "device_type", NULL), "cpu");
		assert_string_equal(fdt_getprop(blob, node, "enable-method", NULL), "psci");
		assert_int_equal(fdt_node_check_compatible(blob, node, "arm,arm-v8"), 0);
		assert_int_equal(prop_u64(blob, node, "reg"), affinity);
		n++;
	}
	assert_int_equal(n, p->nr_cpus);
}

/* The GIC node, and the root's interrupt-parent naming it. */
static void assert_gic(const void *blob, const struct arm_fdt_params *p, uint32_t ppi_mask)
{
	int gic = node_at(blob, GIC_PATH);
	uint32_t maint[3] = {1, ARM_GIC_MAINT_PPI, 4 | ppi_mask};
	uint32_t reg[8] = {0, ARM_GIC_DIST_ADDR, 0, ARM_GIC_DIST_SIZE};

	if (p->gic == ARM_GIC_V2) {
		assert_int_equal(fdt_node_check_compatible(blob, gic, "arm,gic-400"), 0);
		reg[5] = ARM_GIC_CPU_ADDR;
		reg[7] = ARM_GIC_CPU_SIZE;
		assert_null(fdt_getprop(blob, gic, "#redistributor-regions", NULL));
	} else {
		assert_int_equal(fdt_node_check_compatible(blob, gic, "arm,gic-v3"), 0);
		reg[5] = ARM_GIC_REDIST_ADDR;
		reg[7] = GIC_V3_NR_CPU * ARM_GIC_REDIST_STRIDE;
		assert_int_equal(prop_u32(blob, gic, "#redistributor-regions"), 1);
	}
	assert_cells(blob, gic, "reg", reg, 8);
	assert_int_equal(prop_u32(blob, gic, "#interrupt-cells"), 3);
	assert_empty_prop(blob, gic, "interrupt-controller");
	assert_cells(blob, gic, "interrupts", maint, 3);
	assert_int_not_equal(fdt_get_phandle(blob, gic), 0);
	assert_int_equal(prop_u32(blob, 0, "interrupt-parent"), fdt_get_phandle(blob, gic));
}

static void assert_timer(const void *blob, uint32_t ppi_mask)
{
	int timer = node_at(blob, "/timer");
	uint32_t flags = 8 | ppi_mask; /* IRQ_TYPE_LEVEL_LOW */
	uint32_t want[12] = {1, 13, flags, 1, 14, flags, 1, 11, flags, 1, 10, flags};

	assert_int_equal(fdt_node_check_compatible(blob, timer, "arm,armv8-timer"), 0);
	assert_empty_prop(blob, timer, "always-on");
	assert_cells(blob, timer, "interrupts", want, 12);
}

static void assert_devices(const void *blob, const struct arm_fdt_params *p)
{
	int uart = node_at(blob, UART_PATH), rtc = node_at(blob, RTC_PATH);
	int clk = node_at(blob, "/apb-pclk"), node;
	uint32_t uart_irq[3] = {0, ARM_UART_SPI, 4}, rtc_irq[3] = {0, ARM_RTC_SPI, 4};
	unsigned int n = 0;

	assert_int_equal(fdt_node_check_compatible(blob, uart, "ns16550a"), 0);
	assert_int_equal(prop_u32(blob, uart, "clock-frequency"), ARM_UART_CLOCK);
	assert_cells(blob, uart, "interrupts", uart_irq, 3);
	assert_int_equal(prop_u32(blob, uart, "reg-shift"), 0);
	assert_int_equal(prop_u32(blob, uart, "reg-io-width"), 1);

	assert_int_equal(fdt_node_check_compatible(blob, rtc, "arm,pl031"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, rtc, "arm,primecell"), 0);
	assert_cells(blob, rtc, "interrupts", rtc_irq, 3);
	assert_string_equal(fdt_getprop(blob, rtc, "clock-names", NULL), "apb_pclk");
	assert_int_equal(fdt_node_check_compatible(blob, clk, "fixed-clock"), 0);
	assert_int_equal(prop_u32(blob, clk, "#clock-cells"), 0);
	assert_int_equal(prop_u32(blob, clk, "clock-frequency"), 24000000);
	assert_int_not_equal(fdt_get_phandle(blob, clk), 0);
	assert_int_equal(prop_u32(blob, rtc, "clocks"), fdt_get_phandle(blob, clk));

	fdt_for_each_subnode(node, blob, 0)
	{
		const struct arm_mmio_node *dev = &p->virtio[n];
		uint32_t irq[3] = {0, dev->spi, 1}; /* IRQ_TYPE_EDGE_RISING */
		uint32_t reg[4] = {0, dev->addr, 0, dev->size};

		if (strncmp(fdt_get_name(blob, node, NULL), "virtio_mmio@", 12))
			continue;
		assert_true(n < p->nr_virtio);
		assert_int_equal(fdt_node_check_compatible(blob, node, "virtio,mmio"), 0);
		assert_empty_prop(blob, node, "dma-coherent");
		assert_cells(blob, node, "interrupts", irq, 3);
		assert_cells(blob, node, "reg", reg, 4);
		n++;
	}
	assert_int_equal(n, p->nr_virtio);
}

static void assert_common(const void *blob, const struct arm_fdt_params *p, uint32_t ppi_mask)
{
	uint32_t mem_reg[4] = {0, ARM_RAM_BASE, 0, 256 << 20};
	int psci = node_at(blob, "/psci"), chosen = node_at(blob, "/chosen");
	const char *stdout_path = fdt_getprop(blob, chosen, "stdout-path", NULL);

	assert_int_equal(fdt_node_check_compatible(blob, 0, "linux,dummy-virt"), 0);
	assert_string_equal(fdt_getprop(blob, 0, "model", NULL), "ember");
	assert_int_equal(fdt_address_cells(blob, 0), 2);
	assert_int_equal(fdt_size_cells(blob, 0), 2);
	assert_cells(blob, node_at(blob, "/memory@80000000"), "reg", mem_reg, 4);
	assert_cpus(blob, p);
	assert_gic(blob, p, ppi_mask);
	assert_timer(blob, ppi_mask);
	assert_int_equal(fdt_node_check_compatible(blob, psci, "arm,psci-0.2"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, psci, "arm,psci"), 0);
	assert_string_equal(fdt_getprop(blob, psci, "method", NULL), "hvc");
	assert_non_null(stdout_path);
	assert_string_equal(stdout_path, UART_PATH);
	assert_int_equal(fdt_path_offset(blob, stdout_path), node_at(blob, UART_PATH));
	assert_devices(blob, p);
}

static void test_gicv2_tree(void **state)
{
	struct arm_fdt_params p;
	uint8_t *blob;
	size_t len;
	int chosen;

	(void)state;
	params_v2(&p);
	blob = build_checked(&p, &len);
	assert_common(blob, &p, 0x3 << 8); /* both CPUs in each PPI's mask */
	chosen = node_at(blob, "/chosen");
	assert_string_equal(fdt_getprop(blob, chosen, "bootargs", NULL), CMDLINE);
	assert_int_equal(prop_u64(blob, chosen, "linux,initrd-start"), INITRD_ADDR);
	assert_int_equal(prop_u64(blob, chosen, "linux,initrd-end"), INITRD_ADDR + INITRD_SIZE);
	free(blob);
}

static void test_gicv3_tree(void **state)
{
	struct arm_fdt_params p;
	uint8_t *blob;
	size_t len;
	int chosen;

	(void)state;
	params_v3(&p);
	blob = build_checked(&p, &len);
	/* GICv3 PPIs carry no CPU mask. */
	assert_common(blob, &p, 0);
	/* Aff3 is kept, bits 31 and 30 are not affinity. */
	node_at(blob, "/cpus/cpu@100000400");
	chosen = node_at(blob, "/chosen");
	assert_null(fdt_getprop(blob, chosen, "bootargs", NULL));
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-start", NULL));
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-end", NULL));
	free(blob);
}

/* Eight CPUs fill a GICv2's CPU mask; the most a v3 takes is fine too. */
static void test_cpu_limits(void **state)
{
	struct arm_fdt_params p;
	uint8_t *blob;
	size_t len;
	unsigned int i;

	(void)state;
	params_v2(&p);
	p.nr_cpus = ARM_GICV2_MAX_VCPUS;
	for (i = 0; i < p.nr_cpus; i++)
		p.mpidr[i] = MPIDR_RES1 | i;
	blob = build_checked(&p, &len);
	assert_timer(blob, 0xff << 8);
	free(blob);

	params_v3(&p);
	p.nr_cpus = ARCH_MAX_VCPUS;
	for (i = 0; i < p.nr_cpus; i++)
		p.mpidr[i] = MPIDR_RES1 | (i >> 4) << 8 | (i & 0xf);
	blob = build_checked(&p, &len);
	assert_cpus(blob, &p);
	free(blob);
}

static void test_dtc_gicv2(void **state)
{
	struct arm_fdt_params p;
	static char dts[32768];
	uint8_t *blob;
	size_t len;

	(void)state;
	params_v2(&p);
	blob = build_checked(&p, &len);
	dtc_decompile(blob, len, dts, sizeof(dts));
	free(blob);
	assert_dts_has(dts, "compatible = \"arm,gic-400\";");
	assert_dts_has(dts, "interrupts = <0x01 0x09 0x304>;");
	assert_dts_has(dts, "method = \"hvc\";");
	assert_dts_has(dts, "stdout-path = \"" UART_PATH "\";");
	assert_dts_has(dts, "dma-coherent;");
	/* dtc 1.6 prints a string list as "a\0b", later ones as "a", "b". */
	if (!strstr(dts, "\"arm,pl031\\0arm,primecell\"") &&
	    !strstr(dts, "\"arm,pl031\", \"arm,primecell\""))
		fail_msg("dtc output lacks the PL031's compatible:\n%s", dts);
}

static void test_dtc_gicv3(void **state)
{
	struct arm_fdt_params p;
	static char dts[32768];
	uint8_t *blob;
	size_t len;

	(void)state;
	params_v3(&p);
	blob = build_checked(&p, &len);
	dtc_decompile(blob, len, dts, sizeof(dts));
	free(blob);
	assert_dts_has(dts, "compatible = \"arm,gic-v3\";");
	assert_dts_has(dts, "#redistributor-regions = <0x01>;");
	assert_dts_has(dts, "cpu@100000400 {");
	assert_dts_has(dts, "reg = <0x01 0x400>;");
}

static void expect_refusal(const struct arm_fdt_params *p, size_t max, int err)
{
	uint8_t *blob = NULL;
	char why[256] = "";
	size_t len = 0;

	assert_int_equal(arm_fdt_build(p, max, &blob, &len, why, sizeof(why)), err);
	assert_null(blob);
	assert_true(why[0] != '\0'); /* a refusal says why */
}

static void test_refusals(void **state)
{
	struct arm_fdt_params p;

	(void)state;
	params_v2(&p);
	p.nr_cpus = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v2(&p);
	p.nr_cpus = ARM_GICV2_MAX_VCPUS + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v3(&p);
	p.nr_cpus = ARCH_MAX_VCPUS + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v2(&p);
	p.gic = (enum arm_gic_version)4;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.gic = (enum arm_gic_version)0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v2(&p);
	p.nr_virtio = ARM_FDT_MAX_VIRTIO + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v2(&p);
	p.ram_size = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_v2(&p);
	expect_refusal(&p, 256, -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gicv2_tree), cmocka_unit_test(test_gicv3_tree),
	    cmocka_unit_test(test_cpu_limits), cmocka_unit_test(test_dtc_gicv2),
	    cmocka_unit_test(test_dtc_gicv3),  cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
