/* The e820 map, zero page, PVH start info and MP table builders. */
#include <errno.h>

#include "arch/arch.h"
#include "arch/x86_64/bootparams.h"
#include "arch/x86_64/mptable.h"
#include "unit.h"

static void test_e820_small(void **state)
{
	struct guest_mem mem;
	struct e820_entry map[BP_E820_MAX];
	unsigned int n;

	(void)state;
	unit_mem_init(&mem, 128);
	n = x86_e820_build(&mem, map, BP_E820_MAX);
	assert_int_equal(n, 4);
	assert_int_equal(map[0].addr, 0);
	assert_int_equal(map[0].size, 0x9fc00);
	assert_int_equal(map[0].type, E820_RAM);
	assert_int_equal(map[1].addr, 0x9fc00);
	assert_int_equal(map[1].type, E820_RESERVED);
	/* The BIOS area, where the ACPI tables are. */
	assert_int_equal(map[2].addr, 0xe0000);
	assert_int_equal(map[2].size, 0x20000);
	assert_int_equal(map[2].type, E820_RESERVED);
	assert_int_equal(map[3].addr, 0x100000);
	assert_int_equal(map[3].addr + map[3].size, 128 * MiB);
	assert_int_equal(map[3].type, E820_RAM);
	guest_mem_destroy(&mem);
}

static void test_e820_split_around_hole(void **state)
{
	struct guest_mem mem;
	struct e820_entry map[BP_E820_MAX];
	unsigned int n;

	(void)state;
	unit_mem_init(&mem, 5120);
	n = x86_e820_build(&mem, map, BP_E820_MAX);
	assert_int_equal(n, 5);
	assert_int_equal(map[3].addr + map[3].size, 0xc0000000);
	assert_int_equal(map[4].addr, 0x100000000);
	assert_int_equal(map[4].size, 2 * GiB);
	/* Exactly 3 GiB: no high region. */
	guest_mem_destroy(&mem);
	unit_mem_init(&mem, 3072);
	assert_int_equal(x86_e820_build(&mem, map, BP_E820_MAX), 4);
	guest_mem_destroy(&mem);
}

static void test_zero_page(void **state)
{
	struct guest_mem mem;
	struct boot_info bi = {
		.proto = BOOT_PROTO_LINUX,
		.cmdline_addr = ARCH_CMDLINE_ADDR,
		.cmdline_size = 12,
		.initrd_addr = 0x7f00000,
		.initrd_size = 0x12345,
	};
	uint8_t bp[BP_SIZE];

	(void)state;
	unit_mem_init(&mem, 128);
	x86_zero_page_build(&mem, &bi, bp);
	assert_int_equal(get_u32(bp + BP_HDR_MAGIC), BP_HDR_MAGIC_VALUE);
	assert_int_equal(bp[BP_HDR_BOOT_FLAG], 0x55);
	assert_int_equal(bp[BP_HDR_BOOT_FLAG + 1], 0xaa);
	assert_int_equal(bp[BP_HDR_TYPE_OF_LOADER], 0xff);
	assert_int_equal(get_u32(bp + BP_HDR_CMD_LINE_PTR), ARCH_CMDLINE_ADDR);
	assert_int_equal(get_u32(bp + BP_HDR_CMDLINE_SIZE), 11);
	assert_int_equal(get_u32(bp + BP_HDR_RAMDISK_IMAGE), 0x7f00000);
	assert_int_equal(get_u32(bp + BP_HDR_RAMDISK_SIZE), 0x12345);
	assert_int_equal(get_u32(bp + BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(bp[BP_E820_ENTRIES], 4);
	assert_int_equal(get_u64(bp + BP_E820_TABLE + 3 * 20), 0x100000);
	assert_int_equal(get_u64(bp + BP_E820_TABLE + 3 * 20 + 8), 127 * MiB);
	assert_int_equal(get_u32(bp + BP_E820_TABLE + 3 * 20 + 16), E820_RAM);
	assert_int_equal(get_u64(bp + BP_ACPI_RSDP_ADDR), 0); /* no ACPI in (bi) */
	bi.arch.rsdp_addr = 0xe0000;
	x86_zero_page_build(&mem, &bi, bp);
	assert_int_equal(get_u64(bp + BP_ACPI_RSDP_ADDR), 0xe0000);

	/* A bzImage's own header is kept, with the loader's fields written over it. */
	memset(bi.arch.setup_header, 0x11, 0x77);
	bi.arch.setup_header_len = 0x77;
	x86_zero_page_build(&mem, &bi, bp);
	assert_int_equal(bp[BP_HDR_START], 0x11);
	assert_int_equal(bp[BP_HDR_START + 0x76], 0x11);
	assert_int_equal(bp[BP_HDR_START + 0x77], 0);
	assert_int_equal(get_u32(bp + BP_HDR_CMD_LINE_PTR), ARCH_CMDLINE_ADDR);
	guest_mem_destroy(&mem);
}

static void test_pvh_info(void **state)
{
	struct guest_mem mem;
	struct boot_info bi = {
		.proto = BOOT_PROTO_PVH,
		.cmdline_addr = ARCH_CMDLINE_ADDR,
		.cmdline_size = 5,
		.initrd_addr = 0x3000000,
		.initrd_size = 777,
		.arch.rsdp_addr = 0xe0000,
	};
	struct hvm_start_info info;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_entry mm[5];

	(void)state;
	unit_mem_init(&mem, 4096);
	assert_int_equal(x86_pvh_info_write(&mem, &bi), 0);
	assert_int_equal(guest_mem_read(&mem, X86_PVH_INFO_ADDR, &info, sizeof(info)), 0);
	assert_int_equal(sizeof(info), 56);
	assert_int_equal(info.magic, HVM_START_MAGIC);
	assert_int_equal(info.version, 1);
	assert_int_equal(info.cmdline_paddr, ARCH_CMDLINE_ADDR);
	assert_int_equal(info.rsdp_paddr, 0xe0000);
	assert_int_equal(info.nr_modules, 1);
	assert_int_equal(info.memmap_entries, 5);
	assert_int_equal(guest_mem_read(&mem, info.modlist_paddr, &mod, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, 0x3000000);
	assert_int_equal(mod.size, 777);
	assert_int_equal(guest_mem_read(&mem, info.memmap_paddr, mm, sizeof(mm)), 0);
	assert_int_equal(mm[4].addr, 0x100000000);
	assert_int_equal(mm[4].size, 1 * GiB);
	assert_int_equal(mm[4].type, E820_RAM);
	guest_mem_destroy(&mem);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static void check_mptable(unsigned int ncpus)
{
	struct guest_mem mem;
	const uint8_t *fp, *t, *e;
	unsigned int i, nr_entries, cpus = 0, bsp = 0, ioapics = 0, intsrc = 0, lint = 0;
	uint16_t len;

	unit_mem_init(&mem, 32);
	assert_int_equal(x86_mptable_write(&mem, ncpus), 0);
	fp = gpa_to_hva(&mem, X86_MPTABLE_ADDR, 16);
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum(fp, 16), 0);
	assert_int_equal(fp[8], 1);
	assert_int_equal(fp[9], 4);
	t = gpa_to_hva(&mem, get_u32(fp + 4), 44);
	assert_non_null(t);
	assert_memory_equal(t, "PCMP", 4);
	memcpy(&len, t + 4, 2);
	assert_true(get_u32(fp + 4) + len <= 0xa0000);
	t = gpa_to_hva(&mem, get_u32(fp + 4), len);
	assert_int_equal(sum(t, len), 0);
	assert_int_equal(get_u32(t + 36), 0xfee00000);
	nr_entries = t[34] | t[35] << 8;
	e = t + 44;
	for (i = 0; i < nr_entries; i++) {
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], cpus); /* APIC IDs 0..n-1 in order */
			assert_true(e[3] & 1);
			bsp += !!(e[3] & 2);
			cpus++;
			e += 20;
			break;
		case 2:
			ioapics++;
			assert_int_equal(get_u32(e + 4), 0xfec00000);
			e += 8;
			break;
		case 3:
			intsrc++;
			e += 8;
			break;
		case 4:
			lint++;
			e += 8;
			break;
		default:
			e += 8;
			break;
		}
	}
	assert_int_equal(e - t, len);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsp, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(intsrc, 24);
	assert_int_equal(lint, 2);
	guest_mem_destroy(&mem);
}

static void test_mptable(void **state)
{
	struct guest_mem mem;

	(void)state;
	check_mptable(1);
	check_mptable(2);
	check_mptable(4);
	check_mptable(ARCH_MAX_VCPUS);
	unit_mem_init(&mem, 32);
	assert_int_equal(x86_mptable_write(&mem, 0), -E2BIG);
	assert_int_equal(x86_mptable_write(&mem, ARCH_MAX_VCPUS + 1), -E2BIG);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_split_around_hole),
		cmocka_unit_test(test_zero_page),
		cmocka_unit_test(test_pvh_info),
		cmocka_unit_test(test_mptable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
