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

#include "sup.h"
#include "../util/util.h"

#define LOG_KEEP_BYTES	(8 << 20) /* a restart loop truncates the log past this */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define BACKOFF_RESET_S 30 /* an ember that ran this long restarts at once again */

void sup_status_write(struct sup *s)
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
		/*
		 * The stopper names the ember it saw (ctl_sup_stop, 0 for none): one started
		 * since (a restart it raced) is ours to stop, or it would run on.
		 */
		if (pid > 0 && si.ssi_code == SI_QUEUE && si.ssi_int != pid)
			kill(pid, SIGTERM);
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

static void trim_log(void)
{
	struct stat st;

	/* Our stdout is the log (opened O_APPEND): whatever now sits at its path is not cut. */
	if (!fstat(1, &st) && S_ISREG(st.st_mode) && st.st_size > LOG_KEEP_BYTES &&
	    ftruncate(1, 0) == 0)
		fprintf(stderr, "emberctl: log truncated at a restart (over %d bytes)\n",
			LOG_KEEP_BYTES);
}

static void __attribute__((noreturn)) supervisor_main(struct sup *s)
{
	int backoff = BACKOFF_MIN_MS;
	char why[CTL_WHY];
	pid_t pid;

	for (;;) {
		/* Sockets a killed ember left behind would make its bind fail. */
		unlink(s->api);
		unlink(s->con);
		if (s->jailed && ctl_jail_reset(&s->jail, why, sizeof(why))) {
			fprintf(stderr, "emberctl: %s\n", why);
			s->st = (struct ctl_status){.state = "exited",
						    .exited = true,
						    .exit_code = 1,
						    .restarts = s->st.restarts};
			sup_status_write(s);
			talk(s, "exit %lld\n", 1);
			_exit(1);
		}
		pid = fork();
		if (pid == 0)
			exec_ember(s);
		if (pid < 0) {
			fprintf(stderr, "emberctl: cannot fork: %s\n", strerror(errno));
			s->st = (struct ctl_status){.state = "exited",
						    .exited = true,
						    .unknown = true,
						    .restarts = s->st.restarts};
			sup_status_write(s);
			talk(s, "exit %lld\n", -1);
			_exit(1);
		}
		ctl_pid_write(s->ember_pid, pid); /* fails only if it already died: seen below */
		snprintf(s->st.state, sizeof(s->st.state), "running");
		s->st.pid = pid;
		s->st.exited = false;
		s->st.started = ctl_now_s();
		sup_status_write(s);
		talk(s, "pid %lld\n", pid);
		while (!wait_events(s, pid, -1))
			;
		snprintf(s->st.state, sizeof(s->st.state), "exited");
		sup_status_write(s);
		if (s->talk >= 0) {
			/* Died before the boot was decided: a failed boot, reported, not retried.
			 */
			talk(s, "exit %lld\n", 0);
			_exit(0);
		}
		if (!should_restart(s))
			_exit(0);
		if (ctl_now_s() - s->st.started >= BACKOFF_RESET_S)
			backoff = BACKOFF_MIN_MS;
		snprintf(s->st.state, sizeof(s->st.state), "restarting");
		sup_status_write(s);
		wait_events(s, 0, backoff);
		if (s->st.stop_requested) {
			snprintf(s->st.state, sizeof(s->st.state), "exited");
			sup_status_write(s);
			_exit(0);
		}
		backoff = MIN(backoff * 2, BACKOFF_MAX_MS);
		s->st.restarts++;
		trim_log();
	}
}

/* In the forked child: leave the caller's session, descriptors and lock behind. */
void __attribute__((noreturn)) supervisor_start(struct sup *s, int talk_fd)
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
	/* Not holding on to the caller's folder (every path it uses is absolute). */
	if (chdir("/"))
		_exit(1);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = ctl_open_log(s->log, O_APPEND);
	if (fd < 0) /* not the caller's stdout either: trim_log() cuts it */
		fd = open("/dev/null", O_WRONLY);
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
