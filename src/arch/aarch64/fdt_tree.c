/*
 * The arm64 machine's device tree (Devicetree Specification v0.4 and Linux's arm64
 * bindings): CPUs started through PSCI, RAM, the arch timer, a GICv2 or v3, a 16550
 * UART, a PL031 RTC and ember's virtio-mmio slots. Everything comes from the params, so
 * this file knows nothing about KVM and the unit tests build it on any host.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fdt_tree.h"
#include "../../util/fdt.h"

/* The GIC's three interrupt cells: type, number, flags (dt-bindings/interrupt-controller). */
#define GIC_SPI 0
#define GIC_PPI 1

#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_HIGH  4
#define IRQ_TYPE_LEVEL_LOW   8

/* GICv2 PPI specifiers carry a mask of the CPUs the PPI is wired to, in bits 15:8. */
#define GICV2_PPI_CPU_MASK_SHIFT 8

/* MPIDR_EL1's affinity fields: Aff3 in 39:32, Aff2..Aff0 in 23:0; the rest are flags. */
#define MPIDR_AFFINITY_MASK 0xff00ffffffULL

#define PHANDLE_GIC	 1
#define PHANDLE_APB_PCLK 2

/*
 * The PL031 needs no real clock, but Linux's AMBA bus will not probe a primecell without
 * one named apb_pclk; any fixed rate does.
 */
#define APB_PCLK_HZ 24000000

/* (addr, size) as four cells: the root's two address and two size cells. */
static void range_cells(uint32_t *cells, uint64_t addr, uint64_t size)
{
	cells[0] = addr >> 32;
	cells[1] = (uint32_t)addr;
	cells[2] = size >> 32;
	cells[3] = (uint32_t)size;
}

static void prop_spi(struct fdt_writer *f, unsigned int spi, uint32_t type)
{
	uint32_t cells[3] = {GIC_SPI, spi, type};

	fdtw_prop_cells(f, "interrupts", cells, 3);
}

/* The flags cell of a PPI: GICv3 has no CPU mask, GICv2 names every CPU. */
static uint32_t ppi_flags(const struct arm_fdt_params *p, uint32_t type)
{
	if (p->gic != ARM_GIC_V2)
		return type;
	return type | ((1U << p->nr_cpus) - 1) << GICV2_PPI_CPU_MASK_SHIFT;
}

static int check_params(const struct arm_fdt_params *p, char *why, size_t why_len)
{
	if (!p->nr_cpus || p->nr_cpus > ARCH_MAX_VCPUS) {
		snprintf(why, why_len, "fdt: %u vCPUs, want 1 to %d", p->nr_cpus, ARCH_MAX_VCPUS);
		return -EINVAL;
	}
	if (p->gic != ARM_GIC_V2 && p->gic != ARM_GIC_V3) {
		snprintf(why, why_len, "fdt: unknown GIC version %d", (int)p->gic);
		return -EINVAL;
	}
	if (p->gic == ARM_GIC_V2 && p->nr_cpus > ARM_GICV2_MAX_VCPUS) {
		snprintf(why, why_len, "fdt: %u vCPUs, but a GICv2 has only %d CPU interfaces",
			 p->nr_cpus, ARM_GICV2_MAX_VCPUS);
		return -EINVAL;
	}
	if (p->nr_virtio > ARM_FDT_MAX_VIRTIO) {
		snprintf(why, why_len, "fdt: %u virtio devices, at most %d", p->nr_virtio,
			 ARM_FDT_MAX_VIRTIO);
		return -EINVAL;
	}
	if (!p->ram_size) {
		snprintf(why, why_len, "fdt: no RAM");
		return -EINVAL;
	}
	return 0;
}

static void fdt_root_props(struct fdt_writer *f)
{
	fdtw_prop_string(f, "compatible", "linux,dummy-virt");
	fdtw_prop_string(f, "model", "ember");
	fdtw_prop_u32(f, "#address-cells", 2);
	fdtw_prop_u32(f, "#size-cells", 2);
	fdtw_prop_u32(f, "interrupt-parent", PHANDLE_GIC);
}

static void fdt_cpus(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	unsigned int i;

	fdtw_begin_node(f, "cpus");
	fdtw_prop_u32(f, "#address-cells", 2);
	fdtw_prop_u32(f, "#size-cells", 0);
	for (i = 0; i < p->nr_cpus; i++) {
		uint64_t affinity = p->mpidr[i] & MPIDR_AFFINITY_MASK;

		fdtw_begin_node_at(f, "cpu", affinity);
		fdtw_prop_string(f, "device_type", "cpu");
		fdtw_prop_string(f, "compatible", "arm,arm-v8");
		fdtw_prop_string(f, "enable-method", "psci");
		fdtw_prop_u64(f, "reg", affinity);
		fdtw_end_node(f);
	}
	fdtw_end_node(f);
}

static void fdt_chosen(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	char uart_path[64];

	snprintf(uart_path, sizeof(uart_path), "/uart@%" PRIx64, p->uart.addr);
	fdtw_chosen_node(f, p->cmdline, uart_path, p->initrd_addr, p->initrd_size);
}

/* KVM implements PSCI 0.2 or later; its calls come in through HVC from EL1. */
static void fdt_psci(struct fdt_writer *f)
{
	static const char *const compat[] = {"arm,psci-0.2", "arm,psci"};

	fdtw_begin_node(f, "psci");
	fdtw_prop_strings(f, "compatible", compat, 2);
	fdtw_prop_string(f, "method", "hvc");
	fdtw_end_node(f);
}

static void fdt_timer(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	/* The binding's order: secure, non-secure physical, virtual, hypervisor. */
	static const unsigned int ppis[] = {ARM_TIMER_PPI_SEC, ARM_TIMER_PPI_NS, ARM_TIMER_PPI_VIRT,
					    ARM_TIMER_PPI_HYP};
	uint32_t flags = ppi_flags(p, IRQ_TYPE_LEVEL_LOW);
	uint32_t cells[3 * 4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		cells[3 * i] = GIC_PPI;
		cells[3 * i + 1] = ppis[i];
		cells[3 * i + 2] = flags;
	}
	fdtw_begin_node(f, "timer");
	fdtw_prop_string(f, "compatible", "arm,armv8-timer");
	/* KVM emulates the timer, so it keeps running while a vCPU idles: no broadcast needed. */
	fdtw_prop_empty(f, "always-on");
	fdtw_prop_cells(f, "interrupts", cells, 3 * 4);
	fdtw_end_node(f);
}

static void fdt_gic(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	uint32_t maint[3] = {GIC_PPI, ARM_GIC_MAINT_PPI, ppi_flags(p, IRQ_TYPE_LEVEL_HIGH)};
	uint32_t reg[8];

	/* The distributor, then the v2 CPU interface or the v3 redistributor region. */
	range_cells(reg, p->gic_dist_addr, p->gic_dist_size);
	if (p->gic == ARM_GIC_V2)
		range_cells(reg + 4, p->gic_cpu_addr, p->gic_cpu_size);
	else
		range_cells(reg + 4, p->gic_redist_addr, p->gic_redist_size);

	fdtw_begin_node_at(f, "intc", p->gic_dist_addr);
	if (p->gic == ARM_GIC_V2) {
		fdtw_prop_string(f, "compatible", "arm,gic-400");
	} else {
		fdtw_prop_string(f, "compatible", "arm,gic-v3");
		fdtw_prop_u32(f, "#redistributor-regions", 1);
	}
	fdtw_prop_cells(f, "reg", reg, 8);
	fdtw_prop_u32(f, "#interrupt-cells", 3);
	fdtw_prop_empty(f, "interrupt-controller");
	/* Cells and an empty ranges so that child frames (a v2m or an ITS) could be added. */
	fdtw_prop_u32(f, "#address-cells", 2);
	fdtw_prop_u32(f, "#size-cells", 2);
	fdtw_prop_empty(f, "ranges");
	fdtw_prop_cells(f, "interrupts", maint, 3);
	fdtw_prop_u32(f, "phandle", PHANDLE_GIC);
	fdtw_end_node(f);
}

static void fdt_apb_pclk(struct fdt_writer *f)
{
	fdtw_begin_node(f, "apb-pclk");
	fdtw_prop_string(f, "compatible", "fixed-clock");
	fdtw_prop_u32(f, "#clock-cells", 0);
	fdtw_prop_u32(f, "clock-frequency", APB_PCLK_HZ);
	fdtw_prop_string(f, "clock-output-names", "clk24mhz");
	fdtw_prop_u32(f, "phandle", PHANDLE_APB_PCLK);
	fdtw_end_node(f);
}

static void fdt_uart(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	fdtw_begin_node_at(f, "uart", p->uart.addr);
	fdtw_prop_string(f, "compatible", "ns16550a");
	fdtw_prop_reg(f, p->uart.addr, p->uart.size);
	fdtw_prop_u32(f, "clock-frequency", p->uart_clock);
	prop_spi(f, p->uart.spi, IRQ_TYPE_LEVEL_HIGH);
	/* A 16550's registers are single bytes, packed one after another. */
	fdtw_prop_u32(f, "reg-shift", 0);
	fdtw_prop_u32(f, "reg-io-width", 1);
	fdtw_end_node(f);
}

static void fdt_rtc(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	static const char *const compat[] = {"arm,pl031", "arm,primecell"};

	fdtw_begin_node_at(f, "rtc", p->rtc.addr);
	fdtw_prop_strings(f, "compatible", compat, 2);
	fdtw_prop_reg(f, p->rtc.addr, p->rtc.size);
	prop_spi(f, p->rtc.spi, IRQ_TYPE_LEVEL_HIGH);
	fdtw_prop_u32(f, "clocks", PHANDLE_APB_PCLK);
	fdtw_prop_string(f, "clock-names", "apb_pclk");
	fdtw_end_node(f);
}

static void fdt_virtio(struct fdt_writer *f, const struct arm_fdt_params *p)
{
	unsigned int i;

	for (i = 0; i < p->nr_virtio; i++) {
		const struct arm_mmio_node *dev = &p->virtio[i];

		fdtw_begin_node_at(f, "virtio_mmio", dev->addr);
		fdtw_prop_string(f, "compatible", "virtio,mmio");
		fdtw_prop_reg(f, dev->addr, dev->size);
		/* ember raises these through irqfd pulses, not a held line. */
		prop_spi(f, dev->spi, IRQ_TYPE_EDGE_RISING);
		/*
		 * Without dma-coherent the guest maps the rings non-cacheable while ember
		 * reads them through the cache. Before ARMv8.4's stage-2 forced write-back
		 * (FEAT_S2FWB), on cores such as the Pi 4's Cortex-A72, the guest's choice
		 * wins and the two views of the rings disagree.
		 */
		fdtw_prop_empty(f, "dma-coherent");
		fdtw_end_node(f);
	}
}

int arm_fdt_build(const struct arm_fdt_params *p, size_t max, uint8_t **out, size_t *len,
		  char *why, size_t why_len)
{
	struct fdt_writer f;
	int ret;

	ret = check_params(p, why, why_len);
	if (ret)
		return ret;
	fdtw_init(&f);
	fdtw_begin_node(&f, "");
	fdt_root_props(&f);
	fdt_cpus(&f, p);
	fdtw_memory_node(&f, p->ram_base, p->ram_size);
	fdt_chosen(&f, p);
	fdt_psci(&f);
	fdt_timer(&f, p);
	fdt_gic(&f, p);
	fdt_apb_pclk(&f);
	fdt_uart(&f, p);
	fdt_rtc(&f, p);
	fdt_virtio(&f, p);
	fdtw_end_node(&f);
	ret = fdtw_finish(&f, max, out, len);
	if (ret)
		snprintf(why, why_len, "fdt: %s", strerror(-ret));
	return ret;
}
