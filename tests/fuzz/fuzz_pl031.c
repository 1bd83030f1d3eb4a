/*
 * libFuzzer target: the PL031 real-time clock (devices/pl031.c) as a vCPU reaches it. The
 * fuzzer's bytes are a script of operations, each an op byte (the kind in its low three
 * bits) and its arguments:
 *   0-2 a read, 3-5 a write: width 4, or 1, 2 or 8 by the op's top three bits; an address
 *       byte (below 0x80 one of the eight registers, below 0xc0 an identification word,
 *       either moved off its word by up to three bytes when bit 5 is set; below 0xe0 any
 *       offset in the window, from two more bytes; from 0xe0 around the window's edges),
 *       and a write's value. Accesses go through a bus as vcpu.c makes them, so one off or
 *       across the window's edge is unclaimed;
 *   6 a snapshot: the clock saved and restored into a new one that takes its place;
 *   7 a new clock restored from the script's next bytes, kept if accepted.
 *
 * The counter follows the host's wall clock, which the harness does not control: a reading
 * of it is checked against the host's time just before and just after the access (a clock
 * step in between only widens that bracket), so no check waits on time passing. Checked
 * against a model the harness keeps: every register reads back as the model says, through
 * narrow and unaligned reads too (the low bytes of the word, zero above the fourth), the
 * counter as the host's time plus what the guest loaded; only aligned 32-bit writes take
 * effect; the match interrupt stays a register (nothing raises it, the clear clears it);
 * a restore accepts exactly the sections a clock could have saved; unclaimed reads are
 * all-ones.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/pl031.h"
#include "snapshot/stream.h"
#include "util/util.h"
#include "vmm/bus.h"
#include "builder_input.h"

#define BASE	    0x09010000ULL
#define MAX_OPS	    4096
#define SECTION_HDR 12 /* tag, instance, length (stream.h) */
#define SECTION_TAG SNAP_TAG('F', 'U', 'Z', 'Z')
#define SECTION_LEN 20
#define MAX_OFFSET  (1LL << 40) /* pl031.c's bound on a restored offset */
#define MAX_STEP    4		/* seconds an access may seem to take; past it, no check */

/* The registers, as pl031.c names them without its RTC_ prefix. */
enum {
	DR = 0x00,
	MR = 0x04,
	LR = 0x08,
	CR = 0x0c,
	IMSC = 0x10,
	RIS = 0x14,
	MIS = 0x18,
	ICR = 0x1c,
};

/* PeriphID0-3, PCellID0-3 (ARM DDI 0224): what Linux's AMBA bus matches. */
static const uint8_t ids[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct rig {
	struct bus bus;
	struct logger log;
	struct pl031 *rtc;
	struct pl031 m; /* the model: the registers as the harness expects them */
};

static struct pl031 *rtc_new(struct rig *r)
{
	struct pl031 *rtc = pl031_create(&r->log);

	if (!rtc)
		abort();
	return rtc;
}

/* The register word at (reg) at host time (t). */
static uint32_t model_reg(const struct pl031 *m, uint64_t reg, int64_t t)
{
	switch (reg) {
	case DR:
	case LR:
		return (uint32_t)(t + m->offset);
	case MR:
		return m->match;
	case CR:
		return 1; /* started, and never stops */
	case IMSC:
		return m->irq_mask;
	case RIS:
		return m->irq_raw;
	case MIS:
		return m->irq_raw & m->irq_mask;
	default:
		return reg >= 0xfe0 && reg < 0x1000 ? ids[(reg - 0xfe0) / 4] : 0;
	}
}

/* What a (len)-byte read at (off) inside the window gets at host time (t). */
static uint64_t model_read(const struct pl031 *m, uint64_t off, unsigned int len, int64_t t)
{
	uint32_t v;

	/* A narrow read gets the low bytes of its word; a wide unaligned one, nothing. */
	if (off % 4 && len >= 4)
		return 0;
	v = model_reg(m, off & ~3ULL, t) >> (8 * (off & 3));
	return len < 4 ? v & ((1u << (8 * len)) - 1) : v;
}

static void model_write(struct rig *r, uint64_t off, unsigned int len, uint32_t v,
			int64_t t0, int64_t t1)
{
	struct pl031 *m = &r->m;
	int64_t loaded;

	if (len != 4 || off % 4)
		return;
	switch (off) {
	case MR:
		m->match = v;
		break;
	case LR:
		/* The count reads (v) at the instant of the write. */
		loaded = (int64_t)v - r->rtc->offset;
		if (t1 - t0 <= MAX_STEP && (loaded < t0 || loaded > t1))
			abort();
		m->offset = r->rtc->offset;
		break;
	case IMSC:
		m->irq_mask = v & 1;
		break;
	case ICR:
		m->irq_raw &= ~v;
		break;
	default:
		break;
	}
}

static void guest_access(struct rig *r, int64_t off, unsigned int len, uint64_t v,
			 bool is_write)
{
	bool inside = off >= 0 && off + len <= PL031_SPAN;
	int64_t t0, t1, t;
	uint64_t got = 0;
	uint8_t data[8];

	memset(data, 0xa5, sizeof(data));
	if (is_write)
		memcpy(data, &v, len);
	t0 = time(NULL);
	if (bus_access(&r->bus, BASE + off, data, len, is_write) != inside)
		abort();
	t1 = time(NULL);
	if (t1 < t0) {
		t = t0; /* stepped back: the access happened within [t1, t0] */
		t0 = t1;
		t1 = t;
	}
	if (is_write) {
		if (inside)
			model_write(r, off, len, (uint32_t)v, t0, t1);
		return;
	}
	memcpy(&got, data, len);
	if (!inside) {
		if (got != ~0ULL >> (64 - 8 * len))
			abort();
		return;
	}
	if (t1 - t0 > MAX_STEP)
		return;
	for (t = t0; t <= t1; t++)
		if (got == model_read(&r->m, off, len, t))
			return;
	abort();
}

/* A window offset from the script, as the head comment says. */
static int64_t pick_offset(struct bin *s)
{
	uint8_t a = bin_u8(s);
	int64_t off;

	if (a < 0xc0)
		return (a < 0x80 ? 0 : 0xfe0) + 4 * (a & 7) + ((a & 0x20) ? (a >> 3) & 3 : 0);
	if (a >= 0xe0)
		return (a & 0x10) ? PL031_SPAN - 8 + (a & 15) : -1 - (a & 15);
	off = bin_u8(s);
	return (off | bin_u8(s) << 8) % PL031_SPAN;
}

static void access_op(struct rig *r, struct bin *s, uint8_t op, bool is_write)
{
	static const unsigned int widths[8] = { 4, 4, 4, 4, 4, 1, 2, 8 };
	unsigned int i, len = widths[op >> 5];
	int64_t off = pick_offset(s);
	uint64_t v = 0;

	for (i = 0; is_write && i < len; i++)
		v |= (uint64_t)bin_u8(s) << (8 * i);
	guest_access(r, off, len, v, is_write);
}

/* Does a new clock take (p, n) as its section? As pl031_restore and the machine decide. */
static bool section_valid(const uint8_t *p, size_t n)
{
	int64_t offset;

	if (n != SECTION_LEN)
		return false;
	offset = (int64_t)get_le64(p);
	return offset >= -MAX_OFFSET && offset <= MAX_OFFSET &&
	       !((get_le32(p + 12) | get_le32(p + 16)) & ~1u);
}

/* Restore (p, n) into a new clock as the machine does; it takes over if accepted. */
static int restore(struct rig *r, const uint8_t *p, size_t n)
{
	struct snap_section sec = { SECTION_TAG, 0, p, (uint32_t)n };
	struct pl031 *fresh = rtc_new(r);
	struct snap_cursor c;
	char why[256];
	int ret;

	snap_cursor_init(&c, &sec);
	ret = pl031_restore(fresh, &c, why, sizeof(why));
	/* Refused: untouched. */
	if (ret && (fresh->offset || fresh->match || fresh->irq_mask || fresh->irq_raw))
		abort();
	if (!ret)
		ret = snap_cursor_end(&c, why, sizeof(why));
	if (ret) {
		pl031_destroy(fresh);
		return ret;
	}
	/* The one bus range now leads to the new clock. */
	r->bus.ranges[0].opaque = fresh;
	pl031_destroy(r->rtc);
	r->rtc = fresh;
	return 0;
}

static void snapshot(struct rig *r)
{
	struct snap_writer w;

	snap_writer_init(&w, 0, "fuzz");
	snap_begin(&w, SECTION_TAG, 0);
	pl031_save(r->rtc, &w);
	snap_end(&w);
	if (w.err || restore(r, w.buf + SNAP_HEADER_SIZE + SECTION_HDR,
			     w.len - SNAP_HEADER_SIZE - SECTION_HDR))
		abort();
	snap_writer_free(&w);
}

static void restore_bytes(struct rig *r, struct bin *s)
{
	size_t n = bin_u8(s) % (SECTION_LEN + 8);
	struct pl031 *m = &r->m;
	bool valid;
	uint8_t *p;

	p = bin_take(s, &n);
	valid = section_valid(p, n);
	if (valid != !restore(r, p, n))
		abort();
	if (valid) {
		m->offset = (int64_t)get_le64(p);
		m->match = get_le32(p + 8);
		m->irq_mask = get_le32(p + 12);
		m->irq_raw = get_le32(p + 16);
	}
	free(p);
}

static void run(struct rig *r, struct bin *s)
{
	const struct pl031 *m = &r->m;
	unsigned int ops;

	for (ops = 0; s->n && ops < MAX_OPS; ops++) {
		uint8_t op = bin_u8(s);

		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			access_op(r, s, op, false);
			break;
		case 3:
		case 4:
		case 5:
			access_op(r, s, op, true);
			break;
		case 6:
			snapshot(r);
			break;
		default:
			restore_bytes(r, s);
			break;
		}
		if (r->rtc->offset != m->offset || r->rtc->match != m->match ||
		    r->rtc->irq_mask != m->irq_mask || r->rtc->irq_raw != m->irq_raw)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct rig *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	logger_init(&r->log);
	log_set_level(&r->log, LOG_ERROR); /* the fuzzer makes the clock complain */
	r->rtc = rtc_new(r);
	bus_init(&r->bus, "mmio");
	if (bus_register(&r->bus, BASE, PL031_SPAN, &pl031_ops, r->rtc, "pl031"))
		abort();
	run(r, &s);
	pl031_destroy(r->rtc);
	bus_destroy(&r->bus);
	logger_destroy(&r->log);
	free(r);
	return 0;
}
