/*
 * The firmware-table targets (fuzz_fdt*, fuzz_mptable, fuzz_acpi, fuzz_aml) read their
 * configuration out of the fuzzer's bytes with this, and the virtio targets' hostile
 * driver (virtio_driver.h) its script: little-endian integers, short byte
 * strings, numbers in a range. Past the end every read gives zeros, so any input is a whole configuration
 * and libFuzzer's shortest inputs are the simplest machines.
 */
#ifndef EMBER_FUZZ_BUILDER_INPUT_H
#define EMBER_FUZZ_BUILDER_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t bin_u8(struct bin *b)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++;
}

/* Little-endian: the low part is read first (C leaves the order of a | b's operands open). */
static inline uint16_t bin_u16(struct bin *b)
{
	uint16_t lo = bin_u8(b);

	return lo | (uint16_t)bin_u8(b) << 8;
}

static inline uint32_t bin_u32(struct bin *b)
{
	uint32_t lo = bin_u16(b);

	return lo | (uint32_t)bin_u16(b) << 16;
}

static inline uint64_t bin_u64(struct bin *b)
{
	uint64_t lo = bin_u32(b);

	return lo | (uint64_t)bin_u32(b) << 32;
}

/* A number from (lo) to (hi), both included. */
static inline unsigned int bin_range(struct bin *b, unsigned int lo, unsigned int hi)
{
	return lo + bin_u16(b) % (hi - lo + 1);
}

/*
 * The next (*n) bytes, or as many as are left (then *n says how many), moved out of the
 * input into a heap block of their own, so that a read past them is the sanitizer's to
 * catch. Never NULL; free() it.
 */
static inline uint8_t *bin_take(struct bin *b, size_t *n)
{
	uint8_t *p;

	if (*n > b->n)
		*n = b->n;
	p = malloc(*n ? *n : 1);
	if (!p)
		abort();
	memcpy(p, b->p, *n);
	b->p += *n;
	b->n -= *n;
	return p;
}

/*
 * Up to (max) bytes into (out), NUL-terminated: a length byte, then that many bytes with
 * NULs turned into 'x' so the string is as long as the fuzzer said. Returns the length.
 */
static inline size_t bin_string(struct bin *b, char *out, size_t max)
{
	size_t len = bin_u8(b), i;

	if (len > max)
		len = max;
	for (i = 0; i < len; i++) {
		out[i] = (char)bin_u8(b);
		if (!out[i])
			out[i] = 'x';
	}
	out[len] = '\0';
	return len;
}

/*
 * For the harness's checks: libFuzzer needs no coverage of them (it would only steer by
 * them), and they run on every input, so uninstrumented they cost less.
 */
#define NOCOV __attribute__((no_sanitize("coverage")))

/* Whether two strings are equal, without the fuzzer's strcmp hook (for NOCOV code). */
static inline NOCOV bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* What the builder did wrong: the harness's own assertion, which libFuzzer records. */
#define BUG(...)                                                                                   \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

static inline uint32_t le32_of(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64_of(const uint8_t *p)
{
	return le32_of(p) | (uint64_t)le32_of(p + 4) << 32;
}

static inline uint32_t be32_of(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static inline uint64_t be64_of(const uint8_t *p)
{
	return (uint64_t)be32_of(p) << 32 | be32_of(p + 4);
}

/* The byte sum of (p, n): 0 for a well-checksummed MP or ACPI structure. */
static inline NOCOV uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

#endif
