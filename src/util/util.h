/* Small helpers shared by every subsystem. */
#ifndef EMBER_UTIL_UTIL_H
#define EMBER_UTIL_UTIL_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a)	  (sizeof(a) / sizeof((a)[0]))
#define ALIGN_DOWN(x, a)  ((x) & ~((uint64_t)(a)-1))
#define ALIGN_UP(x, a)	  ALIGN_DOWN((x) + (a)-1, (a))
#define MIN(a, b)	  ((a) < (b) ? (a) : (b))
#define MAX(a, b)	  ((a) > (b) ? (a) : (b))

/* Little-endian fields of file headers, at any alignment. */
static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* Store the low (bytes) bytes of (v) at (p), little-endian: boot structures are byte-exact. */
static inline void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		*p++ = v & 0xff;
		v >>= 8;
	}
}
#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) swap_tmp_ = (a);                                                     \
		(a) = (b);                                                                         \
		(b) = swap_tmp_;                                                                   \
	} while (0)
#define KiB		  1024ULL
#define MiB		  (1024ULL * KiB)
#define GiB		  (1024ULL * MiB)
#define CONFIG_ID_MAX	  64 /* a drive_id, iface_id or instance id, without the NUL */

/* Print "ember: (fmt)" and exit(1). Only main() and thread tops may call it. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Read the whole regular file (path) into a malloc'd buffer, at most (max) bytes.
 * Returns 0 and sets (*buf, *len), -EFBIG if larger than (max), or -errno.
 */
int read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/* The same from an open (fd), read from offset 0 whatever its position; (fd) stays open. */
int read_file_fd(int fd, size_t max, uint8_t **buf, size_t *len);

/*
 * The arm64 and riscv64 Image headers both give image_size, the bytes the kernel uses
 * from its start, bss included. 0 if it covers the (file_size)-byte file and is at most
 * 1 GiB (more than any real kernel); else -EINVAL or -E2BIG with the reason in (why, why_len).
 */
int image_size_check(uint64_t image_size, size_t file_size, char *why, size_t why_len);

/*
 * A failed step's reason for its caller: "(what): strerror(err)" into (why, why_len),
 * unless a deeper step already wrote one there (it knows more). Returns (err).
 */
int why_default(char *why, size_t why_len, int err, const char *what);

/* Parse a decimal unsigned integer in [min, max]. Returns 0 or -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

struct sockaddr_un;
/* The longest path a Unix socket address holds (its terminating NUL aside). */
#define UNIX_PATH_LEN_MAX 107
/*
 * Fill (addr) with AF_UNIX and (path): 0, or -ENAMETOOLONG (addr untouched) when the path
 * is longer than UNIX_PATH_LEN_MAX bytes. Callers word the refusal for their own readers.
 */
int unix_addr(struct sockaddr_un *addr, const char *path);

/* Write all of (buf) to (fd), retrying on EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* The byte that makes (len) bytes at (p) sum to zero (MP and ACPI tables). */
uint8_t checksum8(const uint8_t *p, size_t len);

/* Monotonic time in microseconds. */
uint64_t now_us(void);
/* CPU time used by the whole process (all threads), in microseconds. */
uint64_t cpu_us(void);
/* CPU time used by the calling thread, in microseconds. */
uint64_t thread_cpu_us(void);

/* This process's peak resident set (VmHWM) in KiB, or 0 if unknown. */
uint64_t peak_rss_kib(void);

#endif
