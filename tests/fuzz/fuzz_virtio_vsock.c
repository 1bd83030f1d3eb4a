/*
 * libFuzzer target: virtio-vsock (vsock.c, vsock_conn.c, vsock_packet.c) between a hostile
 * guest driver and hostile host programs. The fuzzer's bytes are the script of the shared
 * driver (virtio_driver.h): the guest's packets are the payloads of its tx chains (every
 * op, type, CID, flag, credit and length field as the fuzzer writes it). The driver's
 * device op is the host side, one sub-op byte then its arguments:
 *   0 connect to the device's socket      6 listen on "<path>_<port>" (u32 port, u8 backlog)
 *   1 send "CONNECT <port>\n" (u8 fd, u8    7 accept from a listener (u8 listener)
 *     flags: bit 0 CRLF, u32 port)        8 close a listener (u8 listener)
 *   2 send script bytes (u8 fd, bytes)    9 connect up to 1 + u8 % 64 clients at once
 *   3 read what is there (u8 fd)         10 send u16 bytes of filler (u8 fd, u16 count)
 *   4 close (u8 fd)                      11 restore: owe the guest a transport reset
 *   5 shutdown (u8 fd, u8 how)
 * "fd" picks one of the host sockets opened so far (clients and accepted ones alike).
 * The guest's CID is 3, and the host port of the first host-initiated connection is
 * VSOCK_LOCAL_PORT_BASE.
 *
 * Checked besides "no crash": a host client whose first bytes were a whole CONNECT line
 * reads "OK <port>\n" with a local port before anything else; the device removes its
 * socket when destroyed; and every CHECK_EVERY inputs, no socket, epoll, timer or memfd
 * fd is open and the temp dir is empty (a leak would end a long campaign).
 *
 * Each input gets a fresh device on the same path in a per-process temp dir (on tmpfs
 * when there is one), removed at exit. Every host socket is non-blocking, so no input
 * waits; the 2 s CONNECT and answer deadlines are wall-clock and never reached.
 */
#define _GNU_SOURCE /* accept4 */
#include <dirent.h>
#include <errno.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/vsock.h"
#include "virtio/vsock_conn.h"
#include "virtio_driver.h"

#define GUEST_CID   3
#define HOST_FDS    320 /* room to fill the device's VSOCK_MAX_CONNS slots */
#define LISTENERS   4
#define CHECK_EVERY 64
#define READ_MAX    (64 * 1024)

struct host_sock {
	int fd;
	bool client;	/* connected to the device's socket, else accepted from a listener */
	bool expect_ok; /* its first bytes out were a whole CONNECT line */
	bool answered;	/* the OK line was checked */
	size_t sent;
	unsigned int got;
	char head[VSOCK_LINE_MAX]; /* the first bytes it read */
};

struct listener {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct host {
	struct vsock_config cfg;
	struct virtio_vsock *vsock;
	struct host_sock socks[HOST_FDS];
	unsigned int nsocks;
	struct listener ls[LISTENERS];
	uint8_t buf[READ_MAX];
};

static struct host host;
static char tmp_dir[64];
static int base_fds = -1; /* inherited ones, such as a profiler's eventfd */
static unsigned long inputs;

/* Entries in (path), "." and ".." excepted; -1 when it cannot be read. */
static int dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dir);
	return n;
}

/* Whatever a crashed input left, then the dir itself. */
static void remove_tmp_dir(void)
{
	DIR *dir;
	struct dirent *de;
	char path[sizeof(tmp_dir) + 256];

	if (!tmp_dir[0] || !(dir = opendir(tmp_dir)))
		return;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmp_dir, de->d_name);
			unlink(path);
		}
	closedir(dir);
	rmdir(tmp_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs if there is one: binding a socket on a disk file system costs an inode. */
	strcpy(tmp_dir, "/dev/shm/ember-fuzz-vsock.XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		strcpy(tmp_dir, "/tmp/ember-fuzz-vsock.XXXXXX");
		if (!mkdtemp(tmp_dir)) {
			perror("mkdtemp");
			abort();
		}
	}
	atexit(remove_tmp_dir);
	/* A sanitizer report ends the process without atexit. */
	__sanitizer_set_death_callback(remove_tmp_dir);
	return 0;
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_virtio_vsock: %s\n", what);
	remove_tmp_dir();
	abort();
}

/* The host socket the script names, or NULL if there is none open. */
static struct host_sock *pick_sock(struct host *h, struct bin *s)
{
	struct host_sock *hs;

	if (!h->nsocks)
		return NULL;
	hs = &h->socks[bin_u8(s) % h->nsocks];
	return hs->fd >= 0 ? hs : NULL;
}

static void host_connect(struct host *h)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct host_sock *hs;
	int fd;

	if (h->nsocks == HOST_FDS)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	strcpy(addr.sun_path, h->cfg.path);
	/* A Unix connect does not pend: done, or EAGAIN with the backlog full. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return;
	}
	hs = &h->socks[h->nsocks++];
	memset(hs, 0, sizeof(*hs));
	hs->fd = fd;
	hs->client = true;
}

static void host_send(struct host_sock *hs, const void *p, size_t len)
{
	ssize_t n = send(hs->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n > 0)
		hs->sent += n;
}

/* A client's first bytes in, after a CONNECT line the device took, are "OK <local port>\n". */
static void check_answer(struct host_sock *hs, const uint8_t *p, size_t n)
{
	unsigned int take = MIN(n, sizeof(hs->head) - hs->got), i;
	const char *nl;
	uint64_t port = 0;

	memcpy(hs->head + hs->got, p, take);
	hs->got += take;
	if (!hs->expect_ok || hs->answered)
		return;
	if (memcmp(hs->head, "OK ", MIN(hs->got, 3)))
		fail("a host client read something before its OK line");
	nl = memchr(hs->head, '\n', hs->got);
	if (!nl) {
		if (hs->got == sizeof(hs->head))
			fail("an OK line too long");
		return;
	}
	for (i = 3; hs->head + i < nl; i++) {
		if (hs->head[i] < '0' || hs->head[i] > '9')
			fail("an OK line with a malformed port");
		port = port * 10 + (hs->head[i] - '0');
	}
	if (i == 3 || port < VSOCK_LOCAL_PORT_BASE || port >= UINT32_MAX)
		fail("an OK line without a local port");
	hs->answered = true;
}

static void host_read(struct host *h, struct host_sock *hs)
{
	unsigned int i;

	/* Bounded: the device only writes while it runs, but bound it anyway. */
	for (i = 0; i < 8; i++) {
		ssize_t n = recv(hs->fd, h->buf, sizeof(h->buf), MSG_DONTWAIT);

		if (n <= 0)
			break;
		if (hs->client)
			check_answer(hs, h->buf, n);
	}
}

static void host_close(struct host_sock *hs)
{
	close(hs->fd);
	hs->fd = -1;
}

static void host_listen(struct host *h, struct bin *s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint32_t port = bin_u32(s);
	int backlog = bin_u8(s) % 4, fd;
	struct listener *l = NULL;
	unsigned int i;

	for (i = 0; i < LISTENERS && !l; i++)
		if (h->ls[i].fd < 0)
			l = &h->ls[i];
	if (!l)
		return;
	/* The name the device connects to for a guest REQUEST to host port (port). */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", h->cfg.path, port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* Two listeners on one port: the second bind fails, and the path stays the first's. */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return;
	}
	if (listen(fd, backlog)) {
		close(fd);
		unlink(addr.sun_path);
		return;
	}
	l->fd = fd;
	strcpy(l->path, addr.sun_path);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	unlink(l->path);
	l->fd = -1;
}

static void host_accept(struct host *h, struct listener *l)
{
	struct host_sock *hs;
	int fd;

	if (h->nsocks == HOST_FDS)
		return;
	fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	hs = &h->socks[h->nsocks++];
	memset(hs, 0, sizeof(*hs));
	hs->fd = fd;
}

/* The driver's device op: one thing a host program does. */
static void host_op(struct fuzz_driver *d, struct bin *s)
{
	struct host *h = d->opaque;
	struct host_sock *hs;
	struct listener *l;
	uint8_t op = bin_u8(s);

	switch (op % 12) {
	case 0:
		host_connect(h);
		break;
	case 1: {
		uint8_t flags;
		char line[32];
		uint32_t port;
		int len;

		if (!(hs = pick_sock(h, s)))
			break;
		flags = bin_u8(s);
		port = bin_u32(s);
		len = snprintf(line, sizeof(line), "CONNECT %u%s", port, flags & 1 ? "\r\n" : "\n");
		if (!hs->sent && port != UINT32_MAX)
			hs->expect_ok = true;
		host_send(hs, line, len);
		break;
	}
	case 2: {
		const uint8_t *bytes;
		size_t len;

		if (!(hs = pick_sock(h, s)))
			break;
		len = bin_bytes(s, FUZZ_MAX_PAYLOAD, &bytes);
		host_send(hs, bytes, len);
		break;
	}
	case 3:
		if ((hs = pick_sock(h, s)))
			host_read(h, hs);
		break;
	case 4:
		if ((hs = pick_sock(h, s)))
			host_close(hs);
		break;
	case 5: {
		static const int how[] = { SHUT_RD, SHUT_WR, SHUT_RDWR };

		if ((hs = pick_sock(h, s)))
			shutdown(hs->fd, how[bin_u8(s) % 3]);
		break;
	}
	case 6:
		host_listen(h, s);
		break;
	case 7:
		l = &h->ls[bin_u8(s) % LISTENERS];
		if (l->fd >= 0)
			host_accept(h, l);
		break;
	case 8:
		l = &h->ls[bin_u8(s) % LISTENERS];
		if (l->fd >= 0)
			listener_close(l);
		break;
	case 9: {
		unsigned int i, n = 1 + bin_u8(s) % 64, before;

		/* Until the backlog is full: the next loop run takes them in. */
		for (i = 0; i < n; i++) {
			before = h->nsocks;
			host_connect(h);
			if (h->nsocks == before)
				break;
		}
		break;
	}
	case 10: {
		uint16_t len;

		if (!(hs = pick_sock(h, s)))
			break;
		len = bin_u16(s);
		memset(h->buf, 'x', len);
		host_send(hs, h->buf, len);
		break;
	}
	case 11:
		virtio_vsock_restore(h->vsock);
		break;
	}
}

static void host_reset(struct host *h)
{
	unsigned int i;

	for (i = 0; i < h->nsocks; i++)
		if (h->socks[i].fd >= 0)
			host_close(&h->socks[i]);
	h->nsocks = 0;
	for (i = 0; i < LISTENERS; i++)
		if (h->ls[i].fd >= 0)
			listener_close(&h->ls[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct fuzz_driver *d = malloc(sizeof(*d));
	struct host *h = &host;
	struct stat st;
	char why[128];
	unsigned int i;

	if (base_fds < 0)
		base_fds = fuzz_count_input_fds(NULL);
	if (!d || fuzz_driver_init(d)) {
		free(d);
		return 0;
	}
	memset(&h->cfg, 0, sizeof(h->cfg));
	h->cfg.cid = GUEST_CID;
	snprintf(h->cfg.path, sizeof(h->cfg.path), "%s/v", tmp_dir);
	h->nsocks = 0;
	for (i = 0; i < LISTENERS; i++)
		h->ls[i].fd = -1;
	if (!virtio_vsock_create(&d->mem, &d->loop, &d->log, &h->cfg, &h->vsock, why,
				 sizeof(why))) {
		d->device_op = host_op;
		d->opaque = h;
		fuzz_driver_attach(d, virtio_vsock_dev(h->vsock));
		fuzz_driver_run(d, &s);
		virtio_vsock_destroy(h->vsock);
		if (!lstat(h->cfg.path, &st))
			fail("the device left its socket behind");
	}
	host_reset(h);
	fuzz_driver_destroy(d);
	free(d);
	if (++inputs % CHECK_EVERY == 0) {
		if (fuzz_count_input_fds(NULL) != base_fds) {
			fuzz_count_input_fds("fuzz_virtio_vsock");
			fail("file descriptors leaked");
		}
		if (dir_entries(tmp_dir) != 0)
			fail("files left in the temp dir");
	}
	return 0;
}
