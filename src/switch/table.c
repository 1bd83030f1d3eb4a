/*
 * The learning table: a fixed pool of entries, chained in hash buckets, the unused ones
 * on a free list. No allocation after init, so a full table is a count, not a failure.
 */
#include <string.h>

#include "table.h"
#include "../util/util.h"

#define SWITCH_ENTRY_FREE 0xffff /* an entry's port when it holds nothing */
#define SWITCH_NIL	  0xffff /* the end of a bucket's chain or of the free list */

_Static_assert(SWITCH_TABLE_CAPACITY < SWITCH_NIL, "entry indexes fit 16 bits, with NIL");
_Static_assert(SWITCH_PORT_MAX <= SWITCH_ENTRY_FREE, "port numbers fit 16 bits, with FREE");
_Static_assert((SWITCH_TABLE_BUCKETS & (SWITCH_TABLE_BUCKETS - 1)) == 0, "a power of two");

void switch_table_init(struct switch_table *t, uint64_t age_ms)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->age_ms = age_ms ? age_ms : 1;
	for (i = 0; i < SWITCH_TABLE_BUCKETS; i++)
		t->buckets[i] = SWITCH_NIL;
	for (i = 0; i < SWITCH_TABLE_CAPACITY; i++) {
		t->entries[i].port = SWITCH_ENTRY_FREE;
		t->entries[i].next = i + 1 < SWITCH_TABLE_CAPACITY ? i + 1 : SWITCH_NIL;
	}
	t->free_head = 0;
}

/* FNV-1a over the address: the low bits of a MAC (what hypervisors vary) all count. */
static unsigned int bucket_of(const uint8_t mac[6])
{
	uint32_t h = 2166136261u;
	unsigned int i;

	for (i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return h & (SWITCH_TABLE_BUCKETS - 1);
}

static bool expired(const struct switch_table *t, const struct switch_entry *e, uint64_t now_ms)
{
	/* A clock that went back (it does not: monotonic) would keep an entry, not drop it. */
	return now_ms > e->seen_ms && now_ms - e->seen_ms >= t->age_ms;
}

/* The link that points at the entry for (mac): the bucket's head or a `next`; NULL: none. */
static uint16_t *find_link(struct switch_table *t, const uint8_t mac[6])
{
	uint16_t *link = &t->buckets[bucket_of(mac)];

	while (*link != SWITCH_NIL) {
		if (!memcmp(t->entries[*link].mac, mac, 6))
			return link;
		link = &t->entries[*link].next;
	}
	return NULL;
}

/* Unchain the entry (*link) points at and put it on the free list. */
static void remove_at(struct switch_table *t, uint16_t *link)
{
	uint16_t i = *link;
	struct switch_entry *e = &t->entries[i];

	*link = e->next;
	e->port = SWITCH_ENTRY_FREE;
	e->next = t->free_head;
	t->free_head = i;
	t->count--;
}

/* Remove every entry (drop) says to. How many went. */
static unsigned int remove_if(struct switch_table *t,
			      bool (*drop)(const struct switch_table *, const struct switch_entry *,
					   uint64_t),
			      uint64_t arg)
{
	unsigned int b, n = 0;

	for (b = 0; b < SWITCH_TABLE_BUCKETS; b++) {
		uint16_t *link = &t->buckets[b];

		while (*link != SWITCH_NIL) {
			if (drop(t, &t->entries[*link], arg)) {
				remove_at(t, link);
				n++;
			} else {
				link = &t->entries[*link].next;
			}
		}
	}
	return n;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * The earliest last frame of any entry: seen_ms only grows, and new entries come at the
 * current time, so nothing ages before this plus the age limit.
 */
static uint64_t oldest_seen(const struct switch_table *t)
{
	uint64_t oldest = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < SWITCH_TABLE_CAPACITY; i++)
		if (t->entries[i].port != SWITCH_ENTRY_FREE)
			oldest = MIN(oldest, t->entries[i].seen_ms);
	return oldest;
}

enum switch_learn switch_table_learn(struct switch_table *t, const uint8_t mac[6],
				     unsigned int port, uint64_t now_ms)
{
	static const uint8_t zero[6];
	struct switch_entry *e;
	uint16_t *link, i;
	unsigned int b;

	if (mac_is_multicast(mac) || !memcmp(mac, zero, 6) || port >= SWITCH_PORT_MAX)
		return SWITCH_LEARN_IGNORED;
	link = find_link(t, mac);
	if (link) {
		e = &t->entries[*link];
		e->seen_ms = now_ms;
		if (e->port == port)
			return SWITCH_LEARN_REFRESHED;
		e->port = port;
		t->moves++;
		return SWITCH_LEARN_MOVED;
	}
	if (t->free_head == SWITCH_NIL && now_ms >= t->full_until_ms) {
		switch_table_expire(t, now_ms);
		t->sweeps++;
		if (t->free_head == SWITCH_NIL)
			t->full_until_ms = MAX(add_sat(oldest_seen(t), t->age_ms),
					       add_sat(now_ms, SWITCH_TABLE_RESWEEP_MS));
	}
	if (t->free_head == SWITCH_NIL) {
		t->refused++;
		return SWITCH_LEARN_FULL;
	}
	i = t->free_head;
	e = &t->entries[i];
	t->free_head = e->next;
	b = bucket_of(mac);
	memcpy(e->mac, mac, 6);
	e->port = port;
	e->seen_ms = now_ms;
	e->next = t->buckets[b];
	t->buckets[b] = i;
	t->count++;
	return SWITCH_LEARN_NEW;
}

int switch_table_lookup(struct switch_table *t, const uint8_t mac[6], uint64_t now_ms)
{
	uint16_t *link = find_link(t, mac);

	if (!link)
		return -1;
	if (expired(t, &t->entries[*link], now_ms)) {
		remove_at(t, link);
		return -1;
	}
	return t->entries[*link].port;
}

static bool on_port(const struct switch_table *t, const struct switch_entry *e, uint64_t port)
{
	(void)t;
	return e->port == port;
}

unsigned int switch_table_forget_port(struct switch_table *t, unsigned int port)
{
	return remove_if(t, on_port, port);
}

unsigned int switch_table_expire(struct switch_table *t, uint64_t now_ms)
{
	return remove_if(t, expired, now_ms);
}

const struct switch_entry *switch_table_next(const struct switch_table *t, unsigned int *cursor)
{
	while (*cursor < SWITCH_TABLE_CAPACITY) {
		const struct switch_entry *e = &t->entries[(*cursor)++];

		if (e->port != SWITCH_ENTRY_FREE)
			return e;
	}
	return NULL;
}
