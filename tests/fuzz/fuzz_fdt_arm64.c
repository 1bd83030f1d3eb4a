/*
 * libFuzzer target: the arm64 machine's device tree (src/arch/aarch64/fdt_tree.c, plain C
 * built into this file: the fuzz build compiles only x86_64's arch directory) from random
 * machine descriptions. The bytes: flags (bit 0: values past what ember's configuration
 * and layout allow; bit 1: a random size cap; bit 2: a bootargs string; bit 3: an initrd),
 * then the vCPU count, the GIC version, each vCPU's MPIDR, RAM, the command line, the
 * devices' addresses and lines.
 *
 * A description check_params must refuse (no vCPU, more than ARCH_MAX_VCPUS or a GICv2's
 * 8, an unknown GIC, more than 16 virtio devices, no RAM) must give -EINVAL and a reason;
 * over the cap, -E2BIG exactly when the uncapped blob is bigger. Any description within
 * the limits must fit the 2 MiB the boot protocol allows, and its blob must pass
 * fdt_walk.h's strict checks (dtc's rules too) and say what was described: every vCPU's
 * cpu node and affinity, RAM, bootargs, the initrd's bounds, a stdout-path that names
 * the UART, the GIC of the asked version with PPI masks naming every CPU on a v2, every
 * device's reg and interrupts, and phandles that are unique and resolve.
 */
#include "arch/aarch64/fdt_tree.c"

#include <stdlib.h>

#include "builder_input.h"
#include "fdt_walk.h"

#define AFFINITY_MASK 0xff00ffffffULL

static struct dtr_tree tree;
static char cmdline[8192];

/* (*v) moved until it differs from the (n) values before it, each masked by (mask). */
static uint64_t distinct(const uint64_t *seen, unsigned int n, uint64_t v, uint64_t mask)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if ((seen[i] & mask) == (v & mask)) {
			v = (v & ~mask) | ((v + 1) & mask);
			i = (unsigned int)-1; /* again from the first */
		}
	return v;
}

static void describe(struct bin *b, struct arm_fdt_params *p, bool wild)
{
	uint64_t addrs[ARM_FDT_MAX_VIRTIO];
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->gic = (bin_u8(b) & 1) ? ARM_GIC_V3 : ARM_GIC_V2;
	if (wild) {
		p->nr_cpus = bin_u8(b) % 48;
		if (bin_u8(b) == 0xff)
			p->gic = bin_u32(b);
	} else {
		p->nr_cpus =
		    1 + bin_u8(b) % (p->gic == ARM_GIC_V2 ? ARM_GICV2_MAX_VCPUS : ARCH_MAX_VCPUS);
	}
	for (i = 0; i < p->nr_cpus && i < ARCH_MAX_VCPUS; i++) {
		/* KVM's layout (Aff0 the low 4 bits of the index) or any affinity at all. */
		uint64_t v =
		    (bin_u8(b) & 1) ? bin_u64(b) : (1ULL << 31) | (i >> 4) << 8 | (i & 0xf);

		p->mpidr[i] = distinct(p->mpidr, i, v, AFFINITY_MASK);
	}
	p->ram_base = ARM_RAM_BASE;
	p->ram_size = (uint64_t)(1 + bin_u16(b)) << 20;
	p->gic_dist_addr = ARM_GIC_DIST_ADDR;
	p->gic_dist_size = ARM_GIC_DIST_SIZE;
	p->gic_cpu_addr = ARM_GIC_CPU_ADDR;
	p->gic_cpu_size = ARM_GIC_CPU_SIZE;
	p->gic_redist_addr = ARM_GIC_REDIST_ADDR;
	p->gic_redist_size = ARM_GIC_REDIST_STRIDE * p->nr_cpus;
	p->uart = (struct arm_mmio_node){ARM_UART_ADDR, ARM_UART_SIZE, ARM_UART_SPI};
	p->uart_clock = ARM_UART_CLOCK;
	p->rtc = (struct arm_mmio_node){ARM_RTC_ADDR, ARM_RTC_SIZE, ARM_RTC_SPI};
	p->nr_virtio = bin_u8(b) % (wild ? 24 : ARM_FDT_MAX_VIRTIO + 1);
	for (i = 0; i < p->nr_virtio && i < ARM_FDT_MAX_VIRTIO; i++)
		p->virtio[i] =
		    (struct arm_mmio_node){ARCH_MMIO_BASE + (i + 1) * ARCH_MMIO_SLOT_SIZE,
					   ARCH_MMIO_SLOT_SIZE, ARCH_VIRTIO_IRQ_BASE + i};
	if (!wild)
		return;
	/* Anything a 64-bit field holds; only the virtio slots stay distinct, as the VM's are. */
	p->ram_base = bin_u64(b);
	p->ram_size = bin_u64(b) >> (bin_u8(b) % 64);
	p->gic_dist_addr = bin_u64(b);
	p->gic_dist_size = bin_u64(b);
	p->gic_cpu_addr = bin_u64(b);
	p->gic_cpu_size = bin_u64(b);
	p->gic_redist_addr = bin_u64(b);
	p->gic_redist_size = bin_u64(b);
	p->uart = (struct arm_mmio_node){bin_u64(b), bin_u64(b), bin_u32(b)};
	p->uart_clock = bin_u32(b);
	p->rtc = (struct arm_mmio_node){bin_u64(b), bin_u64(b), bin_u32(b)};
	for (i = 0; i < p->nr_virtio && i < ARM_FDT_MAX_VIRTIO; i++) {
		addrs[i] = distinct(addrs, i, bin_u64(b), ~0ULL);
		p->virtio[i] = (struct arm_mmio_node){addrs[i], bin_u64(b), bin_u32(b)};
	}
}

static NOCOV bool must_refuse(const struct arm_fdt_params *p)
{
	return !p->nr_cpus || p->nr_cpus > ARCH_MAX_VCPUS ||
	       (p->gic != ARM_GIC_V2 && p->gic != ARM_GIC_V3) ||
	       (p->gic == ARM_GIC_V2 && p->nr_cpus > ARM_GICV2_MAX_VCPUS) ||
	       p->nr_virtio > ARM_FDT_MAX_VIRTIO || !p->ram_size;
}

static NOCOV int node_at(const char *fmt, uint64_t addr)
{
	char path[96];
	int node;

	snprintf(path, sizeof(path), fmt, addr);
	node = dtr_path(&tree, path);
	if (node < 0)
		BUG("no node %s", path);
	return node;
}

static NOCOV void want_reg(int node, uint64_t addr, uint64_t size)
{
	uint32_t reg[4] = {addr >> 32, (uint32_t)addr, size >> 32, (uint32_t)size};

	dtr_want_cells(&tree, node, "reg", reg, 4);
}

/* What the blob says matches (p). */
static NOCOV void check_tree(const struct arm_fdt_params *p)
{
	uint32_t mask = p->gic == ARM_GIC_V2 ? ((1u << p->nr_cpus) - 1) << 8 : 0;
	const struct dtr_item *it;
	uint32_t cells[12];
	int root = 0, node, gic;
	unsigned int i;

	dtr_want_phandles(&tree);
	dtr_want_string(&tree, root, "compatible", "linux,dummy-virt");
	cells[0] = 2;
	dtr_want_cells(&tree, root, "#address-cells", cells, 1);
	dtr_want_cells(&tree, root, "#size-cells", cells, 1);
	it = dtr_prop(&tree, root, "interrupt-parent");
	gic = it && it->len == 4 ? dtr_by_phandle(&tree, be32_of(it->val)) : -1;
	if (gic < 0 || gic != node_at("/intc@%" PRIx64, p->gic_dist_addr) ||
	    !dtr_prop(&tree, gic, "interrupt-controller"))
		BUG("interrupt-parent is not the GIC");
	dtr_want_string(&tree, gic, "compatible",
			p->gic == ARM_GIC_V2 ? "arm,gic-400" : "arm,gic-v3");
	cells[0] = p->gic_dist_addr >> 32;
	cells[1] = (uint32_t)p->gic_dist_addr;
	cells[2] = p->gic_dist_size >> 32;
	cells[3] = (uint32_t)p->gic_dist_size;
	{
		uint64_t a = p->gic == ARM_GIC_V2 ? p->gic_cpu_addr : p->gic_redist_addr;
		uint64_t s = p->gic == ARM_GIC_V2 ? p->gic_cpu_size : p->gic_redist_size;

		cells[4] = a >> 32;
		cells[5] = (uint32_t)a;
		cells[6] = s >> 32;
		cells[7] = (uint32_t)s;
	}
	dtr_want_cells(&tree, gic, "reg", cells, 8);
	cells[0] = 1;
	cells[1] = ARM_GIC_MAINT_PPI;
	cells[2] = 4 | mask;
	dtr_want_cells(&tree, gic, "interrupts", cells, 3);

	node = node_at("/cpus", 0);
	if (dtr_count_children(&tree, node, "cpu@") != p->nr_cpus)
		BUG("%u cpu nodes for %u vCPUs", dtr_count_children(&tree, node, "cpu@"),
		    p->nr_cpus);
	for (i = 0; i < p->nr_cpus; i++) {
		uint64_t aff = p->mpidr[i] & AFFINITY_MASK;
		int cpu = node_at("/cpus/cpu@%" PRIx64, aff);

		cells[0] = aff >> 32;
		cells[1] = (uint32_t)aff;
		dtr_want_cells(&tree, cpu, "reg", cells, 2);
		dtr_want_string(&tree, cpu, "enable-method", "psci");
	}

	node = node_at("/memory@%" PRIx64, p->ram_base);
	want_reg(node, p->ram_base, p->ram_size);
	dtr_want_string(&tree, node, "device_type", "memory");

	dtr_want_chosen(&tree, node_at("/chosen", 0), p->cmdline, p->initrd_addr, p->initrd_size,
			node_at("/uart@%" PRIx64, p->uart.addr));

	node = node_at("/uart@%" PRIx64, p->uart.addr);
	want_reg(node, p->uart.addr, p->uart.size);
	cells[0] = 0;
	cells[1] = p->uart.spi;
	cells[2] = 4;
	dtr_want_cells(&tree, node, "interrupts", cells, 3);
	dtr_want_cells(&tree, node, "clock-frequency", &p->uart_clock, 1);

	node = node_at("/rtc@%" PRIx64, p->rtc.addr);
	want_reg(node, p->rtc.addr, p->rtc.size);
	cells[1] = p->rtc.spi;
	dtr_want_cells(&tree, node, "interrupts", cells, 3);
	it = dtr_prop(&tree, node, "clocks");
	if (!it || it->len != 4 ||
	    dtr_by_phandle(&tree, be32_of(it->val)) != node_at("/apb-pclk", 0))
		BUG("the RTC's clock is not apb-pclk");

	node = node_at("/timer", 0);
	for (i = 0; i < 4; i++) {
		static const uint32_t ppis[] = {ARM_TIMER_PPI_SEC, ARM_TIMER_PPI_NS,
						ARM_TIMER_PPI_VIRT, ARM_TIMER_PPI_HYP};

		cells[3 * i] = 1;
		cells[3 * i + 1] = ppis[i];
		cells[3 * i + 2] = 8 | mask;
	}
	dtr_want_cells(&tree, node, "interrupts", cells, 12);
	node_at("/psci", 0);

	if (dtr_count_children(&tree, root, "virtio_mmio@") != p->nr_virtio)
		BUG("%u virtio nodes for %u devices",
		    dtr_count_children(&tree, root, "virtio_mmio@"), p->nr_virtio);
	for (i = 0; i < p->nr_virtio; i++) {
		node = node_at("/virtio_mmio@%" PRIx64, p->virtio[i].addr);
		want_reg(node, p->virtio[i].addr, p->virtio[i].size);
		cells[0] = 0;
		cells[1] = p->virtio[i].spi;
		cells[2] = 1;
		dtr_want_cells(&tree, node, "interrupts", cells, 3);
		if (!dtr_prop(&tree, node, "dma-coherent"))
			BUG("virtio node %u without dma-coherent", i);
	}
}

/* The builder behind the shared judgment (fdt_walk.h). */
static int build(const void *p, size_t max, uint8_t **blob, size_t *len, char *why,
		 size_t why_len)
{
	return arm_fdt_build(p, max, blob, len, why, why_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	struct arm_fdt_params *p = malloc(sizeof(*p));
	uint8_t flags = bin_u8(&b);
	struct dtr_build out;

	if (!p)
		return 0;
	describe(&b, p, flags & 1);
	p->cmdline = dtr_fuzz_boot(&b, flags, cmdline, sizeof(cmdline), ARCH_CMDLINE_MAX,
				   &p->initrd_addr, &p->initrd_size);
	if (dtr_fuzz_build(&tree, &b, flags, ARM_FDT_MAX_SIZE, must_refuse(p), build, p, &out))
		check_tree(p);
	dtr_build_free(&out);
	free(p);
	return 0;
}
