/*
 * The riscv64 machine's device tree (Devicetree Specification v0.4 and Linux's riscv
 * bindings): harts started through SBI HSM, RAM, a PLIC or an AIA (APLIC + IMSIC), a
 * 16550 UART and ember's virtio-mmio slots. Everything comes from the params, so this file
 * knows nothing about KVM and the unit tests build it on any host.
 *
 * RISC-V devices are DMA-coherent unless a node says dma-noncoherent, so, unlike on arm64,
 * the virtio nodes need no dma-coherent for ember's cached view of the rings to agree with
 * the guest's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fdt_tree.h"
#include "../../util/fdt.h"

/* Local interrupt 9 on each hart's intc: the supervisor external interrupt. */
#define HART_IRQ_S_EXT 9

#define IRQ_TYPE_EDGE_RISING 1 /* the APLIC's second cell (dt-bindings/interrupt-controller) */

#define PHANDLE_IRQCHIP	      1 /* the PLIC, or the APLIC: what the devices name */
#define PHANDLE_IMSIC	      2
#define PHANDLE_CPU_BASE      0x100 /* + hart id */
#define PHANDLE_CPU_INTC_BASE 0x200 /* + hart id */

/* The PLIC's bounds from its binding: sources 1..1023. */
#define PLIC_MAX_NDEV 1023
/* The APLIC's: 1..1023 wired sources. */
#define APLIC_MAX_SOURCES 1023
/* The IMSIC's: 63..2047 identities, always one less than a multiple of 64. */
#define IMSIC_MIN_IDS	63
#define IMSIC_MAX_IDS	2047
#define IMSIC_FILE_SIZE 0x1000ULL

/*
 * Linux probes the paging mode by writing satp, from Sv57 down; recent kernels (2025, and
 * stable) first cap it by the boot hart's mmu-type, older ones only show it in cpuinfo.
 * Sv48 spares a microVM 5-level tables it has no use for, and a host with only Sv39
 * still works, as the probe falls back to it.
 */
#define MMU_TYPE "riscv,sv48"

#define NODE_NAME_MAX 48

/*
 * An interrupt controller's own cells: (irq_cells) per specifier, and no address cells,
 * which only an interrupt-map would use. dtc 1.6 warns about providers without
 * #address-cells; 0 is what they mean anyway.
 */
static void prop_irq_provider(struct fdt_writer *f, uint32_t irq_cells)
{
	fdtw_prop_empty(f, "interrupt-controller");
	fdtw_prop_u32(f, "#interrupt-cells", irq_cells);
	fdtw_prop_u32(f, "#address-cells", 0);
}

/* <&intc(n) 9> for every hart: one S-level context (PLIC) or interrupt file (IMSIC) each. */
static void prop_hart_s_ext(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	uint32_t cells[2 * RISCV_FDT_MAX_CPUS];
	unsigned int n;

	for (n = 0; n < p->nr_cpus; n++) {
		cells[2 * n] = PHANDLE_CPU_INTC_BASE + n;
		cells[2 * n + 1] = HART_IRQ_S_EXT;
	}
	fdtw_prop_cells(f, "interrupts-extended", cells, 2 * p->nr_cpus);
}

/*
 * A device's line: one cell on the PLIC, source and trigger on the APLIC. Rising edges,
 * because every line ember drives is a pulse (an irqfd write) or rises anew for each new
 * cause (the 16550, edge-triggered on PCs too); a level source would have Linux's APLIC
 * driver write setipnum after every handler, one more trapped write per interrupt.
 */
static void prop_device_irq(struct fdt_writer *f, const struct riscv_fdt_params *p,
			    unsigned int irq)
{
	uint32_t cells[2] = {irq, IRQ_TYPE_EDGE_RISING};

	fdtw_prop_cells(f, "interrupts", cells, p->irqchip == RISCV_IRQCHIP_AIA ? 2 : 1);
	fdtw_prop_u32(f, "interrupt-parent", PHANDLE_IRQCHIP);
}

/* The highest source number the irqchip takes: riscv,ndev or riscv,num-sources. */
static unsigned int max_source(const struct riscv_fdt_params *p)
{
	if (p->irqchip == RISCV_IRQCHIP_AIA)
		return p->aia_nr_sources;
	return p->plic_nr_sources - 1; /* plic_nr_sources counts source 0, "none" */
}

static int check_irqchip(const struct riscv_fdt_params *p, char *why, size_t why_len)
{
	switch (p->irqchip) {
	case RISCV_IRQCHIP_PLIC:
		if (p->plic_nr_sources < 2 || p->plic_nr_sources - 1 > PLIC_MAX_NDEV) {
			snprintf(why, why_len,
				 "fdt: %u PLIC sources (source 0 included), want 2 to %d",
				 p->plic_nr_sources, PLIC_MAX_NDEV + 1);
			return -EINVAL;
		}
		return 0;
	case RISCV_IRQCHIP_AIA:
		if (!p->aia_nr_sources || p->aia_nr_sources > APLIC_MAX_SOURCES) {
			snprintf(why, why_len, "fdt: %u APLIC sources, want 1 to %d",
				 p->aia_nr_sources, APLIC_MAX_SOURCES);
			return -EINVAL;
		}
		if (p->aia_nr_ids < IMSIC_MIN_IDS || p->aia_nr_ids > IMSIC_MAX_IDS ||
		    p->aia_nr_ids % 64 != 63) {
			snprintf(why, why_len,
				 "fdt: %u IMSIC identities, want 64 * n - 1 from %d to %d",
				 p->aia_nr_ids, IMSIC_MIN_IDS, IMSIC_MAX_IDS);
			return -EINVAL;
		}
		if (p->imsic_size < p->nr_cpus * IMSIC_FILE_SIZE) {
			snprintf(why, why_len,
				 "fdt: IMSIC region 0x%" PRIx64 " bytes, too small for %u harts",
				 p->imsic_size, p->nr_cpus);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(why, why_len, "fdt: unknown irqchip %d", (int)p->irqchip);
	return -EINVAL;
}

static int check_irq(const struct riscv_fdt_params *p, const char *what, unsigned int irq,
		     char *why, size_t why_len)
{
	if (!irq || irq > max_source(p)) {
		snprintf(why, why_len, "fdt: %s on source %u, want 1 to %u", what, irq,
			 max_source(p));
		return -EINVAL;
	}
	return 0;
}

static int check_params(const struct riscv_fdt_params *p, char *why, size_t why_len)
{
	unsigned int i;
	int ret;

	if (!p->nr_cpus || p->nr_cpus > RISCV_FDT_MAX_CPUS) {
		snprintf(why, why_len, "fdt: %u harts, want 1 to %d", p->nr_cpus,
			 RISCV_FDT_MAX_CPUS);
		return -EINVAL;
	}
	/* Linux ignores a hart whose riscv,isa does not begin so (any case). */
	if (!p->isa || strncasecmp(p->isa, "rv64ima", 7)) {
		snprintf(why, why_len, "fdt: ISA \"%s\" does not begin with rv64ima",
			 p->isa ? p->isa : "(none)");
		return -EINVAL;
	}
	if (!p->timebase_hz) {
		snprintf(why, why_len, "fdt: timebase frequency 0");
		return -EINVAL;
	}
	if (!p->ram_size) {
		snprintf(why, why_len, "fdt: no RAM");
		return -EINVAL;
	}
	if (p->nr_virtio > RISCV_FDT_MAX_VIRTIO) {
		snprintf(why, why_len, "fdt: %u virtio devices, at most %d", p->nr_virtio,
			 RISCV_FDT_MAX_VIRTIO);
		return -EINVAL;
	}
	ret = check_irqchip(p, why, why_len);
	if (ret)
		return ret;
	ret = check_irq(p, "the UART", p->uart.irq, why, why_len);
	for (i = 0; !ret && i < p->nr_virtio; i++)
		ret = check_irq(p, "a virtio device", p->virtio[i].irq, why, why_len);
	return ret;
}

static void fdt_root_props(struct fdt_writer *f)
{
	static const char *const compat[] = {"ember,riscv-virt", "riscv-virtio"};

	fdtw_prop_strings(f, "compatible", compat, 2);
	fdtw_prop_string(f, "model", "ember");
	fdtw_prop_u32(f, "#address-cells", 2);
	fdtw_prop_u32(f, "#size-cells", 2);
}

static void fdt_cpu(struct fdt_writer *f, const struct riscv_fdt_params *p, unsigned int hart)
{
	fdtw_begin_node_at(f, "cpu", hart);
	fdtw_prop_string(f, "device_type", "cpu");
	fdtw_prop_string(f, "compatible", "riscv");
	fdtw_prop_u32(f, "reg", hart);
	fdtw_prop_string(f, "status", "okay");
	fdtw_prop_string(f, "riscv,isa", p->isa);
	fdtw_prop_string(f, "mmu-type", MMU_TYPE);
	fdtw_prop_u32(f, "phandle", PHANDLE_CPU_BASE + hart);

	/* The hart's local interrupts (timer, software, external): mcause numbers. */
	fdtw_begin_node(f, "interrupt-controller");
	fdtw_prop_string(f, "compatible", "riscv,cpu-intc");
	prop_irq_provider(f, 1);
	fdtw_prop_u32(f, "phandle", PHANDLE_CPU_INTC_BASE + hart);
	fdtw_end_node(f);

	fdtw_end_node(f);
}

/* One cluster of single-threaded cores: what a vCPU is, whatever the host's topology. */
static void fdt_cpu_map(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	char name[NODE_NAME_MAX];
	unsigned int hart;

	fdtw_begin_node(f, "cpu-map");
	fdtw_begin_node(f, "cluster0");
	for (hart = 0; hart < p->nr_cpus; hart++) {
		snprintf(name, sizeof(name), "core%u", hart);
		fdtw_begin_node(f, name);
		fdtw_prop_u32(f, "cpu", PHANDLE_CPU_BASE + hart);
		fdtw_end_node(f);
	}
	fdtw_end_node(f);
	fdtw_end_node(f);
}

static void fdt_cpus(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	unsigned int hart;

	fdtw_begin_node(f, "cpus");
	fdtw_prop_u32(f, "#address-cells", 1);
	fdtw_prop_u32(f, "#size-cells", 0);
	fdtw_prop_u32(f, "timebase-frequency", p->timebase_hz);
	for (hart = 0; hart < p->nr_cpus; hart++)
		fdt_cpu(f, p, hart);
	fdt_cpu_map(f, p);
	fdtw_end_node(f);
}

static void fdt_chosen(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	char uart_path[64];

	snprintf(uart_path, sizeof(uart_path), "/soc/serial@%" PRIx64, p->uart.addr);
	fdtw_chosen_node(f, p->cmdline, uart_path, p->initrd_addr, p->initrd_size);
}

/*
 * The guest runs in VS mode and sees it as S mode, so its one context per hart is the
 * S-level one: context n is hart n's, wired to local interrupt 9.
 */
static void fdt_plic(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	static const char *const compat[] = {"sifive,plic-1.0.0", "riscv,plic0"};

	fdtw_begin_node_at(f, "plic", p->plic_addr);
	fdtw_prop_strings(f, "compatible", compat, 2);
	fdtw_prop_reg(f, p->plic_addr, p->plic_size);
	prop_irq_provider(f, 1);
	fdtw_prop_u32(f, "riscv,ndev", p->plic_nr_sources - 1);
	prop_hart_s_ext(f, p);
	fdtw_prop_u32(f, "phandle", PHANDLE_IRQCHIP);
	fdtw_end_node(f);
}

/*
 * KVM's AIA: each hart's S-level interrupt file at imsic_addr + 4 KiB * hart, in the
 * order of interrupts-extended, and an APLIC that only forwards wired sources as MSIs to
 * them. Without riscv,hart-index-bits Linux takes ceil(log2(nr_cpus)) hart bits, which
 * KVM's hart bits must match.
 */
static void fdt_aia(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	fdtw_begin_node_at(f, "imsics", p->imsic_addr);
	fdtw_prop_string(f, "compatible", "riscv,imsics");
	fdtw_prop_reg(f, p->imsic_addr, p->imsic_size);
	prop_irq_provider(f, 0);
	fdtw_prop_empty(f, "msi-controller");
	/* An MSI target needs no specifier: a device's writes name the identity themselves. */
	fdtw_prop_u32(f, "#msi-cells", 0);
	fdtw_prop_u32(f, "riscv,num-ids", p->aia_nr_ids);
	prop_hart_s_ext(f, p);
	fdtw_prop_u32(f, "phandle", PHANDLE_IMSIC);
	fdtw_end_node(f);

	fdtw_begin_node_at(f, "aplic", p->aplic_addr);
	fdtw_prop_string(f, "compatible", "riscv,aplic");
	fdtw_prop_reg(f, p->aplic_addr, p->aplic_size);
	prop_irq_provider(f, 2);
	fdtw_prop_u32(f, "msi-parent", PHANDLE_IMSIC);
	fdtw_prop_u32(f, "riscv,num-sources", p->aia_nr_sources);
	fdtw_prop_u32(f, "phandle", PHANDLE_IRQCHIP);
	fdtw_end_node(f);
}

static void fdt_uart(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	fdtw_begin_node_at(f, "serial", p->uart.addr);
	fdtw_prop_string(f, "compatible", "ns16550a");
	fdtw_prop_reg(f, p->uart.addr, p->uart.size);
	fdtw_prop_u32(f, "clock-frequency", p->uart_clock);
	prop_device_irq(f, p, p->uart.irq);
	/* A 16550's registers are single bytes, packed one after another. */
	fdtw_prop_u32(f, "reg-shift", 0);
	fdtw_prop_u32(f, "reg-io-width", 1);
	fdtw_end_node(f);
}

static void fdt_virtio(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	unsigned int i;

	for (i = 0; i < p->nr_virtio; i++) {
		const struct riscv_mmio_node *dev = &p->virtio[i];

		fdtw_begin_node_at(f, "virtio_mmio", dev->addr);
		fdtw_prop_string(f, "compatible", "virtio,mmio");
		fdtw_prop_reg(f, dev->addr, dev->size);
		prop_device_irq(f, p, dev->irq);
		fdtw_end_node(f);
	}
}

/* The platform devices, under a bus that maps its addresses 1:1 onto the root's. */
static void fdt_soc(struct fdt_writer *f, const struct riscv_fdt_params *p)
{
	fdtw_begin_node(f, "soc");
	fdtw_prop_string(f, "compatible", "simple-bus");
	fdtw_prop_u32(f, "#address-cells", 2);
	fdtw_prop_u32(f, "#size-cells", 2);
	fdtw_prop_empty(f, "ranges");
	if (p->irqchip == RISCV_IRQCHIP_AIA)
		fdt_aia(f, p);
	else
		fdt_plic(f, p);
	fdt_uart(f, p);
	fdt_virtio(f, p);
	fdtw_end_node(f);
}

int riscv_fdt_build(const struct riscv_fdt_params *p, size_t max, uint8_t **out, size_t *len,
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
	fdt_soc(&f, p);
	fdtw_end_node(&f);
	ret = fdtw_finish(&f, max, out, len);
	if (ret)
		snprintf(why, why_len, "fdt: %s", strerror(-ret));
	return ret;
}
