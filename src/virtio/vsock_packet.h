/*
 * virtio-vsock packets (VIRTIO 1.2, section 5.10.6) and the few rules both the device
 * (vsock.c) and a connection (vsock_conn.c) apply to them: the header ember sends,
 * credit, slicing a chain's buffers, and the "CONNECT <port>\n" line of a host client.
 * Plain functions of their arguments: nothing here knows a device or a connection.
 */
#ifndef EMBER_VIRTIO_VSOCK_PACKET_H
#define EMBER_VIRTIO_VSOCK_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VSOCK_CID_HOST 2

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive (RCV) or send (SEND) nothing more. */
#define VSOCK_SHUTDOWN_RCV  1
#define VSOCK_SHUTDOWN_SEND 2

/* The packet header, little-endian like every host we run on. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_LEN sizeof(struct vsock_hdr) /* 44 */

/*
 * Per connection, ember holds at most this many bytes the guest sent but the host socket
 * has not taken yet; it is also the buf_alloc ember advertises, so a guest that respects
 * its credit can never overflow it.
 */
#define VSOCK_BUF_ALLOC	  (64 * 1024)
#define VSOCK_MAX_PAYLOAD (64 * 1024) /* the largest RW packet either way */
#define VSOCK_LINE_MAX	  24	      /* "CONNECT 4294967295\n" is 19 */

/*
 * Fill (hdr) as a packet from the host side of (guest_port, host_port) to the guest
 * (guest_cid), advertising ember's VSOCK_BUF_ALLOC; len, flags and fwd_cnt are 0.
 */
void vsock_hdr_init(struct vsock_hdr *hdr, uint16_t op, uint64_t guest_cid, uint32_t guest_port,
		    uint32_t host_port);

/*
 * Bytes one side may still send: the peer's (buf_alloc) minus what is in flight, (tx_cnt)
 * sent so far less (fwd_cnt) the peer has consumed; all counters wrap at 2^32. A peer that
 * shrank its buffer below what is in flight gets 0, not a wrapped-around huge credit.
 */
uint32_t vsock_credit(uint32_t buf_alloc, uint32_t tx_cnt, uint32_t fwd_cnt);

/*
 * Point (out) at (len) bytes of (iov, nr) starting (off) bytes in. Returns how many
 * entries (at most VIRTQ_MAX_SEGS) it used.
 */
unsigned int vsock_iov_slice(const struct iovec *iov, unsigned int nr, uint64_t off,
			     uint64_t len, struct iovec *out);

/*
 * Parse what a host client sent so far, (line, len) (no NUL needed), as "CONNECT <port>\n".
 * Returns 1 and sets (*port) for a complete valid line, 0 when (line) is a valid prefix
 * still missing its newline, or -EINVAL for anything else.
 */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port);

#endif
