/*
 * aarch64 types and guest physical layout. Devices sit below 2 GiB, RAM starts at 2 GiB
 * (as on QEMU's virt board and Firecracker), so a 32-bit DMA mask still reaches low RAM.
 */
#ifndef EMBER_ARCH_AARCH64_DEFS_H
#define EMBER_ARCH_AARCH64_DEFS_H

#include <stdbool.h>
#include <stdint.h>

#define ARCH_NAME "aarch64"
#define ARCH_ELF_MACHINE 183 /* EM_AARCH64: whose guests a snapshot holds */

/* The serial port is a 16550 on MMIO, so ttyS0 as on x86; PSCI resets and powers off. */
#define ARCH_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off nomodule"

/* KVM_IRQ_LINE wants the interrupt's type (bits 24-31: 0 CPU, 1 SPI, 2 PPI) and its INTID. */
#define ARCH_IRQ_LINE(spi)    ((1U << 24) | ((spi) + 32U))

/* The GIC: distributor, then the v2 CPU interface or the v3 redistributors (one per vCPU). */
#define ARM_GIC_DIST_ADDR     0x08000000ULL
#define ARM_GIC_DIST_SIZE     0x10000ULL
#define ARM_GIC_CPU_ADDR      0x08010000ULL
#define ARM_GIC_CPU_SIZE      0x2000ULL
#define ARM_GIC_REDIST_ADDR   0x080a0000ULL
#define ARM_GIC_REDIST_STRIDE 0x20000ULL /* RD_base + SGI_base frames */

/* Platform devices, each in its own 4 KiB page. */
#define ARM_UART_ADDR	      0x09000000ULL
#define ARM_UART_SIZE	      0x1000ULL
#define ARM_UART_CLOCK	      1843200 /* the 16550's classic crystal; baud divisors assume it */
#define ARM_RTC_ADDR	      0x09010000ULL
#define ARM_RTC_SIZE	      0x1000ULL

/* Interrupt lines are SPI numbers: INTID - 32, what irqfd and the FDT's GIC_SPI cells take. */
#define ARM_UART_SPI	      1
#define ARM_RTC_SPI	      2
#define ARM_GIC_NR_IRQS	      128 /* 32 private + 96 SPIs; KVM wants a multiple of 32 */

/* The board's platform devices, which the machine puts on it (src/machine/devices.c). */
#define ARCH_SERIAL_ON_PIO    0
#define ARCH_SERIAL_ADDR      ARM_UART_ADDR
#define ARCH_SERIAL_IRQ	      ARM_UART_SPI
#define ARCH_HAS_I8042	      0
#define ARCH_I8042_IRQ	      0
#define ARCH_HAS_RTC	      1
#define ARCH_RTC_ADDR	      ARM_RTC_ADDR
#define ARCH_HAS_ACPI_SLEEP   0 /* no ACPI: the device tree describes the board */
#define ARCH_ACPI_SLEEP_PORT  0
#define ARCH_ACPI_S5_TYPE     0

/* ember's own MMIO devices: the boot timer first, then one 4 KiB slot per virtio device. */
#define ARCH_MMIO_BASE	      0x0a000000ULL
#define ARCH_MMIO_SLOT_SIZE   0x1000
#define ARCH_VIRTIO_IRQ_BASE  16
#define ARCH_VIRTIO_IRQ_MAX   63

#define ARM_RAM_BASE	      0x80000000ULL
/* The FDT lives in the last 2 MiB of RAM: the arm64 boot protocol caps it at 2 MiB. */
#define ARM_FDT_MAX_SIZE      0x200000ULL

#define ARCH_CMDLINE_MAX      4096

/* GICv2 has 8 CPU interfaces; the v3 redistributor region here has room for 32. */
#define ARCH_MAX_VCPUS	      32
#define ARM_GICV2_MAX_VCPUS   8

/* The arch timer's PPIs (INTID - 16): secure, non-secure physical, virtual, hypervisor. */
#define ARM_TIMER_PPI_SEC     13
#define ARM_TIMER_PPI_NS      14
#define ARM_TIMER_PPI_VIRT    11
#define ARM_TIMER_PPI_HYP     10
#define ARM_GIC_MAINT_PPI     9

enum arm_gic_version {
	ARM_GIC_V2 = 2,
	ARM_GIC_V3 = 3,
};

/* --gic, parsed by arch_config_option: 0 takes the best this KVM has. */
struct arch_config {
	enum arm_gic_version gic;
};

struct arch_boot_info {
	uint64_t fdt_addr; /* where arch_vm_finalize writes the device tree; X0 at entry */
};

struct arch_vm {
	enum arm_gic_version gic; /* 0 until the vgic device exists */
	int gic_fd;
	bool gic_ready; /* initialised (CTRL_INIT): it takes irqfds from then on */
	int kvm_target; /* from KVM_ARM_PREFERRED_TARGET */
};

struct arch_vcpu {
	uint64_t mpidr; /* read back after KVM_ARM_VCPU_INIT; the FDT's cpu@reg */
};

/*
 * The KVM ioctls a snapshot makes on the VMM thread, for its seccomp filter
 * (src/seccomp/builtin.c): X(request, why) each.
 */
#define ARCH_SNAPSHOT_IOCTLS(X)                                                   \
	X(KVM_GET_REG_LIST, "snapshot: which registers a vCPU has")               \
	X(KVM_GET_ONE_REG, "snapshot: a vCPU's registers")                        \
	X(KVM_GET_MP_STATE, "snapshot: a vCPU's run state")                       \
	X(KVM_GET_DEVICE_ATTR, "snapshot: the vGIC's registers")

#endif
