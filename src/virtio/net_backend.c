/* virtio-net's two backends, a TAP and an ember-switch port, behind one small interface. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_backend.h"
#include "../util/tap.h"
#include "../util/util.h"

_Static_assert(NET_HDR_LEN == TAP_VNET_HDR_LEN, "the TAP's header is the device's");

struct net_backend_ops {
	bool offloads;
	ssize_t (*send)(struct net_backend *b, const struct iovec *iov, unsigned int n);
	ssize_t (*recv)(struct net_backend *b, uint8_t *buf, size_t size);
	int (*set_offload)(struct net_backend *b, unsigned int offloads);
	bool (*hung_up)(uint32_t events);
};

/* --- TAP: the header goes through as it is --- */

static ssize_t tap_send(struct net_backend *b, const struct iovec *iov, unsigned int n)
{
	ssize_t sent = writev(b->fd, iov, n);

	if (sent < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return sent < NET_HDR_LEN ? 0 : sent - NET_HDR_LEN;
}

static ssize_t tap_recv(struct net_backend *b, uint8_t *buf, size_t size)
{
	ssize_t n = read(b->fd, buf, size);

	return n < 0 ? -errno : n;
}

static int tap_offload(struct net_backend *b, unsigned int offloads)
{
	return tap_set_offload(b->fd, offloads);
}

/* A TAP whose interface went away reports errors on each read; ember keeps reading it. */
static bool tap_hung_up(uint32_t events)
{
	(void)events;
	return false;
}

static const struct net_backend_ops tap_ops = {
    .offloads = true,
    .send = tap_send,
    .recv = tap_recv,
    .set_offload = tap_offload,
    .hung_up = tap_hung_up,
};

/* --- ember-switch port: one bare Ethernet frame per message --- */

/* The errors that mean the switch closed our port or exited. */
static int switch_errno(int err)
{
	if (err == EWOULDBLOCK)
		return -EAGAIN;
	if (err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ECONNREFUSED)
		return -EPIPE;
	return -err;
}

static ssize_t switch_send(struct net_backend *b, const struct iovec *iov, unsigned int n)
{
	struct msghdr msg = {.msg_iov = b->scratch};
	size_t skip = NET_HDR_LEN;
	unsigned int i;
	ssize_t sent;

	/* The frame is what follows the header, which may span buffers. */
	for (i = 0; i < n && skip >= iov[i].iov_len; i++)
		skip -= iov[i].iov_len;
	if (i == n)
		return -EINVAL;
	memcpy(b->scratch, iov + i, (n - i) * sizeof(*iov));
	b->scratch[0].iov_base = (uint8_t *)b->scratch[0].iov_base + skip;
	b->scratch[0].iov_len -= skip;
	msg.msg_iovlen = n - i;
	sent = sendmsg(b->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	return sent < 0 ? switch_errno(errno) : sent;
}

static ssize_t switch_recv(struct net_backend *b, uint8_t *buf, size_t size)
{
	ssize_t n;

	if (size <= NET_HDR_LEN)
		return -EINVAL;
	/* MSG_TRUNC: the whole message's length, so a frame too large is seen, not cut. */
	n = recv(b->fd, buf + NET_HDR_LEN, size - NET_HDR_LEN, MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0)
		return switch_errno(errno);
	/* The end of the connection; the switch never sends an empty frame. */
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > size - NET_HDR_LEN)
		return -EMSGSIZE;
	memset(buf, 0, NET_HDR_LEN);
	return n + NET_HDR_LEN;
}

static int switch_offload(struct net_backend *b, unsigned int offloads)
{
	(void)b;
	return offloads ? -EOPNOTSUPP : 0;
}

/* A connected SOCK_SEQPACKET socket hangs up only when its peer has closed. */
static bool switch_hung_up(uint32_t events)
{
	return events & (EPOLLHUP | EPOLLERR);
}

static const struct net_backend_ops switch_ops = {
    .offloads = false,
    .send = switch_send,
    .recv = switch_recv,
    .set_offload = switch_offload,
    .hung_up = switch_hung_up,
};

static int switch_connect(const char *path, char *why, size_t why_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;

	if (unix_addr(&addr, path)) {
		snprintf(why, why_len, "the socket path is longer than %d bytes", UNIX_PATH_LEN_MAX);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(why, why_len, "socket: %s", strerror(-err));
		return err;
	}
	/* A Unix connect completes at once unless the switch's backlog is full. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		if (err == -EAGAIN)
			snprintf(why, why_len,
				 "cannot connect to the switch: it is not accepting "
				 "connections (backlog full)");
		else
			snprintf(why, why_len, "cannot connect to the switch: %s%s", strerror(-err),
				 err == -ENOENT || err == -ECONNREFUSED
				     ? " (is ember-switch running?)"
				     : "");
		close(fd);
		return err;
	}
	return fd;
}

int net_backend_open(struct net_backend *b, const struct net_config *cfg, char *why, size_t why_len)
{
	int fd;

	if (*cfg->switch_path) {
		fd = switch_connect(cfg->switch_path, why, why_len);
		b->ops = &switch_ops;
		b->name = cfg->switch_path;
	} else {
		fd = tap_open(cfg->tap);
		if (fd < 0)
			snprintf(why, why_len, "cannot open the TAP device: %s", strerror(-fd));
		b->ops = &tap_ops;
		b->name = cfg->tap;
	}
	b->fd = fd;
	return fd < 0 ? fd : 0;
}

void net_backend_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

ssize_t net_backend_send(struct net_backend *b, const struct iovec *iov, unsigned int n)
{
	return b->ops->send(b, iov, n);
}

ssize_t net_backend_recv(struct net_backend *b, uint8_t *buf, size_t size)
{
	return b->ops->recv(b, buf, size);
}

bool net_backend_offloads(const struct net_backend *b)
{
	return b->ops->offloads;
}

int net_backend_set_offload(struct net_backend *b, unsigned int offloads)
{
	return b->ops->set_offload(b, offloads);
}

bool net_backend_hung_up(const struct net_backend *b, uint32_t events)
{
	return b->ops->hung_up(events);
}
