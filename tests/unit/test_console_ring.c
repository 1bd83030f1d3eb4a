/* --console-sock's history: the last 64 KiB of output, and readers that fall behind. */
#include <stdio.h>

#include "machine/console_ring.h"
#include "unit.h"

/* Byte (i) of the test stream: not periodic in the ring's size, so a misplaced copy shows. */
static uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void write_stream(struct console_ring *r, uint64_t from, size_t len)
{
	uint8_t buf[3 * CONSOLE_RING_SIZE];
	size_t i;

	assert_true(len <= sizeof(buf));
	for (i = 0; i < len; i++)
		buf[i] = stream_byte(from + i);
	console_ring_write(r, buf, len);
}

/* Read everything from (*pos) on, as a viewer would; check it is the stream there. */
static size_t read_all(const struct console_ring *r, uint64_t *pos)
{
	const uint8_t *data;
	size_t n, i, total = 0;

	while ((n = console_ring_peek(r, *pos, &data))) {
		for (i = 0; i < n; i++)
			if (data[i] != stream_byte(*pos + i))
				fail_msg("byte at %llu is wrong", (unsigned long long)(*pos + i));
		*pos += n;
		total += n;
	}
	return total;
}

static struct console_ring *new_ring(void)
{
	struct console_ring *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void test_empty(void **state)
{
	struct console_ring *r = new_ring();
	const uint8_t *data = NULL;
	uint64_t pos = 0;

	(void)state;
	assert_int_equal(console_ring_oldest(r), 0);
	assert_int_equal(console_ring_catch_up(r, &pos), 0);
	assert_int_equal(console_ring_peek(r, 0, &data), 0);
	free(r);
}

/* Less than the ring: all of it, from the start; then a reader that is up to date. */
static void test_small(void **state)
{
	struct console_ring *r = new_ring();
	uint64_t pos = 0;

	(void)state;
	write_stream(r, 0, 100);
	write_stream(r, 100, 20);
	assert_int_equal(console_ring_oldest(r), 0);
	assert_int_equal(read_all(r, &pos), 120);
	assert_int_equal(pos, 120);
	assert_int_equal(read_all(r, &pos), 0);
	write_stream(r, 120, 5);
	assert_int_equal(read_all(r, &pos), 5);
	free(r);
}

/* Writes that wrap: a reader that keeps up sees every byte, in two runs across the end. */
static void test_wraps(void **state)
{
	struct console_ring *r = new_ring();
	uint64_t pos = 0, w = 0;
	int i;

	(void)state;
	for (i = 0; i < 40; i++) {
		size_t len = 1000 + i * 1601; /* up to just under the ring */

		write_stream(r, w, len);
		w += len;
		assert_int_equal(console_ring_catch_up(r, &pos), 0);
		assert_int_equal(read_all(r, &pos), len);
	}
	assert_int_equal(r->written, w);
	free(r);
}

/* More than the ring since a reader last read: it skips to the oldest byte kept. */
static void test_reader_falls_behind(void **state)
{
	struct console_ring *r = new_ring();
	uint64_t pos = 10, w;

	(void)state;
	write_stream(r, 0, 50000);
	write_stream(r, 50000, 50000);
	w = 100000;
	assert_int_equal(console_ring_oldest(r), w - CONSOLE_RING_SIZE);
	assert_int_equal(console_ring_catch_up(r, &pos), w - CONSOLE_RING_SIZE - 10);
	assert_int_equal(pos, w - CONSOLE_RING_SIZE);
	/* A position not caught up is never read from: those bytes are gone. */
	{
		const uint8_t *data;

		assert_int_equal(console_ring_peek(r, 10, &data), 0);
	}
	assert_int_equal(read_all(r, &pos), CONSOLE_RING_SIZE);
	/* A new viewer: the whole history, which is the last 64 KiB. */
	pos = console_ring_oldest(r);
	assert_int_equal(read_all(r, &pos), CONSOLE_RING_SIZE);
	free(r);
}

/* One write larger than the ring keeps its own tail. */
static void test_huge_write(void **state)
{
	struct console_ring *r = new_ring();
	uint64_t pos = 0;

	(void)state;
	write_stream(r, 0, 3);
	write_stream(r, 3, 2 * CONSOLE_RING_SIZE + 17);
	assert_int_equal(r->written, 2 * CONSOLE_RING_SIZE + 20);
	assert_int_equal(console_ring_catch_up(r, &pos), CONSOLE_RING_SIZE + 20);
	assert_int_equal(read_all(r, &pos), CONSOLE_RING_SIZE);
	/* Exactly the ring's size, at an offset that is not 0. */
	write_stream(r, r->written, CONSOLE_RING_SIZE);
	assert_int_equal(console_ring_catch_up(r, &pos), 0);
	assert_int_equal(read_all(r, &pos), CONSOLE_RING_SIZE);
	free(r);
}

/* A position beyond the newest byte (never handed out) is pulled back, not read past. */
static void test_position_beyond(void **state)
{
	struct console_ring *r = new_ring();
	uint64_t pos = 1000;

	(void)state;
	write_stream(r, 0, 10);
	assert_int_equal(console_ring_catch_up(r, &pos), 0);
	assert_int_equal(pos, 10);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_small),
	    cmocka_unit_test(test_wraps),
	    cmocka_unit_test(test_reader_falls_behind),
	    cmocka_unit_test(test_huge_write),
	    cmocka_unit_test(test_position_beyond),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
