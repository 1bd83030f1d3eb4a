/* What a kernel loader tells the rest of the boot: where to enter and what it occupies. */
#ifndef EMBER_VMM_BOOT_H
#define EMBER_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch_defs.h"
#include "../config/vm_config.h"

/* The command line when none is given (the arch's); the config file appends root= to it. */
#define DEFAULT_BOOT_ARGS ARCH_DEFAULT_BOOT_ARGS

struct boot_info {
	enum boot_protocol proto;
	uint64_t entry;	      /* guest physical entry point */
	uint64_t kernel_end;  /* first byte above everything the kernel may use at entry */
	uint64_t initrd_max;  /* the initrd must end at or below this address */
	uint64_t initrd_addr; /* 0 when there is no initrd */
	uint64_t initrd_size;
	char cmdline[ARCH_CMDLINE_MAX]; /* the whole command line; the arch puts it where it goes */
	uint64_t cmdline_addr;		/* where the arch put it, if in guest memory */
	uint64_t cmdline_size;		/* including the terminating NUL */
	struct arch_boot_info arch;
};

struct vm;
struct guest_mem;

/*
 * Where the device-tree arches (arm64, riscv64) put an Image: at (align) above the start of
 * RAM plus its (text_offset), with (image_size) bytes of room; the device tree in the last
 * (fdt_max) bytes of RAM, at an (align) boundary; the initrd allowed up to it. Copies the
 * (size) bytes of (img) and fills (bi) (entry, kernel_end, initrd_max) and (*fdt_addr).
 * 0, or -E2BIG with the reason in (why, why_len) if the kernel does not fit below the device
 * tree.
 */
int boot_place_image(struct guest_mem *mem, const uint8_t *img, size_t size, uint64_t align,
		     uint64_t text_offset, uint64_t image_size, uint64_t fdt_max,
		     struct boot_info *bi, uint64_t *fdt_addr, char *why, size_t why_len);

/* Copy the device tree (blob, len) to (addr) in vm's RAM and log where it went. 0 or -errno. */
int boot_write_fdt(struct vm *vm, uint64_t addr, const uint8_t *blob, size_t len);

/*
 * Load the kernel named in vm->cfg into guest memory and fill vm->boot. 0, or -errno with
 * the reason in (why, why_len).
 */
int boot_load_kernel(struct vm *vm, char *why, size_t why_len);

/*
 * After every device exists: build the command line (with the arch's device
 * announcements), load the initrd and the arch's boot structures. 0, or -errno with the
 * reason in (why, why_len) when it is ember's to give.
 */
int boot_finish(struct vm *vm, char *why, size_t why_len);

#endif
