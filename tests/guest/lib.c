// SPDX-License-Identifier: Apache-2.0
/*
 * lib.c - serial output/input on the 16550 at 0x3f8, number printing,
 * FNV-1a 32, i8042 reset.  Everything is polled; interrupts stay off.
 */
#include "lib.h"

#define COM1	   0x3f8
#define UART_RBR   0 /* receive buffer (read, DLAB=0) */
#define UART_THR   0 /* transmit holding (write, DLAB=0) */
#define UART_DLL   0 /* divisor latch low (DLAB=1) */
#define UART_IER   1
#define UART_DLM   1 /* divisor latch high (DLAB=1) */
#define UART_LCR   3
#define UART_MCR   4
#define UART_LSR   5
#define LSR_DR	   0x01	  /* data ready */
#define LSR_THRE   0x20	  /* transmit holding register empty */
#define THRE_POLLS 100000 /* give up waiting for THRE after this */

#define I8042_STATUS 0x64
#define I8042_CMD    0x64
#define I8042_IBF    0x02 /* input buffer full */
#define I8042_RESET  0xfe /* pulse the CPU reset line */

/*
 * 115200 8N1, no interrupts, DTR|RTS|OUT2.  The FIFO control register is
 * left alone on purpose: clearing the RX FIFO could drop bytes the VMM has
 * already queued from its stdin before we got here.
 */
void serial_init(void)
{
	outb(COM1 + UART_LCR, 0x80);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, 0x03);
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_MCR, 0x0b);
}

void put_char(char c)
{
	int i;

	for (i = 0; i < THRE_POLLS; i++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	outb(COM1 + UART_THR, (u8)c);
}

void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

void put_bytes(const char *s, size_t n)
{
	while (n--)
		put_char(*s++);
}

void put_nl(void)
{
	put_char('\n');
}

static const char hexdig[] = "0123456789abcdef";

void put_hex(u64 v)
{
	char buf[16];
	int n = 0;

	put_str("0x");
	do {
		buf[n++] = hexdig[v & 0xf];
		v >>= 4;
	} while (v);
	while (n)
		put_char(buf[--n]);
}

void put_hex32(u32 v)
{
	int shift;

	for (shift = 28; shift >= 0; shift -= 4)
		put_char(hexdig[(v >> shift) & 0xf]);
}

void put_dec(u64 v)
{
	char buf[20];
	int n = 0;

	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_char(buf[--n]);
}

int try_get_char(void)
{
	if (inb(COM1 + UART_LSR) & LSR_DR)
		return inb(COM1 + UART_RBR);
	return -1;
}

u32 fnv1a32(const void *p, size_t n)
{
	const u8 *b = p;
	u32 h = 0x811c9dc5;

	while (n--) {
		h ^= *b++;
		h *= 0x01000193;
	}
	return h;
}

const char *proto_name(enum boot_proto p)
{
	return p == BOOT_PVH ? "pvh" : "linux";
}

int in_ram(const struct boot_info *b, u64 addr, u64 size)
{
	u64 end = addr + size;
	u32 i;

	if (end < addr)
		return 0;
	for (i = 0; i < b->nr_map; i++) {
		const struct boot_map_entry *e = &b->map[i];

		if (e->type == 1 && addr >= e->addr && end <= e->addr + e->size)
			return 1;
	}
	return 0;
}

void reset(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		if (!(inb(I8042_STATUS) & I8042_IBF))
			break;
	outb(I8042_CMD, I8042_RESET);
	for (i = 0; i < 10000; i++)
		cpu_relax();
	for (;;)
		__asm__ volatile("cli; hlt");
}

void finish(const char *fail_reason)
{
	if (fail_reason) {
		put_str("FAIL: ");
		put_str(fail_reason);
	} else {
		put_str("SUCCESS");
	}
	put_nl();
	reset();
}

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n)
{
	u8 *p = d;

	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
