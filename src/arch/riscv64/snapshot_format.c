/* Reading the riscv64 sections of a state file (layout in snapshot_format.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"
#include "../../devices/plic.h"
#include "../../util/util.h"

/* The APLIC's registers as KVM reads them back (the AIA specification's layout). */
#define APLIC_DOMAINCFG_RDONLY 0x80000000u
#define APLIC_DOMAINCFG_IE     0x100u
#define APLIC_DOMAINCFG_DM     0x4u
#define APLIC_SOURCECFG_SM     0x7u
/* EIID (11 bits), guest index (6 bits at 12), hart index (14 bits at 18). */
#define APLIC_TARGET_MASK      (0x7ffu | 0x3fu << 12 | 0x3fffu << 18)
#define IMSIC_MAX_ID	       (RISCV_AIA_IDS_MAX - 1)

bool riscv_reg_id_ok(uint64_t id)
{
	unsigned int size = (unsigned int)((id & RISCV_REG_SIZE_MASK) >> RISCV_REG_SIZE_SHIFT);
	unsigned int type = RISCV_REG_TYPE(id), sub = RISCV_REG_SUBTYPE(id);
	unsigned int index = RISCV_REG_INDEX(id);
	bool u64 = size == 3;

	/* The arch byte, then nothing between the size and the type. */
	if ((id & ~(RISCV_REG_SIZE_MASK | 0xffffffffULL)) != RISCV_REG_ARCH)
		return false;
	switch (type) {
	case RISCV_REG_CONFIG:
		return u64 && sub == 0;
	case RISCV_REG_CORE:
		return u64 && sub == 0 && index < RISCV_CORE_NR;
	case RISCV_REG_TIMER:
		return u64 && sub == 0 && index <= RISCV_TIMER_STATE;
	case RISCV_REG_FP_F:
		return size == 2 && sub == 0 && index < RISCV_FP_NR;
	case RISCV_REG_FP_D:
		/* f0..f31 are 64-bit, fcsr after them 32-bit. */
		return sub == 0 &&
		       (index < RISCV_FP_NR - 1 ? u64 : index == RISCV_FP_NR - 1 && size == 2);
	case RISCV_REG_VECTOR:
		if (sub != 0)
			return false;
		if (index <= RISCV_VECTOR_VLENB)
			return u64;
		/* The registers are VLENB bytes: 8 at least, RISCV_SNAP_MAX_REG_SIZE at most. */
		return index >= RISCV_VECTOR_REG0 &&
		       index < RISCV_VECTOR_REG0 + RISCV_VECTOR_NR_REGS && size >= 3 &&
		       (1U << size) <= RISCV_SNAP_MAX_REG_SIZE;
	case RISCV_REG_CSR:
	case RISCV_REG_ISA_EXT:
	case RISCV_REG_SBI_EXT:
	case RISCV_REG_SBI_STATE:
		return u64;
	default:
		return false;
	}
}

bool riscv_next_reg(const struct riscv_vcpu_state *s, size_t *off, struct riscv_reg *r)
{
	/* The section was checked; the bounds are checked again all the same. */
	if (*off > s->regs_len || s->regs_len - *off < 8)
		return false;
	r->id = get_le64(s->regs + *off);
	r->size = RISCV_REG_BYTES(r->id);
	if (!riscv_reg_id_ok(r->id) || s->regs_len - *off - 8 < r->size)
		return false;
	r->value = s->regs + *off + 8;
	*off += 8 + r->size;
	return true;
}

uint64_t riscv_reg_value(const struct riscv_reg *r)
{
	return r->size == 4 ? get_le32(r->value) : get_le64(r->value);
}

int riscv_decode_vcpu(const struct snap_file *f, unsigned int id, struct riscv_vcpu_state *s,
		      char *why, size_t why_len)
{
	uint64_t reg, last = 0;
	struct snap_cursor c;
	const uint8_t *value;
	bool have_time = false;
	size_t start;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, RISCV_TAG_VCPU, id));
	s->mp_state = snap_get_u32(&c);
	if (s->mp_state != RISCV_MP_RUNNABLE && s->mp_state != RISCV_MP_STOPPED)
		snap_cursor_fail(&c, "MP state");
	s->nr_regs = snap_get_u32(&c);
	if (s->nr_regs > RISCV_SNAP_MAX_REGS)
		snap_cursor_fail(&c, "register count");
	start = c.off;
	for (i = 0; !c.bad && i < s->nr_regs; i++) {
		reg = snap_get_u64(&c);
		if (!c.bad && !riscv_reg_id_ok(reg))
			snap_cursor_fail(&c, "register id");
		/* In order, each once: a register given twice would be set twice. */
		if (i && (reg & 0xffffffffULL) <= last)
			snap_cursor_fail(&c, "register order");
		last = reg & 0xffffffffULL;
		value = snap_get_span(&c, c.bad ? 0 : RISCV_REG_BYTES(reg));
		if (value &&
		    reg == RISCV_REG_ID(RISCV_REG_U64, RISCV_REG_TIMER, 0, RISCV_TIMER_TIME)) {
			s->time = get_le64(value);
			have_time = true;
		}
	}
	if (!c.bad && !have_time)
		snap_cursor_fail(&c, "timer: no time register");
	if (!c.bad) {
		s->regs = c.s->data + start;
		s->regs_len = c.off - start;
	}
	if (snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no state for vCPU %u (section RCPU %u)", id, id);
		return -EINVAL;
	}
	return 0;
}

static void decode_aplic(struct snap_cursor *c, struct riscv_aia_state *s)
{
	unsigned int i;

	s->domaincfg = snap_get_u32(c);
	if (s->domaincfg & ~(APLIC_DOMAINCFG_RDONLY | APLIC_DOMAINCFG_IE | APLIC_DOMAINCFG_DM))
		snap_cursor_fail(c, "APLIC domaincfg");
	for (i = 1; i <= RISCV_SNAP_AIA_SOURCES; i++) {
		s->sourcecfg[i] = snap_get_u32(c);
		s->target[i] = snap_get_u32(c);
		if (s->sourcecfg[i] & ~APLIC_SOURCECFG_SM)
			snap_cursor_fail(c, "APLIC sourcecfg");
		if (s->target[i] & ~APLIC_TARGET_MASK)
			snap_cursor_fail(c, "APLIC target");
	}
	for (i = 0; i < RISCV_AIA_WORDS; i++) {
		s->pending[i] = snap_get_u32(c);
		s->enabled[i] = snap_get_u32(c);
		s->input[i] = snap_get_u32(c);
	}
	/* Source 0 does not exist. */
	if ((s->pending[0] | s->enabled[0] | s->input[0]) & 1)
		snap_cursor_fail(c, "APLIC source 0");
}

static void decode_imsic(struct snap_cursor *c, uint32_t nr_ids, struct riscv_imsic_state *m)
{
	unsigned int i;

	m->eidelivery = snap_get_u64(c);
	m->eithreshold = snap_get_u64(c);
	if (m->eidelivery > 1)
		snap_cursor_fail(c, "IMSIC eidelivery");
	if (m->eithreshold > nr_ids)
		snap_cursor_fail(c, "IMSIC eithreshold");
	for (i = 0; i < riscv_aia_nr_eix(nr_ids); i++) {
		m->eip[i] = snap_get_u64(c);
		m->eie[i] = snap_get_u64(c);
	}
}

int riscv_decode_aia(const struct snap_file *f, unsigned int nr_harts, struct riscv_aia_state *s,
		     char *why, size_t why_len)
{
	struct snap_cursor c;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, RISCV_TAG_AIA, 0));
	s->nr_sources = snap_get_u32(&c);
	s->nr_ids = snap_get_u32(&c);
	s->nr_harts = snap_get_u32(&c);
	if (s->nr_sources != RISCV_SNAP_AIA_SOURCES)
		snap_cursor_fail(&c, "AIA: number of sources");
	/* KVM's rule: 2^n - 1 identities, from 63 up to 2047. */
	if (s->nr_ids < RISCV_AIA_IDS_MIN || s->nr_ids >= RISCV_AIA_IDS_MAX ||
	    (s->nr_ids & RISCV_AIA_IDS_MIN) != RISCV_AIA_IDS_MIN)
		snap_cursor_fail(&c, "AIA: number of IMSIC identities");
	if (s->nr_harts != nr_harts || nr_harts > RISCV_SNAP_MAX_HARTS)
		snap_cursor_fail(&c, "AIA: number of harts");
	if (!c.bad) {
		decode_aplic(&c, s);
		for (i = 0; i < nr_harts; i++)
			decode_imsic(&c, s->nr_ids, &s->imsic[i]);
	}
	if (snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no AIA state (section RAIA)");
		return -EINVAL;
	}
	return 0;
}

/* The PLIC's section, read into a PLIC of its own that nothing is wired to. */
static int check_plic(const struct snap_file *f, unsigned int nr_vcpus, char *why,
		      size_t why_len)
{
	struct plic *plic = plic_create(nr_vcpus, NULL, NULL, NULL);
	struct snap_cursor c;
	int ret;

	if (!plic) {
		snprintf(why, why_len, "a PLIC for %u harts: %s", nr_vcpus, strerror(errno));
		return -EINVAL;
	}
	snap_cursor_init(&c, snap_find(f, RISCV_TAG_PLIC, 0));
	ret = plic_restore(plic, &c, why, why_len);
	if (!ret)
		ret = snap_cursor_end(&c, why, why_len);
	if (ret && !c.s)
		snprintf(why, why_len, "no PLIC state (section PLIC 0)");
	plic_destroy(plic);
	return ret ? -EINVAL : 0;
}

int riscv_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			 size_t why_len)
{
	unsigned int i, chips = snap_count(f, RISCV_TAG_PLIC) + snap_count(f, RISCV_TAG_AIA);
	struct riscv_aia_state *aia;
	struct riscv_vcpu_state v;
	int ret = 0;

	for (i = 0; !ret && i < nr_vcpus; i++)
		ret = riscv_decode_vcpu(f, i, &v, why, why_len);
	if (!ret && snap_count(f, RISCV_TAG_VCPU) != nr_vcpus) {
		snprintf(why, why_len, "%u vCPU states for %u vCPUs", snap_count(f, RISCV_TAG_VCPU),
			 nr_vcpus);
		ret = -EINVAL;
	}
	if (ret)
		return ret;
	if (chips != 1) {
		snprintf(why, why_len, "%s interrupt controller state (sections PLIC, RAIA)",
			 chips ? "more than one" : "no");
		return -EINVAL;
	}
	if (snap_count(f, RISCV_TAG_PLIC))
		return check_plic(f, nr_vcpus, why, why_len);
	aia = malloc(sizeof(*aia));
	if (!aia) {
		snprintf(why, why_len, "no memory to read the AIA state");
		return -ENOMEM;
	}
	ret = riscv_decode_aia(f, nr_vcpus, aia, why, why_len);
	free(aia);
	return ret;
}
