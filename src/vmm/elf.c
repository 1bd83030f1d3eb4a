#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elf.h"
#include "../util/util.h"

#define ELF_MAX_PHDRS 128

/*
 * Both classes are read into these common forms, so every check below exists once.
 * Fields keep their meaning; ELF32 values are zero-extended.
 */
struct elf_header {
	unsigned int bits;   /* 32 or 64 */
	uint64_t addr_limit; /* no segment may end above this: 4 GiB for ELF32 */
	size_t ehdr_size, phdr_size;
	uint16_t type, machine, phentsize, phnum;
	uint64_t entry, phoff;
};

struct elf_segment {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

/* The common forms from either class's header, copied out to (eh) or (ph). */
#define ELF_HEADER(nbits, eh, phdr_type)                                                   \
	((struct elf_header){ .bits = (nbits),                                             \
			      .addr_limit = (nbits) == 32 ? 1ULL << 32 : UINT64_MAX,       \
			      .ehdr_size = sizeof(eh),                                     \
			      .phdr_size = sizeof(phdr_type),                              \
			      .type = (eh).e_type,                                         \
			      .machine = (eh).e_machine,                                   \
			      .phentsize = (eh).e_phentsize,                               \
			      .phnum = (eh).e_phnum,                                       \
			      .entry = (eh).e_entry,                                       \
			      .phoff = (eh).e_phoff })
#define ELF_SEGMENT(ph)                                                                    \
	((struct elf_segment){ .type = (ph).p_type,                                        \
			       .offset = (ph).p_offset,                                    \
			       .paddr = (ph).p_paddr,                                      \
			       .filesz = (ph).p_filesz,                                    \
			       .memsz = (ph).p_memsz })

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

/*
 * The header of an image whose e_ident is in the file and says ELFCLASS32 or ELFCLASS64.
 * A file shorter than ehdr_size leaves the other fields zero: the caller checks that first.
 * Headers are copied out: a hostile file need not keep them aligned.
 */
static struct elf_header elf_header(const uint8_t *img, size_t size)
{
	if (img[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh = { 0 };

		memcpy(&eh, img, MIN(size, sizeof(eh)));
		return ELF_HEADER(32, eh, Elf32_Phdr);
	} else {
		Elf64_Ehdr eh = { 0 };

		memcpy(&eh, img, MIN(size, sizeof(eh)));
		return ELF_HEADER(64, eh, Elf64_Phdr);
	}
}

/* Program header (i) of a header elf_check_header passed, so inside the file. */
static struct elf_segment elf_segment(const struct elf_header *h, const uint8_t *img,
				      unsigned int i)
{
	const uint8_t *p = img + h->phoff + (uint64_t)i * h->phentsize;

	if (h->bits == 32) {
		Elf32_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		return ELF_SEGMENT(ph);
	} else {
		Elf64_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		return ELF_SEGMENT(ph);
	}
}

static int elf_check_header(const uint8_t *img, size_t size,
			    const struct elf_machines *machines, struct elf_header *h, char *why,
			    size_t why_len)
{
	uint16_t want;

	if (size < EI_NIDENT) {
		snprintf(why, why_len, "ELF: truncated header (%zu bytes)", size);
		return -EINVAL;
	}
	if ((img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64) ||
	    img[EI_DATA] != ELFDATA2LSB) {
		snprintf(why, why_len, "ELF: not a little-endian 32- or 64-bit image");
		return -EINVAL;
	}
	*h = elf_header(img, size);
	if (size < h->ehdr_size) {
		snprintf(why, why_len, "ELF: truncated header (%zu bytes)", size);
		return -EINVAL;
	}
	want = h->bits == 32 ? machines->elf32 : machines->elf64;
	if (want == EM_NONE) {
		snprintf(why, why_len, "ELF: %u-bit images are not bootable on this machine",
			 h->bits);
		return -EINVAL;
	}
	if (h->machine != want) {
		snprintf(why, why_len, "ELF: %u-bit image built for machine %u, this is %u",
			 h->bits, h->machine, want);
		return -EINVAL;
	}
	if (h->type != ET_EXEC && h->type != ET_DYN) {
		snprintf(why, why_len, "ELF: type %u is not an executable", h->type);
		return -EINVAL;
	}
	if (h->phentsize != h->phdr_size || h->phnum == 0 || h->phnum > ELF_MAX_PHDRS ||
	    !in_file(h->phoff, (uint64_t)h->phnum * h->phdr_size, size)) {
		snprintf(why, why_len,
			 "ELF: program headers (%u at 0x%llx) are missing or outside the file",
			 h->phnum, (unsigned long long)h->phoff);
		return -EINVAL;
	}
	return 0;
}

/* Whether two PT_LOAD segments, already checked not to wrap, share a guest byte. */
static bool elf_overlap(const struct elf_segment *a, const struct elf_segment *b)
{
	return a->memsz && b->memsz && a->paddr < b->paddr + b->memsz &&
	       b->paddr < a->paddr + a->memsz;
}

/* Segment (i), a PT_LOAD with sane sizes, against the PT_LOADs before it. */
static int elf_check_overlap(const uint8_t *img, const struct elf_header *h, unsigned int i,
			     const struct elf_segment *s, char *why, size_t why_len)
{
	unsigned int j;

	for (j = 0; j < i; j++) {
		const struct elf_segment o = elf_segment(h, img, j);

		if (o.type == PT_LOAD && elf_overlap(s, &o)) {
			snprintf(why, why_len,
				 "ELF: segments %u and %u overlap in guest memory (0x%llx and "
				 "0x%llx)",
				 j, i, (unsigned long long)o.paddr, (unsigned long long)s->paddr);
			return -EINVAL;
		}
	}
	return 0;
}

static int elf_check_segments(const uint8_t *img, size_t size, const struct elf_header *h,
			      char *why, size_t why_len)
{
	unsigned int i, nr_load = 0;
	int ret;

	for (i = 0; i < h->phnum; i++) {
		const struct elf_segment s = elf_segment(h, img, i);
		uint64_t end;

		if (s.type != PT_LOAD && s.type != PT_NOTE)
			continue;
		if (!in_file(s.offset, s.filesz, size)) {
			snprintf(why, why_len,
				 "ELF: segment %u (0x%llx bytes at offset 0x%llx) is outside the "
				 "%zu-byte file (truncated?)",
				 i, (unsigned long long)s.filesz, (unsigned long long)s.offset,
				 size);
			return -EINVAL;
		}
		if (s.type == PT_NOTE)
			continue;
		if (s.filesz > s.memsz || __builtin_add_overflow(s.paddr, s.memsz, &end) ||
		    end > h->addr_limit) {
			snprintf(why, why_len, "ELF: segment %u has inconsistent sizes or wraps",
				 i);
			return -EINVAL;
		}
		/* Two segments on one guest range: which bytes win would depend on the order. */
		ret = elf_check_overlap(img, h, i, &s, why, why_len);
		if (ret)
			return ret;
		nr_load++;
	}
	if (!nr_load) {
		snprintf(why, why_len, "ELF: no loadable segment");
		return -EINVAL;
	}
	return 0;
}

int elf_validate(const uint8_t *img, size_t size, const struct elf_machines *machines,
		 unsigned int *bits, char *why, size_t why_len)
{
	struct elf_header h;
	int ret;

	if (!elf_is_elf(img, size))
		return -ENOEXEC;
	ret = elf_check_header(img, size, machines, &h, why, why_len);
	if (!ret)
		ret = elf_check_segments(img, size, &h, why, why_len);
	if (!ret)
		*bits = h.bits;
	return ret;
}

int elf_load(const uint8_t *img, size_t size, struct guest_mem *mem, uint64_t *entry,
	     uint64_t *end, char *why, size_t why_len)
{
	const struct elf_header h = elf_header(img, size);
	uint64_t top = 0;
	unsigned int i;

	for (i = 0; i < h.phnum; i++) {
		const struct elf_segment s = elf_segment(&h, img, i);
		uint8_t *dst;

		if (s.type != PT_LOAD || !s.memsz)
			continue;
		dst = gpa_to_hva(mem, s.paddr, s.memsz);
		if (!dst) {
			snprintf(why, why_len,
				 "ELF: segment %u [0x%llx, +0x%llx) is outside guest RAM "
				 "(try a larger --memory)",
				 i, (unsigned long long)s.paddr, (unsigned long long)s.memsz);
			return -ENOMEM;
		}
		memcpy(dst, img + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz);
		top = MAX(top, s.paddr + s.memsz);
	}
	*entry = h.entry;
	*end = top;
	return 0;
}

int elf_find_note(const uint8_t *img, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len, char *why, size_t why_len)
{
	const struct elf_header h = elf_header(img, size);
	size_t name_len = strlen(name) + 1;
	unsigned int i;

	for (i = 0; i < h.phnum; i++) {
		const struct elf_segment s = elf_segment(&h, img, i);
		uint64_t off = 0;

		if (s.type != PT_NOTE)
			continue;
		/* Each note: a 12-byte header in both classes, name and desc padded to 4 bytes. */
		while (off + sizeof(Elf64_Nhdr) <= s.filesz) {
			Elf64_Nhdr nhdr, *nh = &nhdr;
			uint64_t name_off = off + sizeof(*nh);
			uint64_t desc_off;
			uint64_t next;

			memcpy(nh, img + s.offset + off, sizeof(*nh));
			desc_off = name_off + ALIGN_UP((uint64_t)nh->n_namesz, 4);
			next = desc_off + ALIGN_UP((uint64_t)nh->n_descsz, 4);

			if (next > s.filesz || desc_off + nh->n_descsz > s.filesz) {
				snprintf(why, why_len, "ELF: malformed note in segment %u", i);
				return -EINVAL;
			}
			if (nh->n_type == type && nh->n_namesz == name_len &&
			    !memcmp(img + s.offset + name_off, name, name_len)) {
				*desc = img + s.offset + desc_off;
				*desc_len = nh->n_descsz;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}
