/*
 * x86_64 kernel formats: bzImage (entered at its 64-bit entry point, skipping real mode)
 * and ELF (vmlinux via the Linux 64-bit protocol, or PVH when the image has the note).
 * An ELF32 image (EM_386) has no 64-bit entry to speak of, so it boots through PVH only.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bootparams.h"
#include "../arch.h"
#include "../../util/util.h"
#include "../../vmm/elf.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XLF_KERNEL_64		 0x1
#define BZ_MIN_VERSION		 0x020c /* 2.12: the first with xloadflags */
#define BZ_LOAD_ADDR		 X86_HIGH_MEM_START
#define BZ_ENTRY64_OFFSET	 0x200

static uint32_t get_le(const uint8_t *p, unsigned int bytes)
{
	uint32_t v = 0;

	while (bytes--)
		v = (v << 8) | p[bytes];
	return v;
}

bool x86_is_bzimage(const uint8_t *img, size_t size)
{
	return size >= BP_HDR_MAGIC + 4 && get_le(img + BP_HDR_MAGIC, 4) == BP_HDR_MAGIC_VALUE;
}

int x86_bzimage_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     struct boot_info *bi, char *why, size_t why_len)
{
	uint32_t version, setup_sects, syssize, init_size, hdr_end;
	uint64_t pm_off, pm_size, pref, need_end;

	if (size < BP_HDR_MIN_FILE) {
		snprintf(why, why_len, "bzImage: truncated setup header (%zu bytes)", size);
		return -EINVAL;
	}
	if (get_le(img + BP_HDR_BOOT_FLAG, 2) != 0xaa55) {
		snprintf(why, why_len, "bzImage: bad boot flag");
		return -EINVAL;
	}
	version = get_le(img + BP_HDR_VERSION, 2);
	if (version < BZ_MIN_VERSION) {
		snprintf(why, why_len, "bzImage: boot protocol %u.%02u is too old (need 2.12)",
			 version >> 8, version & 0xff);
		return -EINVAL;
	}
	if (!(get_le(img + BP_HDR_XLOADFLAGS, 2) & XLF_KERNEL_64)) {
		snprintf(why, why_len, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");
		return -EINVAL;
	}
	setup_sects = img[BP_HDR_SETUP_SECTS] ? img[BP_HDR_SETUP_SECTS] : 4;
	pm_off = (uint64_t)(setup_sects + 1) * 512;
	syssize = get_le(img + BP_HDR_SYSSIZE, 4);
	if (pm_off >= size || (uint64_t)syssize * 16 > size - pm_off || !syssize) {
		snprintf(why, why_len,
			 "bzImage: kernel of %llu bytes at offset %llu does not fit the %zu-byte "
			 "file (truncated?)",
			 (unsigned long long)syssize * 16, (unsigned long long)pm_off, size);
		return -EINVAL;
	}
	pm_size = size - pm_off;
	hdr_end = BP_HDR_JUMP_END + img[BP_HDR_JUMP + 1];
	if (hdr_end > pm_off || hdr_end > BP_HDR_END_MAX) {
		snprintf(why, why_len, "bzImage: setup header length %u is inconsistent",
			 hdr_end - BP_HDR_START);
		return -EINVAL;
	}
	init_size = get_le(img + BP_HDR_INIT_SIZE, 4);
	pref = get_le64(img + BP_HDR_PREF_ADDRESS);
	/* The decompressor moves the kernel to pref_address and needs init_size there. */
	if (__builtin_add_overflow(pref, (uint64_t)init_size, &need_end) ||
	    !gpa_to_hva(mem, BZ_LOAD_ADDR, pm_size) || !gpa_to_hva(mem, pref, init_size)) {
		snprintf(why, why_len, "bzImage: needs RAM up to 0x%llx (try a larger --memory)",
			 (unsigned long long)MAX(need_end, BZ_LOAD_ADDR + pm_size));
		return -ENOMEM;
	}
	memcpy(gpa_to_hva(mem, BZ_LOAD_ADDR, pm_size), img + pm_off, pm_size);

	memcpy(bi->arch.setup_header, img + BP_HDR_START, hdr_end - BP_HDR_START);
	bi->arch.setup_header_len = hdr_end - BP_HDR_START;
	bi->entry = BZ_LOAD_ADDR + BZ_ENTRY64_OFFSET;
	bi->kernel_end = MAX(need_end, BZ_LOAD_ADDR + pm_size);
	bi->initrd_max = (uint64_t)get_le(img + BP_HDR_INITRD_ADDR_MAX, 4) + 1;
	return 0;
}

/* Read the PVH entry note into bi->arch.pvh_entry: 0, -ENOENT without one, or -EINVAL. */
static int x86_pvh_note(const uint8_t *img, size_t size, struct boot_info *bi, char *why,
			size_t why_len)
{
	const uint8_t *desc;
	uint32_t desc_len;
	int ret;

	ret = elf_find_note(img, size, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &desc_len, why,
			    why_len);
	if (ret)
		return ret;
	if (desc_len != 4 && desc_len != 8) {
		snprintf(why, why_len, "ELF: PVH entry note has %u bytes, expected 4 or 8",
			 desc_len);
		return -EINVAL;
	}
	bi->arch.pvh_entry = desc_len == 4 ? get_le(desc, 4) : get_le64(desc);
	if (bi->arch.pvh_entry >= X86_MMIO_HOLE_START) {
		snprintf(why, why_len, "ELF: PVH entry 0x%llx is not in low RAM",
			 (unsigned long long)bi->arch.pvh_entry);
		return -EINVAL;
	}
	return 0;
}

/* Settle (*proto) for an ELF image of (bits) with or without the PVH note, or refuse. */
static int x86_elf_protocol(unsigned int bits, bool has_pvh, enum boot_protocol *proto,
			    char *why, size_t why_len)
{
	if (bits == 32 && *proto == BOOT_PROTO_LINUX) {
		snprintf(why, why_len,
			 "ELF: --boot-protocol linux needs a 64-bit image; this ELF32 one boots "
			 "only through PVH");
		return -EINVAL;
	}
	if (bits == 32 && !has_pvh) {
		snprintf(why, why_len,
			 "ELF: a 32-bit image boots only through PVH, but this one has no PVH "
			 "entry note");
		return -EINVAL;
	}
	if (*proto == BOOT_PROTO_AUTO)
		*proto = has_pvh ? BOOT_PROTO_PVH : BOOT_PROTO_LINUX;
	if (*proto == BOOT_PROTO_PVH && !has_pvh) {
		snprintf(why, why_len,
			 "ELF: --boot-protocol pvh, but the image has no PVH entry note");
		return -EINVAL;
	}
	return 0;
}

static int x86_elf_load(struct guest_mem *mem, const uint8_t *img, size_t size,
			enum boot_protocol proto, struct boot_info *bi, char *why, size_t why_len)
{
	static const struct elf_machines machines = { .elf64 = EM_X86_64, .elf32 = EM_386 };
	unsigned int bits;
	int ret;

	ret = elf_validate(img, size, &machines, &bits, why, why_len);
	if (ret)
		return ret;
	ret = x86_pvh_note(img, size, bi, why, why_len);
	if (ret && ret != -ENOENT)
		return ret;
	ret = x86_elf_protocol(bits, ret == 0, &proto, why, why_len);
	if (ret)
		return ret;
	ret = elf_load(img, size, mem, &bi->entry, &bi->kernel_end, why, why_len);
	if (ret)
		return ret;
	if (proto == BOOT_PROTO_PVH)
		bi->entry = bi->arch.pvh_entry;
	else if (!gpa_to_hva(mem, bi->entry, 1)) {
		snprintf(why, why_len, "ELF: entry point 0x%llx is outside guest RAM",
			 (unsigned long long)bi->entry);
		return -EINVAL;
	}
	bi->proto = proto;
	bi->initrd_max = X86_MMIO_HOLE_START;
	return 0;
}

int arch_kernel_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     enum boot_protocol proto, struct boot_info *bi, struct logger *log, char *why,
		     size_t why_len)
{
	(void)log; /* the x86 formats have nothing worth a note */
	memset(bi, 0, sizeof(*bi));
	if (elf_is_elf(img, size))
		return x86_elf_load(mem, img, size, proto, bi, why, why_len);
	if (x86_is_bzimage(img, size)) {
		if (proto == BOOT_PROTO_PVH) {
			snprintf(why, why_len,
				 "bzImage: has no PVH entry; boot the ELF vmlinux for PVH");
			return -EINVAL;
		}
		bi->proto = BOOT_PROTO_LINUX;
		return x86_bzimage_load(mem, img, size, bi, why, why_len);
	}
	snprintf(why, why_len,
		 "not a kernel: the %zu-byte file is neither an ELF image nor a bzImage", size);
	return -ENOEXEC;
}
