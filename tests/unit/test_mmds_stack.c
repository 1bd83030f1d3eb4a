/*
 * The MMDS network stack (mmds/stack.h) as a guest's TCP sees it: hand-built Ethernet, ARP,
 * IPv4 and TCP frames in, the stack's frames parsed and their checksums checked, a fake
 * serve function and a fixed ISN. The assertions are on the header's contract and on what
 * a TCP peer needs (RFC 9293), not on how the stack is written.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>

#include "unit.h"
#include "mmds/stack.h"

static const uint8_t mmds_mac[6] = MMDS_MAC;
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t mmds_ip[4] = {169, 254, 169, 254};
static const uint8_t guest_ip[4] = {10, 0, 0, 2};
static const uint8_t other_ip[4] = {169, 254, 169, 253};

#define GUEST_PORT 40000
#define TCP_FIN	   0x01
#define TCP_SYN	   0x02
#define TCP_RST	   0x04
#define TCP_PSH	   0x08
#define TCP_ACK	   0x10
#define OUT_MAX	   65536
#define REQ	   "GET / HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static uint32_t sum_add(uint32_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += rd16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t sum_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* The TCP checksum over the pseudo header and (tcp, len); 0 when (tcp) holds a correct one. */
static uint16_t tcp_sum(const uint8_t *src, const uint8_t *dst, const uint8_t *tcp, size_t len)
{
	uint32_t acc = sum_add(0, src, 4);

	acc = sum_add(acc, dst, 4);
	acc += 6 + (uint32_t)len;
	return sum_fold(sum_add(acc, tcp, len));
}

/* A segment the guest sends. */
struct seg_in {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	bool zero_win; /* a window of 0 (win 0 means the default, 65535) */
	uint16_t mss;  /* an MSS option when non-zero */
	const void *data;
	size_t len;
};

/* The Ethernet + IPv4 + TCP frame for (in), padded to Ethernet's 60 bytes; its length. */
static size_t build_tcp(uint8_t *f, const struct seg_in *in)
{
	size_t opt = in->mss ? 4 : 0, tcp_len = 20 + opt + in->len, len = 14 + 20 + tcp_len;
	uint8_t *ip = f + 14, *tcp = f + 34;

	memset(f, 0, len < 60 ? 60 : len);
	memcpy(f, mmds_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	wr16(f + 12, 0x0800);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(20 + tcp_len));
	wr16(ip + 4, 0x1234);
	wr16(ip + 6, 0x4000); /* DF: not a fragment */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, guest_ip, 4);
	memcpy(ip + 16, mmds_ip, 4);
	wr16(ip + 10, sum_fold(sum_add(0, ip, 20)));
	wr16(tcp, in->sport);
	wr16(tcp + 2, in->dport);
	wr32(tcp + 4, in->seq);
	wr32(tcp + 8, in->ack);
	tcp[12] = (uint8_t)((20 + opt) / 4) << 4;
	tcp[13] = in->flags;
	wr16(tcp + 14, in->zero_win ? 0 : in->win ? in->win : 65535);
	if (in->mss) {
		tcp[20] = 2;
		tcp[21] = 4;
		wr16(tcp + 22, in->mss);
	}
	if (in->len)
		memcpy(tcp + 20 + opt, in->data, in->len);
	wr16(tcp + 16, tcp_sum(guest_ip, mmds_ip, tcp, tcp_len));
	return len < 60 ? 60 : len;
}

/* The ARP packet (oper) from the guest asking for (target); its length (60, padded). */
static size_t build_arp(uint8_t *f, uint16_t oper, const uint8_t *target)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	wr16(f + 12, 0x0806);
	wr16(f + 14, 1);
	wr16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	wr16(f + 20, oper);
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, guest_ip, 4);
	memcpy(f + 38, target, 4);
	return 60;
}

/* Recompute the IPv4 header checksum after a test changed the header. */
static void fix_ip_sum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	if (ihl < 20)
		ihl = 20;
	wr16(ip + 10, 0);
	wr16(ip + 10, sum_fold(sum_add(0, ip, ihl)));
}

/* A segment the stack sent, checked on the way: addresses, lengths, both checksums. */
struct seg_out {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t sport, dport, win, mss;
	uint8_t data[OUT_MAX];
	size_t len;
};

static void parse_tcp(const uint8_t *f, size_t len, struct seg_out *o)
{
	const uint8_t *ip = f + 14, *tcp;
	size_t ihl, total, doff, i;

	assert_true(len >= 14 + 20 + 20);
	assert_memory_equal(f, guest_mac, 6);
	assert_memory_equal(f + 6, mmds_mac, 6);
	assert_int_equal(rd16(f + 12), 0x0800);
	assert_int_equal(ip[0] >> 4, 4);
	ihl = (size_t)(ip[0] & 0xf) * 4;
	assert_true(ihl >= 20);
	total = rd16(ip + 2);
	assert_true(total <= len - 14 && total >= ihl + 20);
	assert_int_equal(rd16(ip + 6) & 0x3fff, 0); /* not a fragment */
	assert_true(ip[8] > 0);
	assert_int_equal(ip[9], 6);
	assert_int_equal(sum_fold(sum_add(0, ip, ihl)), 0);
	assert_memory_equal(ip + 12, mmds_ip, 4);
	assert_memory_equal(ip + 16, guest_ip, 4);
	tcp = ip + ihl;
	assert_int_equal(tcp_sum(mmds_ip, guest_ip, tcp, total - ihl), 0);
	doff = (size_t)(tcp[12] >> 4) * 4;
	assert_true(doff >= 20 && doff <= total - ihl);
	memset(o, 0, offsetof(struct seg_out, data));
	o->sport = rd16(tcp);
	o->dport = rd16(tcp + 2);
	o->seq = rd32(tcp + 4);
	o->ack = rd32(tcp + 8);
	o->flags = tcp[13];
	o->win = rd16(tcp + 14);
	for (i = 20; i < doff;) {
		if (tcp[i] == 0)
			break;
		if (tcp[i] == 1) {
			i++;
			continue;
		}
		assert_true(i + 1 < doff && tcp[i + 1] >= 2 && i + tcp[i + 1] <= doff);
		if (tcp[i] == 2 && tcp[i + 1] == 4)
			o->mss = rd16(tcp + i + 2);
		i += tcp[i + 1];
	}
	o->len = total - ihl - doff;
	memcpy(o->data, tcp + doff, o->len);
	assert_int_equal(o->sport, MMDS_PORT);
}

/* What the fake serve function and the ISN function do, and what they saw. */
struct fake {
	uint32_t isn;
	unsigned int isn_calls, serve_calls, replies;
	size_t max_seen;   /* the most bytes serve was handed at once */
	size_t body_len;   /* of each reply's body */
	bool close;	   /* ask the stack to close after a reply */
	bool never_done;   /* never see a complete request */
	uint8_t reply[16384];
	size_t reply_len;
};

static uint32_t fake_isn(void *opaque)
{
	struct fake *f = opaque;

	f->isn_calls++;
	return f->isn;
}

/* A request ends at "\r\n\r\n"; the answer is a 200 with (body_len) bytes of body. */
static long fake_serve(void *opaque, const uint8_t *in, size_t len, uint64_t now_ms,
		       uint8_t **reply, size_t *reply_len, bool *close)
{
	struct fake *f = opaque;
	const uint8_t *end;
	size_t i, n;

	(void)now_ms;
	f->serve_calls++;
	if (len > f->max_seen)
		f->max_seen = len;
	if (f->never_done)
		return 0;
	end = memmem(in, len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	n = (size_t)snprintf((char *)f->reply, sizeof(f->reply),
			     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", f->body_len);
	for (i = 0; i < f->body_len; i++)
		f->reply[n + i] = f->body_len == 2 ? "ok"[i] : (uint8_t)('a' + i % 26);
	f->reply_len = n + f->body_len;
	*reply = malloc(f->reply_len);
	assert_non_null(*reply);
	memcpy(*reply, f->reply, f->reply_len);
	*reply_len = f->reply_len;
	*close = f->close;
	f->replies++;
	return (long)(end - in) + 4;
}

struct rig {
	struct mmds_stack *s;
	struct fake f;
	uint64_t now;
	uint8_t frame[16384];
	uint8_t out[OUT_MAX];
	unsigned int taken; /* frames handed to mmds_stack_take */
	uint64_t sent_frames, sent_bytes;
};

static struct rig *rig_new(uint32_t isn)
{
	struct rig *r = calloc(1, sizeof(*r));
	uint32_t ip;

	assert_non_null(r);
	memcpy(&ip, mmds_ip, 4);
	r->f.isn = isn;
	r->f.body_len = 2;
	r->now = 1000;
	r->s = mmds_stack_create(ip, fake_serve, fake_isn, &r->f);
	assert_non_null(r->s);
	return r;
}

static void rig_free(struct rig *r)
{
	mmds_stack_destroy(r->s);
	free(r);
}

static struct mmds_stack_stats stats(struct rig *r)
{
	struct mmds_stack_stats st;

	mmds_stack_stats(r->s, &st);
	return st;
}

/* Hand (len) bytes of r->frame to the stack, as the detour would: only when it wants them. */
static void take_csum(struct rig *r, size_t len, bool csum_partial)
{
	assert_true(mmds_stack_wants(r->s, r->frame, len < MMDS_PEEK_LEN ? len : MMDS_PEEK_LEN));
	mmds_stack_take(r->s, r->frame, len, csum_partial, r->now);
	r->taken++;
}

static void take(struct rig *r, size_t len)
{
	take_csum(r, len, false);
}

static void send_seg(struct rig *r, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
		     const void *data, size_t len)
{
	struct seg_in in = {.sport = sport, .dport = MMDS_PORT, .seq = seq, .ack = ack,
			    .flags = flags, .data = data, .len = len};

	take(r, build_tcp(r->frame, &in));
}

/* The next frame the stack has now, or 0. */
static size_t next(struct rig *r)
{
	size_t n = mmds_stack_next_frame(r->s, r->out, sizeof(r->out), r->now);

	assert_true(n <= sizeof(r->out));
	if (n) {
		r->sent_frames++;
		r->sent_bytes += n;
	}
	return n;
}

/* Every TCP segment the stack has now, into (segs); how many. pending() agrees with them. */
static unsigned int drain(struct rig *r, struct seg_out *segs, unsigned int max)
{
	unsigned int n = 0;
	size_t len;

	for (;;) {
		bool pending = mmds_stack_pending(r->s, r->now);

		len = next(r);
		assert_int_equal(pending, len != 0);
		if (!len)
			return n;
		assert_true(n < max);
		parse_tcp(r->out, len, &segs[n++]);
	}
}

/* Three-way handshake from (sport) with the guest's ISN (giss); the stack's next seq. */
static uint32_t establish(struct rig *r, uint16_t sport, uint32_t giss, uint16_t mss)
{
	struct seg_out *o = malloc(sizeof(*o) * 4);
	struct seg_in in = {.sport = sport, .dport = MMDS_PORT, .seq = giss, .flags = TCP_SYN,
			    .mss = mss};
	uint32_t iss;

	assert_non_null(o);
	take(r, build_tcp(r->frame, &in));
	assert_int_equal(drain(r, o, 4), 1);
	assert_int_equal(o[0].flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN), TCP_SYN | TCP_ACK);
	assert_int_equal(o[0].dport, sport);
	assert_int_equal(o[0].seq, r->f.isn);
	assert_int_equal(o[0].ack, giss + 1);
	assert_int_equal(o[0].len, 0);
	assert_true(o[0].win > 0);
	iss = o[0].seq;
	free(o);
	send_seg(r, sport, giss + 1, iss + 1, TCP_ACK, NULL, 0);
	return iss + 1;
}

/*
 * The response bytes in (segs, n) from sequence number (start) on into (buf), which holds
 * (got) of them already: each byte once whatever the segmentation, a byte sent again the
 * same, no hole; every data segment carries ACK. How many (buf) holds now.
 */
static size_t collect_more(const struct seg_out *segs, unsigned int n, uint32_t start,
			   uint8_t *buf, size_t size, size_t got)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t off = segs[i].seq - start;

		if (!segs[i].len)
			continue;
		assert_true(segs[i].flags & TCP_ACK);
		assert_false(segs[i].flags & (TCP_SYN | TCP_RST));
		assert_true(off <= got); /* no hole */
		assert_true(off + segs[i].len <= size);
		assert_memory_equal(buf + off, segs[i].data,
				    off + segs[i].len <= got ? segs[i].len : got - off);
		memcpy(buf + off, segs[i].data, segs[i].len);
		if (off + segs[i].len > got)
			got = off + segs[i].len;
	}
	return got;
}

static size_t collect(const struct seg_out *segs, unsigned int n, uint32_t start, uint8_t *buf,
		      size_t size)
{
	return collect_more(segs, n, start, buf, size, 0);
}

static struct seg_out *segs_new(void)
{
	struct seg_out *s = malloc(sizeof(*s) * 64);

	assert_non_null(s);
	return s;
}

static void test_wants(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 1, .flags = TCP_SYN};
	size_t len;

	(void)state;
	len = build_arp(r->frame, 1, mmds_ip);
	assert_true(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	assert_true(mmds_stack_wants(r->s, r->frame, len < MMDS_PEEK_LEN ? len : MMDS_PEEK_LEN));
	build_arp(r->frame, 1, other_ip);
	assert_false(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	build_arp(r->frame, 1, mmds_ip);
	/* Shorter than Ethernet + ARP: not an ARP packet for anyone. */
	assert_false(mmds_stack_wants(r->s, r->frame, 30));
	assert_false(mmds_stack_wants(r->s, r->frame, 10));
	assert_false(mmds_stack_wants(r->s, r->frame, 0));

	build_tcp(r->frame, &in);
	assert_true(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	assert_true(mmds_stack_wants(r->s, r->frame, 34));
	assert_false(mmds_stack_wants(r->s, r->frame, 33));
	assert_false(mmds_stack_wants(r->s, r->frame, 13));
	memcpy(r->frame + 14 + 16, other_ip, 4);
	fix_ip_sum(r->frame);
	assert_false(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	/* The address in the source field is not the destination. */
	build_tcp(r->frame, &in);
	memcpy(r->frame + 14 + 12, mmds_ip, 4);
	memcpy(r->frame + 14 + 16, guest_ip, 4);
	assert_false(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	/* Another ethertype (IPv6) with the same bytes after it. */
	build_tcp(r->frame, &in);
	wr16(r->frame + 12, 0x86dd);
	assert_false(mmds_stack_wants(r->s, r->frame, MMDS_PEEK_LEN));
	/* wants() alone changes nothing. */
	assert_false(mmds_stack_pending(r->s, r->now));
	assert_int_equal(stats(r).rx_accepted, 0);
	rig_free(r);
}

static void test_arp_reply(void **state)
{
	struct rig *r = rig_new(1000);
	size_t len;
	uint8_t *a;

	(void)state;
	take(r, build_arp(r->frame, 1, mmds_ip));
	assert_true(mmds_stack_pending(r->s, r->now));
	len = next(r);
	assert_true(len >= 42);
	a = r->out;
	assert_memory_equal(a, guest_mac, 6);
	assert_memory_equal(a + 6, mmds_mac, 6);
	assert_int_equal(rd16(a + 12), 0x0806);
	assert_int_equal(rd16(a + 14), 1);
	assert_int_equal(rd16(a + 16), 0x0800);
	assert_int_equal(a[18], 6);
	assert_int_equal(a[19], 4);
	assert_int_equal(rd16(a + 20), 2);
	assert_memory_equal(a + 22, mmds_mac, 6);
	assert_memory_equal(a + 28, mmds_ip, 4);
	assert_memory_equal(a + 32, guest_mac, 6);
	assert_memory_equal(a + 38, guest_ip, 4);
	/* One request, one reply. */
	assert_int_equal(next(r), 0);
	assert_false(mmds_stack_pending(r->s, r->now));
	assert_int_equal(mmds_stack_deadline(r->s), UINT64_MAX);
	/* An ARP reply (oper 2) naming the address is not a question: no answer. */
	take(r, build_arp(r->frame, 2, mmds_ip));
	assert_int_equal(next(r), 0);
	assert_int_equal(stats(r).rx_accepted, 2);
	assert_int_equal(stats(r).tx_frames, 1);
	assert_int_equal(stats(r).tx_bytes, len);
	rig_free(r);
}

/* SYN, request in two segments, response, guest's FIN, the stack's FIN, the last ACK. */
static void test_exchange(void **state)
{
	struct rig *r = rig_new(0x10000000);
	struct seg_out *o = segs_new();
	struct seg_in syn = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 5000,
			     .flags = TCP_SYN, .mss = 1460};
	const char *req = REQ;
	size_t half = 10, reqlen = strlen(req), got;
	uint32_t snd, rcv = 5001;
	uint8_t resp[16384];
	unsigned int n, i;
	struct mmds_stack_stats st;
	bool fin_acked = false, fin_sent = false;
	uint32_t fin_seq = 0;

	(void)state;
	take(r, build_tcp(r->frame, &syn));
	n = drain(r, o, 64);
	assert_int_equal(n, 1);
	assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	assert_int_equal(o[0].seq, 0x10000000);
	assert_int_equal(o[0].ack, 5001);
	assert_int_equal(o[0].dport, GUEST_PORT);
	assert_true(o[0].mss == 0 || o[0].mss >= 536);
	assert_int_equal(r->f.isn_calls, 1);
	snd = o[0].seq + 1;
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK, NULL, 0);
	/* A bare ACK of the SYN-ACK needs no answer. */
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).connections_created, 1);

	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK | TCP_PSH, req, half);
	rcv += half;
	n = drain(r, o, 64);
	for (i = 0; i < n; i++) { /* at most an ACK of the first part */
		assert_int_equal(o[i].len, 0);
		assert_int_equal(o[i].flags & (TCP_RST | TCP_FIN | TCP_SYN), 0);
		assert_int_equal(o[i].ack, rcv);
	}
	assert_int_equal(r->f.replies, 0);
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK | TCP_PSH, req + half, reqlen - half);
	rcv += reqlen - half;
	assert_int_equal(r->f.replies, 1);
	n = drain(r, o, 64);
	assert_true(n >= 1);
	got = collect(o, n, snd, resp, sizeof(resp));
	assert_int_equal(got, r->f.reply_len);
	assert_memory_equal(resp, r->f.reply, got);
	/* The request is acknowledged by the last segment sent, and no FIN yet. */
	assert_int_equal(o[n - 1].ack, rcv);
	for (i = 0; i < n; i++)
		assert_int_equal(o[i].flags & (TCP_FIN | TCP_RST | TCP_SYN), 0);
	assert_true(o[n - 1].len <= 1460);
	snd += (uint32_t)got;

	/* The guest acknowledges the response and closes. */
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK, NULL, 0);
	assert_int_equal(drain(r, o, 64), 0);
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK | TCP_FIN, NULL, 0);
	rcv++;
	n = drain(r, o, 64);
	assert_true(n >= 1 && n <= 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(o[i].flags & (TCP_RST | TCP_SYN), 0);
		assert_true(o[i].flags & TCP_ACK);
		assert_int_equal(o[i].len, 0);
		assert_int_equal(o[i].seq, snd);
		if (o[i].ack == rcv)
			fin_acked = true;
		if (o[i].flags & TCP_FIN) {
			fin_sent = true;
			fin_seq = o[i].seq;
		}
	}
	assert_true(fin_acked);
	/* A server with nothing left to send closes its side too (LAST-ACK). */
	assert_true(fin_sent);
	assert_int_equal(fin_seq, snd);
	send_seg(r, GUEST_PORT, rcv, fin_seq + 1, TCP_ACK, NULL, 0);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(mmds_stack_deadline(r->s), UINT64_MAX);

	st = stats(r);
	assert_int_equal(st.connections_created, 1);
	assert_int_equal(st.connections_destroyed, 1);
	assert_int_equal(st.rx_accepted, r->taken);
	assert_int_equal(st.rx_accepted_err, 0);
	assert_int_equal(st.rx_bytes, reqlen);
	assert_int_equal(st.rx_count, 2);
	assert_int_equal(st.tx_count, 1);
	assert_int_equal(st.tx_frames, r->sent_frames);
	assert_int_equal(st.tx_bytes, r->sent_bytes);
	assert_int_equal(st.tx_errors, 0);
	assert_int_equal(st.rx_dropped, 0);
	free(o);
	rig_free(r);
}

/*
 * A response bigger than the guest's MSS, sequence numbers that wrap, the guest's window
 * respected, serve asking to close: data in MSS-sized segments, then the stack's FIN.
 */
static void test_segmentation_and_close(void **state)
{
	struct rig *r = rig_new(0xfffffc00);
	struct seg_out *o = segs_new();
	uint8_t resp[16384];
	uint32_t snd, rcv = 0xffffff00, start, fin = 0;
	size_t got = 0, reqlen = strlen(REQ);
	unsigned int n, i, rounds;
	bool have_fin = false;

	(void)state;
	r->f.body_len = 3000;
	r->f.close = true;
	snd = establish(r, GUEST_PORT, rcv - 1, 536);
	start = snd;
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK | TCP_PSH, REQ, reqlen);
	rcv += (uint32_t)reqlen;
	/* Acknowledge what came each round, until the FIN. */
	for (rounds = 0; rounds < 50 && !have_fin; rounds++) {
		uint32_t high = snd;

		n = drain(r, o, 64);
		assert_true(n > 0);
		got = collect_more(o, n, start, resp, sizeof(resp), got);
		for (i = 0; i < n; i++) {
			assert_true(o[i].len <= 536);
			assert_int_equal(o[i].ack, rcv);
			assert_false(o[i].flags & TCP_RST);
			if (o[i].seq + (uint32_t)o[i].len - high < 0x80000000u)
				high = o[i].seq + (uint32_t)o[i].len;
			if (o[i].flags & TCP_FIN) {
				have_fin = true;
				fin = o[i].seq + (uint32_t)o[i].len;
			}
		}
		snd = high;
		send_seg(r, GUEST_PORT, rcv, snd + (have_fin ? 1 : 0), TCP_ACK, NULL, 0);
	}
	assert_true(have_fin);
	assert_int_equal(got, r->f.reply_len);
	assert_memory_equal(resp, r->f.reply, got);
	/* The FIN comes after the last byte of the response. */
	assert_int_equal(fin, start + (uint32_t)got);
	/* The guest's FIN: acknowledged. */
	send_seg(r, GUEST_PORT, rcv, fin + 1, TCP_ACK | TCP_FIN, NULL, 0);
	n = drain(r, o, 64);
	assert_true(n >= 1);
	assert_int_equal(o[n - 1].ack, rcv + 1);
	assert_false(o[n - 1].flags & (TCP_RST | TCP_SYN));
	assert_int_equal(stats(r).tx_count, 1);
	assert_int_equal(r->f.replies, 1);
	free(o);
	rig_free(r);
}

/* An acceptable RST ends the connection; later segments for it reach no serve. */
static void test_rst_from_guest(void **state)
{
	struct rig *r = rig_new(7777);
	struct seg_out *o = segs_new();
	uint32_t snd;
	unsigned int n, i;

	(void)state;
	snd = establish(r, GUEST_PORT, 100, 1460);
	send_seg(r, GUEST_PORT, 101, snd, TCP_RST, NULL, 0);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).connections_destroyed, 1);
	assert_int_equal(mmds_stack_deadline(r->s), UINT64_MAX);
	send_seg(r, GUEST_PORT, 101, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.serve_calls, 0);
	n = drain(r, o, 64);
	for (i = 0; i < n; i++) { /* a reset for a connection it no longer has, or nothing */
		assert_true(o[i].flags & TCP_RST);
		assert_int_equal(o[i].len, 0);
	}
	free(o);
	rig_free(r);
}

/*
 * A SYN to a port other than 80: no connection; a RST (RFC 9293 3.10.7.1) or nothing,
 * per the header's "unexpected ones are dropped". Read without parse_tcp(), which wants
 * port 80 as the source.
 */
static void test_closed_port(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_in in = {.sport = GUEST_PORT, .dport = 81, .seq = 9000, .flags = TCP_SYN};
	const uint8_t *ip, *tcp;
	size_t len;

	(void)state;
	take(r, build_tcp(r->frame, &in));
	len = next(r);
	if (len) {
		ip = r->out + 14;
		tcp = ip + (ip[0] & 0xf) * 4;
		assert_int_equal(sum_fold(sum_add(0, ip, 20)), 0);
		assert_int_equal(tcp_sum(mmds_ip, guest_ip, tcp, rd16(ip + 2) - (ip[0] & 0xf) * 4),
				 0);
		assert_int_equal(rd16(tcp), 81);
		assert_int_equal(rd16(tcp + 2), GUEST_PORT);
		assert_true(tcp[13] & TCP_RST);
		/* RFC 9293: the SYN had no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
		assert_true(tcp[13] & TCP_ACK);
		assert_int_equal(rd32(tcp + 8), 9001);
	} else {
		print_message("closed port: the SYN was dropped, not reset\n");
	}
	assert_int_equal(next(r), 0);
	assert_int_equal(stats(r).connections_created, 0);
	assert_int_equal(r->f.isn_calls, 0);
	rig_free(r);
}

static void test_checksums(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 1, .flags = TCP_SYN};
	size_t len;

	(void)state;
	/* A bad IPv4 header checksum. */
	len = build_tcp(r->frame, &in);
	r->frame[14 + 10] ^= 0x55;
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 1);
	/* A bad TCP checksum: dropped when the guest computed it... */
	len = build_tcp(r->frame, &in);
	r->frame[34 + 16] ^= 0x55;
	take_csum(r, len, false);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 2);
	assert_int_equal(stats(r).connections_created, 0);
	assert_int_equal(r->f.isn_calls, 0);
	/* ...not looked at when it left the checksum to the device. */
	take_csum(r, len, true);
	assert_int_equal(drain(r, o, 64), 1);
	assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	assert_int_equal(o[0].ack, 2);
	assert_int_equal(stats(r).rx_accepted_err, 2);
	assert_int_equal(stats(r).rx_accepted, 3);
	free(o);
	rig_free(r);
}

/* Malformed or unusual IPv4 and TCP headers: nothing answers them, each is counted. */
static void test_malformed(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 1, .flags = TCP_SYN};
	struct mmds_stack_stats st;
	uint64_t bad;
	size_t len;

	(void)state;
	/* Total length past the frame's end (the frame cut short). */
	len = build_tcp(r->frame, &in);
	wr16(r->frame + 14 + 2, 200);
	fix_ip_sum(r->frame);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 1);
	/* The frame itself shorter than IPv4 + TCP headers. */
	len = build_tcp(r->frame, &in);
	take(r, 14 + 20 + 10);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 2);
	/* IHL below 5. */
	len = build_tcp(r->frame, &in);
	r->frame[14] = 0x44;
	fix_ip_sum(r->frame);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 3);
	/* TCP data offset below 5. */
	len = build_tcp(r->frame, &in);
	r->frame[34 + 12] = 0x40;
	wr16(r->frame + 34 + 16, 0);
	wr16(r->frame + 34 + 16, tcp_sum(guest_ip, mmds_ip, r->frame + 34, 20));
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	assert_int_equal(stats(r).rx_accepted_err, 4);
	/* A first fragment (MF), a later one (offset): well-formed, not reassembled. */
	st = stats(r);
	bad = st.rx_accepted_err + st.rx_accepted_unusual + st.rx_dropped;
	len = build_tcp(r->frame, &in);
	wr16(r->frame + 14 + 6, 0x2000);
	fix_ip_sum(r->frame);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	len = build_tcp(r->frame, &in);
	wr16(r->frame + 14 + 6, 0x0010);
	fix_ip_sum(r->frame);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	st = stats(r);
	assert_int_equal(st.rx_accepted_err + st.rx_accepted_unusual + st.rx_dropped, bad + 2);
	/* Not TCP (UDP): not served. */
	len = build_tcp(r->frame, &in);
	r->frame[14 + 9] = 17;
	fix_ip_sum(r->frame);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 0);
	/* Shorter than Ethernet, taken anyway: counted, no harm. */
	mmds_stack_take(r->s, r->frame, 10, false, r->now);
	assert_int_equal(stats(r).rx_bad_eth, 1);
	assert_int_equal(drain(r, o, 64), 0);
	st = stats(r);
	assert_int_equal(st.connections_created, 0);
	assert_int_equal(r->f.isn_calls, 0);
	/* The same SYN untouched, padded to 60 bytes, is taken: the padding is not data. */
	len = build_tcp(r->frame, &in);
	assert_int_equal(len, 60);
	take(r, len);
	assert_int_equal(drain(r, o, 64), 1);
	assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	assert_int_equal(o[0].ack, 2);
	free(o);
	rig_free(r);
}

/* Data outside the receive window reaches no serve; at most an ACK answers it (RFC 9293). */
static void test_out_of_window(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	uint64_t dropped;
	uint32_t snd;
	unsigned int n, i;

	(void)state;
	snd = establish(r, GUEST_PORT, 100, 1460);
	dropped = stats(r).rx_dropped;
	send_seg(r, GUEST_PORT, 101 + 100000, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	send_seg(r, GUEST_PORT, 101 - 1000, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.serve_calls, 0);
	assert_int_equal(stats(r).rx_bytes, 0);
	assert_int_equal(stats(r).rx_dropped, dropped + 2);
	n = drain(r, o, 64);
	assert_true(n <= 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(o[i].flags & (TCP_RST | TCP_SYN | TCP_FIN), 0);
		assert_true(o[i].flags & TCP_ACK);
		assert_int_equal(o[i].len, 0);
		assert_int_equal(o[i].ack, 101);
	}
	/* The connection is still there: the request in order is served. */
	send_seg(r, GUEST_PORT, 101, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.replies, 1);
	n = drain(r, o, 64);
	assert_true(n >= 1);
	assert_int_equal(o[n - 1].ack, 101 + strlen(REQ));
	free(o);
	rig_free(r);
}

/*
 * A request that never completes: serve never sees more than MMDS_REQUEST_MAX bytes, and
 * the connection is reset rather than left with a full buffer and a closed window.
 */
static void test_request_too_big(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	uint8_t chunk[1000];
	uint32_t snd, seq = 101;
	uint16_t win = 65535;
	unsigned int n, i, round;
	bool reset = false;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	r->f.never_done = true;
	snd = establish(r, GUEST_PORT, 100, 1460);
	for (round = 0; round < 40 && !reset; round++) {
		size_t len = win < sizeof(chunk) ? win : sizeof(chunk);

		if (!len)
			break;
		send_seg(r, GUEST_PORT, seq, snd, TCP_ACK, chunk, len);
		seq += (uint32_t)len;
		n = drain(r, o, 64);
		for (i = 0; i < n; i++) {
			if (o[i].flags & TCP_RST)
				reset = true;
			else
				win = o[i].win;
		}
	}
	assert_true(r->f.max_seen <= MMDS_REQUEST_MAX);
	/* MARK(request-too-big): the stack must reset, not stall with a zero window. */
	assert_true(reset);
	assert_int_equal(stats(r).connections_destroyed, 1);
	assert_int_equal(r->f.replies, 0);
	free(o);
	rig_free(r);
}

/* SYNs past MMDS_MAX_CONNECTIONS: refused (a RST or nothing), counted, no state made. */
static void test_connection_limit(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	struct mmds_stack_stats st;
	unsigned int i, n, extra = 3;
	uint64_t dropped;

	(void)state;
	for (i = 0; i < MMDS_MAX_CONNECTIONS; i++) {
		struct seg_in in = {.sport = (uint16_t)(GUEST_PORT + i), .dport = MMDS_PORT,
				    .seq = 100 * i, .flags = TCP_SYN};

		take(r, build_tcp(r->frame, &in));
		assert_int_equal(drain(r, o, 64), 1);
		assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	}
	dropped = stats(r).rx_dropped;
	for (i = 0; i < extra; i++) {
		struct seg_in in = {.sport = (uint16_t)(GUEST_PORT + 1000 + i),
				    .dport = MMDS_PORT, .seq = 7, .flags = TCP_SYN};

		take(r, build_tcp(r->frame, &in));
		n = drain(r, o, 64);
		assert_true(n <= 1);
		if (n)
			assert_int_equal(o[0].flags & (TCP_RST | TCP_SYN), TCP_RST);
	}
	st = stats(r);
	assert_int_equal(st.connections_created, MMDS_MAX_CONNECTIONS);
	assert_int_equal(st.rx_dropped, dropped + extra);
	/* The first connection still works. */
	send_seg(r, GUEST_PORT, 1, 1001, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.replies, 1);
	free(o);
	rig_free(r);
}

/* Unacknowledged data comes again at the deadline; once acknowledged, no deadline. */
static void test_retransmission(void **state)
{
	struct rig *r = rig_new(0x20000000);
	struct seg_out *o = segs_new(), *again = segs_new();
	uint32_t snd, rcv = 101;
	uint64_t dl, first;
	unsigned int n, m, i, k;
	size_t got;
	uint8_t resp[16384];

	(void)state;
	snd = establish(r, GUEST_PORT, 100, 1460);
	send_seg(r, GUEST_PORT, rcv, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	rcv += strlen(REQ);
	n = drain(r, o, 64);
	got = collect(o, n, snd, resp, sizeof(resp));
	assert_int_equal(got, r->f.reply_len);
	dl = mmds_stack_deadline(r->s);
	assert_true(dl != UINT64_MAX);
	assert_true(dl > r->now);
	first = dl;
	/* Not before its time. */
	r->now = dl - 1;
	assert_false(mmds_stack_pending(r->s, r->now));
	assert_int_equal(next(r), 0);
	/* At it: the same bytes at the same sequence numbers. */
	r->now = dl;
	m = drain(r, again, 64);
	assert_true(m >= 1);
	for (i = 0; i < m; i++) {
		if (!again[i].len)
			continue;
		for (k = 0; k < n; k++)
			if (o[k].len && o[k].seq == again[i].seq)
				break;
		assert_true(k < n);
		assert_int_equal(again[i].len, o[k].len);
		assert_memory_equal(again[i].data, o[k].data, o[k].len);
	}
	assert_int_equal(again[0].seq, snd);
	assert_true(again[0].len > 0);
	/* The next deadline is later still (backing off, or at least not now). */
	dl = mmds_stack_deadline(r->s);
	assert_true(dl > r->now);
	assert_true(dl - r->now >= first - 1000 || dl == UINT64_MAX);
	/* The guest acknowledges all: nothing more to retransmit. */
	send_seg(r, GUEST_PORT, rcv, snd + (uint32_t)got, TCP_ACK, NULL, 0);
	assert_int_equal(drain(r, o, 64), 0);
	for (i = 0; i < 8 && mmds_stack_deadline(r->s) != UINT64_MAX; i++) {
		r->now = mmds_stack_deadline(r->s);
		n = drain(r, o, 64);
		for (k = 0; k < n; k++)
			assert_int_equal(o[k].len, 0);
	}
	r->now += 10 * 60 * 1000;
	n = drain(r, o, 64);
	for (k = 0; k < n; k++)
		assert_int_equal(o[k].len, 0);
	free(o);
	free(again);
	rig_free(r);
}

/* An unanswered SYN-ACK comes again too, with the same sequence number. */
static void test_synack_retransmission(void **state)
{
	struct rig *r = rig_new(0x30000000);
	struct seg_out *o = segs_new();
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 50, .flags = TCP_SYN};
	uint64_t dl;

	(void)state;
	take(r, build_tcp(r->frame, &in));
	assert_int_equal(drain(r, o, 64), 1);
	dl = mmds_stack_deadline(r->s);
	assert_true(dl != UINT64_MAX && dl > r->now);
	r->now = dl;
	assert_int_equal(drain(r, o, 64), 1);
	assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	assert_int_equal(o[0].seq, 0x30000000);
	assert_int_equal(o[0].ack, 51);
	assert_int_equal(r->f.isn_calls, 1);
	free(o);
	rig_free(r);
}

/* An ACK from the guest with window (win), 0 meaning a closed window. */
static void send_ack_win(struct rig *r, uint32_t seq, uint32_t ack, uint16_t win)
{
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = seq, .ack = ack,
			    .flags = TCP_ACK, .win = win, .zero_win = win == 0};

	take(r, build_tcp(r->frame, &in));
}

/*
 * The guest's window closes mid-response. The stack probes it with one byte at its
 * backed-off pace for as long as the guest answers (Linux drops the byte, and answers),
 * never resets a guest that answers, and once the window opens sends on from the first
 * byte not acknowledged: no hole where the dropped probe byte was.
 */
static void test_zero_window(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	struct seg_in syn = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 100,
			     .flags = TCP_SYN, .win = 1000};
	uint8_t resp[16384];
	uint32_t snd = 1001, rcv = 101 + (uint32_t)strlen(REQ);
	unsigned int n, i, round;
	size_t got;
	uint64_t last_gap = 0;

	(void)state;
	r->f.body_len = 3000;
	take(r, build_tcp(r->frame, &syn));
	assert_int_equal(drain(r, o, 64), 1);
	send_ack_win(r, 101, snd, 1000);
	syn.flags = TCP_ACK | TCP_PSH;
	syn.seq = 101;
	syn.ack = snd;
	syn.data = REQ;
	syn.len = strlen(REQ);
	take(r, build_tcp(r->frame, &syn));
	n = drain(r, o, 64);
	got = collect(o, n, snd, resp, sizeof(resp));
	assert_int_equal(got, 1000); /* the guest's window, no more */
	/* It takes those 1000 bytes and its window closes: nothing goes, but a timer runs. */
	send_ack_win(r, rcv, snd + 1000, 0);
	assert_int_equal(drain(r, o, 64), 0);
	assert_true(mmds_stack_deadline(r->s) != UINT64_MAX);
	for (round = 0; round < 10; round++) {
		uint64_t at = mmds_stack_deadline(r->s);

		assert_true(at > r->now);
		if (round > 2)
			assert_true(at - r->now >= last_gap); /* backed off, not faster */
		last_gap = at - r->now;
		r->now = at;
		n = drain(r, o, 64);
		assert_int_equal(n, 1);
		assert_false(o[0].flags & TCP_RST);
		assert_int_equal(o[0].seq, snd + 1000);
		assert_int_equal(o[0].len, 1);
		/* The probe's byte is dropped (the window is closed); the guest says so. */
		send_ack_win(r, rcv, snd + 1000, 0);
		assert_int_equal(drain(r, o, 64), 0);
	}
	/* The guest reads: the window opens, and the rest comes from byte 1000 on. */
	send_ack_win(r, rcv, snd + 1000, 65535);
	n = drain(r, o, 64);
	assert_true(n >= 1);
	assert_int_equal(o[0].seq, snd + 1000);
	for (i = 0; i < n; i++)
		assert_false(o[i].flags & TCP_RST);
	got = collect_more(o, n, snd, resp, sizeof(resp), 1000);
	assert_int_equal(got, r->f.reply_len);
	assert_memory_equal(resp, r->f.reply, got);
	free(o);
	rig_free(r);
}

/* A device reset: every connection gone, nothing sent for them, new ones work. */
static void test_reset(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	uint32_t snd;
	unsigned int n, i;

	(void)state;
	snd = establish(r, GUEST_PORT, 100, 1460);
	send_seg(r, GUEST_PORT, 101, snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	take(r, build_arp(r->frame, 1, mmds_ip));
	/* Responses and the ARP reply still waiting when the device resets. */
	mmds_stack_reset(r->s);
	assert_false(mmds_stack_pending(r->s, r->now));
	assert_int_equal(next(r), 0);
	assert_int_equal(mmds_stack_deadline(r->s), UINT64_MAX);
	r->now += 600000;
	assert_int_equal(next(r), 0);
	/* The old connection's segments serve nothing. */
	send_seg(r, GUEST_PORT, 101 + strlen(REQ), snd, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.replies, 1);
	n = drain(r, o, 64);
	for (i = 0; i < n; i++)
		assert_true(o[i].flags & TCP_RST);
	/* A new connection from the same port. */
	establish(r, GUEST_PORT, 5000, 1460);
	send_seg(r, GUEST_PORT, 5001, 1001, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
	assert_int_equal(r->f.replies, 2);
	assert_true(drain(r, o, 64) >= 1);
	free(o);
	rig_free(r);
}

/* No room for the frame: 0, and the frame is not lost (or the loss is counted). */
static void test_small_buffer(void **state)
{
	struct rig *r = rig_new(1000);
	struct seg_out *o = segs_new();
	struct seg_in in = {.sport = GUEST_PORT, .dport = MMDS_PORT, .seq = 1, .flags = TCP_SYN};
	size_t len;

	(void)state;
	take(r, build_arp(r->frame, 1, mmds_ip));
	assert_int_equal(mmds_stack_next_frame(r->s, r->out, 20, r->now), 0);
	len = next(r);
	if (len) {
		assert_true(len >= 42);
		assert_int_equal(rd16(r->out + 20), 2);
	} else {
		assert_int_equal(stats(r).tx_errors, 1);
	}
	take(r, build_tcp(r->frame, &in));
	assert_int_equal(mmds_stack_next_frame(r->s, r->out, 40, r->now), 0);
	if (mmds_stack_pending(r->s, r->now)) {
		assert_int_equal(drain(r, o, 64), 1);
	} else {
		assert_true(stats(r).tx_errors >= 1);
		/* The SYN-ACK is state the stack keeps: it comes at its retransmission. */
		r->now = mmds_stack_deadline(r->s);
		assert_int_equal(drain(r, o, 64), 1);
	}
	assert_int_equal(o[0].flags & 0x3f, TCP_SYN | TCP_ACK);
	assert_int_equal(stats(r).tx_frames, r->sent_frames);
	free(o);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wants),
	    cmocka_unit_test(test_arp_reply),
	    cmocka_unit_test(test_exchange),
	    cmocka_unit_test(test_segmentation_and_close),
	    cmocka_unit_test(test_rst_from_guest),
	    cmocka_unit_test(test_closed_port),
	    cmocka_unit_test(test_checksums),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_out_of_window),
	    cmocka_unit_test(test_request_too_big),
	    cmocka_unit_test(test_connection_limit),
	    cmocka_unit_test(test_retransmission),
	    cmocka_unit_test(test_synack_retransmission),
	    cmocka_unit_test(test_zero_window),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
