/*
 * switch_probe: the host-side throughput and latency of one ember-switch between two of
 * its ports, and of a bare SOCK_SEQPACKET socket pair (no switch: the floor) the same way.
 *
 *   switch_probe SOCKET SIZE COUNT
 *
 * Two ports, A and B, are connected to SOCKET; each first sends one broadcast so that the
 * switch learns its MAC. Then:
 *   throughput  A sends COUNT frames of SIZE bytes to B's MAC as fast as the switch takes
 *               them (a full socket waits for room: the switch itself drops what it cannot
 *               queue, and the drops are counted); B counts what arrives until 200 ms of
 *               silence. frames/s and Mbit/s are B's, over first send to last arrival.
 *   latency     COUNT/10 round trips: A sends one frame to B, B sends it back to A's MAC.
 *               Median, p90 and p99 in microseconds.
 * Prints one JSON object; the same two measures on a socketpair are under "floor".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 9216

static const uint8_t MAC_A[6] = { 0x02, 0xbe, 0x0c, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0xbe, 0x0c, 0, 0, 0x0b };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct pair {
	int a, b;
	size_t size;
	long count;
};

struct rx_result {
	long frames;
	uint64_t bytes;
	uint64_t last_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int port_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void frame_fill(uint8_t *f, size_t size, const uint8_t *dst, const uint8_t *src)
{
	memset(f, 0x5a, size);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88; /* a local experimental EtherType: nobody else's frames */
	f[13] = 0xb5;
}

/* Wait for (fd) to have a message, up to (ms). 1 readable, 0 timed out. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

static void drain(int fd)
{
	uint8_t buf[FRAME_MAX];

	while (wait_readable(fd, 50))
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			break;
}

static void *rx_thread(void *arg)
{
	struct pair *p = arg;
	struct rx_result *r = calloc(1, sizeof(*r));
	uint8_t buf[FRAME_MAX];
	ssize_t n;

	while (r && wait_readable(p->b, 200)) {
		n = recv(p->b, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		r->frames++;
		r->bytes += n;
		r->last_ns = now_ns();
	}
	return r;
}

static int throughput(struct pair *p, FILE *out)
{
	uint8_t f[FRAME_MAX];
	struct rx_result *r;
	pthread_t t;
	uint64_t t0;
	long i, sent = 0;

	frame_fill(f, p->size, MAC_B, MAC_A);
	if (pthread_create(&t, NULL, rx_thread, p))
		return -1;
	t0 = now_ns();
	for (i = 0; i < p->count; i++) {
		if (send(p->a, f, p->size, 0) == (ssize_t)p->size)
			sent++;
		else if (errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	pthread_join(t, (void **)&r);
	if (!r)
		return -1;
	{
		double secs = r->last_ns > t0 ? (r->last_ns - t0) / 1e9 : 0;

		fprintf(out,
			"\"throughput\": {\"sent\": %ld, \"received\": %ld, \"secs\": %.4f, "
			"\"frames_per_s\": %.0f, \"mbit_per_s\": %.1f}",
			sent, r->frames, secs, secs ? r->frames / secs : 0,
			secs ? r->bytes * 8 / secs / 1e6 : 0);
	}
	free(r);
	return 0;
}

static void *echo_thread(void *arg)
{
	struct pair *p = arg;
	uint8_t buf[FRAME_MAX];
	ssize_t n;

	while (wait_readable(p->b, 500)) {
		n = recv(p->b, buf, sizeof(buf), 0);
		if (n < 14)
			break;
		memcpy(buf, MAC_A, 6);
		memcpy(buf + 6, MAC_B, 6);
		if (send(p->b, buf, n, 0) != n)
			break;
	}
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int latency(struct pair *p, FILE *out)
{
	long n = p->count / 10 > 0 ? p->count / 10 : 1, i, got = 0;
	uint64_t *rtt = calloc(n, sizeof(*rtt));
	uint8_t f[FRAME_MAX], buf[FRAME_MAX];
	pthread_t t;

	if (!rtt || pthread_create(&t, NULL, echo_thread, p))
		return -1;
	frame_fill(f, p->size, MAC_B, MAC_A);
	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (send(p->a, f, p->size, 0) != (ssize_t)p->size || !wait_readable(p->a, 1000) ||
		    recv(p->a, buf, sizeof(buf), 0) <= 0)
			break;
		rtt[got++] = now_ns() - t0;
	}
	pthread_join(t, NULL);
	qsort(rtt, got, sizeof(*rtt), cmp_u64);
	fprintf(out,
		"\"latency\": {\"round_trips\": %ld, \"median_us\": %.1f, \"p90_us\": %.1f, "
		"\"p99_us\": %.1f}",
		got, got ? rtt[got / 2] / 1e3 : 0, got ? rtt[got * 9 / 10] / 1e3 : 0,
		got ? rtt[got * 99 / 100] / 1e3 : 0);
	free(rtt);
	return 0;
}

static int measure(struct pair *p, FILE *out)
{
	fputc('{', out);
	if (throughput(p, out))
		return -1;
	drain(p->a);
	drain(p->b);
	fputs(", ", out);
	if (latency(p, out))
		return -1;
	fputc('}', out);
	return 0;
}

int main(int argc, char **argv)
{
	struct pair sw, floor_pair;
	uint8_t f[64];
	int sv[2];

	if (argc != 4) {
		fprintf(stderr, "usage: %s SOCKET SIZE COUNT\n", argv[0]);
		return 2;
	}
	sw.size = strtoul(argv[2], NULL, 0);
	sw.count = strtol(argv[3], NULL, 0);
	if (sw.size < 14 || sw.size > FRAME_MAX || sw.count < 1) {
		fprintf(stderr, "switch_probe: SIZE from 14 to %d, COUNT at least 1\n", FRAME_MAX);
		return 2;
	}
	sw.a = port_open(argv[1]);
	sw.b = port_open(argv[1]);
	if (sw.a < 0 || sw.b < 0) {
		perror("switch_probe: connect");
		return 1;
	}
	/* Each port announces its MAC; then nothing else is in flight. */
	frame_fill(f, sizeof(f), BCAST, MAC_B);
	send(sw.b, f, sizeof(f), 0);
	frame_fill(f, sizeof(f), BCAST, MAC_A);
	send(sw.a, f, sizeof(f), 0);
	drain(sw.a);
	drain(sw.b);
	printf("{\"frame_bytes\": %zu, \"count\": %ld, \"switch\": ", sw.size, sw.count);
	if (measure(&sw, stdout))
		return 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return 1;
	floor_pair = (struct pair){ .a = sv[0], .b = sv[1], .size = sw.size, .count = sw.count };
	printf(", \"floor\": ");
	if (measure(&floor_pair, stdout))
		return 1;
	printf("}\n");
	return 0;
}
