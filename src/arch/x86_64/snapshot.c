/*
 * Snapshots of x86_64 KVM state. Two kinds of section:
 *   "XVM " 0   the VM: kvmclock, the in-kernel PICs and I/O APIC, the PIT
 *   "XCPU" i   vCPU i: CPUID, registers, FPU/XSAVE, XCRs, MSRs, LAPIC, MP state, events,
 *              debug registers, TSC frequency
 * Fixed-size KVM structures are stored as their bytes (the uapi fixes their layout); what
 * varies (CPUID entries, XSAVE area, MSRs) is a blob whose size the reader bounds. One
 * decoder reads a section for both the check before anything is built and the restore.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../arch.h"
#include "../../snapshot/stream.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

#define TAG_VM	 SNAP_TAG('X', 'V', 'M', ' ')
#define TAG_VCPU SNAP_TAG('X', 'C', 'P', 'U')

#define SNAP_CPUID_MAX 256   /* entries: KVM reports well under 100 */
#define SNAP_MSRS_MAX  1024  /* MSRs: KVM's index list is a few hundred at most */
#define SNAP_XSAVE_MAX 65536 /* bytes: the XSAVE area is 4 KiB, more with AMX */

struct msr_pair {
	uint32_t index;
	uint64_t value;
};

/* One vCPU's state as the file holds it; the blobs point into the file. */
struct x86_vcpu_state {
	const struct kvm_cpuid_entry2 *cpuid; /* unaligned: copied before use */
	uint32_t nr_cpuid;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const uint8_t *xsave;
	uint32_t xsave_len;
	struct kvm_xcrs xcrs;
	const uint8_t *msrs; /* nr_msrs pairs of (u32 index, u64 value), little-endian */
	uint32_t nr_msrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debug;
	uint32_t tsc_khz;
};

struct x86_vm_state {
	struct kvm_clock_data clock;
	struct kvm_irqchip chips[3]; /* PIC master, PIC slave, I/O APIC */
	uint8_t have_pit;
	struct kvm_pit_state2 pit;
};

void arch_config_save(const struct arch_config *cfg, struct snap_writer *w)
{
	(void)cfg;
	(void)w; /* x86_64 has no knobs of its own */
}

void arch_config_load(struct arch_config *cfg, struct snap_cursor *c)
{
	(void)cfg;
	(void)c;
}

/* --- saving --- */

/* Every MSR KVM lists, as pairs; one KVM will not read is left out. */
static int x86_save_msrs(struct vcpu *vcpu, struct snap_writer *w)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list = NULL;
	struct kvm_msrs *msrs = NULL;
	uint32_t i, n, saved = 0;
	uint8_t *pairs = NULL;
	int ret = 0;

	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	n = probe.nmsrs;
	if (n > SNAP_MSRS_MAX)
		return -E2BIG;
	list = calloc(1, sizeof(*list) + n * sizeof(uint32_t));
	msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
	pairs = calloc(n ? n : 1, 12);
	if (!list || !msrs || !pairs) {
		ret = -ENOMEM;
		goto out;
	}
	list->nmsrs = n;
	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		ret = -errno;
		goto out;
	}
	/* KVM_GET_MSRS stops at the first MSR it cannot read: skip it and go on after it. */
	for (i = 0; i < list->nmsrs;) {
		uint32_t j, todo = list->nmsrs - i;
		int got;

		msrs->nmsrs = todo;
		for (j = 0; j < todo; j++)
			msrs->entries[j] = (struct kvm_msr_entry){ .index = list->indices[i + j] };
		got = ioctl(vcpu->fd, KVM_GET_MSRS, msrs);
		if (got < 0) {
			ret = -errno;
			goto out;
		}
		for (j = 0; j < (uint32_t)got; j++, saved++) {
			put_le32(pairs + saved * 12, msrs->entries[j].index);
			put_le64(pairs + saved * 12 + 4, msrs->entries[j].data);
		}
		i += got + 1;
	}
	snap_put_u32(w, saved);
	snap_put_bytes(w, pairs, saved * 12);
out:
	free(list);
	free(msrs);
	free(pairs);
	return ret;
}

static int x86_save_xsave(struct vcpu *vcpu, struct snap_writer *w)
{
	int size = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	unsigned long req = KVM_GET_XSAVE2;
	void *area;
	int ret = 0;

	if (size < (int)sizeof(struct kvm_xsave)) {
		size = sizeof(struct kvm_xsave);
		req = KVM_GET_XSAVE;
	}
	if (size > SNAP_XSAVE_MAX)
		return -E2BIG;
	area = calloc(1, size);
	if (!area)
		return -ENOMEM;
	if (ioctl(vcpu->fd, req, area) < 0)
		ret = -errno;
	else
		snap_put_blob(w, area, size);
	free(area);
	return ret;
}

static int x86_save_cpuid(struct vcpu *vcpu, struct snap_writer *w)
{
	size_t sz = sizeof(struct kvm_cpuid2) + SNAP_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, sz);
	int ret = 0;

	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = SNAP_CPUID_MAX;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, cpuid) < 0)
		ret = -errno;
	else
		snap_put_blob(w, cpuid->entries, cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	free(cpuid);
	return ret;
}

/* A fixed-size KVM structure read by (req) on (fd) into the file. */
static int x86_save_struct(int fd, unsigned long req, void *buf, size_t size,
			   struct snap_writer *w)
{
	memset(buf, 0, size);
	if (ioctl(fd, req, buf) < 0)
		return -errno;
	snap_put_bytes(w, buf, size);
	return 0;
}

static int x86_save_vcpu(struct vcpu *vcpu, struct snap_writer *w, const char **step)
{
	union {
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		struct kvm_xcrs xcrs;
		struct kvm_lapic_state lapic;
		struct kvm_mp_state mp;
		struct kvm_vcpu_events events;
		struct kvm_debugregs debug;
	} u;
	int ret, khz;

	snap_begin(w, TAG_VCPU, vcpu->id);
	ret = x86_save_cpuid(vcpu, w);
	*step = "KVM_GET_CPUID2";
	if (!ret) {
		*step = "KVM_GET_REGS";
		ret = x86_save_struct(vcpu->fd, KVM_GET_REGS, &u.regs, sizeof(u.regs), w);
	}
	if (!ret) {
		*step = "KVM_GET_SREGS";
		ret = x86_save_struct(vcpu->fd, KVM_GET_SREGS, &u.sregs, sizeof(u.sregs), w);
	}
	if (!ret) {
		*step = "KVM_GET_XSAVE";
		ret = x86_save_xsave(vcpu, w);
	}
	if (!ret) {
		*step = "KVM_GET_XCRS";
		ret = x86_save_struct(vcpu->fd, KVM_GET_XCRS, &u.xcrs, sizeof(u.xcrs), w);
	}
	if (!ret) {
		*step = "KVM_GET_MSRS";
		ret = x86_save_msrs(vcpu, w);
	}
	if (!ret) {
		*step = "KVM_GET_LAPIC";
		ret = x86_save_struct(vcpu->fd, KVM_GET_LAPIC, &u.lapic, sizeof(u.lapic), w);
	}
	if (!ret) {
		*step = "KVM_GET_MP_STATE";
		ret = x86_save_struct(vcpu->fd, KVM_GET_MP_STATE, &u.mp, sizeof(u.mp), w);
	}
	if (!ret) {
		*step = "KVM_GET_VCPU_EVENTS";
		ret = x86_save_struct(vcpu->fd, KVM_GET_VCPU_EVENTS, &u.events, sizeof(u.events),
				      w);
	}
	if (!ret) {
		*step = "KVM_GET_DEBUGREGS";
		ret = x86_save_struct(vcpu->fd, KVM_GET_DEBUGREGS, &u.debug, sizeof(u.debug), w);
	}
	if (!ret) {
		*step = "KVM_GET_TSC_KHZ";
		khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
		ret = khz < 0 ? -errno : 0;
		snap_put_u32(w, khz < 0 ? 0 : (uint32_t)khz);
	}
	snap_end(w);
	return ret;
}

static int x86_save_vm(struct vm *vm, struct snap_writer *w, const char **step)
{
	struct x86_vm_state s;
	unsigned int i;
	int ret;

	memset(&s, 0, sizeof(s));
	snap_begin(w, TAG_VM, 0);
	*step = "KVM_GET_CLOCK";
	ret = x86_save_struct(vm->vm_fd, KVM_GET_CLOCK, &s.clock, sizeof(s.clock), w);
	for (i = 0; !ret && i < ARRAY_SIZE(s.chips); i++) {
		*step = "KVM_GET_IRQCHIP";
		s.chips[i].chip_id = i;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s.chips[i]) < 0)
			ret = -errno;
		else
			snap_put_bytes(w, &s.chips[i], sizeof(s.chips[i]));
	}
	snap_put_u8(w, vm->arch.have_pit ? 1 : 0);
	if (!ret && vm->arch.have_pit) {
		*step = "KVM_GET_PIT2";
		ret = x86_save_struct(vm->vm_fd, KVM_GET_PIT2, &s.pit, sizeof(s.pit), w);
	}
	snap_end(w);
	return ret;
}

int arch_snapshot_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	const char *step = "";
	unsigned int i;
	int ret;

	ret = x86_save_vm(vm, w, &step);
	if (ret) {
		snprintf(why, why_len, "the VM's state: %s: %s", step, strerror(-ret));
		return ret;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = x86_save_vcpu(&vm->vcpus[i], w, &step);
		if (ret) {
			snprintf(why, why_len, "vCPU %u: %s: %s", i, step, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* --- reading, for the check and the restore alike --- */

static int x86_decode_vm(const struct snap_file *f, struct x86_vm_state *s, char *why,
			 size_t why_len)
{
	struct snap_cursor c;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, TAG_VM, 0));
	snap_get_bytes(&c, &s->clock, sizeof(s->clock));
	for (i = 0; i < ARRAY_SIZE(s->chips); i++) {
		snap_get_bytes(&c, &s->chips[i], sizeof(s->chips[i]));
		if (s->chips[i].chip_id != i)
			snap_cursor_fail(&c, "irqchip id");
	}
	s->have_pit = snap_get_u8(&c);
	if (s->have_pit > 1)
		snap_cursor_fail(&c, "PIT flag");
	if (s->have_pit)
		snap_get_bytes(&c, &s->pit, sizeof(s->pit));
	if (snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no x86 VM state (section XVM)");
		return -EINVAL;
	}
	return 0;
}

static int x86_decode_vcpu(const struct snap_file *f, unsigned int id, struct x86_vcpu_state *s,
			   char *why, size_t why_len)
{
	struct snap_cursor c;
	uint32_t len;

	memset(s, 0, sizeof(*s));
	snap_cursor_init(&c, snap_find(f, TAG_VCPU, id));
	s->cpuid = snap_get_blob(&c, SNAP_CPUID_MAX * sizeof(struct kvm_cpuid_entry2), &len);
	if (len % sizeof(struct kvm_cpuid_entry2))
		snap_cursor_fail(&c, "CPUID size");
	s->nr_cpuid = len / sizeof(struct kvm_cpuid_entry2);
	snap_get_bytes(&c, &s->regs, sizeof(s->regs));
	snap_get_bytes(&c, &s->sregs, sizeof(s->sregs));
	s->xsave = snap_get_blob(&c, SNAP_XSAVE_MAX, &s->xsave_len);
	if (!c.bad && s->xsave_len < sizeof(struct kvm_xsave))
		snap_cursor_fail(&c, "XSAVE size");
	snap_get_bytes(&c, &s->xcrs, sizeof(s->xcrs));
	if (s->xcrs.nr_xcrs > KVM_MAX_XCRS)
		snap_cursor_fail(&c, "XCR count");
	s->nr_msrs = snap_get_u32(&c);
	if (s->nr_msrs > SNAP_MSRS_MAX)
		snap_cursor_fail(&c, "MSR count");
	s->msrs = snap_get_span(&c, c.bad ? 0 : (size_t)s->nr_msrs * 12);
	snap_get_bytes(&c, &s->lapic, sizeof(s->lapic));
	snap_get_bytes(&c, &s->mp, sizeof(s->mp));
	if (s->mp.mp_state > KVM_MP_STATE_AP_RESET_HOLD)
		snap_cursor_fail(&c, "MP state");
	snap_get_bytes(&c, &s->events, sizeof(s->events));
	snap_get_bytes(&c, &s->debug, sizeof(s->debug));
	s->tsc_khz = snap_get_u32(&c);
	if (snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no state for vCPU %u (section XCPU %u)", id, id);
		return -EINVAL;
	}
	return 0;
}

int arch_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			size_t why_len)
{
	struct x86_vcpu_state v;
	struct x86_vm_state s;
	unsigned int i;
	int ret;

	ret = x86_decode_vm(f, &s, why, why_len);
	for (i = 0; !ret && i < nr_vcpus; i++)
		ret = x86_decode_vcpu(f, i, &v, why, why_len);
	if (!ret && snap_count(f, TAG_VCPU) != nr_vcpus) {
		snprintf(why, why_len, "%u vCPU states for %u vCPUs", snap_count(f, TAG_VCPU),
			 nr_vcpus);
		ret = -EINVAL;
	}
	return ret;
}

/* --- restoring --- */

/* Set every saved MSR; one KVM refuses (a read-only one) is skipped and logged. */
static int x86_restore_msrs(struct vcpu *vcpu, const struct x86_vcpu_state *s)
{
	struct kvm_msrs *msrs;
	uint32_t i, j;
	int got;

	if (!s->nr_msrs)
		return 0;
	msrs = calloc(1, sizeof(*msrs) + s->nr_msrs * sizeof(struct kvm_msr_entry));
	if (!msrs)
		return -ENOMEM;
	for (i = 0; i < s->nr_msrs;) {
		msrs->nmsrs = s->nr_msrs - i;
		for (j = 0; j < msrs->nmsrs; j++)
			msrs->entries[j] = (struct kvm_msr_entry){
				.index = get_le32(s->msrs + (i + j) * 12),
				.data = get_le64(s->msrs + (i + j) * 12 + 4),
			};
		got = ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
		if (got < 0) {
			free(msrs);
			return -errno;
		}
		if ((uint32_t)got < msrs->nmsrs)
			log_debug(vcpu->vm->log, "vCPU %u: KVM refused MSR 0x%x on restore", vcpu->id,
				  msrs->entries[got].index);
		i += got + 1;
	}
	free(msrs);
	return 0;
}

static int x86_restore_cpuid(struct vcpu *vcpu, const struct x86_vcpu_state *s)
{
	struct kvm_cpuid2 *cpuid;
	int ret = 0;

	cpuid = calloc(1, sizeof(*cpuid) + s->nr_cpuid * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = s->nr_cpuid;
	memcpy(cpuid->entries, s->cpuid, s->nr_cpuid * sizeof(struct kvm_cpuid_entry2));
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = -errno;
	free(cpuid);
	return ret;
}

static int x86_restore_xsave(struct vcpu *vcpu, const struct x86_vcpu_state *s)
{
	int size = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	void *area;
	int ret = 0;

	if (size < (int)sizeof(struct kvm_xsave))
		size = sizeof(struct kvm_xsave);
	/* A bigger saved area than this KVM's holds features this host cannot give back. */
	if ((uint32_t)size < s->xsave_len)
		return -EOPNOTSUPP;
	area = calloc(1, size);
	if (!area)
		return -ENOMEM;
	memcpy(area, s->xsave, s->xsave_len);
	if (ioctl(vcpu->fd, KVM_SET_XSAVE, area) < 0)
		ret = -errno;
	free(area);
	return ret;
}

/* KVM's order: CPUID before anything it shapes; the LAPIC before the MSRs (TSC deadline). */
static int x86_restore_vcpu(struct vcpu *vcpu, const struct x86_vcpu_state *s,
			    const char **step)
{
	struct kvm_vcpu_events events = s->events;
	int fd = vcpu->fd;

	int ret;

	*step = "KVM_SET_CPUID2";
	ret = x86_restore_cpuid(vcpu, s);
	if (ret)
		return ret;
	*step = "KVM_SET_TSC_KHZ";
	if (s->tsc_khz && ioctl(fd, KVM_GET_TSC_KHZ, 0) != (int)s->tsc_khz &&
	    ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)s->tsc_khz) < 0)
		log_warn(vcpu->vm->log, "vCPU %u: cannot set the TSC to %u kHz", vcpu->id,
			 s->tsc_khz);
	*step = "KVM_SET_SREGS";
	if (ioctl(fd, KVM_SET_SREGS, &s->sregs) < 0)
		return -errno;
	*step = "KVM_SET_REGS";
	if (ioctl(fd, KVM_SET_REGS, &s->regs) < 0)
		return -errno;
	*step = "KVM_SET_XSAVE";
	ret = x86_restore_xsave(vcpu, s);
	if (ret)
		return ret;
	*step = "KVM_SET_XCRS";
	if (s->xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return -errno;
	*step = "KVM_SET_DEBUGREGS";
	if (ioctl(fd, KVM_SET_DEBUGREGS, &s->debug) < 0)
		return -errno;
	*step = "KVM_SET_LAPIC";
	if (ioctl(fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return -errno;
	*step = "KVM_SET_MSRS";
	ret = x86_restore_msrs(vcpu, s);
	if (ret)
		return ret;
	*step = "KVM_SET_MP_STATE";
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp) < 0)
		return -errno;
	*step = "KVM_SET_VCPU_EVENTS";
	/* Only what was saved is valid; KVM refuses flags for state it was not given. */
	events.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	if (ioctl(fd, KVM_SET_VCPU_EVENTS, &events) < 0)
		return -errno;
	return 0;
}

static int x86_restore_vm(struct vm *vm, const struct x86_vm_state *s, const char **step)
{
	struct kvm_clock_data clock = { .clock = s->clock.clock };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s->chips); i++) {
		*step = "KVM_SET_IRQCHIP";
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->chips[i]) < 0)
			return -errno;
	}
	if (s->have_pit != (vm->arch.have_pit ? 1 : 0)) {
		*step = "the PIT";
		return -EINVAL;
	}
	*step = "KVM_SET_PIT2";
	if (s->have_pit && ioctl(vm->vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		return -errno;
	/* The guest's clock goes on from where it stopped: no time passes while it is saved. */
	*step = "KVM_SET_CLOCK";
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return -errno;
	return 0;
}

int arch_snapshot_restore(struct vm *vm, const struct snap_file *f, char *why, size_t why_len)
{
	struct x86_vcpu_state v;
	struct x86_vm_state s;
	const char *step = "";
	unsigned int i;
	int ret;

	ret = x86_decode_vm(f, &s, why, why_len);
	if (ret)
		return ret;
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = x86_decode_vcpu(f, i, &v, why, why_len);
		if (ret)
			return ret;
		ret = x86_restore_vcpu(&vm->vcpus[i], &v, &step);
		if (ret) {
			snprintf(why, why_len, "vCPU %u: %s: %s", i, step, strerror(-ret));
			return ret;
		}
	}
	ret = x86_restore_vm(vm, &s, &step);
	if (ret)
		snprintf(why, why_len, "the VM's state: %s: %s", step, strerror(-ret));
	return ret;
}
