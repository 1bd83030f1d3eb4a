// SPDX-License-Identifier: Apache-2.0
/*
 * mmds_client.c - a small HTTP client for the nested MMDS checks; the L2 initramfs has no
 * curl. Sends one request to ADDR:80 (default 169.254.169.254) and prints the status line
 * and the body. With -n COUNT it times COUNT sequential GETs, each on a new connection
 * (so every sample includes the TCP handshake and close), and prints
 * "MMDS-LATENCY-US min=.. median=.. p90=.. max=..". Built static by run-tests.sh.
 *
 *   mmds_client [-a ADDR] [-p PORT] [-X METHOD] [-H 'Name: value']... [-d BODY] [-n COUNT] PATH
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HDRS 16

struct req {
	struct sockaddr_in sa;
	const char *method, *path, *body;
	const char *hdrs[MAX_HDRS];
	int nhdrs;
};

/* One request on a new connection; the reply (up to cap-1 bytes) goes to buf. */
static int do_req(const struct req *r, char *buf, size_t cap, size_t *len)
{
	char out[2048];
	int n = snprintf(out, sizeof(out), "%s %s HTTP/1.1\r\nHost: %s\r\n", r->method, r->path,
			 inet_ntoa(r->sa.sin_addr));
	for (int i = 0; i < r->nhdrs; i++)
		n += snprintf(out + n, sizeof(out) - n, "%s\r\n", r->hdrs[i]);
	if (r->body)
		n += snprintf(out + n, sizeof(out) - n, "Content-Length: %zu\r\n", strlen(r->body));
	n += snprintf(out + n, sizeof(out) - n, "Connection: close\r\n\r\n%s", r->body ? r->body : "");
	if (n >= (int)sizeof(out))
		return -E2BIG;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stack that never answers must not hang the guest's init: 5 s per connection. */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&r->sa, sizeof(r->sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	for (int o = 0; o < n;) {
		ssize_t w = write(fd, out + o, n - o);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? -errno : -EIO;
			close(fd);
			return e;
		}
		o += w;
	}
	/* The server closes after its answer (Connection: close): read to EOF. */
	*len = 0;
	for (;;) {
		ssize_t g = read(fd, buf + *len, cap - 1 - *len);
		if (g < 0 && errno == EINTR)
			continue;
		if (g < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (g == 0 || (*len += g) == cap - 1)
			break;
	}
	buf[*len] = 0;
	close(fd);
	return 0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	struct req r = { .method = "GET" };
	const char *addr = "169.254.169.254";
	int port = 80, count = 0, c;
	static char buf[65536];
	size_t len;

	while ((c = getopt(argc, argv, "a:p:X:H:d:n:")) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'X': r.method = optarg; break;
		case 'H':
			if (r.nhdrs == MAX_HDRS) {
				fprintf(stderr, "mmds_client: too many -H\n");
				return 2;
			}
			r.hdrs[r.nhdrs++] = optarg;
			break;
		case 'd': r.body = optarg; break;
		case 'n': count = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mmds_client [-a ADDR] [-p PORT] [-X METHOD] [-H 'N: v']... "
					"[-d BODY] [-n COUNT] PATH\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mmds_client: one PATH expected\n");
		return 2;
	}
	r.path = argv[optind];
	r.sa.sin_family = AF_INET;
	r.sa.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &r.sa.sin_addr) != 1) {
		fprintf(stderr, "mmds_client: bad address %s\n", addr);
		return 2;
	}

	if (count <= 0) {
		int e = do_req(&r, buf, sizeof(buf), &len);
		if (e) {
			printf("MMDS-CONNECTION-FAILED %s\n", strerror(-e));
			return 1;
		}
		char *eol = strstr(buf, "\r\n"), *body = strstr(buf, "\r\n\r\n");
		if (!eol) {
			printf("MMDS-BAD-REPLY %zu bytes\n", len);
			return 1;
		}
		printf("%.*s\n%s\n", (int)(eol - buf), buf, body ? body + 4 : "");
		return 0;
	}

	long long *us = calloc(count, sizeof(*us));
	if (!us)
		return 1;
	for (int i = 0; i < count; i++) {
		long long t0 = now_us();
		int e = do_req(&r, buf, sizeof(buf), &len);
		us[i] = now_us() - t0;
		/* HTTP/1.0 or 1.1: the comparison server (python3 http.server) answers 1.0. */
		if (e || strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4)) {
			printf("MMDS-LATENCY-FAILED request %d: %s\n", i, e ? strerror(-e) : "not 200");
			return 1;
		}
	}
	qsort(us, count, sizeof(*us), cmp_ll);
	printf("MMDS-LATENCY-US n=%d min=%lld median=%lld p90=%lld max=%lld\n", count, us[0],
	       us[count / 2], us[(count * 9) / 10 < count ? (count * 9) / 10 : count - 1], us[count - 1]);
	return 0;
}
