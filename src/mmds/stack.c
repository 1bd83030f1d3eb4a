/*
 * The MMDS stack: demultiplexes the guest's frames to ARP, a connection or a reset, and
 * hands out the answers one frame at a time. Answers that belong to no connection (ARP
 * replies, resets) wait in a small ring of prebuilt frames; a guest that floods faster
 * than it reads its answers loses the excess, counted.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "stack.h"
#include "tcp.h"

#define CTL_RING      16
#define CTL_FRAME_MAX (ETH_HDR + IPV4_HDR + TCP_HDR)

_Static_assert(ETH_HDR + ARP_LEN <= CTL_FRAME_MAX, "an ARP reply fits a control slot");
_Static_assert(sizeof(struct mmds_stack_stats) % sizeof(uint64_t) == 0, "stats are counters");

struct ctl_frame {
	uint8_t len;
	uint8_t bytes[CTL_FRAME_MAX];
};

struct mmds_stack {
	uint8_t mac[6], ip[4];
	mmds_isn_fn isn; /* called with env.opaque, as serve is */
	struct tcp_env env;
	struct mmds_stack_stats stats;
	struct ctl_frame ctl[CTL_RING];
	unsigned int ctl_head, ctl_count;
	unsigned int rr; /* the connection asked first for the next frame: each gets its turn */
	struct tcp_conn conns[MMDS_MAX_CONNECTIONS];
};

struct mmds_stack *mmds_stack_create(uint32_t ipv4_be, mmds_serve_fn serve, mmds_isn_fn isn,
				     void *opaque)
{
	static const uint8_t mac[6] = MMDS_MAC;
	struct mmds_stack *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	memcpy(s->mac, mac, 6);
	memcpy(s->ip, &ipv4_be, 4);
	s->isn = isn;
	s->env.serve = serve;
	s->env.opaque = opaque;
	s->env.mac = s->mac;
	s->env.ip = s->ip;
	s->env.stats = &s->stats;
	return s;
}

static void conn_free(struct mmds_stack *s, struct tcp_conn *c)
{
	tcp_conn_close(c);
	s->stats.connections_destroyed++;
}

void mmds_stack_reset(struct mmds_stack *s)
{
	unsigned int i;

	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++)
		if (s->conns[i].in_use)
			conn_free(s, &s->conns[i]);
	s->ctl_head = s->ctl_count = 0;
}

void mmds_stack_destroy(struct mmds_stack *s)
{
	if (!s)
		return;
	mmds_stack_reset(s);
	free(s);
}

bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *head, size_t len)
{
	const uint8_t *to = frame_peek_ipv4_target(head, len);

	return to && !memcmp(to, s->ip, 4);
}

/* A slot in the control ring, or NULL when it is full (the frame is dropped, counted). */
static struct ctl_frame *ctl_slot(struct mmds_stack *s)
{
	if (s->ctl_count == CTL_RING) {
		s->stats.rx_dropped++;
		return NULL;
	}
	return &s->ctl[(s->ctl_head + s->ctl_count++) % CTL_RING];
}

static void take_arp(struct mmds_stack *s, const uint8_t *frame, size_t len)
{
	struct arp_req req;
	struct ctl_frame *slot;
	enum frame_verdict v = frame_parse_arp(frame, len, &req);

	if (v == FRAME_MALFORMED) {
		s->stats.rx_accepted_err++;
		return;
	}
	if (v != FRAME_OK || memcmp(req.target_ip, s->ip, 4)) {
		s->stats.rx_accepted_unusual++;
		return;
	}
	slot = ctl_slot(s);
	if (slot)
		slot->len = (uint8_t)frame_build_arp_reply(slot->bytes, sizeof(slot->bytes), &req,
							   s->mac, s->ip);
}

/* RFC 9293 3.10.7.1: the reset that answers a segment for no connection. */
static void send_reset(struct mmds_stack *s, const struct tcp_seg *seg)
{
	struct tcp_out h = {
	    .src_mac = s->mac,
	    .dst_mac = seg->peer_mac,
	    .src_ip = s->ip,
	    .dst_ip = seg->src_ip,
	    .sport = seg->dport,
	    .dport = seg->sport,
	};
	struct ctl_frame *slot;

	if (seg->flags & TCPF_RST)
		return; /* never a reset for a reset */
	if (seg->flags & TCPF_ACK) {
		h.seq = seg->ack;
		h.flags = TCPF_RST;
	} else {
		h.ack = seg->seq + (uint32_t)seg->len + !!(seg->flags & TCPF_SYN) +
			!!(seg->flags & TCPF_FIN);
		h.flags = TCPF_RST | TCPF_ACK;
	}
	slot = ctl_slot(s);
	if (slot)
		slot->len = (uint8_t)frame_build_tcp(slot->bytes, sizeof(slot->bytes), &h, NULL, 0);
}

/* A SYN for no connection: a new one, if there is room for it. */
static void open_conn(struct mmds_stack *s, const struct tcp_seg *seg, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++)
		if (!s->conns[i].in_use)
			break;
	/* Full: drop the SYN as a full listen queue does; the guest's retry may find room. */
	if (i == MMDS_MAX_CONNECTIONS ||
	    tcp_conn_open(&s->conns[i], seg, s->isn(s->env.opaque), now) < 0) {
		s->stats.rx_dropped++;
		return;
	}
	s->stats.connections_created++;
}

static void take_tcp(struct mmds_stack *s, const uint8_t *frame, size_t len, bool csum_partial,
		     uint64_t now)
{
	struct tcp_seg seg;
	enum frame_verdict v = frame_parse_tcp(frame, len, csum_partial, &seg);
	unsigned int i;

	if (v != FRAME_OK) {
		if (v == FRAME_MALFORMED)
			s->stats.rx_accepted_err++;
		else
			s->stats.rx_accepted_unusual++;
		return;
	}
	if (memcmp(seg.dst_ip, s->ip, 4)) {
		s->stats.rx_accepted_unusual++;
		return;
	}
	/* SYN with RST or FIN is no segment any TCP sends. */
	if ((seg.flags & TCPF_SYN) && (seg.flags & (TCPF_RST | TCPF_FIN))) {
		s->stats.rx_accepted_err++;
		return;
	}
	if (seg.dport == MMDS_PORT) {
		for (i = 0; i < MMDS_MAX_CONNECTIONS; i++) {
			struct tcp_conn *c = &s->conns[i];

			if (!tcp_conn_matches(c, &seg))
				continue;
			tcp_conn_input(c, &s->env, &seg, now);
			if (c->dead)
				conn_free(s, c);
			return;
		}
		if ((seg.flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
			open_conn(s, &seg, now);
			return;
		}
	}
	s->stats.rx_accepted_unusual++;
	send_reset(s, &seg);
}

void mmds_stack_take(struct mmds_stack *s, const uint8_t *frame, size_t len, bool csum_partial,
		     uint64_t now_ms)
{
	s->stats.rx_accepted++;
	switch (frame_ethertype(frame, len)) {
	case 0:
		if (len < ETH_HDR) {
			s->stats.rx_bad_eth++;
			return;
		}
		s->stats.rx_accepted_unusual++;
		return;
	case ETHERTYPE_ARP:
		take_arp(s, frame, len);
		return;
	case ETHERTYPE_IPV4:
		take_tcp(s, frame, len, csum_partial, now_ms);
		return;
	default:
		s->stats.rx_accepted_unusual++;
	}
}

static size_t sent(struct mmds_stack *s, size_t n)
{
	s->stats.tx_frames++;
	s->stats.tx_bytes += n;
	return n;
}

size_t mmds_stack_next_frame(struct mmds_stack *s, uint8_t *buf, size_t size, uint64_t now_ms)
{
	unsigned int i;

	if (s->ctl_count) {
		struct ctl_frame *f = &s->ctl[s->ctl_head];

		if (size < f->len) {
			s->stats.tx_errors++; /* it stays for a bigger buffer */
			return 0;
		}
		memcpy(buf, f->bytes, f->len);
		s->ctl_head = (s->ctl_head + 1) % CTL_RING;
		s->ctl_count--;
		return sent(s, f->len);
	}
	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++) {
		unsigned int idx = (s->rr + i) % MMDS_MAX_CONNECTIONS;
		struct tcp_conn *c = &s->conns[idx];
		size_t n;

		if (!tcp_conn_has_output(c, now_ms))
			continue;
		n = tcp_conn_output(c, &s->env, buf, size, now_ms);
		if (c->dead)
			conn_free(s, c);
		if (!n) {
			if (size < FRAME_HDR_MAX + 1) {
				s->stats.tx_errors++;
				return 0;
			}
			continue;
		}
		s->rr = (idx + 1) % MMDS_MAX_CONNECTIONS;
		return sent(s, n);
	}
	return 0;
}

uint64_t mmds_stack_deadline(const struct mmds_stack *s)
{
	uint64_t at = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++) {
		uint64_t t = tcp_conn_deadline(&s->conns[i]);

		if (t < at)
			at = t;
	}
	return at;
}

bool mmds_stack_pending(const struct mmds_stack *s, uint64_t now_ms)
{
	unsigned int i;

	if (s->ctl_count)
		return true;
	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++)
		if (tcp_conn_has_output(&s->conns[i], now_ms))
			return true;
	return false;
}

void mmds_stack_stats(const struct mmds_stack *s, struct mmds_stack_stats *out)
{
	*out = s->stats;
}
