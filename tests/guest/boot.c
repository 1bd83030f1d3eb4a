// SPDX-License-Identifier: Apache-2.0
/*
 * boot.c - turn what the VMM handed over (Linux boot_params in RSI, or a
 * PVH hvm_start_info in EBX) into a struct boot_info, then run the guest.
 * entry.S calls linux_c_entry() or pvh_c_entry() in 64-bit mode with the
 * first 4 GiB identity-mapped, so every pointer below 4 GiB can be read.
 */
#include "lib.h"

/* Linux zero page (Documentation/arch/x86/zero-page.rst, boot.rst). */
#define ZP_ACPI_RSDP_ADDR    0x070 /* u64, boot protocol 2.14 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define ZP_E820_ENTRIES	     0x1e8
#define ZP_HDR_MAGIC	     0x202 /* "HdrS" */
#define ZP_RAMDISK_IMAGE     0x218
#define ZP_RAMDISK_SIZE	     0x21c
#define ZP_CMD_LINE_PTR	     0x228
#define ZP_E820_TABLE	     0x2d0
#define ZP_SIZE		     0x1000
#define HDRS_MAGIC	     0x53726448

struct e820_entry {
	u64 addr;
	u64 size;
	u32 type;
} __attribute__((packed));

/* Xen public/arch-x86/hvm/start_info.h, version 1. */
#define PVH_MAGIC 0x336ec578

struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
	u64 memmap_paddr;
	u32 memmap_entries;
	u32 reserved;
};

struct hvm_memmap_table_entry {
	u64 addr;
	u64 size;
	u32 type;
	u32 reserved;
};

struct hvm_modlist_entry {
	u64 paddr;
	u64 size;
	u64 cmdline_paddr;
	u64 reserved;
};

static struct boot_info boot;

static u32 zp32(u64 zp, u32 off)
{
	return *(const volatile u32 *)(zp + off);
}

static void run(void)
{
	serial_init();
	put_str("BOOT-PROTOCOL=");
	put_str(proto_name(boot.proto));
	put_nl();
	guest_main(&boot);
	reset();
}

void linux_c_entry(u64 zp)
{
	const struct e820_entry *t;
	u32 i, n;

	boot.proto = BOOT_LINUX;
	boot.info_paddr = zp;
	if (zp && zp + ZP_SIZE <= MAPPED_LIMIT) {
		boot.magic_ok = zp32(zp, ZP_HDR_MAGIC) == HDRS_MAGIC;
		n = *(const volatile u8 *)(zp + ZP_E820_ENTRIES);
		boot.nr_map_reported = n;
		if (n > BOOT_MAP_MAX)
			n = BOOT_MAP_MAX;
		t = (const struct e820_entry *)(zp + ZP_E820_TABLE);
		for (i = 0; i < n; i++) {
			boot.map[i].addr = t[i].addr;
			boot.map[i].size = t[i].size;
			boot.map[i].type = t[i].type;
		}
		boot.nr_map = n;
		boot.cmdline = zp32(zp, ZP_CMD_LINE_PTR) | (u64)zp32(zp, ZP_EXT_CMD_LINE_PTR) << 32;
		boot.initrd = zp32(zp, ZP_RAMDISK_IMAGE) | (u64)zp32(zp, ZP_EXT_RAMDISK_IMAGE)
							       << 32;
		boot.initrd_size = zp32(zp, ZP_RAMDISK_SIZE) | (u64)zp32(zp, ZP_EXT_RAMDISK_SIZE)
								   << 32;
		boot.rsdp = zp32(zp, ZP_ACPI_RSDP_ADDR) | (u64)zp32(zp, ZP_ACPI_RSDP_ADDR + 4) << 32;
	}
	run();
}

void pvh_c_entry(u64 si_paddr)
{
	const struct hvm_start_info *si = (const void *)si_paddr;
	const struct hvm_memmap_table_entry *m;
	const struct hvm_modlist_entry *mod;
	u32 i, n;

	boot.proto = BOOT_PVH;
	boot.info_paddr = si_paddr;
	if (si_paddr && si->magic == PVH_MAGIC) {
		boot.magic_ok = 1;
		boot.pvh_version = si->version;
		boot.cmdline = si->cmdline_paddr;
		boot.nr_modules = si->nr_modules;
		boot.rsdp = si->rsdp_paddr;
		if (si->nr_modules && si->modlist_paddr && si->modlist_paddr < MAPPED_LIMIT) {
			mod = (const void *)si->modlist_paddr;
			boot.initrd = mod[0].paddr;
			boot.initrd_size = mod[0].size;
		}
		n = si->version >= 1 ? si->memmap_entries : 0;
		boot.nr_map_reported = n;
		if (n > BOOT_MAP_MAX)
			n = BOOT_MAP_MAX;
		if (n && si->memmap_paddr && si->memmap_paddr < MAPPED_LIMIT) {
			m = (const void *)si->memmap_paddr;
			for (i = 0; i < n; i++) {
				boot.map[i].addr = m[i].addr;
				boot.map[i].size = m[i].size;
				boot.map[i].type = m[i].type;
			}
			boot.nr_map = n;
		}
	}
	run();
}
