/*
 * Text built inside a signal handler: no allocation, no locale, no stdio. Appends stop at
 * the buffer's end and keep it NUL-terminated.
 */
#ifndef EMBER_UTIL_SIGSAFE_H
#define EMBER_UTIL_SIGSAFE_H

#include <stdbool.h>
#include <stddef.h>

struct sigsafe_buf {
	char *p;
	size_t size; /* > 0 */
	size_t len;
};

void sigsafe_str(struct sigsafe_buf *b, const char *s);

/*
 * Write (b) to (fd) in one call: write(2), or writev(2) if (via_writev), for a handler
 * whose trouble was write itself. 0, or -1 if not all of it went.
 */
int sigsafe_write(int fd, const struct sigsafe_buf *b, bool via_writev);

/* (v) in decimal, zero-padded to (width) digits. */
void sigsafe_dec(struct sigsafe_buf *b, unsigned long long v, int width);

#endif
