/*
 * Private to vsock.c (the device: queues, packets, listener, timer) and vsock_conn.c (one
 * connection's state machine and its host socket).
 */
#ifndef EMBER_VIRTIO_VSOCK_INT_H
#define EMBER_VIRTIO_VSOCK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio.h"
#include "vsock.h"
#include "../util/eventloop.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

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

/* The packet header (section 5.10.6), little-endian like every host we run on. */
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
#define VSOCK_BUF_ALLOC	      (64 * 1024)
#define VSOCK_MAX_PAYLOAD     (64 * 1024) /* the largest RW packet either way */
#define VSOCK_MAX_CONNS	      256
#define VSOCK_MAX_STRAYS      32	/* RSTs owed for packets that match no connection */
#define VSOCK_TIMEOUT_US      2000000	/* for a CONNECT line, then for the guest's answer */
#define VSOCK_TICK_MS	      200
#define VSOCK_LOCAL_PORT_BASE (1U << 30) /* host ports for host-initiated connections */
#define VSOCK_LINE_MAX	      24	/* "CONNECT 4294967295\n" is 19 */

enum vsock_conn_state {
	CONN_FREE,
	CONN_LINE,	 /* a host client is still sending its "CONNECT <port>\n" */
	CONN_CONNECTING, /* host-initiated: REQUEST owed to or sent to the guest */
	CONN_ESTABLISHED,
	CONN_CLOSING,	 /* the host socket is closed; only an RST is left to send */
};

/* Packets owed to the guest, one flag each, sent by vsock_conn_rx. */
#define PEND_RST	    (1U << 0)
#define PEND_REQUEST	    (1U << 1)
#define PEND_RESPONSE	    (1U << 2)
#define PEND_SHUTDOWN	    (1U << 3)
#define PEND_CREDIT_REQUEST (1U << 4)
#define PEND_CREDIT_UPDATE  (1U << 5)

struct virtio_vsock;

/*
 * Connections live in a fixed array for the device's lifetime, so an epoll event already
 * fetched for a connection that was since closed lands on a free (or reused) slot rather
 * than freed memory; the handlers treat every event as a hint.
 */
struct vsock_conn {
	struct virtio_vsock *vsock;
	enum vsock_conn_state state;
	int fd;			/* the host Unix socket, -1 once closed */
	struct event_source src;
	bool registered;	/* fd is in the event loop (dropped after a hang-up) */
	uint32_t events;	/* what it is watched for */
	uint32_t guest_port;
	uint32_t host_port;
	unsigned int pending;	/* PEND_* */
	uint32_t peer_shut;	/* SHUTDOWN flags the guest sent */
	bool host_eof;		/* the host socket read returned 0 */
	bool host_hup;		/* the host socket can neither send nor receive */
	bool rx_ready;		/* the host socket had data last we looked */
	bool credit_requested;	/* a CREDIT_REQUEST went out since the guest last gave room */
	uint64_t deadline_us;	/* CONN_LINE / CONN_CONNECTING give up then; 0: none */

	/* Guest to host: rx_cnt bytes came from the guest, fwd_cnt reached the host socket. */
	uint32_t rx_cnt;
	uint32_t fwd_cnt;
	uint32_t fwd_cnt_sent;	/* the fwd_cnt the guest last heard */
	uint8_t *buf;		/* VSOCK_BUF_ALLOC ring for what the host socket refused */
	uint32_t buf_head;
	uint32_t buf_len;

	/* Host to guest: tx_cnt bytes sent; the guest's last advertised window. */
	uint32_t tx_cnt;
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;

	char line[VSOCK_LINE_MAX];
	unsigned int line_len;
};

struct vsock_stray {
	uint32_t guest_port;
	uint32_t host_port;
};

struct virtio_vsock {
	struct virtio_dev vd;
	struct virtio_mmio *mmio;
	struct event_loop *loop;
	struct vsock_config cfg;
	int listen_fd;
	struct event_source listen_src;
	bool listen_registered;
	bool path_bound;	/* cfg.path is ours to unlink */
	int timer_fd;
	struct event_source timer_src;
	bool timer_registered;
	bool timer_armed;
	uint32_t next_port;	/* the next local port to try for a host-initiated connection */
	unsigned int rx_cursor;	/* round-robin start for the next rx packet */
	struct vsock_stray strays[VSOCK_MAX_STRAYS];
	unsigned int stray_head, nr_strays;
	struct virtq_elem *elem;	/* scratch chain for rx and tx (never both at once) */
	struct iovec *iov;		/* scratch, VIRTQ_MAX_SEGS */
	struct vsock_conn conns[VSOCK_MAX_CONNS];
};

/*
 * vsock_conn.c. All run on the event loop thread (or a vCPU thread for reset) with
 * vsock->vd.lock held.
 */

/* A free slot, marked CONN_LINE or set up by the caller; NULL when all are taken. */
struct vsock_conn *vsock_conn_alloc(struct virtio_vsock *v);

/* Forget (c) without telling the guest: close its socket, free its buffer. */
void vsock_conn_free(struct vsock_conn *c);

/* Abort (c): close the host side and owe the guest an RST (or just free it if unseen). */
void vsock_conn_reset(struct vsock_conn *c);

/* The connection between guest port (guest_port) and host port (host_port), or NULL. */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *v, uint32_t guest_port,
				   uint32_t host_port);

/* Register (c)'s socket (fd) with the event loop, unwatched for now. 0 or -errno. */
int vsock_conn_attach(struct vsock_conn *c, int fd);

/* The guest asked for host port h->dst_port: connect to "<path>_<port>". */
void vsock_conn_from_guest_request(struct virtio_vsock *v, const struct vsock_hdr *h);

/* A packet (h) from the guest for (c); its payload is in (e) after the header. */
void vsock_conn_packet(struct vsock_conn *c, const struct vsock_hdr *h,
		       const struct virtq_elem *e);

/*
 * Write the next packet owed to the guest by (c), if any, into rx chain (e) (whose
 * writable part holds at least a header). Returns the bytes written, 0 if none.
 */
uint32_t vsock_conn_rx(struct vsock_conn *c, const struct virtq_elem *e);

/* Recompute what (c)'s socket is watched for, after any change. */
void vsock_conn_watch(struct vsock_conn *c);

/* The timer fired at (now_us): drop connections past their deadline. */
void vsock_conn_expire(struct vsock_conn *c, uint64_t now_us);

/* Set up slot (c) of (v), free. */
void vsock_conn_init(struct vsock_conn *c, struct virtio_vsock *v);

/*
 * vsock.c
 */

/*
 * After anything happened: send the guest what it is owed, re-aim every socket's watch,
 * arm or stop the timer.
 */
void vsock_settle(struct virtio_vsock *v);

/* Fill (hdr) as a packet from the host side of (guest_port, host_port) to the guest. */
void vsock_hdr_init(const struct virtio_vsock *v, struct vsock_hdr *hdr, uint16_t op,
		    uint32_t guest_port, uint32_t host_port);

/* Owe the guest an RST for a packet that matched no connection. */
void vsock_stray_rst(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port);

/* Whether the guest driver is up, so packets can flow. */
bool vsock_running(const struct virtio_vsock *v);

/*
 * Point (out) at (len) bytes of (iov, nr) starting (off) bytes in. Returns how many
 * entries (at most VIRTQ_MAX_SEGS) it used.
 */
unsigned int vsock_iov_slice(const struct iovec *iov, unsigned int nr, uint64_t off,
			     uint64_t len, struct iovec *out);

#endif
