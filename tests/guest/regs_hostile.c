// SPDX-License-Identifier: Apache-2.0
/*
 * regs_hostile.c - regs_hostile.elf: a guest that, from the seed on its command line
 * (hostile.seed=N, hostile.iters=N; defaults 1 and 4000), writes random values at random
 * widths to every register of every device ember gave it: each virtio-mmio window (any
 * offset, the status, feature and queue registers most, queues changed while running),
 * the 16550, the i8042, the boot timer's window, the ACPI sleep register, I/O ports and
 * MMIO that nothing answers; and builds random queue layouts and descriptor chains in
 * its own memory, then kicks them. ember must stay up, refuse what is wrong, and exit 0
 * when the guest finally resets; the guest prints HOSTILE-DONE and SUCCESS first.
 *
 * The guest keeps itself alive, since a device it misleads writes where it is told:
 *  - the commands that reset (i8042 0xFE, 0xD1 then a low bit 0) and ACPI S5 are never sent;
 *  - each virtio device gets its own 64 KiB arena: descriptor tables (D), rings (R),
 *    buffers (B). Queue addresses point into the device's D and R or far beyond RAM;
 *    every 16-byte slot of D always holds a descriptor aimed at B (its length inside B),
 *    at D (indirect, read-only) or beyond RAM, so whatever the device walks, it writes
 *    only in R and B, or is refused;
 *  - the balloon's B only ever holds page numbers beyond RAM or of a sacrificial area,
 *    since inflating discards the pages named.
 */
#include "virtio.h"

#define MAX_DEVICES   8
#define ARENA	      0x10000
#define D_OFF	      0
#define D_SIZE	      0x2000
#define R_OFF	      0x2000
#define R_SIZE	      0x2000
#define B_OFF	      0x4000
#define B_SIZE	      (ARENA - B_OFF)
#define SACRIFICE     16 /* pages the balloon may take */
#define MAX_QUEUE     256
#define USED_SPAN     (4 + 8 * MAX_QUEUE + 2)
#define AVAIL_SPAN    (4 + 2 * MAX_QUEUE + 2)
#define BEYOND_RAM    (1ULL << 40)
#define F_NEXT	      1
#define F_WRITE	      2
#define F_INDIRECT    4
#define ID_BALLOON    5
#define SERIAL	      0x3f8
#define I8042_DATA    0x60
#define I8042_CMD     0x64
#define ACPI_SLEEP    0x600
#define SLP_EN	      0x20
#define MMIO_BASE     0xd0000000UL
#define MMIO_SLOTS    32

static u8 arenas[MAX_DEVICES][ARENA] __attribute__((aligned(4096)));
static u8 sacrifice[SACRIFICE][4096] __attribute__((aligned(4096)));

struct device {
	u64 base;
	u32 id;
	u8 *arena;
	u16 avail_idx[4];
	u64 avail[4]; /* where this guest last put queue q's avail ring, 0 if not in R */
	u32 num[4];
};

static struct device devices[MAX_DEVICES];
static unsigned int nr_devices;
static u64 rng_state;

/* xorshift64*: reproducible from the seed, which is the point. */
static u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static u64 arg_u64(const char *cmdline, const char *key, u64 dflt)
{
	const char *p = cmdline;
	size_t klen = 0;
	u64 v = 0;

	while (key[klen])
		klen++;
	for (; *p; p++) {
		if (memcmp(p, key, klen))
			continue;
		for (p += klen; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (u64)(*p - '0');
		return v;
	}
	return dflt;
}

/* A page number the balloon may be given: beyond RAM, or one of the sacrificial pages. */
static u32 balloon_pfn(void)
{
	if (rnd() & 1)
		return (u32)(rnd() | 0x80000000u);
	return (u32)(((u64)sacrifice >> 12) + rnd() % SACRIFICE);
}

/* Random bytes in B; for the balloon, random page numbers only. */
static void fill_buffers(struct device *d, u32 off, u32 len)
{
	u8 *b = d->arena + B_OFF;
	u32 i;

	if (d->id == ID_BALLOON) {
		for (i = off & ~3u; i + 4 <= off + len && i + 4 <= B_SIZE; i += 4)
			*(u32 *)(b + i) = balloon_pfn();
		return;
	}
	for (i = off; i < off + len && i < B_SIZE; i++)
		b[i] = (u8)rnd();
}

/* Descriptor slot (k) of D: aimed at B, at D (indirect), or beyond RAM. */
static void random_desc(struct device *d, u32 k)
{
	struct vq_desc *desc = (struct vq_desc *)(d->arena + D_OFF) + k;
	u64 base = (u64)d->arena;
	u32 pick = rnd() % 8, off, slots = D_SIZE / sizeof(*desc);

	desc->flags = rnd() & (F_NEXT | F_WRITE);
	desc->next = rnd() % 4 ? (u16)(rnd() % MAX_QUEUE) : (u16)rnd();
	if (pick < 5) {
		off = rnd() % B_SIZE;
		desc->addr = base + B_OFF + off;
		desc->len = rnd() % 4 ? rnd() % (B_SIZE - off + 1) : 0;
	} else if (pick == 5) {
		off = rnd() % slots;
		desc->addr = base + D_OFF + off * sizeof(*desc);
		desc->len = (u32)(sizeof(*desc) * (rnd() % (slots - off + 1)));
		desc->flags = F_INDIRECT | (rnd() % 4 ? 0 : F_NEXT);
	} else if (pick == 6) {
		desc->addr = BEYOND_RAM | rnd();
		desc->len = (u32)rnd();
	} else {
		/* A length past B that no device may write: read-only, or refused. */
		desc->addr = base + B_OFF + rnd() % B_SIZE;
		desc->len = (u32)rnd();
		desc->flags &= ~F_WRITE;
	}
}

/* A queue address for register (reg): the device's own R (D for the table) or beyond RAM. */
static u64 queue_addr(struct device *d, u32 reg, u32 q)
{
	u64 base = (u64)d->arena, a;

	if (rnd() % 8 == 0)
		return BEYOND_RAM | (rnd() & ~0xfULL);
	if (reg == 0x080)
		return base + D_OFF + 16 * (rnd() % (D_SIZE / 16 - MAX_QUEUE + 1));
	if (reg == 0x090) {
		a = base + R_OFF + 2 * (rnd() % ((R_SIZE - AVAIL_SPAN) / 2));
		d->avail[q] = a;
		return a;
	}
	return base + R_OFF + 4 * (rnd() % ((R_SIZE - USED_SPAN) / 4));
}

static const u16 vio_regs[] = { 0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024,
				0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
				0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0,
				0x0b4, 0x0c0, 0x0fc };

static void set_queue_addr(struct device *d, u32 q, u32 reg)
{
	u64 a = queue_addr(d, reg, q);

	mmio_write32(d->base + 0x030, q);
	mmio_write32(d->base + reg, (u32)a);
	mmio_write32(d->base + reg + 4, (u32)(a >> 32));
}

/*
 * A reset leaves every queue address 0, where a queue the guest then makes ready would
 * have the device write over low memory (the GDT at 0x500): aim them at the arena again.
 */
static void park_queues(struct device *d)
{
	u32 q;

	for (q = 0; q < 4; q++) {
		set_queue_addr(d, q, 0x080);
		set_queue_addr(d, q, 0x090);
		set_queue_addr(d, q, 0x0a0);
	}
}

/* One register access on a virtio-mmio window: mostly the registers that matter. */
static void poke_virtio(struct device *d)
{
	u32 pick = rnd() % 16, reg, v = (u32)rnd(), q = (u32)rnd() % 4;

	if (pick < 10)
		reg = vio_regs[rnd() % (sizeof(vio_regs) / sizeof(vio_regs[0]))];
	else if (pick < 13)
		reg = 0x100 + (u32)(rnd() % 0x40); /* config space, unaligned too */
	else
		reg = (u32)(rnd() % 0x1000);
	switch (reg & ~3u) {
	case 0x030: /* QueueSel: usually a queue the device has */
		v = rnd() % 4 ? q : v;
		break;
	case 0x038: /* QueueNum */
		v = rnd() % 4 ? 1u << (rnd() % 9) : v;
		d->num[q] = v;
		break;
	case 0x070: /* Status: any bits; a reset sometimes, after which the queues are parked */
		if (rnd() % 8 == 0) {
			mmio_write32(d->base + 0x070, 0);
			park_queues(d);
			return;
		}
		v &= 0xff;
		break;
	case 0x080:
	case 0x090:
	case 0x0a0:
		set_queue_addr(d, q, reg & ~3u);
		return;
	case 0x084:
	case 0x094:
	case 0x0a4: /* a high half alone: beyond RAM or the real 0 */
		v = rnd() % 2 ? 0 : v;
		break;
	}
	if (rnd() % 3 == 0) {
		switch (rnd() % 3) {
		case 0:
			(void)*(volatile u8 *)phys(d->base + reg);
			break;
		case 1:
			(void)*(volatile u16 *)phys(d->base + (reg & ~1u));
			break;
		default:
			(void)mmio_read32(d->base + (reg & ~3u));
		}
		return;
	}
	if (reg >= 0x100 && rnd() % 2) {
		if (rnd() % 2)
			*(volatile u8 *)phys(d->base + reg) = (u8)v;
		else
			*(volatile u16 *)phys(d->base + (reg & ~1u)) = (u16)v;
		return;
	}
	mmio_write32(d->base + (reg & ~3u), v);
}

/*
 * What a well-behaved driver does, so that random chains reach the device's request code:
 * reset, the features it offers (less some), queues of random sizes in the arena, go.
 */
static void bring_up(struct device *d)
{
	u64 offered;
	u32 q;

	mmio_write32(d->base + 0x070, 0);
	park_queues(d);
	mmio_write32(d->base + 0x070, 0x03);
	mmio_write32(d->base + 0x014, 0);
	offered = mmio_read32(d->base + 0x010);
	mmio_write32(d->base + 0x014, 1);
	offered |= (u64)mmio_read32(d->base + 0x010) << 32;
	offered &= rnd() | (1ULL << 32);
	mmio_write32(d->base + 0x024, 0);
	mmio_write32(d->base + 0x020, (u32)offered);
	mmio_write32(d->base + 0x024, 1);
	mmio_write32(d->base + 0x020, (u32)(offered >> 32));
	mmio_write32(d->base + 0x070, 0x0b);
	for (q = 0; q < 4; q++) {
		d->num[q] = 1u << (rnd() % 9);
		d->avail_idx[q] = 0;
		mmio_write32(d->base + 0x030, q);
		mmio_write32(d->base + 0x038, d->num[q]);
		mmio_write32(d->base + 0x044, 1);
	}
	mmio_write32(d->base + 0x070, 0x0f);
}

/* Make a chain available on queue (q) as this guest last laid it out, and kick. */
static void post_and_kick(struct device *d)
{
	u32 q = (u32)rnd() % 4, num = d->num[q] ? d->num[q] : 1;
	u16 *avail;

	if (d->avail[q] && num <= MAX_QUEUE) {
		avail = phys(d->avail[q]);
		avail[2 + d->avail_idx[q] % num] = (u16)(rnd() % 2 ? rnd() % num : rnd());
		d->avail_idx[q] += rnd() % 8 ? 1 : (u16)rnd();
		avail[1] = d->avail_idx[q];
	}
	mmio_write32(d->base + 0x050, rnd() % 8 ? q : (u32)rnd());
}

static void poke_memory(struct device *d)
{
	u8 *r = d->arena + R_OFF;

	switch (rnd() % 3) {
	case 0:
		random_desc(d, (u32)(rnd() % (D_SIZE / sizeof(struct vq_desc))));
		break;
	case 1:
		*(u32 *)(r + 4 * (rnd() % (R_SIZE / 4))) = (u32)rnd();
		break;
	default:
		fill_buffers(d, (u32)(rnd() % B_SIZE), (u32)(rnd() % 256));
	}
}

static void poke_serial(void)
{
	u16 port = SERIAL + rnd() % 8;

	if (rnd() % 2)
		outb(port, (u8)rnd());
	else
		(void)inb(port);
}

static void poke_i8042(void)
{
	u8 v = (u8)rnd();

	if (rnd() % 2) {
		(void)inb(rnd() % 2 ? I8042_DATA : I8042_CMD);
		return;
	}
	if (rnd() % 2) {
		/* never a command that resets, nor one (0xD1) whose data byte could */
		if (v == 0xfe || v == 0xd1 || (v >= 0xf0 && !(v & 1)))
			v = 0x20;
		outb(I8042_CMD, v);
	} else {
		outb(I8042_DATA, v | 1); /* after a pending 0xD1 of ember's own, bit 0 keeps it up */
	}
}

/* Whether (a) is in a virtio device's window: those are poke_virtio's, with its care. */
static int in_virtio_window(u64 a)
{
	unsigned int n;

	for (n = 0; n < nr_devices; n++)
		if (a >= devices[n].base && a < devices[n].base + 0x1000)
			return 1;
	return 0;
}

/* The boot timer, the ACPI sleep register, and addresses and ports nothing answers. */
static void poke_elsewhere(void)
{
	u64 a;
	u16 port;
	u8 v = (u8)rnd();

	switch (rnd() % 5) {
	case 0: /* the boot timer's window (when --boot-timer put it there) */
		a = MMIO_BASE + rnd() % 0x1000;
		if (in_virtio_window(a))
			break;
		if (rnd() % 2)
			*(volatile u8 *)phys(a) = v;
		else
			(void)*(volatile u8 *)phys(a);
		break;
	case 1: /* ACPI PM1 control: any sleep type, never SLP_EN with S5 (type 5) */
		if (((v >> 2) & 7) == 5)
			v &= ~SLP_EN;
		outb(ACPI_SLEEP + rnd() % 4, v);
		break;
	case 2: /* an empty virtio-mmio slot, or the hole above */
		a = MMIO_BASE + 0x1000 * (rnd() % MMIO_SLOTS) + 4 * (rnd() % 0x400);
		if (in_virtio_window(a))
			break;
		if (rnd() % 2)
			mmio_write32(a, (u32)rnd());
		else
			(void)mmio_read32(a);
		break;
	case 3:
		a = 0xc0000000UL + 4 * (rnd() % 0x1000000);
		if (a >= MMIO_BASE && a < MMIO_BASE + 0x1000 * MMIO_SLOTS)
			break;
		if (a >= 0xfec00000UL) /* IOAPIC and LAPIC: KVM's, not ember's */
			break;
		(void)mmio_read32(a);
		break;
	default: /* a port; not the reset ones (0x92, 0xcf9) nor those above */
		port = (u16)rnd();
		if (port == 0x92 || port == 0xcf9 || port == I8042_CMD ||
		    (port >= ACPI_SLEEP && port < ACPI_SLEEP + 8))
			break;
		if (rnd() % 2)
			outb(port, v);
		else
			(void)inb(port);
	}
}

void guest_main(const struct boot_info *b)
{
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	u64 seed = arg_u64(cmdline, "hostile.seed=", 1);
	u64 iters = arg_u64(cmdline, "hostile.iters=", 4000), i;
	unsigned int n;
	u32 k;
	u64 base;

	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (n = 0; n < MAX_DEVICES && (base = vio_find(b, (int)n)); n++) {
		struct device *d = &devices[nr_devices++];

		d->base = base;
		d->id = mmio_read32(base + 0x008);
		d->arena = arenas[n];
		for (k = 0; k < D_SIZE / sizeof(struct vq_desc); k++)
			random_desc(d, k);
		fill_buffers(d, 0, B_SIZE);
		park_queues(d);
	}
	put_str("HOSTILE-START seed=");
	put_dec(seed);
	put_str(" iters=");
	put_dec(iters);
	put_str(" devices=");
	put_dec(nr_devices);
	put_nl();
	for (i = 0; i < iters; i++) {
		struct device *d = nr_devices ? &devices[rnd() % nr_devices] : NULL;
		u32 pick = (u32)(rnd() % 16);

		if (d && pick < 7)
			poke_virtio(d);
		else if (d && pick < 9)
			post_and_kick(d);
		else if (d && pick < 10 && rnd() % 8 == 0)
			bring_up(d);
		else if (d && pick < 12)
			poke_memory(d);
		else if (pick < 13)
			poke_serial();
		else if (pick < 14)
			poke_i8042();
		else
			poke_elsewhere();
	}
	/* The console may be in any state now: set it up again to report. */
	serial_init();
	put_nl();
	put_str("HOSTILE-DONE iters=");
	put_dec(iters);
	put_nl();
	finish(nr_devices ? NULL : "no virtio device");
}
