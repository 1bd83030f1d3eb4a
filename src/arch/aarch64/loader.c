/*
 * Loading an arm64 Image: at a 2 MiB boundary plus its text_offset, low in RAM, with
 * the device tree in the last 2 MiB and the initrd allowed up to it.
 */
#include <errno.h>
#include <stdio.h>

#include "image.h"
#include "../arch.h"
#include "../../util/util.h"

int arch_kernel_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     enum boot_protocol proto, struct boot_info *bi, struct logger *log, char *why,
		     size_t why_len)
{
	struct arm64_image hdr;
	int ret;

	if (proto == BOOT_PROTO_PVH) {
		snprintf(why, why_len, "--boot-protocol pvh: PVH is an x86 boot protocol");
		return -EINVAL;
	}
	ret = arm64_image_parse(img, size, &hdr, why, why_len);
	if (ret)
		return ret;
	if (hdr.legacy)
		log_info(log, "kernel: legacy Image header (image_size 0): text_offset 0x%llx",
			 (unsigned long long)hdr.text_offset);
	return boot_place_image(mem, img, size, ARM64_IMAGE_ALIGN, hdr.text_offset, hdr.image_size,
				ARM_FDT_MAX_SIZE, bi, &bi->arch.fdt_addr, why, why_len);
}
