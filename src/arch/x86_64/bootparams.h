/* The Linux zero page (struct boot_params), the PVH start info, and the e820 map they share. */
#ifndef EMBER_ARCH_X86_64_BOOTPARAMS_H
#define EMBER_ARCH_X86_64_BOOTPARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/boot.h"
#include "../../vmm/memory.h"

/* Offsets into boot_params (Documentation/arch/x86/zero-page.rst and boot.rst). */
#define BP_ACPI_RSDP_ADDR     0x070
#define BP_EXT_RAMDISK_IMAGE  0x0c0
#define BP_EXT_RAMDISK_SIZE   0x0c4
#define BP_EXT_CMD_LINE_PTR   0x0c8
#define BP_E820_ENTRIES	      0x1e8
#define BP_HDR_START	      0x1f1
#define BP_HDR_SETUP_SECTS    0x1f1
#define BP_HDR_SYSSIZE	      0x1f4
#define BP_HDR_BOOT_FLAG      0x1fe
#define BP_HDR_JUMP	      0x200
#define BP_HDR_JUMP_END	      0x202
#define BP_HDR_MAGIC	      0x202
#define BP_HDR_VERSION	      0x206
#define BP_HDR_TYPE_OF_LOADER 0x210
#define BP_HDR_LOADFLAGS      0x211
#define BP_HDR_RAMDISK_IMAGE  0x218
#define BP_HDR_RAMDISK_SIZE   0x21c
#define BP_HDR_CMD_LINE_PTR   0x228
#define BP_HDR_INITRD_ADDR_MAX 0x22c
#define BP_HDR_KERNEL_ALIGN   0x230
#define BP_HDR_XLOADFLAGS     0x236
#define BP_HDR_CMDLINE_SIZE   0x238
#define BP_HDR_PREF_ADDRESS   0x258
#define BP_HDR_INIT_SIZE      0x260
#define BP_HDR_MIN_FILE	      0x264 /* through init_size */
#define BP_HDR_END_MAX	      0x290
#define BP_E820_TABLE	      0x2d0
#define BP_E820_MAX	      128
#define BP_SIZE		      4096

#define BP_HDR_MAGIC_VALUE    0x53726448 /* "HdrS" */
#define BP_LOADER_UNDEFINED   0xff
#define BP_LOADED_HIGH	      0x01

#define E820_RAM	      1
#define E820_RESERVED	      2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* PVH start info (Xen's hvm_start_info, version 1). */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Fill (map) with at most (max) entries describing (mem). Returns the entry count. */
unsigned int x86_e820_build(const struct guest_mem *mem, struct e820_entry *map, unsigned int max);

/* Build the zero page for (bi) into (bp), BP_SIZE bytes. */
void x86_zero_page_build(const struct guest_mem *mem, const struct boot_info *bi, uint8_t *bp);

/* Write the PVH start info, module list and memory map for (bi). 0 or -EFAULT. */
int x86_pvh_info_write(struct guest_mem *mem, const struct boot_info *bi);

/*
 * bzImage helpers, exposed for the unit tests. x86_bzimage_load: 0, or -EINVAL / -ENOMEM
 * with the reason in (why, why_len).
 */
bool x86_is_bzimage(const uint8_t *img, size_t size);
int x86_bzimage_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     struct boot_info *bi, char *why, size_t why_len);

#endif
