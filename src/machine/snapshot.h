/*
 * Snapshots of a whole machine (docs/snapshot.md): its state file (the configuration, the
 * memory layout, the arch's KVM state, every device) and its memory file, and a machine
 * rebuilt from them.
 *
 * The state file holds, besides the arch's sections:
 *   "CONF" 0  the configuration, as Firecracker's config-file JSON (no logger, no metrics:
 *             those belong to the process that loads it)
 *   "MACH" 0  the boot timer flag, the arch's own configuration, the memory regions (gpa,
 *             size) and the device table (kind name, index among its kind) in build order
 *   "DEV " i  device i's own state (its kind's save hook), for every device
 *   "VIO " i  device i's virtio transport and queues, for every virtio device
 * The memory file holds the regions back to back in gpa order (guest_mem_file_offset).
 */
#ifndef EMBER_MACHINE_SNAPSHOT_H
#define EMBER_MACHINE_SNAPSHOT_H

#include <stddef.h>

#include "machine.h"
#include "../snapshot/stream.h"

enum snapshot_type {
	SNAPSHOT_FULL, /* every page of RAM */
	SNAPSHOT_DIFF, /* the pages written since the last snapshot (or the restore) */
};

/*
 * Write (m)'s memory to (mem_path), then its state to (state_path), each atomically, the
 * state last: a state file exists only beside the memory it describes. Every vCPU must be
 * parked (the VM paused) and nothing else may touch the devices meanwhile (this runs on
 * their thread). (version) is the ember version the file records. A Diff needs dirty page
 * tracking. 0, or -errno with the reason in (why, why_len); a failure leaves no new file.
 */
int machine_snapshot_create(struct machine *m, enum snapshot_type type, const char *state_path,
			    const char *mem_path, const char *version, char *why, size_t why_len);

/* A state file read into memory, its header, CRC and section table checked. */
struct machine_snapshot {
	void *buf;
	size_t len;
	struct snap_file file;
};

/* Read and check the state file at (path). 0, or -errno with why it is refused. */
int machine_snapshot_open(struct machine_snapshot *s, const char *path, char *why,
			  size_t why_len);
void machine_snapshot_close(struct machine_snapshot *s);

/*
 * The configuration (s) was made with, into (cfg), which holds the defaults (and keeps its
 * console descriptors). 0, or -EINVAL with why in (why, why_len) and (cfg) unchanged.
 */
int machine_snapshot_config(const struct machine_snapshot *s, struct vm_config *cfg, char *why,
			    size_t why_len);

/*
 * What (s) says about the machine against what (cfg) builds: the memory layout, the device
 * table kind by kind in build order, every device's sections present, and the arch's
 * sections well-formed (arch_snapshot_check). Touches nothing; machine_restore calls it
 * before building anything. 0, or -EINVAL with why in (why, why_len).
 */
int machine_snapshot_check(const struct machine_snapshot *s, const struct vm_config *cfg,
			   char *why, size_t why_len);

/*
 * Build the machine (s) holds, with configuration (cfg) (from machine_snapshot_config,
 * possibly with new TAP names and dirty tracking) and memory (from), and put every state
 * back, ready to run from where it was saved. Before anything is built, the file is checked
 * against (cfg): memory layout, device table, every section present and well-formed. 0, or
 * -errno with the reason in (why, why_len) and nothing left built.
 */
int machine_restore(struct machine *m, struct vm_config *cfg, struct logger *log,
		    uint64_t start_us, const struct machine_snapshot *s,
		    const struct vm_restore *from, struct mmds *mmds, char *why, size_t why_len);

struct mmds;

#endif
