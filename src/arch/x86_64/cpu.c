/* x86_64 vCPU state at entry: CPUID, MSRs, FPU, LAPIC, registers and segments. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu.h"
#include "../arch.h"
#include "../../util/log.h"
#include "../../util/util.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"

#define CPUID_MAX_ENTRIES 256
#define CR0_PE		  0x1ULL
#define CR0_ET		  0x10ULL
#define CR0_PG		  0x80000000ULL
#define CR4_PAE		  0x20ULL
#define EFER_LME	  0x100ULL
#define EFER_LMA	  0x400ULL
#define PTE_PRESENT_RW	  0x3ULL
#define PDE_2M_PAGE	  0x83ULL

#define APIC_LVT_LINT0	  0x350
#define APIC_LVT_LINT1	  0x360
#define APIC_MODE_MASK	  0x700
#define APIC_MODE_NMI	  0x400
#define APIC_MODE_EXTINT  0x700

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES  0x40000001

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0x0000ffff);
}

struct kvm_segment gdt_to_kvm_segment(uint64_t entry, unsigned int index)
{
	uint32_t limit = (uint32_t)((entry & 0xffff) | ((entry >> 32) & 0xf0000));
	struct kvm_segment seg = {
		.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24),
		.selector = index * 8,
		.type = (entry >> 40) & 0xf,
		.s = (entry >> 44) & 1,
		.dpl = (entry >> 45) & 3,
		.present = (entry >> 47) & 1,
		.avl = (entry >> 52) & 1,
		.l = (entry >> 53) & 1,
		.db = (entry >> 54) & 1,
		.g = (entry >> 55) & 1,
	};

	seg.limit = seg.g ? (limit << 12) | 0xfff : limit;
	return seg;
}

void x86_boot_gdt(enum boot_protocol proto, uint64_t gdt[GDT_NR_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = gdt_entry(proto == BOOT_PROTO_PVH ? GDT_CODE32 : GDT_CODE64, 0, 0xfffff);
	gdt[2] = gdt_entry(GDT_DATA, 0, 0xfffff);
	gdt[3] = gdt_entry(GDT_TSS, 0, 0x67);
}

int x86_write_boot_tables(struct guest_mem *mem, enum boot_protocol proto)
{
	uint64_t gdt[GDT_NR_ENTRIES], idt = 0, *pml4, *pdpt, *pd;
	unsigned int i;

	x86_boot_gdt(proto, gdt);
	if (guest_mem_write(mem, X86_GDT_ADDR, gdt, sizeof(gdt)) ||
	    guest_mem_write(mem, X86_IDT_ADDR, &idt, sizeof(idt)))
		return -EFAULT;
	if (proto == BOOT_PROTO_PVH)
		return 0; /* PVH enters with paging off */
	pml4 = gpa_to_hva(mem, X86_PML4_ADDR, 4096);
	pdpt = gpa_to_hva(mem, X86_PDPT_ADDR, 4096);
	pd = gpa_to_hva(mem, X86_PD_ADDR, 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = X86_PDPT_ADDR | PTE_PRESENT_RW;
	pdpt[0] = X86_PD_ADDR | PTE_PRESENT_RW;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | PDE_2M_PAGE;
	return 0;
}

/* Bits needed to number (n) items. */
static unsigned int bits_for(unsigned int n)
{
	unsigned int bits = 0;

	while ((1U << bits) < n)
		bits++;
	return bits;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *entries, unsigned int nr,
					    uint32_t function, uint32_t index)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (entries[i].function == function && entries[i].index == index)
			return &entries[i];
	return NULL;
}

/*
 * KVM may list only subleaf 0 of leaf 0xb; without the core level a guest takes every
 * vCPU for a package of its own. Add subleaves 1 (cores) and 2 (end of list).
 */
static void cpuid_add_topology_subleaves(struct kvm_cpuid_entry2 *entries, unsigned int *nr,
					 unsigned int cap)
{
	uint32_t index;

	if (!cpuid_find(entries, *nr, 0xb, 0))
		return;
	for (index = 1; index <= 2 && *nr < cap; index++) {
		if (cpuid_find(entries, *nr, 0xb, index))
			continue;
		entries[(*nr)++] = (struct kvm_cpuid_entry2){
			.function = 0xb,
			.index = index,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		};
	}
}

void x86_cpuid_normalize(struct kvm_cpuid_entry2 *entries, unsigned int *nr_entries,
			 unsigned int cap, unsigned int id, unsigned int nr_cpus)
{
	unsigned int i, nr, core_bits = bits_for(nr_cpus);

	cpuid_add_topology_subleaves(entries, nr_entries, cap);
	nr = *nr_entries;

	for (i = 0; i < nr; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];

		switch (e->function) {
		case 1:
			/* Initial APIC ID, logical processor count, hypervisor present. */
			e->ebx = (id << 24) | ((nr_cpus > 1 ? nr_cpus : 1) << 16) | (e->ebx & 0xffff);
			e->ecx |= 1U << 31;
			if (nr_cpus > 1)
				e->edx |= 1U << 28;
			break;
		case 4:
			/* One core per vCPU, one package. */
			e->eax = (e->eax & 0x03ffffff) | ((nr_cpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* Level 0: SMT, one thread per core; level 1: cores in the package. */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1 << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = nr_cpus;
				e->ecx = (2 << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffU) | (nr_cpus - 1) | (core_bits << 12);
			break;
		case 0x8000001e:
			e->eax = id;
			e->ebx = id & 0xff; /* core id; one thread per core */
			e->ecx = 0;
			break;
		case KVM_CPUID_SIGNATURE:
			/* "KVMKVMKVM\0\0\0": the guest then trusts kvmclock. */
			e->eax = KVM_CPUID_FEATURES;
			e->ebx = 0x4b4d564b;
			e->ecx = 0x564b4d56;
			e->edx = 0x4d;
			break;
		default:
			break;
		}
	}
}

static int x86_set_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid;
	size_t sz = sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	int ret = 0;

	cpuid = calloc(1, sz);
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		ret = -errno;
		log_warn(vcpu->vm->log, "KVM_GET_SUPPORTED_CPUID");
		goto out;
	}
	x86_cpuid_normalize(cpuid->entries, &cpuid->nent, CPUID_MAX_ENTRIES, vcpu->id,
			    vcpu->vm->cfg->vcpus);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
		ret = -errno;
		log_warn(vcpu->vm->log, "KVM_SET_CPUID2");
	}
out:
	free(cpuid);
	return ret;
}

static int x86_set_msrs(struct vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{ 0x174, 0 },		      /* SYSENTER_CS */
		{ 0x175, 0 },		      /* SYSENTER_ESP */
		{ 0x176, 0 },		      /* SYSENTER_EIP */
		{ 0xc0000081, 0 },	      /* STAR */
		{ 0xc0000082, 0 },	      /* LSTAR */
		{ 0xc0000083, 0 },	      /* CSTAR */
		{ 0xc0000084, 0 },	      /* SYSCALL_MASK */
		{ 0xc0000102, 0 },	      /* KERNEL_GS_BASE */
		{ 0x10, 0 },		      /* TSC */
		{ 0x1a0, 1 },		      /* MISC_ENABLE: fast strings */
		{ 0x2ff, (1 << 11) | 6 },     /* MTRR default type: enabled, write-back */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[ARRAY_SIZE(boot_msrs)];
	} msrs;
	unsigned int i;
	int n;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = ARRAY_SIZE(boot_msrs);
	for (i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		msrs.entries[i].index = boot_msrs[i].index;
		msrs.entries[i].data = boot_msrs[i].value;
	}
	n = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (n < 0) {
		log_warn(vcpu->vm->log, "KVM_SET_MSRS");
		return -errno;
	}
	/* KVM stops at the first MSR it refuses; the guest can live without the rest. */
	if ((unsigned int)n < ARRAY_SIZE(boot_msrs))
		log_debug(vcpu->vm->log, "vCPU %u: KVM refused MSR 0x%x", vcpu->id,
			  boot_msrs[n].index);
	return 0;
}

static int x86_set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t *lint0 = (uint32_t *)&lapic.regs[APIC_LVT_LINT0];
	uint32_t *lint1 = (uint32_t *)&lapic.regs[APIC_LVT_LINT1];

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0) {
		log_warn(vcpu->vm->log, "KVM_GET_LAPIC");
		return -errno;
	}
	/* The 8259 reaches the CPU through LINT0; NMIs through LINT1. */
	*lint0 = (*lint0 & ~APIC_MODE_MASK) | APIC_MODE_EXTINT;
	*lint1 = (*lint1 & ~APIC_MODE_MASK) | APIC_MODE_NMI;
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0) {
		log_warn(vcpu->vm->log, "KVM_SET_LAPIC");
		return -errno;
	}
	return 0;
}

static int x86_set_sregs(struct vcpu *vcpu)
{
	enum boot_protocol proto = vcpu->vm->boot.proto;
	uint64_t gdt[GDT_NR_ENTRIES];
	struct kvm_sregs sregs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		log_warn(vcpu->vm->log, "KVM_GET_SREGS");
		return -errno;
	}
	x86_boot_gdt(proto, gdt);
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = X86_IDT_ADDR;
	sregs.idt.limit = sizeof(uint64_t) - 1;
	sregs.cs = gdt_to_kvm_segment(gdt[1], 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = gdt_to_kvm_segment(gdt[2], 2);
	sregs.tr = gdt_to_kvm_segment(gdt[3], 3);
	if (proto == BOOT_PROTO_PVH) {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.cr3 = X86_PML4_ADDR;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0) {
		log_warn(vcpu->vm->log, "KVM_SET_SREGS");
		return -errno;
	}
	return 0;
}

static int x86_set_regs(struct vcpu *vcpu)
{
	const struct boot_info *bi = &vcpu->vm->boot;
	struct kvm_regs regs = { .rflags = 0x2, .rip = bi->entry };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (bi->proto == BOOT_PROTO_PVH) {
		regs.rbx = X86_PVH_INFO_ADDR;
	} else {
		regs.rsp = regs.rbp = X86_BOOT_STACK;
		regs.rsi = X86_ZERO_PAGE_ADDR;
	}
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
		log_warn(vcpu->vm->log, "KVM_SET_REGS");
		return -errno;
	}
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0) {
		log_warn(vcpu->vm->log, "KVM_SET_FPU");
		return -errno;
	}
	return 0;
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	int ret;

	/* A restore sets CPUID, MSRs, registers and LAPIC from the snapshot: none to make. */
	if (vcpu->vm->restoring)
		return 0;
	ret = x86_set_cpuid(vcpu);
	if (!ret)
		ret = x86_set_msrs(vcpu);
	if (!ret)
		ret = x86_set_sregs(vcpu);
	if (!ret)
		ret = x86_set_regs(vcpu);
	if (!ret)
		ret = x86_set_lapic(vcpu);
	return ret;
}
