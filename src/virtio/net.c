/*
 * virtio-net over a backend (net_backend.h): a TAP, which speaks the same 12-byte
 * virtio_net_hdr_v1 as the guest, or an ember-switch port, which carries bare frames.
 * Transmit hands the guest's buffers to the backend as they are. Receive reads a frame
 * once and spreads it over as many guest buffers as it needs (mergeable rx buffers).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "net.h"
#include "net_backend.h"
#include "virtio.h"
#include "../snapshot/stream.h"
#include "../util/log.h"
#include "../util/tap.h"
#include "../util/util.h"

#define NET_F_CSUM	 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC	 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_UFO	 10
#define NET_F_HOST_TSO4	 11
#define NET_F_HOST_TSO6	 12
#define NET_F_HOST_UFO	 14
#define NET_F_MRG_RXBUF	 15

#define NET_RXQ 0
#define NET_TXQ 1

/* The largest frame a TAP hands over: a 64 KiB GSO packet plus Ethernet and our header. */
#define NET_FRAME_MAX	     (NET_HDR_LEN + 65550)
#define NET_HDR_NUM_BUFFERS  10
#define NET_HDR_F_NEEDS_CSUM 1
/* The most a detour may ask to peek at: Ethernet, IPv4 and TCP headers fit. */
#define NET_DETOUR_PEEK_MAX  64
/* Guest buffers one received frame may take; Linux posts at least 1.5 KiB per buffer. */
#define NET_RX_MAX_CHAINS    48

struct virtio_net {
	struct virtio_dev vd;
	struct event_loop *loop;
	struct net_config *cfg; /* the caller's; the limits follow virtio_net_update_limits */
	struct net_backend be;
	struct event_source be_src;
	bool be_registered;
	uint32_t be_events;
	bool be_gone;	     /* the switch closed our port: every frame is dropped from now on */
	bool tx_blocked;     /* the backend is full: wait for EPOLLOUT */
	size_t rx_len;	     /* bytes of a frame read from the backend, waiting for guest buffers */
	uint8_t *rx_frame;
	/*
	 * Chains being worked on: [0] holds a received frame's first chain until its header's
	 * buffer count is known (and each transmitted chain), [1] the frame's later chains,
	 * one at a time. Two are enough however many buffers a frame takes: each chain goes
	 * into the used ring as soon as it is written, and only the ring's index publishes it.
	 */
	struct virtq_elem elems[2];
	struct throttle rx_throttle;
	struct throttle tx_throttle;
	struct net_stats stats;
	const struct net_detour_ops *detour_ops; /* NULL: every frame goes to the backend */
	void *detour;
	uint8_t *tx_frame; /* a guest frame made contiguous for the detour; NET_FRAME_MAX */
};

static void net_set_backend_events(struct virtio_net *net, uint32_t want)
{
	if (net->be_registered && want != net->be_events &&
	    !event_loop_modify(net->loop, &net->be_src, want))
		net->be_events = want;
}

/* Read the backend only while a frame can go somewhere; watch for room while tx is blocked. */
static void net_watch_backend(struct virtio_net *net)
{
	uint32_t want = 0;

	if (virtio_dev_running(&net->vd)) {
		if (!net->rx_len)
			want |= EPOLLIN;
		if (net->tx_blocked)
			want |= EPOLLOUT;
	}
	net_set_backend_events(net, want);
}

/*
 * The switch went away (it exited, or closed our port). The guest runs on: what it sends
 * is dropped and counted, nothing arrives. Once: a hung-up socket stays readable, so it
 * leaves the event loop, which would otherwise wake for it forever.
 */
static void net_backend_lost(struct virtio_net *net)
{
	if (net->be_gone)
		return;
	log_warnx(net->vd.log, "virtio-net %s: the switch closed the connection; frames to and "
		  "from the guest are dropped from now on", net->be.name);
	net->be_gone = true;
	net->tx_blocked = false;
	net->rx_len = 0;
	if (net->be_registered)
		event_loop_del(net->loop, &net->be_src);
	net->be_registered = false;
}

/*
 * Hand the pending frame to the guest. Returns 1 when delivered (or dropped and counted),
 * 0 when the guest has too few buffers posted right now, -1 when it broke the ring.
 */
static int net_rx_deliver(struct virtio_net *net)
{
	struct virtq *q = &net->vd.queues[NET_RXQ];
	bool mrg = virtio_dev_has_feature(&net->vd, NET_F_MRG_RXBUF);
	unsigned int n = 0;
	size_t off = 0;
	uint16_t nbufs;
	int ret;

	while (off < net->rx_len) {
		struct virtq_elem *e = &net->elems[n ? 1 : 0];
		uint64_t take;

		if (n == NET_RX_MAX_CHAINS || (n == 1 && !mrg)) {
			/*
			 * The guest's buffers are too small for this frame: drop it, keep them.
			 * What was filled in the used ring stays past its index, unseen.
			 */
			virtq_unpop(q, n);
			net->stats.rx_dropped++;
			return 1;
		}
		ret = virtq_pop(q, e);
		if (ret == 0) {
			/*
			 * Too few buffers: ask for a kick when more come, then check we did not
			 * just miss one. Both from here, past the ones popped: put back, they
			 * would look new and spin this, and an event index left behind what
			 * the driver posted already would never be crossed.
			 */
			virtq_set_notify(q, true);
			if (virtq_has_avail(q))
				continue;
		}
		if (ret <= 0) {
			virtq_unpop(q, n);
			return ret < 0 ? -1 : 0;
		}
		/* An rx buffer the device may only read, or too small for a header. */
		if (e->nr_out || (!n && e->in_len < NET_HDR_LEN))
			return -1;
		take = MIN(e->in_len, net->rx_len - off);
		virtq_elem_write(e, 0, net->rx_frame + off, take);
		virtq_fill(q, e, take, n);
		off += take;
		n++;
	}
	nbufs = n;
	virtq_elem_write(&net->elems[0], NET_HDR_NUM_BUFFERS, &nbufs, sizeof(nbufs));
	virtq_flush(q, n);
	net->stats.rx_frames++;
	net->stats.rx_bytes += net->rx_len - NET_HDR_LEN;
	return 1;
}

static void net_rx(struct virtio_net *net)
{
	struct virtq *q = &net->vd.queues[NET_RXQ];
	bool delivered = false;
	int ret;

	while (virtio_dev_running(&net->vd) && q->enabled) {
		if (!net->rx_len && net->detour_ops) {
			size_t n = net->detour_ops->next(net->detour, net->rx_frame + NET_HDR_LEN,
							 NET_FRAME_MAX - NET_HDR_LEN);

			if (n) {
				/* No offloads asked: the detour's checksums are complete. */
				memset(net->rx_frame, 0, NET_HDR_LEN);
				net->rx_len = NET_HDR_LEN + n;
			}
		}
		if (!net->rx_len) {
			ssize_t n;

			if (net->be_gone)
				break;
			n = net_backend_recv(&net->be, net->rx_frame, NET_FRAME_MAX);

			if (n == -EPIPE) {
				net_backend_lost(net);
				break;
			}
			if (n == -EMSGSIZE || (n > 0 && (size_t)n <= NET_HDR_LEN)) {
				net->stats.rx_dropped++;
				continue;
			}
			if (n < 0 && n != -EAGAIN && n != -EINTR)
				log_warnx(net->vd.log, "virtio-net %s: read: %s", net->be.name,
					  strerror(-n));
			if (n <= 0)
				break;
			net->rx_len = n;
		}
		/* Out of tokens: the frame waits in rx_frame and the backend is not read meanwhile. */
		if (!throttle_allow(&net->rx_throttle, net->rx_len - NET_HDR_LEN))
			break;
		ret = net_rx_deliver(net);
		if (ret < 0) {
			virtio_dev_fail(&net->vd, "malformed receive buffers");
			break;
		}
		if (ret == 0)
			break; /* net_rx_deliver asked for a kick when buffers arrive */
		net->rx_len = 0;
		delivered = true;
	}
	if (delivered)
		virtio_dev_signal_queue(&net->vd, NET_RXQ);
	net_watch_backend(net);
}

/*
 * Whether the detour takes the frame in (e), a chain already checked to hold more than the
 * header: it is handed over whole and never reaches the backend.
 */
static bool net_tx_detoured(struct virtio_net *net, const struct virtq_elem *e)
{
	uint8_t head[NET_DETOUR_PEEK_MAX], flags = 0;
	uint64_t len = e->out_len - NET_HDR_LEN;
	size_t peek = MIN(MIN(net->detour_ops->peek, sizeof(head)), len);

	if (virtq_elem_read(e, NET_HDR_LEN, head, peek) != peek ||
	    !net->detour_ops->wants(net->detour, head, peek))
		return false;
	virtq_elem_read(e, 0, &flags, 1);
	/* out_len was checked against NET_FRAME_MAX, the size of tx_frame. */
	if (virtq_elem_read(e, NET_HDR_LEN, net->tx_frame, len) == len)
		net->detour_ops->take(net->detour, net->tx_frame, len,
				      flags & NET_HDR_F_NEEDS_CSUM);
	return true;
}

static void net_tx(struct virtio_net *net)
{
	struct virtq *q = &net->vd.queues[NET_TXQ];
	struct virtq_elem *e = &net->elems[0];
	bool pushed = false, detoured = false;
	ssize_t sent;
	int ret;

	while (!net->tx_blocked) {
		ret = virtio_dev_pop(&net->vd, NET_TXQ, e, "malformed transmit chain");
		if (ret <= 0)
			break;
		if (e->nr_in || e->out_len <= NET_HDR_LEN || e->out_len > NET_FRAME_MAX ||
		    net->be_gone) {
			net->stats.tx_dropped++;
		} else if (!throttle_allow(&net->tx_throttle, e->out_len - NET_HDR_LEN)) {
			virtq_unpop(q, 1); /* the throttle's timer brings us back */
			break;
		} else if (net->detour_ops && net_tx_detoured(net, e)) {
			detoured = true; /* the detour counts its own frames */
		} else if ((sent = net_backend_send(&net->be, e->iov, e->nr_out)) < 0) {
			if (sent == -EAGAIN) {
				/* Full backend: this frame goes again when it drains. */
				virtq_unpop(q, 1);
				net->tx_blocked = true;
				break;
			}
			if (sent == -EPIPE)
				net_backend_lost(net);
			else
				log_info(net->vd.log, "virtio-net %s: frame dropped: %s", net->be.name,
					 strerror(-sent));
			net->stats.tx_dropped++;
		} else {
			net->stats.tx_frames++;
			net->stats.tx_bytes += e->out_len - NET_HDR_LEN;
		}
		virtq_push(q, e, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_queue(&net->vd, NET_TXQ);
	/* The detour's answers go out now, not when the next frame from the backend comes. */
	if (detoured && !net->rx_len)
		net_rx(net);
	else
		net_watch_backend(net);
}

static void net_backend_event(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;

	pthread_mutex_lock(&net->vd.lock);
	if (events & EPOLLOUT) {
		net->tx_blocked = false;
		net_tx(net);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		net_rx(net);
	/* Reported whatever is asked for, so also while the device is not reading. */
	if (net_backend_hung_up(&net->be, events))
		net_backend_lost(net);
	pthread_mutex_unlock(&net->vd.lock);
}

static void net_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_net *net = vd->priv;

	if (q == NET_RXQ)
		net_rx(net);
	else
		net_tx(net);
}

static void net_rx_resume(struct virtio_dev *vd)
{
	net_rx(vd->priv);
}

static void net_tx_resume(struct virtio_dev *vd)
{
	net_tx(vd->priv);
}

static uint64_t net_features(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->priv;
	uint64_t offloads = 1ULL << NET_F_CSUM | 1ULL << NET_F_GUEST_CSUM |
			    1ULL << NET_F_GUEST_TSO4 | 1ULL << NET_F_GUEST_TSO6 |
			    1ULL << NET_F_GUEST_UFO | 1ULL << NET_F_HOST_TSO4 |
			    1ULL << NET_F_HOST_TSO6 | 1ULL << NET_F_HOST_UFO;
	uint64_t f = 1ULL << NET_F_MRG_RXBUF;

	/* A switch port carries bare frames: the guest must checksum and segment them itself. */
	if (net_backend_offloads(&net->be))
		f |= offloads;
	return f | (net->cfg->has_mac ? 1ULL << NET_F_MAC : 0);
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, void *data, unsigned int len)
{
	struct virtio_net *net = vd->priv;
	uint8_t config[8] = { 0 };

	memcpy(config, net->cfg->mac, 6);
	memcpy(data, config + off, len);
}

static int net_activate(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->priv;
	unsigned int offloads = 0;
	int ret;

	if (!net_backend_offloads(&net->be)) {
		net_watch_backend(net);
		return 0;
	}
	/* The TAP may hand the guest only what the guest said it can take. */
	if (virtio_dev_has_feature(vd, NET_F_GUEST_CSUM)) {
		offloads |= TAP_OFFLOAD_CSUM;
		if (virtio_dev_has_feature(vd, NET_F_GUEST_TSO4))
			offloads |= TAP_OFFLOAD_TSO4;
		if (virtio_dev_has_feature(vd, NET_F_GUEST_TSO6))
			offloads |= TAP_OFFLOAD_TSO6;
		if (virtio_dev_has_feature(vd, NET_F_GUEST_UFO))
			offloads |= TAP_OFFLOAD_UFO;
	}
	ret = net_backend_set_offload(&net->be, offloads);
	if (ret)
		log_warnx(net->vd.log, "virtio-net %s: TUNSETOFFLOAD 0x%x: %s", net->be.name,
			  offloads, strerror(-ret));
	net_watch_backend(net);
	return 0;
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->priv;

	net->rx_len = 0;
	net->tx_blocked = false;
	net_set_backend_events(net, 0);
	if (net->detour_ops && net->detour_ops->reset)
		net->detour_ops->reset(net->detour);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.features = net_features,
	.config_size = 8,
	.config_read = net_config_read,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

int virtio_net_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, struct net_config *cfg, struct virtio_net **out,
		      char *why, size_t why_len)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	int ret;

	if (!net)
		return -ENOMEM;
	net->cfg = cfg;
	net->loop = loop;
	net->be.fd = -1;
	net->rx_throttle.timer_fd = net->tx_throttle.timer_fd = -1;
	net->rx_frame = malloc(NET_FRAME_MAX);
	if (!net->rx_frame) {
		ret = -ENOMEM;
		goto err;
	}
	ret = net_backend_open(&net->be, cfg, why, why_len);
	if (ret)
		goto err;
	net->be_src = (struct event_source){ net_backend_fd(&net->be), net_backend_event, net };
	ret = event_loop_add(net->loop, &net->be_src, 0);
	if (ret)
		goto err;
	net->be_registered = true;
	virtio_dev_init(&net->vd, &net_ops, net, mem, log);
	ret = throttle_init(&net->rx_throttle, &cfg->rx_limit, net->loop, &net->vd, net_rx_resume);
	if (!ret)
		ret = throttle_init(&net->tx_throttle, &cfg->tx_limit, net->loop, &net->vd,
				    net_tx_resume);
	if (ret) {
		throttle_destroy(&net->rx_throttle);
		throttle_destroy(&net->tx_throttle);
		virtio_dev_destroy(&net->vd);
		goto err;
	}
	*out = net;
	return 0;
err:
	if (net->be_registered)
		event_loop_del(net->loop, &net->be_src);
	net_backend_close(&net->be);
	free(net->rx_frame);
	free(net);
	return ret;
}

struct virtio_dev *virtio_net_dev(struct virtio_net *net)
{
	return &net->vd;
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net)
		return;
	log_info(net->vd.log,
		 "virtio-net %s: rx %llu frames %llu bytes %llu dropped, tx %llu frames %llu bytes "
		 "%llu dropped", net->be.name, (unsigned long long)net->stats.rx_frames,
		 (unsigned long long)net->stats.rx_bytes, (unsigned long long)net->stats.rx_dropped,
		 (unsigned long long)net->stats.tx_frames, (unsigned long long)net->stats.tx_bytes,
		 (unsigned long long)net->stats.tx_dropped);
	throttle_destroy(&net->rx_throttle);
	throttle_destroy(&net->tx_throttle);
	if (net->detour_ops && net->detour_ops->destroy)
		net->detour_ops->destroy(net->detour);
	virtio_dev_destroy(&net->vd);
	if (net->be_registered)
		event_loop_del(net->loop, &net->be_src);
	net_backend_close(&net->be);
	free(net->rx_frame);
	free(net->tx_frame);
	free(net);
}

int virtio_net_set_detour(struct virtio_net *net, const struct net_detour_ops *ops, void *opaque)
{
	if (!net->tx_frame && !(net->tx_frame = malloc(NET_FRAME_MAX)))
		return -ENOMEM;
	net->detour_ops = ops;
	net->detour = opaque;
	return 0;
}

void virtio_net_detour_kick(struct virtio_net *net)
{
	pthread_mutex_lock(&net->vd.lock);
	if (net->detour_ops && net->detour_ops->kick)
		net->detour_ops->kick(net->detour);
	net_rx(net);
	pthread_mutex_unlock(&net->vd.lock);
}

void virtio_net_stats(struct virtio_net *net, struct net_stats *out)
{
	pthread_mutex_lock(&net->vd.lock);
	*out = net->stats;
	out->rx_rate_limiter_throttled = net->rx_throttle.throttled;
	out->tx_rate_limiter_throttled = net->tx_throttle.throttled;
	pthread_mutex_unlock(&net->vd.lock);
}

int virtio_net_update_limits(struct virtio_net *net, const struct throttle_config *rx,
			     const struct throttle_config *tx)
{
	int ret = 0;

	if ((rx && throttle_config_validate(rx)) || (tx && throttle_config_validate(tx))) {
		log_warnx(net->vd.log, "virtio-net %s: rate limiter out of range; nothing changed",
			  net->be.name);
		return -EINVAL;
	}
	pthread_mutex_lock(&net->vd.lock);
	/* Validated above, so neither can fail now: no half-done update. */
	if (rx) {
		ret = throttle_update(&net->rx_throttle, rx);
		if (!ret)
			net->cfg->rx_limit = *rx;
	}
	if (tx && !ret) {
		ret = throttle_update(&net->tx_throttle, tx);
		if (!ret)
			net->cfg->tx_limit = *tx;
	}
	pthread_mutex_unlock(&net->vd.lock);
	return ret;
}

int virtio_net_save(struct virtio_net *net, struct snap_writer *w)
{
	pthread_mutex_lock(&net->vd.lock);
	throttle_save(&net->rx_throttle, w);
	throttle_save(&net->tx_throttle, w);
	pthread_mutex_unlock(&net->vd.lock);
	return 0;
}

int virtio_net_restore(struct virtio_net *net, struct snap_cursor *c, char *why,
		       size_t why_len)
{
	struct throttle rx = net->rx_throttle;
	int ret;

	pthread_mutex_lock(&net->vd.lock);
	/* Both or neither: rx is put back only once tx is read well too. */
	ret = throttle_restore(&rx, c);
	if (!ret)
		ret = throttle_restore(&net->tx_throttle, c);
	if (!ret)
		net->rx_throttle.rl = rx.rl;
	pthread_mutex_unlock(&net->vd.lock);
	return ret ? snap_cursor_end(c, why, why_len) : 0;
}
