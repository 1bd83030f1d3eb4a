/*
 * KVM's in-kernel AIA (Linux 6.5 and later): an APLIC for wired sources that sends MSIs
 * to one IMSIC interrupt file per hart.
 */
#ifndef EMBER_ARCH_RISCV64_AIA_H
#define EMBER_ARCH_RISCV64_AIA_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct snap_writer;
struct riscv_aia_state;

/*
 * Create the device and make it the VM's irqchip. -ENODEV (quietly) where KVM has none, so auto can fall back to the
 * PLIC; other -errno are logged.
 */
int aia_create(struct vm *vm);

/* Once every vCPU exists: sources, hart bits, addresses, CTRL_INIT. 0 or -errno. */
int aia_finalize(struct vm *vm);

void aia_destroy(struct vm *vm);

/*
 * Whether this KVM lets the AIA's state be read and written (its APLIC and IMSIC
 * attribute groups). 0, or -EOPNOTSUPP with why a snapshot cannot be taken in (why).
 */
int aia_snapshot_check(struct vm *vm, char *why, size_t why_len);

/* The "RAIA" section (snapshot_format.h). 0, or -errno with (why). */
int aia_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len);

/*
 * Into the AIA of a VM built for a restore (initialised, no vCPU run): each hart's IMSIC
 * file, then the APLIC. 0, or -errno with (why).
 */
int aia_restore(struct vm *vm, const struct riscv_aia_state *s, char *why, size_t why_len);

#endif
