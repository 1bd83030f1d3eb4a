// SPDX-License-Identifier: Apache-2.0
/*
 * virtio_net.c - virtio_net.elf: find the virtio-net device, send one Ethernet frame
 * (ethertype 0x88b5, "ember-ping") and wait for the host's answer ("ember-pong").
 */
#include "virtio.h"

#define VIRTIO_ID_NET	1
#define NET_F_MAC	5
#define HDR_LEN		12
#define RX_BUFS		4
#define RX_BUF_LEN	2048
#define ETHERTYPE	0x88b5
#define MAX_TRIES	10
#define RX_POLLS	300000UL

static struct vq rxq, txq;
static u8 rx_buf[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64)));
static u8 tx_buf[HDR_LEN + 64] __attribute__((aligned(64)));
static u8 *posted[VQ_SIZE]; /* which rx buffer each head descriptor carries */

/* Wait a bounded while for a received frame. 0, or -1 when none came. */
static int rx_wait(struct vq_used_elem *out)
{
	unsigned long i;

	for (i = 0; i < RX_POLLS; i++) {
		if (*(volatile u16 *)&rxq.used.idx != rxq.last_used) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			*out = rxq.used.ring[rxq.last_used % VQ_SIZE];
			rxq.last_used++;
			return 0;
		}
		cpu_relax();
	}
	return -1;
}

static void post_rx(u8 *buf)
{
	struct vio_buf rx = { buf, RX_BUF_LEN, 1 };

	posted[vq_post(&rxq, &rx, 1) % VQ_SIZE] = buf;
}

void guest_main(const struct boot_info *b)
{
	static const char ping[] = "ember-ping", pong[] = "ember-pong";
	u64 base = vio_find_id(b, VIRTIO_ID_NET);
	struct vq_used_elem used;
	u8 mac[6], *eth = tx_buf + HDR_LEN;
	const char *err;
	int i, tries;

	if (!base)
		finish("no virtio-net device");
	err = vio_start(base, VIRTIO_ID_NET, 1UL << NET_F_MAC);
	if (!err)
		err = vio_queue(base, 0, &rxq);
	if (!err)
		err = vio_queue(base, 1, &txq);
	if (err)
		finish(err);
	for (i = 0; i < RX_BUFS; i++)
		post_rx(rx_buf[i]);
	vio_driver_ok(base);
	put_str("NET-MAC=");
	for (i = 0; i < 6; i++) {
		mac[i] = *(volatile u8 *)(base + 0x100 + i);
		put_char("0123456789abcdef"[mac[i] >> 4]);
		put_char("0123456789abcdef"[mac[i] & 15]);
		if (i < 5)
			put_char(':');
	}
	put_nl();

	memset(tx_buf, 0, sizeof(tx_buf));
	memset(eth, 0xff, 6);
	memcpy(eth + 6, mac, 6);
	eth[12] = ETHERTYPE >> 8;
	eth[13] = ETHERTYPE & 0xff;
	memcpy(eth + 14, ping, sizeof(ping));
	/* Like ARP, resend until answered: the first frame can race the host's link setup. */
	for (tries = 0;; tries++) {
		struct vio_buf tx = { tx_buf, sizeof(tx_buf), 0 };
		u8 *f;

		if (tries == MAX_TRIES)
			finish("no frame came back");
		vq_post(&txq, &tx, 1);
		if (vq_wait(&txq, &used))
			finish("the device never took the frame");
		if (tries == 0)
			put_str("NET-TX-DONE\n");
		if (rx_wait(&used))
			continue;
		f = posted[used.id % VQ_SIZE] + HDR_LEN;
		if (used.len < HDR_LEN + 14 + sizeof(pong) || f[12] != ETHERTYPE >> 8 ||
		    f[13] != (ETHERTYPE & 0xff)) {
			/* Something else on the wire: give the buffer back, keep listening. */
			post_rx(posted[used.id % VQ_SIZE]);
			continue;
		}
		if (memcmp(f, mac, 6) || memcmp(f + 14, pong, sizeof(pong)))
			finish("the answer was not addressed to us or not ember-pong");
		put_str("NET-RX=ember-pong\n");
		finish(NULL);
	}
}
