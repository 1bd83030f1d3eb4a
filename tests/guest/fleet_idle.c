// SPDX-License-Identifier: Apache-2.0
/*
 * fleet_idle.c - fleet_idle.elf, the guest of the emberctl tests (tests/fleet): prints
 * IDLE-READY and then sleeps in hlt, woken only by interrupts, so that tens of them cost
 * the host nothing. Through the I/O APIC it takes the UART's receive interrupt and the
 * i8042's keyboard interrupt:
 *   - each line typed on the console comes back as "ECHO: <line>"; the line "reset"
 *     resets the machine (ember exits 0);
 *   - Ctrl-Alt-Del (scan codes, as ember's SendCtrlAltDel queues them) prints CTRL-ALT-DEL
 *     and resets, as Linux reboots; with "nocad" on the command line it prints
 *     CTRL-ALT-DEL-IGNORED and sleeps on, which makes a VM that needs SIGTERM to stop.
 */
#include "lib.h"

#define COM1	     0x3f8
#define UART_IER     1
#define I8042_DATA   0x60
#define I8042_STATUS 0x64
#define I8042_OBF    0x01
#define IOAPIC_BASE  0xfec00000UL
#define LAPIC_BASE   0xfee00000UL
#define LAPIC_EOI    0xb0
#define LAPIC_SVR    0xf0
#define VEC_IRQ	     0x40 /* the device interrupts: every vector from here wakes the loop */
#define VEC_SPURIOUS 0xff
#define IRQ_KBD	     1
#define IRQ_COM1     4
#define LINE_MAX     128

struct idt_gate {
	u16 off_lo;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off_mid;
	u32 off_hi;
	u32 zero;
} __attribute__((packed));

struct idt_ptr {
	u16 limit;
	u64 base;
} __attribute__((packed));

static struct idt_gate idt[256];

struct interrupt_frame;

/* The work is done by the loop in guest_main; an interrupt only has to end hlt. */
__attribute__((interrupt)) static void irq_entry(struct interrupt_frame *f)
{
	(void)f;
	mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

__attribute__((interrupt)) static void spurious_entry(struct interrupt_frame *f)
{
	(void)f;
}

static void set_gate(unsigned int vec, void (*fn)(struct interrupt_frame *), u16 cs)
{
	u64 a = (u64)fn;

	idt[vec] = (struct idt_gate){(u16)a, cs, 0, 0x8e, (u16)(a >> 16), (u32)(a >> 32), 0};
}

static void ioapic_route(unsigned int pin, unsigned int vector)
{
	volatile u32 *sel = phys(IOAPIC_BASE), *win = phys(IOAPIC_BASE + 0x10);

	*sel = 0x11 + 2 * pin; /* destination: APIC id 0 */
	*win = 0;
	*sel = 0x10 + 2 * pin; /* fixed, physical, active high, edge, unmasked */
	*win = vector;
}

static void interrupts_init(void)
{
	struct idt_ptr p = {sizeof(idt) - 1, (u64)idt};
	unsigned int v;
	u16 cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (v = 32; v < 256; v++)
		set_gate(v, v == VEC_SPURIOUS ? spurious_entry : irq_entry, cs);
	__asm__ volatile("lidt %0" : : "m"(p));
	/* The 8259s would also see these lines, through LINT0: masked, the I/O APIC alone. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	ioapic_route(IRQ_KBD, VEC_IRQ + IRQ_KBD);
	ioapic_route(IRQ_COM1, VEC_IRQ + IRQ_COM1);
	outb(COM1 + UART_IER, 0x01); /* received data available */
	/* The keyboard controller's interrupt on, translation on (scan code set 1). */
	outb(I8042_STATUS, 0x60);
	outb(I8042_DATA, 0x45);
}

static int cmdline_has(const struct boot_info *b, const char *word)
{
	const char *s = b->cmdline ? phys(b->cmdline) : NULL;
	size_t n = 0, i;

	while (word[n])
		n++;
	for (; s && *s; s++) {
		for (i = 0; i < n && s[i] == word[i]; i++)
			;
		if (i == n && (s[n] == ' ' || !s[n]))
			return 1;
	}
	return 0;
}

struct keys {
	int ctrl, alt, ext;
};

/* Scan code set 1: Ctrl 1d, Alt 38, Delete e0 53. True once all three were pressed. */
static int saw_ctrl_alt_del(struct keys *k, u8 sc)
{
	int ext = k->ext;

	k->ext = sc == 0xe0;
	if (sc == 0xe0)
		return 0;
	if (!ext && sc == 0x1d)
		k->ctrl = 1;
	else if (!ext && sc == 0x38)
		k->alt = 1;
	else if (ext && sc == 0x53)
		return k->ctrl && k->alt;
	return 0;
}

static int is_word(const char *line, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i] && line[i] == w[i]; i++)
		;
	return i == n && !w[i];
}

void guest_main(const struct boot_info *b)
{
	static char line[LINE_MAX];
	int ignore_cad = cmdline_has(b, "nocad"), c;
	struct keys keys = {0, 0, 0};
	size_t n = 0;

	interrupts_init();
	put_str(ignore_cad ? "IDLE-READY nocad\n" : "IDLE-READY\n");
	for (;;) {
		while ((c = try_get_char()) >= 0) {
			if (c != '\r' && c != '\n') {
				if (n < LINE_MAX)
					line[n++] = (char)c;
				continue;
			}
			if (!n)
				continue;
			if (is_word(line, n, "reset")) {
				put_str("RESET-NOW\n");
				reset();
			}
			put_str("ECHO: ");
			put_bytes(line, n);
			put_nl();
			n = 0;
		}
		while (inb(I8042_STATUS) & I8042_OBF) {
			if (!saw_ctrl_alt_del(&keys, inb(I8042_DATA)))
				continue;
			keys = (struct keys){0, 0, 0};
			if (ignore_cad) {
				put_str("CTRL-ALT-DEL-IGNORED\n");
				continue;
			}
			put_str("CTRL-ALT-DEL\n");
			reset();
		}
		/* sti's shadow covers hlt: an interrupt that came while polling still wakes it. */
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
}
