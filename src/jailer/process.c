#define _GNU_SOURCE /* clearenv, pipe2, setresuid, setresgid, unshare, NSIG */
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail.h"
#include "process.h"
#include "../util/util.h"

#define EXEC_UMASK 0077 /* ember's */

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

/*
 * Every signal unblocked and at its default action: what the jailer was started with
 * (a blocked mask, SIGCHLD or SIGINT ignored by a shell) is not passed on to ember, and an
 * ignored SIGCHLD would take the children the original waits for.
 */
static void reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* SIGKILL, SIGSTOP and the ones libc keeps for itself refuse: nothing to reset. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
}

int process_sanitize(char *why, size_t why_len)
{
	int fd, ret = -ENOSYS;

	reset_signals();
	/*
	 * Until the exec, a write past RLIMIT_FSIZE (one the jailer was started with) fails
	 * with EFBIG, which is reported and undone, instead of killing the jailer half-way.
	 * --resource-limit fsize is set just before the exec, after the last file written.
	 */
	signal(SIGXFSZ, SIG_IGN);

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
	struct rlimit no_file = {cfg->no_file, cfg->no_file}, fsize;

	if (setrlimit(RLIMIT_NOFILE, &no_file)) {
		snprintf(why, why_len, "--resource-limit no-file=%" PRIu64 ": %s", cfg->no_file,
			 strerror(errno));
		return -errno;
	}
	/* Only ever raised here, never lowered: see set_file_size_limit. */
	if (!cfg->fsize_set || getrlimit(RLIMIT_FSIZE, &fsize) || fsize.rlim_max >= cfg->fsize)
		return 0;
	fsize.rlim_max = cfg->fsize;
	if (setrlimit(RLIMIT_FSIZE, &fsize)) {
		snprintf(why, why_len, "--resource-limit fsize=%" PRIu64 ": %s", cfg->fsize,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * --resource-limit fsize, just before the exec: set any earlier and the jailer's own
 * writes (the pid file) would run into it, with EFBIG (or SIGXFSZ). By now the
 * privileges are gone, which is why process_set_rlimits raised the hard limit to the
 * value beforehand if it was below: lowering, or raising the soft limit up to the hard
 * one, needs no capability.
 */
static int set_file_size_limit(const struct jail_config *cfg, char *why, size_t why_len)
{
	struct rlimit fsize = {cfg->fsize, cfg->fsize};

	if (cfg->fsize_set && setrlimit(RLIMIT_FSIZE, &fsize)) {
		snprintf(why, why_len, "--resource-limit fsize=%" PRIu64 ": %s", cfg->fsize,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * The name (comm) a jailer process has from its fork until its exec. The kernel gives an
 * exec'd process the last part of its path, which never holds a '/': a process that still
 * has this name has not exec'd, even once it has died (a zombie keeps its name).
 */
#define PRE_EXEC_NAME "jailer/pre-exec"

/*
 * Fork the process that goes on with the jail. The original's first fork also makes the
 * report pipe, whose read end comes back in *report_read (-1 otherwise). Returns the
 * child's pid in the parent, 0 in the child, or -errno.
 */
static pid_t fork_successor(struct jailer *j, int *report_read, char *why, size_t why_len)
{
	uint64_t spent = cpu_us() - j->clock.own_cpu_base_us;
	char own_name[16] = ""; /* TASK_COMM_LEN */
	int fds[2] = {-1, -1}, ret;
	pid_t pid;

	*report_read = -1;
	if (j->original) {
		/* Whatever process ember's turns out to be (a grandchild with --daemonize), it
		 * is re-parented to the original once its parents exit, and no one else can
		 * reap it: its pid stays its own for check_exec to look at. */
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
			return why_default(why, why_len, -errno, "PR_SET_CHILD_SUBREAPER");
		if (pipe2(fds, O_CLOEXEC))
			return why_default(why, why_len, -errno, "pipe");
	}
	/* Set here rather than in the child, so that the child has it from its first
	 * instruction on. */
	prctl(PR_GET_NAME, own_name, 0, 0, 0);
	prctl(PR_SET_NAME, PRE_EXEC_NAME, 0, 0, 0);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		prctl(PR_SET_NAME, own_name, 0, 0, 0);
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
		/* Only the original looks at the host's processes. */
		if (j->proc_fd >= 0) {
			close(j->proc_fd);
			j->proc_fd = -1;
		}
		return 0;
	}
	prctl(PR_SET_NAME, own_name, 0, 0, 0);
	if (fds[1] >= 0) {
		close(fds[1]);
		*report_read = fds[0];
	}
	return pid;
}

/*
 * How the child (pid), or with (pid) -1 any child that did not exit 0, ended, into (text):
 * "killed by signal 9 (Killed)" or the like, or "" if that cannot be known within about a
 * second. (pid) may not be a child yet: its parents are exiting, and then it is re-parented
 * here.
 */
static void how_it_ended(pid_t pid, char *text, size_t len)
{
	const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
	siginfo_t si;
	int tries = 0;

	*text = '\0';
	while (tries < 100) {
		memset(&si, 0, sizeof(si));
		if (waitid(pid > 0 ? P_PID : P_ALL, pid > 0 ? pid : 0, &si, WEXITED | WNOHANG)) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD || pid < 0)
				return;
			si.si_pid = 0; /* not re-parented yet */
		}
		if (si.si_pid == 0) {
			nanosleep(&pause, NULL);
			tries++;
			continue;
		}
		if (si.si_code == CLD_EXITED && si.si_status == 0 && pid < 0)
			continue; /* a parent whose part was over */
		if (si.si_code == CLD_EXITED)
			snprintf(text, len, ": exited with status %d", si.si_status);
		else
			snprintf(text, len, ": killed by signal %d (%s)", si.si_status,
				 strsignal(si.si_status));
		return;
	}
}

/*
 * The report pipe closed with nothing in it: every jailer process has exec'd or ended,
 * and that alone does not say which (a process killed before its exec, by the OOM killer
 * or a SIGKILL, closes it just as the exec does). Ember's process, named in the jail's pid
 * file, was exec'd if it no longer has PRE_EXEC_NAME: alive, or ended after its exec,
 * which is ember's own business, as when the jailer execs it without forking. The name
 * rather than /proc/<pid>/exe, which a zombie no longer has. 0, or -ECHILD with (why).
 */
static int check_exec(struct jailer *j, char *why, size_t why_len)
{
	char path[32], name[32], ended[96];
	pid_t pid;
	int fd, ret;
	ssize_t n;

	ret = jail_read_pid_file(j, &pid);
	if (ret) {
		how_it_ended(-1, ended, sizeof(ended));
		snprintf(why, why_len,
			 "a jailer process ended before ember's exec, without a report "
			 "(no pid file: %s)%s",
			 strerror(-ret), ended);
		return -ECHILD;
	}
	snprintf(path, sizeof(path), "%d/comm", (int)pid);
	fd = openat(j->proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "ember's process (pid %d) is gone: %s", (int)pid,
			 strerror(errno));
		return -ECHILD;
	}
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, why_len, "reading the name of ember's process (pid %d): %s", (int)pid,
			 strerror(errno));
		return -ECHILD;
	}
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	if (strcmp(name, PRE_EXEC_NAME))
		return 0;
	how_it_ended(pid, ended, sizeof(ended));
	snprintf(why, why_len, "ember's process (pid %d) ended before its exec, without a report%s",
		 (int)pid, ended);
	return -ECHILD;
}

/*
 * A parent whose part is over: the original waits for the end of the report pipe and
 * then checks that ember was exec'd (exit 0), or gets a report (returned as -ECANCELED
 * with the text in (why)); any other process just exits 0.
 */
static int parent_done(struct jailer *j, int report_read, int *exit_status, char *why,
		       size_t why_len)
{
	size_t got = 0;
	ssize_t n;
	int ret;

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
		ret = check_exec(j, why, why_len);
		if (ret)
			return ret;
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
		return parent_done(j, report_read, exit_status, why, why_len);
	if (pid < 0)
		return pid;
	if (setsid() < 0)
		return why_default(why, why_len, -errno, "setsid");
	/* The second fork leaves a process that leads no session: it can never again be
	 * given a controlling terminal. */
	pid = fork_successor(j, &report_read, why, why_len);
	if (pid > 0)
		return parent_done(j, report_read, exit_status, why, why_len);
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
		return parent_done(j, report_read, exit_status, why, why_len);
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
	ret = set_file_size_limit(cfg, why, why_len);
	if (ret) {
		free(argv);
		return ret;
	}
	/*
	 * What ember makes in the jail (its API socket, snapshot files holding guest memory,
	 * logs) is for uid:gid and root only, whatever umask the jailer was started with.
	 */
	umask(EXEC_UMASK);
	reset_signals(); /* SIGXFSZ too: ember gets --resource-limit fsize as is */
	execve(path, argv, envp);
	ret = -errno;
	signal(SIGXFSZ, SIG_IGN); /* the report that follows may go to a file */
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
