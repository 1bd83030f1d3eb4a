/* One frame's forwarding decision: learn where its source is, then look up its destination. */
#include "forward.h"

void switch_decide(struct switch_table *t, unsigned int in_port, const uint8_t *frame, size_t len,
		   uint64_t now_ms, struct switch_decision *out)
{
	const uint8_t *dst = frame, *src = frame + 6;
	int port;

	*out = (struct switch_decision){.verdict = SWITCH_GARBAGE, .learned = SWITCH_LEARN_IGNORED};
	if (len < SWITCH_FRAME_MIN || len > SWITCH_FRAME_MAX)
		return;
	out->learned = switch_table_learn(t, src, in_port, now_ms);
	if (mac_is_multicast(dst)) {
		out->verdict = SWITCH_FLOOD;
		return;
	}
	port = switch_table_lookup(t, dst, now_ms);
	if (port < 0) {
		out->verdict = SWITCH_FLOOD;
	} else if ((unsigned int)port == in_port) {
		out->verdict = SWITCH_FILTER;
	} else {
		out->verdict = SWITCH_UNICAST;
		out->port = port;
	}
}
