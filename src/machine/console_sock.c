#define _GNU_SOURCE /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console_sock.h"
#include "../devices/serial.h"
#include "../util/log.h"
#include "../util/util.h"

/* What a second viewer reads before ember closes it. */
#define CONSOLE_BUSY "ember: console busy\r\n"
/* Output read from the pipe per wake-up: the rest waits for the next turn of the loop. */
#define CONSOLE_DRAIN_MAX (64 * 1024)
/*
 * After output arrives the pipe rests this long before it is read again: the guest writes
 * a byte at a time, and a wake-up (and a write to the viewer) per byte would cost this
 * thread a core at a fast guest's rate, and fill a slow viewer's socket with tiny buffers.
 * Output after a quiet spell is passed on at once.
 */
#define CONSOLE_OUTPUT_REST_US 1000
/* How often input waiting for FIFO room is retried: the guest drains the FIFO meanwhile. */
#define CONSOLE_INPUT_RETRY_MS 10
/*
 * How long the listener is left alone after accept failed for want of a descriptor or of
 * memory: the connection stays pending, the socket readable, and retrying at once would
 * spin this thread (and the log) until something else frees one.
 */
#define CONSOLE_ACCEPT_REST_US (100 * 1000)

/* Whether a socket file at (path) is a leftover: nobody accepts on it any more. */
static bool socket_is_stale(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	bool stale;
	int fd;

	if (lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return false;
	/* Non-blocking: a live listener with a full backlog says EAGAIN, not refused. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	stale =
	    connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static int console_sock_bind(const char *path, int *listen_fd, char *why, size_t why_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (unix_addr(&addr, path)) {
		snprintf(why, why_len, "socket path too long (at most %d bytes)", UNIX_PATH_LEN_MAX);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "socket: %s", strerror(-ret));
		return ret;
	}
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	/* A VM that was killed leaves its socket behind; its next run takes the path again. */
	if (ret == -EADDRINUSE && socket_is_stale(path, &addr) && !unlink(path))
		ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	if (ret) {
		if (ret == -EADDRINUSE && !lstat(path, &st) && !S_ISSOCK(st.st_mode))
			snprintf(why, why_len, "exists and is not a socket");
		else if (ret == -EADDRINUSE)
			snprintf(why, why_len, "in use by another process");
		else
			snprintf(why, why_len, "bind: %s", strerror(-ret));
		close(fd);
		return ret;
	}
	/* One viewer at a time: the backlog only needs room for the next one and a latecomer. */
	if (listen(fd, 4)) {
		ret = -errno;
		snprintf(why, why_len, "listen: %s", strerror(-ret));
		close(fd);
		unlink(path);
		return ret;
	}
	*listen_fd = fd;
	return 0;
}

int console_sock_open(const char *path, int *listen_fd, int *out_rd, int *out_wr, char *why,
		      size_t why_len)
{
	int pipe_fds[2], ret;

	ret = console_sock_bind(path, listen_fd, why, why_len);
	if (ret)
		return ret;
	if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC)) {
		ret = -errno;
		snprintf(why, why_len, "output pipe: %s", strerror(-ret));
		close(*listen_fd);
		*listen_fd = -1;
		unlink(path);
		return ret;
	}
	*out_rd = pipe_fds[0];
	*out_wr = pipe_fds[1];
	return 0;
}

/* Watch the viewer for what is wanted now: room for input, room in its socket for output. */
static void console_sock_rewatch(struct console_sock *cs)
{
	uint32_t events = 0;

	if (cs->viewer_fd < 0)
		return;
	if (!cs->viewer_input_done && cs->in_len < sizeof(cs->in))
		events |= EPOLLIN;
	if (cs->out_waiting)
		events |= EPOLLOUT;
	if (events == cs->viewer_events)
		return;
	if (event_loop_modify(cs->loop, &cs->viewer_src, events))
		log_warn(cs->log, "console: cannot change the viewer's watch");
	else
		cs->viewer_events = events;
}

/* Hand the UART what the viewers typed, as much as its FIFO takes now. */
static void console_sock_feed(struct console_sock *cs)
{
	size_t n;

	if (!cs->in_len || !cs->serial)
		return;
	n = serial_push_input(cs->serial, cs->in + cs->in_off, cs->in_len);
	cs->in_off += n;
	cs->in_len -= n;
	if (!cs->in_len)
		cs->in_off = 0;
}

/* Read the viewer's keystrokes into the input buffer, up to EOF or a full buffer. */
static void console_sock_read_input(struct console_sock *cs)
{
	ssize_t n;

	if (cs->in_off && cs->in_off + cs->in_len == sizeof(cs->in)) {
		memmove(cs->in, cs->in + cs->in_off, cs->in_len);
		cs->in_off = 0;
	}
	while (!cs->viewer_input_done && cs->in_off + cs->in_len < sizeof(cs->in)) {
		n = read(cs->viewer_fd, cs->in + cs->in_off + cs->in_len,
			 sizeof(cs->in) - cs->in_off - cs->in_len);
		if (n > 0)
			cs->in_len += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else
			cs->viewer_input_done = true; /* EOF: it may still read output */
	}
}

static void console_sock_detach(struct console_sock *cs, const char *how)
{
	if (cs->viewer_fd < 0)
		return;
	event_loop_del(cs->loop, &cs->viewer_src);
	close(cs->viewer_fd);
	cs->viewer_fd = -1;
	cs->out_waiting = false;
	log_info(cs->log, "console: viewer %s", how);
}

/*
 * The viewer hung up. What it typed last may still wait in its socket (a script that
 * writes a command and closes at once): that is kept for the UART, up to a full input
 * buffer, and fed after the viewer is gone.
 */
static void console_sock_viewer_left(struct console_sock *cs)
{
	console_sock_read_input(cs);
	console_sock_feed(cs);
	console_sock_detach(cs, "detached");
}

/* Send the viewer what it has not had yet, as much as its socket takes now. */
static void console_sock_flush(struct console_sock *cs)
{
	const uint8_t *data;
	uint64_t lost;
	size_t len;
	ssize_t n;

	if (cs->viewer_fd < 0)
		return;
	lost = console_ring_catch_up(cs->ring, &cs->viewer_pos);
	if (lost)
		log_info(cs->log, "console: the viewer is slow: %llu bytes of output skipped",
			 (unsigned long long)lost);
	cs->out_waiting = false;
	while ((len = console_ring_peek(cs->ring, cs->viewer_pos, &data))) {
		n = write(cs->viewer_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			cs->out_waiting = true;
			break;
		}
		if (n <= 0) {
			console_sock_viewer_left(cs); /* EPIPE: it closed its end */
			return;
		}
		cs->viewer_pos += n;
	}
	console_sock_rewatch(cs);
}

/* Whether the viewer has hung up or failed, asked now rather than taken from an event. */
static bool console_sock_viewer_gone(struct console_sock *cs)
{
	struct pollfd p = {.fd = cs->viewer_fd, .events = 0};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void console_sock_on_viewer(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;

	if (cs->viewer_fd < 0)
		return;
	/*
	 * The event may be the previous viewer's, dispatched in the batch that also attached
	 * this one (the source is the same): a hang-up counts only if the socket says so now.
	 * Anything else of a stale event finds nothing to do (EAGAIN).
	 */
	if ((events & (EPOLLHUP | EPOLLERR)) && console_sock_viewer_gone(cs)) {
		console_sock_viewer_left(cs);
		return;
	}
	if (events & EPOLLIN) {
		console_sock_read_input(cs);
		console_sock_feed(cs);
	}
	if (events & EPOLLOUT)
		console_sock_flush(cs);
	console_sock_rewatch(cs);
}

static void console_sock_attach(struct console_sock *cs, int fd)
{
	int ret;

	cs->viewer_fd = fd;
	cs->viewer_input_done = cs->out_waiting = false;
	cs->viewer_events = EPOLLIN;
	cs->viewer_src = (struct event_source){fd, console_sock_on_viewer, cs};
	ret = event_loop_add(cs->loop, &cs->viewer_src, cs->viewer_events);
	if (ret) {
		log_warnx(cs->log, "console: cannot watch a viewer: %s", strerror(-ret));
		close(fd);
		cs->viewer_fd = -1;
		return;
	}
	/* The history first: the viewer sees what it missed, then what comes. */
	cs->viewer_pos = console_ring_oldest(cs->ring);
	log_info(cs->log, "console: viewer attached, %llu bytes of history",
		 (unsigned long long)(cs->ring->written - cs->viewer_pos));
	console_sock_flush(cs);
}

static void console_sock_watch_listener(struct console_sock *cs, bool on)
{
	if (event_loop_modify(cs->loop, &cs->listen_src, on ? EPOLLIN : 0))
		log_warn(cs->log, "console: cannot change the listener's watch");
	cs->listen_resting = !on;
	cs->listen_due_us = now_us() + CONSOLE_ACCEPT_REST_US;
}

static void console_sock_on_listen(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;
	int fd;

	(void)events;
	if (cs->listen_resting)
		return;
	while ((fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (cs->accept_failing)
			log_info(cs->log, "console: accept works again");
		cs->accept_failing = false;
		/* A viewer that just went away, its hang-up not handled yet, is not in the way. */
		if (cs->viewer_fd >= 0 && console_sock_viewer_gone(cs))
			console_sock_viewer_left(cs);
		if (cs->viewer_fd < 0) {
			console_sock_attach(cs, fd);
			continue;
		}
		/* Best effort: a latecomer that does not read simply misses the line. */
		if (write(fd, CONSOLE_BUSY, sizeof(CONSOLE_BUSY) - 1) < 0)
			log_debug(cs->log, "console: busy line not sent: %s", strerror(errno));
		close(fd);
		log_info(cs->log, "console: a second viewer refused (busy)");
	}
	if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
		return;
	/* Said once per spell of failures, not at every retry. */
	if (!cs->accept_failing)
		log_warn(cs->log, "console: accept (retried every %d ms)",
			 CONSOLE_ACCEPT_REST_US / 1000);
	cs->accept_failing = true;
	console_sock_watch_listener(cs, false);
}

/* Move what the guest wrote from the pipe into the history. Returns the bytes moved. */
static size_t console_sock_drain(struct console_sock *cs)
{
	uint8_t buf[16 * 1024];
	size_t total = 0;
	ssize_t n;

	while (total < CONSOLE_DRAIN_MAX) {
		n = read(cs->pipe_fd, buf, sizeof(buf));
		if (n > 0) {
			console_ring_write(cs->ring, buf, n);
			total += n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			/* EAGAIN: empty. EOF cannot be while ember holds the write end. */
			break;
		}
	}
	return total;
}

static void console_sock_watch_pipe(struct console_sock *cs, bool on)
{
	if (event_loop_modify(cs->loop, &cs->pipe_src, on ? EPOLLIN : 0))
		log_warn(cs->log, "console: cannot change the output pipe's watch");
	cs->pipe_resting = !on;
	cs->pipe_due_us = now_us() + CONSOLE_OUTPUT_REST_US;
}

static void console_sock_on_pipe(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;

	(void)events;
	if (cs->pipe_resting || !console_sock_drain(cs))
		return;
	/* A full viewer socket is retried when it has room, not on every new byte. */
	if (!cs->out_waiting)
		console_sock_flush(cs);
	console_sock_watch_pipe(cs, false);
}

int console_sock_retry(struct console_sock *cs)
{
	int timeout = -1;
	uint64_t now;

	if (!cs->started)
		return -1;
	if (cs->in_len) {
		console_sock_feed(cs);
		console_sock_rewatch(cs); /* room again: read the viewer on */
		if (cs->in_len)
			timeout = CONSOLE_INPUT_RETRY_MS;
	}
	if (cs->pipe_resting) {
		now = now_us();
		if (now >= cs->pipe_due_us) {
			if (console_sock_drain(cs)) {
				if (!cs->out_waiting)
					console_sock_flush(cs);
				cs->pipe_due_us = now + CONSOLE_OUTPUT_REST_US;
			} else {
				/* Quiet: wake on the next byte. */
				console_sock_watch_pipe(cs, true);
			}
		}
		if (cs->pipe_resting) {
			int ms = (int)((cs->pipe_due_us - MIN(now, cs->pipe_due_us) + 999) / 1000);

			timeout = timeout < 0 ? ms : MIN(timeout, ms);
		}
	}
	if (cs->listen_resting) {
		now = now_us();
		if (now >= cs->listen_due_us) {
			/* Level-triggered: a connection still pending wakes the loop again at once. */
			console_sock_watch_listener(cs, true);
		} else {
			int ms = (int)((cs->listen_due_us - now + 999) / 1000);

			timeout = timeout < 0 ? ms : MIN(timeout, ms);
		}
	}
	return timeout;
}

int console_sock_start(struct console_sock *cs, int listen_fd, int pipe_fd, struct serial *serial,
		       struct event_loop *loop, struct logger *log)
{
	int ret;

	*cs = (struct console_sock){
	    .listen_fd = listen_fd,
	    .pipe_fd = pipe_fd,
	    .viewer_fd = -1,
	    .serial = serial,
	    .loop = loop,
	    .log = log,
	};
	cs->ring = calloc(1, sizeof(*cs->ring));
	if (!cs->ring)
		return -ENOMEM;
	cs->listen_src = (struct event_source){listen_fd, console_sock_on_listen, cs};
	cs->pipe_src = (struct event_source){pipe_fd, console_sock_on_pipe, cs};
	ret = event_loop_add(loop, &cs->pipe_src, EPOLLIN);
	if (!ret) {
		ret = event_loop_add(loop, &cs->listen_src, EPOLLIN);
		if (ret)
			event_loop_del(loop, &cs->pipe_src);
	}
	if (ret) {
		free(cs->ring);
		cs->ring = NULL;
		return ret;
	}
	cs->started = true;
	return 0;
}

void console_sock_stop(struct console_sock *cs)
{
	if (!cs->started)
		return;
	/* The guest's last words (a reset is often right after them) still reach the viewer. */
	console_sock_drain(cs);
	if (!cs->out_waiting)
		console_sock_flush(cs);
	console_sock_detach(cs, "detached: ember is stopping");
	event_loop_del(cs->loop, &cs->listen_src);
	event_loop_del(cs->loop, &cs->pipe_src);
	free(cs->ring);
	cs->ring = NULL;
	cs->started = false;
}
