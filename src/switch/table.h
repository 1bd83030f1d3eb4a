/*
 * ember-switch's learning table: which port each station's MAC address was last seen on.
 * No sockets and no clock: the caller passes the time, so every rule here is a unit test.
 *
 * The rules: a source address is learned on the port its frame came from; one seen on
 * another port moves there; an entry not refreshed for the age limit is gone; a port that
 * closes takes its entries with it. A multicast or all-zero source is never learned.
 * When the table is full, entries past their age are dropped first; if none is, the new
 * address is not learned (frames to it are flooded, as to any unknown one): a port that
 * sends from a stream of made-up addresses then cannot push out the stations already
 * learned, and its own entries age out.
 */
#ifndef EMBER_SWITCH_TABLE_H
#define EMBER_SWITCH_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define SWITCH_TABLE_CAPACITY 4096
#define SWITCH_TABLE_BUCKETS  1024 /* a power of two */
#define SWITCH_PORT_MAX	      4096 /* ports are numbered 0 .. SWITCH_PORT_MAX - 1 */
/*
 * A full table is swept for aged entries at most this often on behalf of new addresses:
 * a stream of made-up sources would otherwise cost a sweep of every entry per frame.
 */
#define SWITCH_TABLE_RESWEEP_MS 100

struct switch_entry {
	uint8_t mac[6];
	uint16_t port;	  /* SWITCH_ENTRY_FREE when the entry holds nothing */
	uint16_t next;	  /* the next entry in its bucket, or in the free list */
	uint64_t seen_ms; /* when a frame from it last came in */
};

struct switch_table {
	struct switch_entry entries[SWITCH_TABLE_CAPACITY];
	uint16_t buckets[SWITCH_TABLE_BUCKETS];
	uint16_t free_head;
	unsigned int count;
	uint64_t age_ms;
	uint64_t refused; /* addresses not learned because the table was full */
	uint64_t moves;	  /* addresses that showed up on another port */
	/*
	 * Full: no entry can have aged before this (the oldest's last frame plus the age
	 * limit, and not sooner than SWITCH_TABLE_RESWEEP_MS after the last sweep), so a new
	 * address is refused without a sweep until then.
	 */
	uint64_t full_until_ms;
	uint64_t sweeps; /* sweeps for a new address in a full table */
};

enum switch_learn {
	SWITCH_LEARN_IGNORED, /* a multicast or all-zero source: not a station */
	SWITCH_LEARN_NEW,
	SWITCH_LEARN_REFRESHED,
	SWITCH_LEARN_MOVED,
	SWITCH_LEARN_FULL, /* not learned: the table is full of live entries */
};

/* An empty table whose entries live (age_ms) after their last frame (at least 1). */
void switch_table_init(struct switch_table *t, uint64_t age_ms);

static inline bool mac_is_multicast(const uint8_t mac[6])
{
	return mac[0] & 1; /* broadcast included */
}

/* (mac) was the source of a frame on (port) (< SWITCH_PORT_MAX) at (now_ms). */
enum switch_learn switch_table_learn(struct switch_table *t, const uint8_t mac[6],
				     unsigned int port, uint64_t now_ms);

/* The port (mac) is on at (now_ms), or -1 when unknown or aged out. */
int switch_table_lookup(struct switch_table *t, const uint8_t mac[6], uint64_t now_ms);

/* Forget every address learned on (port), which closed. How many went. */
unsigned int switch_table_forget_port(struct switch_table *t, unsigned int port);

/* Drop the entries past their age at (now_ms). How many went. */
unsigned int switch_table_expire(struct switch_table *t, uint64_t now_ms);

/*
 * Walk the live entries (aged ones not yet expired included): start with (*cursor) 0;
 * each call gives the next entry, or NULL at the end.
 */
const struct switch_entry *switch_table_next(const struct switch_table *t, unsigned int *cursor);

#endif
