/*
 * libFuzzer target: the riscv64 machine's device tree (src/arch/riscv64/fdt_tree.c, plain
 * C built into this file: the fuzz build compiles only x86_64's arch directory) from random
 * machine descriptions. The bytes: flags (bit 0: values past what ember's configuration,
 * KVM and the layout give; bit 1: a random size cap; bit 2: a bootargs string; bit 3: an
 * initrd; bit 4: the AIA rather than the PLIC), then the hart count, the ISA string, the
 * timebase, RAM, the irqchip's sizes, the devices' addresses and lines.
 *
 * A description check_params must refuse (no hart or more than 32, an ISA not beginning
 * rv64ima, no timebase or RAM, more than 16 virtio devices, irqchip sizes outside their
 * bindings, a device line the irqchip does not have) must give -EINVAL and a reason; over
 * the cap, -E2BIG exactly when the uncapped blob is bigger. Any description within the
 * limits must fit the 2 MiB ember allows, and its blob must pass fdt_walk.h's strict checks
 * (dtc's rules too) and say what was described: every hart with its ISA and its local
 * interrupt controller, the cpu-map naming each, RAM, bootargs, the initrd, a stdout-path
 * that names the UART, the PLIC or the IMSIC and APLIC with a context per hart pointing
 * at that hart's controller, and every device's reg and line on the irqchip it names.
 */
#include "arch/riscv64/fdt_tree.c"

#include <stdlib.h>

#include "arch/riscv64/arch_defs.h"
#include "devices/plic.h"
#include "builder_input.h"
#include "fdt_walk.h"

static struct dtr_tree tree;
static char cmdline[8192], isa[600];

/* (v) moved until it differs from the (n) values before it. */
static uint64_t distinct(const uint64_t *seen, unsigned int n, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (seen[i] == v) {
			v++;
			i = (unsigned int)-1; /* again from the first */
		}
	return v;
}

static void describe(struct bin *b, struct riscv_fdt_params *p, uint8_t flags)
{
	bool wild = flags & 1;
	uint64_t addrs[RISCV_FDT_MAX_VIRTIO];
	uint8_t c;
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->nr_cpus = wild ? bin_u8(b) % 48 : 1 + bin_u8(b) % ARCH_MAX_VCPUS;
	/* "rv64ima" in any case and the fuzzer's extensions, or (wild) any string or none. */
	c = bin_u8(b);
	if (wild && c == 0xff) {
		p->isa = NULL;
	} else if (wild && c >= 0xc0) {
		bin_string(b, isa, 255);
		p->isa = isa;
	} else {
		memcpy(isa, c & 1 ? "RV64IMA" : "rv64ima", 7);
		bin_string(b, isa + 7, 255);
		p->isa = isa;
	}
	p->timebase_hz = wild ? bin_u32(b) : 1 + bin_u32(b) % 1000000000;
	p->ram_base = RISCV_RAM_BASE;
	p->ram_size = (uint64_t)(1 + bin_u16(b)) << 20;
	p->irqchip = flags & 16 ? RISCV_IRQCHIP_AIA : RISCV_IRQCHIP_PLIC;
	p->plic_addr = RISCV_PLIC_ADDR;
	p->plic_size = PLIC_SPAN(p->nr_cpus);
	p->plic_nr_sources = PLIC_NR_SOURCES;
	p->aplic_addr = RISCV_APLIC_ADDR;
	p->aplic_size = RISCV_APLIC_SIZE;
	p->imsic_addr = RISCV_IMSIC_ADDR;
	p->imsic_size = riscv_imsic_size(p->nr_cpus);
	p->aia_nr_ids = 64 * (1 + bin_u8(b) % 32) - 1;
	p->aia_nr_sources = RISCV_NR_IRQS - 1;
	p->uart = (struct riscv_mmio_node){RISCV_UART_ADDR, RISCV_UART_SIZE, RISCV_UART_IRQ};
	p->uart_clock = RISCV_UART_CLOCK;
	p->nr_virtio = bin_u8(b) % (wild ? 24 : RISCV_FDT_MAX_VIRTIO + 1);
	for (i = 0; i < p->nr_virtio && i < RISCV_FDT_MAX_VIRTIO; i++)
		p->virtio[i] =
		    (struct riscv_mmio_node){ARCH_MMIO_BASE + i * ARCH_MMIO_SLOT_SIZE,
					     ARCH_MMIO_SLOT_SIZE, ARCH_VIRTIO_IRQ_BASE + i};
	if (!wild)
		return;
	/* Anything the fields hold; only the virtio slots stay distinct, as the VM's are. */
	if (bin_u8(b) == 0xff)
		p->irqchip = bin_u32(b);
	p->ram_base = bin_u64(b);
	p->ram_size = bin_u64(b) >> (bin_u8(b) % 64);
	p->plic_addr = bin_u64(b);
	p->plic_size = bin_u64(b);
	p->plic_nr_sources = bin_u16(b) % 1100;
	p->aplic_addr = bin_u64(b);
	p->aplic_size = bin_u64(b);
	p->imsic_addr = bin_u64(b);
	p->imsic_size = bin_u64(b) >> (bin_u8(b) % 64);
	p->aia_nr_ids = bin_u16(b) % 2200;
	p->aia_nr_sources = bin_u16(b) % 1100;
	p->uart = (struct riscv_mmio_node){bin_u64(b), bin_u64(b), bin_u16(b) % 1100};
	p->uart_clock = bin_u32(b);
	for (i = 0; i < p->nr_virtio && i < RISCV_FDT_MAX_VIRTIO; i++) {
		addrs[i] = distinct(addrs, i, bin_u64(b));
		p->virtio[i] = (struct riscv_mmio_node){addrs[i], bin_u64(b), bin_u16(b) % 1100};
	}
}

static NOCOV bool must_refuse(const struct riscv_fdt_params *p)
{
	unsigned int max_src, i;

	if (!p->nr_cpus || p->nr_cpus > RISCV_FDT_MAX_CPUS || !p->isa ||
	    strncasecmp(p->isa, "rv64ima", 7) || !p->timebase_hz || !p->ram_size ||
	    p->nr_virtio > RISCV_FDT_MAX_VIRTIO)
		return true;
	if (p->irqchip == RISCV_IRQCHIP_PLIC) {
		if (p->plic_nr_sources < 2 || p->plic_nr_sources > 1024)
			return true;
		max_src = p->plic_nr_sources - 1;
	} else if (p->irqchip == RISCV_IRQCHIP_AIA) {
		if (!p->aia_nr_sources || p->aia_nr_sources > 1023 || p->aia_nr_ids < 63 ||
		    p->aia_nr_ids > 2047 || p->aia_nr_ids % 64 != 63 ||
		    p->imsic_size < (uint64_t)p->nr_cpus * 0x1000)
			return true;
		max_src = p->aia_nr_sources;
	} else {
		return true;
	}
	if (!p->uart.irq || p->uart.irq > max_src)
		return true;
	for (i = 0; i < p->nr_virtio; i++)
		if (!p->virtio[i].irq || p->virtio[i].irq > max_src)
			return true;
	return false;
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

/* The node a one-cell phandle property (name) of (node) points at, or -1. */
static NOCOV int ref(int node, const char *name)
{
	const struct dtr_item *it = dtr_prop(&tree, node, name);

	return it && it->len == 4 ? dtr_by_phandle(&tree, be32_of(it->val)) : -1;
}

/* interrupts-extended of (node): hart n's local controller, line 9, for every hart. */
static NOCOV void want_hart_contexts(int node, unsigned int nr)
{
	const struct dtr_item *it = dtr_prop(&tree, node, "interrupts-extended");
	unsigned int i;

	if (!it || it->len != 8 * nr)
		BUG("%s: interrupts-extended for %u harts missing or wrong", tree.item[node].name,
		    nr);
	for (i = 0; i < nr; i++) {
		int intc = dtr_by_phandle(&tree, be32_of(it->val + 8 * i));

		if (intc < 0 || intc != node_at("/cpus/cpu@%" PRIx64 "/interrupt-controller", i) ||
		    be32_of(it->val + 8 * i + 4) != 9)
			BUG("%s: context %u is not hart %u's S-mode external line",
			    tree.item[node].name, i, i);
	}
}

static NOCOV void want_device_irq(const struct riscv_fdt_params *p, int node, int chip,
				  unsigned int irq)
{
	uint32_t cells[2] = {irq, 1};

	if (ref(node, "interrupt-parent") != chip)
		BUG("%s: interrupt-parent is not the irqchip", tree.item[node].name);
	dtr_want_cells(&tree, node, "interrupts", cells, p->irqchip == RISCV_IRQCHIP_AIA ? 2 : 1);
}

/* What the blob says matches (p). */
static NOCOV void check_tree(const struct riscv_fdt_params *p)
{
	const struct dtr_item *it;
	uint32_t cells[4];
	int node, chip, cpus;
	unsigned int i;

	dtr_want_phandles(&tree);
	it = dtr_prop(&tree, 0, "compatible");
	if (!it || it->len != sizeof("ember,riscv-virt\0riscv-virtio") ||
	    memcmp(it->val, "ember,riscv-virt\0riscv-virtio", it->len))
		BUG("root compatible");
	cpus = node_at("/cpus", 0);
	dtr_want_cells(&tree, cpus, "timebase-frequency", &p->timebase_hz, 1);
	if (dtr_count_children(&tree, cpus, "cpu@") != p->nr_cpus)
		BUG("%u cpu nodes for %u harts", dtr_count_children(&tree, cpus, "cpu@"),
		    p->nr_cpus);
	for (i = 0; i < p->nr_cpus; i++) {
		int cpu = node_at("/cpus/cpu@%" PRIx64, i), core;
		char path[64];

		dtr_want_cells(&tree, cpu, "reg", &i, 1);
		dtr_want_string(&tree, cpu, "riscv,isa", p->isa);
		node = node_at("/cpus/cpu@%" PRIx64 "/interrupt-controller", i);
		if (!dtr_prop(&tree, node, "interrupt-controller") ||
		    !dtr_prop(&tree, node, "phandle"))
			BUG("hart %u: its local interrupt controller is not one", i);
		snprintf(path, sizeof(path), "/cpus/cpu-map/cluster0/core%u", i);
		core = node_at(path, 0);
		if (ref(core, "cpu") != cpu)
			BUG("cpu-map core%u does not name hart %u", i, i);
	}

	node = node_at("/memory@%" PRIx64, p->ram_base);
	want_reg(node, p->ram_base, p->ram_size);

	dtr_want_chosen(&tree, node_at("/chosen", 0), p->cmdline, p->initrd_addr, p->initrd_size,
			node_at("/soc/serial@%" PRIx64, p->uart.addr));

	if (p->irqchip == RISCV_IRQCHIP_AIA) {
		int imsic = node_at("/soc/imsics@%" PRIx64, p->imsic_addr);

		want_reg(imsic, p->imsic_addr, p->imsic_size);
		want_hart_contexts(imsic, p->nr_cpus);
		dtr_want_cells(&tree, imsic, "riscv,num-ids", &p->aia_nr_ids, 1);
		chip = node_at("/soc/aplic@%" PRIx64, p->aplic_addr);
		want_reg(chip, p->aplic_addr, p->aplic_size);
		if (ref(chip, "msi-parent") != imsic)
			BUG("the APLIC's msi-parent is not the IMSIC");
		dtr_want_cells(&tree, chip, "riscv,num-sources", &p->aia_nr_sources, 1);
		if (dtr_count_children(&tree, node_at("/soc", 0), "plic@"))
			BUG("a PLIC next to the AIA");
	} else {
		uint32_t ndev = p->plic_nr_sources - 1;

		chip = node_at("/soc/plic@%" PRIx64, p->plic_addr);
		want_reg(chip, p->plic_addr, p->plic_size);
		want_hart_contexts(chip, p->nr_cpus);
		dtr_want_cells(&tree, chip, "riscv,ndev", &ndev, 1);
	}
	if (!dtr_prop(&tree, chip, "interrupt-controller"))
		BUG("the irqchip is not an interrupt controller");

	node = node_at("/soc/serial@%" PRIx64, p->uart.addr);
	want_reg(node, p->uart.addr, p->uart.size);
	want_device_irq(p, node, chip, p->uart.irq);
	if (dtr_count_children(&tree, node_at("/soc", 0), "virtio_mmio@") != p->nr_virtio)
		BUG("virtio nodes for %u devices", p->nr_virtio);
	for (i = 0; i < p->nr_virtio; i++) {
		node = node_at("/soc/virtio_mmio@%" PRIx64, p->virtio[i].addr);
		want_reg(node, p->virtio[i].addr, p->virtio[i].size);
		want_device_irq(p, node, chip, p->virtio[i].irq);
	}
}

/* The builder behind the shared judgment (fdt_walk.h). */
static int build(const void *p, size_t max, uint8_t **blob, size_t *len, char *why,
		 size_t why_len)
{
	return riscv_fdt_build(p, max, blob, len, why, why_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	struct riscv_fdt_params *p = malloc(sizeof(*p));
	uint8_t flags = bin_u8(&b);
	struct dtr_build out;

	if (!p)
		return 0;
	describe(&b, p, flags);
	p->cmdline = dtr_fuzz_boot(&b, flags, cmdline, sizeof(cmdline), ARCH_CMDLINE_MAX,
				   &p->initrd_addr, &p->initrd_size);
	if (dtr_fuzz_build(&tree, &b, flags, RISCV_FDT_MAX_SIZE, must_refuse(p), build, p, &out))
		check_tree(p);
	dtr_build_free(&out);
	free(p);
	return 0;
}
