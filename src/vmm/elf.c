#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elf.h"
#include "../util/util.h"

#define ELF_MAX_PHDRS 128

bool elf_is_elf(const uint8_t *img, size_t size)
{
	return size >= SELFMAG && !memcmp(img, ELFMAG, SELFMAG);
}

/* Whether [off, off + len) lies inside a file of (size) bytes. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(off, len, &end) && end <= size;
}

/* Headers are copied out: a hostile file need not keep them aligned. */
static Elf64_Ehdr elf_ehdr(const uint8_t *img)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	return eh;
}

static Elf64_Phdr elf_phdr(const uint8_t *img, unsigned int i)
{
	Elf64_Ehdr eh = elf_ehdr(img);
	Elf64_Phdr ph;

	memcpy(&ph, img + eh.e_phoff + (uint64_t)i * eh.e_phentsize, sizeof(ph));
	return ph;
}

int elf_validate(const uint8_t *img, size_t size, uint16_t machine, char *why, size_t why_len)
{
	const Elf64_Ehdr *eh;
	Elf64_Ehdr hdr;
	unsigned int i, nr_load = 0;

	if (!elf_is_elf(img, size))
		return -ENOEXEC;
	if (size < sizeof(hdr)) {
		snprintf(why, why_len, "ELF: truncated header (%zu bytes)", size);
		return -EINVAL;
	}
	hdr = elf_ehdr(img);
	eh = &hdr;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(why, why_len, "ELF: not a little-endian 64-bit image");
		return -EINVAL;
	}
	if (eh->e_machine != machine) {
		snprintf(why, why_len, "ELF: built for machine %u, this is %u", eh->e_machine,
			 machine);
		return -EINVAL;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		snprintf(why, why_len, "ELF: type %u is not an executable", eh->e_type);
		return -EINVAL;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS ||
	    !in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size)) {
		snprintf(why, why_len,
			 "ELF: program headers (%u at 0x%llx) are missing or outside the file",
			 eh->e_phnum, (unsigned long long)eh->e_phoff);
		return -EINVAL;
	}
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr phdr = elf_phdr(img, i), *ph = &phdr;
		uint64_t end;

		if (ph->p_type != PT_LOAD && ph->p_type != PT_NOTE)
			continue;
		if (!in_file(ph->p_offset, ph->p_filesz, size)) {
			snprintf(why, why_len,
				 "ELF: segment %u (0x%llx bytes at offset 0x%llx) is outside the "
				 "%zu-byte file (truncated?)",
				 i, (unsigned long long)ph->p_filesz,
				 (unsigned long long)ph->p_offset, size);
			return -EINVAL;
		}
		if (ph->p_type == PT_NOTE)
			continue;
		if (ph->p_filesz > ph->p_memsz ||
		    __builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end)) {
			snprintf(why, why_len, "ELF: segment %u has inconsistent sizes or wraps",
				 i);
			return -EINVAL;
		}
		nr_load++;
	}
	if (!nr_load) {
		snprintf(why, why_len, "ELF: no loadable segment");
		return -EINVAL;
	}
	return 0;
}

int elf_load(const uint8_t *img, size_t size, struct guest_mem *mem, uint64_t *entry,
	     uint64_t *end, char *why, size_t why_len)
{
	const Elf64_Ehdr hdr = elf_ehdr(img), *eh = &hdr;
	uint64_t top = 0;
	unsigned int i;

	(void)size;
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr phdr = elf_phdr(img, i), *ph = &phdr;
		uint8_t *dst;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		dst = gpa_to_hva(mem, ph->p_paddr, ph->p_memsz);
		if (!dst) {
			snprintf(why, why_len,
				 "ELF: segment %u [0x%llx, +0x%llx) is outside guest RAM "
				 "(try a larger --memory)",
				 i, (unsigned long long)ph->p_paddr,
				 (unsigned long long)ph->p_memsz);
			return -ENOMEM;
		}
		memcpy(dst, img + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		top = MAX(top, ph->p_paddr + ph->p_memsz);
	}
	*entry = eh->e_entry;
	*end = top;
	return 0;
}

int elf_find_note(const uint8_t *img, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len, char *why, size_t why_len)
{
	const Elf64_Ehdr hdr = elf_ehdr(img), *eh = &hdr;
	size_t name_len = strlen(name) + 1;
	unsigned int i;

	(void)size;
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr phdr = elf_phdr(img, i), *ph = &phdr;
		uint64_t off = 0;

		if (ph->p_type != PT_NOTE)
			continue;
		/* Each note: 12-byte header, name and desc each padded to 4 bytes. */
		while (off + sizeof(Elf64_Nhdr) <= ph->p_filesz) {
			Elf64_Nhdr nhdr, *nh = &nhdr;
			uint64_t name_off = off + sizeof(*nh);
			uint64_t desc_off;
			uint64_t next;

			memcpy(nh, img + ph->p_offset + off, sizeof(*nh));
			desc_off = name_off + ALIGN_UP((uint64_t)nh->n_namesz, 4);
			next = desc_off + ALIGN_UP((uint64_t)nh->n_descsz, 4);

			if (next > ph->p_filesz || desc_off + nh->n_descsz > ph->p_filesz) {
				snprintf(why, why_len, "ELF: malformed note in segment %u", i);
				return -EINVAL;
			}
			if (nh->n_type == type && nh->n_namesz == name_len &&
			    !memcmp(img + ph->p_offset + name_off, name, name_len)) {
				*desc = img + ph->p_offset + desc_off;
				*desc_len = nh->n_descsz;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}
