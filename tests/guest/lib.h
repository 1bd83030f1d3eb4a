/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib.h - the tiny guests' shared library: port I/O, 16550 output and
 * input, number printing, FNV-1a, reset, and the normalised boot info
 * that entry.S + boot.c hand to every guest's guest_main().
 */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef unsigned long size_t;

#define NULL	     ((void *)0)
#define BOOT_MAP_MAX 128
#define MAPPED_LIMIT 0x100000000UL /* entry.S identity-maps [0, 4 GiB) */

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A pointer to physical (= virtual) address (addr), opaque to gcc's bounds checks. */
static inline void *phys(u64 addr)
{
	__asm__("" : "+r"(addr));
	return (void *)addr;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (u64)hi << 32;
}

static inline u32 mmio_read32(u64 addr)
{
	return *(volatile u32 *)addr;
}

static inline void mmio_write32(u64 addr, u32 v)
{
	*(volatile u32 *)addr = v;
}

enum boot_proto { BOOT_LINUX = 1, BOOT_PVH = 2 };

struct boot_map_entry {
	u64 addr;
	u64 size;
	u32 type;
};

/* What the VMM told us, independent of the boot protocol. */
struct boot_info {
	enum boot_proto proto;
	u64 info_paddr; /* boot_params (RSI) or hvm_start_info (EBX) */
	int magic_ok;	/* PVH: magic == 0x336ec578; Linux: "HdrS" */
	u32 pvh_version;
	u32 nr_map;	     /* entries stored in map[] */
	u32 nr_map_reported; /* entries the VMM claimed */
	struct boot_map_entry map[BOOT_MAP_MAX];
	u64 cmdline;	 /* physical address, 0 = none */
	u64 initrd;	 /* physical address */
	u64 initrd_size; /* 0 = no initrd */
	u32 nr_modules;	 /* PVH only */
	u64 rsdp;	 /* ACPI RSDP the protocol gave: acpi_rsdp_addr / rsdp_paddr, 0 = none */
};

/* Implemented by each guest; (b) describes how we were booted. */
void guest_main(const struct boot_info *b);

/* serial.c / lib.c */
void serial_init(void);
void put_char(char c);
void put_str(const char *s);
void put_bytes(const char *s, size_t n);
void put_hex(u64 v);   /* "0x" + lowercase digits, no leading zeros */
void put_hex32(u32 v); /* exactly 8 lowercase digits, no prefix */
void put_dec(u64 v);
void put_nl(void);
/* One LSR poll: the received byte, or -1 if none is waiting. */
int try_get_char(void);

u32 fnv1a32(const void *p, size_t n);
const char *proto_name(enum boot_proto p);
/* True when [addr, addr + size) lies inside one type-1 entry of (b). */
int in_ram(const struct boot_info *b, u64 addr, u64 size);

/* Print "FAIL: <why>" or "SUCCESS" and reset. */
void __attribute__((noreturn)) finish(const char *fail_reason);
/* Pulse the i8042 reset line; cli; hlt forever if that did not work. */
void __attribute__((noreturn)) reset(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
