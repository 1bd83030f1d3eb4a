/*
 * The jailer's process: what it inherits, the namespaces and limits it enters, its forks
 * (--daemonize, --new-pid-ns), its privileges, and the exec of ember.
 *
 * Forks and failures: the process that was started (j->original) keeps every undo. After
 * its first fork it waits on a pipe that each later process holds open (close-on-exec)
 * until ember is exec'd or a process reports its failure there (the original undoes, prints
 * the report and exits 1). At the end of the file, the original (a child subreaper, so that
 * ember's process ends up its child) checks that the process in the pid file was exec'd: one
 * killed before its exec closes the pipe with nothing in it too (undo, exit 1). So the
 * jailer's exit status says whether ember started, even with --daemonize.
 */
#ifndef EMBER_JAILER_PROCESS_H
#define EMBER_JAILER_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "jailer.h"

/*
 * Close every inherited fd above 2, empty the environment, unblock every signal and set
 * each to its default action but SIGXFSZ, ignored until the exec. 0 or -errno.
 */
int process_sanitize(char *why, size_t why_len);

/* Enter the network namespace of the file (path). 0 or -errno. */
int process_join_netns(const char *path, char *why, size_t why_len);

/*
 * RLIMIT_NOFILE (always: cfg->no_file, soft = hard); for --resource-limit fsize only a hard
 * limit below it is raised, so that process_exec can set it once the privileges are gone.
 */
int process_set_rlimits(const struct jail_config *cfg, char *why, size_t why_len);

/*
 * --daemonize as Firecracker's jailer does it: fork, setsid, fork again, stdio to
 * /dev/null (j->dev_null_fd). A process whose part is over gets *exit_status >= 0 (and
 * should exit with it); the one that goes on gets -1. 0 or -errno.
 */
int process_daemonize(struct jailer *j, int *exit_status, char *why, size_t why_len);

/*
 * --new-pid-ns: the next child is pid 1 of a new PID namespace and goes on to exec ember;
 * this process writes the child's pid to the jail's pid file and is done (*exit_status as
 * for process_daemonize). 0 or -errno.
 */
int process_new_pid_ns(struct jailer *j, int *exit_status, char *why, size_t why_len);

/*
 * Become uid:gid for good, with no supplementary groups, no capabilities (effective,
 * permitted, inheritable, ambient, bounding) and no_new_privs; checked afterwards.
 */
int process_drop_privileges(uid_t uid, gid_t gid, char *why, size_t why_len);

/*
 * Exec /<exec name> in the jail with Firecracker's jailer arguments (--id, --start-time-us,
 * --start-time-cpu-us, --parent-cpu-time-us) and then the ones after "--", in an empty
 * environment; RLIMIT_FSIZE set to --resource-limit fsize (soft = hard), umask 0077, no
 * signal blocked and every one at its default action. Returns only on failure, -errno.
 */
int process_exec(struct jailer *j, char *why, size_t why_len);

/* In a fork: hand (why) to the original process. */
void process_report(struct jailer *j, const char *why);

#endif
