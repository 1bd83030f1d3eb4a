/* The ELF, PVH and bzImage parsers against good and malformed images. */
#include <elf.h>
#include <errno.h>

#include "arch/arch.h"
#include "arch/x86_64/bootparams.h"
#include "vmm/elf.h"
#include "unit.h"

#define LOAD_ADDR 0x200000
#define IMG_SIZE  0x1000

/* A small ELF64 executable: one PT_LOAD of 0x100 bytes (0x200 in memory), optional PVH note. */
static size_t make_elf(uint8_t *img, int with_pvh)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = LOAD_ADDR + 0x10,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = with_pvh ? 2 : 1,
	};
	Elf64_Phdr load = {
		.p_type = PT_LOAD,
		.p_offset = 0x800,
		.p_vaddr = LOAD_ADDR,
		.p_paddr = LOAD_ADDR,
		.p_filesz = 0x100,
		.p_memsz = 0x200,
	};
	Elf64_Phdr note = {
		.p_type = PT_NOTE,
		.p_offset = 0x400,
		.p_filesz = 20,
	};
	unsigned int i;

	memset(img, 0, IMG_SIZE);
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + eh.e_phoff, &load, sizeof(load));
	if (with_pvh) {
		memcpy(img + eh.e_phoff + sizeof(load), &note, sizeof(note));
		put_u32(img + 0x400, 4);      /* namesz */
		put_u32(img + 0x404, 4);      /* descsz */
		put_u32(img + 0x408, 18);     /* XEN_ELFNOTE_PHYS32_ENTRY */
		memcpy(img + 0x40c, "Xen", 4);
		put_u32(img + 0x410, LOAD_ADDR + 0x40);
	}
	for (i = 0; i < 0x100; i++)
		img[0x800 + i] = i;
	return IMG_SIZE;
}

static Elf64_Phdr *phdr0(uint8_t *img)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));
}

/* Load into 64 MiB of RAM; the loader's reason for a refusal lands in (why). */
static int load_why(const uint8_t *img, size_t size, enum boot_protocol proto,
		    struct boot_info *bi, char *why, size_t why_len)
{
	struct guest_mem mem;
	struct logger log;
	int ret;

	unit_mem_init(&mem, 64);
	logger_init(&log);
	log_set_level(&log, LOG_ERROR);
	why[0] = '\0';
	ret = arch_kernel_load(&mem, img, size, proto, bi, &log, why, why_len);
	logger_destroy(&log);
	/* Every x86 refusal has words of its own: none may leave the caller a bare errno. */
	if (ret && !why[0])
		fail_msg("refused with %d but no reason", ret);
	if (!ret && bi->proto != BOOT_PROTO_PVH && bi->entry == LOAD_ADDR + 0x10) {
		const uint8_t *p = gpa_to_hva(&mem, LOAD_ADDR, 0x200);

		/* File bytes copied, bss zeroed. */
		assert_int_equal(p[0x42], 0x42);
		assert_int_equal(p[0x1ff], 0);
	}
	guest_mem_destroy(&mem);
	return ret;
}

static int load(const uint8_t *img, size_t size, enum boot_protocol proto, struct boot_info *bi)
{
	char why[256];

	return load_why(img, size, proto, bi, why, sizeof(why));
}

/* Expect (img) refused with (want), and a reason that mentions (needle). */
static void refused(const uint8_t *img, size_t size, enum boot_protocol proto, int want,
		    const char *needle)
{
	struct boot_info bi;
	char why[256];

	assert_int_equal(load_why(img, size, proto, &bi, why, sizeof(why)), want);
	if (!strstr(why, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, needle);
}

static void test_elf_linux(void **state)
{
	uint8_t img[IMG_SIZE];
	struct boot_info bi;

	(void)state;
	make_elf(img, 0);
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), 0);
	assert_int_equal(bi.proto, BOOT_PROTO_LINUX);
	assert_int_equal(bi.entry, LOAD_ADDR + 0x10);
	assert_int_equal(bi.kernel_end, LOAD_ADDR + 0x200);
	/* No PVH note: asking for PVH is an error, not a guess. */
	refused(img, IMG_SIZE, BOOT_PROTO_PVH, -EINVAL,
		"ELF: --boot-protocol pvh, but the image has no PVH entry note");
}

static void test_elf_pvh(void **state)
{
	uint8_t img[IMG_SIZE];
	struct boot_info bi;

	(void)state;
	make_elf(img, 1);
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), 0);
	assert_int_equal(bi.proto, BOOT_PROTO_PVH);
	assert_int_equal(bi.entry, LOAD_ADDR + 0x40);
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_LINUX, &bi), 0);
	assert_int_equal(bi.proto, BOOT_PROTO_LINUX);
	assert_int_equal(bi.entry, LOAD_ADDR + 0x10);
}

static void test_elf_malformed(void **state)
{
	uint8_t img[IMG_SIZE];
	struct boot_info bi;

	(void)state;
	make_elf(img, 0);
	img[EI_DATA] = ELFDATA2MSB;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: not a little-endian 32- or 64-bit image");

	make_elf(img, 0);
	((Elf64_Ehdr *)img)->e_machine = EM_AARCH64;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: 64-bit image built for machine 183, this is 62");

	make_elf(img, 0);
	((Elf64_Ehdr *)img)->e_machine = EM_386; /* the 32-bit machine in a 64-bit class */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: 64-bit image built for machine 3, this is 62");

	make_elf(img, 0);
	((Elf64_Ehdr *)img)->e_phoff = IMG_SIZE - 8; /* headers past the end */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	((Elf64_Ehdr *)img)->e_phoff = UINT64_MAX - 8; /* offset + size wraps */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	((Elf64_Ehdr *)img)->e_phnum = 0xffff;
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	phdr0(img)->p_offset = UINT64_MAX - 0x10; /* segment offset wraps */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	phdr0(img)->p_filesz = 0x1000; /* runs past the end of the file */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "outside the 4096-byte file (truncated?)");

	make_elf(img, 0);
	phdr0(img)->p_memsz = 0x10; /* filesz > memsz */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	phdr0(img)->p_paddr = UINT64_MAX - 0x100; /* paddr + memsz wraps */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 0);
	phdr0(img)->p_paddr = 0xc0000000 - 0x100; /* into the MMIO hole */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -ENOMEM);

	make_elf(img, 0);
	phdr0(img)->p_paddr = 64 * MiB - 0x100; /* runs past the end of 64 MiB of RAM */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -ENOMEM,
		"is outside guest RAM (try a larger --memory)");

	make_elf(img, 1);
	phdr0(img)[1].p_type = PT_LOAD; /* the note's segment, now loaded over segment 0 */
	phdr0(img)[1].p_paddr = LOAD_ADDR + 0x100;
	phdr0(img)[1].p_memsz = 0x20;
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: segments 0 and 1 overlap in guest memory (0x200000 and 0x200100)");
	phdr0(img)[1].p_paddr = LOAD_ADDR + 0x200; /* right after it: fine */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), 0);
	assert_int_equal(bi.kernel_end, LOAD_ADDR + 0x220);

	make_elf(img, 1);
	put_u32(img + 0x404, 0x10000); /* note descriptor larger than its segment */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL, "ELF: malformed note in segment 1");

	make_elf(img, 1);
	put_u32(img + 0x400, UINT32_MAX); /* namesz near 4 GiB */
	assert_int_equal(load(img, IMG_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_elf(img, 1);
	put_u32(img + 0x410, 0xd0000000); /* PVH entry in the hole */
	refused(img, IMG_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: PVH entry 0xd0000000 is not in low RAM");
}

static void test_elf_every_truncation(void **state)
{
	uint8_t img[IMG_SIZE];
	struct boot_info bi;
	size_t len;

	(void)state;
	make_elf(img, 1);
	/* Any prefix shorter than the segment's end must fail cleanly, never read past it. */
	for (len = 0; len < 0x900; len += (len < 0x100 ? 1 : 61)) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, img, len);
		assert_int_not_equal(load(copy, len, BOOT_PROTO_AUTO, &bi), 0);
		free(copy);
	}
}

static void test_not_a_kernel(void **state)
{
	uint8_t junk[600];
	struct boot_info bi;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	refused(junk, sizeof(junk), BOOT_PROTO_AUTO, -ENOEXEC,
		"not a kernel: the 600-byte file is neither an ELF image nor a bzImage");
	assert_int_equal(load(junk, 0, BOOT_PROTO_AUTO, &bi), -ENOEXEC);
	refused((const uint8_t *)"\177ELF", 4, BOOT_PROTO_AUTO, -EINVAL,
		"ELF: truncated header (4 bytes)");
}

#define BZ_SIZE (64 * 1024)

/* A bzImage-shaped file: 4 setup sectors, then a protected-mode part to the end. */
static void make_bzimage(uint8_t *img)
{
	memset(img, 0, BZ_SIZE);
	img[BP_HDR_SETUP_SECTS] = 4;
	put_u32(img + BP_HDR_SYSSIZE, (BZ_SIZE - 5 * 512) / 16);
	put_u16(img + BP_HDR_BOOT_FLAG, 0xaa55);
	img[BP_HDR_JUMP] = 0xeb;
	img[BP_HDR_JUMP + 1] = 0x66; /* header ends at 0x268 */
	put_u32(img + BP_HDR_MAGIC, BP_HDR_MAGIC_VALUE);
	put_u16(img + BP_HDR_VERSION, 0x020f);
	put_u32(img + BP_HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put_u16(img + BP_HDR_XLOADFLAGS, 0x1);
	put_u64(img + BP_HDR_PREF_ADDRESS, 0x1000000);
	put_u32(img + BP_HDR_INIT_SIZE, 0x800000);
	img[5 * 512] = 0xaa;
}

static void test_bzimage_good(void **state)
{
	uint8_t *img = malloc(BZ_SIZE);
	struct boot_info bi;

	(void)state;
	make_bzimage(img);
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), 0);
	assert_int_equal(bi.proto, BOOT_PROTO_LINUX);
	assert_int_equal(bi.entry, 0x100200);
	assert_int_equal(bi.kernel_end, 0x1800000);
	assert_int_equal(bi.initrd_max, 0x80000000);
	assert_int_equal(bi.arch.setup_header_len, 0x268 - 0x1f1);
	refused(img, BZ_SIZE, BOOT_PROTO_PVH, -EINVAL, "bzImage: has no PVH entry");
	free(img);
}

static void test_bzimage_malformed(void **state)
{
	uint8_t *img = malloc(BZ_SIZE);
	struct boot_info bi;
	size_t len;

	(void)state;
	make_bzimage(img);
	put_u16(img + BP_HDR_VERSION, 0x0206);
	refused(img, BZ_SIZE, BOOT_PROTO_AUTO, -EINVAL,
		"bzImage: boot protocol 2.06 is too old (need 2.12)");

	make_bzimage(img);
	put_u16(img + BP_HDR_XLOADFLAGS, 0);
	refused(img, BZ_SIZE, BOOT_PROTO_AUTO, -EINVAL, "bzImage: no 64-bit entry point");

	make_bzimage(img);
	put_u16(img + BP_HDR_BOOT_FLAG, 0);
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_bzimage(img);
	img[BP_HDR_SETUP_SECTS] = 0xff; /* setup larger than the file */
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_bzimage(img);
	put_u32(img + BP_HDR_SYSSIZE, 0xffffffff); /* syssize * 16 overflows 32 bits */
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_bzimage(img);
	img[BP_HDR_JUMP + 1] = 0xff; /* header runs past the zero page's header area */
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), -EINVAL);

	make_bzimage(img);
	put_u64(img + BP_HDR_PREF_ADDRESS, UINT64_MAX - 0x1000); /* pref + init_size wraps */
	assert_int_equal(load(img, BZ_SIZE, BOOT_PROTO_AUTO, &bi), -ENOMEM);

	make_bzimage(img);
	put_u32(img + BP_HDR_INIT_SIZE, 0xf0000000); /* more than 64 MiB of RAM */
	refused(img, BZ_SIZE, BOOT_PROTO_AUTO, -ENOMEM, "bzImage: needs RAM up to 0xf1000000");

	/* Truncated: every cut shorter than the declared kernel fails. */
	make_bzimage(img);
	for (len = 0x210; len < BZ_SIZE; len += 997)
		assert_int_not_equal(load(img, len, BOOT_PROTO_AUTO, &bi), 0);
	refused(img, 0x210, BOOT_PROTO_AUTO, -EINVAL,
		"bzImage: truncated setup header (528 bytes)");
	refused(img, BZ_SIZE / 2, BOOT_PROTO_AUTO, -EINVAL,
		"does not fit the 32768-byte file (truncated?)");
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_linux),
		cmocka_unit_test(test_elf_pvh),
		cmocka_unit_test(test_elf_malformed),
		cmocka_unit_test(test_elf_every_truncation),
		cmocka_unit_test(test_not_a_kernel),
		cmocka_unit_test(test_bzimage_good),
		cmocka_unit_test(test_bzimage_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
