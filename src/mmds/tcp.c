/*
 * The MMDS stack's TCP, server side only, after RFC 9293. What it leaves out on purpose:
 * out-of-order queueing (a guest's TCP retransmits what was dropped), window scaling and
 * SACK (requests are small, responses a few segments), congestion control (the path is
 * one memory copy), and TIME-WAIT (the guest, which closes first or second, keeps it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static size_t out_pending(const struct tcp_conn *c)
{
	return c->out_end - c->out_head;
}

/* The receive window: room left in the request buffer (all of it once bytes are dropped). */
static uint32_t rcv_wnd(const struct tcp_conn *c)
{
	return c->discard ? MMDS_REQUEST_MAX : (uint32_t)(MMDS_REQUEST_MAX - c->req_len);
}

/* Bytes of the response not sent yet (snd_nxt may have gone back on a timeout). */
static size_t unsent(const struct tcp_conn *c)
{
	size_t off = (size_t)(c->snd_nxt - c->out_seq);

	return off < out_pending(c) ? out_pending(c) - off : 0;
}

/* Our FIN may go: after every response byte, and no request waits for room to be served. */
static bool fin_ready(const struct tcp_conn *c)
{
	return c->established && c->fin_queued && !c->stalled &&
	       c->snd_nxt == c->out_seq + (uint32_t)out_pending(c);
}

static bool fin_acked(const struct tcp_conn *c)
{
	return c->fin_queued && out_pending(c) == 0 && c->snd_una == c->out_seq + 1;
}

/* Both sides closed and nothing owed: the connection is over. */
static bool finished(const struct tcp_conn *c)
{
	return c->peer_fin && fin_acked(c) && !c->ack_due;
}

/* The bytes the guest's window lets go now. */
static uint32_t send_room(const struct tcp_conn *c)
{
	uint32_t wnd = c->snd_wnd ? c->snd_wnd : (c->probe ? 1 : 0);
	uint32_t limit = c->snd_una + wnd;

	return seq_lt(c->snd_nxt, limit) ? limit - c->snd_nxt : 0;
}

/* New progress (an acknowledgement, an opened window): the next timeout starts afresh. */
static void rto_restart(struct tcp_conn *c)
{
	c->retries = 0;
	c->rto_ms = TCP_RTO_INITIAL_MS;
	c->rto_at = 0; /* set again by update_timer while anything is still out (RFC 6298 5.3) */
}

/* Run the retransmission timer while something is unacknowledged or held back by the window. */
static void update_timer(struct tcp_conn *c, uint64_t now)
{
	bool in_flight = c->snd_max != c->snd_una;
	bool blocked = c->established && unsent(c) && c->snd_wnd == 0;

	if (c->dead || c->rst_due || (!in_flight && !blocked))
		c->rto_at = 0;
	else if (!c->rto_at)
		c->rto_at = now + c->rto_ms;
}

int tcp_conn_open(struct tcp_conn *c, const struct tcp_seg *seg, uint32_t iss, uint64_t now)
{
	memset(c, 0, sizeof(*c));
	c->req = malloc(MMDS_REQUEST_MAX);
	if (!c->req)
		return -ENOMEM;
	c->in_use = true;
	memcpy(c->peer_mac, seg->peer_mac, 6);
	memcpy(c->peer_ip, seg->src_ip, 4);
	c->peer_port = seg->sport;
	/* Below 64 bytes a segment is mostly header: take such an MSS as the default. */
	c->mss = seg->mss >= 64 ? seg->mss : TCP_MSS_DEFAULT;
	if (c->mss > TCP_MSS_OURS)
		c->mss = TCP_MSS_OURS;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->iss = iss;
	c->snd_una = c->snd_nxt = c->snd_max = iss;
	c->out_seq = iss + 1;
	c->snd_wnd = seg->win;
	c->rto_ms = TCP_RTO_INITIAL_MS;
	c->idle_at = now + TCP_IDLE_MS;
	return 0;
}

void tcp_conn_close(struct tcp_conn *c)
{
	free(c->req);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

bool tcp_conn_matches(const struct tcp_conn *c, const struct tcp_seg *seg)
{
	return c->in_use && c->peer_port == seg->sport && !memcmp(c->peer_ip, seg->src_ip, 4);
}

/* Queue (reply) after the response bytes already held; it is ours to free either way. */
static int append_out(struct tcp_conn *c, uint8_t *reply, size_t len)
{
	size_t pending = out_pending(c);
	uint8_t *buf;

	if (!pending) {
		free(c->out);
		c->out = reply;
		c->out_head = 0;
		c->out_end = len;
		return 0;
	}
	if (len > TCP_OUT_MAX * 4 || !(buf = malloc(pending + len))) {
		free(reply);
		return -ENOMEM;
	}
	memcpy(buf, c->out + c->out_head, pending);
	memcpy(buf + pending, reply, len);
	free(reply);
	free(c->out);
	c->out = buf;
	c->out_head = 0;
	c->out_end = pending + len;
	return 0;
}

/* Answer the complete requests at the head of the buffer, while responses have room. */
static void serve_requests(struct tcp_conn *c, const struct tcp_env *env, uint64_t now)
{
	c->stalled = false;
	while (!c->discard && c->req_len && !c->rst_due) {
		uint8_t *reply = NULL;
		size_t reply_len = 0;
		bool close = false;
		long used;

		if (out_pending(c) >= TCP_OUT_MAX) {
			/* The guest reads slowly: serve more once it acknowledges. */
			c->stalled = true;
			return;
		}
		used = env->serve(env->opaque, c->req, c->req_len, now, &reply, &reply_len, &close);
		if (used == 0) {
			free(reply);
			/* A full buffer with no request in it: the window is closed for good. */
			if (c->req_len == MMDS_REQUEST_MAX) {
				env->stats->rx_dropped++;
				c->rst_due = true;
			}
			return;
		}
		if (used < 0 || (size_t)used > c->req_len || append_out(c, reply, reply_len) < 0) {
			if (used < 0 || (size_t)used > c->req_len)
				free(reply);
			c->rst_due = true;
			return;
		}
		env->stats->tx_count++;
		c->req_len -= (size_t)used;
		memmove(c->req, c->req + used, c->req_len);
		if (close) {
			c->discard = true;
			c->fin_queued = true;
			c->req_len = 0;
		}
	}
}

/* RFC 9293 3.10.7.4's acceptability test for a segment of (seg_len) sequence numbers. */
static bool acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seg_len)
{
	uint32_t wnd = rcv_wnd(c), end = c->rcv_nxt + wnd;

	if (!seg_len)
		return wnd ? seq_le(c->rcv_nxt, seq) && seq_lt(seq, end) : seq == c->rcv_nxt;
	if (!wnd)
		return false;
	return (seq_le(c->rcv_nxt, seq) && seq_lt(seq, end)) ||
	       (seq_le(c->rcv_nxt, seq + seg_len - 1) && seq_lt(seq + seg_len - 1, end));
}

/* The acknowledgement field: 0 to go on with the segment, -1 when it is to be dropped. */
static int take_ack(struct tcp_conn *c, const struct tcp_env *env, const struct tcp_seg *seg)
{
	uint32_t acked;
	size_t data;
	bool opened;

	if (!c->established) {
		if (seg->ack != c->iss + 1) {
			env->stats->rx_dropped++;
			return -1;
		}
		c->established = true;
		c->snd_una = c->iss + 1;
		if (seq_lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		rto_restart(c);
		c->snd_wnd = seg->win;
		return 0;
	}
	if (seq_lt(c->snd_max, seg->ack)) {
		/* It acknowledges what was never sent: answer with what we have, take nothing. */
		env->stats->rx_dropped++;
		c->ack_due = true;
		return -1;
	}
	if (seq_lt(seg->ack, c->snd_una))
		return 0; /* an old duplicate: its data may still be new */
	opened = c->snd_wnd == 0 && seg->win;
	c->snd_wnd = seg->win;
	if (seq_lt(c->snd_una, seg->ack)) {
		acked = seg->ack - c->out_seq;
		data = acked < out_pending(c) ? acked : out_pending(c);
		c->out_head += data;
		c->out_seq += (uint32_t)data;
		if (!out_pending(c)) {
			free(c->out);
			c->out = NULL;
			c->out_head = c->out_end = 0;
		}
		c->snd_una = seg->ack;
		if (seq_lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->probe = false;
		rto_restart(c);
	}
	if (c->probing) {
		/*
		 * An answer to a window probe. The guest may have dropped the probe's byte
		 * (Linux drops data into a closed window), so what goes next starts at the
		 * first byte it has not acknowledged. And a guest that answers is alive: the
		 * probes go on, at their backed-off pace, for as long as it does.
		 */
		c->snd_nxt = c->snd_una;
		c->retries = 0;
		c->probing = seg->win == 0;
	}
	if (opened)
		rto_restart(c);
	return 0;
}

/* In-order request bytes of (seg): into the buffer as far as the window goes. */
static void take_data(struct tcp_conn *c, const struct tcp_env *env, const struct tcp_seg *seg,
		      bool *fin)
{
	const uint8_t *data = seg->data;
	size_t len = seg->len, skip, room;

	if (seq_lt(seg->seq, c->rcv_nxt)) {
		skip = (size_t)(c->rcv_nxt - seg->seq);
		if (skip > len) { /* only the FIN is new, and it was counted: nothing */
			*fin = false;
			return;
		}
		data += skip;
		len -= skip;
	} else if (seg->seq != c->rcv_nxt) {
		/* A hole before it: drop, and the duplicate ACK asks for what is missing. */
		env->stats->rx_dropped++;
		c->ack_due = true;
		*fin = false;
		return;
	}
	if (!len)
		return;
	room = rcv_wnd(c);
	if (len > room) {
		env->stats->rx_dropped++;
		len = room;
		*fin = false; /* it comes after bytes we did not take */
	}
	if (!c->discard) {
		memcpy(c->req + c->req_len, data, len);
		c->req_len += len;
	}
	c->rcv_nxt += (uint32_t)len;
	c->ack_due = true;
	env->stats->rx_count++;
	env->stats->rx_bytes += len;
}

void tcp_conn_input(struct tcp_conn *c, const struct tcp_env *env, const struct tcp_seg *seg,
		    uint64_t now)
{
	bool fin = seg->flags & TCPF_FIN;
	uint32_t seg_len = (uint32_t)seg->len + (fin ? 1 : 0);

	if (seg->flags & TCPF_SYN) {
		if (!c->established && seg->seq == c->irs && !(seg->flags & TCPF_ACK)) {
			c->snd_nxt = c->iss; /* our SYN-ACK was lost: send it again */
		} else {
			/* RFC 5961 4.2: a SYN on a live connection gets a challenge ACK. */
			env->stats->rx_accepted_unusual++;
			c->ack_due = true;
		}
		return;
	}
	/* Any segment shows the guest alive (keepalive probes are outside the window). */
	c->idle_at = now + TCP_IDLE_MS;
	if (!acceptable(c, seg->seq, seg_len)) {
		env->stats->rx_dropped++;
		if (!(seg->flags & TCPF_RST))
			c->ack_due = true;
		return;
	}
	if (seg->flags & TCPF_RST) {
		/* RFC 5961 3.2: an exact match resets; one elsewhere in the window: challenged. */
		if (seg->seq == c->rcv_nxt) {
			c->dead = true;
			c->ack_due = false;
		} else {
			env->stats->rx_accepted_unusual++;
			c->ack_due = true;
		}
		return;
	}
	if (!(seg->flags & TCPF_ACK)) {
		env->stats->rx_accepted_unusual++;
		return;
	}
	if (take_ack(c, env, seg) < 0)
		return;
	if (c->peer_fin) {
		/* Nothing may follow the guest's FIN: anything new is acknowledged and dropped. */
		if (seg_len) {
			env->stats->rx_dropped++;
			c->ack_due = true;
		}
	} else {
		take_data(c, env, seg, &fin);
		if (fin && seg->seq + (uint32_t)seg->len == c->rcv_nxt) {
			c->peer_fin = true;
			c->rcv_nxt++;
			c->ack_due = true;
		}
	}
	serve_requests(c, env, now);
	if (c->peer_fin) {
		/* The guest is done asking: whatever it left unfinished is not a request. */
		if (!c->stalled)
			c->req_len = 0;
		c->fin_queued = true;
	}
	if (finished(c))
		c->dead = true;
	update_timer(c, now);
}

/* Fire the timers that are due: a retransmission goes back to snd_una, the idle limit resets. */
static void run_timers(struct tcp_conn *c, uint64_t now)
{
	if (now >= c->idle_at)
		c->rst_due = true;
	if (c->rst_due || !c->rto_at || now < c->rto_at)
		return;
	if (++c->retries > TCP_MAX_RETRIES) {
		c->rst_due = true;
		return;
	}
	c->rto_ms = c->rto_ms * 2 > TCP_RTO_MAX_MS ? TCP_RTO_MAX_MS : c->rto_ms * 2;
	c->rto_at = now + c->rto_ms;
	c->snd_nxt = c->snd_una;
	if (c->established && c->snd_wnd == 0)
		c->probe = true;
}

bool tcp_conn_has_output(const struct tcp_conn *c, uint64_t now)
{
	if (!c->in_use || c->dead)
		return false;
	if (c->rst_due || c->ack_due || now >= c->idle_at || (c->rto_at && now >= c->rto_at))
		return true;
	if (!c->established)
		return c->snd_nxt == c->iss;
	return (unsent(c) && send_room(c)) || fin_ready(c);
}

size_t tcp_conn_output(struct tcp_conn *c, const struct tcp_env *env, uint8_t *buf, size_t size,
		       uint64_t now)
{
	struct tcp_out h;
	const uint8_t *data = NULL;
	size_t len = 0, n, hdr = ETH_HDR + IPV4_HDR + TCP_HDR;
	uint32_t advance = 0;

	/* First: a timeout moves snd_nxt back, and the header is built from it. */
	run_timers(c, now);
	h = (struct tcp_out){
	    .src_mac = env->mac,
	    .dst_mac = c->peer_mac,
	    .src_ip = env->ip,
	    .dst_ip = c->peer_ip,
	    .sport = MMDS_PORT,
	    .dport = c->peer_port,
	    .seq = c->snd_nxt,
	    .ack = c->rcv_nxt,
	    .flags = TCPF_ACK,
	    .win = (uint16_t)rcv_wnd(c),
	};
	if (c->rst_due) {
		/* The guest expects what it acknowledged (snd_max may count a dropped probe). */
		h.seq = c->snd_una;
		h.flags = TCPF_RST | TCPF_ACK;
		h.win = 0;
	} else if (!c->established && c->snd_nxt == c->iss) {
		h.flags = TCPF_SYN | TCPF_ACK;
		h.mss = TCP_MSS_OURS;
		advance = 1;
	} else if (c->established && unsent(c) && send_room(c)) {
		len = unsent(c);
		if (len > c->mss)
			len = c->mss;
		if (len > send_room(c))
			len = send_room(c);
		if (size > hdr && len > size - hdr)
			len = size - hdr;
		data = c->out + c->out_head + (size_t)(c->snd_nxt - c->out_seq);
		advance = (uint32_t)len;
		if (len == unsent(c)) {
			h.flags |= TCPF_PSH;
			if (c->fin_queued && !c->stalled) {
				h.flags |= TCPF_FIN;
				advance++;
			}
		}
	} else if (fin_ready(c)) {
		h.flags |= TCPF_FIN;
		advance = 1;
	} else if (!c->ack_due) {
		return 0;
	}
	n = frame_build_tcp(buf, size, &h, data, len);
	if (!n)
		return 0;
	if (c->rst_due) {
		c->dead = true;
		c->ack_due = false;
		return n;
	}
	c->snd_nxt += advance;
	if (seq_lt(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
	if (len) {
		if (!c->snd_wnd)
			c->probing = true;
		c->probe = false;
	}
	c->ack_due = false;
	if (finished(c))
		c->dead = true;
	update_timer(c, now);
	return n;
}

uint64_t tcp_conn_deadline(const struct tcp_conn *c)
{
	uint64_t at = c->idle_at;

	if (!c->in_use || c->dead)
		return UINT64_MAX;
	if (c->rto_at && c->rto_at < at)
		at = c->rto_at;
	return at;
}
