/*
 * --console-sock: the guest's serial console on a Unix stream socket, for one viewer at a
 * time, with the last 64 KiB of output kept and replayed to each viewer that attaches.
 *
 * The devices stay as they are: they write the guest's output to the write end of a
 * non-blocking pipe (cfg->console_out). This thread drains the read end into the ring and
 * on to the viewer, so a slow viewer, or none, never blocks a vCPU: a full pipe makes the
 * UART count a missed write, and a viewer that falls more than the ring's size behind
 * loses the oldest bytes. The viewer's keystrokes go to the UART through a struct console,
 * as stdin's do without the option.
 */
#ifndef EMBER_MACHINE_CONSOLE_SOCK_H
#define EMBER_MACHINE_CONSOLE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "console_ring.h"
#include "../util/eventloop.h"
#include "../util/log.h"

struct serial;

struct console_sock {
	bool started;
	int listen_fd;	     /* the socket viewers connect to (the caller's) */
	int pipe_fd;	     /* the read end of the output pipe (the caller's) */
	int viewer_fd;	     /* -1: nobody attached; read for input by (input) */
	int viewer_out_fd;   /* a second descriptor of it, watched for room and hang-ups */
	bool out_waiting;    /* the viewer's socket was full: watching for room */
	uint64_t viewer_pos; /* the ring position of the next byte the viewer gets */
	struct console_ring *ring;
	struct console *input;
	struct serial *serial;
	struct event_loop *loop;
	struct logger *log;
	struct event_source listen_src, pipe_src, out_src;
};

/*
 * Create the endpoints before the VM exists: the socket at (path), listening (a stale
 * socket file nobody listens on is replaced; a live one is refused), and the output pipe
 * (*out_rd, *out_wr; non-blocking, close-on-exec). 0, or -errno with the reason in (why).
 */
int console_sock_open(const char *path, int *listen_fd, int *out_rd, int *out_wr, char *why,
		      size_t why_len);

/*
 * Serve viewers on (listen_fd) from (loop), with the output read from (pipe_fd) and their
 * input fed to (serial) through (input). 0 or -errno.
 */
int console_sock_start(struct console_sock *cs, int listen_fd, int pipe_fd, struct console *input,
		       struct serial *serial, struct event_loop *loop, struct logger *log);

/* Drop the viewer and stop serving; the endpoints stay open. Safe to call more than once. */
void console_sock_stop(struct console_sock *cs);

#endif
