/*
 * riscv64 types and guest physical layout, close to QEMU's virt board: devices below
 * 2 GiB, RAM from 2 GiB. There is no firmware in the guest: KVM itself answers the SBI.
 */
#ifndef EMBER_ARCH_RISCV64_DEFS_H
#define EMBER_ARCH_RISCV64_DEFS_H

#include <stdbool.h>
#include <stdint.h>

#include "fdt_tree.h"

struct plic;

#define ARCH_NAME "riscv64"
#define ARCH_ELF_MACHINE 243 /* EM_RISCV: whose guests a snapshot holds */

/* The 16550 is ttyS0; SBI system reset powers off and resets. */
#define ARCH_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 nomodule"

/* KVM_IRQ_LINE on the in-kernel AIA takes the APLIC source number as it is. */
#define ARCH_IRQ_LINE(line)   (line)

/* Interrupt controllers: ember's PLIC, or KVM's APLIC and one IMSIC page per hart. */
#define RISCV_PLIC_ADDR	      0x0c000000ULL
#define RISCV_APLIC_ADDR      0x0d000000ULL
#define RISCV_APLIC_SIZE      0x4000ULL /* KVM_DEV_RISCV_APLIC_SIZE */
#define RISCV_IMSIC_ADDR      0x28000000ULL
#define RISCV_IMSIC_PAGE      0x1000ULL
#define RISCV_NR_IRQS	      64 /* sources 1..63, on the PLIC and the APLIC alike */

/* Bits of a hart index, as KVM's AIA wants them for (nr_harts): ceil(log2). */
static inline unsigned int riscv_hart_bits(unsigned int nr_harts)
{
	unsigned int bits = 0;

	while ((1U << bits) < nr_harts)
		bits++;
	return bits;
}

/* The IMSIC region for (nr_harts): a 4 KiB file per hart, a power of two of them. */
static inline uint64_t riscv_imsic_size(unsigned int nr_harts)
{
	return RISCV_IMSIC_PAGE << riscv_hart_bits(nr_harts);
}

#define RISCV_UART_ADDR	      0x10000000ULL
#define RISCV_UART_SIZE	      0x1000ULL
#define RISCV_UART_CLOCK      1843200
#define RISCV_UART_IRQ	      1

/* ember's own MMIO devices: the boot timer first, then one 4 KiB slot per virtio device. */
#define ARCH_MMIO_BASE	      0x10001000ULL
#define ARCH_MMIO_SLOT_SIZE   0x1000
#define ARCH_VIRTIO_IRQ_BASE  8
#define ARCH_VIRTIO_IRQ_MAX   (RISCV_NR_IRQS - 1)

#define RISCV_RAM_BASE	      0x80000000ULL
/* The device tree lives in the last 2 MiB of RAM, the initrd below it. */
#define RISCV_FDT_MAX_SIZE    0x200000ULL

#define ARCH_CMDLINE_MAX      4096
#define ARCH_MAX_VCPUS	      32

/* What each vCPU's KVM exposes, as riscv,isa spells it ("rv64imafdc_sstc..."). */
#define RISCV_ISA_MAX	      512

/* The board's platform devices, which the machine puts on it (src/machine/devices.c). */
#define ARCH_SERIAL_ON_PIO    0
#define ARCH_SERIAL_ADDR      RISCV_UART_ADDR
#define ARCH_SERIAL_IRQ	      RISCV_UART_IRQ
#define ARCH_HAS_I8042	      0
#define ARCH_I8042_IRQ	      0
#define ARCH_HAS_RTC	      0
#define ARCH_RTC_ADDR	      0
#define ARCH_HAS_ACPI_SLEEP   0 /* no ACPI: the device tree describes the board */
#define ARCH_ACPI_SLEEP_PORT  0
#define ARCH_ACPI_S5_TYPE     0

/* --irqchip, parsed by arch_config_option: 0 takes the best this KVM has. */
struct arch_config {
	enum riscv_irqchip irqchip;
};

struct arch_boot_info {
	uint64_t fdt_addr; /* where arch_vm_finalize writes the device tree; a1 at entry */
};

struct arch_vm {
	enum riscv_irqchip irqchip; /* 0 until chosen in arch_vm_init */
	struct plic *plic;
	int aia_fd;
	uint32_t aia_nr_ids;
	uint64_t timebase_hz;
	char isa[RISCV_ISA_MAX]; /* vCPU 0's, the same for every hart */
};

struct arch_vcpu {
	int unused;
};

/*
 * The KVM ioctls a snapshot makes on the VMM thread, for its seccomp filter
 * (src/seccomp/builtin.c): X(request, why) each.
 */
#define ARCH_SNAPSHOT_IOCTLS(X)                                                   \
	X(KVM_GET_ONE_REG, "snapshot: a vCPU's registers")                        \
	X(KVM_GET_MP_STATE, "snapshot: a vCPU's run state")                       \
	X(KVM_HAS_DEVICE_ATTR, "snapshot: whether the in-kernel AIA's state can be read") \
	X(KVM_GET_DEVICE_ATTR, "snapshot: the in-kernel AIA's registers")

#endif
