/*
 * libFuzzer target: ember's ACPI table and AML writer (src/util/acpi.c) fed random calls
 * inside one table. The first byte holds flags (bit 0: a table signature and id of the
 * fuzzer's rather than "DSDT"; bits 2-3: the writer's cap: 4 MiB, a random 16-bit one,
 * just past the header, a random one up to 4 MiB); then each call is a byte and its
 * arguments: Scope, Device, the end of either, Name with an integer, a string (a long
 * one too, for 2-, 3- and 4-byte PkgLengths), an EISA id or a package, a resource
 * template, its IO, IRQNoFlags, Memory32Fixed and Interrupt descriptors and its end. Names,
 * strings, ids and values are anything; the harness only nests as the writer's callers do
 * (descriptors inside a template, nothing else there) and closes what is open at the end.
 *
 * A model of the writer predicts its error exactly, the first one sticking: -EINVAL for a
 * bad name, a non-ASCII string, a bad EISA id or IRQ, a signature not of 4 characters, an
 * end with nothing open; -E2BIG for a package nine deep or of over 255 elements, and for
 * the byte that would pass the cap. A table without an error must have its length and a
 * checksum of 0 and its AML (aml_walk.h: shortest PkgLengths, sizes that agree) must walk
 * back to exactly the calls made.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/acpi.h"
#include "builder_input.h"
#include "aml_walk.h"

#define WRITER_MAX (4u << 20)
#define MAX_NEST   64

static const char *const names[] = {
    "_SB_", "\\_SB_", "COM1", "_HID", "_UID",	 "_CRS", "V000", "\\_S5_", "PS2K",  "_STA",
    "A1B2", "_1AB",   "1ABC", "ab_c", "\\\\ABC", "\\",	 "",	 "_SB",	   "_SB__",
};

/* What the writer must do with the calls so far (it stops at the first error). */
static struct {
	int err;
	size_t len, max;
	size_t open[ACPI_MAX_DEPTH];
	unsigned int depth;
} m;

static struct alog got, want;
static char big[65536];

static NOCOV void m_fail(int err)
{
	if (!m.err)
		m.err = err;
}

static NOCOV void m_grow(size_t n)
{
	if (m.err)
		return;
	if (n > m.max - m.len)
		m_fail(-E2BIG);
	else
		m.len += n;
}

static NOCOV void m_name(const char *name)
{
	size_t i;

	if (m.err)
		return;
	if (name[0] == '\\') {
		m_grow(1);
		name++;
	}
	if (strlen(name) != 4) {
		m_fail(-EINVAL);
		return;
	}
	for (i = 0; i < 4; i++)
		if (!(name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (i && name[i] >= '0' && name[i] <= '9'))) {
			m_fail(-EINVAL);
			return;
		}
	m_grow(4);
}

static NOCOV void m_pkg_open(void)
{
	if (m.err)
		return;
	if (m.depth == ACPI_MAX_DEPTH) {
		m_fail(-E2BIG);
		return;
	}
	m.open[m.depth++] = m.len;
	m_grow(4);
}

/* A PkgLength counts its own 1 to 4 bytes: the fewest whose range holds body + them. */
static NOCOV void m_pkg_close(void)
{
	static const size_t limit[4] = {63, 4095, (1u << 20) - 1, (1u << 28) - 1};
	size_t body, k;

	if (m.err)
		return;
	if (!m.depth) {
		m_fail(-EINVAL);
		return;
	}
	body = m.len - m.open[--m.depth] - 4;
	for (k = 1; k <= 4 && body + k > limit[k - 1]; k++)
		;
	if (k > 4)
		m_fail(-E2BIG);
	else
		m.len -= 4 - k;
}

static NOCOV void m_int(uint64_t v)
{
	uint8_t op = aml_int_op(v);

	m_grow(1 + (op == 0x0a ? 1 : op == 0x0b ? 2 : op == 0x0c ? 4 : op == 0x0e ? 8 : 0));
}

/* A name: one of the words above (some of them wrong), or up to 6 bytes of the fuzzer's. */
static NOCOV void pick_name(struct bin *b, char *out)
{
	uint8_t c = bin_u8(b);

	if (c < 0xe0)
		strcpy(out, names[c % (sizeof(names) / sizeof(names[0]))]);
	else
		bin_string(b, out, 6);
}

/* An EISA id: a well-formed one from the bytes, or the fuzzer's string; 0 if it is bad. */
static NOCOV bool pick_eisaid(struct bin *b, char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	if (bin_u8(b) & 1) {
		bin_string(b, id, 9);
	} else {
		for (i = 0; i < 3; i++)
			id[i] = 'A' + bin_u8(b) % 26;
		for (i = 3; i < 7; i++)
			id[i] = hex[bin_u8(b) % 16];
		id[7] = '\0';
	}
	if (strlen(id) != 7)
		return false;
	for (i = 0; i < 7; i++)
		if (i < 3 ? id[i] < 'A' || id[i] > 'Z' : !strchr(hex, id[i]) || !id[i])
			return false;
	return true;
}

static NOCOV bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7f)
			return false;
	return true;
}

/*
 * One call, on the writer and the model; (stack, *n) is what the harness has open. The
 * harness is not instrumented: libFuzzer steers by the writer's code alone.
 */
static NOCOV void step(struct bin *b, struct acpi_writer *w, uint8_t *stack, unsigned int *n)
{
	uint8_t top = *n ? stack[*n - 1] : 0, op = bin_u8(b) % 14;
	static uint64_t vals[270];
	char name[8], str[256], id[10];
	uint64_t v;
	size_t len, i;

	/*
	 * Descriptors and the template's end only in a template, nothing else there; but a
	 * template's end with nothing open, which the writer must refuse.
	 */
	if ((op >= 9 && op <= 13) != (top == 'B') && !(op == 13 && !top))
		return;
	if ((op == 0 || op == 1 || op == 8) && *n == MAX_NEST)
		return;
	switch (op) {
	case 0:
	case 1:
		pick_name(b, name);
		if (op == 0) {
			aml_scope_begin(w, name);
			m_grow(1);
		} else {
			aml_device_begin(w, name);
			m_grow(2);
		}
		m_pkg_open();
		m_name(name);
		stack[(*n)++] = op ? 'D' : 'S';
		alog_open(&want, op ? 'D' : 'S', name);
		break;
	case 2:
		aml_end(w);
		m_pkg_close();
		if (*n)
			(*n)--;
		alog_u8(&want, 'E');
		break;
	case 3:
		pick_name(b, name);
		v = bin_u64(b) >> (bin_u8(b) % 64);
		aml_name_int(w, name, v);
		m_grow(1);
		m_name(name);
		m_int(v);
		alog_named_int(&want, name, aml_int_op(v), v);
		break;
	case 4:
	case 5:
		pick_name(b, name);
		if (op == 4) {
			len = bin_string(b, str, 255);
		} else {
			/* Up to 256 bytes, or 64 KiB now and then: every byte costs time. */
			uint8_t c = bin_u8(b), shape = bin_u8(b);

			len = bin_u16(b) % (shape == 0xff ? sizeof(big) : 256);
			memset(big, c ? c : 'A', len);
			big[len] = '\0';
		}
		aml_name_string(w, name, op == 4 ? str : big);
		if (!ascii(op == 4 ? str : big))
			m_fail(-EINVAL);
		m_grow(1);
		m_name(name);
		m_grow(1 + len + 1);
		alog_string(&want, name, op == 4 ? str : big, len);
		break;
	case 6: {
		bool ok;

		pick_name(b, name);
		ok = pick_eisaid(b, id);
		aml_name_eisaid(w, name, id);
		if (!ok)
			m_fail(-EINVAL);
		m_grow(1);
		m_name(name);
		m_grow(1 + 4);
		if (ok)
			alog_named_int(&want, name, 0x0c, aml_eisa_value(id));
		break;
	}
	case 7:
		pick_name(b, name);
		len = bin_u16(b) % 270;
		for (i = 0; i < len; i++)
			vals[i] = b->n ? bin_u64(b) >> (bin_u8(b) % 64) : i;
		aml_name_package(w, name, vals, len);
		if (len > 255)
			m_fail(-E2BIG);
		m_grow(1);
		m_name(name);
		m_grow(1);
		m_pkg_open();
		m_grow(1);
		alog_u8(&want, 'P');
		alog_name(&want, name);
		alog_u8(&want, len);
		for (i = 0; i < len && i < 256; i++) {
			m_int(vals[i]);
			alog_int(&want, aml_int_op(vals[i]), vals[i]);
		}
		m_pkg_close();
		break;
	case 8:
		pick_name(b, name);
		aml_name_resources_begin(w, name);
		m_grow(1);
		m_name(name);
		m_grow(1);
		m_pkg_open();
		m_grow(1 + 4);
		stack[(*n)++] = 'B';
		alog_open(&want, 'B', name);
		break;
	case 9: {
		uint16_t port = bin_u16(b);
		uint8_t n8 = bin_u8(b);

		aml_res_io(w, port, n8);
		m_grow(8);
		alog_io(&want, port, n8);
		break;
	}
	case 10:
		i = bin_u8(b) % 20;
		aml_res_irq_noflags(w, i);
		if (i >= 16)
			m_fail(-EINVAL);
		m_grow(3);
		if (i < 16)
			alog_irq(&want, i);
		break;
	case 11: {
		bool rw = bin_u8(b) & 1;
		uint32_t base = bin_u32(b), size = bin_u32(b);

		aml_res_mem32_fixed(w, rw, base, size);
		m_grow(12);
		alog_mem32(&want, rw, base, size);
		break;
	}
	case 12:
		v = bin_u8(b);
		i = bin_u32(b);
		aml_res_interrupt(w, v & 1, v & 2, i);
		m_grow(9);
		alog_interrupt(&want, v & 1, v & 2, i);
		break;
	case 13:
		aml_resources_end(w);
		m_grow(2);
		if (!m.depth)
			m_fail(-EINVAL);
		m_pkg_close();
		if (*n)
			(*n)--;
		alog_end_tag(&want);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin b = {data, size};
	uint8_t flags = bin_u8(&b), stack[MAX_NEST], rev = bin_u8(&b);
	char sig[8] = "DSDT", table_id[12] = "EMBERVM", why[200], padded[8];
	struct acpi_writer w;
	unsigned int n = 0;
	size_t t;

	memset(&m, 0, sizeof(m));
	want.len = 0;
	want.over = false;
	m.max = WRITER_MAX;
	if (flags & 1) {
		bin_string(&b, sig, 5);
		bin_string(&b, table_id, 10);
	}
	if (((flags >> 2) & 3) == 1)
		m.max = bin_u16(&b);
	else if (((flags >> 2) & 3) == 2)
		m.max = ACPI_HEADER_LEN + bin_u16(&b) % 1024;
	else if (((flags >> 2) & 3) == 3)
		m.max = bin_u32(&b) % WRITER_MAX;

	acpiw_init(&w, m.max);
	t = acpiw_table_begin(&w, sig, rev, table_id);
	if (strlen(sig) != 4)
		m_fail(-EINVAL);
	m_grow(ACPI_HEADER_LEN);
	while (b.n)
		step(&b, &w, stack, &n);
	while (n) {
		if (stack[--n] == 'B') {
			aml_resources_end(&w);
			m_grow(2);
			alog_end_tag(&want);
		} else {
			aml_end(&w);
			alog_u8(&want, 'E');
		}
		m_pkg_close();
	}
	acpiw_table_end(&w, t);

	if (w.error != m.err)
		BUG("writer error %d, want %d", w.error, m.err);
	if (!m.err) {
		if (t != 0 || w.len != m.len)
			BUG("%zu bytes written, want %zu", w.len, m.len);
		acpi_want_header(w.data, sig, w.len);
		memset(padded, ' ', 8);
		memcpy(padded, table_id, strnlen(table_id, 8));
		if (w.data[8] != rev || memcmp(w.data + 16, padded, 8))
			BUG("revision %u or table id \"%.8s\" not as asked", w.data[8],
			    w.data + 16);
		if (aml_walk(w.data + ACPI_HEADER_LEN, w.len - ACPI_HEADER_LEN, &got, why,
			     sizeof(why)))
			BUG("AML: %s", why);
		if (!got.over && !want.over &&
		    (got.len != want.len || memcmp(got.buf, want.buf, got.len)))
			BUG("the AML says other than the calls made (%zu/%zu log bytes)", got.len,
			    want.len);
	}
	acpiw_free(&w);
	return 0;
}
