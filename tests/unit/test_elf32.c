/*
 * ELF32 images (EM_386) on x86: PVH only, with the same checks as ELF64 and the overlap
 * check both classes share.
 */
#include <elf.h>
#include <errno.h>

#include "arch/arch.h"
#include "vmm/elf.h"
#include "unit.h"

#define IMG_SIZE   0x1000
#define LOAD0_ADDR 0x200000
#define LOAD1_ADDR 0x300000
#define PVH_ENTRY  (LOAD0_ADDR + 0x40)
#define RAM_MIB	   64

/*
 * An ELF32 PVH kernel: two PT_LOADs (0x100 file bytes in 0x200 at 2 MiB, 0x80 in 0x1000 at
 * 3 MiB) and a PT_NOTE with XEN_ELFNOTE_PHYS32_ENTRY, unless (with_pvh) is 0.
 */
static void make_elf32(uint8_t *img, int with_pvh)
{
	Elf32_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_386,
		.e_version = EV_CURRENT,
		.e_entry = LOAD0_ADDR + 0x10,
		.e_phoff = sizeof(Elf32_Ehdr),
		.e_ehsize = sizeof(Elf32_Ehdr),
		.e_phentsize = sizeof(Elf32_Phdr),
		.e_phnum = with_pvh ? 3 : 2,
	};
	Elf32_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_offset = 0x800, .p_vaddr = LOAD0_ADDR,
		  .p_paddr = LOAD0_ADDR, .p_filesz = 0x100, .p_memsz = 0x200 },
		{ .p_type = PT_LOAD, .p_offset = 0x900, .p_vaddr = LOAD1_ADDR,
		  .p_paddr = LOAD1_ADDR, .p_filesz = 0x80, .p_memsz = 0x1000 },
		{ .p_type = PT_NOTE, .p_offset = 0x400, .p_filesz = 20 },
	};
	unsigned int i;

	memset(img, 0, IMG_SIZE);
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + eh.e_phoff, ph, eh.e_phnum * sizeof(ph[0]));
	put_u32(img + 0x400, 4);  /* namesz */
	put_u32(img + 0x404, 4);  /* descsz */
	put_u32(img + 0x408, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
	memcpy(img + 0x40c, "Xen", 4);
	put_u32(img + 0x410, PVH_ENTRY);
	for (i = 0; i < 0x180; i++)
		img[0x800 + i] = i ^ 0x5a;
}

static Elf32_Ehdr *ehdr(uint8_t *img)
{
	return (Elf32_Ehdr *)img;
}

static Elf32_Phdr *phdr(uint8_t *img, unsigned int i)
{
	return (Elf32_Phdr *)(img + sizeof(Elf32_Ehdr)) + i;
}

/* Load into (mem); the loader's reason for a refusal lands in (why). */
static int load_into(struct guest_mem *mem, const uint8_t *img, size_t size,
		     enum boot_protocol proto, struct boot_info *bi, char *why, size_t why_len)
{
	struct logger log;
	int ret;

	logger_init(&log);
	log_set_level(&log, LOG_ERROR);
	why[0] = '\0';
	ret = arch_kernel_load(mem, img, size, proto, bi, &log, why, why_len);
	logger_destroy(&log);
	if (ret && !why[0])
		fail_msg("refused with %d but no reason", ret);
	return ret;
}

/* Expect (img) refused with (want), and a reason that mentions (needle). */
static void refused(const uint8_t *img, size_t size, enum boot_protocol proto, int want,
		    const char *needle)
{
	struct guest_mem mem;
	struct boot_info bi;
	char why[256];

	unit_mem_init(&mem, RAM_MIB);
	assert_int_equal(load_into(&mem, img, size, proto, &bi, why, sizeof(why)), want);
	guest_mem_destroy(&mem);
	if (!strstr(why, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, needle);
}

static void test_elf32_pvh_loads(void **state)
{
	static const enum boot_protocol protos[] = { BOOT_PROTO_AUTO, BOOT_PROTO_PVH };
	uint8_t img[IMG_SIZE];
	struct guest_mem mem;
	struct boot_info bi;
	char why[256];
	unsigned int i;

	(void)state;
	make_elf32(img, 1);
	for (i = 0; i < 2; i++) {
		const uint8_t *p0, *p1;

		unit_mem_init(&mem, RAM_MIB);
		/* Stale bytes where the bss goes: the loader must zero them. */
		memset(gpa_to_hva(&mem, LOAD0_ADDR, 0x200), 0xee, 0x200);
		memset(gpa_to_hva(&mem, LOAD1_ADDR, 0x1000), 0xee, 0x1000);
		assert_int_equal(load_into(&mem, img, IMG_SIZE, protos[i], &bi, why, sizeof(why)),
				 0);
		assert_int_equal(bi.proto, BOOT_PROTO_PVH);
		assert_int_equal(bi.entry, PVH_ENTRY);
		assert_int_equal(bi.arch.pvh_entry, PVH_ENTRY);
		assert_int_equal(bi.kernel_end, LOAD1_ADDR + 0x1000);
		p0 = gpa_to_hva(&mem, LOAD0_ADDR, 0x200);
		p1 = gpa_to_hva(&mem, LOAD1_ADDR, 0x1000);
		assert_int_equal(p0[0x42], 0x42 ^ 0x5a);
		assert_int_equal(p0[0x100], 0);
		assert_int_equal(p0[0x1ff], 0);
		assert_int_equal(p1[0x7f], (0x17f ^ 0x5a) & 0xff);
		assert_int_equal(p1[0x80], 0);
		assert_int_equal(p1[0xfff], 0);
		guest_mem_destroy(&mem);
	}
}

/* An 8-byte descriptor, as vmlinux and the tiny guests carry, reads the same. */
static void test_elf32_pvh_note_8_bytes(void **state)
{
	uint8_t img[IMG_SIZE];
	struct guest_mem mem;
	struct boot_info bi;
	char why[256];

	(void)state;
	make_elf32(img, 1);
	put_u32(img + 0x404, 8);
	put_u64(img + 0x410, PVH_ENTRY);
	phdr(img, 2)->p_filesz = 24;
	unit_mem_init(&mem, RAM_MIB);
	assert_int_equal(load_into(&mem, img, IMG_SIZE, BOOT_PROTO_AUTO, &bi, why, sizeof(why)),
			 0);
	assert_int_equal(bi.entry, PVH_ENTRY);
	guest_mem_destroy(&mem);
}

static void test_elf32_protocol(void **state)
{
	uint8_t img[IMG_SIZE];

	(void)state;
	make_elf32(img, 1);
	refused(img, IMG_SIZE, BOOT_PROTO_LINUX, -EINVAL,
		"ELF: --boot-protocol linux needs a 64-bit image; this ELF32 one boots only "
		"through PVH");
	make_elf32(img, 0);
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: a 32-bit image boots only through PVH, but this one has no PVH entry note");
	refused(img, IMG_SIZE, BOOT_PROTO_PVH, -EINVAL, "no PVH entry note");
	refused(img, IMG_SIZE, BOOT_PROTO_LINUX, -EINVAL,
		"ELF: --boot-protocol linux needs a 64-bit image");
}

static void test_elf32_machine(void **state)
{
	static const struct elf_machines only64 = { .elf64 = EM_X86_64 };
	static const struct elf_machines only32 = { .elf32 = EM_386 };
	uint8_t img[IMG_SIZE];
	unsigned int bits = 0;
	char why[256];

	(void)state;
	make_elf32(img, 1);
	ehdr(img)->e_machine = EM_X86_64; /* a 64-bit machine in a 32-bit class */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: 32-bit image built for machine 62, this is 3");
	ehdr(img)->e_machine = EM_ARM;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: 32-bit image built for machine 40, this is 3");

	/* A caller that takes no ELF32 says so, whatever the machine. */
	make_elf32(img, 1);
	assert_int_equal(elf_validate(img, IMG_SIZE, &only64, &bits, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ELF: 32-bit images are not bootable on this machine"));
	assert_int_equal(elf_validate(img, IMG_SIZE, &only32, &bits, why, sizeof(why)), 0);
	assert_int_equal(bits, 32);

	make_elf32(img, 1);
	img[EI_DATA] = ELFDATA2MSB;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: not a little-endian 32- or 64-bit image");
	make_elf32(img, 1);
	img[EI_CLASS] = ELFCLASSNONE;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: not a little-endian 32- or 64-bit image");
}

static void test_elf32_malformed(void **state)
{
	uint8_t img[IMG_SIZE];

	(void)state;
	make_elf32(img, 1);
	refused(img, sizeof(Elf32_Ehdr) - 1, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: truncated header (51 bytes)");
	refused(img, 10, BOOT_PROTO_AUTO, -EINVAL, "ELF: truncated header (10 bytes)");

	make_elf32(img, 1);
	ehdr(img)->e_phoff = IMG_SIZE - 40; /* headers past the end */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: program headers (3 at 0xfd8) are missing or outside the file");
	make_elf32(img, 1);
	ehdr(img)->e_phoff = UINT32_MAX - 8; /* far past the end */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "are missing or outside the file");
	make_elf32(img, 1);
	ehdr(img)->e_phentsize = sizeof(Elf64_Phdr); /* the other class's size */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "are missing or outside the file");

	make_elf32(img, 1);
	phdr(img, 1)->p_filesz = 0x800; /* runs past the end of the file */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: segment 1 (0x800 bytes at offset 0x900) is outside the 4096-byte file "
		"(truncated?)");
	make_elf32(img, 1);
	phdr(img, 2)->p_offset = UINT32_MAX - 4; /* the note segment outside the file */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "ELF: segment 2 (0x14 bytes");

	make_elf32(img, 1);
	phdr(img, 0)->p_memsz = 0x10; /* filesz > memsz */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: segment 0 has inconsistent sizes or wraps");
	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = UINT32_MAX - 0x100; /* paddr + memsz wraps at 4 GiB */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: segment 1 has inconsistent sizes or wraps");

	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = LOAD0_ADDR + 0x1ff; /* its first byte on segment 0's last */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: segments 0 and 1 overlap in guest memory (0x200000 and 0x2001ff)");
	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = LOAD0_ADDR - 0x800; /* segment 0 inside segment 1 */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "ELF: segments 0 and 1 overlap");

	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = RAM_MIB * MiB - 0x100; /* past the end of RAM */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -ENOMEM,
		"ELF: segment 1 [0x3ffff00, +0x1000) is outside guest RAM (try a larger --memory)");
	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = 0xd0000000; /* in the MMIO hole, below 4 GiB */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -ENOMEM, "is outside guest RAM");

	make_elf32(img, 1);
	put_u32(img + 0x404, 0x10000); /* note descriptor larger than its segment */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "ELF: malformed note in segment 2");
}

/* Segments that only touch are fine: the overlap check is on half-open ranges. */
static void test_elf32_adjacent(void **state)
{
	uint8_t img[IMG_SIZE];
	struct guest_mem mem;
	struct boot_info bi;
	char why[256];

	(void)state;
	make_elf32(img, 1);
	phdr(img, 1)->p_paddr = LOAD0_ADDR + 0x200;
	unit_mem_init(&mem, RAM_MIB);
	assert_int_equal(load_into(&mem, img, IMG_SIZE, BOOT_PROTO_AUTO, &bi, why, sizeof(why)),
			 0);
	assert_int_equal(bi.kernel_end, LOAD0_ADDR + 0x1200);
	guest_mem_destroy(&mem);
}

static void test_elf32_every_truncation(void **state)
{
	uint8_t img[IMG_SIZE];
	size_t len;

	(void)state;
	make_elf32(img, 1);
	/* Any prefix shorter than the last segment's end must fail cleanly, never read past it. */
	for (len = 0; len < 0x980; len += (len < 0x100 ? 1 : 37)) {
		uint8_t *copy = malloc(len ? len : 1);
		struct guest_mem mem;
		struct boot_info bi;
		char why[256];

		memcpy(copy, img, len);
		unit_mem_init(&mem, RAM_MIB);
		assert_int_not_equal(load_into(&mem, copy, len, BOOT_PROTO_AUTO, &bi, why,
					       sizeof(why)),
				     0);
		guest_mem_destroy(&mem);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf32_pvh_loads),
		cmocka_unit_test(test_elf32_pvh_note_8_bytes),
		cmocka_unit_test(test_elf32_protocol),
		cmocka_unit_test(test_elf32_machine),
		cmocka_unit_test(test_elf32_malformed),
		cmocka_unit_test(test_elf32_adjacent),
		cmocka_unit_test(test_elf32_every_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
