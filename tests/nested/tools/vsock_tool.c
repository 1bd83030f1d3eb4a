// SPDX-License-Identifier: Apache-2.0
/*
 * vsock_tool.c - both ends of the nested vsock test: a Unix-socket echo server and a
 * CONNECT client for L1 (the host side of ember's hybrid vsock), an AF_VSOCK echo server
 * and client for the L2 guest, and a guest connection held open until a snapshot's restore
 * resets it. Built static by run-tests.sh; prints one result line (hold-vsock: two).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static unsigned char pat(size_t i) { return (unsigned char)(i * 13 + (i >> 11)); }

static long echo(int fd)
{
	char buf[65536];
	long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) { if (n < 0) perror("echo read"); break; }
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(fd, buf + o, n - o);
			if (w < 0) { perror("echo write"); return -1; }
			o += w;
		}
		total += n;
	}
	close(fd);
	return total;
}

/* Send n pattern bytes and read them echoed, concurrently; then half-close and expect EOF. */
static int client(int fd, size_t n)
{
	size_t sent = 0, got = 0;
	char buf[65536];
	int shut = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < n || !shut) {
		struct pollfd p = { fd, POLLIN | (sent < n ? POLLOUT : 0), 0 };
		if (sent == n && !shut) { shutdown(fd, SHUT_WR); shut = 1; }
		if (poll(&p, 1, 30000) <= 0) { fprintf(stderr, "poll timeout sent=%zu got=%zu\n", sent, got); return -1; }
		if (p.revents & POLLOUT && sent < n) {
			size_t k = n - sent < sizeof(buf) ? n - sent : sizeof(buf);
			for (size_t i = 0; i < k; i++) buf[i] = pat(sent + i);
			ssize_t w = write(fd, buf, k);
			if (w < 0 && errno != EAGAIN) { perror("client write"); return -1; }
			if (w > 0) sent += w;
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r < 0 && errno != EAGAIN) { perror("client read"); return -1; }
			if (r == 0) { fprintf(stderr, "early EOF got=%zu\n", got); return -1; }
			for (ssize_t i = 0; i < r; i++)
				if ((unsigned char)buf[i] != pat(got + i)) { fprintf(stderr, "mismatch at %zu\n", got + i); return -1; }
			if (r > 0) got += r;
		}
	}
	/* Everything echoed; now the echo side must close. */
	for (int i = 0; i < 300; i++) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0) { close(fd); return 0; }
		if (r > 0) { fprintf(stderr, "extra data\n"); return -1; }
		usleep(100000);
	}
	fprintf(stderr, "no EOF\n");
	return -1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "echo-uds")) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(a.sun_path, argv[2]);
		unlink(argv[2]);
		if (bind(s, (void *)&a, sizeof(a)) || listen(s, 4)) { perror("bind"); return 1; }
		int c = accept(s, NULL, NULL);
		long n = echo(c);
		printf("L1-ECHO-DONE bytes=%ld\n", n);
		return n < 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "client-uds")) {
		for (int t = 0; t < 240; t++, usleep(500000)) {
			struct sockaddr_un a = { .sun_family = AF_UNIX };
			int s = socket(AF_UNIX, SOCK_STREAM, 0);
			char line[64];
			strcpy(a.sun_path, argv[2]);
			if (connect(s, (void *)&a, sizeof(a))) { close(s); continue; }
			dprintf(s, "CONNECT %s\n", argv[3]);
			size_t l = 0;
			while (l < sizeof(line) - 1 && read(s, line + l, 1) == 1 && line[l++] != '\n');
			line[l] = 0;
			if (strncmp(line, "OK ", 3)) { close(s); continue; }
			line[strcspn(line, "\n")] = 0;
			int r = client(s, strtoul(argv[4], 0, 0));
			printf("L1-CLIENT-%s %s tries=%d\n", r ? "FAIL" : "OK", line, t);
			return r != 0;
		}
		printf("L1-CLIENT-FAIL never connected\n");
		return 1;
	}
	if (argc >= 3 && !strcmp(argv[1], "echo-vsock")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = atoi(argv[2]) };
		int s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (void *)&a, sizeof(a)) || listen(s, 4)) { perror("vsock bind"); return 1; }
		printf("L2-LISTENING\n"); fflush(stdout);
		int c = accept(s, NULL, NULL);
		long n = echo(c);
		printf("L2-ECHO-DONE bytes=%ld\n", n);
		return n < 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "client-vsock")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = atoi(argv[2]), .svm_port = atoi(argv[3]) };
		int s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (connect(s, (void *)&a, sizeof(a))) { perror("vsock connect"); printf("L2-CLIENT-FAIL connect\n"); return 1; }
		int r = client(s, strtoul(argv[4], 0, 0));
		printf("L2-CLIENT-%s\n", r ? "FAIL" : "OK");
		if (argc >= 6) { /* refused port */
			struct sockaddr_vm b = a; b.svm_port = atoi(argv[5]);
			int s2 = socket(AF_VSOCK, SOCK_STREAM, 0);
			int rc = connect(s2, (void *)&b, sizeof(b));
			printf("L2-REFUSED rc=%d errno=%s\n", rc, strerror(errno));
		}
		return r != 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "hold-vsock")) {
		/* A connection left open across a snapshot: the restored device's transport reset
		 * must end it with ECONNRESET (a peer's RST or shutdown would read as EOF). */
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = atoi(argv[2]), .svm_port = atoi(argv[3]) };
		int s = socket(AF_VSOCK, SOCK_STREAM, 0);
		char c;
		if (connect(s, (void *)&a, sizeof(a))) { perror("vsock connect"); printf("L2-HOLD-FAIL connect\n"); return 1; }
		printf("L2-HOLD-CONNECTED\n"); fflush(stdout);
		ssize_t n = read(s, &c, 1);
		if (n < 0 && errno == ECONNRESET) { printf("L2-HOLD-RESET\n"); return 0; }
		printf("L2-HOLD-FAIL read rc=%zd errno=%s\n", n, n < 0 ? strerror(errno) : "-");
		return 1;
	}
	fprintf(stderr, "usage\n");
	return 2;
}
