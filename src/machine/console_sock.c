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
#include "../util/log.h"
#include "../util/util.h"

/* What a second viewer reads before ember closes it. */
#define CONSOLE_BUSY "ember: console busy\r\n"
/* Output read from the pipe per wake-up: the rest waits for the next turn of the loop. */
#define CONSOLE_DRAIN_MAX (64 * 1024)

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

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(why, why_len, "socket path too long (at most %zu bytes)",
			 sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
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

static void console_sock_watch_out(struct console_sock *cs, bool on)
{
	if (cs->out_waiting == on)
		return;
	if (event_loop_modify(cs->loop, &cs->out_src, on ? EPOLLOUT : 0))
		log_warn(cs->log, "console: cannot change the viewer's watch");
	cs->out_waiting = on;
}

static void console_sock_detach(struct console_sock *cs, const char *how)
{
	if (cs->viewer_fd < 0)
		return;
	console_stop(cs->input);
	event_loop_del(cs->loop, &cs->out_src);
	close(cs->viewer_out_fd);
	close(cs->viewer_fd);
	cs->viewer_fd = cs->viewer_out_fd = -1;
	cs->out_waiting = false;
	log_info(cs->log, "console: viewer %s", how);
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
	while ((len = console_ring_peek(cs->ring, cs->viewer_pos, &data))) {
		n = write(cs->viewer_out_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			console_sock_watch_out(cs, true);
			return;
		}
		if (n <= 0) {
			console_sock_detach(cs, "gone (write failed)");
			return;
		}
		cs->viewer_pos += n;
	}
	console_sock_watch_out(cs, false);
}

/* Whether the viewer has hung up or failed, asked now rather than taken from an event. */
static bool console_sock_viewer_gone(struct console_sock *cs)
{
	struct pollfd p = {.fd = cs->viewer_out_fd, .events = 0};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void console_sock_on_out(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;

	if (cs->viewer_fd < 0)
		return;
	/*
	 * The event may be the previous viewer's, dispatched in the batch that also attached
	 * this one (the source is the same): a hang-up counts only if the socket says so now.
	 */
	if ((events & (EPOLLHUP | EPOLLERR)) && console_sock_viewer_gone(cs)) {
		console_sock_detach(cs, "detached");
		return;
	}
	console_sock_flush(cs);
}

static void console_sock_attach(struct console_sock *cs, int fd)
{
	int ret;

	cs->viewer_out_fd = dup(fd);
	if (cs->viewer_out_fd < 0) {
		log_warn(cs->log, "console: cannot take a viewer");
		close(fd);
		return;
	}
	cs->viewer_fd = fd;
	cs->out_waiting = false;
	cs->out_src = (struct event_source){cs->viewer_out_fd, console_sock_on_out, cs};
	/* Hang-ups and errors are reported whatever the events: watched from the start. */
	ret = event_loop_add(cs->loop, &cs->out_src, 0);
	if (!ret)
		ret = console_start(cs->input, fd, cs->serial, cs->loop, cs->log);
	if (ret) {
		log_warnx(cs->log, "console: cannot watch a viewer: %s", strerror(-ret));
		event_loop_del(cs->loop, &cs->out_src);
		close(cs->viewer_out_fd);
		close(fd);
		cs->viewer_fd = cs->viewer_out_fd = -1;
		return;
	}
	/* The history first: the viewer sees what it missed, then what comes. */
	cs->viewer_pos = console_ring_oldest(cs->ring);
	log_info(cs->log, "console: viewer attached, %llu bytes of history",
		 (unsigned long long)(cs->ring->written - cs->viewer_pos));
	console_sock_flush(cs);
}

static void console_sock_on_listen(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;
	int fd;

	(void)events;
	while ((fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		/* A viewer that just went away, its hang-up not handled yet, is not in the way. */
		if (cs->viewer_fd >= 0 && console_sock_viewer_gone(cs))
			console_sock_detach(cs, "detached");
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
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn(cs->log, "console: accept");
}

static void console_sock_on_pipe(void *opaque, uint32_t events)
{
	struct console_sock *cs = opaque;
	uint8_t buf[16 * 1024];
	size_t total = 0;
	ssize_t n = 1;

	(void)events;
	while (total < CONSOLE_DRAIN_MAX) {
		n = read(cs->pipe_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		console_ring_write(cs->ring, buf, n);
		total += n;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* Not while ember holds the write end; should it happen, stop spinning on it. */
		log_warn(cs->log, "console: the output pipe failed");
		event_loop_del(cs->loop, &cs->pipe_src);
	}
	/* A full viewer socket is retried when it has room, not on every new byte. */
	if (!cs->out_waiting)
		console_sock_flush(cs);
}

int console_sock_start(struct console_sock *cs, int listen_fd, int pipe_fd, struct console *input,
		       struct serial *serial, struct event_loop *loop, struct logger *log)
{
	int ret;

	*cs = (struct console_sock){
	    .listen_fd = listen_fd,
	    .pipe_fd = pipe_fd,
	    .viewer_fd = -1,
	    .viewer_out_fd = -1,
	    .input = input,
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
	console_sock_detach(cs, "detached: ember is stopping");
	event_loop_del(cs->loop, &cs->listen_src);
	event_loop_del(cs->loop, &cs->pipe_src);
	free(cs->ring);
	cs->ring = NULL;
	cs->started = false;
}
