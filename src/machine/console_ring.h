/*
 * The console's history: the last CONSOLE_RING_SIZE bytes of guest output, addressed by
 * stream position (bytes written since the start), so that a reader that fell behind
 * finds out how much it lost instead of reading overwritten bytes.
 */
#ifndef EMBER_MACHINE_CONSOLE_RING_H
#define EMBER_MACHINE_CONSOLE_RING_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING_SIZE (64 * 1024)

struct console_ring {
	uint64_t written; /* bytes ever written: the position after the newest one */
	uint8_t buf[CONSOLE_RING_SIZE];
};

/* Append (len) bytes; only the last CONSOLE_RING_SIZE of them are kept. */
void console_ring_write(struct console_ring *r, const void *data, size_t len);

/* The position of the oldest byte still held. */
uint64_t console_ring_oldest(const struct console_ring *r);

/*
 * Move a reader's position (*pos) into what the ring holds: up to the oldest byte if it
 * fell behind, down to the newest if it is beyond. Returns the bytes it skipped (lost).
 */
uint64_t console_ring_catch_up(const struct console_ring *r, uint64_t *pos);

/*
 * The bytes from (pos), which console_ring_catch_up has moved into the ring: as many as
 * follow it contiguously in the buffer (possibly not all: the rest wraps around), at
 * (*data). Returns their count; 0 when (pos) is the newest position.
 */
size_t console_ring_peek(const struct console_ring *r, uint64_t pos, const uint8_t **data);

#endif
