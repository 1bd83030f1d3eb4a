/*
 * libFuzzer target: the virtio-mmio transport (src/virtio/mmio.c) as a vCPU sees it. The
 * device is put on a struct vm that has no KVM: its MMIO bus, event loop and interrupt
 * lines that ember drives itself (plumbing's irq_lines, so the irqfd is served by the
 * loop), with no ioeventfds (KVM refuses them, so a QueueNotify write traps as it does when
 * KVM has none). Behind it a real model over 256 KiB of guest RAM: virtio-rng, or
 * virtio-balloon (a config space of two fields), as the first byte says.
 *
 * The bytes: a setup byte (bit 0 balloon; bit 1 deflate-on-oom; bit 2 statistics; bits 3-7
 * the balloon's target in MiB), then ops, one byte each, code in the low 3 bits:
 *   0 read, 1 write: width 1 + bits 3-5 (1..8); then an le16 offset from the device's
 *     base, signed (below the window, inside it, past it); a write then its width's bytes
 *     of value, little-endian. Each goes through bus_access on the VM's MMIO bus, the
 *     call a vCPU's MMIO exit makes.
 *   2 run the event loop once (kicks reach the model, interrupts the line).
 *   3 post a one-descriptor chain on queue (bits 3-6) where its rings are (le16 buffer
 *     gpa / 16, le16 length % 512, descriptor flags byte); bit 7: then kick it and run
 *     the loop.
 *   4 a correct bring-up through the registers: reset, ACKNOWLEDGE, DRIVER, both feature
 *     pages (bit 7: an le64 mask of the offered ones follows), FEATURES_OK, every queue of
 *     2^(bits 3-6 % 9) entries at fixed rings, Ready, DRIVER_OK.
 *   5 the host's side: a new balloon target (a byte, MiB: only 0 fits the RAM).
 *   6 a write to guest RAM (le16 gpa / 16, a length byte % 65, those bytes).
 *   7 read every register and the config space at every width and offset.
 * Up to 1024 ops and about 4096 accesses; then the loop runs twice more, for the kicks
 * and interrupts still pending.
 *
 * Checked besides no crash: MagicValue reads 0x74726976, Version 2, DeviceID and VendorID
 * the device's, QueueNumMax 256 for a queue that exists and 0 past them, InterruptStatus
 * only its two bits, DRIVER_OK never without FEATURES_OK; a read past the window reads
 * all ones (the bus) and one past the config space zeros; after a write of 0 to Status,
 * Status and InterruptStatus read 0 and every queue reads Ready 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "virtio_driver.h"
#include "vmm/vm.h"

#define RAM	   (256 * 1024)
#define MAX_OPS	   1024
#define BUDGET	   4096 /* register accesses per input: a sweep or a bring-up is ~100 */
#define RING_BASE  0x4000 /* queue q's rings at RING_BASE * (q + 1): desc, avail +4K, used +8K */

#define REG_MAGIC	  0x000
#define REG_VERSION	  0x004
#define REG_DEVICE_ID	  0x008
#define REG_VENDOR_ID	  0x00c
#define REG_DEV_FEAT	  0x010
#define REG_DEV_FEAT_SEL  0x014
#define REG_DRV_FEAT	  0x020
#define REG_DRV_FEAT_SEL  0x024
#define REG_QUEUE_SEL	  0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM	  0x038
#define REG_QUEUE_READY	  0x044
#define REG_QUEUE_NOTIFY  0x050
#define REG_ISR		  0x060
#define REG_STATUS	  0x070
#define REG_DESC_LOW	  0x080
#define REG_DRIVER_LOW	  0x090
#define REG_DEVICE_LOW	  0x0a0
#define REG_CONFIG	  0x100

struct rig {
	struct vm vm;
	struct logger log;
	struct guest_mem ram; /* the model's; the transport never looks at vm.mem */
	struct virtio_dev *vd;
	struct virtio_balloon *balloon;
	struct virtio_rng *rng;
	struct virtio_mmio *mmio;
	uint64_t base;
	uint32_t queue_sel; /* the driver's last QueueSel write, put back after a check */
	unsigned int accesses;
};

static void expect(bool ok, const char *what, int64_t off, uint64_t v)
{
	if (ok)
		return;
	fprintf(stderr, "virtio-mmio: %s (offset %lld, value 0x%llx)\n", what, (long long)off,
		(unsigned long long)v);
	abort();
}

/* The device's line: an edge per irqfd write the loop served; levels are never driven. */
static void line_set_level(void *chip, unsigned int line, int level)
{
	(void)chip;
	(void)line;
	(void)level;
	abort();
}

static void line_trigger(void *chip, unsigned int line)
{
	struct rig *r = chip;

	expect(line == r->vm.plumbing.mmio_devs[0].irq, "interrupt on another line", line, 0);
}

static const struct irq_lines_ops lines = {
	.set_level = line_set_level,
	.trigger = line_trigger,
};

static uint64_t ones(unsigned int width)
{
	return width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
}

static uint64_t mmio_access(struct rig *r, bool write, int64_t off, unsigned int width,
			    uint64_t v);

static uint32_t reg_read(struct rig *r, int64_t off)
{
	return mmio_access(r, false, off, 4, 0);
}

static void reg_write(struct rig *r, int64_t off, uint32_t v)
{
	mmio_access(r, true, off, 4, v);
}

/* After a reset: nothing is left running, whichever queue the driver looks at. */
static void check_reset(struct rig *r)
{
	uint32_t sel = r->queue_sel, q;

	expect(reg_read(r, REG_STATUS) == 0, "Status after reset", REG_STATUS, 0);
	expect(reg_read(r, REG_ISR) == 0, "InterruptStatus after reset", REG_ISR, 0);
	for (q = 0; q <= VIRTIO_MAX_QUEUES; q++) {
		reg_write(r, REG_QUEUE_SEL, q);
		expect(reg_read(r, REG_QUEUE_READY) == 0,
		       "QueueReady of queue (offset) after reset", q, 1);
	}
	reg_write(r, REG_QUEUE_SEL, sel);
}

static void check_read(struct rig *r, int64_t off, unsigned int width, uint64_t v)
{
	const struct virtio_dev_ops *ops = r->vd->ops;

	if (off < 0 || off + width > VIRTIO_MMIO_SIZE) {
		expect(v == ones(width), "read past the window", off, v);
		return;
	}
	if (off >= REG_CONFIG) {
		if (off + width > REG_CONFIG + ops->config_size)
			expect(v == 0, "read past the config space", off, v);
		return;
	}
	if (width != 4 || (off & 3))
		return;
	switch (off) {
	case REG_MAGIC:
		expect(v == 0x74726976, "MagicValue", off, v);
		break;
	case REG_VERSION:
		expect(v == 2, "Version", off, v);
		break;
	case REG_DEVICE_ID:
		expect(v == ops->device_id, "DeviceID", off, v);
		break;
	case REG_VENDOR_ID:
		expect(v == 0x52424d45, "VendorID", off, v);
		break;
	case REG_QUEUE_NUM_MAX:
		expect(v == (r->queue_sel < ops->num_queues ? VIRTQ_MAX_SIZE : 0), "QueueNumMax",
		       off, v);
		break;
	case REG_ISR:
		expect(!(v & ~(uint64_t)(VIRTIO_INT_VRING | VIRTIO_INT_CONFIG)), "InterruptStatus",
		       off, v);
		break;
	case REG_STATUS:
		expect(v <= 0xff && (!(v & VIRTIO_STATUS_DRIVER_OK) ||
				     (v & VIRTIO_STATUS_FEATURES_OK)),
		       "Status", off, v);
		break;
	}
}

/* One access as a vCPU's MMIO exit makes it, then what must hold after it. */
static uint64_t mmio_access(struct rig *r, bool write, int64_t off, unsigned int width,
			    uint64_t v)
{
	uint8_t buf[8] = { 0 };

	r->accesses++;
	memcpy(buf, &v, width); /* x86_64: the exit's data is little-endian */
	bus_access(&r->vm.mmio_bus, r->base + off, buf, width, write);
	if (!write) {
		v = 0;
		memcpy(&v, buf, width);
		check_read(r, off, width, v);
		return v;
	}
	if (width == 4 && off == REG_QUEUE_SEL)
		r->queue_sel = v;
	if (width == 4 && off == REG_STATUS && (uint32_t)v == 0)
		check_reset(r);
	return v;
}

static void run_loop(struct rig *r)
{
	event_loop_run_once(&r->vm.loop, 0);
}

static void *ram(struct rig *r, uint64_t gpa, uint64_t len)
{
	return gpa_to_hva(&r->ram, gpa, len);
}

/* A chain of one descriptor on queue (q), where the device has its rings. */
static void post_chain(struct rig *r, unsigned int q, struct bin *s, bool kick)
{
	const struct virtq *vq = &r->vd->queues[q];
	uint64_t gpa = (uint64_t)bin_u16(s) * 16 % RAM;
	uint32_t len = bin_u16(s) % 512; /* a balloon page list of 0 to 127 pages */
	uint16_t flags = bin_u8(s) & 7, idx, slot, *avail_idx, *ring;
	uint8_t desc[16] = { 0 };
	void *d;

	if (!vq->enabled)
		return;
	avail_idx = ram(r, vq->avail_gpa + 2, 2);
	if (!avail_idx)
		return;
	idx = *avail_idx;
	slot = idx & (vq->size - 1);
	d = ram(r, vq->desc_gpa + 16ULL * slot, 16);
	ring = ram(r, vq->avail_gpa + 4 + 2ULL * slot, 2);
	if (!d || !ring)
		return;
	memcpy(desc, &gpa, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	memcpy(d, desc, sizeof(desc));
	*ring = slot;
	*avail_idx = idx + 1;
	if (kick) {
		reg_write(r, REG_QUEUE_NOTIFY, q);
		run_loop(r);
	}
}

/* What a Linux driver does (virtio_mmio.c's probe and vm_find_vqs), register by register. */
static void bring_up(struct rig *r, uint8_t op, struct bin *s)
{
	uint64_t mask = op & 0x80 ? bin_u64(s) : ~0ULL, features = 0;
	uint32_t size = 1u << ((op >> 3) % 9), q, sel;

	reg_write(r, REG_STATUS, 0);
	reg_write(r, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	reg_write(r, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (sel = 0; sel < 2; sel++) {
		reg_write(r, REG_DEV_FEAT_SEL, sel);
		features |= (uint64_t)reg_read(r, REG_DEV_FEAT) << (32 * sel);
	}
	features &= mask;
	for (sel = 0; sel < 2; sel++) {
		reg_write(r, REG_DRV_FEAT_SEL, sel);
		reg_write(r, REG_DRV_FEAT, features >> (32 * sel));
	}
	reg_write(r, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					 VIRTIO_STATUS_FEATURES_OK);
	if (!(reg_read(r, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return;
	for (q = 0; q < r->vd->ops->num_queues; q++) {
		uint64_t desc = RING_BASE * (q + 1ULL);

		reg_write(r, REG_QUEUE_SEL, q);
		if (reg_read(r, REG_QUEUE_READY))
			continue;
		reg_write(r, REG_QUEUE_NUM, size);
		reg_write(r, REG_DESC_LOW, desc);
		reg_write(r, REG_DESC_LOW + 4, 0);
		reg_write(r, REG_DRIVER_LOW, desc + 0x1000);
		reg_write(r, REG_DRIVER_LOW + 4, 0);
		reg_write(r, REG_DEVICE_LOW, desc + 0x2000);
		reg_write(r, REG_DEVICE_LOW + 4, 0);
		memset(ram(r, desc + 0x1000, 4), 0, 4); /* empty rings: avail and used idx 0 */
		memset(ram(r, desc + 0x2000, 4), 0, 4);
		reg_write(r, REG_QUEUE_READY, 1);
	}
	reg_write(r, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void sweep(struct rig *r)
{
	uint32_t off, width;

	for (off = 0; off < REG_CONFIG; off += 4)
		reg_read(r, off);
	for (width = 1; width <= 8; width *= 2)
		for (off = REG_CONFIG; off <= REG_CONFIG + r->vd->ops->config_size; off++)
			mmio_access(r, false, off, width, 0);
}

static void scribble(struct rig *r, struct bin *s)
{
	uint64_t gpa = (uint64_t)bin_u16(s) * 16 % RAM;
	unsigned int len = bin_u8(s) % 65, i;
	uint8_t *p = ram(r, gpa, len);

	for (i = 0; i < len; i++) {
		uint8_t b = bin_u8(s);

		if (p)
			p[i] = b;
	}
}

static void run(struct rig *r, struct bin *s)
{
	unsigned int i, width;

	for (i = 0; i < MAX_OPS && s->n && r->accesses < BUDGET; i++) {
		uint8_t op = bin_u8(s);

		width = 1 + ((op >> 3) & 7);
		switch (op & 7) {
		case 0:
			mmio_access(r, false, (int16_t)bin_u16(s), width, 0);
			break;
		case 1: {
			int64_t off = (int16_t)bin_u16(s);
			uint64_t v = 0, k;

			for (k = 0; k < width; k++)
				v |= (uint64_t)bin_u8(s) << (8 * k);
			mmio_access(r, true, off, width, v);
			break;
		}
		case 2:
			run_loop(r);
			break;
		case 3:
			post_chain(r, ((op >> 3) & 15) % r->vd->ops->num_queues, s, op & 0x80);
			break;
		case 4:
			bring_up(r, op, s);
			break;
		case 5: {
			uint8_t mib = bin_u8(s);

			if (r->balloon)
				virtio_balloon_set_target(r->balloon, mib);
			break;
		}
		case 6:
			scribble(r, s);
			break;
		case 7:
			sweep(r);
			break;
		}
	}
	/* Serve what is still pending (kicks, interrupts) before the device goes. */
	for (i = 0; i < 2; i++)
		run_loop(r);
}

/* A VM as far as the transport needs one: no KVM, every other piece real. */
static int rig_vm_init(struct rig *r)
{
	struct vm *vm = &r->vm;

	memset(vm, 0, sizeof(*vm));
	vm->log = &r->log;
	vm->kvm_fd = vm->vm_fd = vm->uffd = vm->uffd_sock = -1;
	vm->stop_fd = vm->signal_fd = -1;
	bus_init(&vm->pio_bus, "pio");
	bus_init(&vm->mmio_bus, "mmio");
	vm->plumbing.irq_lines = &lines;
	vm->plumbing.irq_lines_opaque = r;
	/* As good as a fresh mapping, without the cost of one per input. */
	memset(r->ram.regions[0].hva, 0, RAM);
	return event_loop_init(&vm->loop);
}

static void rig_vm_destroy(struct rig *r)
{
	bus_destroy(&r->vm.mmio_bus);
	bus_destroy(&r->vm.pio_bus);
	event_loop_destroy(&r->vm.loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rig *r;
	struct bin s = { data, size };
	struct throttle_config unlimited = { 0 };
	struct balloon_config bcfg = { 0 };
	uint8_t setup = bin_u8(&s);

	if (!r) {
		struct mem_region layout = { .gpa = 0, .size = RAM };

		r = calloc(1, sizeof(*r));
		if (!r || guest_mem_init(&r->ram, &layout, 1))
			abort();
		logger_init(&r->log);
		log_set_level(&r->log, LOG_ERROR); /* the fuzzer makes the device complain */
	}
	r->vd = NULL;
	r->balloon = NULL;
	r->rng = NULL;
	r->queue_sel = 0;
	r->accesses = 0;
	if (rig_vm_init(r))
		return 0;
	if (setup & 1) {
		bcfg.deflate_on_oom = setup & 2;
		bcfg.stats_period = setup & 4 ? 1 : 0;
		bcfg.target_mib = setup >> 3;
		if (!virtio_balloon_create(&r->ram, &r->vm.loop, &r->log, &bcfg, &r->balloon))
			r->vd = virtio_balloon_dev(r->balloon);
	} else if (!virtio_rng_create(&r->ram, &r->vm.loop, &r->log, &unlimited, &r->rng)) {
		r->vd = virtio_rng_dev(r->rng);
	}
	if (r->vd) {
		if (virtio_mmio_create(&r->vm, r->vd, &r->mmio))
			abort(); /* the transport must come up without KVM */
		r->base = r->vm.plumbing.mmio_devs[0].addr;
		run(r, &s);
		virtio_mmio_destroy(r->mmio);
	}
	virtio_balloon_destroy(r->balloon);
	virtio_rng_destroy(r->rng);
	rig_vm_destroy(r);
	return 0;
}
