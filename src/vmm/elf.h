/* ELF64 kernel images: validation, PT_LOAD loading and note lookup. */
#ifndef EMBER_VMM_ELF_H
#define EMBER_VMM_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

/* Whether (img) starts with the ELF magic. */
bool elf_is_elf(const uint8_t *img, size_t size);

/*
 * Check that (img) is a little-endian ELF64 executable for (machine) whose headers and
 * segments all lie inside the file. Logs the first problem found. 0 or -ENOEXEC / -EINVAL.
 */
int elf_validate(const uint8_t *img, size_t size, uint16_t machine);

/*
 * Copy every PT_LOAD segment to its physical address in (mem), zeroing the bss part.
 * Sets (*entry) and (*end), the first byte above the highest segment. Call after
 * elf_validate. 0, or -ENOMEM if a segment falls outside guest RAM.
 */
int elf_load(const uint8_t *img, size_t size, struct guest_mem *mem, uint64_t *entry,
	     uint64_t *end);

/*
 * Find the note (name, type) in the PT_NOTE segments of a validated image. Sets (*desc)
 * and (*desc_len) to the descriptor inside (img). 0, -ENOENT, or -EINVAL if malformed.
 */
int elf_find_note(const uint8_t *img, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len);

#endif
