/*
 * The whole interface between generic code and an architecture. Each arch directory
 * provides arch_defs.h (types and layout constants) and implements these functions;
 * the Makefile compiles exactly one of them.
 */
#ifndef EMBER_ARCH_ARCH_H
#define EMBER_ARCH_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch_defs.h"
#include "../util/log.h"
#include "../vmm/boot.h"
#include "../vmm/memory.h"

struct arch_config;

struct vm;
struct vcpu;
struct snap_writer;
struct snap_file;
struct snap_cursor;

/*
 * A command-line option the arch may own (--gic on arm64, --irqchip on riscv64): (name)
 * without its dashes, (value) as given. 0 once set in (cfg); -ENOENT when this arch has no
 * such option; -EINVAL for a bad value, with the reason in (why, why_len).
 */
int arch_config_option(struct arch_config *cfg, const char *name, const char *value, char *why,
		       size_t why_len);

/* Warn to (log) if the host CPU lacks hardware virtualization flags. Never refuses to run. */
void arch_host_check(struct logger *log);

/* Split (ram_size) bytes of RAM into guest regions around the arch's MMIO holes. */
int arch_mem_layout(uint64_t ram_size, struct mem_region *regions, unsigned int *nr);

/*
 * Per-VM KVM setup before vCPUs exist: irqchip, timers, arch-specific addresses. 0, or
 * -errno with the reason in (why, why_len) when it is the user's to fix.
 */
int arch_vm_init(struct vm *vm, char *why, size_t why_len);
void arch_vm_destroy(struct vm *vm);

/*
 * Parse the kernel image (img, size), load it into (mem) and fill (bi): entry, protocol,
 * kernel_end, initrd_max and arch details. A malformed image returns -ENOEXEC (not a
 * kernel) or -EINVAL / -E2BIG / -ENOMEM (bad or too big for RAM) with the reason in
 * (why, why_len) for the caller to report, once. (why) is left untouched when the loader
 * has no words of its own (a failed copy into RAM): the caller then names the errno.
 * What is worth knowing about a good image (an old header format) goes to (log).
 */
int arch_kernel_load(struct guest_mem *mem, const uint8_t *img, size_t size,
		     enum boot_protocol proto, struct boot_info *bi, struct logger *log, char *why,
		     size_t why_len);

/*
 * Append to the command line at (buf), (size) bytes of room, whatever the guest needs to
 * find vm's MMIO devices (" virtio_mmio.device=..." on x86). Returns the length appended
 * or -E2BIG.
 */
int arch_cmdline_devices(const struct vm *vm, char *buf, size_t size);

/*
 * With every device in place: write the boot structures the guest reads at entry (command
 * line, zero page, start info, MP table).
 */
int arch_boot_setup(struct vm *vm);

/*
 * Last step of the build, once every vCPU exists: finish what needs them all (arm
 * initialises its vgic and writes the device tree, which lists every vCPU). 0 or -errno.
 */
int arch_vm_finalize(struct vm *vm);

/* Whether the irqchip takes irqfds yet (arm's vgic: only after arch_vm_finalize). */
bool arch_irqfd_ready(const struct vm *vm);

/* Create-time vCPU setup: CPUID, registers, MSRs, LAPIC, entry state for (vm->boot). */
int arch_vcpu_init(struct vcpu *vcpu);

/*
 * Snapshots (docs/snapshot.md). The arch owns every section of the state file that holds
 * KVM's view of the machine: each vCPU and the VM-wide state (x86: the in-kernel irqchip,
 * the PIT, the clock; arm64: the vGIC; riscv64: whatever KVM holds), under tags of its own.
 * The section layouts are part of the state file format: changing one bumps
 * SNAP_FORMAT_VERSION.
 *
 * arch_snapshot_save: with every vCPU parked outside KVM_RUN, write those sections into
 * (w). 0, or -errno with the reason in (why, why_len), e.g. a KVM that cannot save a state
 * ember would need (then no file is written).
 */
int arch_snapshot_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len);

/*
 * The arch's own configuration (--gic, --irqchip) as fields of a section the caller has
 * opened; load reads them back into (cfg), marking (c) bad (snap_cursor_fail) for a value
 * this arch does not know.
 */
void arch_config_save(const struct arch_config *cfg, struct snap_writer *w);
void arch_config_load(struct arch_config *cfg, struct snap_cursor *c);

/*
 * Before anything is built: whether (f) holds well-formed arch sections for (nr_vcpus)
 * vCPUs, reading them as untrusted (every length, count and enum checked) without KVM.
 * 0, or -EINVAL with which section is wrong and how in (why, why_len).
 */
int arch_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			size_t why_len);

/*
 * On a VM built with vm->restoring (every vCPU created, arch_vm_finalize done, no vCPU
 * run yet), put the state of (f), which arch_snapshot_check accepted, back into KVM in the
 * order the arch needs. 0, or -errno with (why).
 */
int arch_snapshot_restore(struct vm *vm, const struct snap_file *f, char *why, size_t why_len);

/*
 * Handle a KVM exit that generic code does not know. Returns 0 to continue running,
 * or a negative errno to stop the VM with an error.
 */
int arch_handle_exit(struct vcpu *vcpu);

#endif
