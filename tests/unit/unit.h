/* Shared includes and helpers for the cmocka unit tests. */
#ifndef EMBER_TESTS_UNIT_H
#define EMBER_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "util/log.h"
#include "util/util.h"
#include "vmm/memory.h"

/* Guest memory laid out as the arch would for (mib) MiB. */
static inline void unit_mem_init(struct guest_mem *mem, uint64_t mib)
{
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned int nr;

	assert_int_equal(arch_mem_layout(mib * MiB, layout, &nr), 0);
	assert_int_equal(guest_mem_init(mem, layout, nr), 0);
}

static inline void put_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

#endif
