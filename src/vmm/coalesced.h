/*
 * KVM's coalesced I/O: guest writes to a registered range (port I/O or MMIO) do not exit;
 * KVM appends them to a ring page shared with ember, which replays them on the buses in
 * order. They are replayed before any exit of any vCPU is handled, so a device sees its
 * registers written and read in the order the guest did; and before a vCPU parks or ends,
 * so nothing is left in the ring when a snapshot is taken or the VM stops. A write that
 * finds the ring full exits as usual, after the ones queued before it.
 *
 * Only a register whose writes need no prompt answer may be coalesced: its device sees the
 * write at the vCPU's next exit, which may be much later (a guest idle in HLT makes none).
 * A device that expects a write soon (the UART, when the guest reads the line status before
 * a byte) asks for a flush: the VMM thread then replays the ring within
 * COALESCED_FLUSH_MS, so the last byte of a line is not held until the guest's next exit.
 */
#ifndef EMBER_VMM_COALESCED_H
#define EMBER_VMM_COALESCED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/eventloop.h"

#define COALESCED_FLUSH_MS 10

struct vm;
struct kvm_coalesced_mmio_ring;

struct vm_coalesced {
	long page_offset; /* the ring's page in a vCPU's mmap; 0: KVM has no coalesced I/O */
	bool pio;	  /* KVM coalesces port I/O too */
	struct kvm_coalesced_mmio_ring *ring; /* mapped with the first vCPU; NULL before */
	uint32_t max;			      /* entries the ring holds */
	pthread_mutex_t lock;		      /* one replayer at a time, in ring order */
	uint64_t replayed;		      /* writes replayed so far (metrics, tests) */
	struct event_source flush_src;	      /* a one-shot timerfd on the VM's loop; fd -1 */
	int flush_armed;		      /* set while it runs (an int for the atomics) */
};

/* At VM creation, before anything can fail; vm_coalesced_destroy undoes it. */
void vm_coalesced_init(struct vm *vm);
/* Once KVM is open: what it offers. Never fails: without it, nothing is coalesced. */
void vm_coalesced_probe(struct vm *vm);
void vm_coalesced_destroy(struct vm *vm);

/* With the first vCPU's fd: map the ring and put the flush timer on the VM's loop. 0 or -errno. */
int vm_coalesced_map(struct vm *vm, int vcpu_fd);

/*
 * Start (on) or stop coalescing the guest's writes to [addr, addr + len) on the port I/O
 * (pio) or MMIO bus. 0, -EOPNOTSUPP where KVM cannot (then writes exit as before), or
 * -errno. Any thread; takes no lock a replayed write could hold.
 */
int vm_coalesce(struct vm *vm, bool pio, uint64_t addr, uint32_t len, bool on);

/* Replay every queued write on its bus. Any thread; cheap when the ring is empty. */
void vm_coalesced_replay(struct vm *vm);

/*
 * Replay within COALESCED_FLUSH_MS whatever exit comes or not. Any thread, any lock held:
 * it only arms a timer, and not again until that one has fired.
 */
void vm_coalesced_flush_soon(struct vm *vm);

#endif
