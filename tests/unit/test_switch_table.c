/*
 * ember-switch's learning table and forwarding decision (src/switch/table.c, forward.c):
 * learning, flooding, aging, moves, a closed port's addresses, a full table.
 */
#include "unit.h"

#include "switch/forward.h"
#include "switch/table.h"

#define AGE_MS 300000

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static int table_setup(void **state)
{
	struct switch_table *t = malloc(sizeof(*t));

	if (!t)
		return -1;
	switch_table_init(t, AGE_MS);
	*state = t;
	return 0;
}

static int table_teardown(void **state)
{
	free(*state);
	return 0;
}

/* A 60-byte frame from (src) to (dst). */
static const uint8_t *frame(const uint8_t dst[6], const uint8_t src[6])
{
	static uint8_t f[60];

	memset(f, 0, sizeof(f));
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	return f;
}

/* The address of station (i), distinct for each i below 2^24. */
static void station(unsigned int i, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = 0;
	mac[3] = i >> 16;
	mac[4] = i >> 8;
	mac[5] = i;
}

static void test_learns_source_and_forwards_unicast(void **state)
{
	struct switch_table *t = *state;
	struct switch_decision d;

	/* b is unknown: flooded; a is learned on the way. */
	switch_decide(t, 1, frame(mac_b, mac_a), 60, 1000, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	assert_int_equal(d.learned, SWITCH_LEARN_NEW);
	assert_int_equal(switch_table_lookup(t, mac_a, 1000), 1);
	/* The answer goes to a's port alone, and b is learned. */
	switch_decide(t, 2, frame(mac_a, mac_b), 60, 1001, &d);
	assert_int_equal(d.verdict, SWITCH_UNICAST);
	assert_int_equal(d.port, 1);
	switch_decide(t, 1, frame(mac_b, mac_a), 60, 1002, &d);
	assert_int_equal(d.verdict, SWITCH_UNICAST);
	assert_int_equal(d.port, 2);
	assert_int_equal(d.learned, SWITCH_LEARN_REFRESHED);
	assert_int_equal(t->count, 2);
}

static void test_floods_broadcast_and_multicast(void **state)
{
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	struct switch_table *t = *state;
	struct switch_decision d;

	switch_decide(t, 2, frame(mac_a, mac_b), 60, 0, &d);
	switch_decide(t, 1, frame(bcast, mac_a), 60, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	switch_decide(t, 1, frame(mcast, mac_a), 60, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
}

static void test_multicast_and_zero_sources_not_learned(void **state)
{
	static const uint8_t zero[6];
	struct switch_table *t = *state;
	struct switch_decision d;

	switch_decide(t, 1, frame(mac_a, bcast), 60, 0, &d);
	assert_int_equal(d.learned, SWITCH_LEARN_IGNORED);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	switch_decide(t, 1, frame(mac_a, zero), 60, 0, &d);
	assert_int_equal(d.learned, SWITCH_LEARN_IGNORED);
	assert_int_equal(t->count, 0);
	assert_int_equal(switch_table_lookup(t, bcast, 0), -1);
}

static void test_garbage_lengths(void **state)
{
	static uint8_t big[SWITCH_FRAME_MAX + 1];
	struct switch_table *t = *state;
	struct switch_decision d;

	memcpy(big, frame(mac_b, mac_a), 14);
	switch_decide(t, 1, big, 0, 0, &d);
	assert_int_equal(d.verdict, SWITCH_GARBAGE);
	switch_decide(t, 1, big, SWITCH_FRAME_MIN - 1, 0, &d);
	assert_int_equal(d.verdict, SWITCH_GARBAGE);
	switch_decide(t, 1, big, SWITCH_FRAME_MAX + 1, 0, &d);
	assert_int_equal(d.verdict, SWITCH_GARBAGE);
	/* Garbage teaches nothing. */
	assert_int_equal(t->count, 0);
	switch_decide(t, 1, big, SWITCH_FRAME_MIN, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	switch_decide(t, 1, big, SWITCH_FRAME_MAX, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	assert_int_equal(t->count, 1);
}

static void test_same_port_is_filtered(void **state)
{
	struct switch_table *t = *state;
	struct switch_decision d;

	/* a and b behind one port: nothing from a to b leaves it. */
	switch_table_learn(t, mac_b, 3, 0);
	switch_decide(t, 3, frame(mac_b, mac_a), 60, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FILTER);
	/* A frame to its own sender too. */
	switch_decide(t, 3, frame(mac_a, mac_a), 60, 0, &d);
	assert_int_equal(d.verdict, SWITCH_FILTER);
}

static void test_aging(void **state)
{
	struct switch_table *t = *state;
	struct switch_decision d;

	switch_table_learn(t, mac_a, 1, 1000);
	assert_int_equal(switch_table_lookup(t, mac_a, 1000 + AGE_MS - 1), 1);
	/* Refreshed by a frame: the age counts from it. */
	switch_table_learn(t, mac_a, 1, 1000 + AGE_MS - 1);
	assert_int_equal(switch_table_lookup(t, mac_a, 1000 + 2 * AGE_MS - 2), 1);
	/* Not refreshed for the age: unknown, and flooded to again. */
	assert_int_equal(switch_table_lookup(t, mac_a, 1000 + 2 * AGE_MS - 1), -1);
	assert_int_equal(t->count, 0);
	switch_decide(t, 2, frame(mac_a, mac_b), 60, 1000 + 2 * AGE_MS, &d);
	assert_int_equal(d.verdict, SWITCH_FLOOD);

	/* The sweep drops the aged and keeps the rest. */
	switch_table_learn(t, mac_a, 1, 5 * AGE_MS);
	assert_int_equal(switch_table_expire(t, 5 * AGE_MS + 1), 1); /* b, learned long ago */
	assert_int_equal(t->count, 1);
	assert_int_equal(switch_table_expire(t, 6 * AGE_MS), 1);
	assert_int_equal(t->count, 0);
}

static void test_move(void **state)
{
	struct switch_table *t = *state;
	struct switch_decision d;

	switch_table_learn(t, mac_b, 2, 0);
	switch_decide(t, 1, frame(bcast, mac_a), 60, 0, &d);
	/* a shows up on port 4 (a VM restored elsewhere): frames to a follow it. */
	switch_decide(t, 4, frame(mac_b, mac_a), 60, 10, &d);
	assert_int_equal(d.learned, SWITCH_LEARN_MOVED);
	assert_int_equal(t->moves, 1);
	assert_int_equal(t->count, 2);
	switch_decide(t, 2, frame(mac_a, mac_b), 60, 20, &d);
	assert_int_equal(d.verdict, SWITCH_UNICAST);
	assert_int_equal(d.port, 4);
}

static void test_port_removal(void **state)
{
	struct switch_table *t = *state;
	const struct switch_entry *e;
	unsigned int i, cursor = 0, seen = 0;
	uint8_t mac[6];

	for (i = 0; i < 10; i++) {
		station(i, mac);
		switch_table_learn(t, mac, i % 2 ? 7 : 8, 0);
	}
	assert_int_equal(switch_table_forget_port(t, 7), 5);
	assert_int_equal(switch_table_forget_port(t, 7), 0);
	assert_int_equal(t->count, 5);
	for (i = 0; i < 10; i++) {
		station(i, mac);
		assert_int_equal(switch_table_lookup(t, mac, 0), i % 2 ? -1 : 8);
	}
	while ((e = switch_table_next(t, &cursor))) {
		assert_int_equal(e->port, 8);
		seen++;
	}
	assert_int_equal(seen, 5);
	/* The freed entries are used again. */
	station(100, mac);
	assert_int_equal(switch_table_learn(t, mac, 7, 0), SWITCH_LEARN_NEW);
	assert_int_equal(switch_table_lookup(t, mac, 0), 7);
}

static void test_full_table(void **state)
{
	struct switch_table *t = *state;
	struct switch_decision d;
	uint8_t mac[6];
	unsigned int i;

	for (i = 0; i < SWITCH_TABLE_CAPACITY; i++) {
		station(i, mac);
		assert_int_equal(switch_table_learn(t, mac, i % 5, 1000 + i), SWITCH_LEARN_NEW);
	}
	assert_int_equal(t->count, SWITCH_TABLE_CAPACITY);
	/* Full of live entries: a new address is refused, the learned ones stay. */
	switch_decide(t, 1, frame(mac_b, mac_a), 60, 2000, &d);
	assert_int_equal(d.learned, SWITCH_LEARN_FULL);
	assert_int_equal(d.verdict, SWITCH_FLOOD);
	assert_int_equal(t->refused, 1);
	assert_int_equal(switch_table_lookup(t, mac_a, 2000), -1);
	for (i = 0; i < SWITCH_TABLE_CAPACITY; i++) {
		station(i, mac);
		assert_int_equal(switch_table_lookup(t, mac, 2000), i % 5);
	}
	/* Known ones still refresh and move. */
	station(0, mac);
	assert_int_equal(switch_table_learn(t, mac, 3, 2001), SWITCH_LEARN_MOVED);
	/* Once the oldest have aged, a new address takes their room. */
	assert_int_equal(switch_table_learn(t, mac_a, 1, 1000 + 10 + AGE_MS), SWITCH_LEARN_NEW);
	assert_int_equal(switch_table_lookup(t, mac_a, 1000 + 10 + AGE_MS), 1);
	assert_int_equal(t->count, SWITCH_TABLE_CAPACITY - 10 + 1);
	/* A closed port's entries make room too. */
	for (i = SWITCH_TABLE_CAPACITY; t->count < SWITCH_TABLE_CAPACITY; i++) {
		station(i, mac);
		switch_table_learn(t, mac, 9, 1000 + 10 + AGE_MS);
	}
	assert_int_equal(switch_table_learn(t, mac_b, 2, 1000 + 10 + AGE_MS), SWITCH_LEARN_FULL);
	switch_table_forget_port(t, 9);
	assert_int_equal(switch_table_learn(t, mac_b, 2, 1000 + 10 + AGE_MS), SWITCH_LEARN_NEW);
}

/* A stream of new addresses at a table full of live entries costs no sweep per frame. */
static void test_full_table_sweeps_are_bounded(void **state)
{
	struct switch_table *t = *state;
	uint8_t mac[6];
	unsigned int i;

	for (i = 0; i < SWITCH_TABLE_CAPACITY; i++) {
		station(i, mac);
		assert_int_equal(switch_table_learn(t, mac, 1, 1000 + i / 2), SWITCH_LEARN_NEW);
	}
	/* 10000 made-up sources over 10 s: nothing can age before 1000 + AGE_MS. */
	for (i = 0; i < 10000; i++) {
		station(SWITCH_TABLE_CAPACITY + i, mac);
		assert_int_equal(switch_table_learn(t, mac, 2, 2000 + i), SWITCH_LEARN_FULL);
	}
	assert_int_equal(t->sweeps, 1);
	assert_int_equal(t->refused, 10000);
	/* Once the oldest can have aged, a sweep makes room (two entries per ms age out). */
	station(1u << 20, mac);
	assert_int_equal(switch_table_learn(t, mac, 2, 1000 + AGE_MS), SWITCH_LEARN_NEW);
	assert_int_equal(t->sweeps, 2);
	station((1u << 20) + 1, mac);
	assert_int_equal(switch_table_learn(t, mac, 2, 1000 + AGE_MS), SWITCH_LEARN_NEW);
	/* Full again: the next sweep waits at least SWITCH_TABLE_RESWEEP_MS, even though an
	 * entry ages every half millisecond from here. */
	for (i = 0; i < SWITCH_TABLE_RESWEEP_MS; i++) {
		station((1u << 20) + 2 + i, mac);
		assert_int_equal(switch_table_learn(t, mac, 2, 1000 + AGE_MS + i), SWITCH_LEARN_FULL);
	}
	assert_int_equal(t->sweeps, 3);
	station(1u << 21, mac);
	assert_int_equal(switch_table_learn(t, mac, 2, 1000 + AGE_MS + SWITCH_TABLE_RESWEEP_MS),
			 SWITCH_LEARN_NEW);
	assert_int_equal(t->sweeps, 4);
	/* The stations learned first are still known while live. */
	station(SWITCH_TABLE_CAPACITY - 1, mac);
	assert_int_equal(switch_table_lookup(t, mac, 1000 + AGE_MS + SWITCH_TABLE_RESWEEP_MS), 1);
}

#define TABLE_TEST(f) cmocka_unit_test_setup_teardown(f, table_setup, table_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TABLE_TEST(test_learns_source_and_forwards_unicast),
	    TABLE_TEST(test_floods_broadcast_and_multicast),
	    TABLE_TEST(test_multicast_and_zero_sources_not_learned),
	    TABLE_TEST(test_garbage_lengths),
	    TABLE_TEST(test_same_port_is_filtered),
	    TABLE_TEST(test_aging),
	    TABLE_TEST(test_move),
	    TABLE_TEST(test_port_removal),
	    TABLE_TEST(test_full_table),
	    TABLE_TEST(test_full_table_sweeps_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
