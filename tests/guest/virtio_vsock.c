// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_vsock.c - virtio_vsock.elf: a minimal polling vsock driver. It reads its CID,
 * checks that malformed packets are refused, connects to host port 5001 (nobody there:
 * RST) and 5000 (vsock_peer.py: "hello from guest" / "hello from host"), connects to 5000
 * again and resets the device under that connection, then accepts the host's connection
 * to guest port 1234, answers its "ping" with "pong", and streams BULK_IN bytes in and
 * BULK_OUT bytes out on it, holding both sides to their credit.
 */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define HDR_LEN		44
#define RX_BUFS		4
#define RX_BUF_LEN	(HDR_LEN + 1024)
#define BUF_ALLOC	4096 /* what we advertise: ember must never send more unconsumed */
#define HOST_CID	2
#define TYPE_STREAM	1
#define HOST_TRIES	3 /* bounded waits for the host peer, in (long) vq_wait periods */
#define BULK_IN		(64 * 1024)  /* host to guest, with our 4 KiB window */
/* Guest to host, with the peer slow to read: more than a Unix socket (~180 KiB) and
 * ember's 64 KiB buffer hold, so the stream must stall on credit and resume. */
#define BULK_OUT	(384 * 1024)
#define TX_CHUNK	4096

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct vq rxq, txq, evq;
static u8 rx_buf[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64)));
static u8 tx_buf[HDR_LEN + 64] __attribute__((aligned(64)));
static u8 ev_buf[8] __attribute__((aligned(8)));
static u8 *posted[VQ_SIZE]; /* which rx buffer each head descriptor carries */
static u64 cid;

/* The bulk streams' bytes, as vsock_peer.py expects them. */
static u8 pattern(u32 i)
{
	return (u8)(i * 7 + (i >> 10));
}

static void post_rx(u8 *buf)
{
	struct vio_buf rx = { buf, RX_BUF_LEN, 1 };

	posted[vq_post(&rxq, &rx, 1) % VQ_SIZE] = buf;
}

/* Send one packet of (h) (src/dst cid and type filled in unless already set) + payload. */
static void send_raw(struct hdr *h, const void *data, u32 len, u32 chain_len)
{
	struct vio_buf tx = { tx_buf, chain_len, 0 };
	struct vq_used_elem used;

	memcpy(tx_buf, h, HDR_LEN);
	memcpy(tx_buf + HDR_LEN, data, len);
	vq_post(&txq, &tx, 1);
	if (vq_wait(&txq, &used))
		finish("the device never took a packet");
}

static void send_pkt(u16 op, u32 src_port, u32 dst_port, u32 flags, const char *data, u32 len,
		     u32 fwd_cnt)
{
	struct hdr h = { cid, HOST_CID, src_port, dst_port, len, TYPE_STREAM, op, flags,
			 BUF_ALLOC, fwd_cnt };

	send_raw(&h, data, len, HDR_LEN + len);
}

/* The next packet from the device into (h, data); 0, or -1 after (tries) empty waits. */
static int recv_pkt(struct hdr *h, u8 *data, int tries)
{
	struct vq_used_elem used;
	u8 *buf;

	while (vq_wait(&rxq, &used))
		if (--tries <= 0)
			return -1;
	buf = posted[used.id % VQ_SIZE];
	if (used.len < HDR_LEN)
		finish("an rx packet shorter than a header");
	memcpy(h, buf, HDR_LEN);
	if (h->len != used.len - HDR_LEN || h->len > RX_BUF_LEN - HDR_LEN)
		finish("rx header length disagrees with the used length");
	if (h->src_cid != HOST_CID || h->dst_cid != cid || h->type != TYPE_STREAM)
		finish("rx header with wrong CIDs or type");
	if (h->len > BUF_ALLOC)
		finish("the device sent more than our credit");
	memcpy(data, buf + HDR_LEN, h->len);
	post_rx(buf);
	return 0;
}

/* Wait for a packet with (op) between host port (hp) and guest port (gp). */
static void expect(struct hdr *h, u8 *data, u16 op, u32 hp, u32 gp, const char *why)
{
	if (recv_pkt(h, data, HOST_TRIES))
		finish(why);
	if (h->op != op || h->src_port != hp || h->dst_port != gp) {
		put_str("GOT op=");
		put_dec(h->op);
		put_str(" ports=");
		put_dec(h->src_port);
		put_str("->");
		put_dec(h->dst_port);
		put_nl();
		finish(why);
	}
}

/* Collect (want) bytes of RW payload from (hp) to (gp), skipping credit updates. */
static void recv_data(u32 hp, u32 gp, char *out, u32 want, u32 *fwd_cnt, struct hdr *last)
{
	u8 data[RX_BUF_LEN];
	struct hdr h;
	u32 got = 0;

	while (got < want) {
		if (recv_pkt(&h, data, HOST_TRIES))
			finish("no data from the host");
		if (h.src_port != hp || h.dst_port != gp)
			finish("data for another connection");
		if (h.op == OP_CREDIT_UPDATE)
			continue;
		if (h.op != OP_RW || got + h.len > want)
			finish("expected RW data");
		memcpy(out + got, data, h.len);
		got += h.len;
		*fwd_cnt += h.len; /* consumed at once */
	}
	out[got] = 0;
	*last = h;
}

static void hostile(void)
{
	struct hdr h = { cid + 1, HOST_CID, 3000, 5000, 0, TYPE_STREAM, OP_REQUEST, 0,
			 BUF_ALLOC, 0 };
	u8 data[RX_BUF_LEN];

	/* Not from our CID: dropped, no answer. */
	send_raw(&h, 0, 0, HDR_LEN);
	/* Shorter than a header: dropped. */
	send_raw(&h, 0, 0, 10);
	/* A length past the end of the chain: RST. */
	h = (struct hdr){ cid, HOST_CID, 2000, 5000, 5000, TYPE_STREAM, OP_RW, 0, BUF_ALLOC, 0 };
	send_raw(&h, 0, 0, HDR_LEN);
	/* SEQPACKET was not negotiated: RST. */
	h = (struct hdr){ cid, HOST_CID, 2001, 5000, 0, 2, OP_REQUEST, 0, BUF_ALLOC, 0 };
	send_raw(&h, 0, 0, HDR_LEN);
	/* The first two made no RST, or it would come first. */
	expect(&h, data, OP_RST, 5000, 2000, "no RST for a length past the chain");
	expect(&h, data, OP_RST, 5000, 2001, "no RST for a seqpacket REQUEST");
	put_str("VSOCK-HOSTILE-OK\n");
}

static void guest_to_host(void)
{
	static const char hello[] = "hello from guest";
	u8 data[RX_BUF_LEN];
	char text[32];
	u32 fwd = 0;
	struct hdr h;

	send_pkt(OP_REQUEST, 1024, 5001, 0, 0, 0, 0);
	expect(&h, data, OP_RST, 5001, 1024, "no RST from a host port nobody listens on");
	put_str("VSOCK-REFUSED=5001\n");

	send_pkt(OP_REQUEST, 1025, 5000, 0, 0, 0, 0);
	expect(&h, data, OP_RESPONSE, 5000, 1025, "no RESPONSE from host port 5000");
	put_str("VSOCK-CONNECTED=5000 HOST-BUF-ALLOC=");
	put_dec(h.buf_alloc);
	put_nl();
	send_pkt(OP_RW, 1025, 5000, 0, hello, sizeof(hello) - 1, fwd);
	recv_data(5000, 1025, text, 15, &fwd, &h);
	put_str("VSOCK-RX=");
	put_str(text);
	put_nl();
	/* Neither side sends more: ember answers with the closing RST. */
	send_pkt(OP_SHUTDOWN, 1025, 5000, 3, 0, 0, fwd);
	for (;;) {
		if (recv_pkt(&h, data, HOST_TRIES))
			finish("no RST after our SHUTDOWN");
		if (h.src_port != 5000 || h.dst_port != 1025)
			finish("a packet for another connection");
		if (h.op == OP_RST)
			break;
		if (h.op != OP_SHUTDOWN && h.op != OP_CREDIT_UPDATE)
			finish("unexpected packet while closing");
	}
	put_str("VSOCK-CLOSED=5000\n");
}

/*
 * Receive BULK_IN pattern bytes from (hp), consuming them at once and telling the host
 * about it every half window (or when asked); it must never exceed our BUF_ALLOC. (last)
 * keeps the latest header, with ember's own window.
 */
static void bulk_in(u32 hp, u32 *fwd, struct hdr *last)
{
	u32 got = 0, told = *fwd, i;
	u8 data[RX_BUF_LEN];
	struct hdr h;

	while (got < BULK_IN) {
		if (recv_pkt(&h, data, HOST_TRIES))
			finish("the bulk stream stalled");
		if (h.src_port != hp || h.dst_port != 1234)
			finish("bulk: a packet for another connection");
		*last = h;
		if (h.op == OP_CREDIT_REQUEST) {
			send_pkt(OP_CREDIT_UPDATE, 1234, hp, 0, 0, 0, *fwd);
			told = *fwd;
			continue;
		}
		if (h.op == OP_CREDIT_UPDATE)
			continue;
		if (h.op != OP_RW || got + h.len > BULK_IN)
			finish("bulk: expected RW data");
		if (*fwd + h.len - told > BUF_ALLOC)
			finish("bulk: the device sent more than our credit");
		for (i = 0; i < h.len; i++)
			if (data[i] != pattern(got + i))
				finish("bulk: corrupted host data");
		got += h.len;
		*fwd += h.len;
		if (*fwd - told >= BUF_ALLOC / 2) {
			send_pkt(OP_CREDIT_UPDATE, 1234, hp, 0, 0, 0, *fwd);
			told = *fwd;
		}
	}
	put_str("VSOCK-BULK-IN-OK\n");
}

/*
 * Send BULK_OUT bytes to (hp) in TX_CHUNK chunks (a le32 chunk number, then pattern bytes
 * 4..TX_CHUNK-1), never past the credit ember last advertised.
 */
static void bulk_out(u32 hp, u32 fwd, u32 buf_alloc, u32 peer_fwd, u32 sent)
{
	static u8 block[TX_CHUNK - 4];
	u32 done = 0, stalls = 0, chunk, i;
	u8 data[RX_BUF_LEN];
	struct hdr h;

	for (i = 0; i < sizeof(block); i++)
		block[i] = pattern(i + 4);
	while (done < BULK_OUT) {
		u32 in_flight = sent - peer_fwd;

		if (in_flight < buf_alloc && buf_alloc - in_flight >= TX_CHUNK) {
			struct hdr t = { cid, HOST_CID, 1234, hp, TX_CHUNK, TYPE_STREAM, OP_RW, 0,
					 BUF_ALLOC, fwd };
			struct vio_buf tx[3] = { { tx_buf, HDR_LEN, 0 }, { &chunk, 4, 0 },
						 { block, sizeof(block), 0 } };
			struct vq_used_elem used;

			/* Three descriptors: the device must gather the payload across them. */
			memcpy(tx_buf, &t, HDR_LEN);
			chunk = done / TX_CHUNK;
			vq_post(&txq, tx, 3);
			if (vq_wait(&txq, &used))
				finish("the device never took a packet");
			done += TX_CHUNK;
			sent += TX_CHUNK;
			continue;
		}
		/* Out of credit: wait for ember's update, asking for one now and then. */
		if (recv_pkt(&h, data, 1)) {
			if (++stalls > HOST_TRIES)
				finish("bulk: no credit came back");
			send_pkt(OP_CREDIT_REQUEST, 1234, hp, 0, 0, 0, fwd);
			continue;
		}
		if (h.src_port != hp || h.dst_port != 1234 || h.op == OP_RW || h.op == OP_RST)
			finish("bulk: unexpected packet while sending");
		buf_alloc = h.buf_alloc;
		peer_fwd = h.fwd_cnt;
		stalls = 0;
	}
	put_str("VSOCK-BULK-OUT-OK\n");
}

static void host_to_guest(void)
{
	u8 data[RX_BUF_LEN];
	char text[8];
	u32 hp, fwd = 0;
	struct hdr h;

	if (recv_pkt(&h, data, HOST_TRIES))
		finish("the host never connected");
	if (h.op != OP_REQUEST || h.dst_port != 1234)
		finish("expected a REQUEST for port 1234");
	hp = h.src_port;
	put_str("VSOCK-REQUEST=1234 FROM=");
	put_dec(hp);
	put_nl();
	send_pkt(OP_RESPONSE, 1234, hp, 0, 0, 0, 0);
	recv_data(hp, 1234, text, 4, &fwd, &h);
	if (memcmp(text, "ping", 4))
		finish("expected ping");
	put_str("VSOCK-RX=ping\n");
	send_pkt(OP_RW, 1234, hp, 0, "pong", 4, fwd);
	bulk_in(hp, &fwd, &h);
	/* ember's latest header tells its window; our 4 bytes of pong count against it. */
	bulk_out(hp, fwd, h.buf_alloc, h.fwd_cnt, 4);
	/* The peer closes after pong: an RST, or a SHUTDOWN that we answer with one. */
	for (;;) {
		if (recv_pkt(&h, data, HOST_TRIES))
			finish("the host never closed");
		if (h.src_port != hp || h.dst_port != 1234)
			finish("a packet for another connection");
		if (h.op == OP_RST)
			break;
		if (h.op == OP_SHUTDOWN) {
			send_pkt(OP_RST, 1234, hp, 0, 0, 0, fwd);
			break;
		}
		if (h.op != OP_CREDIT_UPDATE)
			finish("unexpected packet while waiting for the close");
	}
	put_str("VSOCK-HOST-CLOSED\n");
}

/* Reset the device at (base) and bring it up from scratch: queues, rx buffers, DRIVER_OK. */
static void start(u64 base)
{
	struct vio_buf ev = { ev_buf, sizeof(ev_buf), 1 };
	const char *err;
	int i;

	err = vio_start(base, VIRTIO_ID_VSOCK, 0);
	if (!err)
		err = vio_queue(base, 0, &rxq);
	if (!err)
		err = vio_queue(base, 1, &txq);
	if (!err)
		err = vio_queue(base, 2, &evq);
	if (err)
		finish(err);
	for (i = 0; i < RX_BUFS; i++)
		post_rx(rx_buf[i]);
	vq_post(&evq, &ev, 1);
	vio_driver_ok(base);
}

/* A device reset must close the host end of every connection (the peer sees EOF). */
static void reset_with_open_connection(u64 base)
{
	u8 data[RX_BUF_LEN];
	struct hdr h;

	send_pkt(OP_REQUEST, 1026, 5000, 0, 0, 0, 0);
	expect(&h, data, OP_RESPONSE, 5000, 1026, "no RESPONSE for the second connection");
	start(base);
	put_str("VSOCK-RESET-WITH-CONNECTION\n");
}

void guest_main(const struct boot_info *b)
{
	u64 base = vio_find_id(b, VIRTIO_ID_VSOCK);

	if (!base)
		finish("no virtio-vsock device");
	start(base);
	cid = mmio_read32(base + 0x100) | (u64)mmio_read32(base + 0x104) << 32;
	put_str("VSOCK-CID=");
	put_dec(cid);
	put_nl();

	hostile();
	guest_to_host();
	reset_with_open_connection(base);
	host_to_guest();
	finish(NULL);
}
