/*
 * vsock connections: each one's host Unix socket and state machine, and the table of them
 * that a device keeps. The device (vsock.c) moves packets and calls down into this; a
 * connection never calls up. What it needs of the device comes as arguments, return
 * values and the one callback of struct vsock_conns (on_socket).
 *
 * Every call runs with the device's lock held, on the event loop thread (or a vCPU
 * thread for a reset).
 */
#ifndef EMBER_VIRTIO_VSOCK_CONN_H
#define EMBER_VIRTIO_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "queue.h"
#include "vsock_packet.h"
#include "../util/eventloop.h"
#include "../util/log.h"

#define VSOCK_MAX_CONNS	      256
#define VSOCK_TIMEOUT_US      2000000	 /* for a CONNECT line, then for the guest's answer */
#define VSOCK_LOCAL_PORT_BASE (1U << 30) /* host ports for host-initiated connections */

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

struct vsock_conns;

/*
 * Connections live in a fixed array for the device's lifetime, so an epoll event already
 * fetched for a connection that was since closed lands on a free (or reused) slot rather
 * than freed memory; the handlers treat every event as a hint.
 */
struct vsock_conn {
	struct vsock_conns *table;
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

/* One device's connections and what they share. */
struct vsock_conns {
	struct event_loop *loop; /* watches every connection's host socket */
	struct logger *log;	 /* the device's */
	uint64_t guest_cid;
	const char *uds_path; /* guest connections to host port P reach "<uds_path>_<P>" */
	uint32_t next_port;   /* the next local port to try for a host-initiated connection */
	/*
	 * A connection's host socket has (events), on the event loop thread and without the
	 * device's lock: the device takes it, calls vsock_conn_socket_event, and then sends
	 * the guest what it is owed.
	 */
	void (*on_socket)(void *owner, struct vsock_conn *c, uint32_t events);
	void *owner;
	struct iovec iov[VIRTQ_MAX_SEGS]; /* scratch: a slice of one chain at a time */
	struct vsock_conn slot[VSOCK_MAX_CONNS];
};

/*
 * Set up (t), every slot free, for the guest (guest_cid) with host sockets named after
 * (uds_path), which must outlive (t), as must (log); socket events go to
 * (on_socket)(owner, ...).
 */
void vsock_conns_init(struct vsock_conns *t, struct event_loop *loop, struct logger *log,
		      uint64_t guest_cid, const char *uds_path,
		      void (*on_socket)(void *owner, struct vsock_conn *c, uint32_t events),
		      void *owner);

/* A free slot of (t), marked CONN_LINE or set up by the caller; NULL when all are taken. */
struct vsock_conn *vsock_conn_alloc(struct vsock_conns *t);

/* Forget (c) without telling the guest: close its socket, free its buffer. */
void vsock_conn_free(struct vsock_conn *c);

/* Abort (c): close the host side and owe the guest an RST (or just free it if unseen). */
void vsock_conn_reset(struct vsock_conn *c);

/* The connection between guest port (guest_port) and host port (host_port), or NULL. */
struct vsock_conn *vsock_conn_find(struct vsock_conns *t, uint32_t guest_port,
				   uint32_t host_port);

/* Register (c)'s socket (fd) with the event loop, unwatched for now. 0 or -errno. */
int vsock_conn_attach(struct vsock_conn *c, int fd);

/*
 * The guest asked for host port h->dst_port: connect to "<uds_path>_<port>". 0, or
 * -errno when refused (no free slot, nobody listening): the guest is owed an RST.
 */
int vsock_conn_from_guest_request(struct vsock_conns *t, const struct vsock_hdr *h);

/* A packet (h) from the guest for (c); its payload is in (e) after the header. */
void vsock_conn_packet(struct vsock_conn *c, const struct vsock_hdr *h,
		       const struct virtq_elem *e);

/*
 * Write the next packet owed to the guest by (c), if any, into rx chain (e) (whose
 * writable part holds at least a header). Returns the bytes written, 0 if none.
 */
uint32_t vsock_conn_rx(struct vsock_conn *c, const struct virtq_elem *e);

/* What (c)'s host socket reported (events) (on_socket passes them on). */
void vsock_conn_socket_event(struct vsock_conn *c, uint32_t events);

/*
 * Recompute what (c)'s socket is watched for, after any change; (running): the guest
 * driver is up, so host bytes can flow to it.
 */
void vsock_conn_watch(struct vsock_conn *c, bool running);

/* The timer fired at (now_us): drop (c) if it is past its deadline. */
void vsock_conn_expire(struct vsock_conn *c, uint64_t now_us);

#endif
