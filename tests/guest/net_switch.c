// SPDX-License-Identifier: Apache-2.0
/*
 * net_switch.c - net_switch.elf: one VM on an ember-switch (tests/switch/run.sh). It
 * talks to one peer VM through the switch and counts what arrives, in steps the test
 * paces through the serial console:
 *   SWITCH-READY      device up, receive buffers posted; waits for 'g'
 *   TX-FRAMES=.. TX-BYTES=..
 *                     sent sw.n frames to sw.peer, then sw.b broadcasts (lengths vary)
 *   RX-COMPLETE       sw.expect frames from the peer have arrived (0: at once)
 *   on 'r': RX-UNICAST=.. RX-BROADCAST=.. RX-OTHER=.. RX-FRAMES=.. RX-BYTES=..
 *   on 'q': SUCCESS
 * Frames keep being received and counted until 'r'. Byte counts are Ethernet frames,
 * without the virtio-net header, as the switch counts them.
 */
#include "virtio.h"

#define VIRTIO_ID_NET 1
#define NET_F_MAC     5
#define HDR_LEN	      12
#define RX_BUFS	      VQ_SIZE
#define RX_BUF_LEN    2048
#define ETHERTYPE     0x88b6
#define FRAME_MIN     60
#define FRAME_SPREAD  40
/* Checksum and segmentation offloads (CSUM, GUEST_CSUM, GUEST/HOST TSO4/6, UFO). */
#define OFFLOAD_BITS  (1UL << 0 | 1UL << 1 | 1UL << 7 | 1UL << 8 | 1UL << 10 | 1UL << 11 | \
		       1UL << 12 | 1UL << 14)
/* Time budgets in TSC ticks, ~1 s each at 2.5 GHz. */
#define SECOND	      2500000000UL

static struct vq rxq, txq;
static u8 rx_buf[RX_BUFS][RX_BUF_LEN] __attribute__((aligned(64)));
static u8 tx_buf[HDR_LEN + FRAME_MIN + FRAME_SPREAD] __attribute__((aligned(64)));
static u8 *posted[VQ_SIZE];
static u8 my_mac[6], peer_mac[6];
static u64 rx_unicast, rx_broadcast, rx_other, rx_frames, rx_bytes;
static u64 rx_from_peer;

static const char *arg(const char *c, const char *key)
{
	size_t len = 0;

	while (key[len])
		len++;
	for (; *c; c++)
		if (!memcmp(c, key, len))
			return c + len;
	return NULL;
}

static u64 arg_num(const char *c, const char *key, u64 def)
{
	const char *v = arg(c, key);
	u64 n = 0;

	if (!v)
		return def;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (*v - '0');
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "aa:bb:cc:dd:ee:ff" (lower case) after (key). 0, or -1 when absent or malformed. */
static int arg_mac(const char *c, const char *key, u8 mac[6])
{
	const char *v = arg(c, key);
	int i;

	if (!v)
		return -1;
	for (i = 0; i < 6; i++, v += 3) {
		int hi = hexval(v[0]), lo = hexval(v[1]);

		if (hi < 0 || lo < 0 || (i < 5 && v[2] != ':'))
			return -1;
		mac[i] = hi << 4 | lo;
	}
	return 0;
}

static void post_rx(u8 *buf)
{
	struct vio_buf rx = { buf, RX_BUF_LEN, 1 };

	posted[vq_post(&rxq, &rx, 1) % VQ_SIZE] = buf;
}

/* Count the frames the device has filled and give their buffers back. */
static void drain_rx(void)
{
	while (*(volatile u16 *)&rxq.used.idx != rxq.last_used) {
		struct vq_used_elem used;
		u8 *buf, *f;
		u32 len;

		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		used = rxq.used.ring[rxq.last_used % VQ_SIZE];
		rxq.last_used++;
		buf = posted[used.id % VQ_SIZE];
		f = buf + HDR_LEN;
		len = used.len > HDR_LEN ? used.len - HDR_LEN : 0;
		rx_frames++;
		rx_bytes += len;
		if (len >= 14 && !memcmp(f + 6, peer_mac, 6) && !memcmp(f, my_mac, 6)) {
			rx_unicast++;
			rx_from_peer++;
		} else if (len >= 14 && !memcmp(f + 6, peer_mac, 6) && f[0] == 0xff &&
			   f[1] == 0xff && f[2] == 0xff && f[3] == 0xff && f[4] == 0xff &&
			   f[5] == 0xff) {
			rx_broadcast++;
			rx_from_peer++;
		} else {
			rx_other++;
		}
		post_rx(buf);
	}
}

/* Wait for (want) on the console, receiving meanwhile. */
static void wait_for(char want)
{
	u64 t0 = rdtsc();
	int c;

	for (;;) {
		drain_rx();
		c = try_get_char();
		if (c == want)
			return;
		if (rdtsc() - t0 > 120 * SECOND)
			finish("the test never said go on");
		cpu_relax();
	}
}

/* Send one frame of (len) bytes to (dst), receiving while the device takes it. */
static void send_frame(const u8 *dst, u32 seq, u32 len)
{
	struct vio_buf tx = { tx_buf, HDR_LEN + len, 0 };
	u8 *f = tx_buf + HDR_LEN;
	u64 t0 = rdtsc();

	memset(tx_buf, 0, sizeof(tx_buf));
	memcpy(f, dst, 6);
	memcpy(f + 6, my_mac, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "ember-switch", 12);
	memcpy(f + 26, &seq, sizeof(seq));
	vq_post(&txq, &tx, 1);
	while (*(volatile u16 *)&txq.used.idx == txq.last_used) {
		drain_rx();
		if (rdtsc() - t0 > 10 * SECOND)
			finish("the device never took a frame");
		cpu_relax();
	}
	txq.last_used++;
}

static void put_count(const char *name, u64 v, const char *end)
{
	put_str(name);
	put_char('=');
	put_dec(v);
	put_str(end);
}

static void put_mac(const char *name, const u8 *mac)
{
	int i;

	put_str(name);
	for (i = 0; i < 6; i++) {
		put_char("0123456789abcdef"[mac[i] >> 4]);
		put_char("0123456789abcdef"[mac[i] & 15]);
		if (i < 5)
			put_char(':');
	}
	put_nl();
}

void guest_main(const struct boot_info *b)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const char *cmdline = b->cmdline ? phys(b->cmdline) : "";
	u64 base = vio_find_id(b, VIRTIO_ID_NET);
	u64 n = arg_num(cmdline, "sw.n=", 100), nb = arg_num(cmdline, "sw.b=", 10);
	u64 expect = arg_num(cmdline, "sw.expect=", n + nb), i, tx_bytes = 0, t0;
	const char *err;

	if (!base)
		finish("no virtio-net device");
	if (arg_mac(cmdline, "sw.peer=", peer_mac))
		finish("no sw.peer=aa:bb:cc:dd:ee:ff on the command line");
	err = vio_start(base, VIRTIO_ID_NET, 1UL << NET_F_MAC);
	if (!err)
		err = vio_queue(base, 0, &rxq);
	if (!err)
		err = vio_queue(base, 1, &txq);
	if (err)
		finish(err);
	if (vio_features(base) & OFFLOAD_BITS) {
		put_str("NET-OFFLOADS=");
		put_hex(vio_features(base) & OFFLOAD_BITS);
		put_nl();
	} else {
		put_str("NET-OFFLOADS=none\n");
	}
	for (i = 0; i < RX_BUFS; i++)
		post_rx(rx_buf[i]);
	vio_driver_ok(base);
	for (i = 0; i < 6; i++)
		my_mac[i] = *(volatile u8 *)(base + 0x100 + i);
	put_mac("NET-MAC=", my_mac);
	put_str("SWITCH-READY\n");
	wait_for('g');

	for (i = 0; i < n + nb; i++) {
		u32 len = FRAME_MIN + i % FRAME_SPREAD;

		send_frame(i < n ? peer_mac : bcast, i, len);
		tx_bytes += len;
	}
	put_count("TX-FRAMES", n + nb, " ");
	put_count("TX-BYTES", tx_bytes, "\n");
	t0 = rdtsc();
	while (rx_from_peer < expect) {
		drain_rx();
		if (rdtsc() - t0 > 30 * SECOND)
			break;
		cpu_relax();
	}
	if (rx_from_peer >= expect)
		put_str("RX-COMPLETE\n");
	else
		put_count("RX-INCOMPLETE", rx_from_peer, "\n");
	wait_for('r');
	put_count("RX-UNICAST", rx_unicast, " ");
	put_count("RX-BROADCAST", rx_broadcast, " ");
	put_count("RX-OTHER", rx_other, " ");
	put_count("RX-FRAMES", rx_frames, " ");
	put_count("RX-BYTES", rx_bytes, "\n");
	wait_for('q');
	finish(NULL);
}
