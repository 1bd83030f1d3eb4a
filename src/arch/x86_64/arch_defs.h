/* x86_64 types and guest physical layout. */
#ifndef EMBER_ARCH_X86_64_DEFS_H
#define EMBER_ARCH_X86_64_DEFS_H

#include <stdint.h>

#define ARCH_NAME "x86_64"
#define ARCH_ELF_MACHINE 62 /* EM_X86_64: whose guests a snapshot holds */

/*
 * Firecracker's, but for i8042.nopnp: under hardware-reduced ACPI Linux has no legacy IRQs,
 * so its i8042 driver can take its IRQ only from the DSDT's PNP0303 (without ACPI it finds
 * no PNP device and probes the ports, as with nopnp).
 */
#define ARCH_DEFAULT_BOOT_ARGS                                                                     \
	"console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.dumbkbd"

/* KVM_IRQ_LINE takes the GSI itself: the PIC and I/O APIC pins. */
#define ARCH_IRQ_LINE(gsi)    (gsi)

/* Boot structures in low memory, below the EBDA. */
#define X86_GDT_ADDR	      0x500
#define X86_IDT_ADDR	      0x520
#define X86_PVH_INFO_ADDR     0x6000
#define X86_PVH_MODLIST_ADDR  0x6040
#define X86_PVH_MEMMAP_ADDR   0x6100
#define X86_ZERO_PAGE_ADDR    0x7000
#define X86_BOOT_STACK	      0x8ff0
#define X86_PML4_ADDR	      0x9000
#define X86_PDPT_ADDR	      0xa000
#define X86_PD_ADDR	      0xb000
#define ARCH_CMDLINE_ADDR     0x20000
#define ARCH_CMDLINE_MAX      4096
#define X86_EBDA_START	      0x9fc00
#define X86_MPTABLE_ADDR      X86_EBDA_START
/* The BIOS area: the ACPI tables, RSDP first where the legacy scan looks (reserved in e820). */
#define X86_ACPI_BASE	      0xe0000
#define X86_ACPI_END	      0x100000
#define X86_HIGH_MEM_START    0x100000

/* The 32-bit MMIO hole: RAM stops at 3 GiB and resumes at 4 GiB. */
#define X86_MMIO_HOLE_START   0xc0000000ULL
#define X86_MMIO_HOLE_END     0x100000000ULL
#define X86_IOAPIC_ADDR	      0xfec00000U
#define X86_LAPIC_ADDR	      0xfee00000U

/* KVM needs three pages for the TSS and one for the identity map, inside the hole. */
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define X86_TSS_ADDR	      0xfffbd000ULL

/* ember's own MMIO devices start here (the boot timer first, as in Firecracker). */
#define ARCH_MMIO_BASE	      0xd0000000ULL

#define ARCH_MMIO_SLOT_SIZE   0x1000
/* Interrupt lines for virtio-mmio devices: the I/O APIC pins above the legacy ones. */
#define ARCH_VIRTIO_IRQ_BASE  5
#define ARCH_VIRTIO_IRQ_MAX   23
#define X86_NR_IOAPIC_PINS    24

#define X86_SERIAL_PORT	      0x3f8
#define X86_SERIAL_IRQ	      4
#define X86_KBD_IRQ	      1

#define ARCH_MAX_VCPUS	      32

/* The board's platform devices, which the machine puts on it (src/machine/devices.c). */
#define ARCH_SERIAL_ON_PIO    1
#define ARCH_SERIAL_ADDR      X86_SERIAL_PORT
#define ARCH_SERIAL_IRQ	      X86_SERIAL_IRQ
#define ARCH_HAS_I8042	      1
#define ARCH_I8042_IRQ	      X86_KBD_IRQ
#define ARCH_HAS_RTC	      0 /* no CMOS RTC: kvmclock gives Linux its time */
#define ARCH_RTC_ADDR	      0
/*
 * The FADT's sleep control and status registers (hardware-reduced ACPI), one byte each on
 * port I/O; a write of SLP_TYP (the DSDT's \_S5 value) with SLP_EN powers the VM off.
 */
#define ARCH_HAS_ACPI_SLEEP   1
#define ARCH_ACPI_SLEEP_PORT  0x600
#define ARCH_ACPI_S5_TYPE     5

struct arch_boot_info {
	uint8_t setup_header[0x9f]; /* bzImage: the header from 0x1f1, copied into the zero page */
	uint32_t setup_header_len;
	uint64_t pvh_entry;	    /* PVH: the XEN_ELFNOTE_PHYS32_ENTRY address */
	uint64_t rsdp_addr;	    /* the ACPI RSDP, 0 without ACPI */
};

/* The arch's own command-line knobs (arch_config_option): x86_64 has none. */
struct arch_config {
	int unused;
};

struct arch_vm {
	int have_pit;
};

struct arch_vcpu {
	int unused;
};

/*
 * The KVM ioctls a snapshot makes on the VMM thread, for its seccomp filter
 * (src/seccomp/builtin.c): X(request, why) each.
 */
#define ARCH_SNAPSHOT_IOCTLS(X)                                                   \
	X(KVM_GET_CLOCK, "snapshot: kvmclock")                                    \
	X(KVM_GET_IRQCHIP, "snapshot: the PICs and the I/O APIC")                 \
	X(KVM_GET_PIT2, "snapshot: the PIT")                                      \
	X(KVM_GET_CPUID2, "snapshot: a vCPU's CPUID")                             \
	X(KVM_GET_REGS, "snapshot: a vCPU's registers")                           \
	X(KVM_GET_SREGS, "snapshot: a vCPU's special registers")                  \
	X(KVM_GET_XSAVE, "snapshot: a vCPU's FPU and vector state")               \
	X(KVM_GET_XSAVE2, "snapshot: a vCPU's FPU and vector state (XSAVE2)")     \
	X(KVM_GET_XCRS, "snapshot: a vCPU's extended control registers")          \
	X(KVM_GET_MSR_INDEX_LIST, "snapshot: which MSRs a vCPU has")              \
	X(KVM_GET_MSRS, "snapshot: a vCPU's MSRs")                                \
	X(KVM_GET_LAPIC, "snapshot: a vCPU's local APIC")                         \
	X(KVM_GET_MP_STATE, "snapshot: a vCPU's run state")                       \
	X(KVM_GET_VCPU_EVENTS, "snapshot: a vCPU's pending events")               \
	X(KVM_GET_DEBUGREGS, "snapshot: a vCPU's debug registers")                \
	X(KVM_GET_TSC_KHZ, "snapshot: a vCPU's TSC rate")                         \
	X(KVM_CHECK_EXTENSION, "snapshot: the XSAVE area's size")

#endif
