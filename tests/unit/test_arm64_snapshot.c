/*
 * The arm64 sections of a snapshot (src/arch/aarch64/snapshot_format.c), built for the
 * host: synthetic sections as arch_snapshot_save lays them out are accepted, and every
 * truncation, every bit flip and each hostile value is read without a crash and refused
 * where it is wrong. Each section lives alone in the heap, so a read past it is the
 * sanitizer's to catch (make ASAN=1 unit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/aarch64/snapshot_format.h"
#include "util/util.h"

/* arm64 register ids as KVM lists them (arm64's uapi is not the host's). */
#define REG_CORE(off)  (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | 0x0010ULL << 16 | (off))
#define REG_VREG(n)    (KVM_REG_ARM64 | KVM_REG_SIZE_U128 | 0x0010ULL << 16 | (0x54 + 4 * (n)))
#define REG_FPSR       (KVM_REG_ARM64 | KVM_REG_SIZE_U32 | 0x0010ULL << 16 | 0xd4)
#define REG_SYS(enc)   (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | 0x0013ULL << 16 | (enc))
#define REG_SVE_Z0     (KVM_REG_ARM64 | KVM_REG_SIZE_U2048 | 0x0015ULL << 16)
#define REG_TIMER_CNT  REG_SYS(0xdf1a) /* ARM64_SYS_REG(3, 3, 14, 3, 2) */

#define MAX_SECTIONS (1 + 2 * ARCH_MAX_VCPUS)

/* A file's arm64 sections, each payload alone in the heap. */
struct synth {
	struct snap_file *f;
	uint8_t *data[MAX_SECTIONS];
};

/* The payload of the one section (w) holds, copied out into the heap. */
static uint8_t *payload_of(struct snap_writer *w, uint32_t tag, uint32_t *len)
{
	struct snap_file *f = malloc(sizeof(*f));
	const struct snap_section *s;
	char why[256];
	uint8_t *p;

	assert_non_null(f);
	assert_int_equal(snap_writer_finish(w), 0);
	assert_int_equal(snap_parse(f, w->buf, w->len, ARCH_ELF_MACHINE, why, sizeof(why)), 0);
	s = snap_find(f, tag, 0);
	assert_non_null(s);
	*len = s->len;
	p = malloc(s->len ? s->len : 1);
	assert_non_null(p);
	memcpy(p, s->data, s->len);
	free(f);
	snap_writer_free(w);
	return p;
}

static void add_section(struct synth *s, uint32_t tag, uint32_t instance, uint8_t *data,
			uint32_t len)
{
	unsigned int n = s->f->nr_sections++;

	assert_true(n < MAX_SECTIONS);
	s->data[n] = data;
	s->f->sections[n] = (struct snap_section){ tag, instance, data, len };
}

/* A list of every register of (group), or of every other one (sparse: some left out). */
static void put_list(struct snap_writer *w, enum arm_gic_version v, enum arm_gic_group group,
		     bool sparse)
{
	const struct arm_gic_table *t = arm_gic_table(v, group);
	unsigned int i, n = 0, size = arm_gic_table_size(t);
	const struct arm_gic_range *range;
	uint32_t keys[512];
	uint64_t values[512];

	assert_true(size <= 512);
	for (i = 0; i < size; i++) {
		if (sparse && i % 2)
			continue;
		keys[n] = arm_gic_table_key(t, i, &range);
		values[n] = t->wide ? 0x8000000000000000ULL | i : 0x80000000u | i;
		n++;
	}
	arm_gic_list_put(w, keys, values, n);
}

static void put_reg(struct snap_writer *w, uint64_t id, uint8_t fill)
{
	uint8_t value[ARM_SNAP_MAX_REG_BYTES];

	memset(value, fill, sizeof(value));
	snap_put_u64(w, id);
	snap_put_bytes(w, value, arm_reg_size(id));
}

/* The sections of a VM of (nr_vcpus) on a GIC of (v), as arch_snapshot_save writes them. */
static void synth_build(struct synth *s, enum arm_gic_version v, unsigned int nr_vcpus,
			bool sparse)
{
	static const uint64_t regs[] = { REG_CORE(0),	 REG_CORE(0x40), REG_CORE(0x42),
					 REG_VREG(0),	 REG_VREG(31),	 REG_FPSR,
					 REG_SYS(0xc005), REG_TIMER_CNT, REG_SVE_Z0 };
	struct snap_writer w;
	unsigned int i, r;
	uint32_t len;
	uint8_t *p;

	memset(s, 0, sizeof(*s));
	s->f = calloc(1, sizeof(*s->f));
	assert_non_null(s->f);
	s->f->arch = ARCH_ELF_MACHINE;
	snap_writer_init(&w, ARCH_ELF_MACHINE, "unit");
	snap_begin(&w, ARM_TAG_GIC, 0);
	snap_put_u8(&w, v);
	snap_put_u32(&w, ARM_GIC_NR_IRQS);
	put_list(&w, v, ARM_GIC_DIST, sparse);
	put_list(&w, v, ARM_GIC_LEVELS, sparse);
	snap_end(&w);
	p = payload_of(&w, ARM_TAG_GIC, &len);
	add_section(s, ARM_TAG_GIC, 0, p, len);
	for (i = 0; i < nr_vcpus; i++) {
		snap_writer_init(&w, ARCH_ELF_MACHINE, "unit");
		snap_begin(&w, ARM_TAG_VCPU, 0);
		snap_put_u32(&w, i ? KVM_MP_STATE_STOPPED : KVM_MP_STATE_RUNNABLE);
		snap_put_u32(&w, ARRAY_SIZE(regs));
		for (r = 0; r < ARRAY_SIZE(regs); r++)
			put_reg(&w, regs[r], (uint8_t)(0x10 * i + r));
		snap_end(&w);
		p = payload_of(&w, ARM_TAG_VCPU, &len);
		add_section(s, ARM_TAG_VCPU, i, p, len);

		snap_writer_init(&w, ARCH_ELF_MACHINE, "unit");
		snap_begin(&w, ARM_TAG_GIC_CPU, 0);
		put_list(&w, v, ARM_GIC_PRIVATE, sparse);
		put_list(&w, v, ARM_GIC_CPUIF, sparse);
		snap_end(&w);
		p = payload_of(&w, ARM_TAG_GIC_CPU, &len);
		add_section(s, ARM_TAG_GIC_CPU, i, p, len);
	}
}

static void synth_free(struct synth *s)
{
	unsigned int i;

	for (i = 0; i < s->f->nr_sections; i++)
		free(s->data[i]);
	free(s->f);
}

/* Section (k) of (s) replaced by (len) bytes of (src), alone in the heap; the old freed. */
static void synth_replace(struct synth *s, unsigned int k, const uint8_t *src, uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, src, len);
	free(s->data[k]);
	s->data[k] = p;
	s->f->sections[k].data = p;
	s->f->sections[k].len = len;
}

static int check(const struct synth *s, unsigned int nr_vcpus, char *why, size_t why_len)
{
	*why = '\0';
	return arm_snapshot_check(s->f, nr_vcpus, why, why_len);
}

static void assert_refused(const struct synth *s, unsigned int nr_vcpus, const char *what)
{
	char why[256];
	int ret = check(s, nr_vcpus, why, sizeof(why));

	if (ret != -EINVAL)
		fail_msg("%s: accepted (%d)", what, ret);
	if (!*why)
		fail_msg("%s: refused without a reason", what);
}

static void assert_accepted(const struct synth *s, unsigned int nr_vcpus)
{
	char why[256];

	if (check(s, nr_vcpus, why, sizeof(why)))
		fail_msg("refused: %s", why);
}

/* Index of section (tag, instance) in (s). */
static unsigned int find(const struct synth *s, uint32_t tag, uint32_t instance)
{
	unsigned int i;

	for (i = 0; i < s->f->nr_sections; i++)
		if (s->f->sections[i].tag == tag && s->f->sections[i].instance == instance)
			return i;
	fail_msg("no section");
	return 0;
}

static void test_tables(void **state)
{
	static const uint32_t frame[2][ARM_GIC_NR_GROUPS] = {
		/* GICv2: 4 KiB distributor, 8 KiB CPU interface */
		{ 0x1000, 0, 0x1000, 0x2000 },
		/* GICv3: 64 KiB distributor, two 64 KiB redistributor frames, 16-bit sysregs */
		{ 0x10000, 1024, 0x20000, 0x10000 },
	};
	enum arm_gic_version v;
	unsigned int g, i;

	(void)state;
	for (v = ARM_GIC_V2; v <= ARM_GIC_V3; v++) {
		for (g = 0; g < ARM_GIC_NR_GROUPS; g++) {
			const struct arm_gic_table *t = arm_gic_table(v, g);
			unsigned int size = arm_gic_table_size(t);

			for (i = 0; i < size; i++) {
				const struct arm_gic_range *r;
				uint32_t key = arm_gic_table_key(t, i, &r);

				assert_true(key < frame[v - ARM_GIC_V2][g]);
				assert_true(r->clear == 0 || (key + r->clear) % 4 == 0);
				assert_true(key + r->clear < frame[v - ARM_GIC_V2][g]);
				if (!t->wide && g != ARM_GIC_LEVELS)
					assert_int_equal(key % 4, 0);
			}
		}
		/* KVM's documented order: GICD_IIDR before all else; enabling last. */
		{
			const struct arm_gic_table *t = arm_gic_table(v, ARM_GIC_DIST);
			const struct arm_gic_range *r;

			assert_int_equal(arm_gic_table_key(t, 0, &r), 0x0008);
			assert_int_equal(arm_gic_table_key(t, arm_gic_table_size(t) - 1, &r), 0);
		}
	}
	/* Every SPI of ARM_GIC_NR_IRQS: one IROUTER, four priority bytes a word... */
	assert_int_equal(arm_gic_table_size(arm_gic_table(ARM_GIC_V3, ARM_GIC_DIST)),
			 1 + 3 + 6 + 24 + 96 + 3 + 3 + 3 + 1);
	assert_int_equal(arm_gic_table_size(arm_gic_table(ARM_GIC_V2, ARM_GIC_DIST)),
			 1 + 3 + 6 + 24 + 24 + 3 + 3 + 3 + 1);
	assert_int_equal(arm_gic_table_size(arm_gic_table(ARM_GIC_V2, ARM_GIC_LEVELS)), 0);
	assert_int_equal(arm_gic_table_size(arm_gic_table(ARM_GIC_V3, ARM_GIC_CPUIF)), 15);
}

static void test_valid(void **state)
{
	static const unsigned int counts[] = { 1, 2, ARM_GICV2_MAX_VCPUS, ARCH_MAX_VCPUS };
	enum arm_gic_version v;
	struct synth s;
	unsigned int i, sparse;

	(void)state;
	for (v = ARM_GIC_V2; v <= ARM_GIC_V3; v++)
		for (sparse = 0; sparse < 2; sparse++)
			for (i = 0; i < ARRAY_SIZE(counts); i++) {
				if (v == ARM_GIC_V2 && counts[i] > ARM_GICV2_MAX_VCPUS)
					continue;
				synth_build(&s, v, counts[i], sparse);
				assert_accepted(&s, counts[i]);
				synth_free(&s);
			}
}

/* What the restore reads back is what was written: the registers and their values. */
static void test_decode(void **state)
{
	struct arm_gic_cpu_state c;
	struct arm_vcpu_state vs;
	struct arm_gic_state g;
	const struct arm_gic_range *r;
	const uint8_t *p, *val;
	struct synth s;
	uint32_t i, key;
	uint64_t id, value;
	char why[256];

	(void)state;
	synth_build(&s, ARM_GIC_V3, 2, false);
	assert_int_equal(arm_decode_gic(s.f, &g, why, sizeof(why)), 0);
	assert_int_equal(g.version, ARM_GIC_V3);
	assert_int_equal(g.dist.n, arm_gic_table_size(arm_gic_table(ARM_GIC_V3, ARM_GIC_DIST)));
	assert_int_equal(g.levels.n, 3);
	for (i = 0; i < g.dist.n; i++) {
		arm_gic_list_entry(&g.dist, arm_gic_table(ARM_GIC_V3, ARM_GIC_DIST), i, &key,
				   &value, &r);
		assert_non_null(r);
		assert_int_equal(value, 0x80000000u | i);
	}
	assert_int_equal(arm_decode_gic_cpu(s.f, ARM_GIC_V3, 1, &c, why, sizeof(why)), 0);
	assert_int_equal(c.cpuif.n, 15);
	arm_gic_list_entry(&c.cpuif, arm_gic_table(ARM_GIC_V3, ARM_GIC_CPUIF), 14, &key, &value,
			   &r);
	assert_int_equal(value, 0x8000000000000000ULL | 14);
	assert_int_equal(arm_decode_vcpu(s.f, 1, &vs, why, sizeof(why)), 0);
	assert_int_equal(vs.mp_state, KVM_MP_STATE_STOPPED);
	assert_int_equal(vs.nr_regs, 9);
	p = vs.regs;
	for (i = 0; i < vs.nr_regs; i++) {
		val = arm_reg_next(&p, &id);
		assert_int_equal(val[0], 0x10 + i);
		assert_int_equal(val[arm_reg_size(id) - 1], 0x10 + i);
	}
	assert_ptr_equal(p, vs.regs + vs.regs_len);
	assert_int_equal(id, REG_SVE_Z0);
	synth_free(&s);
}

/* Every section cut short at every length is refused. */
static void test_truncations(void **state)
{
	enum arm_gic_version v;
	struct synth s;
	unsigned int k;
	uint32_t len, full;
	uint8_t *orig;

	(void)state;
	for (v = ARM_GIC_V2; v <= ARM_GIC_V3; v++) {
		synth_build(&s, v, 2, true);
		for (k = 0; k < s.f->nr_sections; k++) {
			full = s.f->sections[k].len;
			orig = malloc(full);
			assert_non_null(orig);
			memcpy(orig, s.data[k], full);
			for (len = 0; len < full; len++) {
				synth_replace(&s, k, orig, len);
				assert_refused(&s, 2, "a truncated section");
			}
			synth_replace(&s, k, orig, full);
			assert_accepted(&s, 2);
			free(orig);
		}
		synth_free(&s);
	}
}

/* Every bit of every section flipped: read without a crash, accepted or refused with why. */
static void test_bit_flips(void **state)
{
	unsigned int k, refused = 0, total = 0;
	enum arm_gic_version v;
	struct synth s;
	uint32_t i, len;
	uint8_t *copy;
	char why[256];
	int bit, ret;

	(void)state;
	for (v = ARM_GIC_V2; v <= ARM_GIC_V3; v++) {
		synth_build(&s, v, 2, true);
		for (k = 0; k < s.f->nr_sections; k++) {
			len = s.f->sections[k].len;
			copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, s.data[k], len);
			for (i = 0; i < len; i++)
				for (bit = 0; bit < 8; bit++) {
					copy[i] ^= 1u << bit;
					synth_replace(&s, k, copy, len);
					ret = check(&s, 2, why, sizeof(why));
					copy[i] ^= 1u << bit;
					assert_true(ret == 0 || ret == -EINVAL);
					assert_true(ret == 0 || *why);
					refused += ret != 0;
					total++;
				}
			synth_replace(&s, k, copy, len);
			free(copy);
		}
		assert_accepted(&s, 2);
		synth_free(&s);
	}
	/* Counts, keys, versions and ids are checked; register values are the guest's. */
	assert_true(refused > total / 4);
	assert_true(refused < total);
}

/* Overwrite (n) bytes at (off) of section (k). */
static void poke(struct synth *s, unsigned int k, uint32_t off, const void *bytes, size_t n)
{
	uint32_t len = s->f->sections[k].len;
	uint8_t *copy = malloc(len);

	assert_non_null(copy);
	assert_true(off + n <= len);
	memcpy(copy, s->data[k], len);
	memcpy(copy + off, bytes, n);
	synth_replace(s, k, copy, len);
	free(copy);
}

static void poke32(struct synth *s, unsigned int k, uint32_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	poke(s, k, off, b, 4);
}

static void poke64(struct synth *s, unsigned int k, uint32_t off, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	poke(s, k, off, b, 8);
}

/* Offsets in the AGIC payload: version, interrupts, the distributor list. */
#define GIC_VERSION   0
#define GIC_NR_IRQS   1
#define GIC_DIST_N    5
#define GIC_DIST_E(i) (9 + ARM_GIC_LIST_ENTRY * (i))

static void test_gic_refusals(void **state)
{
	const struct arm_gic_table *t = arm_gic_table(ARM_GIC_V3, ARM_GIC_DIST);
	const struct arm_gic_range *r;
	struct synth s;
	unsigned int g;
	uint8_t b;

	(void)state;
#define CASE(what, ...)                                       \
	do {                                                  \
		synth_build(&s, ARM_GIC_V3, 2, false);        \
		g = find(&s, ARM_TAG_GIC, 0);                 \
		__VA_ARGS__;                                  \
		assert_refused(&s, 2, what);                  \
		synth_free(&s);                               \
	} while (0)
	CASE("version 4", b = 4; poke(&s, g, GIC_VERSION, &b, 1));
	CASE("version 0", b = 0; poke(&s, g, GIC_VERSION, &b, 1));
	CASE("256 interrupts", poke32(&s, g, GIC_NR_IRQS, 256));
	CASE("more registers than the table", poke32(&s, g, GIC_DIST_N, 141));
	CASE("a huge count", poke32(&s, g, GIC_DIST_N, 0xffffffff));
	CASE("an unknown key", poke32(&s, g, GIC_DIST_E(3), 0x0ffc));
	CASE("a key twice",
	     poke32(&s, g, GIC_DIST_E(4), arm_gic_table_key(t, 3, &r)));
	CASE("keys out of order", poke32(&s, g, GIC_DIST_E(0), 0));
	CASE("a value wider than 32 bits", poke64(&s, g, GIC_DIST_E(7) + 4, 1ULL << 32));
	CASE("a key between two registers", poke32(&s, g, GIC_DIST_E(1), 0x0086));
	CASE("no AGIC section", s.f->sections[g].tag = SNAP_TAG('X', 'G', 'I', 'C'));
#undef CASE
	/* A GICv2 has no line levels, and serves 8 vCPUs at most. */
	synth_build(&s, ARM_GIC_V3, 2, false);
	g = find(&s, ARM_TAG_GIC, 0);
	b = ARM_GIC_V2;
	poke(&s, g, GIC_VERSION, &b, 1);
	assert_refused(&s, 2, "a GICv3 section read as GICv2");
	synth_free(&s);
	synth_build(&s, ARM_GIC_V2, ARM_GICV2_MAX_VCPUS + 1, false);
	assert_refused(&s, ARM_GICV2_MAX_VCPUS + 1, "9 vCPUs on a GICv2");
	synth_free(&s);
}

static void test_vcpu_refusals(void **state)
{
	struct synth s;
	unsigned int k;

	(void)state;
#define CASE(what, ...)                                       \
	do {                                                  \
		synth_build(&s, ARM_GIC_V3, 2, true);         \
		k = find(&s, ARM_TAG_VCPU, 1);                \
		__VA_ARGS__;                                  \
		assert_refused(&s, 2, what);                  \
		synth_free(&s);                               \
	} while (0)
	CASE("MP state 1 (not arm64's)", poke32(&s, k, 0, KVM_MP_STATE_UNINITIALIZED));
	CASE("MP state 0xff", poke32(&s, k, 0, 0xff));
	CASE("one register more than there is", poke32(&s, k, 4, 10));
	CASE("one register less than there is", poke32(&s, k, 4, 8));
	CASE("a register count over the limit", poke32(&s, k, 4, ARM_SNAP_MAX_REGS + 1));
	CASE("an x86 register id",
	     poke64(&s, k, 8, KVM_REG_X86 | KVM_REG_SIZE_U64 | 0x10));
	CASE("a 2-byte register", poke64(&s, k, 8, KVM_REG_ARM64 | KVM_REG_SIZE_U16));
	CASE("a 512-byte register", poke64(&s, k, 8, KVM_REG_ARM64 | 9ULL << KVM_REG_SIZE_SHIFT));
	CASE("a 32-KiB register",
	     poke64(&s, k, 8, KVM_REG_ARM64 | KVM_REG_SIZE_MASK));
	/* A 64-bit register said to be 128 bits wide: the sizes no longer add up. */
	CASE("a register's size changed",
	     poke64(&s, k, 8, (REG_CORE(0) & ~KVM_REG_SIZE_MASK) | KVM_REG_SIZE_U128));
	CASE("a vCPU section missing", s.f->sections[k].instance = 7);
	CASE("a vGIC CPU section missing",
	     s.f->sections[find(&s, ARM_TAG_GIC_CPU, 0)].instance = 9);
#undef CASE
	/* The vCPU count is the configuration's: more or fewer sections than it says. */
	synth_build(&s, ARM_GIC_V3, 3, true);
	assert_refused(&s, 2, "three vCPU states for two vCPUs");
	assert_refused(&s, 4, "three vCPU states for four vCPUs");
	assert_refused(&s, 0, "no vCPU");
	synth_free(&s);
	synth_build(&s, ARM_GIC_V3, ARCH_MAX_VCPUS, true);
	assert_refused(&s, ARCH_MAX_VCPUS + 1, "more vCPUs than an arm64 VM has");
	synth_free(&s);
}

static void test_config(void **state)
{
	static const uint8_t good[] = { 0, ARM_GIC_V2, ARM_GIC_V3 };
	static const uint8_t bad[] = { 1, 4, 0xff };
	struct snap_section sec;
	struct snap_writer w;
	struct arch_config cfg;
	struct snap_cursor c;
	char why[256];
	uint32_t len;
	uint8_t *p;
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		snap_writer_init(&w, ARCH_ELF_MACHINE, "unit");
		snap_begin(&w, ARM_TAG_GIC, 0);
		cfg.gic = good[i];
		arm_config_save(&cfg, &w);
		snap_end(&w);
		p = payload_of(&w, ARM_TAG_GIC, &len);
		assert_int_equal(len, 1);
		sec = (struct snap_section){ ARM_TAG_GIC, 0, p, len };
		snap_cursor_init(&c, &sec);
		memset(&cfg, 0x55, sizeof(cfg));
		arm_config_load(&cfg, &c);
		assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), 0);
		assert_int_equal(cfg.gic, good[i]);
		free(p);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		sec = (struct snap_section){ ARM_TAG_GIC, 0, &bad[i], 1 };
		snap_cursor_init(&c, &sec);
		arm_config_load(&cfg, &c);
		assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "GIC"));
	}
	/* Nothing left to read: the cursor goes bad, the config stays sane. */
	sec = (struct snap_section){ ARM_TAG_GIC, 0, bad, 0 };
	snap_cursor_init(&c, &sec);
	arm_config_load(&cfg, &c);
	assert_int_equal(cfg.gic, 0);
	assert_int_equal(snap_cursor_end(&c, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),	     cmocka_unit_test(test_valid),
		cmocka_unit_test(test_decode),	     cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_bit_flips),    cmocka_unit_test(test_gic_refusals),
		cmocka_unit_test(test_vcpu_refusals), cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
