/*
 * The riscv64 sections of a snapshot's state file, and their reading, in plain C: no KVM and
 * no arch_defs.h, so that the unit tests build it for the host.
 *
 *   "RCPU" i   vCPU i: u32 KVM MP state (RUNNABLE or STOPPED), u32 register count, then per
 *              register its u64 KVM_GET_ONE_REG id and its value, KVM_REG_SIZE(id) bytes as
 *              KVM gave them (little-endian), in increasing order of the id's low 32 bits
 *   "PLIC" 0   ember's PLIC (plic_save), when the VM has it
 *   "RAIA" 0   KVM's AIA: u32 sources, IMSIC identities, harts; the APLIC's u32 domaincfg,
 *              per source u32 sourcecfg and target, per 32 sources u32 pending, enabled and
 *              input (rectified) bits; per hart u64 eidelivery, eithreshold and per 64
 *              identities u64 eip, eie
 *
 * The registers are whatever the running KVM answered for (see snapshot.c), so a restore
 * needs no list of its own: it gives each back by its id.
 */
#ifndef EMBER_ARCH_RISCV64_SNAPSHOT_FORMAT_H
#define EMBER_ARCH_RISCV64_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../snapshot/stream.h"

#define RISCV_TAG_VCPU SNAP_TAG('R', 'C', 'P', 'U')
#define RISCV_TAG_PLIC SNAP_TAG('P', 'L', 'I', 'C')
#define RISCV_TAG_AIA  SNAP_TAG('R', 'A', 'I', 'A')

/* KVM has about 250 registers per vCPU today (vector ones included); room to grow. */
#define RISCV_SNAP_MAX_REGS	1024
/* The largest register: a vector register of the ISA's greatest VLEN, 2^16 bits. */
#define RISCV_SNAP_MAX_REG_SIZE 8192
/* ARCH_MAX_VCPUS, which snapshot.c checks: this file cannot see arch_defs.h. */
#define RISCV_SNAP_MAX_HARTS	32
/* The APLIC's sources: RISCV_NR_IRQS - 1, checked likewise. */
#define RISCV_SNAP_AIA_SOURCES	63
/* KVM's limits on IMSIC identities (KVM_DEV_RISCV_AIA_IDS_MIN, _MAX). */
#define RISCV_AIA_IDS_MIN	63
#define RISCV_AIA_IDS_MAX	2048
#define RISCV_AIA_MAX_EIX	(RISCV_AIA_IDS_MAX / 64)
#define RISCV_AIA_WORDS		((RISCV_SNAP_AIA_SOURCES + 1 + 31) / 32)

/*
 * A riscv KVM_GET_ONE_REG id (asm/kvm.h, restated: the headers here may be another arch's,
 * or older): arch, log2 of the size, then type, subtype and index.
 */
#define RISCV_REG_ARCH	       0x8000000000000000ULL
#define RISCV_REG_SIZE_SHIFT   52
#define RISCV_REG_SIZE_MASK    0x00f0000000000000ULL
#define RISCV_REG_TYPE_SHIFT   24
#define RISCV_REG_SUB_SHIFT    16
#define RISCV_REG_U32	       (2ULL << RISCV_REG_SIZE_SHIFT)
#define RISCV_REG_U64	       (3ULL << RISCV_REG_SIZE_SHIFT)
#define RISCV_REG_ID(size, type, sub, index)                                        \
	(RISCV_REG_ARCH | (size) | (uint64_t)(type) << RISCV_REG_TYPE_SHIFT |       \
	 (uint64_t)(sub) << RISCV_REG_SUB_SHIFT | (uint64_t)(index))
#define RISCV_REG_TYPE(id)     ((unsigned int)((id) >> RISCV_REG_TYPE_SHIFT) & 0xff)
#define RISCV_REG_SUBTYPE(id)  ((unsigned int)((id) >> RISCV_REG_SUB_SHIFT) & 0xff)
#define RISCV_REG_INDEX(id)    ((unsigned int)(id) & 0xffff)
#define RISCV_REG_BYTES(id)    (1U << (((id) & RISCV_REG_SIZE_MASK) >> RISCV_REG_SIZE_SHIFT))

enum riscv_reg_type {
	RISCV_REG_CONFIG = 1,
	RISCV_REG_CORE,
	RISCV_REG_CSR,
	RISCV_REG_TIMER,
	RISCV_REG_FP_F,
	RISCV_REG_FP_D,
	RISCV_REG_ISA_EXT,
	RISCV_REG_SBI_EXT,
	RISCV_REG_VECTOR,
	RISCV_REG_SBI_STATE,
};

/* Indices of the core, timer and vector registers (struct kvm_riscv_core, _timer, V state). */
#define RISCV_CORE_NR	     33 /* pc, x1..x31, mode */
#define RISCV_TIMER_FREQ     0
#define RISCV_TIMER_TIME     1
#define RISCV_TIMER_COMPARE  2
#define RISCV_TIMER_STATE    3
#define RISCV_TIMER_ON	     1
#define RISCV_FP_NR	     33 /* f0..f31, fcsr */
#define RISCV_VECTOR_VLENB   4
#define RISCV_VECTOR_REG0    6 /* after vstart, vl, vtype, vcsr, vlenb and datap */
#define RISCV_VECTOR_NR_REGS 32

/* KVM's MP states on riscv (linux/kvm.h). */
#define RISCV_MP_RUNNABLE 0
#define RISCV_MP_STOPPED  5

/* Whether KVM could have given this register id as ember saves it: type, size, index. */
bool riscv_reg_id_ok(uint64_t id);

/* One vCPU's section, checked; (regs) points into the file. */
struct riscv_vcpu_state {
	uint32_t mp_state;
	uint32_t nr_regs;
	const uint8_t *regs;
	size_t regs_len;
	uint64_t time; /* its timer's time register: every saved vCPU has one */
};

/* One register of a riscv_vcpu_state: id, value (unaligned, little-endian), size. */
struct riscv_reg {
	uint64_t id;
	const uint8_t *value;
	uint32_t size;
};

/* The register after offset (*off) of (s), moving (*off) on; false at the end. */
bool riscv_next_reg(const struct riscv_vcpu_state *s, size_t *off, struct riscv_reg *r);

/* A register's value as an integer: its first 8 bytes (4 for a 32-bit one). */
uint64_t riscv_reg_value(const struct riscv_reg *r);

/* vCPU (id)'s section of (f). 0, or -EINVAL with what is wrong in (why). */
int riscv_decode_vcpu(const struct snap_file *f, unsigned int id, struct riscv_vcpu_state *s,
		      char *why, size_t why_len);

/* KVM's AIA as the file holds it. */
struct riscv_imsic_state {
	uint64_t eidelivery, eithreshold;
	uint64_t eip[RISCV_AIA_MAX_EIX], eie[RISCV_AIA_MAX_EIX];
};

struct riscv_aia_state {
	uint32_t nr_sources, nr_ids, nr_harts;
	uint32_t domaincfg;
	uint32_t sourcecfg[RISCV_SNAP_AIA_SOURCES + 1], target[RISCV_SNAP_AIA_SOURCES + 1];
	uint32_t pending[RISCV_AIA_WORDS], enabled[RISCV_AIA_WORDS], input[RISCV_AIA_WORDS];
	struct riscv_imsic_state imsic[RISCV_SNAP_MAX_HARTS];
};

/* IMSIC words of 64 identities for (nr_ids) identities (identity 0 included). */
static inline unsigned int riscv_aia_nr_eix(uint32_t nr_ids)
{
	return (nr_ids + 1 + 63) / 64;
}

/* The "RAIA" section of (f) for (nr_harts) harts into (s). 0, or -EINVAL with (why). */
int riscv_decode_aia(const struct snap_file *f, unsigned int nr_harts, struct riscv_aia_state *s,
		     char *why, size_t why_len);

/*
 * arch_snapshot_check's work: every riscv64 section of (f) for (nr_vcpus) vCPUs, and one
 * interrupt controller (PLIC or AIA). 0, or -EINVAL with (why).
 */
int riscv_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			 size_t why_len);

#endif
