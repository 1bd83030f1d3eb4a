// SPDX-License-Identifier: Apache-2.0
/*
 * l1-init.c - /init of the riscv64 L1 Linux (the KVM host that runs ember under QEMU TCG).
 * There is no riscv64 busybox on this test bed, so this does what the aarch64 L1's shell
 * /run.sh does (nested_l1_runner in ../lib.sh), with the same output protocol:
 *
 *   L1-KVM-MISSING                         (no /dev/kvm)
 *   L1-DMESG: <line>                       (the kernel's kvm lines)
 *   L1-STARTED uptime=<s>
 *   per run: NESTED-BEGIN <name>, ember's stdout (the L2 console), an empty line,
 *            NESTED-STDERR <name>: <line>..., NESTED-API <name>: <line>...,
 *            [NESTED-APIFAIL <name> <METHOD> <PATH>],
 *            NESTED-RESULT <name> rc=<status or 128+signal> secs=<s.s> timeout=0|1
 *   NESTED-DONE, then L1 powers off.
 *
 * The runs come from /runs (format in README.md): a header "run|api NAME TIMEOUT_S", then
 * ember's arguments one a line, then for "api" runs "> METHOD PATH [BODY]" lines; a blank
 * line ends a run. Built static by mk-l1-initramfs.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64
#define MAX_REQS 16

struct run {
	char kind[8], name[64];
	int timeout;
	char *argv[MAX_ARGS + 2]; /* "/bin/ember", the arguments, NULL */
	int argc;
	char *reqs[MAX_REQS]; /* "METHOD PATH [BODY]" */
	int nreqs;
	const char *sock; /* the value of --api-sock */
};

/* The watchdog. A SIGALRM handler rather than a polling loop, which would take CPU time
 * from the L2 in a TCG L1. It sends SIGTERM at the run's time-out and SIGKILL 5 s later;
 * the time-out is recorded here, not read from the exit status: a VMM that exits 0 on
 * SIGTERM must not hide it. */
static volatile pid_t ember_pid;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	if (ember_pid <= 0) /* no run going: only interrupts a wait (the drain at the end) */
		return;
	if (!timed_out) {
		timed_out = 1;
		kill(ember_pid, SIGTERM);
		alarm(5);
	} else {
		kill(ember_pid, SIGKILL);
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void msleep(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000L };
	nanosleep(&t, NULL);
}

/* fork + exec argv with stdin from /dev/null, stderr (and stdout too if out_too, else it
 * stays ours: the console) on the file out_path, opened with O_CREAT and flags. */
static pid_t spawn(char **argv, const char *out_path, int flags, int out_too)
{
	fflush(NULL); /* or buffered output is printed twice */
	pid_t pid = fork();
	if (pid) return pid;
	int in = open("/dev/null", O_RDONLY), err = open(out_path, O_WRONLY | O_CREAT | flags, 0644);
	if (in >= 0) dup2(in, 0);
	if (err >= 0) {
		dup2(err, 2);
		if (out_too) dup2(err, 1);
	}
	execv(argv[0], argv);
	dprintf(2, "l1-init: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Ember exited (a zombie, not yet reaped: its pid cannot be reused under the watchdog)? */
static int ember_gone(void)
{
	siginfo_t si = { 0 };
	return !waitid(P_PID, (id_t)ember_pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid;
}

/* The API part of a run: wait for ember's socket, then each request in turn. */
static void api_requests(const struct run *r)
{
	char api[128], *argv[6];
	snprintf(api, sizeof(api), "/tmp/%s.api", r->name);
	/* Ember creates the socket soon after its start; a check every 100 ms costs nothing. */
	while (access(r->sock, F_OK) && !ember_gone() && !timed_out) msleep(100);
	int nosock = access(r->sock, F_OK);
	for (int i = 0; i < r->nreqs; i++) {
		char line[4096], *method, *path, *body;
		int st = 0;
		pid_t pid = -1;
		FILE *f = fopen(api, "a");
		if (f) {
			fprintf(f, "> %s\n", r->reqs[i]);
			/* Said here, or the reason would be api_client's "connect: No such file". */
			if (nosock)
				fprintf(f, "l1-init: ember %s before it made %s\n",
					timed_out ? "timed out" : "ended", r->sock);
			fclose(f);
		}
		snprintf(line, sizeof(line), "%s", r->reqs[i]);
		method = strtok(line, " ");
		path = strtok(NULL, " ");
		body = strtok(NULL, ""); /* the rest of the line, spaces and all */
		argv[0] = "/bin/api_client", argv[1] = (char *)r->sock, argv[2] = method;
		argv[3] = path, argv[4] = body, argv[5] = NULL;
		if (!nosock) pid = spawn(argv, api, O_APPEND, 1);
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
		if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("NESTED-APIFAIL %s %s %s\n", r->name, method, path ? path : "");
			fflush(stdout);
			kill(ember_pid, SIGTERM);
			return;
		}
	}
}

/* Prints the lines of path, each after prefix. */
static void print_prefixed(const char *prefix, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "r");
	if (!f) return;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n') line[n - 1] = 0;
		printf("%s%s\n", prefix, line);
	}
	free(line);
	fclose(f);
}

static void do_run(struct run *r)
{
	char err[128], pre[128];
	int st = 0;
	snprintf(err, sizeof(err), "/tmp/%s.err", r->name);
	printf("NESTED-BEGIN %s\n", r->name);
	if (r->sock) unlink(r->sock);
	timed_out = 0;
	double t0 = now();
	ember_pid = spawn(r->argv, err, O_TRUNC, 0);
	if (ember_pid > 0) {
		alarm((unsigned)r->timeout);
		if (!strcmp(r->kind, "api")) api_requests(r);
		/* Wait without reaping, so that the watchdog never signals a reused pid. */
		siginfo_t si;
		while (waitid(P_PID, (id_t)ember_pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
		alarm(0);
		waitpid(ember_pid, &st, 0);
		ember_pid = 0;
	} else {
		ember_pid = 0;
		st = 127 << 8;
	}
	double t1 = now();
	int rc = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	printf("\n");
	snprintf(pre, sizeof(pre), "NESTED-STDERR %s: ", r->name);
	print_prefixed(pre, err);
	snprintf(pre, sizeof(pre), "NESTED-API %s: ", r->name);
	snprintf(err, sizeof(err), "/tmp/%s.api", r->name);
	print_prefixed(pre, err);
	printf("NESTED-RESULT %s rc=%d secs=%.1f timeout=%d\n", r->name, rc, t1 - t0, (int)timed_out);
	fflush(stdout);
}

/* Reads the next run from f: 1 on a run, 0 at the end, -1 on a malformed file. */
static int next_run(FILE *f, struct run *r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	const char *bad = NULL;
	int in = 0;
	memset(r, 0, sizeof(*r));
	r->argv[r->argc++] = "/bin/ember";
	while (!bad && (n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n') line[--n] = 0;
		if (!in) { /* between runs: blank lines and comments, then a header */
			if (!n || line[0] == '#') continue;
			in = sscanf(line, "%7s %63s %d", r->kind, r->name, &r->timeout) == 3 &&
			     (!strcmp(r->kind, "run") || !strcmp(r->kind, "api")) && r->timeout > 0;
			if (!in) bad = "not a header \"run|api NAME TIMEOUT_S\"";
		} else if (!n) {
			break;
		} else if (!strncmp(line, "> ", 2)) {
			if (r->nreqs == MAX_REQS) bad = "too many requests";
			else r->reqs[r->nreqs++] = strdup(line + 2);
		} else if (r->argc == MAX_ARGS + 1) {
			bad = "too many arguments";
		} else {
			r->argv[r->argc] = strdup(line);
			if (!strcmp(r->argv[r->argc - 1], "--api-sock")) r->sock = r->argv[r->argc];
			r->argc++;
		}
	}
	if (!bad && in && !strcmp(r->kind, "api") && !r->sock) bad = "an api run needs --api-sock";
	if (bad) printf("L1-RUNS-BAD %s: %s\n", r->name[0] ? r->name : line, bad);
	free(line);
	return bad ? -1 : in;
}

int main(void)
{
	static char klog[1 << 17];
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: waits return EINTR */
	struct run r;
	int fd, n;
	FILE *runs;

	mkdir("/proc", 0755), mkdir("/sys", 0755), mkdir("/dev", 0755), mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	if ((fd = open("/dev/console", O_RDWR)) >= 0) {
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		if (fd > 2) close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGALRM, &sa, NULL);

	if (access("/dev/kvm", F_OK)) puts("L1-KVM-MISSING");
	/* Whether KVM found the H extension (and, on 6.12, AIA) is in its boot messages. */
	if ((n = klogctl(3, klog, sizeof(klog) - 1)) > 0) {
		klog[n] = 0;
		for (char *l = strtok(klog, "\n"); l; l = strtok(NULL, "\n"))
			if (strstr(l, "kvm")) printf("L1-DMESG: %s\n", l);
	}
	FILE *up = fopen("/proc/uptime", "r");
	char upt[32] = "?";
	if (up) (void)!fscanf(up, "%31s", upt), fclose(up);
	printf("L1-STARTED uptime=%s\n", upt);

	if (!(runs = fopen("/runs", "re"))) /* e: ember need not inherit it */
		puts("L1-RUNS-BAD no /runs");
	while (runs && next_run(runs, &r) > 0) {
		do_run(&r);
		for (int i = 1; i < r.argc; i++) free(r.argv[i]);
		for (int i = 0; i < r.nreqs; i++) free(r.reqs[i]);
	}
	puts("NESTED-DONE");
	fflush(stdout);
	/* Power-off does not wait for the UART: let the console's buffer drain first, for at
	 * most 10 s (the alarm interrupts tcdrain). */
	alarm(10);
	tcdrain(1);
	sync();
	reboot(RB_POWER_OFF);
	for (;;) pause(); /* init must never exit: that panics */
}
