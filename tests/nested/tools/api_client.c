// SPDX-License-Identifier: Apache-2.0
/*
 * api_client.c - one request to Firecracker's REST API on a Unix socket, for the nested
 * tiers, whose L1 has no curl. Built static (for L1's architecture) by the run-tests.sh
 * that needs it.
 *
 * usage: api_client SOCKET METHOD PATH [JSON_BODY]
 * Waits up to 5 s for SOCKET to accept, sends one HTTP/1.1 request, and prints the status
 * line and the body of the response. Exit status: 0 for a 2xx status, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define WAIT_MS 5000
#define READ_TIMEOUT_MS 10000

static int sock_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) { fprintf(stderr, "api_client: socket path too long\n"); return -1; }
	strcpy(a.sun_path, path);
	for (int waited = 0;; waited += 50) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) { perror("api_client: socket"); return -1; }
		if (!connect(s, (void *)&a, sizeof(a))) return s;
		int e = errno;
		close(s);
		/* The VMM may not have bound or started listening yet. */
		if ((e != ENOENT && e != ECONNREFUSED) || waited >= WAIT_MS) {
			fprintf(stderr, "api_client: connect %s: %s\n", path, strerror(e));
			return -1;
		}
		usleep(50000);
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) { perror("api_client: write"); return -1; }
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the head and Content-Length bytes of body are in (or EOF); returns the
 * length read, the offset of the body in *body_off and its length in *body_len. */
static long read_response(int fd, char *buf, size_t cap, size_t *body_off, size_t *body_len)
{
	size_t have = 0;
	long clen = -1;
	char *end = NULL;
	for (;;) {
		if (end && clen >= 0 && have >= (size_t)(end - buf) + 4 + (size_t)clen) break;
		if (have == cap - 1) { fprintf(stderr, "api_client: response too large\n"); return -1; }
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, READ_TIMEOUT_MS) <= 0) { fprintf(stderr, "api_client: no response\n"); return -1; }
		ssize_t r = read(fd, buf + have, cap - 1 - have);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) { perror("api_client: read"); return -1; }
		if (r == 0) break;
		have += (size_t)r;
		buf[have] = 0;
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			clen = 0;
			for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
				if (!strncasecmp(l + 2, "Content-Length:", 15)) clen = strtol(l + 17, NULL, 10);
		}
	}
	buf[have] = 0;
	if (!end) { fprintf(stderr, "api_client: incomplete response head (%zu bytes)\n", have); return -1; }
	*body_off = (size_t)(end - buf) + 4;
	*body_len = have - *body_off;
	if (clen >= 0 && *body_len > (size_t)clen) *body_len = (size_t)clen;
	return (long)have;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: api_client SOCKET METHOD PATH [JSON_BODY]\n");
		return 2;
	}
	const char *body = argc == 5 ? argv[4] : NULL;
	int s = sock_connect(argv[1]);
	if (s < 0) return 1;

	int n = body ? snprintf(buf, sizeof(buf),
				"%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
				"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
				argv[2], argv[3], strlen(body), body)
		     : snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
				argv[2], argv[3]);
	if (n < 0 || (size_t)n >= sizeof(buf)) { fprintf(stderr, "api_client: request too large\n"); return 1; }
	if (write_all(s, buf, (size_t)n)) return 1;

	size_t off, len;
	if (read_response(s, buf, sizeof(buf), &off, &len) < 0) return 1;
	close(s);
	size_t line = strcspn(buf, "\r\n");
	int status = 0;
	if (!strncmp(buf, "HTTP/1.", 7) && line > 9) status = atoi(buf + 9);
	printf("%.*s\n", (int)line, buf);
	if (len) printf("%.*s\n", (int)len, buf + off);
	return status >= 200 && status < 300 ? 0 : 1;
}
