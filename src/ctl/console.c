/*
 * `vm console NAME`: the terminal (raw) joined to the VM's console socket. Ctrl-] detaches,
 * as telnet and virsh do; the VM and its console go on, and ember keeps the output for
 * the next viewer. With standard input not a terminal (a pipe, in tests), its end
 * detaches too, after a short wait for the guest's answer to what was sent.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

#define DETACH_KEY	 0x1d /* Ctrl-] */
#define EOF_DRAIN_MS	 300  /* after stdin's end: output still coming in is shown */
#define EOF_DRAIN_MAX_US 2000000ULL

struct console {
	int sock;
	bool tty;
	struct termios saved;
};

static int console_connect(struct ctl *c, const char *name, const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return ctl_fail(c, -ENAMETOOLONG, "%s: path too long for a socket", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ctl_fail(c, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = errno;

		close(fd);
		return ctl_fail(c, -err, "%s: cannot attach to its console %s: %s", name, path,
				strerror(err));
	}
	return fd;
}

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

/* Copy stdin to the socket up to a Ctrl-]; 0, 1 at detach or EOF, -errno. */
static int to_vm(struct console *con)
{
	char buf[4096], *key;
	ssize_t n = read(0, buf, sizeof(buf));
	size_t len;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return 1;
	len = (size_t)n;
	key = memchr(buf, DETACH_KEY, len);
	if (key)
		len = (size_t)(key - buf);
	if (len && write_all(con->sock, buf, len))
		return -EPIPE;
	return key ? 1 : 0;
}

static int console_loop(struct console *con, bool *closed)
{
	struct pollfd p[2];
	int ret;

	for (;;) {
		p[0] = (struct pollfd){.fd = con->sock, .events = POLLIN};
		p[1] = (struct pollfd){.fd = 0, .events = POLLIN};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents && from_vm(con)) {
			*closed = true;
			return 0;
		}
		if (p[1].revents) {
			ret = to_vm(con);
			if (ret)
				return ret < 0 ? ret : 0;
		}
	}
}

int cmd_vm_console(struct ctl *c, const char *name)
{
	struct console con = {.sock = -1};
	char path[PATH_MAX], dir[PATH_MAX];
	struct pollfd p;
	bool closed = false;
	uint64_t drain_end;
	int ret;

	if (!ctl_name_valid(name))
		return ctl_fail(c, -EINVAL, "'%s' is not a VM name", name);
	if (ctl_path(c, dir, sizeof(dir), "vms/%s", name) ||
	    ctl_path(c, path, sizeof(path), "vms/%s/console.sock", name))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	ret = ctl_lock(c, false);
	if (ret)
		return ret;
	if (access(dir, F_OK))
		ret = ctl_fail(c, -ENOENT, "no VM named %s", name);
	else
		ret = con.sock = console_connect(c, name, path);
	ctl_unlock(c);
	if (ret < 0)
		return ret;
	if (isatty(0))
		fprintf(stderr, "emberctl: attached to %s's console; Ctrl-] detaches\r\n", name);
	raw_mode(&con);
	ret = console_loop(&con, &closed);
	restore_mode(&con);
	/* The pipe's end: the guest may still be answering what was sent. */
	drain_end = now_us() + EOF_DRAIN_MAX_US;
	while (!ret && !closed && !con.tty && now_us() < drain_end) {
		p = (struct pollfd){.fd = con.sock, .events = POLLIN};
		if (poll(&p, 1, EOF_DRAIN_MS) <= 0)
			break;
		if (from_vm(&con)) {
			closed = true;
			break;
		}
	}
	close(con.sock);
	if (ret)
		return ctl_fail(c, ret, "%s: console: %s", name, strerror(-ret));
	if (closed)
		return ctl_fail(c, -EPIPE,
				"%s's console closed (busy with another viewer, or "
				"the VM stopped)",
				name);
	if (isatty(0))
		fprintf(stderr, "\r\nemberctl: detached from %s\r\n", name);
	return 0;
}
