/*
 * The wire formats the MMDS stack speaks: Ethernet II, ARP for IPv4, IPv4 without
 * options or fragments, and TCP. Parsing checks every length and checksum before a
 * field is believed; building writes complete checksums, because the frames go to the
 * guest with no offload flags.
 */
#ifndef EMBER_MMDS_FRAME_H
#define EMBER_MMDS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HDR	    14
#define ARP_LEN	    28
#define IPV4_HDR    20
#define TCP_HDR	    20
#define TCP_MSS_OPT 4
/* The largest header the stack sends: Ethernet, IPv4, TCP with an MSS option. */
#define FRAME_HDR_MAX (ETH_HDR + IPV4_HDR + TCP_HDR + TCP_MSS_OPT)

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

/* What a parse made of a frame: usable, broken (rx_accepted_err), or not for us (unusual). */
enum frame_verdict { FRAME_OK, FRAME_MALFORMED, FRAME_UNUSUAL };

/* An ARP request, as far as a reply needs it. */
struct arp_req {
	uint8_t sender_mac[6];
	uint8_t sender_ip[4];
	uint8_t target_ip[4];
};

/* A TCP segment the guest sent; (data) points into the frame it was parsed from. */
struct tcp_seg {
	uint8_t peer_mac[6];
	uint8_t src_ip[4], dst_ip[4];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss; /* the MSS option's value, 0 when there is none */
	const uint8_t *data;
	size_t len;
};

/* A TCP segment to build: addresses and header fields, payload apart. */
struct tcp_out {
	const uint8_t *src_mac, *dst_mac;
	const uint8_t *src_ip, *dst_ip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss; /* an MSS option when non-zero (SYN-ACK) */
};

uint16_t frame_ethertype(const uint8_t *f, size_t len);

/*
 * The IPv4 address (f, len), the start of a frame, is for, before any other check: an ARP
 * packet's target protocol address or an IPv4 packet's destination. NULL for other
 * ethertypes, or when (len) does not reach the field.
 */
const uint8_t *frame_peek_ipv4_target(const uint8_t *f, size_t len);

/* An ARP request from (f, len), a whole frame: FRAME_OK with (*out) filled, or why not. */
enum frame_verdict frame_parse_arp(const uint8_t *f, size_t len, struct arp_req *out);

/*
 * An IPv4 TCP segment from (f, len), a whole frame; the TCP checksum is not checked when
 * (csum_partial). Ethernet padding after the IPv4 total length is ignored.
 */
enum frame_verdict frame_parse_tcp(const uint8_t *f, size_t len, bool csum_partial,
				   struct tcp_seg *out);

/* The ARP reply to (req) for (mac, ip) into (buf, size): its length, or 0 when it does not fit. */
size_t frame_build_arp_reply(uint8_t *buf, size_t size, const struct arp_req *req,
			     const uint8_t *mac, const uint8_t *ip);

/* The segment (h) carrying (data, len) into (buf, size): its length, or 0 when it does not fit. */
size_t frame_build_tcp(uint8_t *buf, size_t size, const struct tcp_out *h, const uint8_t *data,
		       size_t len);

#endif
