/* The RISC-V Image header checks: a good header and each kind of broken one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "util/util.h"
#include "arch/riscv64/image.h"

#define FILE_SIZE   0x10000	/* a stand-in kernel: the header and some text */
#define TEXT_OFFSET 0x200000ULL /* what every S-mode RV64 kernel writes */
#define IMAGE_SIZE  0x1800000ULL
#define VERSION_0_2 0x2U
#define FLAGS_LE    0x0ULL

struct image_file {
	uint8_t bytes[FILE_SIZE];
};

/* A header as a v5.10+ EFI-capable kernel writes it, with the fields given. */
static void make_image(struct image_file *img, uint64_t text_offset, uint64_t image_size,
		       uint64_t flags, uint32_t version)
{
	memset(img, 0, sizeof(*img));
	put_le32(img->bytes + 0, 0xa8015a4d); /* "MZ" as c.li s4,-13, then half a jump */
	put_le32(img->bytes + 4, 0x00000000);
	put_le64(img->bytes + 8, text_offset);
	put_le64(img->bytes + 16, image_size);
	put_le64(img->bytes + 24, flags);
	put_le32(img->bytes + 32, version);
	memcpy(img->bytes + 48, "RISCV\0\0\0", 8);
	memcpy(img->bytes + 56, "RSC\x05", 4);
	put_le32(img->bytes + 60, 0x40); /* res3: the PE header's offset */
}

static void make_good_image(struct image_file *img)
{
	make_image(img, TEXT_OFFSET, IMAGE_SIZE, FLAGS_LE, VERSION_0_2);
}

static int parse(const struct image_file *img, struct riscv_image *out)
{
	char why[256];

	return riscv_image_parse(img->bytes, sizeof(img->bytes), out, why, sizeof(why));
}

/* Expect the first (size) bytes of (img) refused with (want), for a reason naming (needle). */
static void refused(const struct image_file *img, size_t size, int want, const char *needle)
{
	struct riscv_image out;
	char why[256] = "";

	assert_int_equal(riscv_image_parse(img->bytes, size, &out, why, sizeof(why)), want);
	if (!strstr(why, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, needle);
}

static void test_good_header(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_good_image(&img);
	assert_int_equal(parse(&img, &out), 0);
	assert_int_equal(out.text_offset, TEXT_OFFSET);
	assert_int_equal(out.image_size, IMAGE_SIZE);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.version, VERSION_0_2);

	/* An M-mode kernel's offset 0, a later header version, image_size equal to the file. */
	make_image(&img, 0, FILE_SIZE, FLAGS_LE, 1U << 16 | 3);
	assert_int_equal(parse(&img, &out), 0);
	assert_int_equal(out.text_offset, 0);
	assert_int_equal(out.image_size, FILE_SIZE);
	assert_int_equal(out.version, 0x10003);

	/* Flag bits other than bit 0 are not ours to judge. */
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, 0x6, VERSION_0_2);
	assert_int_equal(parse(&img, &out), 0);
	assert_int_equal(out.flags, 0x6);
}

static void test_the_magic_is_little_endian_ascii(void **state)
{
	(void)state;
	assert_memory_equal(&(uint32_t){htole32(RISCV_IMAGE_MAGIC2)}, "RSC\x05", 4);
}

static void test_not_an_image(void **state)
{
	struct image_file img;
	struct riscv_image out;
	char why[256];

	(void)state;
	make_good_image(&img);
	refused(&img, RISCV_IMAGE_HDR_SIZE - 1, -ENOEXEC,
		"kernel: 63 bytes, too short for a RISC-V Image header (64)");
	refused(&img, 0, -ENOEXEC, "too short for a RISC-V Image header");
	/* The header alone is enough to read. */
	assert_int_equal(riscv_image_parse(img.bytes, RISCV_IMAGE_HDR_SIZE, &out, why, sizeof(why)),
			 0);

	put_le32(img.bytes + 56, 0x464c457f); /* an ELF's "\x7fELF" where magic2 goes */
	assert_int_equal(parse(&img, &out), -ENOEXEC);
	put_le32(img.bytes + 56, 0x52534305); /* magic2 byte-swapped */
	assert_int_equal(parse(&img, &out), -ENOEXEC);
	memcpy(img.bytes + 56, "ARM\x64", 4); /* an arm64 Image */
	assert_int_equal(parse(&img, &out), -ENOEXEC);
	memset(img.bytes + 48, 0, 8); /* nor the deprecated magic: no RISC-V Image of any version */
	refused(&img, sizeof(img.bytes), -ENOEXEC, "kernel: not a RISC-V Image (magic2 0x644d5241");

	/* A version 0.1 header: the deprecated "RISCV" magic, no magic2. */
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, FLAGS_LE, 0x1);
	memset(img.bytes + 56, 0, 4);
	refused(&img, sizeof(img.bytes), -ENOEXEC, "kernel: a version 0.1 RISC-V Image header");

	/* magic2 alone decides: the deprecated magic may be absent. */
	make_good_image(&img);
	memset(img.bytes + 48, 0, 8);
	assert_int_equal(parse(&img, &out), 0);
}

static void test_big_endian_kernel(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, 0x1, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -EINVAL);
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, 0x7, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -EINVAL);
}

static void test_old_header_version(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, FLAGS_LE, 0x1); /* 0.1 claiming magic2 */
	assert_int_equal(parse(&img, &out), -EINVAL);
	make_image(&img, TEXT_OFFSET, IMAGE_SIZE, FLAGS_LE, 0);
	refused(&img, sizeof(img.bytes), -EINVAL,
		"kernel: Image header version 0.0, want 0.2 or later");
}

static void test_bad_text_offset(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_image(&img, 0x200010, IMAGE_SIZE, FLAGS_LE, VERSION_0_2); /* not even 4 KiB */
	assert_int_equal(parse(&img, &out), -EINVAL);
	make_image(&img, 0x1000, IMAGE_SIZE, FLAGS_LE, VERSION_0_2); /* 4 KiB, not 2 MiB */
	refused(&img, sizeof(img.bytes), -EINVAL,
		"kernel: text_offset 0x1000 is neither 0 nor 2 MiB");
	make_image(&img, 0x1ff000, IMAGE_SIZE, FLAGS_LE, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -EINVAL);
	make_image(&img, 0x400000, IMAGE_SIZE, FLAGS_LE, VERSION_0_2); /* an RV32 kernel's */
	assert_int_equal(parse(&img, &out), -EINVAL);
	make_image(&img, 0x8000000000000000ULL, IMAGE_SIZE, FLAGS_LE, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -EINVAL);
}

static void test_bad_image_size(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_image(&img, TEXT_OFFSET, 0, FLAGS_LE, VERSION_0_2);
	refused(&img, sizeof(img.bytes), -EINVAL, "kernel: image_size is 0");
	make_image(&img, TEXT_OFFSET, FILE_SIZE - 1, FLAGS_LE, VERSION_0_2);
	refused(&img, sizeof(img.bytes), -EINVAL, "is smaller than the file");
	make_image(&img, TEXT_OFFSET, RISCV_IMAGE_HDR_SIZE, FLAGS_LE, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -EINVAL);
}

static void test_huge_image_size(void **state)
{
	struct image_file img;
	struct riscv_image out;

	(void)state;
	make_image(&img, TEXT_OFFSET, (1ULL << 30) + 1, FLAGS_LE, VERSION_0_2);
	refused(&img, sizeof(img.bytes), -E2BIG, "is over 1 GiB");
	make_image(&img, TEXT_OFFSET, UINT64_MAX, FLAGS_LE, VERSION_0_2);
	assert_int_equal(parse(&img, &out), -E2BIG);
	make_image(&img, TEXT_OFFSET, 1ULL << 30, FLAGS_LE, VERSION_0_2); /* 1 GiB is allowed */
	assert_int_equal(parse(&img, &out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_header),
	    cmocka_unit_test(test_the_magic_is_little_endian_ascii),
	    cmocka_unit_test(test_not_an_image),
	    cmocka_unit_test(test_big_endian_kernel),
	    cmocka_unit_test(test_old_header_version),
	    cmocka_unit_test(test_bad_text_offset),
	    cmocka_unit_test(test_bad_image_size),
	    cmocka_unit_test(test_huge_image_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
