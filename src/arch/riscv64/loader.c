/*
 * Loading a RISC-V Image: at a 2 MiB boundary plus its text_offset, low in RAM, with the
 * device tree in the last 2 MiB and the initrd allowed up to it.
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
	struct riscv_image hdr;
	int ret;

	(void)log; /* a RISC-V Image has nothing worth a note */
	if (proto == BOOT_PROTO_PVH) {
		snprintf(why, why_len, "--boot-protocol pvh: PVH is an x86 boot protocol");
		return -EINVAL;
	}
	ret = riscv_image_parse(img, size, &hdr, why, why_len);
	if (ret)
		return ret;
	return boot_place_image(mem, img, size, RISCV_IMAGE_ALIGN, hdr.text_offset, hdr.image_size,
				RISCV_FDT_MAX_SIZE, bi, &bi->arch.fdt_addr, why, why_len);
}
