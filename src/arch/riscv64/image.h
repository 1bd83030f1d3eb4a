/* The RISC-V Linux Image header (Documentation/arch/riscv/boot-image-header.rst). */
#ifndef EMBER_ARCH_RISCV64_IMAGE_H
#define EMBER_ARCH_RISCV64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define RISCV_IMAGE_MAGIC2   0x05435352U /* "RSC\x05" at offset 56, little-endian */
#define RISCV_IMAGE_HDR_SIZE 64
#define RISCV_IMAGE_ALIGN    0x200000ULL /* RV64: the kernel wants a 2 MiB-aligned load address */

struct riscv_image {
	uint64_t text_offset; /* from a 2 MiB-aligned base */
	uint64_t image_size;  /* bytes the kernel uses from its start, bss included */
	uint64_t flags;
	uint32_t version; /* header version, major << 16 | minor */
};

/*
 * Read and check the header of (img), (size) bytes. 0, or -ENOEXEC if it is not a RISC-V
 * Image (no "RSC\x05" magic), -EINVAL for inconsistent fields (text_offset neither 0, as
 * M-mode kernels have, nor 2 MiB, as every S-mode RV64 kernel has; image_size smaller than
 * the file or zero; a big-endian kernel; header version below 0.2), -E2BIG for an
 * image_size over 1 GiB. The reason goes to (why, why_len).
 */
int riscv_image_parse(const uint8_t *img, size_t size, struct riscv_image *out, char *why,
		      size_t why_len);

#endif
