#include <string.h>

#include "console_ring.h"
#include "../util/util.h"

void console_ring_write(struct console_ring *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t off, first;

	if (len > CONSOLE_RING_SIZE) {
		/* Only the tail would survive: skip the rest, but count it as written. */
		p += len - CONSOLE_RING_SIZE;
		r->written += len - CONSOLE_RING_SIZE;
		len = CONSOLE_RING_SIZE;
	}
	off = r->written % CONSOLE_RING_SIZE;
	first = MIN(len, CONSOLE_RING_SIZE - off);
	memcpy(r->buf + off, p, first);
	memcpy(r->buf, p + first, len - first);
	r->written += len;
}

uint64_t console_ring_oldest(const struct console_ring *r)
{
	return r->written > CONSOLE_RING_SIZE ? r->written - CONSOLE_RING_SIZE : 0;
}

uint64_t console_ring_catch_up(const struct console_ring *r, uint64_t *pos)
{
	uint64_t oldest = console_ring_oldest(r), lost = 0;

	if (*pos < oldest) {
		lost = oldest - *pos;
		*pos = oldest;
	}
	if (*pos > r->written)
		*pos = r->written;
	return lost;
}

size_t console_ring_peek(const struct console_ring *r, uint64_t pos, const uint8_t **data)
{
	size_t off = pos % CONSOLE_RING_SIZE;

	if (pos >= r->written || pos < console_ring_oldest(r))
		return 0;
	*data = r->buf + off;
	return MIN(r->written - pos, CONSOLE_RING_SIZE - off);
}
