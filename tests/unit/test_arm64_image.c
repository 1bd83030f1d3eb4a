/* The arm64 Image header checks: good, legacy and each kind of broken header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "util/util.h"
#include "arch/aarch64/image.h"

#define FILE_SIZE 0x10000 /* a stand-in kernel: the header and some text */

struct image_file {
	uint8_t bytes[FILE_SIZE];
};

/* A header as a v3.17+ kernel writes it: an EFI stub's "MZ", text_offset 0. */
static void make_image(struct image_file *img, uint64_t text_offset, uint64_t image_size,
		       uint64_t flags)
{
	memset(img, 0, sizeof(*img));
	put_le32(img->bytes + 0, 0xfa405a4d); /* "MZ" and a harmless instruction */
	put_le32(img->bytes + 4, 0x14000000); /* b to the kernel's entry */
	put_le64(img->bytes + 8, text_offset);
	put_le64(img->bytes + 16, image_size);
	put_le64(img->bytes + 24, flags);
	put_le32(img->bytes + 56, ARM64_IMAGE_MAGIC);
	put_le32(img->bytes + 60, 0x40); /* res5: the PE header's offset */
}

/* For the cases where the return code is the point; refused() checks the reason too. */
static int parse(const uint8_t *bytes, size_t size, struct arm64_image *out)
{
	char why[256];

	return arm64_image_parse(bytes, size, out, why, sizeof(why));
}

/* Expect the first (size) bytes of (img) refused with (want), for a reason naming (needle). */
static void refused(const struct image_file *img, size_t size, int want, const char *needle)
{
	struct arm64_image out;
	char why[256] = "";

	assert_int_equal(arm64_image_parse(img->bytes, size, &out, why, sizeof(why)), want);
	if (!strstr(why, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", why, needle);
}

static void test_good_header(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, 0x2000000, 0xa); /* 4 KiB pages, placed anywhere */
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), 0);
	assert_int_equal(out.text_offset, 0);
	assert_int_equal(out.image_size, 0x2000000);
	assert_int_equal(out.flags, 0xa);

	/* image_size may equal the file's size exactly, and text_offset may be any 4 KiB step. */
	make_image(&img, 0x1ff000, FILE_SIZE, 0);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), 0);
	assert_int_equal(out.text_offset, 0x1ff000);
	assert_int_equal(out.image_size, FILE_SIZE);
}

static void test_the_magic_is_little_endian_ascii(void **state)
{
	(void)state;
	assert_memory_equal(&(uint32_t){htole32(ARM64_IMAGE_MAGIC)}, "ARM\x64", 4);
}

static void test_legacy_header(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, 0, 0); /* pre-3.17: text_offset and image_size not filled in */
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), 0);
	assert_int_equal(out.text_offset, ARM64_LEGACY_TEXT_OFF);
	assert_int_equal(out.text_offset, 0x80000);
	assert_int_equal(out.image_size, FILE_SIZE + ARM64_LEGACY_BSS_ROOM); /* room for its bss */
}

static void test_not_an_image(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, 0x2000000, 0);
	refused(&img, ARM64_IMAGE_HDR_SIZE - 1, -ENOEXEC,
		"kernel: 63 bytes, too short for an arm64 Image header (64)");
	assert_int_equal(parse(img.bytes, 0, &out), -ENOEXEC);
	/* The header alone is enough to read. */
	assert_int_equal(parse(img.bytes, ARM64_IMAGE_HDR_SIZE, &out), 0);

	put_le32(img.bytes + 56, 0x464c457f); /* an ELF's "\x7fELF" where the magic goes */
	refused(&img, sizeof(img.bytes), -ENOEXEC, "kernel: not an arm64 Image (magic 0x464c457f");
	put_le32(img.bytes + 56, 0x41524d64); /* the magic byte-swapped */
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -ENOEXEC);
}

static void test_big_endian_kernel(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, 0x2000000, 0x1);
	refused(&img, sizeof(img.bytes), -EINVAL, "kernel: flags 0x1 ask for a big-endian kernel");
	make_image(&img, 0, 0x2000000, 0xb);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -EINVAL);
}

static void test_bad_text_offset(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0x80010, 0x2000000, 0); /* not 4 KiB aligned */
	refused(&img, sizeof(img.bytes), -EINVAL,
		"kernel: text_offset 0x80010 is not a 4 KiB multiple below 2 MiB");
	make_image(&img, 0x800, 0x2000000, 0);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -EINVAL);
	make_image(&img, ARM64_IMAGE_ALIGN, 0x2000000, 0); /* 2 MiB: past the boundary */
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -EINVAL);
	make_image(&img, 0x8000000000000000ULL, 0x2000000, 0);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -EINVAL);
}

static void test_image_size_smaller_than_file(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, FILE_SIZE - 1, 0);
	refused(&img, sizeof(img.bytes), -EINVAL, "is smaller than the file");
	make_image(&img, 0, ARM64_IMAGE_HDR_SIZE, 0);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -EINVAL);
}

static void test_huge_image_size(void **state)
{
	struct image_file img;
	struct arm64_image out;

	(void)state;
	make_image(&img, 0, (1ULL << 30) + 1, 0);
	refused(&img, sizeof(img.bytes), -E2BIG, "is over 1 GiB");
	make_image(&img, 0, UINT64_MAX, 0);
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), -E2BIG);
	make_image(&img, 0, 1ULL << 30, 0); /* 1 GiB itself is allowed */
	assert_int_equal(parse(img.bytes, sizeof(img.bytes), &out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_header),
	    cmocka_unit_test(test_the_magic_is_little_endian_ascii),
	    cmocka_unit_test(test_legacy_header),
	    cmocka_unit_test(test_not_an_image),
	    cmocka_unit_test(test_big_endian_kernel),
	    cmocka_unit_test(test_bad_text_offset),
	    cmocka_unit_test(test_image_size_smaller_than_file),
	    cmocka_unit_test(test_huge_image_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
