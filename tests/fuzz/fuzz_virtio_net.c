/*
 * libFuzzer target: virtio-net (net.c, net_backend.c, throttle.c) between a hostile guest
 * driver and a hostile switch. The fuzzer's bytes are first the device's configuration:
 *   u8 flags: bit 0 a MAC (6 bytes follow), bit 1 rx and tx rate limits (two buckets
 *     each, see read_limit), bit 2 a detour in the data path (u8 peek, u8 claim rule)
 * then the script of the shared driver (virtio_driver.h): the guest's tx frames are the
 * payloads of its tx chains (every virtio_net_hdr flag, GSO type, checksum offset and
 * num_buffers as the fuzzer writes them, the header split over buffers or not), its rx
 * buffers the chains it posts on queue 0 (tiny, split, missing, device-readable). Features
 * are negotiated with or without MRG_RXBUF; the header is 12 bytes either way, as
 * VERSION_1 is required. The driver's device op is the host side, a sub-op byte then its
 * arguments:
 *   0 the switch sends a frame: u8 flags, script bytes, and with flags bit 0 filler up to
 *     u16 (+64 KiB with bit 1) bytes in all, past the largest frame the device takes
 *   1 the switch reads what the device sent        2 virtio_net_update_limits
 *   3 virtio_net_detour_kick                        4 the detour gets a frame to answer
 *   5 the detour's claim rule changes (u8)          6 the switch closes the port
 *   7 the counters are read and checked             8 virtio_net_save, then restore
 *     what it saved (u8 bit 0) or script bytes
 * Frames from the switch reach the device when the loop runs, whether or not the guest
 * has buffers posted. Sub-ops 0 and 1 read what the device sent first, then run the loop,
 * so a backend that was full (tx waiting for EPOLLOUT) drains and tx resumes. Sub-op 6
 * does not run it: the device finds the port gone by a send or by the loop's hangup.
 *
 * The backend is an ember-switch port, as a TAP needs root: the TAP's own few lines
 * (read, writev, TUNSETOFFLOAD) and the offload features only it offers are left out.
 * Each input gets a fresh device, connected to one listener in a per-process temp dir.
 *
 * Checked besides "no crash": every frame the device hands to the switch is one message
 * of 1 to NET_FRAME_MAX - 12 bytes; once the switch has read everything, the device's tx
 * counters match what it read, frame for frame and byte for byte (unless the switch
 * closed the port); rx_frames + rx_dropped never exceed the frames offered by the switch
 * and the detour; the detour sees no more than it asked to peek at and only whole frames;
 * the device takes back the rate limiters it saved; it frees the detour (LeakSanitizer);
 * and every CHECK_EVERY inputs, no socket, epoll, timer or guest-memory fd has outlived its
 * input.
 */
#define _GNU_SOURCE /* accept4 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "snapshot/stream.h"
#include "util/util.h"
#include "virtio/net.h"
#include "virtio/net_backend.h"
#include "virtio_driver.h"

/* net.c's NET_FRAME_MAX: a 64 KiB GSO packet, Ethernet and the header. */
#define FRAME_MAX	 (NET_HDR_LEN + 65550)
#define BARE_MAX	 (FRAME_MAX - NET_HDR_LEN)
/* net.c's NET_DETOUR_PEEK_MAX: what a detour may see of a frame before it claims it. */
#define PEEK_MAX	 64
#define HOST_FRAME_MAX	 (BARE_MAX + 64)
#define DETOUR_PENDING	 4
#define DETOUR_ECHO_MAX	 1514
#define CHECK_EVERY	 64
/* What virtio_net_save writes: 2 rate limiters x 2 buckets x 3 u64. */
#define LIMITS_SAVED	 96

/* A frame the detour will answer with: script bytes, or (p == NULL) len bytes of filler. */
struct detour_frame {
	const uint8_t *p;
	size_t len;
};

/* A stand-in for the MMDS stack (mmds_link.c): it claims frames by a rule the script sets. */
struct detour {
	size_t peek;
	uint8_t claim; /* bit 0: every frame; bit 1: odd first bytes; bit 2: answer what it takes */
	struct detour_frame pending[DETOUR_PENDING];
	unsigned int head, count;
	unsigned long offered; /* frames next() gave the device */
	size_t echo_len;
	uint8_t echo[DETOUR_ECHO_MAX];
};

struct host {
	struct net_config cfg;
	struct virtio_net *net;
	struct detour *detour; /* owned by the device */
	int peer;	       /* the switch's end of the port; -1 once closed */
	bool closed;
	unsigned long sent, got; /* frames the switch sent and read */
	uint64_t got_bytes;
	uint8_t buf[HOST_FRAME_MAX];
};

static struct host host;
static char tmp_dir[32];
static char sock_path[64];
static int listen_fd = -1;
static int base_fds = -1;
static unsigned long inputs;

static void remove_tmp_dir(void)
{
	if (!tmp_dir[0])
		return;
	unlink(sock_path);
	rmdir(tmp_dir);
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_virtio_net: %s\n", what);
	remove_tmp_dir();
	abort();
}

void __sanitizer_set_death_callback(void (*callback)(void));

/*
 * The switch's listening socket, one for the whole run (a bind and unlink per input would
 * cost a tenth of its time), in a temp dir removed at exit.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	(void)argc;
	(void)argv;
	strcpy(tmp_dir, "/tmp/ember-fuzz-net.XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		abort();
	}
	atexit(remove_tmp_dir);
	/* A sanitizer report ends the process without atexit. */
	__sanitizer_set_death_callback(remove_tmp_dir);
	snprintf(sock_path, sizeof(sock_path), "%s/sw", tmp_dir);
	strcpy(addr.sun_path, sock_path);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(listen_fd, 4))
		fail("cannot listen");
	base_fds = fuzz_count_input_fds(NULL);
	return 0;
}

/*
 * Ports that a device connected and closed when its creation failed after connecting
 * (rate limits out of range): the next input must not take one for its own.
 */
static void drop_stale_ports(void)
{
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

/* --- the detour --- */

static bool detour_wants(void *opaque, const uint8_t *head, size_t len)
{
	struct detour *dt = opaque;

	if (len > dt->peek || len > PEEK_MAX)
		fail("the detour saw more than it asked to peek at");
	return (dt->claim & 1) || ((dt->claim & 2) && len && (head[0] & 1));
}

static void detour_take(void *opaque, const uint8_t *frame, size_t len, bool csum_partial)
{
	struct detour *dt = opaque;

	(void)csum_partial;
	if (!len || len > BARE_MAX)
		fail("the detour was given a frame of an impossible length");
	/* Answer with what came, as the MMDS stack answers a request: rx without the backend. */
	if ((dt->claim & 4) && !dt->echo_len) {
		dt->echo_len = MIN(len, sizeof(dt->echo));
		memcpy(dt->echo, frame, dt->echo_len);
	}
}

static size_t detour_next(void *opaque, uint8_t *buf, size_t size)
{
	struct detour *dt = opaque;
	struct detour_frame *f;
	size_t len;

	if (size < BARE_MAX)
		fail("the detour was given a buffer too small for a frame");
	if (dt->echo_len) {
		len = dt->echo_len;
		memcpy(buf, dt->echo, len);
		dt->echo_len = 0;
		dt->offered++;
		return len;
	}
	if (!dt->count)
		return 0;
	f = &dt->pending[dt->head];
	dt->head = (dt->head + 1) % DETOUR_PENDING;
	dt->count--;
	len = MIN(f->len, size);
	if (f->p)
		memcpy(buf, f->p, len);
	else
		memset(buf, 0xa5, len);
	if (len)
		dt->offered++;
	return len;
}

static void detour_reset(void *opaque)
{
	struct detour *dt = opaque;

	dt->count = 0;
	dt->echo_len = 0;
}

static void detour_kick(void *opaque)
{
	(void)opaque;
}

static void detour_destroy(void *opaque)
{
	free(opaque);
	host.detour = NULL;
}

/* Not const: each input sets the peek its detour asks for. */
static struct net_detour_ops detour_ops = {
	.wants = detour_wants,
	.take = detour_take,
	.next = detour_next,
	.reset = detour_reset,
	.kick = detour_kick,
	.destroy = detour_destroy,
};

/* --- the switch --- */

/* Read every frame the device sent; each is one message, of a size the device allows. */
static void host_drain(struct host *h)
{
	ssize_t n;

	if (h->peer < 0)
		return;
	while ((n = recv(h->peer, h->buf, sizeof(h->buf), MSG_DONTWAIT | MSG_TRUNC)) > 0) {
		if (n > BARE_MAX)
			fail("the device sent a frame larger than it allows");
		h->got++;
		h->got_bytes += n;
	}
	if (n == 0)
		fail("the device sent an empty frame");
}

static void host_send(struct host *h, struct bin *s)
{
	uint8_t flags = bin_u8(s);
	const uint8_t *bytes;
	size_t len = bin_bytes(s, FUZZ_MAX_PAYLOAD, &bytes), total = len;

	memcpy(h->buf, bytes, len);
	if (flags & 1) {
		total = bin_u16(s) | (flags & 2 ? 0x10000 : 0);
		total = MIN(MAX(total, len), sizeof(h->buf));
		memset(h->buf + len, 0x5a, total - len);
	}
	if (h->peer >= 0 && send(h->peer, h->buf, total, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		h->sent++;
}

/* A bucket: small sizes and 1-255 ms refills mostly, any value sometimes (-EINVAL). */
static void read_bucket(struct bin *s, struct token_bucket_cfg *b)
{
	uint8_t shape = bin_u8(s);

	if (shape & 0x80) {
		b->size = bin_u64(s);
		b->one_time_burst = bin_u64(s);
		b->refill_time_ms = bin_u64(s);
		return;
	}
	b->size = shape & 0x40 ? 0 : bin_u16(s);
	b->one_time_burst = shape & 0x20 ? bin_u16(s) : 0;
	b->refill_time_ms = shape & 0x1f ? shape & 0x1f : bin_u8(s);
}

static void read_limit(struct bin *s, struct throttle_config *limit)
{
	read_bucket(s, &limit->bandwidth);
	read_bucket(s, &limit->ops);
}

/*
 * A snapshot of the rate limiters' tokens, then a restore: of what was just saved (it must
 * be taken back) or of script bytes (untrusted, as a state file is).
 */
static void host_save_restore(struct host *h, struct bin *s)
{
	struct snap_section sec = { 0 };
	struct snap_writer w;
	struct snap_cursor c;
	const uint8_t *bytes;
	bool own = bin_u8(s) & 1;
	char why[128];
	int ret;

	snap_writer_init(&w, 0, "fuzz");
	snap_begin(&w, SNAP_TAG('N', 'E', 'T', ' '), 0);
	virtio_net_save(h->net, &w);
	if (!w.err && w.len >= LIMITS_SAVED && own) {
		sec.data = w.buf + w.len - LIMITS_SAVED;
		sec.len = LIMITS_SAVED;
	} else {
		own = false;
		sec.len = bin_bytes(s, 2 * LIMITS_SAVED, &bytes);
		sec.data = bytes;
	}
	snap_cursor_init(&c, &sec);
	ret = virtio_net_restore(h->net, &c, why, sizeof(why));
	snap_writer_free(&w);
	if (own && ret)
		fail("the device refused the rate limiters it saved");
}

/* The counters say what the switch saw. */
static void host_check(struct host *h)
{
	struct net_stats st;
	unsigned long offered = h->sent + (h->detour ? h->detour->offered : 0);

	virtio_net_stats(h->net, &st);
	if (st.rx_frames + st.rx_dropped > offered)
		fail("more frames received or dropped than were offered");
	if (!h->closed && (st.tx_frames != h->got || st.tx_bytes != h->got_bytes))
		fail("tx counters differ from what the switch read");
}

static void host_op(struct fuzz_driver *d, struct bin *s)
{
	struct host *h = d->opaque;
	uint8_t op = bin_u8(s);
	struct throttle_config rx, tx;
	struct detour_frame *f;
	const uint8_t *bytes;

	switch (op % 9) {
	case 0:
		host_drain(h);
		host_send(h, s);
		fuzz_run_loop(d);
		break;
	case 1:
		host_drain(h);
		fuzz_run_loop(d);
		break;
	case 2:
		op = bin_u8(s);
		read_limit(s, &rx);
		read_limit(s, &tx);
		virtio_net_update_limits(h->net, op & 1 ? &rx : NULL, op & 2 ? &tx : NULL);
		break;
	case 3:
		virtio_net_detour_kick(h->net);
		break;
	case 4:
		if (!h->detour || h->detour->count == DETOUR_PENDING)
			break;
		f = &h->detour->pending[(h->detour->head + h->detour->count) % DETOUR_PENDING];
		f->len = bin_bytes(s, FUZZ_MAX_PAYLOAD, &bytes);
		f->p = bytes;
		if (!f->len) {
			f->p = NULL; /* filler, up to the largest frame and past it */
			f->len = bin_u32(s) % (HOST_FRAME_MAX + 1);
		}
		h->detour->count++;
		break;
	case 5:
		if (h->detour)
			h->detour->claim = bin_u8(s);
		break;
	case 6:
		host_drain(h);
		if (h->peer >= 0)
			close(h->peer);
		h->peer = -1;
		h->closed = true;
		break;
	case 7:
		host_drain(h);
		host_check(h);
		break;
	case 8:
		host_save_restore(h, s);
		break;
	}
}

/* The configuration the script starts with; the device keeps (cfg) for its lifetime. */
static void read_config(struct host *h, struct bin *s, uint8_t flags)
{
	memset(&h->cfg, 0, sizeof(h->cfg));
	strcpy(h->cfg.id, "net0");
	strcpy(h->cfg.switch_path, sock_path);
	if (flags & 1) {
		h->cfg.has_mac = true;
		for (unsigned int i = 0; i < 6; i++)
			h->cfg.mac[i] = bin_u8(s);
	}
	if (flags & 2) {
		read_limit(s, &h->cfg.rx_limit);
		read_limit(s, &h->cfg.tx_limit);
	}
}

static int attach_detour(struct host *h, struct bin *s)
{
	struct detour *dt = calloc(1, sizeof(*dt));

	if (!dt)
		return -1;
	dt->peek = bin_u8(s) % (PEEK_MAX + 16);
	dt->claim = bin_u8(s);
	detour_ops.peek = dt->peek;
	if (virtio_net_set_detour(h->net, &detour_ops, dt)) {
		free(dt);
		return -1;
	}
	h->detour = dt;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct fuzz_driver *d = malloc(sizeof(*d));
	struct host *h = &host;
	uint8_t flags = bin_u8(&s);
	char why[128];

	if (!d || fuzz_driver_init(d)) {
		free(d);
		return 0;
	}
	read_config(h, &s, flags);
	h->peer = -1;
	h->closed = false;
	h->sent = h->got = h->got_bytes = 0;
	h->detour = NULL;
	drop_stale_ports();
	/* Limits out of range fail here, as a configuration would be refused. */
	if (!virtio_net_create(&d->mem, &d->loop, &d->log, &h->cfg, &h->net, why, sizeof(why))) {
		h->peer = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (h->peer >= 0 && (!(flags & 4) || !attach_detour(h, &s))) {
			d->device_op = host_op;
			d->opaque = h;
			fuzz_driver_attach(d, virtio_net_dev(h->net));
			fuzz_driver_run(d, &s);
			host_drain(h);
			host_check(h);
		}
		virtio_net_destroy(h->net);
		if (h->detour)
			fail("the device did not free its detour");
	}
	if (h->peer >= 0)
		close(h->peer);
	fuzz_driver_destroy(d);
	free(d);
	if (++inputs % CHECK_EVERY == 0 && fuzz_count_input_fds(NULL) != base_fds)
		fail("file descriptors leaked");
	return 0;
}
