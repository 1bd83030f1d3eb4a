/* x86_64 vCPU and boot-structure helpers shared inside the arch directory. */
#ifndef EMBER_ARCH_X86_64_CPU_H
#define EMBER_ARCH_X86_64_CPU_H

#include <linux/kvm.h>
#include <stdint.h>

#include "../../vmm/memory.h"
#include "../../vmm/boot.h"

/* GDT access/flags words: the access byte in bits 0-7, AVL/L/DB/G in bits 12-15. */
#define GDT_CODE64 0xa09b
#define GDT_CODE32 0xc09b
#define GDT_DATA   0xc093
#define GDT_TSS	   0x808b
#define GDT_NR_ENTRIES 4 /* null, code, data, tss */

/* Encode a GDT descriptor. */
uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);

/* The KVM segment register for GDT entry (index) encoded as (entry). */
struct kvm_segment gdt_to_kvm_segment(uint64_t entry, unsigned int index);

/* The GDT the vCPUs enter with, for (proto). */
void x86_boot_gdt(enum boot_protocol proto, uint64_t gdt[GDT_NR_ENTRIES]);

/* Write the GDT, an empty IDT and (for 64-bit entry) identity page tables of the first GiB. */
int x86_write_boot_tables(struct guest_mem *mem, enum boot_protocol proto);

/*
 * Rewrite the supported CPUID table (entries, *nr, room for cap) for vCPU (id) of
 * (nr_cpus): APIC IDs, topology leaves (adding missing subleaves), and the hypervisor
 * leaves with the KVM signature.
 */
void x86_cpuid_normalize(struct kvm_cpuid_entry2 *entries, unsigned int *nr, unsigned int cap,
			 unsigned int id, unsigned int nr_cpus);

#endif
