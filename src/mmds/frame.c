/*
 * Parsing and building of the MMDS stack's frames. Multi-byte fields are read and written
 * a byte at a time: frames sit at any alignment, and the host's byte order never shows.
 */
#include <string.h>

#include "frame.h"

#define IPPROTO_TCP_NUM 6
#define IPV4_DF		0x4000
#define IPV4_MF		0x2000
#define IPV4_OFFSET	0x1fff
#define IPV4_TTL	64
#define TCPOPT_END	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
/* Where the address a packet is for sits: in the ARP packet, in the IPv4 header. */
#define ARP_TARGET_IP	24
#define IPV4_DST	16

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The one's-complement sum of (p, n) as big-endian 16-bit words, added to (acc), not folded. */
static uint32_t sum_words(uint32_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += get16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	/* Fold as we go: a 64 KiB segment would otherwise come close to overflowing. */
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

static uint16_t sum_finish(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* The TCP checksum's start: the IPv4 pseudo header for a segment of (tcp_len) bytes. */
static uint32_t sum_pseudo(const uint8_t *src, const uint8_t *dst, size_t tcp_len)
{
	uint32_t acc = sum_words(0, src, 4);

	acc = sum_words(acc, dst, 4);
	return acc + IPPROTO_TCP_NUM + (uint32_t)tcp_len;
}

uint16_t frame_ethertype(const uint8_t *f, size_t len)
{
	return len < ETH_HDR ? 0 : get16(f + 12);
}

const uint8_t *frame_peek_ipv4_target(const uint8_t *f, size_t len)
{
	switch (frame_ethertype(f, len)) {
	case ETHERTYPE_ARP:
		return len >= ETH_HDR + ARP_LEN ? f + ETH_HDR + ARP_TARGET_IP : NULL;
	case ETHERTYPE_IPV4:
		return len >= ETH_HDR + IPV4_HDR ? f + ETH_HDR + IPV4_DST : NULL;
	default:
		return NULL;
	}
}

enum frame_verdict frame_parse_arp(const uint8_t *f, size_t len, struct arp_req *out)
{
	const uint8_t *a = f + ETH_HDR;

	if (len < ETH_HDR + ARP_LEN)
		return FRAME_MALFORMED;
	/* Ethernet hardware, IPv4 protocol, and the address lengths those have. */
	if (get16(a) != 1 || get16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4)
		return FRAME_MALFORMED;
	/* Replies, RARP and the like are for someone else. */
	if (get16(a + 6) != 1)
		return FRAME_UNUSUAL;
	/* A broadcast or multicast sender cannot be answered. */
	if (a[8] & 1)
		return FRAME_UNUSUAL;
	memcpy(out->sender_mac, a + 8, 6);
	memcpy(out->sender_ip, a + 14, 4);
	memcpy(out->target_ip, a + ARP_TARGET_IP, 4);
	return FRAME_OK;
}

/* Walk the TCP options in (opt, n): only the MSS is kept, every length is checked. */
static enum frame_verdict parse_tcp_options(const uint8_t *opt, size_t n, uint16_t *mss)
{
	size_t i = 0;

	*mss = 0;
	while (i < n) {
		uint8_t kind = opt[i], olen;

		if (kind == TCPOPT_END)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return FRAME_MALFORMED;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			return FRAME_MALFORMED;
		if (kind == TCPOPT_MSS) {
			if (olen != 4)
				return FRAME_MALFORMED;
			*mss = get16(opt + i + 2);
		}
		i += olen;
	}
	return FRAME_OK;
}

enum frame_verdict frame_parse_tcp(const uint8_t *f, size_t len, bool csum_partial,
				   struct tcp_seg *out)
{
	const uint8_t *ip = f + ETH_HDR, *tcp;
	size_t ihl, total, tcp_len, doff;
	uint16_t frag;

	if (len < ETH_HDR + IPV4_HDR + TCP_HDR)
		return FRAME_MALFORMED;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	total = get16(ip + 2);
	if (ip[0] >> 4 != 4 || ihl < IPV4_HDR || total < ihl || total > len - ETH_HDR)
		return FRAME_MALFORMED;
	if (sum_finish(sum_words(0, ip, ihl)) != 0)
		return FRAME_MALFORMED;
	/* Options in IPv4 (source routes and the like) and fragments: nothing a client sends us. */
	frag = get16(ip + 6);
	if (ihl != IPV4_HDR || (frag & (IPV4_MF | IPV4_OFFSET)) || ip[9] != IPPROTO_TCP_NUM)
		return FRAME_UNUSUAL;
	/* A source that is no one's (0.0.0.0, multicast, broadcast) cannot be answered. */
	if (ip[12] == 0 || ip[12] >= 224 || (f[6] & 1))
		return FRAME_UNUSUAL;
	tcp = ip + ihl;
	tcp_len = total - ihl;
	if (tcp_len < TCP_HDR)
		return FRAME_MALFORMED;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < TCP_HDR || doff > tcp_len)
		return FRAME_MALFORMED;
	if (!csum_partial &&
	    sum_finish(sum_words(sum_pseudo(ip + 12, ip + 16, tcp_len), tcp, tcp_len)) != 0)
		return FRAME_MALFORMED;
	if (parse_tcp_options(tcp + TCP_HDR, doff - TCP_HDR, &out->mss) != FRAME_OK)
		return FRAME_MALFORMED;
	memcpy(out->peer_mac, f + 6, 6);
	memcpy(out->src_ip, ip + 12, 4);
	memcpy(out->dst_ip, ip + IPV4_DST, 4);
	out->sport = get16(tcp);
	out->dport = get16(tcp + 2);
	out->seq = get32(tcp + 4);
	out->ack = get32(tcp + 8);
	out->flags = tcp[13] & 0x3f;
	out->win = get16(tcp + 14);
	out->data = tcp + doff;
	out->len = tcp_len - doff;
	return FRAME_OK;
}

static void put_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

size_t frame_build_arp_reply(uint8_t *buf, size_t size, const struct arp_req *req,
			     const uint8_t *mac, const uint8_t *ip)
{
	uint8_t *a = buf + ETH_HDR;

	if (size < ETH_HDR + ARP_LEN)
		return 0;
	put_eth(buf, req->sender_mac, mac, ETHERTYPE_ARP);
	put16(a, 1);
	put16(a + 2, ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, ip, 4);
	memcpy(a + 18, req->sender_mac, 6);
	memcpy(a + ARP_TARGET_IP, req->sender_ip, 4);
	return ETH_HDR + ARP_LEN;
}

size_t frame_build_tcp(uint8_t *buf, size_t size, const struct tcp_out *h, const uint8_t *data,
		       size_t len)
{
	size_t opt = h->mss ? TCP_MSS_OPT : 0, tcp_len = TCP_HDR + opt + len;
	uint8_t *ip = buf + ETH_HDR, *tcp = ip + IPV4_HDR;

	if (len > 0xffff - IPV4_HDR - TCP_HDR - TCP_MSS_OPT || size < ETH_HDR + IPV4_HDR + tcp_len)
		return 0;
	put_eth(buf, h->dst_mac, h->src_mac, ETHERTYPE_IPV4);
	memset(ip, 0, IPV4_HDR);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IPV4_HDR + tcp_len));
	/* DF and identification 0: an atomic datagram (RFC 6864). */
	put16(ip + 6, IPV4_DF);
	ip[8] = IPV4_TTL;
	ip[9] = IPPROTO_TCP_NUM;
	memcpy(ip + 12, h->src_ip, 4);
	memcpy(ip + IPV4_DST, h->dst_ip, 4);
	put16(ip + 10, sum_finish(sum_words(0, ip, IPV4_HDR)));

	put16(tcp, h->sport);
	put16(tcp + 2, h->dport);
	put32(tcp + 4, h->seq);
	put32(tcp + 8, h->ack);
	tcp[12] = (uint8_t)((TCP_HDR + opt) / 4 << 4);
	tcp[13] = h->flags;
	put16(tcp + 14, h->win);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (opt) {
		tcp[20] = TCPOPT_MSS;
		tcp[21] = TCP_MSS_OPT;
		put16(tcp + 22, h->mss);
	}
	if (len)
		memcpy(tcp + TCP_HDR + opt, data, len);
	put16(tcp + 16,
	      sum_finish(sum_words(sum_pseudo(h->src_ip, h->dst_ip, tcp_len), tcp, tcp_len)));
	return ETH_HDR + IPV4_HDR + tcp_len;
}
