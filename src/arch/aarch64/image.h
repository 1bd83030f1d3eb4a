/* The arm64 Linux Image header (Documentation/arch/arm64/booting.rst). */
#ifndef EMBER_ARCH_AARCH64_IMAGE_H
#define EMBER_ARCH_AARCH64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM64_IMAGE_MAGIC     0x644d5241U /* "ARM\x64" at offset 56, little-endian */
#define ARM64_IMAGE_HDR_SIZE  64
#define ARM64_IMAGE_ALIGN     0x200000ULL /* the image goes at a 2 MiB boundary + text_offset */
#define ARM64_LEGACY_TEXT_OFF 0x80000ULL  /* what image_size == 0 (pre-3.17 kernels) implies */
/* Such a header does not say how big the bss is: this much room is kept after the file. */
#define ARM64_LEGACY_BSS_ROOM 0x1000000ULL

struct arm64_image {
	uint64_t text_offset; /* from a 2 MiB-aligned base */
	uint64_t image_size;  /* bytes the kernel uses from its start, bss included */
	uint64_t flags;
	bool legacy; /* a pre-3.17 header (image_size 0): text_offset and size were guessed */
};

/*
 * Read and check the header of (img), (size) bytes. 0, or -ENOEXEC if it is not an arm64
 * Image, -EINVAL if its fields are inconsistent (text_offset not 4 KiB aligned or over
 * 2 MiB, image_size smaller than the file, a big-endian kernel...), -E2BIG for an
 * image_size over 1 GiB. The reason goes to (why, why_len).
 */
int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image *out, char *why,
		      size_t why_len);

#endif
