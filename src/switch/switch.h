/*
 * ember-switch: a learning Ethernet switch between VMs, in user space. Each connection to
 * its SOCK_SEQPACKET socket is a port (ember's `--net switch=PATH`), each message one whole
 * frame. One thread, one epoll loop, every socket non-blocking: a port that does not read
 * loses the frames meant for it (counted), and never holds up the others.
 */
#ifndef EMBER_SWITCH_SWITCH_H
#define EMBER_SWITCH_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "forward.h"
#include "table.h"
#include "../util/util.h"

#define SWITCH_PORTS_DEFAULT 64
#define SWITCH_AGE_DEFAULT_S 300
/* Frames a port holds for a peer that could not take them at once; more are dropped. */
#define PORT_QUEUE_LEN 16
/* Frames read from one port before the others get their turn. */
#define PORT_RX_BATCH	    32
#define CONTROL_CLIENTS_MAX 8
#define CONTROL_TIMEOUT_MS  5000

/* What a port counts; rx is what its peer sent to the switch, tx what the switch sent it. */
struct port_counters {
	uint64_t rx_frames, rx_bytes, rx_garbage;
	uint64_t tx_frames, tx_bytes, tx_dropped;
};

struct queued_frame {
	uint8_t *data; /* malloc'd, (len) bytes */
	size_t len;
};

struct port {
	int fd;		 /* -1: the slot is free */
	bool closing;	 /* closed at the end of this loop turn, when no event can name it */
	unsigned int id; /* shown on the control socket: 1, 2, ... in the order ports came */
	pid_t pid;	 /* the peer's, from SO_PEERCRED; 0 if unknown */
	uint32_t events; /* what epoll watches for */
	struct port_counters c;
	struct queued_frame queue[PORT_QUEUE_LEN];
	unsigned int q_head, q_len;
};

/* A control socket client being sent the status. */
struct control_client {
	int fd;	      /* -1: free */
	bool closing; /* closed at the end of this loop turn, when no event can name it */
	char *buf;
	size_t len, off;
	uint64_t deadline_ms; /* closed then even if it has not read everything */
};

struct sw {
	const char *name;
	const char *sock_path, *ctl_path;
	unsigned int max_ports;
	int epoll_fd, port_listen_fd, ctl_listen_fd, signal_fd;
	struct port *ports; /* max_ports slots */
	struct switch_table *table;
	struct control_client clients[CONTROL_CLIENTS_MAX];
	unsigned int next_port_id;
	uint64_t refused_ports; /* connections turned away: every port was taken */
	bool stop;
	uint8_t frame[SWITCH_FRAME_MAX + 1]; /* one more: a longer message is seen as such */
};

/* What an epoll event is for: the kind in the high half of its u64, an index in the low. */
enum sw_source { SRC_PORT_LISTEN = 1, SRC_CTL_LISTEN, SRC_SIGNAL, SRC_PORT, SRC_CLIENT };

static inline uint64_t sw_tag(enum sw_source kind, unsigned int index)
{
	return (uint64_t)kind << 32 | index;
}

/* Monotonic milliseconds: the learning table's clock. */
static inline uint64_t sw_now_ms(void)
{
	return now_us() / 1000;
}

/* Register (fd) with the loop for (events) under (tag). 0 or -errno. */
static inline int sw_watch(struct sw *sw, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	return epoll_ctl(sw->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* --- port.c: the data path --- */

/* Take every waiting connection as a port (one past max_ports is closed at once). */
void port_accept(struct sw *sw);

/* Port (i) is readable, writable or hung up (epoll's events). */
void port_event(struct sw *sw, unsigned int i, uint32_t events);

/* Close the ports marked closing, forgetting their addresses: at the end of a loop turn. */
void port_reap(struct sw *sw);

/* Close every port (at exit). */
void port_close_all(struct sw *sw);

/* --- control.c: the status, as JSON, to whoever connects to the control socket --- */

/*
 * The status document into a malloc'd, NUL-terminated (*out) of (*len) bytes.
 * 0 or -ENOMEM.
 */
int control_status_json(struct sw *sw, uint64_t now_ms, char **out, size_t *len);

/* Take every waiting control connection and start sending it the status. */
void control_accept(struct sw *sw);

/* Client (i) can take more, or hung up. */
void control_event(struct sw *sw, unsigned int i, uint32_t events);

/* Close the clients past their deadline (or all of them, at exit, with (all)). */
void control_expire(struct sw *sw, uint64_t now_ms, bool all);

/*
 * Close the clients marked closing: at the end of a loop turn, so that a slot is never
 * taken again in the turn that freed it (a stale event of the old client would then hit
 * the new one).
 */
void control_reap(struct sw *sw);

#endif
