/*
 * riscv64 vCPUs: entry state per the RISC-V Linux boot protocol (S mode, MMU off, pc at
 * the image, a0 the hart id, a1 the device tree), the ISA that KVM exposes, and the SBI
 * calls KVM leaves to the VMM. Only hart 0 starts; the others wait, stopped, for the
 * guest's SBI HSM hart_start, which KVM handles.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

#define REG_U64(type, idx) (KVM_REG_RISCV | KVM_REG_SIZE_U64 | (type) | (uint64_t)(idx))
#define CORE_REG(name)	   REG_U64(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(name))
#define CONFIG_REG(name)   REG_U64(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(name))
#define TIMER_REG(name)	   REG_U64(KVM_REG_RISCV_TIMER, KVM_REG_RISCV_TIMER_REG(name))
#define ISA_EXT_REG(id)	   REG_U64(KVM_REG_RISCV_ISA_EXT, id)
/* KVM's SBI extension switches (type 8, Linux 6.6+; single ones are subtype 0). */
#define SBI_EXT_REG(id)	   REG_U64(0x08 << KVM_REG_RISCV_TYPE_SHIFT, id)
#define KVM_SBI_EXT_DBCN   9 /* enum KVM_RISCV_SBI_EXT_ID */

/* SBI (v2.0): the legacy console, the debug console (DBCN), and the errors ember returns. */
#define SBI_EXT_0_1_CONSOLE_PUTCHAR 0x1
#define SBI_EXT_0_1_CONSOLE_GETCHAR 0x2
#define SBI_EXT_DBCN		    0x4442434e
#define SBI_DBCN_WRITE		    0
#define SBI_DBCN_READ		    1
#define SBI_DBCN_WRITE_BYTE	    2
#define SBI_ERR_NOT_SUPPORTED	    (-2L)
#define SBI_ERR_INVALID_PARAM	    (-3L)
/* One DBCN write moves at most this much; the spec lets it write less and say so. */
#define SBI_DBCN_MAX_WRITE	    4096

/*
 * The multi-letter extensions ember names in riscv,isa when KVM exposes them, by KVM's id
 * (enum KVM_RISCV_ISA_EXT_ID, stable across versions): the Z ones, then the S ones, as
 * the ISA manual orders them. Zicbom and Zicboz are switched off instead: their block
 * sizes would need device tree properties, and virtio's DMA is coherent anyway.
 */
static const struct isa_ext {
	unsigned int id;
	const char *name;
	bool disable;
} isa_exts[] = {
	{ 19, "zicntr" },   { 24, "zicond" },	  { 20, "zicsr" },  { 21, "zifencei" },
	{ 10, "zihintpause" }, { 22, "zihpm" },	  { 17, "zba" },    { 13, "zbb" },
	{ 18, "zbs" },	    { 23, "smstateen" }, { 14, "ssaia" },  { 8, "sstc" },
	{ 9, "svinval" },   { 16, "svnapot" },	  { 7, "svpbmt" },  { 11, "zicbom", true },
	{ 12, "zicboz", true },
};

/* The single-letter extensions in canonical order; KVM's config isa has bit (c - 'a'). */
static const char isa_letters[] = "imafdqcbvh";

static int reg_get_quiet(struct vcpu *vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int reg_set_quiet(struct vcpu *vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&val };

	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

/* Append (name) to the ISA string (isa), (size) bytes; false if it no longer fits. */
static bool isa_append(char *isa, size_t size, const char *sep, const char *name)
{
	size_t len = strlen(isa);
	int n = snprintf(isa + len, size - len, "%s%s", sep, name);

	return n >= 0 && (size_t)n < size - len;
}

/*
 * vCPU 0 sets the VM's ISA string from what KVM exposes and turns off what ember does not
 * describe; the other harts get the same settings.
 */
static int riscv_vcpu_isa(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	char *isa = vm->arch.isa;
	uint64_t letters, on, off = 0;
	unsigned int i;
	int ret;

	ret = vcpu_reg_get(vcpu, CONFIG_REG(isa), &letters, "the ISA");
	if (ret)
		return ret;
	if (vcpu->id == 0)
		snprintf(isa, RISCV_ISA_MAX, "rv64");
	for (i = 0; vcpu->id == 0 && isa_letters[i]; i++) {
		char letter[2] = { isa_letters[i], '\0' };

		/* H is KVM's, not the guest's: it never shows in a guest's config isa. */
		if (letters & (1ULL << (isa_letters[i] - 'a')))
			isa_append(isa, RISCV_ISA_MAX, "", letter);
	}
	for (i = 0; i < ARRAY_SIZE(isa_exts); i++) {
		if (reg_get_quiet(vcpu, ISA_EXT_REG(isa_exts[i].id), &on) || !on)
			continue; /* this KVM does not know it, or the host lacks it */
		if (isa_exts[i].disable) {
			ret = vcpu_reg_set(vcpu, ISA_EXT_REG(isa_exts[i].id), &off, isa_exts[i].name);
			if (ret)
				return ret;
			continue;
		}
		if (vcpu->id == 0 && !isa_append(isa, RISCV_ISA_MAX, "_", isa_exts[i].name))
			return -E2BIG;
	}
	return 0;
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct kvm_mp_state stopped = { .mp_state = KVM_MP_STATE_STOPPED };
	uint64_t hartid = vcpu->id;
	int ret;

	ret = riscv_vcpu_isa(vcpu);
	if (ret)
		return ret;
	/*
	 * KVM (6.6+) forwards the SBI debug console once asked to: the early console of
	 * kernels built without the legacy SBI extension. Older KVM has no switch: no DBCN.
	 */
	if (reg_set_quiet(vcpu, SBI_EXT_REG(KVM_SBI_EXT_DBCN), 1))
		log_debug(vcpu->vm->log, "vCPU %u: KVM has no SBI debug console to forward",
			  vcpu->id);
	/* Restoring: the run state and the entry registers come from the snapshot. */
	if (vcpu->id && !vm->restoring && ioctl(vcpu->fd, KVM_SET_MP_STATE, &stopped) < 0) {
		ret = -errno;
		log_warn(vcpu->vm->log, "vCPU %u: stopping it until SBI hart_start", vcpu->id);
		return ret;
	}
	if (vcpu->id)
		return 0;
	ret = vcpu_reg_get(vcpu, TIMER_REG(frequency), &vm->arch.timebase_hz, "the timebase");
	if (ret || vm->restoring)
		return ret;
	ret = vcpu_reg_set(vcpu, CORE_REG(regs.pc), &vm->boot.entry, "pc");
	if (!ret)
		ret = vcpu_reg_set(vcpu, CORE_REG(regs.a0), &hartid, "a0");
	if (!ret)
		ret = vcpu_reg_set(vcpu, CORE_REG(regs.a1), &vm->boot.arch.fdt_addr, "a1");
	return ret;
}

/*
 * DBCN write: (len) bytes of guest RAM at (lo, hi) to the console. The range must be RAM
 * (the one checked gpa_to_hva); a long write is cut to SBI_DBCN_MAX_WRITE, and the guest
 * is told how much went out.
 */
static void sbi_dbcn_write(struct vcpu *vcpu, unsigned long len, unsigned long lo,
			   unsigned long hi)
{
	struct kvm_run *run = vcpu->run;
	const void *src;

	if (len > SBI_DBCN_MAX_WRITE)
		len = SBI_DBCN_MAX_WRITE;
	src = hi ? NULL : gpa_to_hva(&vcpu->vm->mem, lo, len);
	if (!src) {
		run->riscv_sbi.ret[0] = (unsigned long)SBI_ERR_INVALID_PARAM;
		run->riscv_sbi.ret[1] = 0;
		return;
	}
	write_all(vcpu->vm->cfg->console_out, src, len); /* a closed stdout must not stop it */
	run->riscv_sbi.ret[0] = 0;
	run->riscv_sbi.ret[1] = len;
}

static void sbi_dbcn(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned long *a = run->riscv_sbi.args;
	uint8_t c;

	run->riscv_sbi.ret[0] = 0;
	run->riscv_sbi.ret[1] = 0;
	switch (run->riscv_sbi.function_id) {
	case SBI_DBCN_WRITE:
		sbi_dbcn_write(vcpu, a[0], a[1], a[2]);
		break;
	case SBI_DBCN_READ:
		break; /* no bytes: console input goes to the 16550 */
	case SBI_DBCN_WRITE_BYTE:
		c = (uint8_t)a[0];
		write_all(vcpu->vm->cfg->console_out, &c, 1);
		break;
	default:
		run->riscv_sbi.ret[0] = (unsigned long)SBI_ERR_NOT_SUPPORTED;
	}
}

/*
 * What KVM forwards: the consoles (the legacy one, where the host's KVM has it, and DBCN,
 * which ember switched on), both on the serial output, and the experimental and vendor
 * ranges, which ember does not implement.
 */
static int riscv_handle_sbi(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned long ext = run->riscv_sbi.extension_id;
	uint8_t c;

	switch (ext) {
	case SBI_EXT_DBCN:
		sbi_dbcn(vcpu);
		return 0;
	case SBI_EXT_0_1_CONSOLE_PUTCHAR:
		c = (uint8_t)run->riscv_sbi.args[0];
		write_all(vcpu->vm->cfg->console_out, &c, 1); /* a closed stdout must not stop it */
		run->riscv_sbi.ret[0] = 0;
		return 0;
	case SBI_EXT_0_1_CONSOLE_GETCHAR:
		/* Console input goes to the 16550, so the SBI console never has a character. */
		run->riscv_sbi.ret[0] = (unsigned long)-1L;
		return 0;
	default:
		log_debug(vcpu->vm->log, "vCPU %u: SBI extension 0x%lx function %lu not supported",
			  vcpu->id, ext, run->riscv_sbi.function_id);
		run->riscv_sbi.ret[0] = (unsigned long)SBI_ERR_NOT_SUPPORTED;
		run->riscv_sbi.ret[1] = 0;
		return 0;
	}
}

int arch_handle_exit(struct vcpu *vcpu)
{
	if (vcpu->run->exit_reason == KVM_EXIT_RISCV_SBI)
		return riscv_handle_sbi(vcpu);
	log_err(vcpu->vm->log, "vCPU %u: unhandled KVM exit %u", vcpu->id, vcpu->run->exit_reason);
	return -EINVAL;
}
