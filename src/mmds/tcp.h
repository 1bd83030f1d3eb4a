/*
 * One TCP connection of the MMDS stack, server side: it starts from the guest's SYN and
 * ends in a close, a reset or a timeout. Only in-order data is taken (the receive window
 * is what is left of the request buffer, MMDS_REQUEST_MAX), every byte it sends is kept
 * until acknowledged, and a retransmission timer goes back to the first unacknowledged
 * byte (go-back-N) with a doubling timeout and a bounded number of tries.
 */
#ifndef EMBER_MMDS_TCP_H
#define EMBER_MMDS_TCP_H

#include "frame.h"
#include "stack.h"

#define TCP_RTO_INITIAL_MS 200
#define TCP_RTO_MAX_MS	   8000
#define TCP_MAX_RETRIES	   6
#define TCP_IDLE_MS	   60000
#define TCP_MSS_DEFAULT	   536	/* RFC 9293: when the SYN names none */
#define TCP_MSS_OURS	   1460 /* an Ethernet MTU's worth */
/* Response bytes a connection may hold before it stops serving pipelined requests. */
#define TCP_OUT_MAX 65536

/* What every connection shares: the service, the stack's addresses and counters. */
struct tcp_env {
	mmds_serve_fn serve;
	void *opaque;
	const uint8_t *mac, *ip;
	struct mmds_stack_stats *stats;
};

struct tcp_conn {
	bool in_use;
	bool established; /* the SYN-ACK was acknowledged */
	bool dead;	  /* done, nothing more to send (its last segment went): the stack frees it */
	uint8_t peer_mac[6], peer_ip[4];
	uint16_t peer_port;
	uint16_t mss;	  /* the most payload per segment */
	uint32_t irs;	  /* the guest's initial sequence number */
	uint32_t iss;	  /* ours */
	uint32_t rcv_nxt; /* the next byte expected from the guest */
	uint32_t snd_una; /* the oldest byte (or SYN, FIN) not acknowledged */
	uint32_t snd_nxt; /* the next to send; back to snd_una on a timeout */
	uint32_t snd_max; /* the highest sent so far, plus one */
	uint32_t snd_wnd; /* what the guest said it can take beyond snd_una */
	uint8_t *req;	  /* request bytes not yet answered; MMDS_REQUEST_MAX */
	size_t req_len;
	uint8_t *out; /* response bytes; out[out_head] is sequence number out_seq */
	size_t out_head, out_end;
	uint32_t out_seq;
	bool fin_queued; /* our FIN follows the last response byte */
	bool peer_fin;	 /* the guest's FIN came (and rcv_nxt counts it) */
	bool discard;	 /* the service asked to close: later request bytes are dropped */
	bool stalled;	 /* requests wait until the guest acknowledges responses */
	bool ack_due;	 /* the guest is owed an acknowledgement */
	bool rst_due;	 /* give up: send a reset, then die */
	bool probe;	 /* a timeout with a closed window: one byte may go anyway */
	bool probing;	 /* that byte went: the guest's answer decides what goes next */
	unsigned int rto_ms, retries;
	uint64_t rto_at;  /* when the retransmission timer fires; 0: not running */
	uint64_t idle_at; /* when the connection is dropped if the guest stays silent */
};

/* Start (c) from the guest's SYN (seg), with our initial sequence number (iss). */
int tcp_conn_open(struct tcp_conn *c, const struct tcp_seg *seg, uint32_t iss, uint64_t now);

/* Free what (c) holds; it is unused after. */
void tcp_conn_close(struct tcp_conn *c);

/* Whether (seg) belongs to (c). */
bool tcp_conn_matches(const struct tcp_conn *c, const struct tcp_seg *seg);

/* One segment from the guest for (c). */
void tcp_conn_input(struct tcp_conn *c, const struct tcp_env *env, const struct tcp_seg *seg,
		    uint64_t now);

/* Whether (c) has a segment to send at (now). */
bool tcp_conn_has_output(const struct tcp_conn *c, uint64_t now);

/* Build (c)'s next segment into (buf, size): its length, or 0 (nothing, or no room). */
size_t tcp_conn_output(struct tcp_conn *c, const struct tcp_env *env, uint8_t *buf, size_t size,
		       uint64_t now);

/* When (c) next needs the clock: a retransmission or its idle limit. */
uint64_t tcp_conn_deadline(const struct tcp_conn *c);

#endif
