/*
 * virtio-vsock packet rules shared by the device and its connections: see vsock_packet.h.
 */
#include <errno.h>
#include <string.h>

#include "queue.h"
#include "vsock_packet.h"
#include "../util/util.h"

void vsock_hdr_init(struct vsock_hdr *hdr, uint16_t op, uint64_t guest_cid, uint32_t guest_port,
		    uint32_t host_port)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = VSOCK_CID_HOST;
	hdr->dst_cid = guest_cid;
	hdr->src_port = host_port;
	hdr->dst_port = guest_port;
	hdr->type = VSOCK_TYPE_STREAM;
	hdr->op = op;
	hdr->buf_alloc = VSOCK_BUF_ALLOC;
}

uint32_t vsock_credit(uint32_t buf_alloc, uint32_t tx_cnt, uint32_t fwd_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt; /* modulo 2^32, as the counters wrap */

	return in_flight >= buf_alloc ? 0 : buf_alloc - in_flight;
}

unsigned int vsock_iov_slice(const struct iovec *iov, unsigned int nr, uint64_t off,
			     uint64_t len, struct iovec *out)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr && len && n < VIRTQ_MAX_SEGS; i++) {
		uint64_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = MIN(iov[i].iov_len - off, len);
		out[n++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
		len -= take;
		off = 0;
	}
	return n;
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char prefix[] = "CONNECT ";
	const size_t plen = sizeof(prefix) - 1;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = line[i];

		if (i < plen) {
			if (ch != prefix[i])
				return -EINVAL;
			continue;
		}
		/* Tolerate a CRLF line end, as sent by socat's crlf mode. */
		if (ch == '\r') {
			if (i == plen || (i + 1 < len && line[i + 1] != '\n'))
				return -EINVAL;
			continue;
		}
		if (ch == '\n') {
			/* Nothing may follow the newline: the caller stops reading there. */
			if (i == plen || i + 1 != len)
				return -EINVAL;
			*port = v;
			return 1;
		}
		if (ch < '0' || ch > '9')
			return -EINVAL;
		v = v * 10 + (ch - '0');
		/* 2^32 - 1 is VMADDR_PORT_ANY, never a port one connects to. */
		if (v >= UINT32_MAX)
			return -EINVAL;
	}
	/* A valid prefix (perhaps ending in '\r') still waiting for its newline. */
	return 0;
}
