/*
 * One vsock connection: its host Unix socket, the CONNECT line of a host client, credit
 * in both directions, shutdown and reset. The device (vsock.c) moves packets; this file
 * decides what they mean for a connection and what the connection owes the guest. It
 * knows the device only through struct vsock_conns.
 *
 * A connection ends with an RST from ember once nothing can flow either way: host to
 * guest is over when the host socket hit EOF or the guest will not receive; guest to host
 * is over when the guest will not send and everything it sent reached the host socket,
 * or when the host socket hung up.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock_conn.h"
#include "../util/log.h"
#include "../util/util.h"

static void conn_close_host(struct vsock_conn *c)
{
	if (c->registered)
		event_loop_del(c->table->loop, &c->src);
	c->registered = false;
	c->events = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->buf_len = 0;
}

struct vsock_conn *vsock_conn_alloc(struct vsock_conns *t)
{
	unsigned int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->slot[i];

		if (c->state == CONN_FREE) {
			c->state = CONN_LINE;
			return c;
		}
	}
	return NULL;
}

void vsock_conn_free(struct vsock_conn *c)
{
	struct vsock_conns *t = c->table;
	struct event_source src = c->src;

	conn_close_host(c);
	memset(c, 0, sizeof(*c));
	c->table = t;
	c->src = src;
	c->fd = -1;
}

void vsock_conn_reset(struct vsock_conn *c)
{
	/* The guest never heard of it: nothing to take back. */
	if (c->state == CONN_LINE || (c->state == CONN_CONNECTING && (c->pending & PEND_REQUEST))) {
		vsock_conn_free(c);
		return;
	}
	conn_close_host(c);
	c->state = CONN_CLOSING;
	c->pending = PEND_RST;
	c->deadline_us = 0;
}

struct vsock_conn *vsock_conn_find(struct vsock_conns *t, uint32_t guest_port,
				   uint32_t host_port)
{
	unsigned int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->slot[i];

		if (c->state != CONN_FREE && c->state != CONN_LINE && c->guest_port == guest_port &&
		    c->host_port == host_port)
			return c;
	}
	return NULL;
}

/* Whether ember may read the host socket for the guest right now (credit permitting). */
static bool conn_may_read(const struct vsock_conn *c)
{
	return c->state == CONN_ESTABLISHED && !c->host_eof &&
	       !(c->peer_shut & VSOCK_SHUTDOWN_RCV) &&
	       vsock_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt) > 0;
}

void vsock_conn_watch(struct vsock_conn *c, bool running)
{
	uint32_t want = 0;

	if (!c->registered)
		return;
	if (c->state == CONN_LINE)
		want = EPOLLIN;
	if (conn_may_read(c) && !c->rx_ready && running)
		want |= EPOLLIN;
	if (c->buf_len)
		want |= EPOLLOUT;
	if (want != c->events && !event_loop_modify(c->table->loop, &c->src, want))
		c->events = want;
}

/* Finish (c) with an RST once nothing more can flow either way. */
static void conn_check_done(struct vsock_conn *c)
{
	bool to_guest_over = c->host_eof || (c->peer_shut & VSOCK_SHUTDOWN_RCV);
	bool to_host_over = c->host_hup || ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->buf_len);

	if (c->state == CONN_ESTABLISHED && to_guest_over && to_host_over)
		vsock_conn_reset(c);
}

/*
 * The host socket took bytes: tell the guest when the window it last heard of has fallen
 * below half, so it is never left waiting on stale credit and updates stay rare.
 */
static void conn_forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt != c->fwd_cnt_sent &&
	    vsock_credit(VSOCK_BUF_ALLOC, c->rx_cnt, c->fwd_cnt_sent) < VSOCK_BUF_ALLOC / 2)
		c->pending |= PEND_CREDIT_UPDATE;
}

static ssize_t conn_send(struct vsock_conn *c, struct iovec *iov, unsigned int nr)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = nr };
	ssize_t n;

	do
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 && errno == EAGAIN ? 0 : n;
}

/* Push buffered guest bytes to the host socket. */
static void conn_flush(struct vsock_conn *c)
{
	struct iovec iov[2];
	unsigned int nr = 1;
	uint32_t first = MIN(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
	ssize_t n;

	if (!c->buf_len || c->fd < 0)
		return;
	iov[0] = (struct iovec){ c->buf + c->buf_head, first };
	if (first < c->buf_len)
		iov[nr++] = (struct iovec){ c->buf, c->buf_len - first };
	n = conn_send(c, iov, nr);
	if (n < 0) {
		log_debug(c->table->log, "vsock %u->%u: host write: %s", c->guest_port,
			  c->host_port, strerror(errno));
		vsock_conn_reset(c);
		return;
	}
	c->buf_head = (c->buf_head + n) % VSOCK_BUF_ALLOC;
	c->buf_len -= n;
	conn_forwarded(c, n);
	if (!c->buf_len) {
		/* Drained: an idle connection keeps no 64 KiB around. */
		free(c->buf);
		c->buf = NULL;
		c->buf_head = 0;
		if (c->peer_shut & VSOCK_SHUTDOWN_SEND)
			shutdown(c->fd, SHUT_WR);
	}
	conn_check_done(c);
}

/* RW payload (len bytes after the header of e) for the host socket. */
static void conn_data_from_guest(struct vsock_conn *c, const struct virtq_elem *e, uint32_t len)
{
	struct iovec *iov = c->table->iov;
	uint64_t off = VSOCK_HDR_LEN;
	uint32_t tail;

	/* Within credit the data always fits; a guest that overruns it is cut off. */
	if (len > VSOCK_BUF_ALLOC - c->buf_len) {
		log_debug(c->table->log, "vsock %u->%u: guest exceeded its credit", c->guest_port,
			  c->host_port);
		vsock_conn_reset(c);
		return;
	}
	c->rx_cnt += len;
	if (!c->buf_len) {
		unsigned int nr = vsock_iov_slice(e->iov, e->nr_out, off, len, iov);
		ssize_t n = conn_send(c, iov, nr);

		if (n < 0) {
			log_debug(c->table->log, "vsock %u->%u: host write: %s", c->guest_port,
				  c->host_port, strerror(errno));
			vsock_conn_reset(c);
			return;
		}
		conn_forwarded(c, n);
		off += n;
		len -= n;
	}
	if (!len)
		return;
	if (!c->buf_len)
		log_debug(c->table->log, "vsock %u->%u: host socket full, buffering", c->guest_port,
			  c->host_port);
	if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
		vsock_conn_reset(c);
		return;
	}
	tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
	while (len) {
		uint32_t n = MIN(len, VSOCK_BUF_ALLOC - tail);

		virtq_elem_read(e, off, c->buf + tail, n);
		c->buf_len += n;
		off += n;
		len -= n;
		tail = (tail + n) % VSOCK_BUF_ALLOC;
	}
}

/* The guest answered our REQUEST: tell the host client which port it got. */
static void conn_established(struct vsock_conn *c)
{
	char ok[32];
	int len = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

	c->state = CONN_ESTABLISHED;
	c->deadline_us = 0;
	/* Nothing was ever sent on this socket, so a short line means it is broken. */
	if (send(c->fd, ok, len, MSG_NOSIGNAL | MSG_DONTWAIT) != len)
		vsock_conn_reset(c);
}

void vsock_conn_packet(struct vsock_conn *c, const struct vsock_hdr *h,
		       const struct virtq_elem *e)
{
	/* Once closing, only the guest's own RST matters: it spares us ours. */
	if (c->state == CONN_CLOSING) {
		if (h->op == VSOCK_OP_RST)
			vsock_conn_free(c);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt))
		c->credit_requested = false;

	switch (h->op) {
	case VSOCK_OP_RST:
		vsock_conn_free(c);
		return;
	case VSOCK_OP_RESPONSE:
		if (c->state == CONN_CONNECTING && !(c->pending & PEND_REQUEST))
			conn_established(c);
		else
			vsock_conn_reset(c);
		return;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PEND_CREDIT_UPDATE;
		return;
	case VSOCK_OP_CREDIT_UPDATE:
		return;
	default:
		break;
	}
	if (c->state != CONN_ESTABLISHED) {
		/* A duplicate REQUEST, or data before the handshake finished. */
		vsock_conn_reset(c);
		return;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
			vsock_conn_reset(c);
			return;
		}
		if (h->len)
			conn_data_from_guest(c, e, h->len);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h->flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
		if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->buf_len)
			shutdown(c->fd, SHUT_WR);
		conn_check_done(c);
		break;
	default:
		vsock_conn_reset(c);
		break;
	}
}

int vsock_conn_attach(struct vsock_conn *c, int fd)
{
	int ret;

	c->fd = fd;
	c->src.fd = fd;
	ret = event_loop_add(c->table->loop, &c->src, 0);
	if (ret)
		return ret;
	c->registered = true;
	c->events = 0;
	return 0;
}

int vsock_conn_from_guest_request(struct vsock_conns *t, const struct vsock_hdr *h)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vsock_conn *c = vsock_conn_alloc(t);
	int fd, ret;

	if (!c) {
		log_debug(t->log, "vsock: %u connections open; refusing port %u", VSOCK_MAX_CONNS,
			  h->dst_port);
		return -ENOSPC;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", t->uds_path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A Unix stream connect never pends: it succeeds or fails (EAGAIN: backlog full). */
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		log_debug(t->log, "vsock: guest port %u -> %s: %s", h->src_port, addr.sun_path,
			  strerror(-ret));
		if (fd >= 0)
			close(fd);
		vsock_conn_free(c);
		return ret;
	}
	ret = vsock_conn_attach(c, fd);
	if (ret) {
		vsock_conn_free(c);
		return ret;
	}
	c->state = CONN_ESTABLISHED;
	c->guest_port = h->src_port;
	c->host_port = h->dst_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = PEND_RESPONSE;
	return 0;
}

/* A host port for a new host-initiated connection to (guest_port) that no other uses. */
static uint32_t conn_pick_port(struct vsock_conns *t, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = t->next_port;

		/* Wrap within [BASE, 2^32 - 1): 2^32 - 1 is VMADDR_PORT_ANY. */
		t->next_port = p + 1 >= UINT32_MAX ? VSOCK_LOCAL_PORT_BASE : p + 1;
		/* At most VSOCK_MAX_CONNS ports are taken, so this ends. */
		if (!vsock_conn_find(t, guest_port, p))
			return p;
	}
}

/* Read the CONNECT line a byte at a time, so no data after it is consumed. */
static void conn_read_line(struct vsock_conn *c)
{
	uint32_t port;
	int ret = 0;

	while (ret == 0 && c->line_len < sizeof(c->line)) {
		ssize_t n = read(c->fd, &c->line[c->line_len], 1);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			vsock_conn_free(c);
			return;
		}
		c->line_len++;
		ret = vsock_parse_connect(c->line, c->line_len, &port);
	}
	if (ret <= 0) {
		log_debug(c->table->log, "vsock: host client sent a malformed CONNECT line");
		vsock_conn_free(c);
		return;
	}
	c->state = CONN_CONNECTING;
	c->guest_port = port;
	c->host_port = conn_pick_port(c->table, port);
	c->pending = PEND_REQUEST;
	c->deadline_us = now_us() + VSOCK_TIMEOUT_US;
}

/* The poll events really pending on (fd): epoll's may be stale for a reused slot. */
static short conn_poll(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

void vsock_conn_socket_event(struct vsock_conn *c, uint32_t events)
{
	if (!c->registered)
		return;
	if (events & (EPOLLHUP | EPOLLERR)) {
		short revents = conn_poll(c->fd);

		if (revents & POLLERR || (revents & POLLHUP && c->state != CONN_ESTABLISHED)) {
			vsock_conn_reset(c);
			return;
		}
		if (revents & POLLHUP) {
			/*
			 * Epoll reports a hang-up whatever it is asked to watch: stop watching,
			 * and let the rx side drain what is left up to EOF.
			 */
			event_loop_del(c->table->loop, &c->src);
			c->registered = false;
			c->host_hup = true;
			c->rx_ready = true;
			conn_flush(c);
			conn_check_done(c);
			return;
		}
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	if (c->state == CONN_LINE && (events & EPOLLIN))
		conn_read_line(c);
	else if (c->state == CONN_ESTABLISHED && (events & EPOLLIN))
		c->rx_ready = true;
}

/* The event loop's way in, without the device's lock: the device takes it first. */
static void conn_on_socket(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;

	c->table->on_socket(c->table->owner, c, events);
}

/*
 * Read host bytes for the guest into (e) after the header. Returns the bytes read, 0 when
 * (c) changed (EOF or error) and should be looked at again, -EAGAIN when nothing is there.
 */
static int conn_read_for_guest(struct vsock_conn *c, const struct virtq_elem *e)
{
	struct iovec *iov = c->table->iov;
	uint64_t room = e->in_len - VSOCK_HDR_LEN;
	uint32_t want = vsock_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt);
	unsigned int nr;
	ssize_t n;

	want = MIN(want, MIN(room, VSOCK_MAX_PAYLOAD));
	if (!want)
		return -EAGAIN;
	nr = vsock_iov_slice(e->iov + e->nr_out, e->nr_in, VSOCK_HDR_LEN, want, iov);
	do
		n = readv(c->fd, iov, nr);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n < 0 && errno == EAGAIN) {
		c->rx_ready = false;
		return -EAGAIN;
	}
	if (n < 0) {
		log_debug(c->table->log, "vsock %u->%u: host read: %s", c->guest_port, c->host_port,
			  strerror(errno));
		vsock_conn_reset(c);
		return 0;
	}
	c->host_eof = true;
	c->rx_ready = false;
	if (conn_poll(c->fd) & POLLHUP)
		c->host_hup = true;
	/* No more credit needed, just the news that nothing more is coming. */
	c->pending = (c->pending & ~PEND_CREDIT_REQUEST) | PEND_SHUTDOWN;
	conn_check_done(c);
	return 0;
}

uint32_t vsock_conn_rx(struct vsock_conn *c, const struct virtq_elem *e)
{
	struct vsock_hdr h;
	uint32_t len = 0, flags = 0;
	unsigned int sent = 0;
	uint16_t op;

	for (;;) {
		int n;

		if (c->state == CONN_FREE || c->state == CONN_LINE)
			return 0;
		if (c->pending & PEND_RST) {
			op = VSOCK_OP_RST;
			break;
		}
		if (c->pending & PEND_REQUEST) {
			op = VSOCK_OP_REQUEST;
			sent = PEND_REQUEST;
			break;
		}
		if (c->pending & PEND_RESPONSE) {
			op = VSOCK_OP_RESPONSE;
			sent = PEND_RESPONSE;
			break;
		}
		if (c->rx_ready && conn_may_read(c)) {
			n = conn_read_for_guest(c, e);
			if (n > 0) {
				op = VSOCK_OP_RW;
				len = n;
				break;
			}
			if (n == 0)
				continue;
		}
		if (c->pending & PEND_SHUTDOWN) {
			/* Only EOF leads here: ember has nothing more to send. */
			op = VSOCK_OP_SHUTDOWN;
			flags = VSOCK_SHUTDOWN_SEND;
			sent = PEND_SHUTDOWN;
			break;
		}
		if (c->pending & PEND_CREDIT_REQUEST) {
			op = VSOCK_OP_CREDIT_REQUEST;
			sent = PEND_CREDIT_REQUEST;
			break;
		}
		if (c->pending & PEND_CREDIT_UPDATE) {
			op = VSOCK_OP_CREDIT_UPDATE;
			break;
		}
		return 0;
	}
	vsock_hdr_init(&h, op, c->table->guest_cid, c->guest_port, c->host_port);
	h.len = len;
	h.flags = flags;
	h.fwd_cnt = c->fwd_cnt;
	virtq_elem_write(e, 0, &h, sizeof(h));
	if (op == VSOCK_OP_RST) {
		vsock_conn_free(c);
		return sizeof(h);
	}
	/* Every header carries fwd_cnt, so any packet is a credit update. */
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~(sent | PEND_CREDIT_UPDATE);
	c->tx_cnt += len;
	if (len && !vsock_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt) &&
	    !c->credit_requested) {
		/* Out of credit with the host maybe still talking: ask the guest for room. */
		c->pending |= PEND_CREDIT_REQUEST;
		c->credit_requested = true;
	}
	return sizeof(h) + len;
}

void vsock_conn_expire(struct vsock_conn *c, uint64_t now)
{
	if (c->deadline_us && now >= c->deadline_us) {
		log_debug(c->table->log, "vsock: %s timed out",
			  c->state == CONN_LINE ? "a CONNECT line" : "the guest's answer");
		vsock_conn_reset(c);
	}
}

void vsock_conns_init(struct vsock_conns *t, struct event_loop *loop, struct logger *log,
		      uint64_t guest_cid, const char *uds_path,
		      void (*on_socket)(void *owner, struct vsock_conn *c, uint32_t events),
		      void *owner)
{
	unsigned int i;

	t->loop = loop;
	t->log = log;
	t->guest_cid = guest_cid;
	t->uds_path = uds_path;
	t->next_port = VSOCK_LOCAL_PORT_BASE;
	t->on_socket = on_socket;
	t->owner = owner;
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &t->slot[i];

		memset(c, 0, sizeof(*c));
		c->table = t;
		c->fd = -1;
		c->src = (struct event_source){ -1, conn_on_socket, c };
	}
}
