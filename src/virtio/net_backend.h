/*
 * What virtio-net sends its frames through: a host TAP, or a port of ember-switch.
 *
 * The device always handles the guest's view of a frame: the 12-byte virtio_net_hdr_v1
 * first, then the Ethernet frame. A TAP speaks that header itself and acts on the
 * checksum and GSO offloads it describes. A switch port carries bare Ethernet frames, one
 * SOCK_SEQPACKET message each, so its backend strips the header on send, puts a zero one
 * (nothing to checksum, no GSO) in front on receive, and takes no offloads: the device
 * must not offer them on it.
 */
#ifndef EMBER_VIRTIO_NET_BACKEND_H
#define EMBER_VIRTIO_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "queue.h"
#include "../config/devices.h"

/* The size of struct virtio_net_hdr_v1, in front of every frame the device handles. */
#define NET_HDR_LEN 12

struct net_backend_ops;

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;
	const char *name; /* the TAP's name or the switch's path, for log lines */
	/* A switch frame without its header, for sendmsg; here, not on the stack: 4 KiB. */
	struct iovec scratch[VIRTQ_MAX_SEGS];
};

/*
 * Open the backend (cfg) names, non-blocking: the TAP attached, or the switch's socket
 * connected. 0, or -errno with the reason in (why, why_len). (cfg) must outlive (b).
 */
int net_backend_open(struct net_backend *b, const struct net_config *cfg, char *why,
		     size_t why_len);
void net_backend_close(struct net_backend *b);

/* The descriptor to watch: readable when a frame waits, writable when one can go. */
static inline int net_backend_fd(const struct net_backend *b)
{
	return b->fd;
}

/*
 * Send one frame, the (n) buffers of (iov) with the header first, without blocking.
 * The frame's bytes (header excluded), or -EAGAIN (full: again once writable), -EPIPE
 * (the other end is gone for good) or another -errno (this frame could not go).
 */
ssize_t net_backend_send(struct net_backend *b, const struct iovec *iov, unsigned int n);

/*
 * Receive one frame into (buf, size), header first, without blocking. Its length with the
 * header; 0 or -EAGAIN when none waits; -EMSGSIZE when one larger than (size) came and
 * was dropped; -EPIPE when the other end is gone for good; another -errno on an error.
 */
ssize_t net_backend_recv(struct net_backend *b, uint8_t *buf, size_t size);

/* Whether the backend carries checksum and GSO offloads (the header's fields). */
bool net_backend_offloads(const struct net_backend *b);

/* Tell it which offloads (TAP_OFFLOAD_*) the guest takes. 0 or -errno. */
int net_backend_set_offload(struct net_backend *b, unsigned int offloads);

/* Whether epoll's (events) on the descriptor say the other end is gone for good. */
bool net_backend_hung_up(const struct net_backend *b, uint32_t events);

#endif
