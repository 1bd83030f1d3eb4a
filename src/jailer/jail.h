/*
 * The jail's file system: <base>/<exec name>/<id>/root with a copy of the executable, the
 * pivot into it, and the few device nodes ember opens. Everything made goes on j->undo;
 * inside the jail, paths are taken relative to j->root_fd, which the pivot leaves valid.
 */
#ifndef EMBER_JAILER_JAIL_H
#define EMBER_JAILER_JAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "jailer.h"

/*
 * Read the device numbers of the host's /dev/kvm and /dev/net/tun (both needed) and of
 * /dev/userfaultfd (left out when the host has none). 0 or -errno.
 */
int jail_find_devices(struct host_devices *devs, char *why, size_t why_len);

/*
 * Make the jail root (the directories that did not exist go on j->undo), open it as
 * j->root_fd, and copy the executable into it, owned by root with mode 0555: uid:gid may
 * run it but not change it. The file copied must still be the regular file that
 * validate_exec_file checked (cfg->exec_dev, cfg->exec_ino, cfg->exec_ctime), unchanged
 * until the copy is made. 0 or -errno.
 */
int jail_make_root(struct jailer *j, char *why, size_t why_len);

/*
 * Make the jail this process's '/': a mount namespace of its own with '/' a recursive
 * slave (nothing propagates back to the host), the jail root bind-mounted on itself and
 * pivoted into, and the host's tree detached. 0 or -errno.
 */
int jail_pivot(struct jailer *j, char *why, size_t why_len);

/*
 * From inside: '/', /dev, /dev/net and /run owned by uid:gid with mode 0700 (ember puts its
 * API socket there), and /dev/kvm, /dev/net/tun and /dev/userfaultfd as character devices
 * with the host's numbers, mode 0600, owned by uid:gid. 0 or -errno.
 */
int jail_make_devices(struct jailer *j, char *why, size_t why_len);

/*
 * The jail's "<exec name>.pid" goes on j->undo before any fork (the process that writes it
 * may not be the one that undoes), then jail_write_pid_file writes (pid) there.
 */
int jail_claim_pid_file(struct jailer *j, char *why, size_t why_len);
int jail_write_pid_file(struct jailer *j, pid_t pid, char *why, size_t why_len);

/* The pid in the jail's pid file, if a jailer process wrote it: 0, -ENOENT or -errno. */
int jail_read_pid_file(struct jailer *j, pid_t *pid);

#endif
