#include <sys/uio.h>
#include <unistd.h>

#include "sigsafe.h"

int sigsafe_write(int fd, const struct sigsafe_buf *b, bool via_writev)
{
	struct iovec iov = { b->p, b->len };
	ssize_t n = via_writev ? writev(fd, &iov, 1) : write(fd, b->p, b->len);

	return n == (ssize_t)b->len ? 0 : -1;
}

void sigsafe_str(struct sigsafe_buf *b, const char *s)
{
	while (*s && b->len + 1 < b->size)
		b->p[b->len++] = *s++;
	b->p[b->len] = '\0';
}

void sigsafe_dec(struct sigsafe_buf *b, unsigned long long v, int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < (int)sizeof(digits))
		digits[n++] = '0';
	while (n && b->len + 1 < b->size)
		b->p[b->len++] = digits[--n];
	b->p[b->len] = '\0';
}
