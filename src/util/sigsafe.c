#include "sigsafe.h"

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
