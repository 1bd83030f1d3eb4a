/*
 * `vm console NAME`: the terminal (raw) joined to the VM's console socket. Ctrl-] detaches,
 * as telnet and virsh do; the VM and its console go on, and ember keeps the output for
 * the next viewer. With standard input not a terminal (a pipe, in tests), its end
 * detaches too, after a short wait for the guest's answer to what was sent.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

#define DETACH_KEY	   0x1d /* Ctrl-] */
#define EOF_DRAIN_MS	   300	/* after stdin's end: output still coming in is shown */
#define EOF_DRAIN_MAX_US   2000000ULL
#define CONNECT_TIMEOUT_MS 5000
/*
 * Typed input ember has not taken yet (a paused guest reads nothing): kept up to this, the
 * rest dropped, so that we never block on the socket and always see Ctrl-].
 */
#define PENDING_MAX (64 << 10)

struct console {
	int sock;
	int sigfd; /* SIGTERM, SIGHUP, SIGINT: the terminal is given back first */
	bool tty;
	struct termios saved;
	sigset_t oldmask;
	char pending[PENDING_MAX];
	size_t pending_len;
	size_t dropped;
};

static void raw_mode(struct console *con)
{
	struct termios t;

	con->tty = isatty(0) && !tcgetattr(0, &con->saved);
	if (!con->tty)
		return;
	t = con->saved;
	cfmakeraw(&t);
	tcsetattr(0, TCSANOW, &t);
}

static void restore_mode(struct console *con)
{
	if (con->tty)
		tcsetattr(0, TCSANOW, &con->saved);
}

/* The signals that end us arrive on a descriptor, so that raw mode is always undone. */
static int catch_signals(struct console *con)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, &con->oldmask))
		return -errno;
	con->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return con->sigfd < 0 ? -errno : 0;
}

/* Copy what the console socket has to stdout; 0, or 1 when it closed. */
static int from_vm(struct console *con)
{
	char buf[4096];
	ssize_t n = read(con->sock, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return 1;
	return write_all(1, buf, (size_t)n) ? 1 : 0;
}

/* Send what is pending as far as the socket takes it now; 0 or -errno. */
static int flush_pending(struct console *con)
{
	ssize_t n;

	while (con->pending_len) {
		n = send(con->sock, con->pending, con->pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		memmove(con->pending, con->pending + n, con->pending_len - (size_t)n);
		con->pending_len -= (size_t)n;
	}
	return 0;
}

/* Read stdin up to a Ctrl-] into the pending input; 0, 1 at detach or EOF, -errno. */
static int to_vm(struct console *con)
{
	char buf[4096], *key;
	ssize_t n = read(0, buf, sizeof(buf));
	size_t len, room;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return 1;
	len = (size_t)n;
	key = memchr(buf, DETACH_KEY, len);
	if (key)
		len = (size_t)(key - buf);
	room = sizeof(con->pending) - con->pending_len;
	if (len > room) {
		con->dropped += len - room;
		len = room;
	}
	memcpy(con->pending + con->pending_len, buf, len);
	con->pending_len += len;
	if (flush_pending(con))
		return -EPIPE;
	return key ? 1 : 0;
}

/* 0 at detach or stdin's end, -EINTR on a signal, -errno; (closed) when the socket closed. */
static int console_loop(struct console *con, bool *closed)
{
	struct pollfd p[3];
	int ret;

	for (;;) {
		p[0] = (struct pollfd){.fd = con->sock,
				       .events = POLLIN | (con->pending_len ? POLLOUT : 0)};
		p[1] = (struct pollfd){.fd = 0, .events = POLLIN};
		p[2] = (struct pollfd){.fd = con->sigfd, .events = POLLIN};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[2].revents)
			return -EINTR;
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && from_vm(con)) {
			*closed = true;
			return 0;
		}
		if ((p[0].revents & POLLOUT) && flush_pending(con))
			return -EPIPE;
		if (p[1].revents) {
			ret = to_vm(con);
			if (ret)
				return ret < 0 ? ret : 0;
		}
	}
}

/* After stdin's end (a pipe): what was sent still goes, and the guest's answer is shown,
 * until the output has been quiet for a moment (at most EOF_DRAIN_MAX_US in all). */
static void drain(struct console *con, bool *closed)
{
	uint64_t end = now_us() + EOF_DRAIN_MAX_US;
	struct pollfd p[2];

	while (now_us() < end) {
		p[0] = (struct pollfd){.fd = con->sock,
				       .events = POLLIN | (con->pending_len ? POLLOUT : 0)};
		p[1] = (struct pollfd){.fd = con->sigfd, .events = POLLIN};
		if (poll(p, 2, EOF_DRAIN_MS) <= 0 || p[1].revents)
			return;
		if ((p[0].revents & POLLOUT) && flush_pending(con))
			return;
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && from_vm(con)) {
			*closed = true;
			return;
		}
	}
}

int cmd_vm_console(struct ctl *c, const char *name)
{
	struct console *con = calloc(1, sizeof(*con));
	char path[PATH_MAX], dir[PATH_MAX];
	bool closed = false;
	int ret;

	if (!con)
		return ctl_fail(c, -ENOMEM, "out of memory");
	con->sock = con->sigfd = -1;
	if (!ctl_name_valid(name)) {
		ret = ctl_fail(c, -EINVAL, "'%s' is not a VM name", name);
		goto out;
	}
	if (ctl_path(c, dir, sizeof(dir), "vms/%s", name) ||
	    ctl_path(c, path, sizeof(path), "vms/%s/console.sock", name)) {
		ret = ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
		goto out;
	}
	ret = ctl_lock(c, false);
	if (ret)
		goto out;
	ret = access(dir, F_OK) ? ctl_fail(c, -ENOENT, "no VM named %s", name) : 0;
	/* A hung ember must not hold the lock from everyone while we wait for it. */
	ctl_unlock(c);
	if (ret)
		goto out;
	con->sock = ctl_unix_connect(path, now_us() + CONNECT_TIMEOUT_MS * 1000ULL);
	if (con->sock < 0) {
		ret =
		    ctl_fail(c, con->sock, "%s: cannot attach to its console %s: %s", name, path,
			     con->sock == -ETIMEDOUT ? "no answer in time" : strerror(-con->sock));
		goto out;
	}
	ret = catch_signals(con);
	if (ret) {
		ret = ctl_fail(c, ret, "signalfd: %s", strerror(-ret));
		goto out;
	}
	if (isatty(0))
		fprintf(stderr, "emberctl: attached to %s's console; Ctrl-] detaches\r\n", name);
	raw_mode(con);
	ret = console_loop(con, &closed);
	restore_mode(con);
	if (!ret && !closed && !con->tty)
		drain(con, &closed);
	if (ret == -EINTR)
		ret = ctl_fail(c, ret, "%s: console: ended by a signal", name);
	else if (ret)
		ret = ctl_fail(c, ret, "%s: console: %s", name, strerror(-ret));
	else if (closed)
		ret = ctl_fail(c, -EPIPE,
			       "%s's console closed (busy with another viewer, or "
			       "the VM stopped)",
			       name);
	else if (isatty(0))
		fprintf(stderr, "\r\nemberctl: detached from %s\r\n", name);
	if (!ret && con->dropped)
		fprintf(stderr,
			"emberctl: %zu bytes of input dropped (the VM did not take them)%s\n",
			con->dropped, con->tty ? "\r" : "");
out:
	if (con->sock >= 0)
		close(con->sock);
	if (con->sigfd >= 0) {
		close(con->sigfd);
		sigprocmask(SIG_SETMASK, &con->oldmask, NULL);
	}
	free(con);
	return ret;
}
