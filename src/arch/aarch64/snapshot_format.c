/*
 * The arm64 sections of the state file (layouts in snapshot_format.h): the vGIC register
 * tables, the list and register walkers, and the decoders that read a file as untrusted
 * input before anything is built.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>

#include "snapshot_format.h"
#include "../../util/util.h"

/* Distributor, redistributor and CPU interface offsets (GIC architecture, v2 and v3). */
#define GICD_CTLR	0x0000
#define GICD_IIDR	0x0008
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ISPENDR	0x0200
#define GICD_ISACTIVER	0x0300
#define GICD_SET_TO_CLR 0x0080 /* ISENABLER -> ICENABLER, ISPENDR -> ICPENDR, ... */
#define GICD_IPRIORITYR 0x0400
#define GICD_ITARGETSR	0x0800
#define GICD_ICFGR	0x0c00
#define GICD_CPENDSGIR	0x0f10
#define GICD_SPENDSGIR	0x0f20
#define GICD_IROUTER	0x6000
#define GICR_SGI_BASE	0x10000 /* the redistributor's second 64 KiB frame */
#define GICC_CTLR	0x0000
#define GICC_PMR	0x0004
#define GICC_BPR	0x0008
#define GICC_ABPR	0x001c
#define GICC_APR	0x00d0

/* An ICC_* system register as KVM's vGIC device names it: op0:op1:CRn:CRm:op2 in 16 bits. */
#define ICC_KEY(op0, op1, crn, crm, op2)                                                  \
	((uint32_t)(op0) << 14 | (uint32_t)(op1) << 11 | (uint32_t)(crn) << 7 |           \
	 (uint32_t)(crm) << 3 | (uint32_t)(op2))

/* Per-interrupt registers, (bits) per interrupt: the words that hold the SPIs. */
#define NR_IRQS		 ARM_GIC_NR_IRQS
#define SPI_WORDS(bits)	 ((NR_IRQS - 32) * (bits) / 32)
#define SPI_FIRST(bits)	 (32 * (bits) / 8) /* byte offset of interrupt 32 */
#define SPI_RANGE(base, bits, clr) { (base) + SPI_FIRST(bits), SPI_WORDS(bits), 4, (clr) }

/*
 * The restore writes each list in its table's order. The distributor: GICD_IIDR first
 * (KVM's documented rule: it says which behaviour the rest assumes, and on GICv2 it is what
 * makes the group registers writable), then configuration before state (an interrupt's
 * trigger mode decides what "pending" means), enabling last.
 */
static const struct arm_gic_range v3_dist[] = {
	{ GICD_IIDR, 1, 4, 0 },
	SPI_RANGE(GICD_IGROUPR, 1, 0),
	SPI_RANGE(GICD_ICFGR, 2, 0),
	SPI_RANGE(GICD_IPRIORITYR, 8, 0),
	/* 64-bit, one per SPI; KVM keeps no Aff3, so the upper words read as zero. */
	{ GICD_IROUTER + 8 * 32, NR_IRQS - 32, 8, 0 },
	SPI_RANGE(GICD_ISENABLER, 1, GICD_SET_TO_CLR),
	SPI_RANGE(GICD_ISPENDR, 1, GICD_SET_TO_CLR),
	SPI_RANGE(GICD_ISACTIVER, 1, GICD_SET_TO_CLR),
	{ GICD_CTLR, 1, 4, 0 },
};

/* The SPIs' input levels, 32 per key (the first interrupt); SGIs and PPIs have none here. */
static const struct arm_gic_range v3_levels[] = {
	{ 32, NR_IRQS / 32 - 1, 32, 0 },
};

/*
 * The redistributor's SGI and PPI registers. GICR_ICFGR0 is left out (SGIs are always
 * edge), as are the LPI registers (CTLR, PROPBASER, PENDBASER): ember's vGIC has no ITS.
 */
static const struct arm_gic_range v3_private[] = {
	{ GICR_SGI_BASE + GICD_IGROUPR, 1, 4, 0 },
	{ GICR_SGI_BASE + GICD_ICFGR + 4, 1, 4, 0 },
	{ GICR_SGI_BASE + GICD_IPRIORITYR, 8, 4, 0 },
	{ GICR_SGI_BASE + GICD_ISENABLER, 1, 4, GICD_SET_TO_CLR },
	{ GICR_SGI_BASE + GICD_ISPENDR, 1, 4, GICD_SET_TO_CLR },
	{ GICR_SGI_BASE + GICD_ISACTIVER, 1, 4, GICD_SET_TO_CLR },
};

/*
 * ICC_SRE_EL1 first (system register access on), ICC_CTLR_EL1 before the active priority
 * registers (KVM checks it against the host and takes the priority bits from it), then the
 * rest. Only the active priority registers the host's priority bits give exist.
 */
static const struct arm_gic_range v3_cpuif[] = {
	{ ICC_KEY(3, 0, 12, 12, 5), 1, 1, 0 }, /* ICC_SRE_EL1 */
	{ ICC_KEY(3, 0, 12, 12, 4), 1, 1, 0 }, /* ICC_CTLR_EL1 */
	{ ICC_KEY(3, 0, 12, 12, 6), 2, 1, 0 }, /* ICC_IGRPEN0_EL1, ICC_IGRPEN1_EL1 */
	{ ICC_KEY(3, 0, 4, 6, 0), 1, 1, 0 },   /* ICC_PMR_EL1 */
	{ ICC_KEY(3, 0, 12, 8, 3), 1, 1, 0 },  /* ICC_BPR0_EL1 */
	{ ICC_KEY(3, 0, 12, 12, 3), 1, 1, 0 }, /* ICC_BPR1_EL1 */
	{ ICC_KEY(3, 0, 12, 8, 4), 4, 1, 0 },  /* ICC_AP0R0_EL1..ICC_AP0R3_EL1 */
	{ ICC_KEY(3, 0, 12, 9, 0), 4, 1, 0 },  /* ICC_AP1R0_EL1..ICC_AP1R3_EL1 */
};

static const struct arm_gic_range v2_dist[] = {
	{ GICD_IIDR, 1, 4, 0 },
	SPI_RANGE(GICD_IGROUPR, 1, 0),
	SPI_RANGE(GICD_ICFGR, 2, 0),
	SPI_RANGE(GICD_IPRIORITYR, 8, 0),
	SPI_RANGE(GICD_ITARGETSR, 8, 0),
	SPI_RANGE(GICD_ISENABLER, 1, GICD_SET_TO_CLR),
	SPI_RANGE(GICD_ISPENDR, 1, GICD_SET_TO_CLR),
	SPI_RANGE(GICD_ISACTIVER, 1, GICD_SET_TO_CLR),
	{ GICD_CTLR, 1, 4, 0 },
};

/*
 * The distributor registers GICv2 banks per CPU, read and written through that vCPU. The
 * SGIs' pending state is per source CPU: GICD_SPENDSGIR, after GICD_ISPENDR0.
 */
static const struct arm_gic_range v2_private[] = {
	{ GICD_IGROUPR, 1, 4, 0 },
	{ GICD_ICFGR + 4, 1, 4, 0 },
	{ GICD_IPRIORITYR, 8, 4, 0 },
	{ GICD_ISENABLER, 1, 4, GICD_SET_TO_CLR },
	{ GICD_ISPENDR, 1, 4, GICD_SET_TO_CLR },
	{ GICD_ISACTIVER, 1, 4, GICD_SET_TO_CLR },
	{ GICD_SPENDSGIR, 4, 4, GICD_CPENDSGIR - GICD_SPENDSGIR },
};

/* The CPU interface; GICC_CTLR (the group enables) last. */
static const struct arm_gic_range v2_cpuif[] = {
	{ GICC_PMR, 1, 4, 0 },
	{ GICC_BPR, 1, 4, 0 },
	{ GICC_ABPR, 1, 4, 0 },
	{ GICC_APR, 4, 4, 0 },
	{ GICC_CTLR, 1, 4, 0 },
};

#define TABLE(r, w) { (r), ARRAY_SIZE(r), (w) }

static const struct arm_gic_table v3_tables[ARM_GIC_NR_GROUPS] = {
	[ARM_GIC_DIST] = TABLE(v3_dist, false),
	[ARM_GIC_LEVELS] = TABLE(v3_levels, false),
	[ARM_GIC_PRIVATE] = TABLE(v3_private, false),
	[ARM_GIC_CPUIF] = TABLE(v3_cpuif, true),
};

static const struct arm_gic_table v2_tables[ARM_GIC_NR_GROUPS] = {
	[ARM_GIC_DIST] = TABLE(v2_dist, false),
	[ARM_GIC_LEVELS] = { NULL, 0, false }, /* KVM's GICv2 has no line level interface */
	[ARM_GIC_PRIVATE] = TABLE(v2_private, false),
	[ARM_GIC_CPUIF] = TABLE(v2_cpuif, false),
};

const struct arm_gic_table *arm_gic_table(enum arm_gic_version version, enum arm_gic_group group)
{
	return version == ARM_GIC_V2 ? &v2_tables[group] : &v3_tables[group];
}

unsigned int arm_gic_table_size(const struct arm_gic_table *t)
{
	unsigned int i, n = 0;

	for (i = 0; i < t->nr_ranges; i++)
		n += t->ranges[i].count;
	return n;
}

uint32_t arm_gic_table_key(const struct arm_gic_table *t, unsigned int i,
			   const struct arm_gic_range **range)
{
	unsigned int r;

	for (r = 0; r < t->nr_ranges && i >= t->ranges[r].count; r++)
		i -= t->ranges[r].count;
	*range = &t->ranges[r]; /* callers stay below arm_gic_table_size */
	return t->ranges[r].first + i * t->ranges[r].stride;
}

/* The position of (key) in (t)'s order, with its range; -1 for a key (t) does not name. */
static int arm_gic_table_index(const struct arm_gic_table *t, uint32_t key,
			       const struct arm_gic_range **range)
{
	unsigned int r, pos = 0;

	for (r = 0; r < t->nr_ranges; r++) {
		const struct arm_gic_range *g = &t->ranges[r];
		uint32_t k = key - g->first;

		if (key >= g->first && k % g->stride == 0 && k / g->stride < g->count) {
			*range = g;
			return (int)(pos + k / g->stride);
		}
		pos += g->count;
	}
	*range = NULL;
	return -1;
}

void arm_gic_list_entry(const struct arm_gic_list *l, const struct arm_gic_table *t,
			uint32_t i, uint32_t *key, uint64_t *value,
			const struct arm_gic_range **range)
{
	const uint8_t *e = l->entries + (size_t)i * ARM_GIC_LIST_ENTRY;

	*key = get_le32(e);
	*value = get_le64(e + 4);
	arm_gic_table_index(t, *key, range);
}

void arm_gic_list_put(struct snap_writer *w, const uint32_t *keys, const uint64_t *values,
		      uint32_t n)
{
	uint32_t i;

	snap_put_u32(w, n);
	for (i = 0; i < n; i++) {
		snap_put_u32(w, keys[i]);
		snap_put_u64(w, values[i]);
	}
}

/* A register list of (t): at most one entry per register, each named by (t), in order. */
static void get_list(struct snap_cursor *c, const struct arm_gic_table *t, struct arm_gic_list *l)
{
	const struct arm_gic_range *range;
	int pos, last = -1;
	uint32_t i;

	l->n = snap_get_u32(c);
	l->entries = NULL;
	if (l->n > arm_gic_table_size(t)) {
		snap_cursor_fail(c, "vGIC register count");
		l->n = 0;
		return;
	}
	l->entries = snap_get_span(c, (size_t)l->n * ARM_GIC_LIST_ENTRY);
	if (!l->entries) {
		l->n = 0;
		return;
	}
	for (i = 0; i < l->n; i++) {
		const uint8_t *e = l->entries + (size_t)i * ARM_GIC_LIST_ENTRY;

		pos = arm_gic_table_index(t, get_le32(e), &range);
		if (pos <= last) {
			snap_cursor_fail(c, "vGIC register (unknown, repeated or out of order)");
			break;
		}
		if (!t->wide && get_le64(e + 4) > UINT32_MAX) {
			snap_cursor_fail(c, "vGIC register value (wider than the register)");
			break;
		}
		last = pos;
	}
	if (c->bad)
		l->n = 0;
}

/* When the cursor of a section that is not there is bad, say which section is missing. */
static int section_end(struct snap_cursor *c, const char *what, uint32_t tag, unsigned int id,
		       char *why, size_t why_len)
{
	char name[5];

	if (!snap_cursor_end(c, why, why_len))
		return 0;
	if (!c->s)
		snprintf(why, why_len, "no %s (section %s %u)", what, snap_tag_name(tag, name), id);
	return -EINVAL;
}

int arm_decode_gic(const struct snap_file *f, struct arm_gic_state *s, char *why,
		   size_t why_len)
{
	struct snap_cursor c;
	uint8_t version;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, ARM_TAG_GIC, 0));
	version = snap_get_u8(&c);
	if (version != ARM_GIC_V2 && version != ARM_GIC_V3)
		snap_cursor_fail(&c, "vGIC version");
	s->version = version == ARM_GIC_V2 ? ARM_GIC_V2 : ARM_GIC_V3;
	s->nr_irqs = snap_get_u32(&c);
	if (s->nr_irqs != ARM_GIC_NR_IRQS)
		snap_cursor_fail(&c, "vGIC interrupt count");
	get_list(&c, arm_gic_table(s->version, ARM_GIC_DIST), &s->dist);
	get_list(&c, arm_gic_table(s->version, ARM_GIC_LEVELS), &s->levels);
	return section_end(&c, "vGIC state", ARM_TAG_GIC, 0, why, why_len);
}

int arm_decode_gic_cpu(const struct snap_file *f, enum arm_gic_version version, unsigned int id,
		       struct arm_gic_cpu_state *s, char *why, size_t why_len)
{
	struct snap_cursor c;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, ARM_TAG_GIC_CPU, id));
	get_list(&c, arm_gic_table(version, ARM_GIC_PRIVATE), &s->priv);
	get_list(&c, arm_gic_table(version, ARM_GIC_CPUIF), &s->cpuif);
	return section_end(&c, "vGIC state of a vCPU", ARM_TAG_GIC_CPU, id, why, why_len);
}

size_t arm_reg_size(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

const uint8_t *arm_reg_next(const uint8_t **p, uint64_t *id)
{
	const uint8_t *value = *p + 8;

	*id = get_le64(*p);
	*p = value + arm_reg_size(*id);
	return value;
}

int arm_decode_vcpu(const struct snap_file *f, unsigned int id, struct arm_vcpu_state *s,
		    char *why, size_t why_len)
{
	const uint8_t *start = NULL;
	struct snap_cursor c;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, ARM_TAG_VCPU, id));
	s->mp_state = snap_get_u32(&c);
	/* What arm64 KVM has: running, powered off by PSCI, suspended by PSCI SYSTEM_SUSPEND. */
	if (s->mp_state != KVM_MP_STATE_RUNNABLE && s->mp_state != KVM_MP_STATE_STOPPED &&
	    s->mp_state != KVM_MP_STATE_SUSPENDED)
		snap_cursor_fail(&c, "MP state");
	s->nr_regs = snap_get_u32(&c);
	if (s->nr_regs > ARM_SNAP_MAX_REGS)
		snap_cursor_fail(&c, "register count");
	if (!c.bad)
		start = c.s->data + c.off;
	for (i = 0; !c.bad && i < s->nr_regs; i++) {
		uint64_t reg = snap_get_u64(&c);
		size_t size = arm_reg_size(reg);

		if ((reg & KVM_REG_ARCH_MASK) != KVM_REG_ARM64)
			snap_cursor_fail(&c, "register id (not an arm64 register)");
		else if (size < 4 || size > ARM_SNAP_MAX_REG_BYTES)
			snap_cursor_fail(&c, "register size");
		else
			snap_get_span(&c, size);
	}
	if (section_end(&c, "vCPU state", ARM_TAG_VCPU, id, why, why_len)) {
		memset(s, 0, sizeof(*s));
		return -EINVAL;
	}
	s->regs = start;
	s->regs_len = start ? (size_t)(c.s->data + c.off - start) : 0;
	return 0;
}

int arm_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
		       size_t why_len)
{
	struct arm_gic_cpu_state gc;
	struct arm_vcpu_state v;
	struct arm_gic_state g;
	unsigned int i;
	int ret;

	if (nr_vcpus < 1 || nr_vcpus > ARCH_MAX_VCPUS) {
		snprintf(why, why_len, "%u vCPUs: an arm64 VM has 1 to %u", nr_vcpus,
			 ARCH_MAX_VCPUS);
		return -EINVAL;
	}
	ret = arm_decode_gic(f, &g, why, why_len);
	if (ret)
		return ret;
	if (g.version == ARM_GIC_V2 && nr_vcpus > ARM_GICV2_MAX_VCPUS) {
		snprintf(why, why_len, "%u vCPUs on a GICv2, which serves at most %u", nr_vcpus,
			 ARM_GICV2_MAX_VCPUS);
		return -EINVAL;
	}
	for (i = 0; !ret && i < nr_vcpus; i++) {
		ret = arm_decode_vcpu(f, i, &v, why, why_len);
		if (!ret)
			ret = arm_decode_gic_cpu(f, g.version, i, &gc, why, why_len);
	}
	if (ret)
		return ret;
	if (snap_count(f, ARM_TAG_VCPU) != nr_vcpus || snap_count(f, ARM_TAG_GIC_CPU) != nr_vcpus) {
		snprintf(why, why_len, "%u vCPU states and %u vGIC CPU states for %u vCPUs",
			 snap_count(f, ARM_TAG_VCPU), snap_count(f, ARM_TAG_GIC_CPU), nr_vcpus);
		return -EINVAL;
	}
	return 0;
}

void arm_config_save(const struct arch_config *cfg, struct snap_writer *w)
{
	snap_put_u8(w, (uint8_t)cfg->gic);
}

void arm_config_load(struct arch_config *cfg, struct snap_cursor *c)
{
	uint8_t gic = snap_get_u8(c);

	if (gic != 0 && gic != ARM_GIC_V2 && gic != ARM_GIC_V3) {
		snap_cursor_fail(c, "GIC version (--gic)");
		gic = 0;
	}
	cfg->gic = gic;
}
