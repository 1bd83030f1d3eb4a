/*
 * The control socket: whoever connects is written one JSON object, the switch's status,
 * and closed. Written with snprintf into a growing buffer rather than with jansson:
 * ember-switch links libc alone, statically, like ember-jailer, and the document is flat.
 * A client that reads slowly is sent what its socket takes each turn, never waited for,
 * and closed at its deadline.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "switch.h"

struct strbuf {
	char *data;
	size_t len, cap;
	bool failed; /* out of memory: everything after is ignored */
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->failed = true;
			return;
		}
		if ((size_t)n < sb->cap - sb->len) {
			sb->len += n;
			return;
		}
		char *bigger = realloc(sb->data, sb->cap * 2 + n);

		if (!bigger) {
			sb->failed = true;
			return;
		}
		sb->data = bigger;
		sb->cap = sb->cap * 2 + n;
	}
}

/* (s) as a JSON string: quotes, backslashes and control characters escaped. */
static void sb_json_string(struct strbuf *sb, const char *s)
{
	sb_printf(sb, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_printf(sb, "%c", c);
	}
	sb_printf(sb, "\"");
}

/* Entries in port order, and by address within a port: the status lists them so. */
static int by_port(const void *a, const void *b)
{
	const struct switch_entry *x = *(const struct switch_entry *const *)a;
	const struct switch_entry *y = *(const struct switch_entry *const *)b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return memcmp(x->mac, y->mac, sizeof(x->mac));
}

/* Port (i), and its addresses from (*next) on in the sorted (entries) of (n). */
static unsigned int sb_port(struct strbuf *sb, const struct sw *sw, unsigned int i,
			    const struct switch_entry **entries, unsigned int n, unsigned int *next)
{
	const struct port *p = &sw->ports[i];
	unsigned int listed = 0;

	sb_printf(sb,
		  "{\"port\":%u,\"pid\":%d,\"rx_frames\":%llu,\"rx_bytes\":%llu,"
		  "\"tx_frames\":%llu,\"tx_bytes\":%llu,\"tx_dropped\":%llu,\"rx_garbage\":%llu,"
		  "\"macs\":[",
		  p->id, (int)p->pid, (unsigned long long)p->c.rx_frames,
		  (unsigned long long)p->c.rx_bytes, (unsigned long long)p->c.tx_frames,
		  (unsigned long long)p->c.tx_bytes, (unsigned long long)p->c.tx_dropped,
		  (unsigned long long)p->c.rx_garbage);
	while (*next < n && entries[*next]->port < i)
		(*next)++;
	for (; *next < n && entries[*next]->port == i; (*next)++, listed++) {
		const uint8_t *m = entries[*next]->mac;

		sb_printf(sb, "%s\"%02x:%02x:%02x:%02x:%02x:%02x\"", listed ? "," : "", m[0], m[1],
			  m[2], m[3], m[4], m[5]);
	}
	sb_printf(sb, "]}");
	return listed;
}

int control_status_json(struct sw *sw, uint64_t now_ms, char **out, size_t *len)
{
	struct strbuf sb = {.cap = 4096};
	const struct switch_entry **entries, *e;
	unsigned int i, n = 0, next = 0, cursor = 0, macs = 0;
	bool first = true;

	/* Entries past their age are not shown as learned. */
	switch_table_expire(sw->table, now_ms);
	entries = malloc((sw->table->count + 1) * sizeof(*entries));
	sb.data = malloc(sb.cap);
	if (!entries || !sb.data) {
		free(entries);
		free(sb.data);
		return -ENOMEM;
	}
	while (n < sw->table->count && (e = switch_table_next(sw->table, &cursor)))
		entries[n++] = e;
	qsort(entries, n, sizeof(*entries), by_port);
	sb_printf(&sb, "{\"name\":");
	sb_json_string(&sb, sw->name);
	sb_printf(&sb, ",\"ports\":[");
	for (i = 0; i < sw->max_ports; i++) {
		/* A port closing this turn is gone, with its addresses. */
		if (sw->ports[i].fd < 0 || sw->ports[i].closing)
			continue;
		sb_printf(&sb, "%s", first ? "" : ",");
		macs += sb_port(&sb, sw, i, entries, n, &next);
		first = false;
	}
	sb_printf(&sb, "],\"macs\":%u}\n", macs);
	free(entries);
	if (sb.failed) {
		free(sb.data);
		return -ENOMEM;
	}
	*out = sb.data;
	*len = sb.len;
	return 0;
}

static void control_close(struct sw *sw, unsigned int i)
{
	struct control_client *c = &sw->clients[i];

	close(c->fd);
	free(c->buf);
	*c = (struct control_client){.fd = -1};
}

/* Done with client (i): closed at the end of this turn, by control_reap. */
static void control_finish(struct sw *sw, unsigned int i)
{
	sw->clients[i].closing = true;
}

/* Send what the client's socket takes now; done, or an error: closed. */
static void control_send(struct sw *sw, unsigned int i)
{
	struct control_client *c = &sw->clients[i];

	while (c->off < c->len) {
		ssize_t n =
		    send(c->fd, c->buf + c->off, c->len - c->off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		c->off += n;
	}
	control_finish(sw, i);
}

void control_accept(struct sw *sw)
{
	uint64_t now = sw_now_ms();

	for (;;) {
		int fd = accept4(sw->ctl_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct control_client *c = NULL;
		unsigned int i;

		if (fd < 0)
			return;
		for (i = 0; i < CONTROL_CLIENTS_MAX && !c; i++)
			if (sw->clients[i].fd < 0)
				c = &sw->clients[i];
		if (!c) {
			close(fd); /* busy: the client sees the connection end without a word */
			continue;
		}
		i--;
		if (control_status_json(sw, now, &c->buf, &c->len)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->off = 0;
		c->deadline_ms = now + CONTROL_TIMEOUT_MS;
		if (sw_watch(sw, fd, EPOLLOUT, sw_tag(SRC_CLIENT, i))) {
			control_finish(sw, i);
			continue;
		}
		control_send(sw, i);
	}
}

void control_event(struct sw *sw, unsigned int i, uint32_t events)
{
	if (i >= CONTROL_CLIENTS_MAX || sw->clients[i].fd < 0 || sw->clients[i].closing)
		return;
	if (events & (EPOLLERR | EPOLLHUP))
		control_finish(sw, i);
	else
		control_send(sw, i);
}

/* Outside the dispatch of a turn: no event of this turn is left to name the slot. */
void control_expire(struct sw *sw, uint64_t now_ms, bool all)
{
	unsigned int i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (sw->clients[i].fd >= 0 &&
		    (all || sw->clients[i].closing || now_ms >= sw->clients[i].deadline_ms))
			control_close(sw, i);
}

void control_reap(struct sw *sw)
{
	unsigned int i;

	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (sw->clients[i].fd >= 0 && sw->clients[i].closing)
			control_close(sw, i);
}
