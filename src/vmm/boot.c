/* The arch-neutral half of booting: files in, command line and initrd placed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "vm.h"
#include "../util/log.h"
#include "../util/util.h"

#define KERNEL_MAX_SIZE (1ULL * GiB)
#define INITRD_MAX_SIZE (2ULL * GiB)

static const char *file_error(int err)
{
	switch (err) {
	case -EFBIG:
		return "file too large";
	case -EISDIR:
		return "is a directory";
	case -EINVAL:
		return "not a regular file";
	default:
		return strerror(-err);
	}
}

static int boot_load_cmdline(struct vm *vm, char *why, size_t why_len)
{
	const char *args = vm->cfg->boot_args ? vm->cfg->boot_args : DEFAULT_BOOT_ARGS;
	const struct disk_config *root = vm->cfg->nr_disks ? &vm->cfg->disks[0] : NULL;
	char *cmdline = vm->boot.cmdline;
	size_t len;
	int extra;

	/* As Firecracker does, a root drive is vda and the kernel is told so. */
	if (root && root->root)
		len = snprintf(cmdline, ARCH_CMDLINE_MAX, "%s root=/dev/vda %s", args,
			       root->ro ? "ro" : "rw");
	else
		len = snprintf(cmdline, ARCH_CMDLINE_MAX, "%s", args);
	if (len >= ARCH_CMDLINE_MAX) {
		snprintf(why, why_len, "--boot-args: %zu bytes, the limit is %d", len,
			 ARCH_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	extra = arch_cmdline_devices(vm, cmdline + len, ARCH_CMDLINE_MAX - len);
	if (extra < 0) {
		snprintf(why, why_len,
			 "--boot-args: no room left for the device announcements (limit %d bytes)",
			 ARCH_CMDLINE_MAX - 1);
		return extra;
	}
	vm->boot.cmdline_size = len + extra + 1;
	return 0;
}

/*
 * The initrd goes as high as allowed: below the loader's limit and inside the RAM
 * region that holds the kernel, page-aligned, and above the kernel.
 */
static int boot_place_initrd(struct vm *vm, uint64_t size, uint64_t *addr)
{
	struct boot_info *bi = &vm->boot;
	uint64_t top = guest_mem_region_end(&vm->mem, bi->kernel_end ? bi->kernel_end - 1 : 0);

	if (bi->initrd_max && bi->initrd_max < top)
		top = bi->initrd_max;
	if (size > top || ALIGN_DOWN(top - size, 4096) < bi->kernel_end)
		return -ENOMEM;
	*addr = ALIGN_DOWN(top - size, 4096);
	return 0;
}

int boot_place_image(struct guest_mem *mem, const uint8_t *img, size_t size, uint64_t align,
		     uint64_t text_offset, uint64_t image_size, uint64_t fdt_max,
		     struct boot_info *bi, uint64_t *fdt_addr, char *why, size_t why_len)
{
	const struct mem_region *ram = &mem->regions[0];
	uint64_t load, fdt;
	int ret;

	load = ALIGN_UP(ram->gpa, align) + text_offset;
	fdt = ALIGN_DOWN(ram->gpa + ram->size - fdt_max, align);
	if (image_size > fdt || load > fdt - image_size) {
		snprintf(why, why_len,
			 "the image needs %llu bytes: too big for %llu MiB of RAM",
			 (unsigned long long)image_size, (unsigned long long)(ram->size / MiB));
		return -E2BIG;
	}
	ret = guest_mem_write(mem, load, img, size);
	if (ret)
		return ret;
	memset(bi, 0, sizeof(*bi));
	bi->proto = BOOT_PROTO_LINUX;
	bi->entry = load;
	bi->kernel_end = load + image_size;
	bi->initrd_max = fdt;
	*fdt_addr = fdt;
	return 0;
}

int boot_write_fdt(struct vm *vm, uint64_t addr, const uint8_t *blob, size_t len)
{
	int ret = guest_mem_write(&vm->mem, addr, blob, len);

	if (ret)
		log_err(vm->log, "no guest RAM for the device tree at 0x%llx",
			(unsigned long long)addr);
	else
		log_info(vm->log, "device tree: %zu bytes at 0x%llx", len,
			 (unsigned long long)addr);
	return ret;
}

static int boot_load_initrd(struct vm *vm, char *why, size_t why_len)
{
	const char *path = vm->cfg->initrd_path;
	uint8_t *data;
	size_t size;
	uint64_t addr;
	int ret;

	if (!path)
		return 0;
	ret = vm->cfg->initrd_fd >= 0 ? read_file_fd(vm->cfg->initrd_fd, INITRD_MAX_SIZE, &data, &size)
				     : read_file(path, INITRD_MAX_SIZE, &data, &size);
	if (ret) {
		snprintf(why, why_len, "initrd %s: %s", path, file_error(ret));
		return ret;
	}
	ret = boot_place_initrd(vm, size, &addr);
	if (ret) {
		snprintf(why, why_len, "initrd %s: %zu bytes do not fit in guest memory above "
			 "the kernel (try a larger --memory)", path, size);
		goto out;
	}
	ret = guest_mem_write(&vm->mem, addr, data, size);
	if (ret)
		goto out;
	vm->boot.initrd_addr = addr;
	vm->boot.initrd_size = size;
out:
	free(data);
	return ret;
}

/*
 * What a loader's refusal means, for the caller's message when the loader gave no reason of
 * its own (a guest_mem_write failure).
 */
static const char *kernel_error(int err)
{
	switch (err) {
	case -ENOEXEC:
		return "not a kernel image ember can boot";
	case -E2BIG:
	case -ENOMEM:
		return "does not fit in the guest's RAM";
	case -EINVAL:
		return "malformed kernel image";
	default:
		return strerror(-err);
	}
}

int boot_load_kernel(struct vm *vm, char *why, size_t why_len)
{
	const char *path = vm->cfg->kernel_path;
	/* The loader's own words; the path is prefixed here, where it is known. */
	char reason[256] = "";
	uint8_t *img;
	size_t size;
	int ret;

	ret = vm->cfg->kernel_fd >= 0 ? read_file_fd(vm->cfg->kernel_fd, KERNEL_MAX_SIZE, &img, &size)
				     : read_file(path, KERNEL_MAX_SIZE, &img, &size);
	if (ret) {
		snprintf(why, why_len, "kernel %s: %s", path, file_error(ret));
		return ret;
	}
	ret = arch_kernel_load(&vm->mem, img, size, vm->cfg->boot_proto, &vm->boot, vm->log,
			       reason, sizeof(reason));
	free(img);
	if (ret)
		snprintf(why, why_len, "kernel %s: %s", path,
			 *reason ? reason : kernel_error(ret));
	return ret;
}

int boot_finish(struct vm *vm, char *why, size_t why_len)
{
	int ret;

	ret = boot_load_cmdline(vm, why, why_len);
	if (ret)
		return ret;
	ret = boot_load_initrd(vm, why, why_len);
	if (ret)
		return ret;
	return arch_boot_setup(vm);
}
