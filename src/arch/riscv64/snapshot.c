/*
 * Snapshots of riscv64 KVM state (the sections are in snapshot_format.h): each vCPU's
 * registers and run state, and the interrupt controller, ember's PLIC or KVM's AIA.
 *
 * KVM_GET_REG_LIST exists on riscv only from Linux 6.6, and the nested tier's KVM is 6.1.
 * So ember asks for every register id the uapi defines (with room for ids added later in
 * each range) and keeps those KVM answers; an id KVM refuses (ENOENT, EINVAL: not this
 * KVM's, or not this vCPU's ISA) is left out. The file holds (id, value) pairs, and the
 * restore sets each by its id, in the order KVM needs:
 *   1. ISA and SBI extensions, config: they decide which other registers exist, and can
 *      only change before a vCPU's first run (restored vCPUs have not run);
 *   2. core, CSRs, FP, vector, SBI state (after 1: changing the ISA resets the FP state);
 *   3. timer frequency (read-only: it must be this host's) and compare; the MP state;
 *   4. the interrupt controller; its lines to the harts are raised again;
 *   5. the time, once for the VM (KVM keeps one offset per VM), the latest any vCPU saw:
 *      the guest's clock goes on from where it stopped, as if no time passed while saved;
 *   6. the timers that were armed, once the time is right (KVM arms them relative to it).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "aia.h"
#include "snapshot_format.h"
#include "../arch.h"
#include "../../devices/plic.h"
#include "../../snapshot/stream.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

_Static_assert(RISCV_SNAP_MAX_HARTS == ARCH_MAX_VCPUS, "snapshot_format.h's copy");
_Static_assert(RISCV_SNAP_AIA_SOURCES == RISCV_NR_IRQS - 1, "snapshot_format.h's copy");
_Static_assert(RISCV_SNAP_MAX_HARTS <= PLIC_MAX_CONTEXTS, "a PLIC context per hart");

#define REG_U32 RISCV_REG_U32
#define REG_U64 RISCV_REG_U64
#define TIMER_REG(index) RISCV_REG_ID(REG_U64, RISCV_REG_TIMER, 0, index)

/*
 * Where ember looks, in increasing id order as the file wants them: the ranges of
 * asm/kvm.h (Linux 6.12), most with spare indices for registers added later.
 */
static const struct reg_range {
	uint8_t type, subtype;
	uint16_t first, count;
	uint64_t size;
} reg_ranges[] = {
	{ RISCV_REG_CONFIG, 0, 0, 16, REG_U64 }, /* isa ... satp_mode: 7 today */
	{ RISCV_REG_CORE, 0, 0, RISCV_CORE_NR, REG_U64 },
	{ RISCV_REG_CSR, 0, 0, 32, REG_U64 },	/* general: 11 today */
	{ RISCV_REG_CSR, 1, 0, 16, REG_U64 },	/* AIA: 7 */
	{ RISCV_REG_CSR, 2, 0, 8, REG_U64 },	/* Smstateen: 1 */
	{ RISCV_REG_TIMER, 0, 0, RISCV_TIMER_STATE + 1, REG_U64 },
	{ RISCV_REG_FP_F, 0, 0, RISCV_FP_NR, REG_U32 },
	{ RISCV_REG_FP_D, 0, 0, RISCV_FP_NR - 1, REG_U64 },
	{ RISCV_REG_FP_D, 0, RISCV_FP_NR - 1, 1, REG_U32 }, /* fcsr */
	{ RISCV_REG_ISA_EXT, 0, 0, 128, REG_U64 },	    /* single switches: 73 today */
	{ RISCV_REG_SBI_EXT, 0, 0, 64, REG_U64 },	    /* single switches: 12 */
	{ RISCV_REG_VECTOR, 0, 0, RISCV_VECTOR_VLENB + 1, REG_U64 }, /* then the registers */
	{ RISCV_REG_SBI_STATE, 0, 0, 16, REG_U64 },			/* STA: 2 */
	{ RISCV_REG_SBI_STATE, 1, 0, 32, REG_U64 },
	{ RISCV_REG_SBI_STATE, 2, 0, 32, REG_U64 },
	{ RISCV_REG_SBI_STATE, 3, 0, 32, REG_U64 },
};

/* The order of the restore (steps 1 and 2 above; the timer comes after). */
static const uint8_t restore_order[] = {
	RISCV_REG_ISA_EXT, RISCV_REG_SBI_EXT, RISCV_REG_CONFIG, RISCV_REG_CORE, RISCV_REG_CSR,
	RISCV_REG_FP_F,	   RISCV_REG_FP_D,    RISCV_REG_VECTOR, RISCV_REG_SBI_STATE,
};

static const char *const reg_type_names[] = {
	[RISCV_REG_CONFIG] = "config",	     [RISCV_REG_CORE] = "core",
	[RISCV_REG_CSR] = "CSR",	     [RISCV_REG_TIMER] = "timer",
	[RISCV_REG_FP_F] = "F",		     [RISCV_REG_FP_D] = "D",
	[RISCV_REG_ISA_EXT] = "ISA extension", [RISCV_REG_SBI_EXT] = "SBI extension",
	[RISCV_REG_VECTOR] = "vector",	     [RISCV_REG_SBI_STATE] = "SBI state",
};

/* "CSR 1.3 (id 0x...)" into (buf): type, subtype if any, index. */
static const char *reg_name(uint64_t id, char *buf, size_t size)
{
	unsigned int type = RISCV_REG_TYPE(id);
	const char *name = type < ARRAY_SIZE(reg_type_names) && reg_type_names[type]
				   ? reg_type_names[type]
				   : "unknown";

	if (RISCV_REG_SUBTYPE(id))
		snprintf(buf, size, "%s register %u.%u (id 0x%llx)", name, RISCV_REG_SUBTYPE(id),
			 RISCV_REG_INDEX(id), (unsigned long long)id);
	else
		snprintf(buf, size, "%s register %u (id 0x%llx)", name, RISCV_REG_INDEX(id),
			 (unsigned long long)id);
	return buf;
}

static int one_reg(struct vcpu *vcpu, unsigned long req, uint64_t id, const void *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, req, &reg) < 0 ? -errno : 0;
}

/* --- saving --- */

/* The registers of one vCPU, as the section's bytes, before their count is known. */
struct reg_buf {
	uint8_t *p;
	size_t len, cap;
	uint32_t n;
};

static int reg_buf_put(struct reg_buf *b, uint64_t id, const void *val, size_t size)
{
	uint8_t *p;

	if (b->n == RISCV_SNAP_MAX_REGS)
		return -E2BIG;
	if (b->cap - b->len < 8 + size) {
		size_t cap = b->cap ? 2 * b->cap : 4096;

		while (cap - b->len < 8 + size)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	put_le64(b->p + b->len, id);
	memcpy(b->p + b->len + 8, val, size);
	b->len += 8 + size;
	b->n++;
	return 0;
}

/* Register (id) into (b) if this KVM has it; -errno for anything but "no such register". */
static int save_reg(struct vcpu *vcpu, uint64_t id, struct reg_buf *b, uint64_t *val)
{
	int ret = one_reg(vcpu, KVM_GET_ONE_REG, id, val);

	if (ret == -ENOENT || ret == -EINVAL)
		return 0;
	return ret ? ret : reg_buf_put(b, id, val, RISCV_REG_BYTES(id));
}

static int save_range(struct vcpu *vcpu, const struct reg_range *r, struct reg_buf *b,
		      uint64_t *val, uint64_t *failed)
{
	unsigned int i;
	int ret = 0;

	for (i = r->first; !ret && i < (unsigned int)r->first + r->count; i++) {
		*failed = RISCV_REG_ID(r->size, r->type, r->subtype, i);
		ret = save_reg(vcpu, *failed, b, val);
	}
	return ret;
}

/* The V registers: VLENB bytes each, when this vCPU has V at all. */
static int save_vector_regs(struct vcpu *vcpu, struct reg_buf *b, uint64_t *val,
			    uint64_t *failed)
{
	uint64_t vlenb, size;
	unsigned int i;
	int ret;

	if (one_reg(vcpu, KVM_GET_ONE_REG,
		    RISCV_REG_ID(REG_U64, RISCV_REG_VECTOR, 0, RISCV_VECTOR_VLENB), &vlenb))
		return 0;
	/* KVM encodes the size as its log2; anything else is not a VLENB ember can save. */
	if (vlenb < 8 || vlenb > RISCV_SNAP_MAX_REG_SIZE || (vlenb & (vlenb - 1)))
		return -ERANGE;
	size = (uint64_t)__builtin_ctzll(vlenb) << RISCV_REG_SIZE_SHIFT;
	for (i = 0, ret = 0; !ret && i < RISCV_VECTOR_NR_REGS; i++) {
		*failed = RISCV_REG_ID(size, RISCV_REG_VECTOR, 0, RISCV_VECTOR_REG0 + i);
		ret = save_reg(vcpu, *failed, b, val);
	}
	return ret;
}

static int save_vcpu(struct vcpu *vcpu, struct snap_writer *w, char *why, size_t why_len)
{
	uint64_t *val = malloc(RISCV_SNAP_MAX_REG_SIZE), failed = 0;
	struct kvm_mp_state mp = { 0 };
	struct reg_buf b = { 0 };
	unsigned int i;
	char name[96];
	int ret = val ? 0 : -ENOMEM;

	for (i = 0; !ret && i < ARRAY_SIZE(reg_ranges); i++) {
		ret = save_range(vcpu, &reg_ranges[i], &b, val, &failed);
		if (!ret && reg_ranges[i].type == RISCV_REG_VECTOR)
			ret = save_vector_regs(vcpu, &b, val, &failed);
	}
	if (ret) {
		snprintf(why, why_len, "vCPU %u: %s: %s", vcpu->id,
			 reg_name(failed, name, sizeof(name)), strerror(-ret));
		goto out;
	}
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_GET_MP_STATE: %s", vcpu->id, strerror(-ret));
		goto out;
	}
	snap_begin(w, RISCV_TAG_VCPU, vcpu->id);
	snap_put_u32(w, mp.mp_state);
	snap_put_u32(w, b.n);
	snap_put_bytes(w, b.p, b.len);
	snap_end(w);
out:
	free(b.p);
	free(val);
	return ret;
}

int arch_snapshot_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	unsigned int i;
	int ret;

	/* Refused before anything is read: a state that cannot be whole is not worth it. */
	if (vm->arch.irqchip == RISCV_IRQCHIP_AIA) {
		ret = aia_snapshot_check(vm, why, why_len);
		if (ret)
			return ret;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = save_vcpu(&vm->vcpus[i], w, why, why_len);
		if (ret)
			return ret;
	}
	if (vm->arch.irqchip == RISCV_IRQCHIP_AIA)
		return aia_save(vm, w, why, why_len);
	snap_begin(w, RISCV_TAG_PLIC, 0);
	plic_save(vm->arch.plic, w);
	snap_end(w);
	return 0;
}

/* --- the configuration, and the check --- */

void arch_config_save(const struct arch_config *cfg, struct snap_writer *w)
{
	snap_put_u8(w, (uint8_t)cfg->irqchip);
}

void arch_config_load(struct arch_config *cfg, struct snap_cursor *c)
{
	uint8_t chip = snap_get_u8(c);

	if (chip != 0 && chip != RISCV_IRQCHIP_PLIC && chip != RISCV_IRQCHIP_AIA)
		snap_cursor_fail(c, "interrupt controller (--irqchip)");
	cfg->irqchip = chip;
}

int arch_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			size_t why_len)
{
	return riscv_snapshot_check(f, nr_vcpus, why, why_len);
}

/* --- restoring --- */

/*
 * Set (r) unless KVM already holds its value. Reading first spares KVM writes it may
 * refuse even for the same value (an extension that cannot be switched, on older KVM).
 * An extension this KVM does not know and the guest did not have is no loss.
 */
static int restore_reg(struct vcpu *vcpu, const struct riscv_reg *r, uint64_t *cur)
{
	unsigned int type = RISCV_REG_TYPE(r->id);
	int ret;

	ret = one_reg(vcpu, KVM_GET_ONE_REG, r->id, cur);
	if (!ret && !memcmp(cur, r->value, r->size))
		return 0;
	if (ret == -ENOENT && (type == RISCV_REG_ISA_EXT || type == RISCV_REG_SBI_EXT) &&
	    riscv_reg_value(r) == 0)
		return 0;
	/* The value may sit unaligned in the file: KVM reads it from an aligned copy. */
	memcpy(cur, r->value, r->size);
	return one_reg(vcpu, KVM_SET_ONE_REG, r->id, cur);
}

/* Steps 1 to 3 for one vCPU (its timer's time and state come later). */
static int restore_vcpu(struct vcpu *vcpu, const struct riscv_vcpu_state *s, uint64_t *buf,
			char *why, size_t why_len)
{
	struct kvm_mp_state mp = { .mp_state = s->mp_state };
	struct riscv_reg r;
	unsigned int i;
	char name[96];
	size_t off;
	int ret;

	for (i = 0; i <= ARRAY_SIZE(restore_order); i++) {
		unsigned int type = i < ARRAY_SIZE(restore_order) ? restore_order[i]
								   : RISCV_REG_TIMER;

		for (off = 0; riscv_next_reg(s, &off, &r);) {
			if (RISCV_REG_TYPE(r.id) != type || r.id == TIMER_REG(RISCV_TIMER_TIME) ||
			    r.id == TIMER_REG(RISCV_TIMER_STATE))
				continue;
			ret = restore_reg(vcpu, &r, buf);
			if (ret && r.id == TIMER_REG(RISCV_TIMER_FREQ)) {
				snprintf(why, why_len,
					 "vCPU %u: the guest's timebase is %llu Hz, this host's "
					 "%llu Hz",
					 vcpu->id, (unsigned long long)riscv_reg_value(&r),
					 (unsigned long long)vcpu->vm->arch.timebase_hz);
				return ret;
			}
			if (ret) {
				snprintf(why, why_len, "vCPU %u: KVM refused %s: %s", vcpu->id,
					 reg_name(r.id, name, sizeof(name)), strerror(-ret));
				return ret;
			}
		}
	}
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(why, why_len, "vCPU %u: KVM_SET_MP_STATE: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * Steps 5 and 6. KVM arms a timer from its compare value, relative to the VM's time; its
 * state register takes the value ON itself as the deadline on some versions, so the
 * compare value is given again right after, before the timer can have gone off.
 */
static int restore_time(struct vm *vm, struct riscv_vcpu_state *states, char *why,
			size_t why_len)
{
	uint64_t time = 0, on = RISCV_TIMER_ON, compare;
	struct riscv_reg r;
	unsigned int i;
	size_t off;
	int ret;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (states[i].time > time)
			time = states[i].time;
	ret = one_reg(&vm->vcpus[0], KVM_SET_ONE_REG, TIMER_REG(RISCV_TIMER_TIME), &time);
	if (ret) {
		snprintf(why, why_len, "setting the guest's time: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		bool armed = false, have_compare = false;

		for (off = 0; riscv_next_reg(&states[i], &off, &r);) {
			if (r.id == TIMER_REG(RISCV_TIMER_STATE))
				armed = riscv_reg_value(&r) == RISCV_TIMER_ON;
			if (r.id == TIMER_REG(RISCV_TIMER_COMPARE)) {
				compare = riscv_reg_value(&r);
				have_compare = true;
			}
		}
		if (!armed || !have_compare)
			continue;
		ret = one_reg(&vm->vcpus[i], KVM_SET_ONE_REG, TIMER_REG(RISCV_TIMER_STATE), &on);
		if (!ret)
			ret = one_reg(&vm->vcpus[i], KVM_SET_ONE_REG,
				      TIMER_REG(RISCV_TIMER_COMPARE), &compare);
		if (ret) {
			snprintf(why, why_len, "vCPU %u: arming its timer: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Step 4: the PLIC, or the AIA, whichever the file and the VM both have. */
static int restore_irqchip(struct vm *vm, const struct snap_file *f, char *why,
			   size_t why_len)
{
	bool file_plic = snap_count(f, RISCV_TAG_PLIC) != 0;
	struct riscv_aia_state *aia;
	struct snap_cursor c;
	int ret;

	if (file_plic != (vm->arch.irqchip == RISCV_IRQCHIP_PLIC)) {
		snprintf(why, why_len,
			 "the snapshot's VM had %s; this one has %s (--irqchip auto chose "
			 "otherwise on this host)",
			 file_plic ? "the PLIC" : "KVM's AIA",
			 file_plic ? "KVM's AIA" : "the PLIC");
		return -EINVAL;
	}
	if (file_plic) {
		/* The harts hear their lines again, high or low: their registers are back. */
		snap_cursor_init(&c, snap_find(f, RISCV_TAG_PLIC, 0));
		ret = plic_restore(vm->arch.plic, &c, why, why_len);
		return ret ? ret : snap_cursor_end(&c, why, why_len);
	}
	aia = malloc(sizeof(*aia));
	if (!aia) {
		snprintf(why, why_len, "no memory to read the AIA state");
		return -ENOMEM;
	}
	ret = riscv_decode_aia(f, vm->nr_vcpus, aia, why, why_len);
	if (!ret)
		ret = aia_restore(vm, aia, why, why_len);
	free(aia);
	return ret;
}

int arch_snapshot_restore(struct vm *vm, const struct snap_file *f, char *why, size_t why_len)
{
	struct riscv_vcpu_state *states = calloc(vm->nr_vcpus, sizeof(*states));
	uint64_t *buf = malloc(RISCV_SNAP_MAX_REG_SIZE);
	unsigned int i;
	int ret = states && buf ? 0 : -ENOMEM;

	if (ret)
		snprintf(why, why_len, "no memory for the vCPUs' states");
	for (i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = riscv_decode_vcpu(f, i, &states[i], why, why_len);
	for (i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = restore_vcpu(&vm->vcpus[i], &states[i], buf, why, why_len);
	if (!ret)
		ret = restore_irqchip(vm, f, why, why_len);
	if (!ret)
		ret = restore_time(vm, states, why, why_len);
	free(buf);
	free(states);
	return ret;
}
