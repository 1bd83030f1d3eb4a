/*
 * Loading a RISC-V Image: at a 2 MiB boundary plus its text_offset, low in RAM, with the
 * device tree in the last 2 MiB and the initrd allowed up to it.
 */
#include <errno.h>
#include <string.h>

#include "image.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"

int arch_kernel_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     enum boot_protocol proto, struct boot_info *bi)
{
	const struct mem_region *ram = &mem->regions[0];
	struct riscv_image hdr;
	uint64_t load, fdt;
	int ret;

	if (proto == BOOT_PROTO_PVH) {
		log_err("--boot-protocol pvh: PVH is an x86 boot protocol");
		return -EINVAL;
	}
	ret = riscv_image_parse(img, size, &hdr);
	if (ret)
		return ret;
	load = ALIGN_UP(ram->gpa, RISCV_IMAGE_ALIGN) + hdr.text_offset;
	fdt = ALIGN_DOWN(ram->gpa + ram->size - RISCV_FDT_MAX_SIZE, RISCV_IMAGE_ALIGN);
	if (hdr.image_size > fdt || load > fdt - hdr.image_size) {
		log_err("--kernel: the image needs %llu bytes: too big for %llu MiB of RAM",
			(unsigned long long)hdr.image_size, (unsigned long long)(ram->size / MiB));
		return -E2BIG;
	}
	ret = guest_mem_write(mem, load, img, size);
	if (ret)
		return ret;
	memset(bi, 0, sizeof(*bi));
	bi->proto = BOOT_PROTO_LINUX;
	bi->entry = load;
	bi->kernel_end = load + hdr.image_size;
	bi->initrd_max = fdt;
	bi->arch.fdt_addr = fdt;
	return 0;
}
