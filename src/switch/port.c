/*
 * The ports: taking connections, reading frames, handing them where switch_decide says,
 * and a small queue per port for frames its socket could not take at once. Nothing here
 * waits: a send that would block queues the frame, or drops it when the queue is full.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "switch.h"

static void port_set_events(struct sw *sw, unsigned int i, uint32_t want)
{
	struct port *p = &sw->ports[i];
	struct epoll_event ev = {.events = want, .data.u64 = sw_tag(SRC_PORT, i)};

	if (p->events != want && !epoll_ctl(sw->epoll_fd, EPOLL_CTL_MOD, p->fd, &ev))
		p->events = want;
}

/* The peer hung up or its socket failed: the port goes at the end of this turn. */
static void port_mark_closing(struct port *p)
{
	p->closing = true;
}

static bool send_failed_for_good(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

/* One send, never waiting. 1 sent, 0 the socket is full, -1 the frame cannot go. */
static int port_try_send(struct port *p, const uint8_t *frame, size_t len)
{
	ssize_t n;

	do
		n = send(p->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		p->c.tx_frames++;
		p->c.tx_bytes += len;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	if (send_failed_for_good(errno))
		port_mark_closing(p);
	return -1;
}

/* Keep a frame for later; false (and counted as dropped) when the queue is full. */
static bool port_enqueue(struct port *p, const uint8_t *frame, size_t len)
{
	struct queued_frame *q;

	if (p->q_len == PORT_QUEUE_LEN)
		return false;
	q = &p->queue[(p->q_head + p->q_len) % PORT_QUEUE_LEN];
	q->data = malloc(len);
	if (!q->data)
		return false;
	memcpy(q->data, frame, len);
	q->len = len;
	p->q_len++;
	return true;
}

/* Hand (frame) to port (i): now, or queued behind what already waits, or dropped. */
static void port_deliver(struct sw *sw, unsigned int i, const uint8_t *frame, size_t len)
{
	struct port *p = &sw->ports[i];
	int ret;

	if (p->fd < 0 || p->closing)
		return;
	/* Frames keep their order: behind a queue, a frame joins it. */
	ret = p->q_len ? 0 : port_try_send(p, frame, len);
	if (ret > 0)
		return;
	if (ret == 0 && port_enqueue(p, frame, len)) {
		port_set_events(sw, i, EPOLLIN | EPOLLOUT);
		return;
	}
	p->c.tx_dropped++;
}

/* Send what the queue holds, as far as the socket takes it. */
static void port_flush(struct sw *sw, unsigned int i)
{
	struct port *p = &sw->ports[i];

	while (p->q_len && !p->closing) {
		struct queued_frame *q = &p->queue[p->q_head];
		int ret = port_try_send(p, q->data, q->len);

		if (ret == 0)
			break;
		if (ret < 0)
			p->c.tx_dropped++;
		free(q->data);
		q->data = NULL;
		p->q_head = (p->q_head + 1) % PORT_QUEUE_LEN;
		p->q_len--;
	}
	if (!p->q_len)
		port_set_events(sw, i, EPOLLIN);
}

static void port_forward(struct sw *sw, unsigned int in, size_t len)
{
	struct switch_decision d;
	unsigned int i;

	switch_decide(sw->table, in, sw->frame, len, sw_now_ms(), &d);
	switch (d.verdict) {
	case SWITCH_GARBAGE:
		sw->ports[in].c.rx_garbage++;
		return;
	case SWITCH_FILTER:
		break;
	case SWITCH_UNICAST:
		if (d.port < sw->max_ports)
			port_deliver(sw, d.port, sw->frame, len);
		break;
	case SWITCH_FLOOD:
		for (i = 0; i < sw->max_ports; i++)
			if (i != in)
				port_deliver(sw, i, sw->frame, len);
		break;
	}
	sw->ports[in].c.rx_frames++;
	sw->ports[in].c.rx_bytes += len;
}

/*
 * An empty message and the end of the connection both read as 0 bytes: the socket's
 * hang-up tells them apart.
 */
static bool port_hung_up(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Read up to PORT_RX_BATCH frames; the loop comes back for the rest. */
static void port_receive(struct sw *sw, unsigned int i)
{
	struct port *p = &sw->ports[i];
	unsigned int n;

	for (n = 0; n < PORT_RX_BATCH && !p->closing; n++) {
		/* MSG_TRUNC: the message's real length, so one too long is seen, not cut. */
		ssize_t len = recv(p->fd, sw->frame, sizeof(sw->frame), MSG_DONTWAIT | MSG_TRUNC);

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				port_mark_closing(p);
			return;
		}
		if (len == 0 && port_hung_up(p->fd)) {
			port_mark_closing(p);
			return;
		}
		port_forward(sw, i, len);
	}
}

void port_event(struct sw *sw, unsigned int i, uint32_t events)
{
	struct port *p = &sw->ports[i];

	if (i >= sw->max_ports || p->fd < 0 || p->closing)
		return;
	if (events & EPOLLOUT)
		port_flush(sw, i);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		port_receive(sw, i);
	/* Whatever was still queued for it is lost with it. */
	if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		port_mark_closing(p);
}

static void port_close(struct sw *sw, unsigned int i)
{
	struct port *p = &sw->ports[i];
	unsigned int forgotten = switch_table_forget_port(sw->table, i);

	fprintf(stderr,
		"ember-switch: port %u (pid %d) closed: rx %llu frames, tx %llu frames, "
		"%llu dropped, %llu garbage; %u addresses forgotten\n",
		p->id, (int)p->pid, (unsigned long long)p->c.rx_frames,
		(unsigned long long)p->c.tx_frames, (unsigned long long)p->c.tx_dropped,
		(unsigned long long)p->c.rx_garbage, forgotten);
	close(p->fd); /* also takes it out of the epoll set */
	while (p->q_len) {
		free(p->queue[p->q_head].data);
		p->q_head = (p->q_head + 1) % PORT_QUEUE_LEN;
		p->q_len--;
	}
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

void port_reap(struct sw *sw)
{
	unsigned int i;

	for (i = 0; i < sw->max_ports; i++)
		if (sw->ports[i].fd >= 0 && sw->ports[i].closing)
			port_close(sw, i);
}

void port_close_all(struct sw *sw)
{
	unsigned int i;

	for (i = 0; i < sw->max_ports; i++)
		if (sw->ports[i].fd >= 0)
			port_close(sw, i);
}

/* A free slot: never one closing this turn, whose index a pending event may still name. */
static int port_free_slot(const struct sw *sw)
{
	unsigned int i;

	for (i = 0; i < sw->max_ports; i++)
		if (sw->ports[i].fd < 0)
			return i;
	return -1;
}

void port_accept(struct sw *sw)
{
	for (;;) {
		int fd = accept4(sw->port_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred = {0};
		socklen_t len = sizeof(cred);
		struct port *p;
		int slot;

		if (fd < 0)
			return; /* EAGAIN: all taken; else transient (fds are reserved at start) */
		slot = port_free_slot(sw);
		if (slot < 0) {
			/* Logged at 1, 2, 4...: a client retrying cannot fill the log. */
			sw->refused_ports++;
			if (!(sw->refused_ports & (sw->refused_ports - 1)))
				fprintf(stderr,
					"ember-switch: all %u ports are taken: connection "
					"refused (%llu so far)\n",
					sw->max_ports, (unsigned long long)sw->refused_ports);
			close(fd);
			continue;
		}
		p = &sw->ports[slot];
		memset(p, 0, sizeof(*p));
		p->fd = fd;
		p->id = ++sw->next_port_id;
		if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
			p->pid = cred.pid;
		if (sw_watch(sw, fd, EPOLLIN, sw_tag(SRC_PORT, slot))) {
			close(fd);
			p->fd = -1;
			continue;
		}
		p->events = EPOLLIN;
		fprintf(stderr, "ember-switch: port %u: pid %d connected\n", p->id, (int)p->pid);
	}
}
