/*
 * --console-sock: the guest's serial console on a Unix stream socket, for one viewer at a
 * time, with the last 64 KiB of output kept and replayed to each viewer that attaches.
 *
 * The devices stay as they are: they write the guest's output to the write end of a
 * non-blocking pipe (cfg->console_out). This thread drains the read end into the ring and
 * on to the viewer, so a slow viewer, or none, never blocks a vCPU: a full pipe makes the
 * UART count a missed write, and a viewer that falls more than the ring's size behind
 * loses the oldest bytes. The viewer's keystrokes go to the UART in order, through a
 * buffer that outlives the viewer (a script may type and hang up at once).
 */
#ifndef EMBER_MACHINE_CONSOLE_SOCK_H
#define EMBER_MACHINE_CONSOLE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console_ring.h"
#include "../util/eventloop.h"
#include "../util/log.h"

struct serial;

/* Keystrokes read from viewers and not yet taken by the UART (its FIFO is 64 bytes). */
#define CONSOLE_INPUT_MAX 4096

struct console_sock {
	bool started;
	int listen_fd;		/* the socket viewers connect to (the caller's) */
	int pipe_fd;		/* the read end of the output pipe (the caller's) */
	int viewer_fd;		/* -1: nobody attached */
	uint32_t viewer_events; /* what viewer_fd is watched for */
	bool viewer_input_done; /* the viewer's input reached EOF; it may still read */
	bool out_waiting;	/* the viewer's socket was full: watching for room */
	uint64_t viewer_pos;	/* the ring position of the next byte the viewer gets */
	bool pipe_resting;	/* output came lately: the pipe is read again at pipe_due_us */
	uint64_t pipe_due_us;
	bool listen_resting;	/* accept failed (EMFILE...): the listener is watched again at */
	uint64_t listen_due_us; /* listen_due_us, not at once: it stays readable meanwhile */
	bool accept_failing;	/* the failure was logged: not again until an accept works */
	struct console_ring *ring;
	/* Input in arrival order, from this viewer and ones before it. */
	uint8_t in[CONSOLE_INPUT_MAX];
	size_t in_off, in_len;
	struct serial *serial;
	struct event_loop *loop;
	struct logger *log;
	struct event_source listen_src, pipe_src, viewer_src;
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
 * input fed to (serial) (NULL: none). 0 or -errno.
 */
int console_sock_start(struct console_sock *cs, int listen_fd, int pipe_fd, struct serial *serial,
		       struct event_loop *loop, struct logger *log);

/*
 * What is due: input waiting for FIFO room, output after the pipe's rest, the listener after
 * a failed accept. Returns the time
 * in ms the event loop may sleep before calling again: -1 when nothing is waiting.
 */
int console_sock_retry(struct console_sock *cs);

/*
 * Pass on the last output, drop the viewer and stop serving; the endpoints stay open.
 * Safe to call more than once.
 */
void console_sock_stop(struct console_sock *cs);

#endif
