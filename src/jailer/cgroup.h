/*
 * The jail's cgroups, as Firecracker's jailer makes them: v1 puts the process in
 * <controller mount>/<parent>/<id> of each hierarchy a --cgroup names (through "tasks"),
 * v2 in <cgroup2 mount>/<parent>/<id> (through "cgroup.procs"), after enabling the named
 * controllers in the cgroup.subtree_control of every level above it. Mounts are read from
 * /proc/mounts. With no --cgroup, the process stays where it is.
 */
#ifndef EMBER_JAILER_CGROUP_H
#define EMBER_JAILER_CGROUP_H

#include <stddef.h>

#include "jailer.h"

/* Record one --cgroup FILE=VALUE (arg) in (cfg) after checking its form. 0 or -EINVAL. */
int cgroup_add_setting(struct jail_config *cfg, const char *arg, char *why, size_t why_len);

/*
 * Once every flag is read: find each setting's hierarchy (v1: the mount whose options name
 * its controller; v2: the cgroup2 mount, where the controller must be available) and look
 * for its file at the <parent> level, or, where that cannot be told yet, mark it to be
 * looked for by cgroup_create. Touches nothing. 0 or -errno with a "--cgroup ..." message.
 */
int cgroup_resolve(struct jail_config *cfg, char *why, size_t why_len);

/*
 * Make <parent>/<id> in each hierarchy (v1 cpuset: copying cpuset.cpus and cpuset.mems down
 * into each new level), look for the late files (a missing one sets j->blame_args), write
 * the values and open the files through which cgroup_join enters. Every directory made goes
 * on j->undo. 0 or -errno.
 */
int cgroup_create(struct jailer *j, char *why, size_t why_len);

/* Move this process into every cgroup cgroup_create prepared. 0 or -errno. */
int cgroup_join(struct jailer *j, char *why, size_t why_len);

/*
 * Once cgroup_join has begun: move this process to each hierarchy's root, so that the
 * cgroups made can be removed.
 */
void cgroup_leave(struct jailer *j);

#endif
