// SPDX-License-Identifier: Apache-2.0
/*
 * bootinfo.c - linux_boot.elf and pvh_boot.elf: print what the VMM
 * passed (memory map, command line, initrd) and sanity-check it.
 *
 *   PVH-MAGIC-OK                       (PVH only)
 *   E820 <idx> <addr> <size> <type>    one per map entry
 *   RAM-TOP=<hex> / RAM-TOTAL=<hex>
 *   CMDLINE-ADDR=<hex>
 *   CMDLINE=<raw bytes up to the NUL>
 *   INITRD-ADDR=<hex> INITRD-SIZE=<hex> INITRD-FNV=<8 hex> | INITRD=none
 *   SUCCESS | FAIL: <first problem found>
 */
#include "lib.h"

#define CMDLINE_MAX 4096

static const char *fail;

static void problem(const char *why)
{
	if (!fail)
		fail = why;
}

static void print_map(const struct boot_info *b)
{
	u64 top = 0, total = 0;
	u32 i, j, ram = 0;

	for (i = 0; i < b->nr_map; i++) {
		const struct boot_map_entry *e = &b->map[i];

		put_str("E820 ");
		put_dec(i);
		put_char(' ');
		put_hex(e->addr);
		put_char(' ');
		put_hex(e->size);
		put_char(' ');
		put_dec(e->type);
		put_nl();
		if (e->type != 1)
			continue;
		ram++;
		total += e->size;
		if (e->addr + e->size > top)
			top = e->addr + e->size;
		if (e->addr + e->size < e->addr)
			problem("memory map entry wraps");
		for (j = 0; j < i; j++) {
			const struct boot_map_entry *f = &b->map[j];

			if (f->type == 1 && f->addr < e->addr + e->size &&
			    e->addr < f->addr + f->size)
				problem("overlapping RAM entries");
		}
	}
	put_str("RAM-TOP=");
	put_hex(top);
	put_nl();
	put_str("RAM-TOTAL=");
	put_hex(total);
	put_nl();
	if (b->nr_map_reported == 0)
		problem("empty memory map");
	else if (b->nr_map_reported > BOOT_MAP_MAX)
		problem("more than 128 memory map entries");
	else if (!ram)
		problem("no RAM in memory map");
}

static void print_cmdline(const struct boot_info *b)
{
	const char *s = (const char *)b->cmdline;
	size_t n = 0;

	if (!b->cmdline) {
		put_str("CMDLINE-MISSING\n");
		problem("no command line pointer");
		return;
	}
	put_str("CMDLINE-ADDR=");
	put_hex(b->cmdline);
	put_nl();
	if (b->cmdline >= MAPPED_LIMIT - CMDLINE_MAX) {
		problem("command line above 4 GiB");
		return;
	}
	while (n < CMDLINE_MAX && s[n])
		n++;
	put_str("CMDLINE=");
	put_bytes(s, n);
	put_nl();
	if (n == CMDLINE_MAX)
		problem("command line not NUL-terminated within 4 KiB");
	else if (!in_ram(b, b->cmdline, n + 1))
		problem("command line not in RAM");
}

static void print_initrd(const struct boot_info *b)
{
	u64 end = b->initrd + b->initrd_size;

	if (!b->initrd_size) {
		put_str("INITRD=none\n");
		return;
	}
	put_str("INITRD-ADDR=");
	put_hex(b->initrd);
	put_str(" INITRD-SIZE=");
	put_hex(b->initrd_size);
	if (end < b->initrd || end > MAPPED_LIMIT) {
		put_nl();
		problem("initrd above 4 GiB");
		return;
	}
	put_str(" INITRD-FNV=");
	put_hex32(fnv1a32((const void *)b->initrd, b->initrd_size));
	put_nl();
	if (!in_ram(b, b->initrd, b->initrd_size))
		problem("initrd not in RAM");
}

void guest_main(const struct boot_info *b)
{
	if (b->proto == BOOT_PVH) {
		if (!b->magic_ok)
			finish("hvm_start_info magic is not 0x336ec578");
		put_str("PVH-MAGIC-OK\n");
		put_str("PVH-VERSION=");
		put_dec(b->pvh_version);
		put_str(" PVH-MODULES=");
		put_dec(b->nr_modules);
		put_nl();
		if (b->pvh_version < 1)
			problem("hvm_start_info version 0 has no memory map");
	} else {
		/* Informational: a VMM loading an ELF need not fill "HdrS". */
		put_str(b->magic_ok ? "SETUP-HEADER=HdrS\n" : "SETUP-HEADER=none\n");
	}
	print_map(b);
	print_cmdline(b);
	print_initrd(b);
	finish(fail);
}
