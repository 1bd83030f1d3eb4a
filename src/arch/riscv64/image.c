/*
 * The RISC-V Image header: 64 little-endian bytes at the start of the kernel
 * (Documentation/arch/riscv/boot-image-header.rst). The two code words are the kernel's
 * jump to its entry (or an EFI "MZ" stub); ember reads the sizes, the flags, the version
 * and the second magic.
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
#define HDR_VERSION	32
#define HDR_MAGIC	48 /* "RISCV\0\0\0": deprecated, kept for old boot loaders */
#define HDR_MAGIC2	56

#define FLAG_BIG_ENDIAN 0x1ULL /* flags bit 0: the kernel runs big-endian */

/* "RISCV" as a little-endian u64: all a version 0.1 header carries, without magic2. */
#define RISCV_IMAGE_MAGIC_OLD 0x5643534952ULL

/* Version 0.2 added magic2 and the flags; major in the high 16 bits, minor in the low. */
#define HDR_VERSION_MIN (0U << 16 | 2U)


int riscv_image_parse(const uint8_t *img, size_t size, struct riscv_image *out, char *why,
		      size_t why_len)
{
	uint64_t text_offset, image_size, flags;
	int ret;
	uint32_t version;

	if (size < RISCV_IMAGE_HDR_SIZE) {
		snprintf(why, why_len,
			 "kernel: %zu bytes, too short for a RISC-V Image header (%d)", size,
			 RISCV_IMAGE_HDR_SIZE);
		return -ENOEXEC;
	}
	if (get_le32(img + HDR_MAGIC2) != RISCV_IMAGE_MAGIC2) {
		if (get_le64(img + HDR_MAGIC) == RISCV_IMAGE_MAGIC_OLD)
			snprintf(why, why_len,
				 "kernel: a version 0.1 RISC-V Image header (\"RISCV\" magic "
				 "only), want 0.2 or later with RSC\\x05 at offset %d",
				 HDR_MAGIC2);
		else
			snprintf(why, why_len,
				 "kernel: not a RISC-V Image (magic2 0x%08x at offset %d, want "
				 "RSC\\x05)",
				 get_le32(img + HDR_MAGIC2), HDR_MAGIC2);
		return -ENOEXEC;
	}
	text_offset = get_le64(img + HDR_TEXT_OFFSET);
	image_size = get_le64(img + HDR_IMAGE_SIZE);
	flags = get_le64(img + HDR_FLAGS);
	version = get_le32(img + HDR_VERSION);

	if (flags & FLAG_BIG_ENDIAN) {
		snprintf(why, why_len, "kernel: flags 0x%" PRIx64 " ask for a big-endian kernel",
			 flags);
		return -EINVAL;
	}
	if (version < HDR_VERSION_MIN) {
		snprintf(why, why_len, "kernel: Image header version %u.%u, want 0.2 or later",
			 version >> 16, version & 0xffff);
		return -EINVAL;
	}
	/*
	 * An S-mode RV64 kernel says 2 MiB: on real boards the SBI firmware owns the first
	 * 2 MiB of RAM. KVM's SBI lives in the host, so that offset only costs 2 MiB of guest
	 * RAM, but it is what every such kernel carries and must be accepted. The kernel maps
	 * itself with 2 MiB pages and stops early on a load address that is not 2 MiB aligned,
	 * so from a 2 MiB-aligned base only 0 (M-mode kernels) and 2 MiB can work.
	 */
	if (text_offset % RISCV_IMAGE_ALIGN || text_offset > RISCV_IMAGE_ALIGN) {
		snprintf(why, why_len, "kernel: text_offset 0x%" PRIx64 " is neither 0 nor 2 MiB",
			 text_offset);
		return -EINVAL;
	}
	/* Unlike arm64's, the RISC-V header has always filled image_size in. */
	if (!image_size) {
		snprintf(why, why_len, "kernel: image_size is 0");
		return -EINVAL;
	}
	ret = image_size_check(image_size, size, why, why_len);
	if (ret)
		return ret;
	out->text_offset = text_offset;
	out->image_size = image_size;
	out->flags = flags;
	out->version = version;
	return 0;
}
