#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "console.h"
#include "../devices/serial.h"
#include "../util/log.h"

/* How often input waiting for FIFO room is retried: the guest drains the FIFO meanwhile. */
#define CONSOLE_RETRY_MS 10

static void console_watch(struct console *con, bool on)
{
	if (!con->registered)
		return;
	if (event_loop_modify(con->loop, &con->src, on ? EPOLLIN : 0))
		log_warn(con->log, "console: cannot change input watch");
}

static void console_feed(struct console *con)
{
	con->off += serial_push_input(con->serial, con->buf + con->off, con->len - con->off);
	if (con->off == con->len) {
		con->off = con->len = 0;
		if (con->open)
			console_watch(con, true);
	} else {
		/* No room: stop reading until the guest takes what we have. */
		console_watch(con, false);
	}
}

static void console_unwatch(struct console *con)
{
	if (con->registered)
		event_loop_del(con->loop, &con->src);
	con->registered = false;
}

static void console_close_input(struct console *con)
{
	con->open = false;
	console_unwatch(con);
}

static void console_readable(void *opaque, uint32_t events)
{
	struct console *con = opaque;
	ssize_t n;

	(void)events;
	/* An event of an input console_stop ended, dispatched in the same batch. */
	if (!con->open)
		return;
	if (con->len) {
		/*
		 * Input is waiting for FIFO room with the watch off, so only a hang-up or an
		 * error wakes us, and it would again at every turn of the loop. What the
		 * writer sent before it went is still to be read: from now on, on each retry,
		 * as from a regular file, up to the EOF.
		 */
		console_unwatch(con);
		con->unpollable = true;
		return;
	}
	n = read(con->in_fd, con->buf, sizeof(con->buf));
	if (n > 0) {
		con->off = 0;
		con->len = n;
		console_feed(con);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* EOF or a dead fd: the guest simply gets no more input. */
		console_close_input(con);
	}
}

int console_start(struct console *con, int in_fd, struct serial *serial, struct event_loop *loop,
		  struct logger *log)
{
	struct termios raw;
	int ret;

	con->in_fd = in_fd;
	con->serial = serial;
	con->loop = loop;
	con->log = log;
	con->off = con->len = 0;
	con->unpollable = false;
	if (in_fd < 0 || !serial)
		return 0;
	if (isatty(in_fd) && tcgetattr(in_fd, &con->term_saved) == 0) {
		raw = con->term_saved;
		/* Keystrokes, ^C included, belong to the guest; its poweroff ends ember. */
		cfmakeraw(&raw);
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			con->term_raw = true;
	}
	con->src = (struct event_source){ .fd = in_fd, .fn = console_readable, .opaque = con };
	con->open = true;
	ret = event_loop_add(loop, &con->src, EPOLLIN);
	if (ret == -EPERM) {
		/* A regular file (or /dev/null) cannot be polled, but is always readable. */
		con->unpollable = true;
		return 0;
	}
	if (ret)
		return ret;
	con->registered = true;
	return 0;
}

void console_stop(struct console *con)
{
	if (con->registered)
		event_loop_del(con->loop, &con->src);
	con->registered = false;
	con->open = false;
	if (con->term_raw)
		tcsetattr(con->in_fd, TCSANOW, &con->term_saved);
	con->term_raw = false;
}

int console_retry(struct console *con)
{
	if (!con->len && con->unpollable && con->open)
		console_readable(con, 0);
	else if (con->len)
		console_feed(con);
	return con->len || (con->unpollable && con->open) ? CONSOLE_RETRY_MS : -1;
}
