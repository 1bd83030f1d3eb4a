#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "devices/plic.h"
#include "snapshot/stream.h"
#include "unit.h"

#define PENDING	     0x1000
#define ENABLE(c)    (0x2000 + 0x80 * (c))
#define THRESHOLD(c) (0x200000 + 0x1000 * (c))
#define CLAIM(c)     (THRESHOLD(c) + 4)

/* What the line callback saw, per context. */
struct lines {
	unsigned int calls[PLIC_MAX_CONTEXTS];
	bool level[PLIC_MAX_CONTEXTS];
	unsigned int total;
	unsigned int repeats; /* calls that did not change the level */
	struct logger log;    /* the PLIC's (it holds no file: nothing to destroy) */
};

static void record_line(void *opaque, unsigned int context, bool level)
{
	struct lines *l = opaque;

	/* No cmocka asserts here: the threaded test calls this from its own threads. */
	if (context >= PLIC_MAX_CONTEXTS) {
		l->repeats++;
		return;
	}
	if (l->calls[context] && l->level[context] == level)
		l->repeats++;
	if (!l->calls[context] && !level)
		l->repeats++; /* lines start low: a first call must raise one */
	l->calls[context]++;
	l->level[context] = level;
	l->total++;
}

static uint32_t rd(struct plic *plic, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	plic_ops.read(plic, off, &v, 4);
	return v;
}

static void wr(struct plic *plic, uint64_t off, uint32_t v)
{
	plic_ops.write(plic, off, &v, 4);
}

static struct plic *make(unsigned int nr_contexts, struct lines *l)
{
	struct plic *plic;

	memset(l, 0, sizeof(*l));
	logger_init(&l->log);
	plic = plic_create(nr_contexts, record_line, l, &l->log);
	assert_non_null(plic);
	return plic;
}

/* Give (source) priority (priority) and enable it in (context). */
static void setup_source(struct plic *plic, unsigned int context, unsigned int source,
			 uint32_t priority)
{
	uint64_t word = ENABLE(context) + 4 * (source / 32);

	wr(plic, 4 * source, priority);
	wr(plic, word, rd(plic, word) | 1u << (source % 32));
}

static void test_create_limits(void **state)
{
	struct logger log;

	(void)state;
	logger_init(&log);
	errno = 0;
	assert_null(plic_create(0, NULL, NULL, &log));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(plic_create(PLIC_MAX_CONTEXTS + 1, NULL, NULL, &log));
	assert_int_equal(errno, EINVAL);
	plic_destroy(plic_create(1, NULL, NULL, &log));
	plic_destroy(plic_create(PLIC_MAX_CONTEXTS, NULL, NULL, &log));
	plic_destroy(NULL);
	logger_destroy(&log);
}

static void test_priority_zero_never(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 5, 0);
	plic_trigger(plic, 5);
	assert_int_equal(rd(plic, PENDING), 1u << 5);
	assert_int_equal(l.total, 0);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	/* Raising the priority lets the pending request through. */
	wr(plic, 4 * 5, 1);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 5);
	/* Writes are masked to 3 bits. */
	wr(plic, 4 * 5, 0xff);
	assert_int_equal(rd(plic, 4 * 5), PLIC_MAX_PRIORITY);
	wr(plic, 4 * 5, 8);
	assert_int_equal(rd(plic, 4 * 5), 0);
	plic_destroy(plic);
}

static void test_threshold(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 3, 4);
	wr(plic, THRESHOLD(0), 4);
	assert_int_equal(rd(plic, THRESHOLD(0)), 4);
	plic_trigger(plic, 3);
	/* Equal to the threshold is not enough: it must be strictly greater. */
	assert_int_equal(l.total, 0);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	wr(plic, THRESHOLD(0), 3);
	assert_true(l.level[0]);
	wr(plic, THRESHOLD(0), 7);
	assert_false(l.level[0]);
	wr(plic, THRESHOLD(0), 0x1f); /* masked to 3 bits */
	assert_int_equal(rd(plic, THRESHOLD(0)), 7);
	wr(plic, THRESHOLD(0), 0);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 3);
	assert_false(l.level[0]);
	assert_int_equal(l.repeats, 0);
	plic_destroy(plic);
}

static void test_enable_per_context(void **state)
{
	struct lines l;
	struct plic *plic = make(2, &l);

	(void)state;
	setup_source(plic, 1, 40, 2);
	assert_int_equal(rd(plic, ENABLE(1) + 4), 1u << (40 - 32));
	assert_int_equal(rd(plic, ENABLE(0) + 4), 0);
	plic_trigger(plic, 40);
	assert_int_equal(rd(plic, PENDING + 4), 1u << (40 - 32));
	assert_int_equal(l.calls[0], 0);
	assert_true(l.level[1]);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	assert_true(l.level[1]);
	assert_int_equal(rd(plic, CLAIM(1)), 40);
	assert_false(l.level[1]);
	/* Source 0's enable bit is hard-wired to 0. */
	wr(plic, ENABLE(0), 0xffffffff);
	assert_int_equal(rd(plic, ENABLE(0)), 0xfffffffe);
	plic_destroy(plic);
}

static void test_claim_order(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 9, 2);
	setup_source(plic, 0, 4, 5);
	setup_source(plic, 0, 33, 5);
	setup_source(plic, 0, 2, 1);
	plic_trigger(plic, 9);
	plic_trigger(plic, 33);
	plic_trigger(plic, 2);
	plic_trigger(plic, 4);
	assert_int_equal(l.total, 1);
	/* Highest priority first; 4 and 33 tie, so the lower id wins. */
	assert_int_equal(rd(plic, CLAIM(0)), 4);
	assert_int_equal(rd(plic, CLAIM(0)), 33);
	assert_int_equal(rd(plic, CLAIM(0)), 9);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 2);
	assert_false(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_int_equal(rd(plic, PENDING + 4), 0);
	assert_int_equal(l.total, 2);
	plic_destroy(plic);
}

static void test_claim_nothing(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	wr(plic, CLAIM(0), 0);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	assert_int_equal(l.total, 0);
	plic_destroy(plic);
}

static void test_claim_clears_pending(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 7, 1);
	plic_trigger(plic, 7);
	assert_int_equal(rd(plic, PENDING), 1u << 7);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 7);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	/* Completing an edge source with nothing new leaves it quiet. */
	wr(plic, CLAIM(0), 7);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_int_equal(l.total, 2);
	plic_destroy(plic);
}

static void test_level_sources(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 10, 1);
	plic_set_level(plic, 10, 1);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 10);
	assert_false(l.level[0]);
	/* In service: a high level does not pend again until completion. */
	plic_set_level(plic, 10, 1);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	wr(plic, CLAIM(0), 10);
	assert_int_equal(rd(plic, PENDING), 1u << 10);
	assert_true(l.level[0]);
	/* Lowered before anyone claimed it: gone. */
	plic_set_level(plic, 10, 0);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	/* Lowered while in service: completion does not bring it back. */
	plic_set_level(plic, 10, 1);
	assert_int_equal(rd(plic, CLAIM(0)), 10);
	plic_set_level(plic, 10, 0);
	wr(plic, CLAIM(0), 10);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	assert_int_equal(l.repeats, 0);
	plic_destroy(plic);
}

static void test_edge_during_service(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	setup_source(plic, 0, 12, 3);
	plic_trigger(plic, 12);
	assert_int_equal(rd(plic, CLAIM(0)), 12);
	plic_trigger(plic, 12);
	plic_trigger(plic, 12); /* edges in service coalesce into one */
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 0);
	wr(plic, CLAIM(0), 12);
	assert_int_equal(rd(plic, PENDING), 1u << 12);
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 12);
	wr(plic, CLAIM(0), 12);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	assert_int_equal(l.repeats, 0);
	plic_destroy(plic);
}

static void test_complete_not_enabled(void **state)
{
	struct lines l;
	struct plic *plic = make(2, &l);

	(void)state;
	setup_source(plic, 0, 6, 1);
	plic_set_level(plic, 6, 1);
	assert_int_equal(rd(plic, CLAIM(0)), 6);
	/* Context 1 has not enabled source 6: its completion is ignored. */
	wr(plic, CLAIM(1), 6);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	/* So is one after context 0 disables it... */
	wr(plic, ENABLE(0), 0);
	wr(plic, CLAIM(0), 6);
	wr(plic, ENABLE(0), 1u << 6);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_false(l.level[0]);
	/* ...and invalid ids. */
	wr(plic, CLAIM(0), 0);
	wr(plic, CLAIM(0), PLIC_NR_SOURCES);
	wr(plic, CLAIM(0), 0xffffffff);
	assert_int_equal(rd(plic, PENDING), 0);
	/* The real completion ends service; the level is still high, so it pends again. */
	wr(plic, CLAIM(0), 6);
	assert_int_equal(rd(plic, PENDING), 1u << 6);
	assert_true(l.level[0]);
	plic_destroy(plic);
}

static void test_pending_register(void **state)
{
	struct lines l;
	struct plic *plic = make(1, &l);

	(void)state;
	/* Pending bits show requests whatever the priority and enables. */
	plic_trigger(plic, 1);
	plic_set_level(plic, 31, 1);
	plic_trigger(plic, 32);
	plic_set_level(plic, 63, 1);
	assert_int_equal(rd(plic, PENDING), (1u << 1) | (1u << 31));
	assert_int_equal(rd(plic, PENDING + 4), (1u << 0) | (1u << 31));
	/* Read-only to the guest. */
	wr(plic, PENDING, 0);
	wr(plic, PENDING + 4, 0xffffffff);
	assert_int_equal(rd(plic, PENDING), (1u << 1) | (1u << 31));
	assert_int_equal(rd(plic, PENDING + 4), (1u << 0) | (1u << 31));
	plic_set_level(plic, 63, 0);
	assert_int_equal(rd(plic, PENDING + 4), 1u << 0);
	assert_int_equal(l.total, 0);
	plic_destroy(plic);
}

static void test_bad_accesses(void **state)
{
	static const uint64_t offsets[] = {
		0x0,		       /* source 0's priority */
		4 * PLIC_NR_SOURCES,   /* past the last source */
		0xffc,		       /* end of the priority page */
		PENDING + 8,	       /* past the pending words */
		ENABLE(0) + 8,	       /* past a context's enable words */
		ENABLE(0) + 0x7c,
		ENABLE(2),	       /* context 2 does not exist */
		ENABLE(PLIC_MAX_CONTEXTS),
		0x1f0000,
		THRESHOLD(0) + 8,      /* inside a context page, no register */
		THRESHOLD(0) + 0xffc,
		THRESHOLD(2),	       /* no such context */
		CLAIM(2),
		THRESHOLD(PLIC_MAX_CONTEXTS),
		PLIC_SPAN(PLIC_MAX_CONTEXTS) + 4,
		0x4000000,
		0x7ffffffffffffffcULL,
		0xfffffffffffffffcULL,
	};
	struct lines l;
	struct plic *plic = make(2, &l);
	uint8_t buf[8];
	unsigned int i;

	(void)state;
	setup_source(plic, 0, 1, 7);
	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		wr(plic, offsets[i], 0xffffffff);
		assert_int_equal(rd(plic, offsets[i]), 0);
	}
	/* Not 4 bytes, or not aligned: ignored, reads give zeroes. */
	memset(buf, 0xff, sizeof(buf));
	plic_ops.write(plic, 4 * 2, buf, 1);
	plic_ops.write(plic, 4 * 2, buf, 2);
	plic_ops.write(plic, 4 * 2, buf, 8);
	plic_ops.write(plic, 4 * 2 + 1, buf, 4);
	plic_ops.write(plic, THRESHOLD(0) + 2, buf, 4);
	plic_ops.write(plic, ENABLE(0) + 1, buf, 4);
	assert_int_equal(rd(plic, 4 * 2), 0);
	assert_int_equal(rd(plic, THRESHOLD(0)), 0);
	assert_int_equal(rd(plic, ENABLE(0)), 1u << 1);
	plic_trigger(plic, 1);
	memset(buf, 0xff, sizeof(buf));
	plic_ops.read(plic, CLAIM(0), buf, 8);
	assert_int_equal(get_u64(buf), 0);
	memset(buf, 0xff, sizeof(buf));
	plic_ops.read(plic, CLAIM(0), buf, 2);
	assert_int_equal(get_u32(buf) & 0xffff, 0);
	memset(buf, 0xff, sizeof(buf));
	plic_ops.read(plic, CLAIM(0) + 1, buf, 4);
	assert_int_equal(get_u32(buf), 0);
	/* None of those claimed: source 1 is still there. */
	assert_true(l.level[0]);
	assert_int_equal(rd(plic, CLAIM(0)), 1);
	/* Out-of-range sources from devices are dropped. */
	plic_trigger(plic, 0);
	plic_trigger(plic, PLIC_NR_SOURCES);
	plic_trigger(plic, ~0u);
	plic_set_level(plic, 0, 1);
	plic_set_level(plic, PLIC_NR_SOURCES, 1);
	plic_set_level(plic, ~0u, 1);
	assert_int_equal(rd(plic, PENDING), 0);
	assert_int_equal(rd(plic, PENDING + 4), 0);
	assert_int_equal(l.calls[1], 0);
	assert_int_equal(l.repeats, 0);
	plic_destroy(plic);
}

static void test_callback_only_on_change(void **state)
{
	struct lines l;
	struct plic *plic = make(2, &l);

	(void)state;
	setup_source(plic, 0, 1, 1);
	setup_source(plic, 0, 2, 2);
	setup_source(plic, 1, 2, 2);
	plic_trigger(plic, 1);
	assert_int_equal(l.calls[0], 1);
	assert_int_equal(l.calls[1], 0);
	/* More requests on a line already high change nothing. */
	plic_trigger(plic, 1);
	plic_trigger(plic, 2);
	plic_set_level(plic, 2, 1);
	assert_int_equal(l.calls[0], 1);
	assert_int_equal(l.calls[1], 1);
	/* Unrelated register writes neither. */
	wr(plic, 4 * 9, 3);
	wr(plic, THRESHOLD(0), 0);
	wr(plic, ENABLE(1), rd(plic, ENABLE(1)));
	assert_int_equal(l.total, 2);
	/* Context 0 claims 2: context 1 drops, context 0 stays high for source 1. */
	assert_int_equal(rd(plic, CLAIM(0)), 2);
	assert_int_equal(l.calls[0], 1);
	assert_false(l.level[1]);
	assert_int_equal(rd(plic, CLAIM(0)), 1);
	assert_false(l.level[0]);
	assert_int_equal(l.total, 4);
	assert_int_equal(l.repeats, 0);
	plic_destroy(plic);
}

/*
 * Two device threads fire edges while two vCPU threads claim and complete. Every edge
 * must be followed by a claim of its source: each device bumps the source's sequence
 * number before it triggers, and a claimer notes the sequence number it has seen (after
 * the claim, before completing, while nobody else can claim the source).
 */
#define STRESS_ROUNDS 20000

struct stress {
	struct plic *plic;
	struct lines lines;
	atomic_uint seq[PLIC_NR_SOURCES];
	unsigned int seen[PLIC_NR_SOURCES];
	atomic_uint devices_running;
	atomic_uint claims;
};

struct stress_thread {
	struct stress *s;
	unsigned int id;
};

static void *stress_device(void *arg)
{
	struct stress_thread *t = arg;
	unsigned int i;

	for (i = 0; i < STRESS_ROUNDS; i++) {
		/* Device 0 owns the odd sources, device 1 the even ones. */
		unsigned int source = 2 * (i % (PLIC_NR_SOURCES / 2)) + 1 - t->id;

		if (source == 0)
			continue;
		atomic_fetch_add(&t->s->seq[source], 1);
		plic_trigger(t->s->plic, source);
	}
	atomic_fetch_sub(&t->s->devices_running, 1);
	return NULL;
}

static void *stress_vcpu(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;

	for (;;) {
		bool devices_done = atomic_load(&s->devices_running) == 0;
		uint32_t source = rd(s->plic, CLAIM(t->id));

		if (!source) {
			if (devices_done)
				break;
			continue;
		}
		if (source >= PLIC_NR_SOURCES)
			return (void *)1;
		s->seen[source] = atomic_load(&s->seq[source]);
		atomic_fetch_add(&s->claims, 1);
		wr(s->plic, CLAIM(t->id), source);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct stress_thread threads[2] = { { s, 0 }, { s, 1 } };
	pthread_t devices[2], vcpus[2];
	unsigned int i, c;
	void *ret;

	(void)state;
	assert_non_null(s);
	logger_init(&s->lines.log);
	s->plic = plic_create(2, record_line, &s->lines, &s->lines.log);
	assert_non_null(s->plic);
	for (i = 1; i < PLIC_NR_SOURCES; i++) {
		for (c = 0; c < 2; c++)
			setup_source(s->plic, c, i, 1 + i % PLIC_MAX_PRIORITY);
	}
	atomic_store(&s->devices_running, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&vcpus[i], NULL, stress_vcpu, &threads[i]), 0);
		assert_int_equal(pthread_create(&devices[i], NULL, stress_device, &threads[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(devices[i], NULL), 0);
		assert_int_equal(pthread_join(vcpus[i], &ret), 0);
		assert_null(ret);
	}
	for (i = 1; i < PLIC_NR_SOURCES; i++)
		assert_int_equal(s->seen[i], atomic_load(&s->seq[i]));
	assert_true(atomic_load(&s->claims) >= PLIC_NR_SOURCES - 1);
	assert_int_equal(rd(s->plic, PENDING), 0);
	assert_int_equal(rd(s->plic, PENDING + 4), 0);
	assert_int_equal(rd(s->plic, CLAIM(0)), 0);
	assert_int_equal(rd(s->plic, CLAIM(1)), 0);
	assert_false(s->lines.level[0]);
	assert_false(s->lines.level[1]);
	assert_int_equal(s->lines.repeats, 0);
	plic_destroy(s->plic);
	free(s);
}


/* --- snapshots (riscv64's arch sections carry the PLIC: no machine hook) --- */

#define SNAP_ARCH 243
#define TAG_PLIC  SNAP_TAG('P', 'L', 'I', 'C')

/* (plic)'s saved section, as bytes in (*out), (*len) of them. */
static void save_bytes(struct plic *plic, uint8_t **out, size_t *len)
{
	struct snap_writer w;
	struct snap_file f;
	const struct snap_section *sec;
	char why[256];

	snap_writer_init(&w, SNAP_ARCH, "test");
	snap_begin(&w, TAG_PLIC, 0);
	plic_save(plic, &w);
	snap_end(&w);
	assert_int_equal(snap_writer_finish(&w), 0);
	assert_int_equal(snap_parse(&f, w.buf, w.len, SNAP_ARCH, why, sizeof(why)), 0);
	sec = snap_find(&f, TAG_PLIC, 0);
	assert_non_null(sec);
	*out = malloc(sec->len);
	assert_non_null(*out);
	memcpy(*out, sec->data, sec->len);
	*len = sec->len;
	snap_writer_free(&w);
}

/*
 * (data, len) as a state file's PLIC section, restored into (plic) and read to its end:
 * 0, or -EINVAL with the reason in (why).
 */
static int load_bytes(struct plic *plic, const void *data, size_t len, char *why,
		      size_t why_len)
{
	struct snap_writer w;
	struct snap_file f;
	struct snap_cursor c;
	int ret;

	snap_writer_init(&w, SNAP_ARCH, "test");
	snap_begin(&w, TAG_PLIC, 0);
	snap_put_bytes(&w, data, len);
	snap_end(&w);
	assert_int_equal(snap_writer_finish(&w), 0);
	assert_int_equal(snap_parse(&f, w.buf, w.len, SNAP_ARCH, why, why_len), 0);
	*why = '\0';
	snap_cursor_init(&c, snap_find(&f, TAG_PLIC, 0));
	ret = plic_restore(plic, &c, why, why_len);
	if (!ret)
		ret = snap_cursor_end(&c, why, why_len);
	snap_writer_free(&w);
	return ret;
}

/* Every register the guest can read without side effects, of (a) and (b), is the same. */
static void assert_same_registers(struct plic *a, struct plic *b, unsigned int nr_contexts)
{
	unsigned int i, c;

	for (i = 1; i < PLIC_NR_SOURCES; i++)
		assert_int_equal(rd(a, 4 * i), rd(b, 4 * i));
	for (i = 0; i < 2; i++)
		assert_int_equal(rd(a, PENDING + 4 * i), rd(b, PENDING + 4 * i));
	for (c = 0; c < nr_contexts; c++) {
		assert_int_equal(rd(a, THRESHOLD(c)), rd(b, THRESHOLD(c)));
		for (i = 0; i < 2; i++)
			assert_int_equal(rd(a, ENABLE(c) + 4 * i), rd(b, ENABLE(c) + 4 * i));
	}
}

/*
 * A PLIC in the middle of things (a level source high, a source in service with an edge
 * kept for it, edges pending under thresholds, per context enables) restored into a new
 * one: the same registers, every hart told its line once, and the same behaviour after.
 */
static void test_state_round_trip(void **state)
{
	struct lines la, lb;
	struct plic *a = make(3, &la), *b = make(3, &lb);
	uint8_t *data;
	size_t len;
	char why[256];
	unsigned int c;

	(void)state;
	setup_source(a, 0, 5, 3);
	setup_source(a, 0, 40, 6);
	setup_source(a, 1, 40, 6);
	setup_source(a, 1, 7, 2);
	setup_source(a, 2, 63, 1);
	wr(a, THRESHOLD(1), 5);
	wr(a, THRESHOLD(2), 1); /* source 63 (priority 1) cannot pass it */
	plic_trigger(a, 40);
	assert_int_equal(rd(a, CLAIM(0)), 40); /* in service... */
	plic_trigger(a, 40);		       /* ...with an edge kept for it */
	plic_set_level(a, 5, 1);	       /* pending, level high */
	plic_trigger(a, 7);		       /* pending, under context 1's threshold */
	plic_trigger(a, 63);		       /* pending, under context 2's threshold */
	assert_true(la.level[0]);
	assert_false(la.level[1]);

	save_bytes(a, &data, &len);
	assert_int_equal(len, 4 + PLIC_NR_SOURCES + 4 * 8 + 3 * 12);
	assert_int_equal(load_bytes(b, data, len, why, sizeof(why)), 0);
	assert_same_registers(a, b, 3);
	/* Every hart hears its line once, the low ones too. */
	for (c = 0; c < 3; c++) {
		assert_int_equal(lb.calls[c], 1);
		assert_int_equal(lb.level[c], la.level[c]);
	}
	/* Both go on alike: completing 40 brings its kept edge back, then 5, then nothing. */
	wr(a, CLAIM(0), 40);
	wr(b, CLAIM(0), 40);
	assert_same_registers(a, b, 3);
	assert_int_equal(rd(b, CLAIM(1)), 40);
	assert_int_equal(rd(a, CLAIM(1)), 40);
	assert_int_equal(rd(b, CLAIM(0)), 5);
	assert_int_equal(rd(a, CLAIM(0)), 5);
	assert_int_equal(rd(b, CLAIM(0)), 0);
	assert_int_equal(rd(a, CLAIM(0)), 0);
	/* Level 5 is still high in both: its completion makes it pending again. */
	wr(a, CLAIM(0), 5);
	wr(b, CLAIM(0), 5);
	assert_same_registers(a, b, 3);
	for (c = 0; c < 3; c++)
		assert_int_equal(lb.level[c], la.level[c]);
	free(data);
	plic_destroy(a);
	plic_destroy(b);
}

/* An idle PLIC restored raises nothing, and lowers every line once. */
static void test_state_idle(void **state)
{
	struct lines l;
	struct plic *a = make(1, &l), *b;
	uint8_t *data;
	size_t len;
	char why[256];

	(void)state;
	save_bytes(a, &data, &len);
	b = make(1, &l);
	assert_int_equal(load_bytes(b, data, len, why, sizeof(why)), 0);
	assert_int_equal(l.calls[0], 1);
	assert_false(l.level[0]);
	assert_int_equal(rd(b, PENDING), 0);
	free(data);
	plic_destroy(a);
	plic_destroy(b);
}

/* Every prefix of a good state is refused, and so is one byte more. */
static void test_state_truncated(void **state)
{
	struct lines la, lb;
	struct plic *a = make(2, &la), *b;
	uint8_t *data, *longer;
	size_t len, n;
	char why[256];

	(void)state;
	setup_source(a, 1, 3, 2);
	plic_trigger(a, 3);
	save_bytes(a, &data, &len);
	for (n = 0; n < len; n++) {
		b = make(2, &lb);
		if (load_bytes(b, data, n, why, sizeof(why)) != -EINVAL)
			fail_msg("%zu bytes of %zu accepted", n, len);
		assert_non_null(strstr(why, "section PLIC 0: "));
		plic_destroy(b);
	}
	longer = calloc(1, len + 1);
	assert_non_null(longer);
	memcpy(longer, data, len);
	b = make(2, &lb);
	assert_int_equal(load_bytes(b, longer, len + 1, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "1 bytes left over"));
	plic_destroy(b);
	free(longer);
	free(data);
	plic_destroy(a);
}

/* Offsets into a saved state. */
#define OFF_PRIORITY	 4
#define OFF_PENDING	 (OFF_PRIORITY + PLIC_NR_SOURCES)
#define OFF_IN_SERVICE	 (OFF_PENDING + 8)
#define OFF_LEVEL	 (OFF_IN_SERVICE + 8)
#define OFF_EDGE	 (OFF_LEVEL + 8)
#define OFF_ENABLED(c)	 (OFF_EDGE + 8 + 12 * (c))
#define OFF_THRESHOLD(c) (OFF_ENABLED(c) + 8)

/* Each value a hostile file could hold, refused with its name, leaving the PLIC as it was. */
static void test_state_refused(void **state)
{
	static const struct {
		size_t off;
		unsigned int bytes;
		uint64_t val;
		const char *why;
	} bad[] = {
		{ 0, 4, 3, "PLIC contexts" },
		{ 0, 4, 1, "PLIC contexts" },
		{ 0, 4, 0, "PLIC contexts" },
		{ 0, 4, 0xffffffff, "PLIC contexts" },
		{ OFF_PRIORITY, 1, 1, "PLIC priority" }, /* source 0 */
		{ OFF_PRIORITY + 9, 1, PLIC_MAX_PRIORITY + 1, "PLIC priority" },
		{ OFF_PRIORITY + 63, 1, 0xff, "PLIC priority" },
		{ OFF_PENDING, 8, 1, "PLIC source state" },
		{ OFF_IN_SERVICE, 8, 1, "PLIC source state" },
		{ OFF_LEVEL, 8, 1, "PLIC source state" },
		{ OFF_EDGE, 8, 1, "PLIC source state" },
		{ OFF_IN_SERVICE, 8, 1ULL << 3, "PLIC source state" }, /* pending and in service */
		{ OFF_EDGE, 8, 1ULL << 9, "PLIC source state" },	    /* kept, not in service */
		{ OFF_ENABLED(0), 8, 1, "PLIC context" },
		{ OFF_ENABLED(1), 8, 3, "PLIC context" },
		{ OFF_THRESHOLD(0), 4, PLIC_MAX_PRIORITY + 1, "PLIC context" },
		{ OFF_THRESHOLD(1), 4, 0x80000000u, "PLIC context" },
	};
	struct lines la, lb;
	struct plic *a = make(2, &la), *b = make(2, &lb);
	uint8_t *data, *copy;
	size_t len;
	unsigned int i;
	char why[256];

	(void)state;
	setup_source(a, 0, 3, 2);
	plic_trigger(a, 3); /* pending: the in-service case above collides with it */
	setup_source(b, 1, 9, 4);
	save_bytes(a, &data, &len);
	assert_int_equal(len, (size_t)OFF_THRESHOLD(1) + 4);
	copy = malloc(len);
	assert_non_null(copy);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(copy, data, len);
		put_le(copy + bad[i].off, bad[i].val, bad[i].bytes);
		assert_int_equal(load_bytes(b, copy, len, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("case %u: \"%s\" does not name \"%s\"", i, why, bad[i].why);
		/* Refused before anything changed: b is still as it was set up. */
		assert_int_equal(rd(b, 4 * 9), 4);
		assert_int_equal(rd(b, PENDING), 0);
		assert_int_equal(lb.total, 0);
	}
	/* A PLIC of another size refuses a good state. */
	plic_destroy(b);
	b = make(3, &lb);
	assert_int_equal(load_bytes(b, data, len, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "PLIC contexts"));
	free(copy);
	free(data);
	plic_destroy(a);
	plic_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_limits),
		cmocka_unit_test(test_priority_zero_never),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_enable_per_context),
		cmocka_unit_test(test_claim_order),
		cmocka_unit_test(test_claim_nothing),
		cmocka_unit_test(test_claim_clears_pending),
		cmocka_unit_test(test_level_sources),
		cmocka_unit_test(test_edge_during_service),
		cmocka_unit_test(test_complete_not_enabled),
		cmocka_unit_test(test_pending_register),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_callback_only_on_change),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_idle),
		cmocka_unit_test(test_state_truncated),
		cmocka_unit_test(test_state_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
