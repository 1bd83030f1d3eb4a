/*
 * Snapshot sections for unit tests: a device's fields written as the machine writes them,
 * taken back out as the bare payload, and read back as the machine reads them (the kind's
 * restore hook, then snap_cursor_end), whole, cut short or with a bit flipped.
 */
#ifndef EMBER_TESTS_SNAP_RIG_H
#define EMBER_TESTS_SNAP_RIG_H

#include "unit.h"
#include "snapshot/stream.h"

#define SNAP_RIG_TAG SNAP_TAG('T', 'E', 'S', 'T')

/* A section's payload, on its own in the heap: a read past its end is the sanitizer's. */
struct snap_blob {
	uint8_t *data;
	size_t len;
};

/* Open a section in a new file (w). */
static inline void snap_rig_begin(struct snap_writer *w)
{
	snap_writer_init(w, 0, "unit");
	snap_begin(w, SNAP_RIG_TAG, 0);
}

/* Close the section of (w), check the whole file parses, and copy its payload into (b). */
static inline void snap_rig_end(struct snap_writer *w, struct snap_blob *b)
{
	const struct snap_section *s;
	struct snap_file *f = malloc(sizeof(*f));
	char why[256];

	assert_non_null(f);
	snap_end(w);
	assert_int_equal(snap_writer_finish(w), 0);
	assert_int_equal(snap_parse(f, w->buf, w->len, 0, why, sizeof(why)), 0);
	s = snap_find(f, SNAP_RIG_TAG, 0);
	assert_non_null(s);
	b->len = s->len;
	b->data = malloc(b->len ? b->len : 1);
	assert_non_null(b->data);
	memcpy(b->data, s->data, b->len);
	free(f);
	snap_writer_free(w);
}

static inline void snap_blob_free(struct snap_blob *b)
{
	free(b->data);
	b->data = NULL;
}

/* A restore hook: (ctx) says what to restore into (a device kind's hook, or a wrapper). */
typedef int (*snap_rig_restore_fn)(void *ctx, struct snap_cursor *c, char *why, size_t why_len);

/* Read (len) bytes of (data) through (fn) as the machine does. 0, or -errno with (why). */
static inline int snap_rig_load(snap_rig_restore_fn fn, void *ctx, const uint8_t *data,
				size_t len, char *why, size_t why_len)
{
	struct snap_section s = { SNAP_RIG_TAG, 0, data, (uint32_t)len };
	struct snap_cursor c;
	int ret;

	*why = '\0';
	snap_cursor_init(&c, &s);
	ret = fn(ctx, &c, why, why_len);
	if (!ret)
		ret = snap_cursor_end(&c, why, why_len);
	return ret;
}

/* (b) whole is accepted by (fn). */
static inline void snap_rig_load_ok(snap_rig_restore_fn fn, void *ctx, const struct snap_blob *b)
{
	char why[256];
	int ret = snap_rig_load(fn, ctx, b->data, b->len, why, sizeof(why));

	if (ret)
		fail_msg("a good section was refused: %s", why);
}

/*
 * (b) with the byte at (off) replaced by (v) is refused by (fn), with a reason that names
 * (what) if it is not NULL.
 */
static inline void snap_rig_refused(snap_rig_restore_fn fn, void *ctx, const struct snap_blob *b,
				    size_t off, uint8_t v, const char *what)
{
	uint8_t *copy = malloc(b->len);
	char why[256];
	int ret;

	assert_non_null(copy);
	assert_true(off < b->len);
	memcpy(copy, b->data, b->len);
	copy[off] = v;
	ret = snap_rig_load(fn, ctx, copy, b->len, why, sizeof(why));
	free(copy);
	if (!ret)
		fail_msg("byte %zu = 0x%02x was accepted", off, v);
	assert_true(*why);
	if (what && !strstr(why, what))
		fail_msg("byte %zu = 0x%02x: '%s' does not say '%s'", off, v, why, what);
}

/*
 * Every proper prefix of (b) is refused with a reason, and so is (b) with a byte too many;
 * every single-bit flip is either refused with a reason or accepted, never a crash (the
 * sanitizers watch) — a flipped data byte or counter is still a valid state: the file's
 * CRC is what catches those. Returns how many flips were refused.
 */
static inline unsigned int snap_rig_abuse(snap_rig_restore_fn fn, void *ctx,
					  const struct snap_blob *b)
{
	unsigned int refused = 0;
	char why[256];
	size_t n, bit;

	for (n = 0; n < b->len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		assert_non_null(cut);
		memcpy(cut, b->data, n);
		if (!snap_rig_load(fn, ctx, cut, n, why, sizeof(why)))
			fail_msg("a section cut to %zu of %zu bytes was accepted", n, b->len);
		assert_true(*why);
		free(cut);
	}
	{
		uint8_t *more = calloc(1, b->len + 1);

		assert_non_null(more);
		memcpy(more, b->data, b->len);
		if (!snap_rig_load(fn, ctx, more, b->len + 1, why, sizeof(why)))
			fail_msg("a section with a byte left over was accepted");
		free(more);
	}
	for (bit = 0; bit < b->len * 8; bit++) {
		uint8_t *flip = malloc(b->len);
		int ret;

		assert_non_null(flip);
		memcpy(flip, b->data, b->len);
		flip[bit / 8] ^= 1u << (bit % 8);
		*why = '\0';
		ret = snap_rig_load(fn, ctx, flip, b->len, why, sizeof(why));
		if (ret) {
			assert_true(*why);
			refused++;
		}
		free(flip);
	}
	return refused;
}

#endif
