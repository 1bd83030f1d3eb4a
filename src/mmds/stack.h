/*
 * One network interface's MMDS stack: the part of the guest's network that ember answers
 * itself. It takes the guest's frames for one IPv4 address (ARP requests for it, IPv4
 * packets to it), runs a small TCP server on port 80 for them, and hands each complete
 * HTTP request's bytes to a serve function (the MMDS service, mmds.h). The frames it
 * answers with are built only when the guest has room for one (mmds_stack_next_frame),
 * so nothing queues up inside it but per-connection state.
 *
 * Pure: no descriptors, no clock, no threads. Time comes in as (now_ms) on every call,
 * randomness from the caller's isn_fn, so unit tests and the fuzzer drive it directly.
 * Every frame is untrusted: malformed, out-of-window or unexpected ones are dropped and
 * counted, never believed.
 */
#ifndef EMBER_MMDS_STACK_H
#define EMBER_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The MAC the stack answers ARP with and sends from (Firecracker's, so guests' tooling agrees). */
#define MMDS_MAC { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 }
#define MMDS_PORT 80
/* Bytes of the guest's frame the detour check needs: Ethernet + ARP (42) or + IPv4 to dst (34). */
#define MMDS_PEEK_LEN 42
/* Limits: connections at once, request bytes a connection may have unanswered. */
#define MMDS_MAX_CONNECTIONS 32
#define MMDS_REQUEST_MAX     4096

/* What the stack counts (Firecracker's MmdsMetrics names, plus rx_bytes and rx_dropped). */
struct mmds_stack_stats {
	uint64_t rx_accepted;	      /* frames taken from the guest's path */
	uint64_t rx_accepted_err;     /* of those, malformed: dropped */
	uint64_t rx_accepted_unusual; /* well-formed but not what we expect: dropped */
	uint64_t rx_bad_eth;	      /* too short for Ethernet */
	uint64_t rx_count;	      /* TCP segments that carried request bytes */
	uint64_t rx_bytes;	      /* request bytes accepted in order */
	uint64_t rx_dropped;	      /* out of window, over a limit, a flood: dropped */
	uint64_t tx_bytes;	      /* frame bytes sent to the guest */
	uint64_t tx_count;	      /* responses made (handed to TCP to send) */
	uint64_t tx_errors;	      /* a frame that could not be built (no room) */
	uint64_t tx_frames;
	uint64_t connections_created, connections_destroyed;
};

/*
 * A complete request at the start of (in, len)? The serve function answers:
 *   > 0: it used that many bytes, and (*reply, *reply_len) is the response (malloc'd; the
 *        stack frees it); (*close) when the connection should end after it;
 *   0:   not complete yet: call again once more bytes came;
 *   < 0: -errno: give up on the connection (reset it).
 */
typedef long (*mmds_serve_fn)(void *opaque, const uint8_t *in, size_t len, uint64_t now_ms,
			      uint8_t **reply, size_t *reply_len, bool *close);
/* A 32-bit initial sequence number for a new connection (the caller's getrandom). */
typedef uint32_t (*mmds_isn_fn)(void *opaque);

struct mmds_stack;

/* A stack for (ipv4, network byte order as in a packet); NULL when out of memory. */
struct mmds_stack *mmds_stack_create(uint32_t ipv4_be, mmds_serve_fn serve, mmds_isn_fn isn,
				     void *opaque);
void mmds_stack_destroy(struct mmds_stack *s);

/*
 * Whether the guest's frame, of which (head, len) are the first min(len, MMDS_PEEK_LEN)
 * bytes (Ethernet header first, no virtio header), is the stack's: an ARP packet whose
 * target protocol address is the stack's, or an IPv4 packet to it. Cheap, and never
 * wrong in the "no" direction for a frame the stack would take.
 */
bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *head, size_t len);

/*
 * Take one whole frame the guest sent (one mmds_stack_wants said yes to). (csum_partial)
 * when the guest left the TCP checksum to the device (virtio NEEDS_CSUM): the checksum
 * field is not checked then. The stack never keeps a pointer into (frame).
 */
void mmds_stack_take(struct mmds_stack *s, const uint8_t *frame, size_t len, bool csum_partial,
		     uint64_t now_ms);

/*
 * Write the next frame for the guest (Ethernet header first, checksums complete) into
 * (buf, size): an ARP reply, a TCP segment (SYN-ACK, ACK, data, FIN, RST), or a
 * retransmission whose time has come. Its length, or 0 when there is nothing to send now.
 */
size_t mmds_stack_next_frame(struct mmds_stack *s, uint8_t *buf, size_t size, uint64_t now_ms);

/* The time (ms) at which next_frame will have something new (a retransmission), or UINT64_MAX. */
uint64_t mmds_stack_deadline(const struct mmds_stack *s);

/* Whether a frame waits now (next_frame would return one). */
bool mmds_stack_pending(const struct mmds_stack *s, uint64_t now_ms);

/* Drop every connection (a device reset): nothing is sent for them. */
void mmds_stack_reset(struct mmds_stack *s);

void mmds_stack_stats(const struct mmds_stack *s, struct mmds_stack_stats *out);

#endif
