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
 *            [NESTED-SNAP <name> first-rc=<status of the saved ember, which was killed>],
 *            NESTED-STDERR <name>: <line>..., NESTED-API <name>: <line>...,
 *            [NESTED-APIFAIL <name> <METHOD> <PATH>],
 *            NESTED-RESULT <name> rc=<status or 128+signal> secs=<s.s> timeout=0|1
 *   NESTED-DONE, then L1 powers off.
 *
 * The runs come from /runs (format in README.md): a header "run|api|snap NAME TIMEOUT_S",
 * then ember's arguments one a line, then for "api" and "snap" runs "> METHOD PATH [BODY]"
 * lines (or "> WAIT TEXT", "> SLEEP MS", done by l1-init itself). A "snap" run's first
 * ember is killed after its requests; "= ARG" lines are the arguments of a second one
 * started then, ">> METHOD PATH [BODY]" its requests and "< FILE" its stdin. "& CMD ARG..."
 * (started before the first ember) and "&& CMD ARG..." (after the second ember's requests)
 * are a snap run's helpers, e.g. the host ends of a vsock: their output is printed after
 * the consoles. A blank line ends a run. Built static by mk-l1-initramfs.sh.
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
#define MAX_HELPERS 4

/* One ember of a run: its arguments and the requests sent to it. */
struct ember {
	char *argv[MAX_ARGS + 2]; /* "/bin/ember", the arguments, NULL */
	int argc;
	char *reqs[MAX_REQS]; /* "METHOD PATH [BODY]", "WAIT TEXT" or "SLEEP MS" */
	int nreqs;
	const char *sock; /* the value of --api-sock */
};

struct run {
	char kind[8], name[64];
	int timeout;
	struct ember e[2]; /* e[1]: a snap run's second, restoring, ember */
	char *stdin2;	   /* the file a snap run's second ember reads as its stdin */
	/* A snap run's helper commands ("CMD ARG...", split at spaces): [0] started before
	 * the first ember, [1] after the second ember's requests. */
	char *helpers[2][MAX_HELPERS];
	int nhelpers[2];
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

/* fork + exec argv with stdin from in_path (NULL: /dev/null), stderr on the file err_path
 * (opened with O_CREAT and flags) and stdout on out_fd: -1 leaves it ours (the console),
 * -2 puts it with stderr. */
static pid_t spawn_io(char **argv, const char *in_path, int out_fd, const char *err_path,
		      int flags)
{
	fflush(NULL); /* or buffered output is printed twice */
	pid_t pid = fork();
	if (pid) return pid;
	int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
	int err = open(err_path, O_WRONLY | O_CREAT | flags, 0644);
	if (in >= 0) dup2(in, 0);
	if (out_fd >= 0) dup2(out_fd, 1);
	if (err >= 0) {
		dup2(err, 2);
		if (out_fd == -2) dup2(err, 1);
	}
	execv(argv[0], argv);
	dprintf(2, "l1-init: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* stdin from /dev/null, stderr (and stdout too if out_too, else it stays ours: the
 * console) on the file out_path. */
static pid_t spawn(char **argv, const char *out_path, int flags, int out_too)
{
	return spawn_io(argv, NULL, out_too ? -2 : -1, out_path, flags);
}

/* Ember exited (a zombie, not yet reaped: its pid cannot be reused under the watchdog)? */
static int ember_gone(void)
{
	siginfo_t si = { 0 };
	return !waitid(P_PID, (id_t)ember_pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid;
}

/* Whether the file at path holds text (a snap run's console so far). */
static int file_has(const char *path, const char *text)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (fd >= 0) close(fd);
	return n > 0 && memmem(buf, (size_t)n, text, strlen(text)) != NULL;
}

/* A request l1-init does itself, 1 if req is one (*ok: whether it went well): "SLEEP MS",
 * or "WAIT TEXT", until the console so far (console_path) shows TEXT. */
static int own_request(const char *req, const char *console_path, int *ok)
{
	if (!strncmp(req, "SLEEP ", 6)) {
		msleep(atol(req + 6));
		*ok = !timed_out;
		return 1;
	}
	if (strncmp(req, "WAIT ", 5)) return 0;
	/* Looked at every 100 ms, as the socket is: the console of a TCG L2 is slow. */
	while (!(*ok = console_path && file_has(console_path, req + 5)) && !ember_gone() &&
	       !timed_out)
		msleep(100);
	return 1;
}

/* The API part of a run, for one of its embers: wait for its socket, then each request in
 * turn. 0, or -1 at the first failure (after which ember got SIGTERM). */
static int api_requests(const struct run *r, const struct ember *e, const char *console_path)
{
	char api[128], *argv[6];
	if (!e->nreqs) return 0;
	snprintf(api, sizeof(api), "/tmp/%s.api", r->name);
	/* Ember creates the socket soon after its start; a check every 100 ms costs nothing. */
	while (access(e->sock, F_OK) && !ember_gone() && !timed_out) msleep(100);
	int nosock = access(e->sock, F_OK);
	for (int i = 0; i < e->nreqs; i++) {
		char line[4096], *method, *path, *body;
		int st = 0, ok = 0;
		pid_t pid = -1;
		FILE *f = fopen(api, "a");
		if (f) {
			fprintf(f, "> %s\n", e->reqs[i]);
			/* Said here, or the reason would be api_client's "connect: No such file". */
			if (nosock)
				fprintf(f, "l1-init: ember %s before it made %s\n",
					timed_out ? "timed out" : "ended", e->sock);
			fclose(f);
		}
		snprintf(line, sizeof(line), "%s", e->reqs[i]);
		if (own_request(line, console_path, &ok)) {
			if (ok) continue;
			printf("NESTED-APIFAIL %s %s\n", r->name, line);
			fflush(stdout);
			kill(ember_pid, SIGTERM);
			return -1;
		}
		method = strtok(line, " ");
		path = strtok(NULL, " ");
		body = strtok(NULL, ""); /* the rest of the line, spaces and all */
		argv[0] = "/bin/api_client", argv[1] = (char *)e->sock, argv[2] = method;
		argv[3] = path, argv[4] = body, argv[5] = NULL;
		if (!nosock) pid = spawn(argv, api, O_APPEND, 1);
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
		if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("NESTED-APIFAIL %s %s %s\n", r->name, method, path ? path : "");
			fflush(stdout);
			kill(ember_pid, SIGTERM);
			return -1;
		}
	}
	return 0;
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

/* Waits for ember_pid to end without reaping it meanwhile, so that the watchdog never
 * signals a reused pid; then reaps it. Its wait status. */
static int wait_ember(void)
{
	siginfo_t si;
	int st = 0;
	while (waitid(P_PID, (id_t)ember_pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
	waitpid(ember_pid, &st, 0);
	ember_pid = 0;
	return st;
}

static int exit_code(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* What follows a run's console: ember's stderr (both embers' for a snap run), the API
 * exchange, the result. */
static void report(const struct run *r, int st, double secs)
{
	char pre[128], path[128];
	snprintf(pre, sizeof(pre), "NESTED-STDERR %s: ", r->name);
	snprintf(path, sizeof(path), "/tmp/%s.err", r->name);
	print_prefixed(pre, path);
	snprintf(path, sizeof(path), "/tmp/%s.err2", r->name);
	print_prefixed(pre, path);
	snprintf(pre, sizeof(pre), "NESTED-API %s: ", r->name);
	snprintf(path, sizeof(path), "/tmp/%s.api", r->name);
	print_prefixed(pre, path);
	printf("NESTED-RESULT %s rc=%d secs=%.1f timeout=%d\n", r->name, exit_code(st), secs,
	       (int)timed_out);
	fflush(stdout);
}

static void do_run(struct run *r)
{
	char err[128];
	int st = 0;
	snprintf(err, sizeof(err), "/tmp/%s.err", r->name);
	printf("NESTED-BEGIN %s\n", r->name);
	if (r->e[0].sock) unlink(r->e[0].sock);
	timed_out = 0;
	double t0 = now();
	ember_pid = spawn(r->e[0].argv, err, O_TRUNC, 0);
	if (ember_pid > 0) {
		alarm((unsigned)r->timeout);
		if (!strcmp(r->kind, "api")) api_requests(r, &r->e[0], NULL);
		st = wait_ember();
		alarm(0);
	} else {
		ember_pid = 0;
		st = 127 << 8;
	}
	double t1 = now();
	printf("\n");
	report(r, st, t1 - t0);
}

/* The tee of a snap run: fd to our stdout (the console) and to the file path, until EOF. */
static void copy_console(int fd, const char *path)
{
	char buf[4096];
	ssize_t n, k;
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) break;
		for (ssize_t w = 0; w < n; w += k)
			if ((k = write(1, buf + w, (size_t)(n - w))) <= 0) break;
		if (out >= 0 && write(out, buf, (size_t)n) != n) break;
	}
	_exit(0);
}

/* Starts a snap run's helpers of one kind (see struct run); their pids go to pids. */
static int start_helpers(const struct run *r, int when, pid_t *pids, int n)
{
	for (int i = 0; i < r->nhelpers[when]; i++, n++) {
		char line[512], out[128], *argv[16];
		int argc = 0;
		snprintf(line, sizeof(line), "%s", r->helpers[when][i]);
		for (char *w = strtok(line, " "); w && argc < 15; w = strtok(NULL, " ")) argv[argc++] = w;
		argv[argc] = NULL;
		snprintf(out, sizeof(out), "/tmp/%s.helper%d", r->name, n);
		pids[n] = argc ? spawn(argv, out, O_TRUNC, 1) : -1;
	}
	return n;
}

/* Gives the helpers 5 s to end, kills the rest, prints their output. */
static void end_helpers(const struct run *r, const pid_t *pids, int n)
{
	char out[128];
	for (int t = 0; t < 50; t++) {
		int left = 0;
		for (int i = 0; i < n; i++) {
			siginfo_t si = { 0 };
			if (pids[i] > 0 &&
			    !(!waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid))
				left = 1;
		}
		if (!left) break;
		msleep(100);
	}
	for (int i = 0; i < n; i++) {
		if (pids[i] <= 0) continue;
		kill(pids[i], SIGKILL);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
		snprintf(out, sizeof(out), "/tmp/%s.helper%d", r->name, i);
		print_prefixed("", out);
	}
}

/* A snap run: the first ember boots, is saved through its API and is then killed (SIGKILL,
 * as a crash would: nothing of it tidies up); the second restores the saved VM. Their
 * consoles go through a tee, for "WAIT TEXT" to read. The result is the second ember's. */
static void do_snap_run(struct run *r)
{
	char err[128], con[128];
	int st = 255 << 8, first = -1, p[2], ok, nhelp;
	pid_t tee_pid, helpers[2 * MAX_HELPERS];
	snprintf(err, sizeof(err), "/tmp/%s.err", r->name);
	snprintf(con, sizeof(con), "/tmp/%s.console", r->name);
	printf("NESTED-BEGIN %s\n", r->name);
	for (int i = 0; i < 2; i++)
		if (r->e[i].sock) unlink(r->e[i].sock);
	timed_out = 0;
	double t0 = now();
	fflush(NULL);
	/* Close-on-exec: only the dup2'd copies go to the embers. */
	if (pipe2(p, O_CLOEXEC) || (tee_pid = fork()) < 0) {
		printf("l1-init: no tee: %s\n\n", strerror(errno));
		report(r, 127 << 8, 0);
		return;
	}
	if (!tee_pid) {
		close(p[1]);
		copy_console(p[0], con);
	}
	close(p[0]);
	nhelp = start_helpers(r, 0, helpers, 0);
	alarm((unsigned)r->timeout);
	ember_pid = spawn_io(r->e[0].argv, NULL, p[1], err, O_TRUNC);
	if (ember_pid > 0) {
		ok = !api_requests(r, &r->e[0], con);
		if (!ember_gone()) kill(ember_pid, SIGKILL);
		first = exit_code(wait_ember());
		snprintf(err, sizeof(err), "/tmp/%s.err2", r->name);
		if (ok && !timed_out) ember_pid = spawn_io(r->e[1].argv, r->stdin2, p[1], err, O_TRUNC);
		else unlink(err);
		if (ember_pid > 0) {
			api_requests(r, &r->e[1], con);
			nhelp = start_helpers(r, 1, helpers, nhelp);
			st = wait_ember();
		}
	}
	ember_pid = 0;
	alarm(0);
	close(p[1]);
	while (waitpid(tee_pid, NULL, 0) < 0 && errno == EINTR) {}
	double t1 = now();
	printf("\n");
	end_helpers(r, helpers, nhelp);
	printf("NESTED-SNAP %s first-rc=%d\n", r->name, first);
	report(r, st, t1 - t0);
}

/* Reads the next run from f: 1 on a run, 0 at the end, -1 on a malformed file. */
static int next_run(FILE *f, struct run *r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	const char *bad = NULL;
	int in = 0, snap = 0;
	memset(r, 0, sizeof(*r));
	r->e[0].argv[r->e[0].argc++] = "/bin/ember";
	r->e[1].argv[r->e[1].argc++] = "/bin/ember";
	while (!bad && (n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n') line[--n] = 0;
		if (!in) { /* between runs: blank lines and comments, then a header */
			if (!n || line[0] == '#') continue;
			in = sscanf(line, "%7s %63s %d", r->kind, r->name, &r->timeout) == 3 &&
			     (!strcmp(r->kind, "run") || !strcmp(r->kind, "api") ||
			      !strcmp(r->kind, "snap")) && r->timeout > 0;
			if (!in) bad = "not a header \"run|api|snap NAME TIMEOUT_S\"";
			snap = in && !strcmp(r->kind, "snap");
			continue;
		}
		if (!n) break;
		/* "= ARG", ">> REQUEST" and "< FILE": a snap run's second ember. */
		int second = !strncmp(line, "= ", 2) || !strncmp(line, ">> ", 3);
		int helper = !strncmp(line, "& ", 2) ? 0 : !strncmp(line, "&& ", 3) ? 1 : -1;
		struct ember *e = &r->e[second];
		if ((second || helper >= 0 || !strncmp(line, "< ", 2)) && !snap) {
			bad = "\"= \", \">> \", \"& \", \"&& \" and \"< \" lines are for snap runs";
		} else if (helper >= 0) {
			if (r->nhelpers[helper] == MAX_HELPERS) bad = "too many helpers";
			else r->helpers[helper][r->nhelpers[helper]++] = strdup(line + 2 + helper);
		} else if (!strncmp(line, "< ", 2)) {
			free(r->stdin2);
			r->stdin2 = strdup(line + 2);
		} else if (!strncmp(line, "> ", 2) || !strncmp(line, ">> ", 3)) {
			if (e->nreqs == MAX_REQS) bad = "too many requests";
			else e->reqs[e->nreqs++] = strdup(line + 2 + second);
		} else if (e->argc == MAX_ARGS + 1) {
			bad = "too many arguments";
		} else {
			e->argv[e->argc] = strdup(line + 2 * second);
			if (!strcmp(e->argv[e->argc - 1], "--api-sock")) e->sock = e->argv[e->argc];
			e->argc++;
		}
	}
	if (!bad && in && strcmp(r->kind, "run") && !r->e[0].sock)
		bad = "an api or snap run needs --api-sock";
	if (!bad && r->e[1].nreqs && !r->e[1].sock) bad = "\">> \" requests need \"= --api-sock\"";
	if (!bad && snap && r->e[1].argc < 2) bad = "a snap run needs \"= ARG\" lines";
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
		if (!strcmp(r.kind, "snap")) do_snap_run(&r);
		else do_run(&r);
		for (int k = 0; k < 2; k++) {
			for (int i = 1; i < r.e[k].argc; i++) free(r.e[k].argv[i]);
			for (int i = 0; i < r.e[k].nreqs; i++) free(r.e[k].reqs[i]);
		}
		free(r.stdin2);
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < r.nhelpers[k]; i++) free(r.helpers[k][i]);
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
