/* The riscv64 machine's device tree, read back with the host's libfdt and decompiled with dtc. */
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

#include "arch/riscv64/fdt_tree.h"
#include "fdt_read.h"

#define BLOB_MAX     (64 * 1024)
#define ISA	     "rv64imafdc_zicntr_zicsr_zifencei_zihpm_sstc"
#define ISA_AIA	     "rv64imafdch_zicntr_zicsr_zifencei_zihpm_ssaia_sstc"
#define TIMEBASE_HZ  10000000
#define RAM_BASE     0x80000000ULL
#define RAM_SIZE     (256ULL << 20)
#define CMDLINE	     "console=ttyS0 reboot=k panic=1"
#define INITRD_ADDR  0x8f000000ULL
#define INITRD_SIZE  0x345000ULL
#define PLIC_ADDR    0xc000000ULL
#define PLIC_NR_SRC  64 /* source 0 included */
#define APLIC_ADDR   0xd000000ULL
#define APLIC_SIZE   0x8000ULL
#define APLIC_NR_SRC 96
#define IMSIC_ADDR   0x28000000ULL
#define IMSIC_NR_IDS 255
#define UART_ADDR    0x10000000ULL
#define UART_IRQ     10
#define UART_CLOCK   3686400
#define MMIO_BASE    0x10001000ULL
#define MMIO_SIZE    0x1000ULL
#define VIRTIO_IRQ   11
#define PLIC_NR_CPUS 2
#define AIA_NR_CPUS  4
#define PLIC_PATH    "/soc/plic@c000000"
#define APLIC_PATH   "/soc/aplic@d000000"
#define IMSIC_PATH   "/soc/imsics@28000000"
#define UART_PATH    "/soc/serial@10000000"
#define S_EXT_IRQ    9

/* What arch.c would describe without an in-kernel irqchip: two harts, an initrd, two disks. */
static void params_plic(struct riscv_fdt_params *p)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->nr_cpus = PLIC_NR_CPUS;
	p->isa = ISA;
	p->timebase_hz = TIMEBASE_HZ;
	p->ram_base = RAM_BASE;
	p->ram_size = RAM_SIZE;
	p->cmdline = CMDLINE;
	p->initrd_addr = INITRD_ADDR;
	p->initrd_size = INITRD_SIZE;
	p->irqchip = RISCV_IRQCHIP_PLIC;
	p->plic_addr = PLIC_ADDR;
	p->plic_size = 0x200000 + 0x1000 * PLIC_NR_CPUS;
	p->plic_nr_sources = PLIC_NR_SRC;
	p->uart = (struct riscv_mmio_node){UART_ADDR, 0x100, UART_IRQ};
	p->uart_clock = UART_CLOCK;
	p->nr_virtio = 2;
	for (i = 0; i < p->nr_virtio; i++)
		p->virtio[i] =
		    (struct riscv_mmio_node){MMIO_BASE + i * MMIO_SIZE, MMIO_SIZE, VIRTIO_IRQ + i};
}

/* KVM's AIA: four harts, no initrd or cmdline, the UART and three virtio devices. */
static void params_aia(struct riscv_fdt_params *p)
{
	unsigned int i;

	params_plic(p);
	p->nr_cpus = AIA_NR_CPUS;
	p->isa = ISA_AIA;
	p->cmdline = NULL;
	p->initrd_addr = 0;
	p->initrd_size = 0;
	p->irqchip = RISCV_IRQCHIP_AIA;
	p->plic_addr = 0;
	p->plic_size = 0;
	p->plic_nr_sources = 0;
	p->aplic_addr = APLIC_ADDR;
	p->aplic_size = APLIC_SIZE;
	p->imsic_addr = IMSIC_ADDR;
	p->imsic_size = AIA_NR_CPUS * 0x1000;
	p->aia_nr_ids = IMSIC_NR_IDS;
	p->aia_nr_sources = APLIC_NR_SRC;
	p->nr_virtio = 3;
	for (i = 0; i < p->nr_virtio; i++)
		p->virtio[i] =
		    (struct riscv_mmio_node){MMIO_BASE + i * MMIO_SIZE, MMIO_SIZE, VIRTIO_IRQ + i};
	p->virtio[2].irq = APLIC_NR_SRC; /* the last source is a usable one */
}

static uint8_t *build_checked(const struct riscv_fdt_params *p, size_t *len)
{
	uint8_t *blob = NULL;
	char why[256] = "";

	assert_int_equal(riscv_fdt_build(p, BLOB_MAX, &blob, len, why, sizeof(why)), 0);
	assert_non_null(blob);
	assert_int_equal(fdt_totalsize(blob), *len);
	assert_int_equal(fdt_check_full(blob, *len), 0);
	return blob;
}

static void assert_reg(const void *blob, int node, uint64_t addr, uint64_t size)
{
	uint32_t reg[4] = {addr >> 32, (uint32_t)addr, size >> 32, (uint32_t)size};

	assert_cells(blob, node, "reg", reg, 4);
}

/* The phandle of hart (hart)'s interrupt-controller child. */
static uint32_t hart_intc_phandle(const void *blob, unsigned int hart)
{
	char path[64];
	uint32_t phandle;

	snprintf(path, sizeof(path), "/cpus/cpu@%x/interrupt-controller", hart);
	phandle = fdt_get_phandle(blob, node_at(blob, path));
	assert_int_not_equal(phandle, 0);
	return phandle;
}

static void assert_cpus(const void *blob, const struct riscv_fdt_params *p)
{
	int cpus = node_at(blob, "/cpus"), cluster = node_at(blob, "/cpus/cpu-map/cluster0");
	unsigned int hart, nr_cores = 0;
	int node;

	assert_int_equal(prop_u32(blob, cpus, "#address-cells"), 1);
	assert_int_equal(prop_u32(blob, cpus, "#size-cells"), 0);
	assert_int_equal(prop_u32(blob, cpus, "timebase-frequency"), TIMEBASE_HZ);
	for (hart = 0; hart < p->nr_cpus; hart++) {
		char path[32], core[32];
		int cpu, intc;

		snprintf(path, sizeof(path), "/cpus/cpu@%x", hart);
		cpu = node_at(blob, path);
		intc = fdt_subnode_offset(blob, cpu, "interrupt-controller");
		assert_true(intc >= 0);
		assert_string_equal(fdt_getprop(blob, cpu, "device_type", NULL), "cpu");
		assert_int_equal(fdt_node_check_compatible(blob, cpu, "riscv"), 0);
		assert_int_equal(prop_u32(blob, cpu, "reg"), hart);
		assert_string_equal(fdt_getprop(blob, cpu, "status", NULL), "okay");
		assert_string_equal(fdt_getprop(blob, cpu, "riscv,isa", NULL), p->isa);
		assert_string_equal(fdt_getprop(blob, cpu, "mmu-type", NULL), "riscv,sv48");

		assert_int_equal(fdt_node_check_compatible(blob, intc, "riscv,cpu-intc"), 0);
		assert_int_equal(prop_u32(blob, intc, "#interrupt-cells"), 1);
		assert_int_equal(prop_u32(blob, intc, "#address-cells"), 0);
		assert_empty_prop(blob, intc, "interrupt-controller");

		/* cpu-map's coreN names this hart's node by phandle. */
		snprintf(core, sizeof(core), "core%u", hart);
		node = fdt_subnode_offset(blob, cluster, core);
		assert_true(node >= 0);
		assert_int_not_equal(fdt_get_phandle(blob, cpu), 0);
		assert_int_equal(fdt_node_offset_by_phandle(blob, prop_u32(blob, node, "cpu")),
				 cpu);
	}
	fdt_for_each_subnode(node, blob, cluster) nr_cores++;
	assert_int_equal(nr_cores, p->nr_cpus);
	/* Nothing else under /cpus: the harts and the map. */
	nr_cores = 0;
	fdt_for_each_subnode(node, blob, cpus) nr_cores++;
	assert_int_equal(nr_cores, p->nr_cpus + 1);
}

/* (node)'s interrupts-extended: <&hart n's intc, 9> for every hart, in hart order. */
static void assert_per_hart_s_ext(const void *blob, int node, const struct riscv_fdt_params *p)
{
	uint32_t want[2 * RISCV_FDT_MAX_CPUS];
	unsigned int hart;

	for (hart = 0; hart < p->nr_cpus; hart++) {
		want[2 * hart] = hart_intc_phandle(blob, hart);
		want[2 * hart + 1] = S_EXT_IRQ;
	}
	assert_cells(blob, node, "interrupts-extended", want, 2 * p->nr_cpus);
}

/* (node)'s interrupts, and its interrupt-parent resolving to (irqchip). */
static void assert_device_irq(const void *blob, int node, const struct riscv_fdt_params *p,
			      unsigned int irq, int irqchip)
{
	uint32_t want[2] = {irq, 1}; /* IRQ_TYPE_EDGE_RISING on the APLIC */

	assert_cells(blob, node, "interrupts", want, p->irqchip == RISCV_IRQCHIP_AIA ? 2 : 1);
	assert_int_equal(fdt_node_offset_by_phandle(blob, prop_u32(blob, node, "interrupt-parent")),
			 irqchip);
}

static void assert_devices(const void *blob, const struct riscv_fdt_params *p, int irqchip)
{
	int soc = node_at(blob, "/soc"), uart = node_at(blob, UART_PATH), node;
	unsigned int n = 0;

	assert_int_equal(fdt_node_check_compatible(blob, soc, "simple-bus"), 0);
	assert_int_equal(prop_u32(blob, soc, "#address-cells"), 2);
	assert_int_equal(prop_u32(blob, soc, "#size-cells"), 2);
	assert_empty_prop(blob, soc, "ranges");

	assert_int_equal(fdt_node_check_compatible(blob, uart, "ns16550a"), 0);
	assert_reg(blob, uart, UART_ADDR, 0x100);
	assert_int_equal(prop_u32(blob, uart, "clock-frequency"), UART_CLOCK);
	assert_int_equal(prop_u32(blob, uart, "reg-shift"), 0);
	assert_int_equal(prop_u32(blob, uart, "reg-io-width"), 1);
	assert_device_irq(blob, uart, p, UART_IRQ, irqchip);

	fdt_for_each_subnode(node, blob, soc)
	{
		const struct riscv_mmio_node *dev = &p->virtio[n];

		if (strncmp(fdt_get_name(blob, node, NULL), "virtio_mmio@", 12))
			continue;
		assert_true(n < p->nr_virtio);
		assert_int_equal(fdt_node_check_compatible(blob, node, "virtio,mmio"), 0);
		assert_reg(blob, node, dev->addr, dev->size);
		assert_device_irq(blob, node, p, dev->irq, irqchip);
		/* Coherent by default on RISC-V: neither property belongs here. */
		assert_null(fdt_getprop(blob, node, "dma-coherent", NULL));
		assert_null(fdt_getprop(blob, node, "dma-noncoherent", NULL));
		n++;
	}
	assert_int_equal(n, p->nr_virtio);
}

static void assert_common(const void *blob, const struct riscv_fdt_params *p)
{
	int chosen = node_at(blob, "/chosen");
	const char *stdout_path = fdt_getprop(blob, chosen, "stdout-path", NULL);

	assert_int_equal(fdt_node_check_compatible(blob, 0, "ember,riscv-virt"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, 0, "riscv-virtio"), 0);
	assert_string_equal(fdt_getprop(blob, 0, "model", NULL), "ember");
	assert_int_equal(fdt_address_cells(blob, 0), 2);
	assert_int_equal(fdt_size_cells(blob, 0), 2);
	assert_string_equal(
	    fdt_getprop(blob, node_at(blob, "/memory@80000000"), "device_type", NULL), "memory");
	assert_reg(blob, node_at(blob, "/memory@80000000"), RAM_BASE, RAM_SIZE);
	assert_cpus(blob, p);
	assert_non_null(stdout_path);
	assert_string_equal(stdout_path, UART_PATH);
	assert_int_equal(fdt_path_offset(blob, stdout_path), node_at(blob, UART_PATH));
}

static void test_plic_tree(void **state)
{
	struct riscv_fdt_params p;
	uint8_t *blob;
	size_t len;
	int chosen, plic;

	(void)state;
	params_plic(&p);
	blob = build_checked(&p, &len);
	assert_common(blob, &p);

	plic = node_at(blob, PLIC_PATH);
	assert_int_equal(fdt_node_check_compatible(blob, plic, "sifive,plic-1.0.0"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, plic, "riscv,plic0"), 0);
	assert_reg(blob, plic, PLIC_ADDR, 0x200000 + 0x1000 * PLIC_NR_CPUS);
	assert_int_equal(prop_u32(blob, plic, "#interrupt-cells"), 1);
	assert_int_equal(prop_u32(blob, plic, "#address-cells"), 0);
	assert_empty_prop(blob, plic, "interrupt-controller");
	assert_int_equal(prop_u32(blob, plic, "riscv,ndev"), PLIC_NR_SRC - 1);
	assert_per_hart_s_ext(blob, plic, &p);
	assert_int_not_equal(fdt_get_phandle(blob, plic), 0);
	assert_true(fdt_path_offset(blob, APLIC_PATH) < 0);
	assert_true(fdt_path_offset(blob, IMSIC_PATH) < 0);
	assert_devices(blob, &p, plic);

	chosen = node_at(blob, "/chosen");
	assert_string_equal(fdt_getprop(blob, chosen, "bootargs", NULL), CMDLINE);
	assert_int_equal(prop_u64(blob, chosen, "linux,initrd-start"), INITRD_ADDR);
	assert_int_equal(prop_u64(blob, chosen, "linux,initrd-end"), INITRD_ADDR + INITRD_SIZE);
	free(blob);
}

static void test_aia_tree(void **state)
{
	struct riscv_fdt_params p;
	uint8_t *blob;
	size_t len;
	int chosen, aplic, imsic;

	(void)state;
	params_aia(&p);
	blob = build_checked(&p, &len);
	assert_common(blob, &p);

	imsic = node_at(blob, IMSIC_PATH);
	assert_int_equal(fdt_node_check_compatible(blob, imsic, "riscv,imsics"), 0);
	assert_reg(blob, imsic, IMSIC_ADDR, AIA_NR_CPUS * 0x1000);
	assert_empty_prop(blob, imsic, "interrupt-controller");
	assert_int_equal(prop_u32(blob, imsic, "#interrupt-cells"), 0);
	assert_int_equal(prop_u32(blob, imsic, "#address-cells"), 0);
	assert_empty_prop(blob, imsic, "msi-controller");
	assert_int_equal(prop_u32(blob, imsic, "#msi-cells"), 0);
	assert_int_equal(prop_u32(blob, imsic, "riscv,num-ids"), IMSIC_NR_IDS);
	assert_per_hart_s_ext(blob, imsic, &p);

	aplic = node_at(blob, APLIC_PATH);
	assert_int_equal(fdt_node_check_compatible(blob, aplic, "riscv,aplic"), 0);
	assert_reg(blob, aplic, APLIC_ADDR, APLIC_SIZE);
	assert_empty_prop(blob, aplic, "interrupt-controller");
	assert_int_equal(prop_u32(blob, aplic, "#interrupt-cells"), 2);
	assert_int_equal(prop_u32(blob, aplic, "#address-cells"), 0);
	assert_int_equal(prop_u32(blob, aplic, "riscv,num-sources"), APLIC_NR_SRC);
	assert_int_equal(fdt_node_offset_by_phandle(blob, prop_u32(blob, aplic, "msi-parent")),
			 imsic);
	/* MSI mode: the APLIC reaches the harts only through the IMSIC. */
	assert_null(fdt_getprop(blob, aplic, "interrupts-extended", NULL));
	assert_true(fdt_path_offset(blob, PLIC_PATH) < 0);
	assert_devices(blob, &p, aplic);

	chosen = node_at(blob, "/chosen");
	assert_null(fdt_getprop(blob, chosen, "bootargs", NULL));
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-start", NULL));
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-end", NULL));
	free(blob);
}

/* The most harts the tree takes, with either irqchip. */
static void test_cpu_limits(void **state)
{
	struct riscv_fdt_params p;
	uint8_t *blob;
	size_t len;

	(void)state;
	params_plic(&p);
	p.nr_cpus = RISCV_FDT_MAX_CPUS;
	blob = build_checked(&p, &len);
	assert_cpus(blob, &p);
	assert_per_hart_s_ext(blob, node_at(blob, PLIC_PATH), &p);
	node_at(blob, "/cpus/cpu@1f");
	free(blob);

	params_aia(&p);
	p.nr_cpus = RISCV_FDT_MAX_CPUS;
	p.imsic_size = RISCV_FDT_MAX_CPUS * 0x1000;
	blob = build_checked(&p, &len);
	assert_per_hart_s_ext(blob, node_at(blob, IMSIC_PATH), &p);
	free(blob);
}

static void test_dtc_plic(void **state)
{
	struct riscv_fdt_params p;
	static char dts[32768];
	uint8_t *blob;
	size_t len;

	(void)state;
	params_plic(&p);
	blob = build_checked(&p, &len);
	dtc_decompile(blob, len, dts, sizeof(dts));
	free(blob);
	assert_dts_has(dts, "plic@c000000 {");
	assert_dts_has(dts, "riscv,ndev = <0x3f>;");
	assert_dts_has(dts, "interrupts = <0x0a>;");
	assert_dts_has(dts, "riscv,isa = \"" ISA "\";");
	assert_dts_has(dts, "stdout-path = \"" UART_PATH "\";");
	/* dtc 1.6 prints a string list as "a\0b", later ones as "a", "b". */
	if (!strstr(dts, "\"sifive,plic-1.0.0\\0riscv,plic0\"") &&
	    !strstr(dts, "\"sifive,plic-1.0.0\", \"riscv,plic0\""))
		fail_msg("dtc output lacks the PLIC's compatible:\n%s", dts);
}

static void test_dtc_aia(void **state)
{
	struct riscv_fdt_params p;
	static char dts[32768];
	uint8_t *blob;
	size_t len;

	(void)state;
	params_aia(&p);
	blob = build_checked(&p, &len);
	dtc_decompile(blob, len, dts, sizeof(dts));
	free(blob);
	assert_dts_has(dts, "imsics@28000000 {");
	assert_dts_has(dts, "aplic@d000000 {");
	assert_dts_has(dts, "riscv,num-ids = <0xff>;");
	assert_dts_has(dts, "riscv,num-sources = <0x60>;");
	assert_dts_has(dts, "interrupts = <0x0a 0x01>;");
	assert_dts_has(dts, "interrupts = <0x60 0x01>;");
	assert_dts_has(dts, "msi-controller;");
}

static void expect_refusal(const struct riscv_fdt_params *p, size_t max, int err)
{
	uint8_t *blob = NULL;
	char why[256] = "";
	size_t len = 0;

	assert_int_equal(riscv_fdt_build(p, max, &blob, &len, why, sizeof(why)), err);
	assert_null(blob);
	assert_true(why[0] != '\0'); /* a refusal says why */
}

static void test_refusals(void **state)
{
	struct riscv_fdt_params p;

	(void)state;
	params_plic(&p);
	p.nr_cpus = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.nr_cpus = RISCV_FDT_MAX_CPUS + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	p.isa = NULL;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.isa = "rv32imafdc";
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.isa = "rv64gc"; /* Linux's riscv,isa parser wants the letters spelled out */
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.isa = "";
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	p.timebase_hz = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	p.ram_size = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	p.irqchip = (enum riscv_irqchip)0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.irqchip = (enum riscv_irqchip)3;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	p.nr_virtio = RISCV_FDT_MAX_VIRTIO + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	/* IRQ numbers: 0 is "none", and riscv,ndev is the highest PLIC source. */
	params_plic(&p);
	p.uart.irq = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_plic(&p);
	p.virtio[1].irq = PLIC_NR_SRC;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_plic(&p);
	p.virtio[1].irq = PLIC_NR_SRC - 1;
	free(build_checked(&p, &(size_t){0}));
	params_plic(&p);
	p.plic_nr_sources = 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	/* On the APLIC riscv,num-sources is the highest source. */
	params_aia(&p);
	p.virtio[0].irq = APLIC_NR_SRC + 1;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_aia(&p);
	p.virtio[0].irq = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_aia(&p);
	p.aia_nr_sources = 0;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_aia(&p);
	p.aia_nr_ids = 256; /* not 64 * n - 1 */
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	p.aia_nr_ids = 2048 + 63;
	expect_refusal(&p, BLOB_MAX, -EINVAL);
	params_aia(&p);
	p.imsic_size = (AIA_NR_CPUS - 1) * 0x1000; /* a hart without its interrupt file */
	expect_refusal(&p, BLOB_MAX, -EINVAL);

	params_plic(&p);
	expect_refusal(&p, 256, -E2BIG);
	params_aia(&p);
	expect_refusal(&p, 256, -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plic_tree),  cmocka_unit_test(test_aia_tree),
	    cmocka_unit_test(test_cpu_limits), cmocka_unit_test(test_dtc_plic),
	    cmocka_unit_test(test_dtc_aia),    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
