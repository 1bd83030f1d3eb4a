/* ELF32 and ELF64 kernel images: validation, PT_LOAD loading and note lookup. */
#ifndef EMBER_VMM_ELF_H
#define EMBER_VMM_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

/* The e_machine a caller takes for each class; EM_NONE (0) refuses that class. */
struct elf_machines {
	uint16_t elf64;
	uint16_t elf32;
};

/* Whether (img) starts with the ELF magic. */
bool elf_is_elf(const uint8_t *img, size_t size);

/*
 * Check that (img) is a little-endian ELF32 or ELF64 executable for the machine (machines)
 * names for its class, whose headers and segments all lie inside the file and whose PT_LOAD
 * segments neither wrap the class's address space nor overlap each other. Sets (*bits) to 32
 * or 64. 0, -ENOEXEC (no ELF magic; nothing written to why), or -EINVAL with the first
 * problem found in (why, why_len).
 */
int elf_validate(const uint8_t *img, size_t size, const struct elf_machines *machines,
		 unsigned int *bits, char *why, size_t why_len);

/*
 * Copy every PT_LOAD segment to its physical address in (mem), zeroing the bss part.
 * Sets (*entry) and (*end), the first byte above the highest segment. Call after
 * elf_validate. 0, or -ENOMEM if a segment falls outside guest RAM, named in (why, why_len).
 */
int elf_load(const uint8_t *img, size_t size, struct guest_mem *mem, uint64_t *entry, uint64_t *end,
	     char *why, size_t why_len);

/*
 * Find the note (name, type) in the PT_NOTE segments of a validated image. Sets (*desc)
 * and (*desc_len) to the descriptor inside (img). 0, -ENOENT (nothing written to why), or
 * -EINVAL if a note is malformed, with the reason in (why, why_len).
 */
int elf_find_note(const uint8_t *img, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len, char *why, size_t why_len);

#endif
