/*
 * The riscv64 sections of a snapshot's state file, read as untrusted input without KVM
 * (src/arch/riscv64/snapshot_format.c, built for the host): good files pass, and every
 * bad count, id, size, order, value and truncation is refused with its name, never read
 * past.
 */
#include <errno.h>
#include <stdio.h>

#include "arch/riscv64/snapshot_format.h"
#include "devices/plic.h"
#include "snapshot/stream.h"
#include "unit.h"
#include "util/util.h"

#define SNAP_ARCH 243

#define U32 RISCV_REG_U32
#define U64 RISCV_REG_U64
#define REG(size, type, index) RISCV_REG_ID(size, type, 0, index)

/* A section being built. */
struct sec {
	uint32_t tag, instance;
	uint8_t buf[1 << 16];
	size_t len;
};

static void sec_init(struct sec *s, uint32_t tag, uint32_t instance)
{
	s->tag = tag;
	s->instance = instance;
	s->len = 0;
}

static void sec_put(struct sec *s, uint64_t v, unsigned int bytes)
{
	assert_true(s->len + bytes <= sizeof(s->buf));
	put_le(s->buf + s->len, v, bytes);
	s->len += bytes;
}

/* A register of (id) whose value's bytes are (v) repeated: KVM_REG_BYTES(id) of them. */
static void sec_reg(struct sec *s, uint64_t id, uint64_t v)
{
	unsigned int size = RISCV_REG_BYTES(id), i;

	sec_put(s, id, 8);
	for (i = 0; i < size; i += 8)
		sec_put(s, v, size - i < 8 ? size - i : 8);
}

/* A state file of these sections, parsed into (f); the writer keeps its bytes. */
struct file {
	struct snap_writer w;
	struct snap_file f;
};

static void file_make(struct file *fl, struct sec **secs, unsigned int n)
{
	char why[256];
	unsigned int i;

	snap_writer_init(&fl->w, SNAP_ARCH, "test");
	for (i = 0; i < n; i++) {
		snap_begin(&fl->w, secs[i]->tag, secs[i]->instance);
		snap_put_bytes(&fl->w, secs[i]->buf, secs[i]->len);
		snap_end(&fl->w);
	}
	assert_int_equal(snap_writer_finish(&fl->w), 0);
	if (snap_parse(&fl->f, fl->w.buf, fl->w.len, SNAP_ARCH, why, sizeof(why)))
		fail_msg("snap_parse: %s", why);
}

static void file_free(struct file *fl)
{
	snap_writer_free(&fl->w);
}

/* What a vCPU's KVM gives on 6.1: config, core, CSRs, timer, F and D, ISA extensions. */
static void vcpu_section(struct sec *s, unsigned int id, uint32_t mp, uint64_t time)
{
	unsigned int i, nr = 0;
	size_t count_at;

	sec_init(s, RISCV_TAG_VCPU, id);
	sec_put(s, mp, 4);
	count_at = s->len;
	sec_put(s, 0, 4);
	sec_reg(s, REG(U64, RISCV_REG_CONFIG, 0), 0x112d), nr++; /* isa: imafdc */
	for (i = 0; i < RISCV_CORE_NR; i++, nr++)
		sec_reg(s, REG(U64, RISCV_REG_CORE, i), 0x80200000 + i);
	for (i = 0; i < 10; i++, nr++)
		sec_reg(s, REG(U64, RISCV_REG_CSR, i), i);
	sec_reg(s, RISCV_REG_ID(U64, RISCV_REG_CSR, 1, 0), 0), nr++; /* AIA siselect */
	sec_reg(s, REG(U64, RISCV_REG_TIMER, RISCV_TIMER_FREQ), 10000000), nr++;
	sec_reg(s, REG(U64, RISCV_REG_TIMER, RISCV_TIMER_TIME), time), nr++;
	sec_reg(s, REG(U64, RISCV_REG_TIMER, RISCV_TIMER_COMPARE), time + 100000), nr++;
	sec_reg(s, REG(U64, RISCV_REG_TIMER, RISCV_TIMER_STATE), RISCV_TIMER_ON), nr++;
	for (i = 0; i < RISCV_FP_NR; i++, nr++)
		sec_reg(s, REG(U32, RISCV_REG_FP_F, i), i);
	for (i = 0; i < RISCV_FP_NR - 1; i++, nr++)
		sec_reg(s, REG(U64, RISCV_REG_FP_D, i), 0x4000000000000000ULL | i);
	sec_reg(s, REG(U32, RISCV_REG_FP_D, RISCV_FP_NR - 1), 0x20), nr++;
	sec_reg(s, REG(U64, RISCV_REG_ISA_EXT, 8), 1), nr++;  /* Sstc */
	sec_reg(s, REG(U64, RISCV_REG_ISA_EXT, 11), 0), nr++; /* Zicbom, switched off */
	sec_reg(s, REG(U64, RISCV_REG_SBI_EXT, 9), 1), nr++;  /* DBCN */
	put_le32(s->buf + count_at, nr);
}

/* An idle PLIC's state for (nr) contexts, with something pending. */
static void plic_section(struct sec *s, unsigned int nr)
{
	struct snap_writer w;
	struct snap_file f;
	const struct snap_section *p;
	struct plic *plic = plic_create(nr, NULL, NULL, NULL);
	uint32_t one = 1;
	char why[256];

	assert_non_null(plic);
	plic_ops.write(plic, 4 * 3, &one, 4);
	plic_trigger(plic, 3);
	snap_writer_init(&w, SNAP_ARCH, "test");
	snap_begin(&w, RISCV_TAG_PLIC, 0);
	plic_save(plic, &w);
	snap_end(&w);
	assert_int_equal(snap_writer_finish(&w), 0);
	assert_int_equal(snap_parse(&f, w.buf, w.len, SNAP_ARCH, why, sizeof(why)), 0);
	p = snap_find(&f, RISCV_TAG_PLIC, 0);
	sec_init(s, RISCV_TAG_PLIC, 0);
	memcpy(s->buf, p->data, p->len);
	s->len = p->len;
	snap_writer_free(&w);
	plic_destroy(plic);
}

/* Offsets into aia_section's bytes. */
#define AIA_OFF_SOURCES	  0
#define AIA_OFF_IDS	  4
#define AIA_OFF_HARTS	  8
#define AIA_OFF_DOMAINCFG 12
#define AIA_OFF_SOURCE(i) (16 + 8 * ((i) - 1))
#define AIA_OFF_WORDS	  AIA_OFF_SOURCE(RISCV_SNAP_AIA_SOURCES + 1)
#define AIA_OFF_HART(h)	  (AIA_OFF_WORDS + 12 * RISCV_AIA_WORDS + (h) * (16 + 16 * 4))

/* KVM's AIA with 255 identities (4 words of 64) for (harts) harts. */
static void aia_section(struct sec *s, unsigned int harts)
{
	unsigned int i, h;

	sec_init(s, RISCV_TAG_AIA, 0);
	sec_put(s, RISCV_SNAP_AIA_SOURCES, 4);
	sec_put(s, 255, 4);
	sec_put(s, harts, 4);
	sec_put(s, 0x80000104, 4); /* domaincfg: read-only bit, IE, DM */
	for (i = 1; i <= RISCV_SNAP_AIA_SOURCES; i++) {
		sec_put(s, 4, 4);			     /* rising edge */
		sec_put(s, (i % harts) << 18 | (i + 32), 4); /* hart, identity */
	}
	for (i = 0; i < RISCV_AIA_WORDS; i++) {
		sec_put(s, i ? 0 : 1u << 9, 4); /* pending */
		sec_put(s, 0xfffffffe, 4);	/* enabled */
		sec_put(s, 0, 4);		/* input */
	}
	for (h = 0; h < harts; h++) {
		sec_put(s, 1, 8);
		sec_put(s, 0, 8);
		for (i = 0; i < 4; i++) {
			sec_put(s, i == 1 ? 1ULL << 9 : 0, 8);
			sec_put(s, ~0ULL << (i ? 0 : 1), 8);
		}
	}
	assert_int_equal(s->len, (size_t)AIA_OFF_HART(harts));
}

/* riscv_snapshot_check over these sections for (nr_vcpus); its verdict, why in (why). */
static int check(struct sec **secs, unsigned int n, unsigned int nr_vcpus, char *why,
		 size_t why_len)
{
	struct file fl;
	int ret;

	file_make(&fl, secs, n);
	*why = '\0';
	ret = riscv_snapshot_check(&fl.f, nr_vcpus, why, why_len);
	file_free(&fl);
	return ret;
}

#define assert_refused(secs, n, nr_vcpus, what)                                           \
	do {                                                                              \
		char why_[256];                                                           \
		if (check(secs, n, nr_vcpus, why_, sizeof(why_)) != -EINVAL)              \
			fail_msg("accepted, expected \"%s\"", what);                      \
		if (!strstr(why_, what))                                                  \
			fail_msg("\"%s\" does not say \"%s\"", why_, what);               \
	} while (0)

struct rig {
	struct sec v0, v1, v2, chip;
};

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	vcpu_section(&r->v0, 0, RISCV_MP_RUNNABLE, 5000000);
	vcpu_section(&r->v1, 1, RISCV_MP_STOPPED, 5000100);
	vcpu_section(&r->v2, 2, RISCV_MP_RUNNABLE, 1);
	plic_section(&r->chip, 2);
	return r;
}

static void test_good_files(void **state)
{
	struct rig *r = rig_new();
	struct sec *secs[] = { &r->v0, &r->v1, &r->chip };
	struct sec aia;
	char why[256];

	(void)state;
	assert_int_equal(check(secs, 3, 2, why, sizeof(why)), 0);
	/* Any order of sections. */
	secs[0] = &r->chip, secs[2] = &r->v0;
	assert_int_equal(check(secs, 3, 2, why, sizeof(why)), 0);
	/* The AIA instead of the PLIC. */
	aia_section(&aia, 2);
	secs[0] = &aia;
	assert_int_equal(check(secs, 3, 2, why, sizeof(why)), 0);
	free(r);
}

/* The registers come back as they were written, in order, and the time is found. */
static void test_decode_registers(void **state)
{
	struct rig *r = rig_new();
	struct sec *secs[] = { &r->v0, &r->v1, &r->chip };
	struct riscv_vcpu_state v;
	struct riscv_reg reg;
	struct file fl;
	unsigned int n = 0, fp_d = 0;
	size_t off = 0;
	char why[256];

	(void)state;
	file_make(&fl, secs, 3);
	assert_int_equal(riscv_decode_vcpu(&fl.f, 1, &v, why, sizeof(why)), 0);
	assert_int_equal(v.mp_state, RISCV_MP_STOPPED);
	assert_int_equal(v.time, 5000100);
	while (riscv_next_reg(&v, &off, &reg)) {
		n++;
		if (reg.id == REG(U64, RISCV_REG_CORE, 0))
			assert_int_equal(riscv_reg_value(&reg), 0x80200000);
		if (RISCV_REG_TYPE(reg.id) == RISCV_REG_FP_D) {
			fp_d++;
			assert_int_equal(reg.size, fp_d == RISCV_FP_NR ? 4 : 8);
		}
	}
	assert_int_equal(n, v.nr_regs);
	assert_int_equal(fp_d, RISCV_FP_NR);
	assert_int_equal(off, v.regs_len);
	/* A vCPU the file does not have. */
	assert_int_equal(riscv_decode_vcpu(&fl.f, 2, &v, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no state for vCPU 2"));
	file_free(&fl);
	free(r);
}

static void test_reg_ids(void **state)
{
	static const struct {
		uint64_t id;
		bool ok;
	} ids[] = {
		{ REG(U64, RISCV_REG_CONFIG, 0), true },
		{ REG(U64, RISCV_REG_CONFIG, 15), true },
		{ REG(U32, RISCV_REG_CONFIG, 0), false },
		{ REG(U64, RISCV_REG_CORE, 32), true },
		{ REG(U64, RISCV_REG_CORE, 33), false },
		{ RISCV_REG_ID(U64, RISCV_REG_CORE, 1, 0), false },
		{ RISCV_REG_ID(U64, RISCV_REG_CSR, 2, 0), true },
		{ REG(U64, RISCV_REG_TIMER, 3), true },
		{ REG(U64, RISCV_REG_TIMER, 4), false },
		{ REG(U32, RISCV_REG_FP_F, 32), true },
		{ REG(U64, RISCV_REG_FP_F, 0), false },
		{ REG(U32, RISCV_REG_FP_F, 33), false },
		{ REG(U64, RISCV_REG_FP_D, 31), true },
		{ REG(U32, RISCV_REG_FP_D, 31), false },
		{ REG(U32, RISCV_REG_FP_D, 32), true },
		{ REG(U64, RISCV_REG_FP_D, 32), false },
		{ REG(U64, RISCV_REG_VECTOR, 4), true },
		{ REG(U64, RISCV_REG_VECTOR, 5), false },
		{ REG(4ULL << 52, RISCV_REG_VECTOR, 6), true },	  /* VLEN 128 */
		{ REG(13ULL << 52, RISCV_REG_VECTOR, 37), true }, /* VLEN 65536 */
		{ REG(14ULL << 52, RISCV_REG_VECTOR, 37), false },
		{ REG(U32, RISCV_REG_VECTOR, 6), false },
		{ REG(4ULL << 52, RISCV_REG_VECTOR, 38), false },
		{ RISCV_REG_ID(U64, RISCV_REG_SBI_STATE, 3, 31), true },
		{ REG(U64, 0, 0), false },
		{ REG(U64, 11, 0), false },
		{ REG(U64, 0xff, 0), false },
		{ REG(U64, RISCV_REG_ISA_EXT, 0) & ~RISCV_REG_ARCH, false },
		{ REG(U64, RISCV_REG_ISA_EXT, 0) | 0x6000000000000000ULL, false }, /* arm64's */
		{ REG(U64, RISCV_REG_ISA_EXT, 0) | 1ULL << 40, false },
		{ REG(U64, RISCV_REG_ISA_EXT, 0) | 1ULL << 32, false },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		if (riscv_reg_id_ok(ids[i].id) != ids[i].ok)
			fail_msg("id 0x%llx: expected %s", (unsigned long long)ids[i].id,
				 ids[i].ok ? "good" : "bad");
}

/* Rewrite register (nth) of a vCPU section to have (id): the value keeps its old size. */
static void set_reg_id(struct sec *s, unsigned int nth, uint64_t id)
{
	size_t off = 8;
	unsigned int i;

	for (i = 0; i < nth; i++)
		off += 8 + RISCV_REG_BYTES(get_le64(s->buf + off));
	put_le64(s->buf + off, id);
}

static void test_vcpu_refused(void **state)
{
	struct rig *r = rig_new();
	struct sec *secs[] = { &r->v0, &r->v1, &r->chip, &r->v2 };
	struct sec saved;

	(void)state;
	assert_refused(secs, 3, 3, "no state for vCPU 2");
	assert_refused(secs, 4, 2, "3 vCPU states for 2 vCPUs");
	secs[1] = &r->v2; /* instance 2, no 1 */
	assert_refused(secs, 3, 2, "no state for vCPU 1");
	secs[1] = &r->v1;

	saved = r->v0;
	put_le32(r->v0.buf, 3);
	assert_refused(secs, 3, 2, "bad MP state");
	r->v0 = saved;
	put_le32(r->v0.buf + 4, RISCV_SNAP_MAX_REGS + 1);
	assert_refused(secs, 3, 2, "bad register count");
	r->v0 = saved;
	put_le32(r->v0.buf + 4, get_le32(r->v0.buf + 4) + 1);
	assert_refused(secs, 3, 2, "truncated");
	r->v0 = saved;
	put_le32(r->v0.buf + 4, get_le32(r->v0.buf + 4) - 1);
	assert_refused(secs, 3, 2, "16 bytes left over");
	r->v0 = saved;
	r->v0.len -= 3;
	assert_refused(secs, 3, 2, "truncated");
	r->v0 = saved;
	set_reg_id(&r->v0, 3, REG(U64, 12, 0));
	assert_refused(secs, 3, 2, "bad register id");
	r->v0 = saved;
	set_reg_id(&r->v0, 1, REG(U64, RISCV_REG_CONFIG, 0)); /* config 0 twice */
	assert_refused(secs, 3, 2, "bad register order");
	r->v0 = saved;
	set_reg_id(&r->v0, 2, REG(U64, RISCV_REG_CORE, 5)); /* core 5 before core 2 */
	assert_refused(secs, 3, 2, "bad register order");
	r->v0 = saved;
	/* A 64-bit id where a 32-bit value is: the sizes no longer add up. */
	set_reg_id(&r->v0, 1 + RISCV_CORE_NR + 11 + 4, REG(U64, RISCV_REG_FP_F, 0));
	assert_refused(secs, 3, 2, "bad register id");
	r->v0 = saved;
	/* A timer register with a subtype. */
	set_reg_id(&r->v0, 1 + RISCV_CORE_NR + 11 + 1, REG(U64, RISCV_REG_TIMER, 0) | 0x10000);
	assert_refused(secs, 3, 2, "bad register id");
	r->v0 = saved;
	{
		/* Without its timer's time: the guest's clock could not go on. */
		struct sec *s = &r->v0;
		size_t at = 8;
		unsigned int i;

		for (i = 0; i < 1 + RISCV_CORE_NR + 11 + 1; i++)
			at += 8 + RISCV_REG_BYTES(get_le64(s->buf + at));
		memmove(s->buf + at, s->buf + at + 16, s->len - at - 16);
		s->len -= 16;
		put_le32(s->buf + 4, get_le32(s->buf + 4) - 1);
		assert_refused(secs, 3, 2, "no time register");
	}
	free(r);
}

static void test_irqchip_refused(void **state)
{
	struct rig *r = rig_new();
	struct sec *secs[] = { &r->v0, &r->v1, &r->chip, NULL };
	struct sec aia, plic3, saved;

	(void)state;
	assert_refused(secs, 2, 2, "no interrupt controller state");
	aia_section(&aia, 2);
	secs[3] = &aia;
	assert_refused(secs, 4, 2, "more than one interrupt controller");
	plic_section(&plic3, 3);
	secs[2] = &plic3;
	assert_refused(secs, 3, 2, "PLIC contexts");
	r->chip.instance = 1;
	secs[2] = &r->chip;
	assert_refused(secs, 3, 2, "no PLIC state");
	r->chip.instance = 0;
	r->chip.buf[4 + 1] = PLIC_MAX_PRIORITY + 1;
	assert_refused(secs, 3, 2, "PLIC priority");

	secs[2] = &aia;
	saved = aia;
	assert_refused(secs, 3, 3, "no state for vCPU 2");
	put_le32(aia.buf + AIA_OFF_SOURCES, 64);
	assert_refused(secs, 3, 2, "AIA: number of sources");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_IDS, 100);
	assert_refused(secs, 3, 2, "AIA: number of IMSIC identities");
	put_le32(aia.buf + AIA_OFF_IDS, 2047 + 2048);
	assert_refused(secs, 3, 2, "AIA: number of IMSIC identities");
	put_le32(aia.buf + AIA_OFF_IDS, 31);
	assert_refused(secs, 3, 2, "AIA: number of IMSIC identities");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_IDS, 2047); /* more words than the file has */
	assert_refused(secs, 3, 2, "RAIA 0: ");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_IDS, 63); /* fewer: the words after are misread */
	assert_refused(secs, 3, 2, "RAIA 0: ");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_HARTS, 1);
	assert_refused(secs, 3, 2, "AIA: number of harts");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_DOMAINCFG, 0x80000105);
	assert_refused(secs, 3, 2, "APLIC domaincfg");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_SOURCE(7), 8);
	assert_refused(secs, 3, 2, "APLIC sourcecfg");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_SOURCE(63) + 4, 1u << 11);
	assert_refused(secs, 3, 2, "APLIC target");
	aia = saved;
	put_le32(aia.buf + AIA_OFF_WORDS + 8, 1); /* source 0's input */
	assert_refused(secs, 3, 2, "APLIC source 0");
	aia = saved;
	put_le64(aia.buf + AIA_OFF_HART(1), 2);
	assert_refused(secs, 3, 2, "IMSIC eidelivery");
	aia = saved;
	put_le64(aia.buf + AIA_OFF_HART(0) + 8, 256);
	assert_refused(secs, 3, 2, "IMSIC eithreshold");
	free(r);
}

/* Each section cut at every length, and grown by a byte: refused, never read past. */
static void test_truncations(void **state)
{
	struct rig *r = rig_new();
	struct sec aia, *targets[] = { &r->v0, &r->v1, &r->chip, &aia };
	struct sec *secs[3];
	unsigned int t;
	size_t full, n;
	char why[256];

	(void)state;
	aia_section(&aia, 2);
	for (t = 0; t < ARRAY_SIZE(targets); t++) {
		struct sec *s = targets[t];

		secs[0] = &r->v0, secs[1] = &r->v1, secs[2] = t == 3 ? &aia : &r->chip;
		full = s->len;
		for (n = 0; n < full; n++) {
			s->len = n;
			assert_int_equal(check(secs, 3, 2, why, sizeof(why)), -EINVAL);
		}
		s->len = full + 1;
		s->buf[full] = 0;
		assert_int_equal(check(secs, 3, 2, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "1 bytes left over"));
		s->len = full;
		assert_int_equal(check(secs, 3, 2, why, sizeof(why)), 0);
	}
	free(r);
}

/* Random bytes changed anywhere: whatever the verdict, no crash and a reason if refused. */
static void test_corruption(void **state)
{
	struct rig *r = rig_new();
	struct sec aia, *secs[3], *s;
	struct sec *saved = malloc(sizeof(*saved));
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned int i, k, which;
	char why[256];

	(void)state;
	assert_non_null(saved);
	aia_section(&aia, 2);
	for (i = 0; i < 3000; i++) {
		which = i % 4;
		s = which == 0 ? &r->v0 : which == 1 ? &r->v1 : which == 2 ? &r->chip : &aia;
		secs[0] = &r->v0, secs[1] = &r->v1, secs[2] = which == 3 ? &aia : &r->chip;
		*saved = *s;
		for (k = 0; k < 1 + i % 3; k++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			s->buf[seed % s->len] ^= (uint8_t)(1u << (seed >> 32) % 8);
		}
		if (check(secs, 3, 2, why, sizeof(why)))
			assert_true(why[0] != '\0');
		*s = *saved;
	}
	free(saved);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_decode_registers),
		cmocka_unit_test(test_reg_ids),
		cmocka_unit_test(test_vcpu_refused),
		cmocka_unit_test(test_irqchip_refused),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
