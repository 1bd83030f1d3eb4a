/* The snapshot state file: written, read back, and every damaged copy refused. */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "snapshot/stream.h"

#define TAG_A SNAP_TAG('A', 'A', 'A', 'A')
#define TAG_B SNAP_TAG('B', 'B', 'B', 'B')
#define ARCH  62

/* A small valid file: two sections with a field of every kind. */
static void build(struct snap_writer *w)
{
	static const uint8_t raw[5] = {1, 2, 3, 4, 5};

	snap_writer_init(w, ARCH, "9.9.9");
	snap_begin(w, TAG_A, 0);
	snap_put_u8(w, 0x12);
	snap_put_u16(w, 0x3456);
	snap_put_u32(w, 0x789abcde);
	snap_put_u64(w, 0x0123456789abcdefULL);
	snap_end(w);
	snap_begin(w, TAG_B, 7);
	snap_put_bytes(w, raw, sizeof(raw));
	snap_put_blob(w, "blob", 4);
	snap_put_str(w, "text");
	snap_end(w);
	assert_int_equal(snap_writer_finish(w), 0);
}

static void test_round_trip(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	struct snap_cursor c;
	uint8_t raw[5];
	char why[256], str[8];
	const char *blob;
	uint32_t len;

	(void)state;
	build(&w);
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), 0);
	assert_int_equal(f.nr_sections, 2);
	assert_string_equal(f.ember_version, "9.9.9");
	assert_int_equal(snap_count(&f, TAG_A), 1);
	assert_null(snap_find(&f, TAG_A, 1));
	snap_cursor_init(&c, snap_find(&f, TAG_A, 0));
	assert_int_equal(snap_get_u8(&c), 0x12);
	assert_int_equal(snap_get_u16(&c), 0x3456);
	assert_int_equal(snap_get_u32(&c), 0x789abcde);
	assert_true(snap_get_u64(&c) == 0x0123456789abcdefULL);
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), 0);
	snap_cursor_init(&c, snap_find(&f, TAG_B, 7));
	snap_get_bytes(&c, raw, sizeof(raw));
	assert_int_equal(raw[4], 5);
	blob = snap_get_blob(&c, 4, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(blob, "blob", 4);
	snap_get_str(&c, str, sizeof(str));
	assert_string_equal(str, "text");
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), 0);
	snap_writer_free(&w);
}

/* Every prefix of a valid file, and every single-bit change of it, is refused. */
static void test_every_truncation_and_bit_flip(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	char why[256];
	size_t n, bit;
	uint8_t *copy;

	(void)state;
	build(&w);
	for (n = 0; n < w.len; n++) {
		*why = '\0';
		assert_int_equal(snap_parse(&f, w.buf, n, ARCH, why, sizeof(why)), -EINVAL);
		assert_true(n < 8 ? strstr(why, "not an ember snapshot") != NULL
				  : strstr(why, "truncated") != NULL);
	}
	copy = malloc(w.len);
	for (bit = 0; bit < w.len * 8; bit++) {
		memcpy(copy, w.buf, w.len);
		copy[bit / 8] ^= 1u << (bit % 8);
		*why = '\0';
		assert_int_equal(snap_parse(&f, copy, w.len, ARCH, why, sizeof(why)), -EINVAL);
		assert_true(strstr(why, "corrupted") || strstr(why, "truncated") ||
			    strstr(why, "bad length") || strstr(why, "not an ember snapshot"));
	}
	free(copy);
	snap_writer_free(&w);
}

/* (buf) with field (off) set to (v) and the CRC made right again, as a forger would. */
static void forge32(uint8_t *buf, size_t len, size_t off, uint32_t v)
{
	put_le32(buf + off, v);
	put_le64(buf + len - 8, lzma_crc64(buf, len - 8, 0));
}

static void test_version_arch_and_table(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	char why[256];

	(void)state;
	build(&w);
	assert_int_equal(snap_parse(&f, w.buf, w.len, 183, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "made for x86_64; this ember runs aarch64 guests"));
	forge32(w.buf, w.len, 8, SNAP_FORMAT_VERSION + 1);
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "format version 3"));
	forge32(w.buf, w.len, 8, 1); /* before the ACPI sleep registers */
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "format version 1"));
	forge32(w.buf, w.len, 8, SNAP_FORMAT_VERSION);
	forge32(w.buf, w.len, 40, 3); /* one section more than there is */
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad section table"));
	forge32(w.buf, w.len, 40, 1000);
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "at most"));
	forge32(w.buf, w.len, 40, 1); /* bytes after the last section */
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "after the last section"));
	forge32(w.buf, w.len, 40, 2);
	forge32(w.buf, w.len, SNAP_HEADER_SIZE + 8, 0xfffffff0); /* section A's length */
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "runs past the end"));
	snap_writer_free(&w);
}

static void test_duplicate_section(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	char why[256];

	(void)state;
	snap_writer_init(&w, ARCH, "1");
	snap_begin(&w, TAG_A, 1);
	snap_end(&w);
	snap_begin(&w, TAG_A, 1);
	snap_end(&w);
	assert_int_equal(snap_writer_finish(&w), 0);
	assert_int_equal(snap_parse(&f, w.buf, w.len, ARCH, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "section AAAA 1 twice"));
	snap_writer_free(&w);
}

static void test_cursor_refusals(void **state)
{
	struct snap_section s = { TAG_B, 3, (const uint8_t *)"\x03\x00\x00\x00xyz!", 8 };
	struct snap_cursor c;
	char why[256], str[4];
	uint32_t len;

	(void)state;
	snap_cursor_init(&c, &s); /* a blob longer than its bound */
	assert_null(snap_get_blob(&c, 2, &len));
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "section BBBB 3: truncated");
	snap_cursor_init(&c, &s); /* left over */
	snap_get_str(&c, str, sizeof(str));
	assert_string_equal(str, "xyz");
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "section BBBB 3: 1 bytes left over");
	snap_cursor_init(&c, &s); /* past the end: zeros, and said once */
	assert_int_equal(snap_get_u64(&c), 0x217a797800000003ULL);
	assert_int_equal(snap_get_u32(&c), 0);
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "section BBBB 3: truncated");
	snap_cursor_init(&c, &s); /* a value the reader refuses */
	snap_get_u32(&c);
	snap_cursor_fail(&c, "widget count");
	snap_cursor_fail(&c, "later");
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "section BBBB 3: bad widget count");
	snap_cursor_init(&c, NULL);
	assert_int_equal(snap_get_u8(&c), 0);
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
}

static void test_writer_misuse(void **state)
{
	struct snap_writer w;

	(void)state;
	snap_writer_init(&w, ARCH, "1");
	snap_put_u8(&w, 1); /* outside a section */
	assert_int_equal(snap_writer_finish(&w), -EINVAL);
	snap_writer_free(&w);
	snap_writer_init(&w, ARCH, "1");
	snap_begin(&w, TAG_A, 0); /* left open */
	assert_int_equal(snap_writer_finish(&w), -EINVAL);
	snap_writer_free(&w);
}

static void test_write_file_is_atomic(void **state)
{
	char dir[] = "/tmp/ember-snap-XXXXXX", path[64], why[256];
	struct snap_writer w;
	struct stat st;
	void *buf;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	build(&w);
	assert_int_equal(snap_write_file(path, w.buf, w.len, why, sizeof(why)), 0);
	assert_int_equal(snap_read_file(path, &buf, &len, why, sizeof(why)), 0);
	assert_int_equal(len, w.len);
	assert_memory_equal(buf, w.buf, len);
	free(buf);
	/* Only the file itself: no temporary left beside it. */
	snprintf(path, sizeof(path), "rmdir %s 2>/dev/null", dir);
	assert_int_not_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/no/such/dir/state", dir);
	assert_int_not_equal(snap_write_file(path, w.buf, w.len, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "cannot create"));
	assert_int_not_equal(snap_read_file(path, &buf, &len, why, sizeof(why)), 0);
	assert_int_equal(snap_read_file(dir, &buf, &len, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	snprintf(path, sizeof(path), "%s/state", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(stat(dir, &st), -1);
	snap_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation_and_bit_flip),
		cmocka_unit_test(test_version_arch_and_table),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_cursor_refusals),
		cmocka_unit_test(test_writer_misuse),
		cmocka_unit_test(test_write_file_is_atomic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
