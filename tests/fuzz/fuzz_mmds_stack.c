/*
 * libFuzzer target: the MMDS stack (stack.h) behind a guest that sends anything. The
 * fuzzer's bytes are a script of operations: raw frames (every malformed header), TCP
 * segments the harness builds with correct checksums (so the fuzzer gets past them) whose
 * sequence numbers may be relative to what the stack last said (so it gets into the
 * window), ARP requests, clock steps, drains with buffers of any size, device resets. The
 * real MMDS service answers, V1 or V2, over a small store.
 *
 * Checked on the way: every frame the stack sends parses back (lengths, both checksums),
 * fits the buffer it was given, and pending() agrees with next_frame(); a drain at one
 * instant ends (no frame storm without guest input); the deadline is never in the past
 * after a drain.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/frame.h"
#include "mmds/mmds.h"
#include "mmds/stack.h"

#define PEERS	  4
#define RX_MAX	  65550
#define DRAIN_CAP 100000

static const uint8_t stack_ip[4] = {169, 254, 169, 254};
static const uint8_t guest_ip[4] = {10, 0, 0, 2};
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t stack_mac[6] = MMDS_MAC;

static const char store_text[] = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"l\":[1,2]}},"
				 "\"user-data\":\"ud\"}";

/* Requests a segment may carry instead of the fuzzer's bytes. */
static const char *const canned[] = {
    "GET / HTTP/1.1\r\n\r\n",
    "GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n",
    "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 1\r\n\r\n",
    "GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n",
};

/* What the guest's side would know of each connection, from the stack's frames. */
struct peer {
	uint32_t expect; /* the stack's last ACK field: the guest's next sequence number */
	uint32_t next;	 /* past the stack's last sequence number: what the guest acknowledges */
};

struct run {
	struct mmds_stack *s;
	struct mmds m;
	uint64_t now;
	uint32_t isn;
	struct peer peers[PEERS];
	uint8_t frame[RX_MAX];
	uint8_t out[RX_MAX];
};

static uint32_t isn_next(void *opaque)
{
	struct run *r = opaque;

	return r->isn += 0x01000193;
}

static long serve(void *opaque, const uint8_t *in, size_t len, uint64_t now_ms, uint8_t **reply,
		  size_t *reply_len, bool *close)
{
	struct run *r = opaque;

	return mmds_serve(&r->m, in, len, now_ms, reply, reply_len, close);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Every frame out parses back; TCP ones teach the peer table its numbers. */
static void check_out(struct run *r, size_t n, size_t size)
{
	struct tcp_seg seg;
	unsigned int p;

	if (n > size || n < ETH_HDR)
		abort();
	if (frame_ethertype(r->out, n) == ETHERTYPE_ARP) {
		/* To whoever asked (raw frames may name any sender), from the stack's address. */
		if (n != ETH_HDR + ARP_LEN || memcmp(r->out + 6, stack_mac, 6) ||
		    memcmp(r->out + ETH_HDR + 14, stack_ip, 4))
			abort();
		return;
	}
	if (frame_ethertype(r->out, n) != ETHERTYPE_IPV4 ||
	    frame_parse_tcp(r->out, n, false, &seg) != FRAME_OK ||
	    memcmp(seg.src_ip, stack_ip, 4) || memcmp(seg.dst_ip, guest_ip, 4))
		abort();
	p = (seg.dport - 40000u) % PEERS;
	r->peers[p].expect = seg.ack;
	r->peers[p].next = seg.seq + (uint32_t)seg.len + !!(seg.flags & (TCPF_SYN | TCPF_FIN));
}

static void drain(struct run *r, size_t size)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < DRAIN_CAP; i++) {
		bool pending = mmds_stack_pending(r->s, r->now);

		n = mmds_stack_next_frame(r->s, r->out, size, r->now);
		if (!n) {
			/* With room for any frame, nothing sent means nothing waits. */
			if (pending && size >= RX_MAX)
				abort();
			break;
		}
		if (!pending)
			abort();
		check_out(r, n, size);
	}
	if (i == DRAIN_CAP)
		abort();
	if (size >= RX_MAX && mmds_stack_deadline(r->s) <= r->now)
		abort();
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A segment built from (d, n): [ctl][flags][seq:4][ack:4][win:2][mss:2][len:1][data...].
 * ctl: bits 0-1 the peer, 2 seq/ack relative to the peer table, 3 to port 81, 4 a broken
 * checksum, 5 the checksum left to the device, 6 a canned request for data.
 */
static size_t op_segment(struct run *r, const uint8_t *d, size_t n)
{
	uint8_t ctl, dlen;
	struct tcp_out h = {.src_mac = guest_mac, .dst_mac = stack_mac, .src_ip = guest_ip,
			    .dst_ip = stack_ip};
	const uint8_t *data;
	struct peer *p;
	size_t len, used = 16;

	if (n < used)
		return n;
	ctl = d[0];
	p = &r->peers[ctl & 3];
	h.sport = (uint16_t)(40000 + (ctl & 3));
	h.dport = ctl & 8 ? 81 : MMDS_PORT;
	h.flags = d[1];
	h.seq = rd32(d + 2);
	h.ack = rd32(d + 6);
	if (ctl & 4) {
		h.seq = p->expect + (uint32_t)(int16_t)(h.seq >> 16);
		h.ack = p->next + (uint32_t)(int16_t)(h.ack >> 16);
	}
	h.win = (uint16_t)(d[10] << 8 | d[11]);
	h.mss = (uint16_t)(d[12] << 8 | d[13]);
	dlen = d[14];
	if (ctl & 64) {
		data = (const uint8_t *)canned[dlen % 4];
		len = strlen(canned[dlen % 4]);
		used = 15;
	} else {
		data = d + 15;
		len = dlen < n - 15 ? dlen : n - 15;
		used = 15 + len;
	}
	len = frame_build_tcp(r->frame, sizeof(r->frame), &h, data, len);
	if (ctl & 16)
		r->frame[ETH_HDR + IPV4_HDR + 17] ^= 0x5a;
	if (len && mmds_stack_wants(r->s, r->frame, len < MMDS_PEEK_LEN ? len : MMDS_PEEK_LEN))
		mmds_stack_take(r->s, r->frame, len, ctl & 32, r->now);
	return used;
}

/* A raw frame: [len:2][bytes], with the ethertype and the destination made the stack's. */
static size_t op_raw(struct run *r, const uint8_t *d, size_t n, bool arp)
{
	size_t len;

	if (n < 2)
		return n;
	len = (size_t)(d[0] | d[1] << 8);
	if (len > n - 2)
		len = n - 2;
	memcpy(r->frame, d + 2, len);
	if (len >= ETH_HDR)
		put16(r->frame + 12, arp ? ETHERTYPE_ARP : ETHERTYPE_IPV4);
	if (arp && len >= ETH_HDR + ARP_LEN)
		memcpy(r->frame + ETH_HDR + 24, stack_ip, 4);
	if (!arp && len >= ETH_HDR + IPV4_HDR)
		memcpy(r->frame + ETH_HDR + 16, stack_ip, 4);
	/* Taken whether or not the stack wants it: take() must survive anything. */
	mmds_stack_take(r->s, r->frame, len, d[0] & 1, r->now);
	return 2 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *r;
	uint32_t ip;
	json_t *store;
	size_t i = 1, len;

	if (size < 1)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	mmds_init(&r->m);
	mmds_configure(&r->m, data[0] & 1 ? 1 : 2, data[0] & 2);
	store = json_loads(store_text, 0, NULL);
	if (!store || mmds_set_store(&r->m, store, &len))
		abort();
	memcpy(&ip, stack_ip, 4);
	r->now = 1000;
	r->s = mmds_stack_create(ip, serve, isn_next, r);
	if (!r->s)
		abort();
	while (i < size) {
		uint8_t op = data[i++];

		switch (op % 8) {
		case 0:
		case 1:
			i += op_segment(r, data + i, size - i);
			break;
		case 2:
			i += op_raw(r, data + i, size - i, false);
			break;
		case 3:
			i += op_raw(r, data + i, size - i, true);
			break;
		case 4:
			r->now += (uint64_t)(op >> 3) * 50;
			break;
		case 5:
			drain(r, op >> 3 ? (size_t)(op >> 3) * 4 : RX_MAX);
			break;
		case 6:
			if (mmds_stack_deadline(r->s) != UINT64_MAX)
				r->now = mmds_stack_deadline(r->s);
			break;
		case 7:
			if (op >> 3 == 31)
				mmds_stack_reset(r->s);
			else
				drain(r, RX_MAX);
			break;
		}
	}
	drain(r, RX_MAX);
	mmds_stack_destroy(r->s);
	mmds_destroy(&r->m);
	free(r);
	return 0;
}
