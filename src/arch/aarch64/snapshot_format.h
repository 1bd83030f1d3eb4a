/*
 * The arm64 sections of a snapshot's state file, as data: the layouts, the vGIC register
 * tables and the decoders that check a file before anything is built. No KVM calls and no
 * arm64-only KVM headers here, so the unit tests build this on any host.
 *
 *   "ACPU" i  vCPU i:   u32 MP state, u32 count, then per register: u64 KVM register id and
 *                       the value, as many bytes as the id's size field says
 *   "AGIC" 0  the vGIC: u8 version (2|3), u32 interrupts, then two register lists: the
 *                       distributor, the SPIs' input line levels (GICv3; empty on GICv2)
 *   "AGCP" i  vCPU i's part of the vGIC, two register lists: its private interrupts (the
 *                       GICv3 redistributor; the banked distributor registers on GICv2) and
 *                       its CPU interface (the ICC_* system registers; the GICC registers)
 *
 * A register list is a u32 count, then (u32 key, u64 value) pairs. A key is a register's
 * offset in its frame (for the ICC registers, their op0:op1:CRn:CRm:op2 encoding; for the
 * line levels, the first interrupt of the 32). Each list follows the table of its group
 * below, in the table's order, which is the order the restore writes them in; a register
 * KVM did not have when saving is left out.
 */
#ifndef EMBER_ARCH_AARCH64_SNAPSHOT_FORMAT_H
#define EMBER_ARCH_AARCH64_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch_defs.h"
#include "../../snapshot/stream.h"

#define ARM_TAG_VCPU	 SNAP_TAG('A', 'C', 'P', 'U')
#define ARM_TAG_GIC	 SNAP_TAG('A', 'G', 'I', 'C')
#define ARM_TAG_GIC_CPU	 SNAP_TAG('A', 'G', 'C', 'P')

/* KVM lists a few hundred registers per vCPU without SVE (a few thousand bytes). */
#define ARM_SNAP_MAX_REGS 4096
/* The largest arm64 KVM register: an SVE Z register slice, 2048 bits. */
#define ARM_SNAP_MAX_REG_BYTES 256

#define ARM_GIC_LIST_ENTRY 12 /* u32 key, u64 value */

/* The register groups of the vGIC's state, one table each per GIC version. */
enum arm_gic_group {
	ARM_GIC_DIST,	 /* the distributor's shared registers */
	ARM_GIC_LEVELS,	 /* SPI input line levels, 32 interrupts per key */
	ARM_GIC_PRIVATE, /* one vCPU's SGIs and PPIs */
	ARM_GIC_CPUIF,	 /* one vCPU's CPU interface */
	ARM_GIC_NR_GROUPS,
};

/*
 * (count) registers from key (first), (stride) apart. (clear): when nonzero, these are
 * set-only registers (ISENABLER...) and the one that clears the same bits is at key +
 * clear: the restore writes the complement there first, so the result does not depend on
 * what the new vGIC started with.
 */
struct arm_gic_range {
	uint32_t first;
	uint16_t count;
	uint16_t stride;
	int32_t clear;
};

struct arm_gic_table {
	const struct arm_gic_range *ranges;
	unsigned int nr_ranges;
	bool wide; /* 64-bit values (ICC system registers); else each value fits 32 bits */
};

/* The table of (group) for a GIC of (version); one with no ranges for none there. */
const struct arm_gic_table *arm_gic_table(enum arm_gic_version version, enum arm_gic_group group);

/* How many registers (t) names, and the (i)th of them: its key and its range. */
unsigned int arm_gic_table_size(const struct arm_gic_table *t);
uint32_t arm_gic_table_key(const struct arm_gic_table *t, unsigned int i,
			   const struct arm_gic_range **range);

/* A decoded register list, in place in the file: (n) entries of ARM_GIC_LIST_ENTRY bytes. */
struct arm_gic_list {
	const uint8_t *entries;
	uint32_t n;
};

/* Entry (i) of (l): its key, value and range (for the clear register). */
void arm_gic_list_entry(const struct arm_gic_list *l, const struct arm_gic_table *t,
			uint32_t i, uint32_t *key, uint64_t *value,
			const struct arm_gic_range **range);

struct arm_gic_state {
	enum arm_gic_version version;
	uint32_t nr_irqs;
	struct arm_gic_list dist, levels;
};

struct arm_gic_cpu_state {
	struct arm_gic_list priv, cpuif;
};

struct arm_vcpu_state {
	uint32_t mp_state;
	uint32_t nr_regs;
	const uint8_t *regs; /* nr_regs of (u64 id, value), checked: walk with arm_reg_next */
	size_t regs_len;
};

/* Bytes of a register value for KVM register (id): 1 << its size field. */
size_t arm_reg_size(uint64_t id);

/*
 * The next register of a decoded vCPU state at (*p), which it advances: its id and a
 * pointer to its value, arm_reg_size(id) bytes (unaligned).
 */
const uint8_t *arm_reg_next(const uint8_t **p, uint64_t *id);

/* Write one register list: (n) entries of (keys, values). */
void arm_gic_list_put(struct snap_writer *w, const uint32_t *keys, const uint64_t *values,
		      uint32_t n);

/*
 * The decoders, shared by the check and the restore: 0, or -EINVAL with the section and
 * what is wrong in (why, why_len).
 */
int arm_decode_gic(const struct snap_file *f, struct arm_gic_state *s, char *why,
		   size_t why_len);
int arm_decode_gic_cpu(const struct snap_file *f, enum arm_gic_version version, unsigned int id,
		       struct arm_gic_cpu_state *s, char *why, size_t why_len);
int arm_decode_vcpu(const struct snap_file *f, unsigned int id, struct arm_vcpu_state *s,
		    char *why, size_t why_len);

/* arch_snapshot_check for arm64: every arm64 section of (f), for (nr_vcpus) vCPUs. */
int arm_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
		       size_t why_len);

/* arch_config_save/load for arm64: the --gic choice, as one byte (0 auto, 2, 3). */
void arm_config_save(const struct arch_config *cfg, struct snap_writer *w);
void arm_config_load(struct arch_config *cfg, struct snap_cursor *c);

#endif
