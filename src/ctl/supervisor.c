/*
 * `vm boot`: emberctl forks a supervisor, which leaves the caller's session (setsid), runs
 * ember, waits for it, writes its exit status into the VM's folder (status.json, written
 * whole) and applies the restart policy. The booting emberctl and the supervisor share a
 * socket pair until the boot is decided: the supervisor says "pid N" once ember runs and
 * "exit ..." if it dies; the booting side says "ok" once the API socket answers. An ember
 * that dies before that is a failed boot, never restarted.
 *
 * `vm stop` and `vm kill` send the supervisor SIGUSR1 first: whatever ember's exit, it is
 * then not restarted. A SIGTERM to the supervisor stops ember the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

#define BOOT_TIMEOUT_MS	  30000 /* for the API socket to answer */
#define LOG_KEEP_BYTES	  (8 << 20) /* a restart loop truncates the log past this */
#define BACKOFF_MIN_MS	  100
#define BACKOFF_MAX_MS	  10000
#define BACKOFF_RESET_S	  30 /* an ember that ran this long restarts at once again */
#define LOG_TAIL_BYTES	  2048

/* Everything the supervisor needs, made before the fork. */
struct sup {
	char dir[PATH_MAX];
	char log[PATH_MAX], status[PATH_MAX], ember_pid[PATH_MAX], api[PATH_MAX];
	char con[PATH_MAX];
	char prog[PATH_MAX];
	char *argv[24];
	char args[12][PATH_MAX];
	enum ctl_restart restart;
	int talk; /* the socket to the booting emberctl, -1 once the boot is decided */
	int sigfd;
	struct ctl_status st;
};

int ctl_find_program(const struct ctl *c, const char *prog, char *out, size_t out_len)
{
	const char *base, *env = getenv("EMBER_BIN");
	char dir[PATH_MAX], *slash;
	const char *suffix = "";

	/* --ember or EMBER_BIN name ember itself; its siblings are found next to it. */
	if (c->ember[0] || (env && *env)) {
		snprintf(dir, sizeof(dir), "%s", c->ember[0] ? c->ember : env);
		if (!strcmp(prog, "ember")) {
			snprintf(out, out_len, "%s", dir);
			return access(out, X_OK) ? -errno : 0;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s", c->self);
		/* emberctl-asan finds ember-asan, emberctl-aarch64 ember-aarch64. */
		base = strrchr(c->self, '/');
		base = base ? base + 1 : c->self;
		if (!strncmp(base, "emberctl", 8))
			suffix = base + 8;
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		strcpy(dir, "./");
	if (snprintf(out, out_len, "%s%s%s", dir, prog, suffix) >= (int)out_len)
		return -ENAMETOOLONG;
	if (*suffix && access(out, X_OK))
		snprintf(out, out_len, "%s%s", dir, prog);
	return access(out, X_OK) ? -errno : 0;
}

static void status_write(struct sup *s)
{
	char text[512], ex[64] = "null";

	if (s->st.exited && s->st.unknown)
		snprintf(ex, sizeof(ex), "{}");
	else if (s->st.exited && s->st.signal)
		snprintf(ex, sizeof(ex), "{\"signal\": %d}", s->st.signal);
	else if (s->st.exited)
		snprintf(ex, sizeof(ex), "{\"code\": %d}", s->st.exit_code);
	snprintf(text, sizeof(text),
		 "{\"state\": \"%s\", \"pid\": %d, \"restarts\": %u, \"started\": %lld, "
		 "\"stop_requested\": %s, \"exit\": %s}\n",
		 s->st.state, (int)s->st.pid, s->st.restarts, s->st.started,
		 s->st.stop_requested ? "true" : "false", ex);
	/* Nobody to tell if it fails: the folder may have been removed by vm rm --force. */
	ctl_write_atomic(s->status, text, strlen(text));
}

static void talk(struct sup *s, const char *fmt, long long v)
{
	char line[64];
	int n;

	if (s->talk < 0)
		return;
	n = snprintf(line, sizeof(line), fmt, v);
	if (write_all(s->talk, line, (size_t)n)) {
		close(s->talk);
		s->talk = -1;
	}
}

/* The child of the supervisor: becomes ember. */
static void __attribute__((noreturn)) exec_ember(struct sup *s)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (chdir(s->dir))
		fprintf(stderr, "emberctl: cannot enter %s: %s\n", s->dir, strerror(errno));
	else
		execv(s->prog, s->argv);
	fprintf(stderr, "emberctl: cannot run %s: %s\n", s->prog, strerror(errno));
	_exit(127);
}

/* Handle one signal; true once ember (pid) was reaped into s->st. */
static bool on_signal(struct sup *s, pid_t pid)
{
	struct signalfd_siginfo si;
	int wst;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return false;
	switch (si.ssi_signo) {
	case SIGUSR1:
		s->st.stop_requested = true;
		return false;
	case SIGTERM:
	case SIGINT:
	case SIGHUP:
		s->st.stop_requested = true;
		if (pid > 0)
			kill(pid, SIGTERM);
		return false;
	case SIGCHLD:
		if (pid <= 0 || waitpid(pid, &wst, WNOHANG) != pid)
			return false;
		s->st.exited = true;
		s->st.unknown = false;
		s->st.exit_code = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
		s->st.signal = WIFSIGNALED(wst) ? WTERMSIG(wst) : 0;
		return true;
	}
	return false;
}

/* Wait for ember (pid) to exit, or (timeout_ms) with pid 0 (a back-off); -1: forever. */
static bool wait_events(struct sup *s, pid_t pid, int timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)MAX(timeout_ms, 0) * 1000;
	struct pollfd p[2];
	char buf[16];
	ssize_t got;
	int n, wait_ms;

	for (;;) {
		p[0] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = s->talk, .events = POLLIN};
		wait_ms = -1;
		if (timeout_ms >= 0) {
			uint64_t now = now_us();

			if (now >= deadline || s->st.stop_requested)
				return false;
			wait_ms = (int)((deadline - now + 999) / 1000);
		}
		n = poll(p, s->talk >= 0 ? 2 : 1, wait_ms);
		if (n < 0 && errno != EINTR)
			return false;
		if (n > 0 && (p[0].revents & POLLIN) && on_signal(s, pid))
			return true;
		if (n > 0 && s->talk >= 0 && p[1].revents) {
			/* "ok", or the booting side went away: either way the boot is decided. */
			got = read(s->talk, buf, sizeof(buf));
			if (got <= 0 || memchr(buf, 'k', (size_t)got)) {
				close(s->talk);
				s->talk = -1;
			}
		}
	}
}

static bool should_restart(const struct sup *s)
{
	bool failed = s->st.signal || s->st.exit_code != 0;

	if (s->st.stop_requested)
		return false;
	return s->restart == RESTART_ALWAYS || (s->restart == RESTART_ON_FAILURE && failed);
}

static void trim_log(const struct sup *s)
{
	struct stat st;

	if (!stat(s->log, &st) && st.st_size > LOG_KEEP_BYTES && truncate(s->log, 0) == 0)
		fprintf(stderr, "emberctl: log truncated at a restart (over %d bytes)\n",
			LOG_KEEP_BYTES);
}

static void __attribute__((noreturn)) supervisor_main(struct sup *s)
{
	int backoff = BACKOFF_MIN_MS;
	pid_t pid;

	for (;;) {
		/* Sockets a killed ember left behind would make its bind fail. */
		unlink(s->api);
		unlink(s->con);
		pid = fork();
		if (pid == 0)
			exec_ember(s);
		if (pid < 0) {
			fprintf(stderr, "emberctl: cannot fork: %s\n", strerror(errno));
			s->st = (struct ctl_status){.state = "exited", .exited = true,
						    .unknown = true, .restarts = s->st.restarts};
			status_write(s);
			talk(s, "exit %lld\n", -1);
			_exit(1);
		}
		ctl_pid_write(s->ember_pid, pid); /* fails only if it already died: seen below */
		snprintf(s->st.state, sizeof(s->st.state), "running");
		s->st.pid = pid;
		s->st.exited = false;
		s->st.started = ctl_now_s();
		status_write(s);
		talk(s, "pid %lld\n", pid);
		while (!wait_events(s, pid, -1))
			;
		snprintf(s->st.state, sizeof(s->st.state), "exited");
		status_write(s);
		if (s->talk >= 0) {
			/* Died before the boot was decided: a failed boot, reported, not retried. */
			talk(s, "exit %lld\n", 0);
			_exit(0);
		}
		if (!should_restart(s))
			_exit(0);
		if (ctl_now_s() - s->st.started >= BACKOFF_RESET_S)
			backoff = BACKOFF_MIN_MS;
		snprintf(s->st.state, sizeof(s->st.state), "restarting");
		status_write(s);
		wait_events(s, 0, backoff);
		if (s->st.stop_requested) {
			snprintf(s->st.state, sizeof(s->st.state), "exited");
			status_write(s);
			_exit(0);
		}
		backoff = MIN(backoff * 2, BACKOFF_MAX_MS);
		s->st.restarts++;
		trim_log(s);
	}
}

/* In the forked child: leave the caller's session, descriptors and lock behind. */
static void __attribute__((noreturn)) supervisor_start(struct sup *s, int talk_fd)
{
	sigset_t set;
	int fd;

	/* The state directory's lock and the caller's pipes must not live on in us. */
	if (talk_fd != 3) {
		if (dup3(talk_fd, 3, O_CLOEXEC) < 0)
			_exit(1);
	}
	s->talk = 3;
	close_range(4, ~0U, 0);
	setsid();
	prctl(PR_SET_NAME, "emberctl-sup");
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s->sigfd < 0) {
		fprintf(stderr, "emberctl: signalfd: %s\n", strerror(errno));
		_exit(1);
	}
	supervisor_main(s);
}

/* The last (LOG_TAIL_BYTES) of the log, for a failed boot's message. */
static void log_tail(const char *log, char *out, size_t out_len)
{
	char *text = NULL, *p;
	size_t len = 0;

	out[0] = '\0';
	if (ctl_read_small(log, 64 << 20, &text, &len))
		return;
	p = text + (len > LOG_TAIL_BYTES ? len - LOG_TAIL_BYTES : 0);
	snprintf(out, out_len, "%s", p);
	free(text);
}

static int sup_paths(struct ctl *c, const char *name, const struct ctl_vm_block *blk,
		     struct sup *s)
{
	char cfg[PATH_MAX];
	int n = 0, a = 0, ret;

	if (ctl_path(c, s->dir, sizeof(s->dir), "vms/%s", name) ||
	    ctl_path(c, s->log, sizeof(s->log), "vms/%s/ember.log", name) ||
	    ctl_path(c, s->status, sizeof(s->status), "vms/%s/status.json", name) ||
	    ctl_path(c, s->ember_pid, sizeof(s->ember_pid), "vms/%s/ember.pid", name) ||
	    ctl_path(c, s->api, sizeof(s->api), "vms/%s/api.sock", name) ||
	    ctl_path(c, s->con, sizeof(s->con), "vms/%s/console.sock", name) ||
	    ctl_path(c, cfg, sizeof(cfg), "vms/%s/ember.json", name))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	if (blk->jail)
		return ctl_fail(c, -ENOTSUP, "%s: \"jail\": true is not supported by this "
				"emberctl yet", name);
	ret = ctl_find_program(c, "ember", s->prog, sizeof(s->prog));
	if (ret)
		return ctl_fail(c, ret, "cannot find ember (%s): %s; give --ember PATH",
				s->prog, strerror(-ret));
#define ARG(v) (snprintf(s->args[a], PATH_MAX, "%s", (v)), s->argv[n++] = s->args[a++])
	ARG(s->prog);
	ARG("--api-sock");
	ARG(s->api);
	ARG("--console-sock");
	ARG(s->con);
	ARG("--config-file");
	ARG(cfg);
	ARG("--id");
	ARG(name);
	if (blk->cpus[0]) {
		ARG("--cpus");
		ARG(blk->cpus);
	}
	if (blk->realtime)
		ARG("--realtime");
#undef ARG
	s->argv[n] = NULL;
	s->restart = blk->restart;
	return 0;
}

/* The booting side: wait for "pid N", then for the API (or "exit"). */
static int boot_wait(struct ctl *c, const char *name, struct sup *s, int fd)
{
	uint64_t deadline = now_us() + BOOT_TIMEOUT_MS * 1000ULL;
	char line[64] = "", state[32], id[80], why[CTL_WHY], tail[LOG_TAIL_BYTES + 1];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len = 0;
	bool have_pid = false;
	ssize_t r;

	for (;;) {
		if (now_us() >= deadline) {
			ctl_unlock(c);
			return ctl_fail(c, -ETIMEDOUT, "%s: ember's API socket did not answer in "
					"%d s (see %s)", name, BOOT_TIMEOUT_MS / 1000, s->log);
		}
		if (poll(&p, 1, have_pid ? 10 : 100) > 0) {
			r = read(fd, line + len, sizeof(line) - 1 - len);
			if (r <= 0)
				break; /* the supervisor died */
			len += (size_t)r;
			line[len] = '\0';
			if (strstr(line, "exit"))
				break;
			if (!have_pid && strchr(line, '\n')) {
				have_pid = true;
				/* ember.pid is written: other commands may see it run now. */
				ctl_unlock(c);
				memmove(line, strchr(line, '\n') + 1, strlen(strchr(line, '\n')));
				len = strlen(line);
			}
			if (len >= sizeof(line) - 1)
				len = 0;
		}
		if (have_pid && !ctl_api_get_state(s->api, 500, state, sizeof(state), id, sizeof(id),
					       why, sizeof(why))) {
			write_all(fd, "ok\n", 3);
			return 0;
		}
	}
	ctl_unlock(c);
	/* Let the supervisor finish its status.json before the caller looks. */
	ctl_sleep_ms(20);
	log_tail(s->log, tail, sizeof(tail));
	fprintf(stderr, "%s", tail);
	if (tail[0] && tail[strlen(tail) - 1] != '\n')
		fputc('\n', stderr);
	return ctl_fail(c, -EIO, "%s: ember exited during boot (log: %s)", name, s->log);
}

/* An ember whose API never answered: stopped (SIGTERM through its supervisor, then SIGKILL). */
static void stop_hung_boot(const struct sup *s, pid_t sup_pid)
{
	struct ctl_pid ember = {0};
	int i;

	kill(sup_pid, SIGTERM);
	for (i = 0; i < 500; i++) {
		if (waitpid(sup_pid, NULL, WNOHANG) == sup_pid)
			return;
		ctl_sleep_ms(10);
	}
	if (!ctl_pid_read(s->ember_pid, &ember) && ctl_pid_alive(&ember))
		kill(ember.pid, SIGKILL);
}

int ctl_supervise(struct ctl *c, const char *name, const struct ctl_vm_block *blk)
{
	struct sup *s = calloc(1, sizeof(*s));
	char sup_pid[PATH_MAX];
	int sv[2], ret, fd;
	pid_t pid;

	if (!s)
		return ctl_fail(c, -ENOMEM, "out of memory");
	ret = sup_paths(c, name, blk, s);
	if (ret)
		goto out;
	if (ctl_path(c, sup_pid, sizeof(sup_pid), "vms/%s/supervisor.pid", name)) {
		ret = ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
		goto out;
	}
	/* A boot's log holds that boot and its restarts. */
	fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = ctl_fail(c, -errno, "cannot write %s: %s", s->log, strerror(errno));
		goto out;
	}
	close(fd);
	snprintf(s->st.state, sizeof(s->st.state), "starting");
	status_write(s);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = ctl_fail(c, -errno, "socketpair: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		supervisor_start(s, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		ret = ctl_fail(c, -errno, "fork: %s", strerror(errno));
		close(sv[0]);
		goto out;
	}
	ret = ctl_pid_write(sup_pid, pid);
	if (ret) {
		ret = ctl_fail(c, ret, "cannot write %s: %s", sup_pid, strerror(-ret));
		kill(pid, SIGKILL);
		close(sv[0]);
		goto out;
	}
	ret = boot_wait(c, name, s, sv[0]);
	close(sv[0]);
	if (ret == -ETIMEDOUT)
		stop_hung_boot(s, pid);
	/* Our child: reaped by init once we exit; a failed boot's supervisor is done now. */
	if (ret)
		waitpid(pid, NULL, 0);
out:
	free(s);
	return ret;
}
