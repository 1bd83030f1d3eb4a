/* Snapshot memory files (snapshot_mem.c). */
#ifndef EMBER_MACHINE_SNAPSHOT_MEM_H
#define EMBER_MACHINE_SNAPSHOT_MEM_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/vm.h"

/* A memory file being written: the dirty logs it took and its temporary file. */
struct mem_snapshot {
	uint64_t *logs[GUEST_MEM_MAX_REGIONS]; /* KVM's, taken (and so reset) by prepare */
	char tmp[PATH_MAX];		       /* the synced temporary file, or "" */
	bool tracking;
};

/*
 * Write (vm)'s RAM to a temporary file beside (path), synced: every page that is not all
 * zeros, or with (diff) only the pages written since the last snapshot (KVM's log, taken
 * now, and ember's marks), each at its offset in a sparse file as big as all RAM. Then
 * snapshot_mem_finish, whatever the result. 0, or -errno with (why).
 */
int snapshot_mem_prepare(struct vm *vm, bool diff, const char *path, struct mem_snapshot *ms,
			 char *why, size_t why_len);

/*
 * (done): the file is in place (the caller renamed ms->tmp), and the marks start again, so
 * a Full snapshot is the base of the next Diff. Not done: the temporary file is removed and
 * what KVM's log said goes back into ember's marks for the next try.
 */
void snapshot_mem_finish(struct vm *vm, struct mem_snapshot *ms, bool done);

#endif
