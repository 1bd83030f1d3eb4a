/*
 * The arm64 Image header: 64 little-endian bytes at the start of the kernel
 * (Documentation/arch/arm64/booting.rst). The two code words are the kernel's own branch
 * (or an EFI "MZ" stub); only the sizes, the flags and the magic matter here.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image.h"
#include "../../util/util.h"

#define HDR_TEXT_OFFSET 8
#define HDR_IMAGE_SIZE	16
#define HDR_FLAGS	24
#define HDR_MAGIC	56

#define FLAG_BIG_ENDIAN 0x1ULL /* flags bit 0: the kernel runs big-endian */


#define PAGE_4K 0x1000ULL

int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image *out, char *why,
		      size_t why_len)
{
	uint64_t text_offset, image_size, flags;
	int ret;

	if (size < ARM64_IMAGE_HDR_SIZE) {
		snprintf(why, why_len,
			 "kernel: %zu bytes, too short for an arm64 Image header (%d)", size,
			 ARM64_IMAGE_HDR_SIZE);
		return -ENOEXEC;
	}
	if (get_le32(img + HDR_MAGIC) != ARM64_IMAGE_MAGIC) {
		snprintf(why, why_len,
			 "kernel: not an arm64 Image (magic 0x%08x at offset %d, want ARM\\x64)",
			 get_le32(img + HDR_MAGIC), HDR_MAGIC);
		return -ENOEXEC;
	}
	text_offset = get_le64(img + HDR_TEXT_OFFSET);
	image_size = get_le64(img + HDR_IMAGE_SIZE);
	flags = get_le64(img + HDR_FLAGS);

	if (flags & FLAG_BIG_ENDIAN) {
		snprintf(why, why_len, "kernel: flags 0x%" PRIx64 " ask for a big-endian kernel",
			 flags);
		return -EINVAL;
	}
	if (!image_size) {
		/* Before 3.17 the header left these zero and the kernel assumed 0x80000; bss unknown. */
		text_offset = ARM64_LEGACY_TEXT_OFF;
		image_size = size + ARM64_LEGACY_BSS_ROOM;
	}
	if (text_offset % PAGE_4K || text_offset >= ARM64_IMAGE_ALIGN) {
		snprintf(why, why_len,
			 "kernel: text_offset 0x%" PRIx64 " is not a 4 KiB multiple below 2 MiB",
			 text_offset);
		return -EINVAL;
	}
	ret = image_size_check(image_size, size, why, why_len);
	if (ret)
		return ret;
	out->text_offset = text_offset;
	out->image_size = image_size;
	out->flags = flags;
	out->legacy = !get_le64(img + HDR_IMAGE_SIZE);
	return 0;
}
