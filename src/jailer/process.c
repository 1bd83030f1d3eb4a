#define _GNU_SOURCE /* clearenv, pipe2, setresuid, setresgid, unshare */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "process.h"
#include "../util/util.h"

/* Close every fd above 2 by walking /proc/self/fd: for kernels before close_range (5.9). */
static int close_fds_by_listing(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;

	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(dir))
			close(fd);
	}
	closedir(dir);
	return 0;
}

int process_sanitize(char *why, size_t why_len)
{
	int fd, ret = -ENOSYS;

	/* A closed 0, 1 or 2 would be taken by the next open, and later written to as stdio. */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return why_default(why, why_len, -EBADF, "reopening a closed stdio fd");
#ifdef SYS_close_range
	ret = syscall(SYS_close_range, 3, ~0U, 0) ? -errno : 0;
#endif
	if (ret == -ENOSYS)
		ret = close_fds_by_listing();
	if (ret)
		return why_default(why, why_len, ret, "closing inherited fds");
	if (clearenv())
		return why_default(why, why_len, -ENOMEM, "clearing the environment");
	return 0;
}

int process_join_netns(const char *path, char *why, size_t why_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || setns(fd, CLONE_NEWNET))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		snprintf(why, why_len, "joining the network namespace %s: %s", path,
			 strerror(-ret));
	return ret;
}

int process_set_rlimits(const struct jail_config *cfg, char *why, size_t why_len)
{
	struct rlimit no_file = {cfg->no_file, cfg->no_file};
	struct rlimit fsize = {cfg->fsize, cfg->fsize};

	if (setrlimit(RLIMIT_NOFILE, &no_file)) {
		snprintf(why, why_len, "--resource-limit no-file=%" PRIu64 ": %s", cfg->no_file,
			 strerror(errno));
		return -errno;
	}
	if (cfg->fsize_set && setrlimit(RLIMIT_FSIZE, &fsize)) {
		snprintf(why, why_len, "--resource-limit fsize=%" PRIu64 ": %s", cfg->fsize,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Fork the process that goes on with the jail. The original's first fork also makes the
 * report pipe, whose read end comes back in *report_read (-1 otherwise). Returns the
 * child's pid in the parent, 0 in the child, or -errno.
 */
static pid_t fork_successor(struct jailer *j, int *report_read, char *why, size_t why_len)
{
	uint64_t spent = cpu_us() - j->clock.own_cpu_base_us;
	int fds[2] = {-1, -1}, ret;
	pid_t pid;

	*report_read = -1;
	if (j->original && pipe2(fds, O_CLOEXEC))
		return why_default(why, why_len, -errno, "pipe");
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		return why_default(why, why_len, ret, "fork");
	}
	if (pid == 0) {
		/* A new process's CPU clock starts at zero: count what the parent had used. */
		j->clock.ancestors_cpu_us += spent;
		j->clock.own_cpu_base_us = 0;
		if (j->original) {
			close(fds[0]);
			j->report_fd = fds[1];
			j->original = false;
		}
		return 0;
	}
	if (fds[1] >= 0) {
		close(fds[1]);
		*report_read = fds[0];
	}
	return pid;
}

/*
 * A parent whose part is over: the original waits for the end of the report pipe (ember
 * exec'd: exit 0) or a report (returned as -ECANCELED with the text in (why)); any other
 * process just exits 0.
 */
static int parent_done(int report_read, int *exit_status, char *why, size_t why_len)
{
	size_t got = 0;
	ssize_t n;

	if (report_read >= 0) {
		while (got + 1 < why_len && (n = read(report_read, why + got, why_len - 1 - got))) {
			if (n < 0 && errno != EINTR)
				break;
			if (n > 0)
				got += n;
		}
		close(report_read);
		why[got] = '\0';
		if (got)
			return -ECANCELED;
	}
	*exit_status = 0;
	return 0;
}

int process_daemonize(struct jailer *j, int *exit_status, char *why, size_t why_len)
{
	int report_read, fd;
	pid_t pid;

	*exit_status = -1;
	pid = fork_successor(j, &report_read, why, why_len);
	if (pid > 0)
		return parent_done(report_read, exit_status, why, why_len);
	if (pid < 0)
		return pid;
	if (setsid() < 0)
		return why_default(why, why_len, -errno, "setsid");
	/* The second fork leaves a process that leads no session: it can never again be
	 * given a controlling terminal. */
	pid = fork_successor(j, &report_read, why, why_len);
	if (pid > 0)
		return parent_done(report_read, exit_status, why, why_len);
	if (pid < 0)
		return pid;
	for (fd = 0; fd <= 2; fd++)
		if (dup2(j->dev_null_fd, fd) < 0)
			return why_default(why, why_len, -errno, "stdio to /dev/null");
	return 0;
}

int process_new_pid_ns(struct jailer *j, int *exit_status, char *why, size_t why_len)
{
	/* Firecracker's reason: a session leader's exit would send SIGHUP to ember. */
	bool leads_session = !j->cfg.daemonize && getsid(0) == getpid();
	int report_read, ret;
	pid_t pid;

	*exit_status = -1;
	if (unshare(CLONE_NEWPID))
		return why_default(why, why_len, -errno, "unshare(CLONE_NEWPID)");
	pid = fork_successor(j, &report_read, why, why_len);
	if (pid < 0)
		return pid;
	if (pid > 0) {
		ret = jail_write_pid_file(j, pid, why, why_len);
		if (ret) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (report_read >= 0)
				close(report_read);
			return ret;
		}
		return parent_done(report_read, exit_status, why, why_len);
	}
	if (leads_session && setsid() < 0)
		return why_default(why, why_len, -errno, "setsid");
	return 0;
}

int process_drop_privileges(uid_t uid, gid_t gid, char *why, size_t why_len)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct caps[2] = {{0}};
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int cap;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return why_default(why, why_len, -errno, "PR_SET_NO_NEW_PRIVS");
	/* The bounding set caps what any later exec could grant; emptying it needs
	 * CAP_SETPCAP, so before the uid changes. The kernel says EINVAL past its last cap. */
	for (cap = 0; !prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); cap++)
		;
	if (errno != EINVAL)
		return why_default(why, why_len, -errno, "emptying the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return why_default(why, why_len, -errno, "clearing the ambient capabilities");
	if (setgroups(0, NULL))
		return why_default(why, why_len, -errno, "setgroups");
	if (setresgid(gid, gid, gid))
		return why_default(why, why_len, -errno, "setresgid");
	if (setresuid(uid, uid, uid))
		return why_default(why, why_len, -errno, "setresuid");
	/* A non-zero uid has just lost every capability; uid 0 keeps them until this. */
	if (syscall(SYS_capset, &header, caps))
		return why_default(why, why_len, -errno, "capset");
	if (syscall(SYS_capget, &header, caps))
		return why_default(why, why_len, -errno, "capget");
	if (caps[0].effective | caps[0].permitted | caps[0].inheritable | caps[1].effective |
	    caps[1].permitted | caps[1].inheritable) {
		snprintf(why, why_len, "capabilities remain after switching to %u:%u", uid, gid);
		return -EPERM;
	}
	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid) || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
		snprintf(why, why_len, "the switch to %u:%u did not hold", uid, gid);
		return -EPERM;
	}
	return 0;
}

int process_exec(struct jailer *j, char *why, size_t why_len)
{
	const struct jail_config *cfg = &j->cfg;
	char path[NAME_MAX + 2], start[24], start_cpu[24], parent_cpu[24];
	char *envp[] = {NULL};
	uint64_t cpu = cpu_us();
	char **argv;
	int i, n = 0, ret;

	argv = calloc(9 + cfg->nr_ember_args + 1, sizeof(*argv));
	if (!argv)
		return why_default(why, why_len, -ENOMEM, "exec");
	snprintf(path, sizeof(path), "/%s", cfg->exec_name);
	/*
	 * As Firecracker's jailer: the start on CLOCK_MONOTONIC; ember's CPU clock now (ember
	 * counts its own CPU time from it, exec keeps the clock running); and the CPU time the
	 * jailer's processes used, this one's and its exited parents'.
	 */
	snprintf(start, sizeof(start), "%" PRIu64, j->clock.start_us);
	snprintf(start_cpu, sizeof(start_cpu), "%" PRIu64, cpu);
	snprintf(parent_cpu, sizeof(parent_cpu), "%" PRIu64,
		 j->clock.ancestors_cpu_us + cpu - j->clock.own_cpu_base_us);
	argv[n++] = path;
	argv[n++] = "--id";
	argv[n++] = (char *)cfg->id;
	argv[n++] = "--start-time-us";
	argv[n++] = start;
	argv[n++] = "--start-time-cpu-us";
	argv[n++] = start_cpu;
	argv[n++] = "--parent-cpu-time-us";
	argv[n++] = parent_cpu;
	for (i = 0; i < cfg->nr_ember_args; i++)
		argv[n++] = cfg->ember_args[i];
	execve(path, argv, envp);
	ret = -errno;
	free(argv);
	snprintf(why, why_len, "exec %s in the jail: %s", path, strerror(-ret));
	return ret;
}

void process_report(struct jailer *j, const char *why)
{
	/* One write: the original reads it whole. */
	if (j->report_fd >= 0 && write(j->report_fd, why, strlen(why)) < 0)
		return;
}
