/*
 * `vm boot`'s side of the supervisor: the command line of ember (or of ember-jailer), the
 * fork, and the wait until ember's API answers or ember has died.
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
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup.h"
#include "../util/util.h"

#define BOOT_TIMEOUT_MS 30000 /* for the API socket to answer */
#define LOG_TAIL_BYTES	2048

int ctl_find_program(const struct ctl *c, const char *prog, char *out, size_t out_len)
{
	const char *base;
	char dir[PATH_MAX], *slash;
	const char *suffix = "";

	/* --ember or EMBER_BIN (main made it absolute) name ember; its siblings are next to it. */
	if (c->ember[0]) {
		snprintf(dir, sizeof(dir), "%s", c->ember);
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

static void arg(struct sup *s, const char *v)
{
	if (s->nargs >= SUP_ARGS_MAX)
		return; /* cannot happen: the most is SUP_ARGS_MAX - 3 */
	snprintf(s->args[s->nargs], PATH_MAX, "%s", v);
	s->argv[s->nargs] = s->args[s->nargs];
	s->argv[++s->nargs] = NULL;
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

/* The options that come from the emberctl block. */
static void vm_args(const struct ctl_vm_block *blk, struct sup *s)
{
	if (blk->cpus[0]) {
		arg(s, "--cpus");
		arg(s, blk->cpus);
	}
	if (blk->realtime)
		arg(s, "--realtime");
}

/*
 * ember-jailer --id NAME --exec-file EMBER --uid U --gid G --chroot-base-dir DIR/jail --
 * (ember's options, with the paths inside the jail). The exec file must be static: a
 * static sibling of ember (ember-static) is taken when there is one.
 */
static int jail_args(struct ctl *c, const char *name, const struct ctl_vm_block *blk, struct sup *s)
{
	char exe[PATH_MAX + 8], why[CTL_WHY], uid[16], gid[16], api[PATH_MAX], con[PATH_MAX];
	const char *exec_name;
	int ret;

	ret = ctl_find_program(c, "ember-jailer", s->prog, sizeof(s->prog));
	if (ret)
		return ctl_fail(c, ret, "%s: \"jail\": true, but there is no ember-jailer (%s): %s",
				name, s->prog, strerror(-ret));
	ret = ctl_find_program(c, "ember", exe, PATH_MAX);
	if (ret)
		return ctl_fail(c, ret, "cannot find ember (%s): %s; give --ember PATH", exe,
				strerror(-ret));
	strcat(exe, "-static");
	if (access(exe, X_OK))
		exe[strlen(exe) - 7] = '\0';
	exec_name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	ret = ctl_jail_plan(c, name, exec_name, &s->jail, why, sizeof(why));
	if (ret)
		return ctl_fail(c, ret, "%s: %s", name, why);
	/* The sockets are made in the jail; the VM's folder names them through symlinks. */
	unlink(s->api);
	unlink(s->con);
	if (snprintf(api, sizeof(api), "%s/api.sock", s->jail.root) >= (int)sizeof(api) ||
	    snprintf(con, sizeof(con), "%s/console.sock", s->jail.root) >= (int)sizeof(con) ||
	    strlen(con) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ctl_fail(c, -ENAMETOOLONG, "%s: the jail's socket paths are too long", name);
	if (symlink(api, s->api) || symlink(con, s->con))
		return ctl_fail(c, -errno, "%s: cannot link the jail's sockets: %s", name,
				strerror(errno));
	snprintf(s->api, sizeof(s->api), "%s", api);
	snprintf(s->con, sizeof(s->con), "%s", con);
	snprintf(uid, sizeof(uid), "%u", (unsigned int)s->jail.uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned int)s->jail.gid);
	arg(s, s->prog);
	arg(s, "--id");
	arg(s, name);
	arg(s, "--exec-file");
	arg(s, exe);
	arg(s, "--uid");
	arg(s, uid);
	arg(s, "--gid");
	arg(s, gid);
	arg(s, "--chroot-base-dir");
	arg(s, s->jail.base);
	arg(s, "--");
	arg(s, "--api-sock");
	arg(s, "/api.sock");
	arg(s, "--console-sock");
	arg(s, "/console.sock");
	arg(s, "--config-file");
	arg(s, "/ember.json");
	vm_args(blk, s);
	s->jailed = true;
	s->restart = blk->restart;
	return 0;
}

static int sup_paths(struct ctl *c, const char *name, const struct ctl_vm_block *blk, struct sup *s)
{
	char cfg[PATH_MAX];
	int ret;

	if (ctl_path(c, s->dir, sizeof(s->dir), "vms/%s", name) ||
	    ctl_path(c, s->log, sizeof(s->log), "vms/%s/ember.log", name) ||
	    ctl_path(c, s->status, sizeof(s->status), "vms/%s/status.json", name) ||
	    ctl_path(c, s->ember_pid, sizeof(s->ember_pid), "vms/%s/ember.pid", name) ||
	    ctl_path(c, s->api, sizeof(s->api), "vms/%s/api.sock", name) ||
	    ctl_path(c, s->con, sizeof(s->con), "vms/%s/console.sock", name) ||
	    ctl_path(c, cfg, sizeof(cfg), "vms/%s/ember.json", name))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	if (blk->jail)
		return jail_args(c, name, blk, s);
	ret = ctl_find_program(c, "ember", s->prog, sizeof(s->prog));
	if (ret)
		return ctl_fail(c, ret, "cannot find ember (%s): %s; give --ember PATH", s->prog,
				strerror(-ret));
	arg(s, s->prog);
	arg(s, "--api-sock");
	arg(s, s->api);
	arg(s, "--console-sock");
	arg(s, s->con);
	arg(s, "--config-file");
	arg(s, cfg);
	arg(s, "--id");
	arg(s, name);
	vm_args(blk, s);
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
			return ctl_fail(c, -ETIMEDOUT,
					"%s: ember's API socket did not answer in "
					"%d s (see %s)",
					name, BOOT_TIMEOUT_MS / 1000, s->log);
		}
		/* Once ember runs, its API socket is tried every ms: a boot takes a few. */
		if (poll(&p, 1, have_pid ? 1 : 100) > 0) {
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
		if (have_pid && !ctl_api_get_state(s->api, 500, state, sizeof(state), id,
						   sizeof(id), why, sizeof(why))) {
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
	fd = ctl_open_log(s->log, O_TRUNC);
	if (fd < 0) {
		ret = ctl_fail(c, fd, "cannot write %s: %s", s->log,
			       fd == -EINVAL ? "not a regular file" : strerror(-fd));
		goto out;
	}
	close(fd);
	snprintf(s->st.state, sizeof(s->st.state), "starting");
	sup_status_write(s);
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
