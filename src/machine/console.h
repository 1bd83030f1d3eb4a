/*
 * The guest's serial console on the host: stdin feeds the UART, raw while it is a terminal
 * (--console-sock's viewers have their own path: console_sock.h).
 */
#ifndef EMBER_MACHINE_CONSOLE_H
#define EMBER_MACHINE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "../util/eventloop.h"
#include "../util/log.h"

struct serial;

struct console {
	int in_fd;		/* -1: no input */
	struct serial *serial;
	struct event_loop *loop;
	struct logger *log;
	struct event_source src;
	bool registered;
	bool open;		/* input has not reached EOF */
	/*
	 * A regular file or /dev/null, or an input that hung up with bytes still to read:
	 * read on each retry instead of watched.
	 */
	bool unpollable;
	uint8_t buf[256];	/* read from in_fd, not yet taken by the UART */
	size_t off, len;
	bool term_raw;
	struct termios term_saved;
};

/*
 * Put a terminal (in_fd) in raw mode and start feeding it to (serial) from (loop), logging
 * to (log). 0/-errno.
 */
int console_start(struct console *con, int in_fd, struct serial *serial, struct event_loop *loop,
		  struct logger *log);

/* Stop reading and restore the terminal. Safe to call more than once. */
void console_stop(struct console *con);

/*
 * Retry input the UART's FIFO had no room for. Returns the time in ms the event loop may
 * sleep before the next retry: -1 when nothing is waiting.
 */
int console_retry(struct console *con);

#endif
