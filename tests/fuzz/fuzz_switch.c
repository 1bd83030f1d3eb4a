/*
 * libFuzzer target: ember-switch's forwarding decision and learning table on the frames a
 * port may send. The input is a run of records, each one operation byte (low 3 bits: the
 * port; the next 2: a frame, a frame, the port closing, an aging sweep) and, for a frame,
 * a time step in ms, a 16-bit length and the frame's bytes. After each decision the
 * verdict must agree with the table; at the end every entry must be findable.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "switch/forward.h"
#include "switch/table.h"

#define FUZZ_PORTS  8
#define FUZZ_AGE_MS 100

static const uint8_t zero_mac[6];

static void check_decision(struct switch_table *t, unsigned int in, const uint8_t *f,
			   size_t len, uint64_t now, const struct switch_decision *d)
{
	bool garbage = len < SWITCH_FRAME_MIN || len > SWITCH_FRAME_MAX;
	int src_port, dst_port;

	if (garbage != (d->verdict == SWITCH_GARBAGE))
		abort();
	if (garbage)
		return;
	src_port = switch_table_lookup(t, f + 6, now);
	if (mac_is_multicast(f + 6) || !memcmp(f + 6, zero_mac, 6)) {
		if (d->learned != SWITCH_LEARN_IGNORED || src_port >= 0)
			abort();
	} else if (d->learned == SWITCH_LEARN_FULL) {
		if (src_port >= 0 || t->count != SWITCH_TABLE_CAPACITY)
			abort();
	} else if (src_port != (int)in) {
		abort();
	}
	dst_port = mac_is_multicast(f) ? -1 : switch_table_lookup(t, f, now);
	switch (d->verdict) {
	case SWITCH_UNICAST:
		if (d->port == in || d->port >= FUZZ_PORTS || dst_port != (int)d->port)
			abort();
		break;
	case SWITCH_FILTER:
		if (dst_port != (int)in)
			abort();
		break;
	case SWITCH_FLOOD:
		if (dst_port >= 0)
			abort();
		break;
	default:
		abort();
	}
}

/* Every live entry is in its bucket, once, and the count is right. */
static void check_table(struct switch_table *t)
{
	const struct switch_entry *e;
	unsigned int cursor = 0, n = 0;

	while ((e = switch_table_next(t, &cursor))) {
		/* Looked up at its own last-seen time it cannot have aged. */
		if (switch_table_lookup(t, e->mac, e->seen_ms) != e->port || e->port >= FUZZ_PORTS)
			abort();
		n++;
	}
	if (n != t->count || n > SWITCH_TABLE_CAPACITY)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct switch_table *t = malloc(sizeof(*t));
	struct switch_decision d;
	uint64_t now = 1000;
	size_t off = 0;

	if (!t)
		return 0;
	switch_table_init(t, FUZZ_AGE_MS);
	while (off < size) {
		unsigned int op = data[off] >> 3 & 3, port = data[off] & 7;
		size_t len;

		off++;
		if (op == 2) {
			switch_table_forget_port(t, port);
			continue;
		}
		if (op == 3) {
			switch_table_expire(t, now);
			continue;
		}
		if (size - off < 3)
			break;
		now += data[off];
		len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		switch_decide(t, port, data + off, len, now, &d);
		check_decision(t, port, data + off, len, now, &d);
		off += len;
	}
	check_table(t);
	free(t);
	return 0;
}
