/*
 * libFuzzer target: the RISC-V PLIC (devices/plic.c) between harts that claim and complete
 * through MMIO and devices that drive its sources. The first byte picks the number of
 * contexts (1 to 4 mostly, up to 32 with its top bit); the rest is a script of operations,
 * each an op byte (the kind in its low three bits) and its arguments:
 *   0-1 a read, 2-3 a write: width 4, or 1, 2 or 8 by the op's top three bits, offset by one
 *       or two bytes when bits 3 and 4 are both set; a region byte and the register's
 *       indices (a source's priority, a pending word, a context's enable word, threshold or
 *       claim/complete, anywhere in the window, or around its edges); a write's value;
 *   4 a device drives a source (a byte; from 0xf0 an invalid one) to the level of bit 3;
 *   5 a device sends an edge on a source;
 *   6 a hart claims (a context byte) and completes what it got, in the same context or
 *       (bit 3) in another one (a second byte);
 *   7 a snapshot: the PLIC saved and restored into a new one that takes its place, or (an
 *       odd argument byte) a new one restored from the script's next bytes, kept if accepted.
 * Accesses go through a bus as vcpu.c makes them, so one off the window is unclaimed.
 *
 * Checked against a model of the gateways and contexts the harness keeps from what it did:
 * a claim returns 0 or the enabled pending source of highest priority above the context's
 * threshold (ties to the lowest id), and that source pends again only once its completion
 * finds the level still high or an edge waiting; every register reads back as the model
 * says, and accesses it has no register for read zero and change nothing; every context's
 * line is high exactly while it has a source to claim, and is driven only when that changes,
 * except a restore which drives each line once; a restore accepts exactly the sections a
 * PLIC with as many contexts could have saved.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/plic.h"
#include "snapshot/stream.h"
#include "util/util.h"
#include "vmm/bus.h"
#include "builder_input.h"

#define BASE		0x0c000000ULL
#define MAX_OPS		4096
#define SECTION_HDR	12 /* tag, instance, length (stream.h) */
#define SECTION_TAG	SNAP_TAG('F', 'U', 'Z', 'Z')
#define SECTION_LEN(nr) (4 + PLIC_NR_SOURCES + 4 * 8 + (nr) * 12)
#define SOURCES_MASK	((~0ULL >> (64 - PLIC_NR_SOURCES)) & ~1ULL)

/* The PLIC as the harness expects it; named after plic.c's fields. */
struct model {
	unsigned int nr;
	uint8_t priority[PLIC_NR_SOURCES];
	uint64_t pending, in_service, level_high, edge_waiting;
	uint64_t enabled[PLIC_MAX_CONTEXTS];
	uint32_t threshold[PLIC_MAX_CONTEXTS];
};

struct rig {
	struct bus bus;
	struct logger log;
	struct plic *plic;
	struct model m;
	bool line[PLIC_MAX_CONTEXTS]; /* as the PLIC last drove each */
	bool restoring;
	unsigned int restore_calls[PLIC_MAX_CONTEXTS];
	bool restore_line[PLIC_MAX_CONTEXTS];
};

static void line_set(void *opaque, unsigned int context, bool level)
{
	struct rig *r = opaque;

	if (context >= r->m.nr)
		abort();
	if (r->restoring) {
		/* Kept apart: the machine may refuse the section yet. */
		r->restore_calls[context]++;
		r->restore_line[context] = level;
		return;
	}
	if (level == r->line[context])
		abort();
	r->line[context] = level;
}

static struct plic *plic_new(struct rig *r)
{
	struct plic *plic = plic_create(r->m.nr, line_set, r, &r->log);

	if (!plic)
		abort();
	return plic;
}

static bool source_valid(uint64_t source)
{
	return source >= 1 && source < PLIC_NR_SOURCES;
}

/*
 * What a claim in (ctx) gets now, by the spec's rule: the candidate with the largest key,
 * priority first and then the lower id; none unless its priority clears the threshold.
 */
static unsigned int model_best(const struct model *m, unsigned int ctx)
{
	uint64_t candidates = m->pending & m->enabled[ctx];
	unsigned int key, best_key = 0;

	for (; candidates; candidates &= candidates - 1) {
		unsigned int source = __builtin_ctzll(candidates);

		key = m->priority[source] << 8 | (255 - source);
		if (m->priority[source] > m->threshold[ctx] && key > best_key)
			best_key = key;
	}
	return best_key ? 255 - (best_key & 255) : 0;
}

static void model_level(struct model *m, unsigned int source, bool level)
{
	uint64_t bit = 1ULL << source;

	if (!source_valid(source))
		return;
	if (!level) {
		m->level_high &= ~bit;
		m->pending &= ~bit;
	} else {
		m->level_high |= bit;
		if (!(m->in_service & bit))
			m->pending |= bit;
	}
}

static void model_edge(struct model *m, unsigned int source)
{
	uint64_t bit = 1ULL << source;

	if (!source_valid(source))
		return;
	if (m->in_service & bit)
		m->edge_waiting |= bit;
	else
		m->pending |= bit;
}

static void model_complete(struct model *m, unsigned int ctx, uint32_t source)
{
	uint64_t bit = 1ULL << (source % 64);

	/* Ignored unless the context has the source enabled and it is in service. */
	if (!source_valid(source) || !(m->enabled[ctx] & bit) || !(m->in_service & bit))
		return;
	m->in_service &= ~bit;
	if ((m->level_high | m->edge_waiting) & bit) {
		m->edge_waiting &= ~bit;
		m->pending |= bit;
	}
}

static void set_word(uint64_t *set, uint64_t word, uint32_t v)
{
	*set = (*set & ~(0xffffffffULL << (32 * word))) | (uint64_t)v << (32 * word);
	*set &= SOURCES_MASK;
}

/*
 * An aligned 32-bit access at (off), inside the window, on the model: the value a read
 * gets (0 where there is no register; a write there changes nothing).
 */
static uint32_t model_access(struct model *m, uint64_t off, uint32_t v, bool is_write)
{
	uint64_t ctx, reg;
	unsigned int source;

	if (off < 0x1000) {
		if (!source_valid(off / 4))
			return 0;
		if (is_write)
			m->priority[off / 4] = v & PLIC_MAX_PRIORITY;
		return m->priority[off / 4];
	}
	if (off < 0x1000 + PLIC_NR_SOURCES / 8)
		return is_write ? 0 : (uint32_t)(m->pending >> (32 * ((off - 0x1000) / 4)));
	if (off >= 0x2000 && off < 0x2000 + 0x80ULL * m->nr) {
		ctx = (off - 0x2000) / 0x80;
		reg = (off - 0x2000) % 0x80 / 4;
		if (reg >= PLIC_NR_SOURCES / 32)
			return 0;
		if (is_write)
			set_word(&m->enabled[ctx], reg, v);
		return m->enabled[ctx] >> (32 * reg);
	}
	if (off < 0x200000)
		return 0;
	ctx = (off - 0x200000) / 0x1000;
	reg = (off - 0x200000) % 0x1000;
	if (reg == 0 && is_write)
		m->threshold[ctx] = v & PLIC_MAX_PRIORITY;
	if (reg == 0)
		return m->threshold[ctx];
	if (reg != 4)
		return 0;
	if (is_write) {
		model_complete(m, ctx, v);
		return 0;
	}
	source = model_best(m, ctx);
	if (source) {
		m->pending &= ~(1ULL << source);
		m->in_service |= 1ULL << source;
	}
	return source;
}

/* One access at window offset (off); returns what a read got, with the model's checks. */
static uint64_t guest_access(struct rig *r, int64_t off, unsigned int len, uint64_t v,
			     bool is_write)
{
	uint64_t span = PLIC_SPAN(r->m.nr), got;
	bool inside = off >= 0 && (uint64_t)off + len <= span;
	uint8_t data[8];
	uint64_t want = 0;

	memset(data, 0xa5, sizeof(data));
	if (is_write)
		memcpy(data, &v, len);
	if (inside && len == 4 && off % 4 == 0)
		want = model_access(&r->m, off, (uint32_t)v, is_write);
	if (bus_access(&r->bus, BASE + off, data, len, is_write) != inside)
		abort();
	if (is_write)
		return 0;
	if (!inside)
		want = ~0ULL >> (64 - 8 * len);
	got = 0;
	memcpy(&got, data, len);
	if (got != want)
		abort();
	return got;
}

/* A window offset from the script: mostly a register, sometimes anywhere, or off an edge. */
static int64_t pick_offset(struct rig *r, struct bin *s)
{
	unsigned int nr = r->m.nr;
	uint64_t span = PLIC_SPAN(nr), v;

	switch (bin_u8(s) % 8) {
	case 0:
		return 4 * (bin_u8(s) % (PLIC_NR_SOURCES + 2));
	case 1:
		return 0x1000 + 4 * (bin_u8(s) % 3);
	case 2:
		v = bin_u8(s) % (nr + 1);
		return 0x2000 + 0x80 * v + 4 * (bin_u8(s) % 3);
	case 5:
		v = bin_u8(s);
		v |= (uint64_t)bin_u8(s) << 8;
		v |= (uint64_t)bin_u8(s) << 16;
		return v % span;
	case 6:
		v = bin_u8(s);
		return v & 0x80 ? (int64_t)span - 8 + (v & 15) : -1 - (int64_t)(v & 15);
	default:
		v = bin_u8(s) % (nr + 1);
		return 0x200000 + 0x1000 * v + 4 * (bin_u8(s) % 3);
	}
}

static void access_op(struct rig *r, struct bin *s, uint8_t op, bool is_write)
{
	static const unsigned int widths[8] = { 4, 4, 4, 4, 4, 1, 2, 8 };
	unsigned int i, len = widths[op >> 5];
	int64_t off = pick_offset(r, s);
	uint64_t v = 0;

	if ((op & 0x18) == 0x18)
		off += 1 + (op >> 7);
	for (i = 0; is_write && i < len; i++)
		v |= (uint64_t)bin_u8(s) << (8 * i);
	guest_access(r, off, len, v, is_write);
}

static unsigned int pick_source(struct bin *s)
{
	uint8_t b = bin_u8(s);

	return b < 0xf0 ? b % PLIC_NR_SOURCES : b;
}

/* A hart's interrupt handler: claim, then complete what it got. */
static void claim_complete(struct rig *r, struct bin *s, uint8_t op)
{
	unsigned int ctx = bin_u8(s) % r->m.nr, done = ctx;
	uint64_t source = guest_access(r, 0x200004 + 0x1000 * ctx, 4, 0, false);

	if (op & 0x08)
		done = bin_u8(s) % r->m.nr;
	guest_access(r, 0x200004 + 0x1000 * done, 4, source, true);
}

/* Does a new PLIC take (p, n) as its section? As plic_restore and the machine decide. */
static bool section_valid(const struct model *m, const uint8_t *p, size_t n)
{
	const uint8_t *q = p + 4 + PLIC_NR_SOURCES;
	uint64_t pending, in_service, level_high, edge_waiting;
	unsigned int i;

	if (n != SECTION_LEN(m->nr) || get_le32(p) != m->nr || p[4])
		return false;
	for (i = 1; i < PLIC_NR_SOURCES; i++)
		if (p[4 + i] > PLIC_MAX_PRIORITY)
			return false;
	pending = get_le64(q);
	in_service = get_le64(q + 8);
	level_high = get_le64(q + 16);
	edge_waiting = get_le64(q + 24);
	if ((pending | in_service | level_high | edge_waiting) & ~SOURCES_MASK ||
	    (pending & in_service) || (edge_waiting & ~in_service))
		return false;
	for (i = 0, q += 32; i < m->nr; i++, q += 12)
		if ((get_le64(q) & ~SOURCES_MASK) || get_le32(q + 8) > PLIC_MAX_PRIORITY)
			return false;
	return true;
}

static void model_adopt(struct model *m, const uint8_t *p)
{
	const uint8_t *q = p + 4 + PLIC_NR_SOURCES;
	unsigned int i;

	memcpy(m->priority, p + 4, PLIC_NR_SOURCES);
	m->pending = get_le64(q);
	m->in_service = get_le64(q + 8);
	m->level_high = get_le64(q + 16);
	m->edge_waiting = get_le64(q + 24);
	for (i = 0, q += 32; i < m->nr; i++, q += 12) {
		m->enabled[i] = get_le64(q);
		m->threshold[i] = get_le32(q + 8);
	}
}

/* Restore (p, n) into a new PLIC as the machine does; it takes over if accepted. */
static int restore(struct rig *r, const uint8_t *p, size_t n)
{
	struct snap_section sec = { SECTION_TAG, 0, p, (uint32_t)n };
	struct plic *fresh = plic_new(r);
	struct snap_cursor c;
	unsigned int i;
	char why[256];
	int ret;

	snap_cursor_init(&c, &sec);
	memset(r->restore_calls, 0, sizeof(r->restore_calls));
	r->restoring = true;
	ret = plic_restore(fresh, &c, why, sizeof(why));
	r->restoring = false;
	/* Refused: no line driven. Accepted: each driven once, whatever it was. */
	for (i = 0; i < r->m.nr; i++)
		if (r->restore_calls[i] != !ret)
			abort();
	if (!ret)
		ret = snap_cursor_end(&c, why, sizeof(why));
	if (ret) {
		plic_destroy(fresh);
		return ret;
	}
	/* The one bus range now leads to the new PLIC. */
	r->bus.ranges[0].opaque = fresh;
	plic_destroy(r->plic);
	r->plic = fresh;
	memcpy(r->line, r->restore_line, sizeof(r->line));
	return 0;
}

static void snapshot(struct rig *r, struct bin *s)
{
	struct snap_writer w;
	uint8_t *p;
	size_t n;
	bool valid;

	if (!(bin_u8(s) & 1)) {
		snap_writer_init(&w, 0, "fuzz");
		snap_begin(&w, SECTION_TAG, 0);
		plic_save(r->plic, &w);
		snap_end(&w);
		if (w.err || restore(r, w.buf + SNAP_HEADER_SIZE + SECTION_HDR,
				     w.len - SNAP_HEADER_SIZE - SECTION_HDR))
			abort();
		snap_writer_free(&w);
		return;
	}
	n = bin_u8(s);
	n = (n | (size_t)bin_u8(s) << 8) % (SECTION_LEN(PLIC_MAX_CONTEXTS) + 16);
	p = bin_take(s, &n);
	valid = section_valid(&r->m, p, n);
	if (valid != !restore(r, p, n))
		abort();
	if (valid)
		model_adopt(&r->m, p);
	free(p);
}

static void run(struct rig *r, struct bin *s)
{
	unsigned int i, ops, source;

	for (ops = 0; s->n && ops < MAX_OPS; ops++) {
		uint8_t op = bin_u8(s);

		switch (op & 7) {
		case 0:
		case 1:
			access_op(r, s, op, false);
			break;
		case 2:
		case 3:
			access_op(r, s, op, true);
			break;
		case 4:
			source = pick_source(s);
			model_level(&r->m, source, op & 0x08);
			plic_set_level(r->plic, source, !!(op & 0x08));
			break;
		case 5:
			source = pick_source(s);
			model_edge(&r->m, source);
			plic_trigger(r->plic, source);
			break;
		case 6:
			claim_complete(r, s, op);
			break;
		default:
			snapshot(r, s);
			break;
		}
		for (i = 0; i < r->m.nr; i++)
			if (r->line[i] != (model_best(&r->m, i) != 0))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bin s = { data, size };
	struct rig *r = calloc(1, sizeof(*r));
	uint8_t b;

	if (!r)
		abort();
	b = bin_u8(&s);
	r->m.nr = 1 + ((b & 0x80) ? b % PLIC_MAX_CONTEXTS : b % 4);
	logger_init(&r->log);
	log_set_level(&r->log, LOG_ERROR); /* the fuzzer makes the PLIC complain */
	r->plic = plic_new(r);
	bus_init(&r->bus, "mmio");
	if (bus_register(&r->bus, BASE, PLIC_SPAN(r->m.nr), &plic_ops, r->plic, "plic"))
		abort();
	run(r, &s);
	plic_destroy(r->plic);
	bus_destroy(&r->bus);
	logger_destroy(&r->log);
	free(r);
	return 0;
}
