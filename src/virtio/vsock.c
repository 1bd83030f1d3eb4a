/*
 * virtio-vsock, the device side: the three queues, packet headers, the listening socket
 * for host-initiated connections, and a timer for connections that wait on someone.
 * What a packet means for a connection is vsock_conn.c's business; the packet format and
 * the rules both sides apply to it are vsock_packet.c's.
 *
 * Nothing is buffered host to guest: bytes are read from a host socket straight into a
 * guest rx buffer, and only while the guest has credit and a buffer is posted. Guest to
 * host, each connection buffers at most the VSOCK_BUF_ALLOC it advertised.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio.h"
#include "vsock.h"
#include "vsock_conn.h"
#include "../util/log.h"
#include "../util/util.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

#define VSOCK_LISTEN_BACKLOG 32
#define VSOCK_MAX_STRAYS     32 /* RSTs owed for packets that match no connection */
#define VSOCK_TICK_MS	     200

/* The one event (VIRTIO 1.2 section 5.10.6.7): the guest's connections are all gone. */
#define VSOCK_EVENT_TRANSPORT_RESET 0

struct vsock_stray {
	uint32_t guest_port;
	uint32_t host_port;
};

struct virtio_vsock {
	struct virtio_dev vd;
	struct event_loop *loop;
	const struct vsock_config *cfg; /* the caller's, which outlives the device */
	int listen_fd;
	struct event_source listen_src;
	bool listen_registered;
	bool path_bound; /* cfg->path is ours to unlink */
	int timer_fd;
	struct event_source timer_src;
	bool timer_registered;
	bool timer_armed;
	unsigned int rx_cursor; /* round-robin start for the next rx packet */
	struct vsock_stray strays[VSOCK_MAX_STRAYS];
	unsigned int stray_head, nr_strays;
	struct virtq_elem *elem; /* scratch chain for rx, tx and events (one at a time) */
	struct vsock_conns conns;
	/*
	 * Restored from a snapshot, whose host connections are gone: the guest is owed a
	 * transport reset event, sent once the device runs and a buffer is on the event queue.
	 */
	bool reset_owed;
};

/* Owe the guest an RST for a packet that matched no connection. */
static void vsock_stray_rst(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port)
{
	/* Best effort: a guest that floods us with junk loses some of its RSTs. */
	if (v->nr_strays == VSOCK_MAX_STRAYS)
		return;
	v->strays[(v->stray_head + v->nr_strays) % VSOCK_MAX_STRAYS] =
		(struct vsock_stray){ guest_port, host_port };
	v->nr_strays++;
}

/* Write the next packet owed to the guest into (e). Returns its length, 0 if none. */
static uint32_t vsock_rx_next(struct virtio_vsock *v, const struct virtq_elem *e)
{
	unsigned int i;

	if (v->nr_strays) {
		struct vsock_stray *s = &v->strays[v->stray_head];
		struct vsock_hdr h;

		vsock_hdr_init(&h, VSOCK_OP_RST, v->cfg->cid, s->guest_port, s->host_port);
		virtq_elem_write(e, 0, &h, sizeof(h));
		v->stray_head = (v->stray_head + 1) % VSOCK_MAX_STRAYS;
		v->nr_strays--;
		return sizeof(h);
	}
	/* One packet per connection per turn, so a busy one cannot starve the others. */
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		unsigned int idx = (v->rx_cursor + i) % VSOCK_MAX_CONNS;
		uint32_t n = vsock_conn_rx(&v->conns.slot[idx], e);

		if (n) {
			v->rx_cursor = (idx + 1) % VSOCK_MAX_CONNS;
			return n;
		}
	}
	return 0;
}

static void vsock_rx(struct virtio_vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_RXQ];
	struct virtq_elem *e = v->elem;
	bool pushed = false;
	int ret;

	if (!virtio_dev_running(&v->vd) || !q->enabled)
		return;
	for (;;) {
		uint32_t n;

		ret = virtio_dev_pop(&v->vd, VSOCK_RXQ, e, "malformed receive chain");
		if (ret <= 0)
			break;
		if (e->nr_out || e->in_len < VSOCK_HDR_LEN) {
			virtio_dev_fail(&v->vd, "rx buffer read-only or shorter than a header");
			break;
		}
		n = vsock_rx_next(v, e);
		if (!n) {
			virtq_unpop(q, 1);
			break;
		}
		virtq_push(q, e, n);
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_queue(&v->vd, VSOCK_RXQ);
}

/* One packet from the guest. Malformed ones get an RST (or are dropped), never trusted. */
static void vsock_tx_packet(struct virtio_vsock *v, const struct virtq_elem *e)
{
	struct vsock_conn *c;
	struct vsock_hdr h;

	if (e->out_len < sizeof(h)) {
		log_debug(v->vd.log, "vsock: %llu-byte packet, shorter than a header",
			  (unsigned long long)e->out_len);
		return;
	}
	virtq_elem_read(e, 0, &h, sizeof(h));
	/* Not from our guest, or not for the host: nobody to answer. */
	if (h.src_cid != v->cfg->cid || h.dst_cid != VSOCK_CID_HOST) {
		log_debug(v->vd.log, "vsock: dropping a packet from CID %llu to CID %llu",
			  (unsigned long long)h.src_cid, (unsigned long long)h.dst_cid);
		return;
	}
	c = vsock_conn_find(&v->conns, h.src_port, h.dst_port);
	if (h.type != VSOCK_TYPE_STREAM || h.len > VSOCK_MAX_PAYLOAD ||
	    h.len > e->out_len - sizeof(h)) {
		log_debug(v->vd.log, "vsock: %u->%u: bad type %u or length %u", h.src_port,
			  h.dst_port, h.type, h.len);
		if (c)
			vsock_conn_reset(c);
		else if (h.op != VSOCK_OP_RST)
			vsock_stray_rst(v, h.src_port, h.dst_port);
		return;
	}
	if (c)
		vsock_conn_packet(c, &h, e);
	else if (h.op == VSOCK_OP_REQUEST) {
		if (vsock_conn_from_guest_request(&v->conns, &h))
			vsock_stray_rst(v, h.src_port, h.dst_port);
	} else if (h.op != VSOCK_OP_RST)
		vsock_stray_rst(v, h.src_port, h.dst_port);
}

static void vsock_tx(struct virtio_vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_TXQ];
	struct virtq_elem *e = v->elem;
	bool pushed = false;

	while (virtio_dev_pop(&v->vd, VSOCK_TXQ, e, "malformed transmit chain") > 0) {
		vsock_tx_packet(v, e);
		virtq_push(q, e, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_queue(&v->vd, VSOCK_TXQ);
}

static void vsock_timer_set(struct virtio_vsock *v, bool on)
{
	struct itimerspec its = { 0 };

	if (on == v->timer_armed)
		return;
	if (on) {
		its.it_value.tv_nsec = VSOCK_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (!timerfd_settime(v->timer_fd, 0, &its, NULL))
		v->timer_armed = on;
}

/*
 * After anything happened: send the guest what it is owed, re-aim every socket's watch,
 * arm or stop the timer.
 */
static void vsock_settle(struct virtio_vsock *v)
{
	bool running = virtio_dev_running(&v->vd), deadlines = false;
	unsigned int i;

	vsock_rx(v);
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns.slot[i];

		if (c->state == CONN_FREE)
			continue;
		vsock_conn_watch(c, running);
		deadlines |= c->deadline_us != 0;
	}
	/* Tick only while someone waits on a deadline. */
	vsock_timer_set(v, deadlines);
}

static void vsock_on_timer(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	uint64_t n, now;
	unsigned int i;

	(void)events;
	if (read(v->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug(v->vd.log, "vsock: timerfd read: %s", strerror(errno));
	pthread_mutex_lock(&v->vd.lock);
	now = now_us();
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		vsock_conn_expire(&v->conns.slot[i], now);
	vsock_settle(v);
	pthread_mutex_unlock(&v->vd.lock);
}

/* A connection's host socket is ready: under the lock, let the connection act, then settle. */
static void vsock_on_conn_socket(void *opaque, struct vsock_conn *c, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	pthread_mutex_lock(&v->vd.lock);
	vsock_conn_socket_event(c, events);
	vsock_settle(v);
	pthread_mutex_unlock(&v->vd.lock);
}

/* Host clients connecting to cfg->path: each gets a connection slot to send its line in. */
static void vsock_on_listen(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	(void)events;
	pthread_mutex_lock(&v->vd.lock);
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0) {
			if (errno != EAGAIN)
				log_warn(v->vd.log, "vsock: accept on %s", v->cfg->path);
			break;
		}
		c = vsock_conn_alloc(&v->conns);
		if (!c) {
			log_debug(v->vd.log, "vsock: %u connections open; closing a host client",
				  VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		if (vsock_conn_attach(c, fd)) {
			vsock_conn_free(c);
			continue;
		}
		c->deadline_us = now_us() + VSOCK_TIMEOUT_US;
	}
	vsock_settle(v);
	pthread_mutex_unlock(&v->vd.lock);
}

/* Tell the guest its connections are gone, if it is owed that and has posted a buffer. */
static void vsock_send_reset(struct virtio_vsock *v)
{
	struct virtq *q = &v->vd.queues[VSOCK_EVQ];
	uint32_t id = VSOCK_EVENT_TRANSPORT_RESET; /* le32 id */
	struct virtq_elem *e = v->elem;

	if (!v->reset_owed || !virtio_dev_running(&v->vd) || !q->enabled)
		return;
	/* None posted yet: the kick that brings one comes back here. */
	if (virtio_dev_pop(&v->vd, VSOCK_EVQ, e, "malformed event chain") <= 0)
		return;
	if (e->nr_out || e->in_len < sizeof(id)) {
		virtio_dev_fail(&v->vd, "event buffer read-only or shorter than an event");
		return;
	}
	virtq_elem_write(e, 0, &id, sizeof(id));
	virtq_push(q, e, sizeof(id));
	v->reset_owed = false;
	virtio_dev_signal_queue(&v->vd, VSOCK_EVQ);
	log_info(v->vd.log, "vsock: told the guest its connections were reset (restored)");
}

static void vsock_config_read(struct virtio_dev *vd, uint32_t off, void *data, unsigned int len)
{
	struct virtio_vsock *v = vd->priv;
	uint64_t cid = v->cfg->cid; /* le64 guest_cid */

	memcpy(data, (uint8_t *)&cid + off, len);
}

static int vsock_activate(struct virtio_dev *vd)
{
	/* A restored device first: the guest drops what it thinks is connected. */
	vsock_send_reset(vd->priv);
	/* Host clients may have asked for guest ports before the driver was up. */
	vsock_settle(vd->priv);
	return 0;
}

static void vsock_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_vsock *v = vd->priv;

	/* The event queue only holds buffers for the one event, sent after a restore. */
	if (q == VSOCK_EVQ)
		vsock_send_reset(v);
	if (q == VSOCK_TXQ)
		vsock_tx(v);
	if (q != VSOCK_EVQ)
		vsock_settle(v);
}

static void vsock_reset(struct virtio_dev *vd)
{
	struct virtio_vsock *v = vd->priv;
	unsigned int i;

	/* The guest forgot every socket: close the host ends too, without RSTs to send. */
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns.slot[i].state != CONN_FREE)
			vsock_conn_free(&v->conns.slot[i]);
	v->nr_strays = 0;
	v->rx_cursor = 0;
	/* A driver that resets the device has no connections left to be told about. */
	v->reset_owed = false;
	vsock_timer_set(v, false);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.config_size = 8,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
};

static int vsock_listen(struct virtio_vsock *v, char *why, size_t why_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	strcpy(addr.sun_path, v->cfg->path);
	/* A socket left by an earlier run is stale; anything else is not ours to delete. */
	if (!lstat(v->cfg->path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "exists and is not a socket");
			return -EEXIST;
		}
		unlink(v->cfg->path);
	}
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot listen: %s", strerror(-ret));
		return ret;
	}
	v->path_bound = true;
	if (listen(v->listen_fd, VSOCK_LISTEN_BACKLOG) < 0) {
		ret = -errno;
		snprintf(why, why_len, "cannot listen: %s", strerror(-ret));
		return ret;
	}
	v->listen_src = (struct event_source){ v->listen_fd, vsock_on_listen, v };
	ret = event_loop_add(v->loop, &v->listen_src, EPOLLIN);
	if (!ret)
		v->listen_registered = true;
	return ret;
}

static int vsock_timer_init(struct virtio_vsock *v)
{
	int ret;

	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer_fd < 0)
		return -errno;
	v->timer_src = (struct event_source){ v->timer_fd, vsock_on_timer, v };
	ret = event_loop_add(v->loop, &v->timer_src, EPOLLIN);
	if (!ret)
		v->timer_registered = true;
	return ret;
}

/* Undo whatever of create got done, the device model itself excepted. */
static void vsock_release(struct virtio_vsock *v)
{
	unsigned int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns.slot[i].state != CONN_FREE)
			vsock_conn_free(&v->conns.slot[i]);
	if (v->listen_registered)
		event_loop_del(v->loop, &v->listen_src);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->path_bound)
		unlink(v->cfg->path);
	if (v->timer_registered)
		event_loop_del(v->loop, &v->timer_src);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	free(v->elem);
	free(v);
}

int virtio_vsock_create(const struct guest_mem *mem, struct event_loop *loop,
			struct logger *log, const struct vsock_config *cfg,
			struct virtio_vsock **out, char *why, size_t why_len)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	v->cfg = cfg;
	v->loop = loop;
	v->listen_fd = v->timer_fd = -1;
	vsock_conns_init(&v->conns, v->loop, log, v->cfg->cid, v->cfg->path, vsock_on_conn_socket,
			 v);
	v->elem = calloc(1, sizeof(*v->elem));
	if (!v->elem) {
		ret = -ENOMEM;
		goto err;
	}
	ret = vsock_timer_init(v);
	if (ret)
		goto err;
	ret = vsock_listen(v, why, why_len);
	if (ret)
		goto err;
	virtio_dev_init(&v->vd, &vsock_ops, v, mem, log);
	*out = v;
	return 0;
err:
	vsock_release(v);
	return ret;
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *v)
{
	return &v->vd;
}

int virtio_vsock_restore(struct virtio_vsock *v)
{
	/*
	 * Nothing of a connection survives a snapshot (its host socket belonged to the
	 * process that took it), so there is no state to read: what the guest still thinks
	 * is connected, it is told to drop when the device resumes (vsock_activate).
	 */
	pthread_mutex_lock(&v->vd.lock);
	v->reset_owed = true;
	pthread_mutex_unlock(&v->vd.lock);
	return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	virtio_dev_destroy(&v->vd);
	vsock_release(v);
}
