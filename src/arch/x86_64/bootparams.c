#include <errno.h>
#include <string.h>

#include "acpi.h"
#include "bootparams.h"
#include "cpu.h"
#include "mptable.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vm.h"

unsigned int x86_e820_build(const struct guest_mem *mem, struct e820_entry *map, unsigned int max)
{
	unsigned int i, n = 0;

	/*
	 * Base memory, the EBDA (where the MP table lives), the BIOS area (the ACPI tables),
	 * then everything from 1 MiB.
	 */
	if (max < 3)
		return 0;
	map[n++] = (struct e820_entry){ 0, X86_EBDA_START, E820_RAM };
	map[n++] = (struct e820_entry){ X86_EBDA_START, 0xa0000 - X86_EBDA_START, E820_RESERVED };
	map[n++] = (struct e820_entry){ X86_ACPI_BASE, X86_ACPI_END - X86_ACPI_BASE, E820_RESERVED };
	for (i = 0; i < mem->nr_regions && n < max; i++) {
		const struct mem_region *r = &mem->regions[i];
		uint64_t start = MAX(r->gpa, X86_HIGH_MEM_START);

		if (r->gpa + r->size > start)
			map[n++] = (struct e820_entry){ start, r->gpa + r->size - start, E820_RAM };
	}
	return n;
}

void x86_zero_page_build(const struct guest_mem *mem, const struct boot_info *bi, uint8_t *bp)
{
	struct e820_entry map[BP_E820_MAX];
	unsigned int i, n;

	memset(bp, 0, BP_SIZE);
	if (bi->arch.setup_header_len)
		memcpy(bp + BP_HDR_START, bi->arch.setup_header, bi->arch.setup_header_len);
	else {
		/* An ELF vmlinux has no header of its own: write what Linux reads. */
		put_le(bp + BP_HDR_BOOT_FLAG, 0xaa55, 2);
		put_le(bp + BP_HDR_MAGIC, BP_HDR_MAGIC_VALUE, 4);
		put_le(bp + BP_HDR_KERNEL_ALIGN, 0x1000000, 4);
	}
	bp[BP_HDR_TYPE_OF_LOADER] = BP_LOADER_UNDEFINED;
	bp[BP_HDR_LOADFLAGS] |= BP_LOADED_HIGH;
	put_le(bp + BP_HDR_CMD_LINE_PTR, bi->cmdline_addr, 4);
	put_le(bp + BP_EXT_CMD_LINE_PTR, bi->cmdline_addr >> 32, 4);
	put_le(bp + BP_HDR_CMDLINE_SIZE, bi->cmdline_size ? bi->cmdline_size - 1 : 0, 4);
	put_le(bp + BP_HDR_RAMDISK_IMAGE, bi->initrd_addr, 4);
	put_le(bp + BP_EXT_RAMDISK_IMAGE, bi->initrd_addr >> 32, 4);
	put_le(bp + BP_HDR_RAMDISK_SIZE, bi->initrd_size, 4);
	put_le64(bp + BP_ACPI_RSDP_ADDR, bi->arch.rsdp_addr);
	put_le(bp + BP_EXT_RAMDISK_SIZE, bi->initrd_size >> 32, 4);

	n = x86_e820_build(mem, map, BP_E820_MAX);
	bp[BP_E820_ENTRIES] = n;
	for (i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20;

		put_le(e, map[i].addr, 8);
		put_le(e + 8, map[i].size, 8);
		put_le(e + 16, map[i].type, 4);
	}
}

int x86_pvh_info_write(struct guest_mem *mem, const struct boot_info *bi)
{
	struct e820_entry map[BP_E820_MAX];
	struct hvm_memmap_entry mm[BP_E820_MAX];
	struct hvm_modlist_entry mod = { .paddr = bi->initrd_addr, .size = bi->initrd_size };
	struct hvm_start_info info = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = bi->cmdline_addr,
		.rsdp_paddr = bi->arch.rsdp_addr,
		.memmap_paddr = X86_PVH_MEMMAP_ADDR,
	};
	unsigned int i, n;

	n = x86_e820_build(mem, map, BP_E820_MAX);
	for (i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	info.memmap_entries = n;
	if (bi->initrd_size) {
		info.nr_modules = 1;
		info.modlist_paddr = X86_PVH_MODLIST_ADDR;
		if (guest_mem_write(mem, X86_PVH_MODLIST_ADDR, &mod, sizeof(mod)))
			return -EFAULT;
	}
	if (guest_mem_write(mem, X86_PVH_MEMMAP_ADDR, mm, n * sizeof(mm[0])) ||
	    guest_mem_write(mem, X86_PVH_INFO_ADDR, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

int arch_boot_setup(struct vm *vm)
{
	struct boot_info *bi = &vm->boot;
	uint8_t *bp;
	int ret;

	if (guest_mem_write(&vm->mem, ARCH_CMDLINE_ADDR, bi->cmdline, bi->cmdline_size)) {
		log_err(vm->log, "no guest RAM for the command line");
		return -ENOMEM;
	}
	bi->cmdline_addr = ARCH_CMDLINE_ADDR;
	ret = x86_write_boot_tables(&vm->mem, bi->proto);
	if (!ret)
		ret = x86_mptable_write(&vm->mem, vm->cfg->vcpus);
	if (!ret && vm->cfg->acpi)
		ret = x86_acpi_write(vm, &bi->arch.rsdp_addr);
	if (ret)
		return ret;
	if (bi->proto == BOOT_PROTO_PVH)
		return x86_pvh_info_write(&vm->mem, bi);
	bp = gpa_to_hva(&vm->mem, X86_ZERO_PAGE_ADDR, BP_SIZE);
	if (!bp)
		return -EFAULT;
	x86_zero_page_build(&vm->mem, bi, bp);
	return 0;
}
