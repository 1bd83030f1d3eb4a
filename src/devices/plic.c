/*
 * The PLIC as a few source sets, one bit per source, under one mutex: MMIO comes from
 * vCPU threads and requests from device threads.
 *
 * Each source has a gateway: a request (a high level, or an edge) makes it pending unless
 * it is in service; a claim moves it from pending to in service; a completion ends the
 * service and, if the request is still there (the level is still high, or an edge came
 * meanwhile), makes it pending again. So a source interrupts at most once per claim.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "plic.h"
#include "../snapshot/stream.h"
#include "../util/log.h"

_Static_assert(PLIC_NR_SOURCES <= 64 && PLIC_NR_SOURCES % 32 == 0,
	       "a source set is one uint64_t, read as 32-bit words");

enum {
	PLIC_PENDING_BASE = 0x1000,
	PLIC_ENABLE_BASE = 0x2000,
	PLIC_ENABLE_STRIDE = 0x80,
	PLIC_CONTEXT_BASE = 0x200000,
	PLIC_CONTEXT_STRIDE = 0x1000,
	PLIC_THRESHOLD = 0x0, /* in a context's page */
	PLIC_CLAIM = 0x4,
	PLIC_WORDS = PLIC_NR_SOURCES / 32, /* words in the pending array and each enable array */
};

/* Sources 1..PLIC_NR_SOURCES-1: source 0 is "no interrupt" and has no bits anywhere. */
#define PLIC_SOURCES_MASK ((~0ULL >> (64 - PLIC_NR_SOURCES)) & ~1ULL)

struct plic_context {
	uint64_t enabled;
	uint32_t threshold;
	bool line; /* the level last reported through plic->line */
};

struct plic {
	/*
	 * Taken by every entry point and held while calling (line), so a line callback must
	 * not call back into the PLIC. No other lock is taken under it.
	 */
	pthread_mutex_t lock;
	plic_line_fn line;
	void *opaque;
	unsigned int nr_contexts;
	struct logger *log;
	uint8_t priority[PLIC_NR_SOURCES];
	uint64_t pending;
	uint64_t in_service;   /* claimed and not yet completed */
	uint64_t level_high;   /* level requests now asserted */
	uint64_t edge_waiting; /* edges that came in service: they pend again at completion */
	struct plic_context ctx[];
};

static bool plic_source_valid(uint64_t source)
{
	return source >= 1 && source < PLIC_NR_SOURCES;
}

struct plic *plic_create(unsigned int nr_contexts, plic_line_fn line, void *opaque,
			 struct logger *log)
{
	struct plic *plic;
	int err;

	if (nr_contexts == 0 || nr_contexts > PLIC_MAX_CONTEXTS) {
		errno = EINVAL;
		return NULL;
	}
	plic = calloc(1, sizeof(*plic) + nr_contexts * sizeof(plic->ctx[0]));
	if (!plic)
		return NULL;
	err = pthread_mutex_init(&plic->lock, NULL);
	if (err) {
		free(plic);
		errno = err;
		return NULL;
	}
	plic->line = line;
	plic->opaque = opaque;
	plic->log = log;
	plic->nr_contexts = nr_contexts;
	return plic;
}

void plic_destroy(struct plic *plic)
{
	if (!plic)
		return;
	pthread_mutex_destroy(&plic->lock);
	free(plic);
}

/*
 * The source (ctx) would claim now, or 0: the pending, enabled source of highest priority
 * above the threshold. Walking up from source 1 and replacing only on a strictly higher
 * priority gives ties to the lowest id.
 */
static unsigned int plic_best(const struct plic *plic, const struct plic_context *ctx)
{
	uint64_t candidates = plic->pending & ctx->enabled;
	unsigned int best = 0, best_priority = ctx->threshold;

	while (candidates) {
		unsigned int source = __builtin_ctzll(candidates);

		candidates &= candidates - 1;
		if (plic->priority[source] > best_priority) {
			best = source;
			best_priority = plic->priority[source];
		}
	}
	return best;
}

/* Bring every context's line in line with the state; tell the VM only about changes. */
static void plic_update(struct plic *plic)
{
	unsigned int i;

	for (i = 0; i < plic->nr_contexts; i++) {
		bool level = plic_best(plic, &plic->ctx[i]) != 0;

		if (level == plic->ctx[i].line)
			continue;
		plic->ctx[i].line = level;
		if (plic->line)
			plic->line(plic->opaque, i, level);
	}
}

void plic_set_level(struct plic *plic, unsigned int source, int level)
{
	uint64_t bit;

	if (!plic_source_valid(source)) {
		log_debug(plic->log, "plic: level %d on invalid source %u", level, source);
		return;
	}
	bit = 1ULL << source;
	pthread_mutex_lock(&plic->lock);
	if (level) {
		plic->level_high |= bit;
		if (!(plic->in_service & bit))
			plic->pending |= bit;
	} else {
		/* Withdrawn before anyone claimed it: there is nothing left to handle. */
		plic->level_high &= ~bit;
		plic->pending &= ~bit;
	}
	plic_update(plic);
	pthread_mutex_unlock(&plic->lock);
}

void plic_trigger(struct plic *plic, unsigned int source)
{
	uint64_t bit;

	if (!plic_source_valid(source)) {
		log_debug(plic->log, "plic: edge on invalid source %u", source);
		return;
	}
	bit = 1ULL << source;
	pthread_mutex_lock(&plic->lock);
	if (plic->in_service & bit)
		plic->edge_waiting |= bit;
	else
		plic->pending |= bit;
	plic_update(plic);
	pthread_mutex_unlock(&plic->lock);
}

static uint32_t plic_claim(struct plic *plic, struct plic_context *ctx)
{
	unsigned int source = plic_best(plic, ctx);

	if (source) {
		plic->pending &= ~(1ULL << source);
		plic->in_service |= 1ULL << source;
		plic_update(plic);
	}
	return source;
}

static void plic_complete(struct plic *plic, struct plic_context *ctx, uint32_t source)
{
	uint64_t bit;

	/* The spec ignores a completion for a source the context has not enabled. */
	if (!plic_source_valid(source) || !(ctx->enabled & (1ULL << source))) {
		log_debug(plic->log, "plic: ignored completion of source %u", source);
		return;
	}
	bit = 1ULL << source;
	if (!(plic->in_service & bit))
		return;
	plic->in_service &= ~bit;
	if ((plic->level_high | plic->edge_waiting) & bit) {
		plic->edge_waiting &= ~bit;
		plic->pending |= bit;
	}
	plic_update(plic);
}

static void plic_set_word(uint64_t *set, uint64_t word, uint32_t val)
{
	uint64_t shift = 32 * word;

	*set = (*set & ~(0xffffffffULL << shift)) | ((uint64_t)val << shift);
	*set &= PLIC_SOURCES_MASK;
}

/*
 * One aligned 32-bit register access at (off), under the lock. Returns false if nothing
 * lives there. Every index is range-checked before use: (off) is the guest's.
 */
static bool plic_access(struct plic *plic, uint64_t off, uint32_t *val, bool is_write)
{
	struct plic_context *ctx;
	uint64_t reg;

	if (off < PLIC_PENDING_BASE) {
		if (!plic_source_valid(off / 4))
			return false;
		if (is_write) {
			plic->priority[off / 4] = *val & PLIC_MAX_PRIORITY;
			plic_update(plic);
		} else {
			*val = plic->priority[off / 4];
		}
		return true;
	}
	if (off < PLIC_PENDING_BASE + 4 * PLIC_WORDS) {
		/* Read-only: only devices, claims and completions change pending bits. */
		if (!is_write)
			*val = plic->pending >> (32 * ((off - PLIC_PENDING_BASE) / 4));
		return !is_write;
	}
	if (off >= PLIC_ENABLE_BASE &&
	    off < PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * plic->nr_contexts) {
		ctx = &plic->ctx[(off - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE];
		reg = (off - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE / 4;
		if (reg >= PLIC_WORDS)
			return false;
		if (is_write) {
			plic_set_word(&ctx->enabled, reg, *val);
			plic_update(plic);
		} else {
			*val = ctx->enabled >> (32 * reg);
		}
		return true;
	}
	if (off >= PLIC_CONTEXT_BASE && off < PLIC_SPAN(plic->nr_contexts)) {
		ctx = &plic->ctx[(off - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE];
		reg = (off - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;
		if (reg == PLIC_THRESHOLD && is_write) {
			ctx->threshold = *val & PLIC_MAX_PRIORITY;
			plic_update(plic);
		} else if (reg == PLIC_THRESHOLD) {
			*val = ctx->threshold;
		} else if (reg == PLIC_CLAIM && is_write) {
			plic_complete(plic, ctx, *val);
		} else if (reg == PLIC_CLAIM) {
			*val = plic_claim(plic, ctx);
		} else {
			return false;
		}
		return true;
	}
	return false;
}

static void plic_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct plic *plic = opaque;
	uint32_t val = 0;
	bool handled = false;

	memset(data, 0, len);
	if (len == 4 && off % 4 == 0) {
		pthread_mutex_lock(&plic->lock);
		handled = plic_access(plic, off, &val, false);
		pthread_mutex_unlock(&plic->lock);
	}
	if (!handled) {
		log_debug(plic->log, "plic: ignored %u-byte read at 0x%llx", len,
			  (unsigned long long)off);
		return;
	}
	memcpy(data, &val, 4);
}

static void plic_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct plic *plic = opaque;
	uint32_t val;
	bool handled = false;

	if (len == 4 && off % 4 == 0) {
		memcpy(&val, data, 4);
		pthread_mutex_lock(&plic->lock);
		handled = plic_access(plic, off, &val, true);
		pthread_mutex_unlock(&plic->lock);
	}
	if (!handled)
		log_debug(plic->log, "plic: ignored %u-byte write at 0x%llx", len,
			  (unsigned long long)off);
}

const struct bus_dev_ops plic_ops = {
	.read = plic_read,
	.write = plic_write,
};

void plic_save(struct plic *plic, struct snap_writer *w)
{
	unsigned int i;

	pthread_mutex_lock(&plic->lock);
	snap_put_u32(w, plic->nr_contexts);
	snap_put_bytes(w, plic->priority, sizeof(plic->priority));
	snap_put_u64(w, plic->pending);
	snap_put_u64(w, plic->in_service);
	snap_put_u64(w, plic->level_high);
	snap_put_u64(w, plic->edge_waiting);
	for (i = 0; i < plic->nr_contexts; i++) {
		snap_put_u64(w, plic->ctx[i].enabled);
		snap_put_u32(w, plic->ctx[i].threshold);
	}
	pthread_mutex_unlock(&plic->lock);
}

int plic_restore(struct plic *plic, struct snap_cursor *c, char *why, size_t why_len)
{
	uint64_t pending, in_service, level_high, edge_waiting;
	struct plic_context ctx[PLIC_MAX_CONTEXTS];
	uint8_t priority[PLIC_NR_SOURCES];
	unsigned int i;

	if (snap_get_u32(c) != plic->nr_contexts)
		snap_cursor_fail(c, "PLIC contexts (not this machine's harts)");
	snap_get_bytes(c, priority, sizeof(priority));
	pending = snap_get_u64(c);
	in_service = snap_get_u64(c);
	level_high = snap_get_u64(c);
	edge_waiting = snap_get_u64(c);
	for (i = 0; !c->bad && i < plic->nr_contexts; i++) {
		ctx[i].enabled = snap_get_u64(c);
		ctx[i].threshold = snap_get_u32(c);
		if ((ctx[i].enabled & ~PLIC_SOURCES_MASK) || ctx[i].threshold > PLIC_MAX_PRIORITY)
			snap_cursor_fail(c, "PLIC context");
	}
	for (i = 0; i < PLIC_NR_SOURCES; i++)
		if (priority[i] > PLIC_MAX_PRIORITY || (i == 0 && priority[i]))
			snap_cursor_fail(c, "PLIC priority");
	/* The gateways' rules (plic_set_level, plic_trigger, claim, completion) hold. */
	if ((pending | in_service | level_high | edge_waiting) & ~PLIC_SOURCES_MASK ||
	    (pending & in_service) || (edge_waiting & ~in_service))
		snap_cursor_fail(c, "PLIC source state");
	if (c->bad)
		return snap_cursor_end(c, why, why_len);

	pthread_mutex_lock(&plic->lock);
	memcpy(plic->priority, priority, sizeof(priority));
	plic->pending = pending;
	plic->in_service = in_service;
	plic->level_high = level_high;
	plic->edge_waiting = edge_waiting;
	for (i = 0; i < plic->nr_contexts; i++) {
		plic->ctx[i].enabled = ctx[i].enabled;
		plic->ctx[i].threshold = ctx[i].threshold;
		/* Every line, not only the changed ones: the harts' own state was restored too. */
		plic->ctx[i].line = plic_best(plic, &plic->ctx[i]) != 0;
		if (plic->line)
			plic->line(plic->opaque, i, plic->ctx[i].line);
	}
	pthread_mutex_unlock(&plic->lock);
	return 0;
}
