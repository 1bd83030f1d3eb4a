/*
 * Where one frame goes: the switch's whole forwarding decision, on the bytes and the
 * learning table alone (no sockets, no clock), so it can be unit tested and fuzzed.
 */
#ifndef EMBER_SWITCH_FORWARD_H
#define EMBER_SWITCH_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* An Ethernet header at least; a jumbo frame at most. */
#define SWITCH_FRAME_MIN 14
#define SWITCH_FRAME_MAX 9216

enum switch_verdict {
	SWITCH_GARBAGE, /* not a frame (too short or too long): dropped, counted on its port */
	SWITCH_FILTER,	/* to an address on the port it came from: no other port needs it */
	SWITCH_UNICAST, /* to the one port its destination was learned on */
	SWITCH_FLOOD,	/* broadcast, multicast or an unknown destination: every other port */
};

struct switch_decision {
	enum switch_verdict verdict;
	unsigned int port;	   /* SWITCH_UNICAST: the destination's port */
	enum switch_learn learned; /* what the source address did to the table */
};

/*
 * Decide for the (len) bytes of (frame) that came in on (in_port) at (now_ms), learning
 * its source address in (t) on the way. A garbage frame teaches the table nothing.
 */
void switch_decide(struct switch_table *t, unsigned int in_port, const uint8_t *frame, size_t len,
		   uint64_t now_ms, struct switch_decision *out);

#endif
