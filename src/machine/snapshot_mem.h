/* Snapshot memory files (snapshot_mem.c). */
#ifndef EMBER_MACHINE_SNAPSHOT_MEM_H
#define EMBER_MACHINE_SNAPSHOT_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "../vmm/vm.h"

/*
 * Write (vm)'s RAM to (path) atomically: every page that is not all zeros, or with (diff)
 * only the pages written since the last snapshot (KVM's log and ember's marks), each at
 * its offset in a sparse file as big as all RAM. With tracking on, the logs start again
 * afterwards (a Full snapshot is a base for the next Diff). 0, or -errno with (why).
 */
int snapshot_mem_write(struct vm *vm, bool diff, const char *path, char *why, size_t why_len);

#endif
