/*
 * `switch create|show|rm|list`: ember-switch processes, one per virtual switch, in
 * DIR/switches/NAME/{sock, ctl.sock, pid, log}. A VM's "switch": NAME is that folder's
 * sock. `switch show` reads the switch's control socket (one JSON object, then close) and
 * names the VM behind each port by the port's peer pid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

#define SWITCH_START_MS	 10000
#define SWITCH_STOP_MS	 5000
#define SWITCH_REPLY_MAX (1 << 20)

struct sw_paths {
	char dir[PATH_MAX], sock[PATH_MAX], ctl[PATH_MAX], pid[PATH_MAX], log[PATH_MAX];
};

static int sw_paths(struct ctl *c, const char *name, struct sw_paths *p)
{
	if (!ctl_name_valid(name))
		return ctl_fail(c, -EINVAL, "'%s' is not a switch name", name);
	if (ctl_path(c, p->dir, sizeof(p->dir), "switches/%s", name) ||
	    ctl_path(c, p->sock, sizeof(p->sock), "switches/%s/sock", name) ||
	    ctl_path(c, p->ctl, sizeof(p->ctl), "switches/%s/ctl.sock", name) ||
	    ctl_path(c, p->pid, sizeof(p->pid), "switches/%s/pid", name) ||
	    ctl_path(c, p->log, sizeof(p->log), "switches/%s/log", name) ||
	    strlen(p->ctl) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ctl_fail(c, -ENAMETOOLONG,
				"the state directory's path is too long for "
				"the switch's sockets");
	return 0;
}

bool ctl_switch_running(struct ctl *c, const char *name)
{
	struct ctl_pid pid;
	struct sw_paths p;

	return !sw_paths(c, name, &p) && !ctl_pid_read(p.pid, &pid) && ctl_pid_alive(&pid);
}

static void __attribute__((noreturn))
exec_switch(const struct sw_paths *p, const char *name, const char *prog, int log_fd)
{
	char *argv[] = {(char *)prog,	"--socket", (char *)p->sock, "--control",
			(char *)p->ctl, "--name",   (char *)name,    NULL};
	int fd = open("/dev/null", O_RDONLY);

	setsid();
	if (fd >= 0)
		dup2(fd, 0);
	dup2(log_fd, 1);
	dup2(log_fd, 2);
	close_range(3, ~0U, 0);
	if (chdir(p->dir) == 0)
		execv(prog, argv);
	fprintf(stderr, "emberctl: cannot run %s: %s\n", prog, strerror(errno));
	_exit(127);
}

int cmd_switch_create(struct ctl *c, const char *name)
{
	char prog[PATH_MAX];
	uint64_t deadline;
	struct sw_paths p;
	int ret, fd, st;
	pid_t pid;

	ret = sw_paths(c, name, &p) ?: ctl_lock(c, true);
	if (ret)
		return ret;
	if (ctl_switch_running(c, name)) {
		ret = ctl_fail(c, -EEXIST, "switch %s is already running", name);
		goto out;
	}
	ret = ctl_find_program(c, "ember-switch", prog, sizeof(prog));
	if (ret) {
		ret = ctl_fail(c, ret, "cannot find ember-switch (%s): %s", prog, strerror(-ret));
		goto out;
	}
	if (mkdir(p.dir, 0755) && errno != EEXIST) {
		ret = ctl_fail(c, -errno, "cannot make %s: %s", p.dir, strerror(errno));
		goto out;
	}
	/*
	 * A switch whose pid file went stale may still be listening: its sockets are not ours
	 * to take. Those of a switch that died are ember-switch's to clear (it removes only
	 * the ones nobody listens on).
	 */
	fd = ctl_unix_connect(p.ctl, 0);
	if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED)) {
		if (fd >= 0)
			close(fd);
		ret = ctl_fail(c, -EEXIST,
			       "switch %s: something still listens on %s (a switch whose pid "
			       "file %s is stale?)",
			       name, p.ctl, p.pid);
		goto out;
	}
	fd = ctl_open_log(p.log, O_TRUNC);
	if (fd < 0) {
		ret = ctl_fail(c, fd, "cannot write %s: %s", p.log,
			       fd == -EINVAL ? "not a regular file" : strerror(-fd));
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		exec_switch(&p, name, prog, fd);
	close(fd);
	if (pid < 0) {
		ret = ctl_fail(c, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	ret = ctl_pid_write(p.pid, pid);
	if (ret) {
		/* Not left running where no command could find it. */
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ret = ctl_fail(c, ret, "cannot write %s: %s", p.pid, strerror(-ret));
	}
	/* Up once its control socket answers; gone if it exited first. */
	deadline = now_us() + SWITCH_START_MS * 1000ULL;
	while (!ret) {
		fd = ctl_unix_connect(p.ctl, 0);
		if (fd >= 0) {
			close(fd);
			break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			ret = ctl_fail(c, -EIO, "ember-switch exited at once (see %s)", p.log);
			break;
		}
		if (now_us() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ret =
			    ctl_fail(c, -ETIMEDOUT, "ember-switch did not answer (see %s)", p.log);
			break;
		}
		ctl_sleep_ms(5);
	}
	if (!ret)
		printf("%s\n", name);
out:
	ctl_unlock(c);
	return ret;
}

/* The switch's one JSON object from its control socket. */
static json_t *switch_query(struct ctl *c, const struct sw_paths *p, const char *name)
{
	uint64_t deadline = now_us() + 2000000ULL;
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	json_error_t jerr;
	json_t *root = NULL;
	struct pollfd pf;
	ssize_t n;
	int fd;

	fd = ctl_unix_connect(p->ctl, deadline);
	if (fd < 0) {
		ctl_fail(c, fd, "switch %s: cannot reach its control socket: %s", name,
			 strerror(-fd));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			nb = cap <= SWITCH_REPLY_MAX ? realloc(buf, cap) : NULL;
			if (!nb) {
				ctl_fail(c, -EFBIG, "switch %s: reply too large", name);
				goto out;
			}
			buf = nb;
		}
		pf = (struct pollfd){.fd = fd, .events = POLLIN};
		if (now_us() >= deadline ||
		    poll(&pf, 1, (int)((deadline - now_us()) / 1000) + 1) <= 0) {
			ctl_fail(c, -ETIMEDOUT, "switch %s: no answer in time", name);
			goto out;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			ctl_fail(c, -errno, "switch %s: %s", name, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	root = json_loadb(buf ? buf : "", len, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		root = NULL;
		ctl_fail(c, -EPROTO, "switch %s: not a JSON object (%s)", name, jerr.text);
	}
out:
	free(buf);
	close(fd);
	return root;
}

/* The name of the VM whose ember is (pid), into each port's "vm". */
static void name_ports(struct ctl *c, json_t *ports)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	char **names = NULL;
	size_t n = 0, i, k;
	json_t *port, *pid;

	if (!v || ctl_list_names(c, "vms", &names, &n))
		n = 0;
	json_array_foreach(ports, k, port) if (json_is_object(port))
	    json_object_set_new(port, "vm", json_null());
	for (i = 0; i < n; i++) {
		ctl_vm_view(c, names[i], v, false);
		if (!v->ember_alive)
			continue;
		json_array_foreach(ports, k, port)
		{
			pid = json_object_get(port, "pid");
			if (json_is_integer(pid) && json_integer_value(pid) == v->ember.pid)
				json_object_set_new(port, "vm", json_string(v->name));
		}
	}
	ctl_names_free(names, n);
	free(v);
}

static long long port_int(json_t *port, const char *key)
{
	json_t *v = json_object_get(port, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void print_ports(json_t *root)
{
	static const char *const counters[] = {"rx_frames", "rx_bytes",	  "tx_frames",
					       "tx_bytes",  "tx_dropped", "rx_garbage"};
	json_t *ports = json_object_get(root, "ports"), *port, *vm, *macs, *mac;
	size_t k, m, i;

	printf("%-5s %-16s %-8s", "PORT", "VM", "PID");
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(" %12s", counters[i]);
	printf("  MACS\n");
	json_array_foreach(ports, k, port)
	{
		vm = json_object_get(port, "vm");
		printf("%-5lld %-16s %-8lld", port_int(port, "port"),
		       json_is_string(vm) ? json_string_value(vm) : "-", port_int(port, "pid"));
		for (i = 0; i < ARRAY_SIZE(counters); i++)
			printf(" %12lld", port_int(port, counters[i]));
		printf(" ");
		macs = json_object_get(port, "macs");
		json_array_foreach(macs, m, mac)
		    printf(" %s", json_is_string(mac) ? json_string_value(mac) : "?");
		printf("\n");
	}
}

int cmd_switch_show(struct ctl *c, const char *name, bool json)
{
	struct sw_paths p;
	json_t *root;
	char *text;
	int ret;

	ret = sw_paths(c, name, &p) ?: ctl_lock(c, false);
	if (ret)
		return ret;
	if (!ctl_switch_running(c, name)) {
		ret = ctl_fail(
		    c, -ESRCH,
		    access(p.dir, F_OK) ? "no switch named %s" : "switch %s is not running", name);
		goto out;
	}
	/* A hung switch must not hold the lock from everyone while we wait for it. */
	ctl_unlock(c);
	root = switch_query(c, &p, name);
	if (!root)
		return -EIO;
	ret = ctl_lock(c, false);
	if (ret) {
		json_decref(root);
		return ret;
	}
	name_ports(c, json_object_get(root, "ports"));
	if (json) {
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print_ports(root);
	}
	json_decref(root);
out:
	ctl_unlock(c);
	return ret;
}

int cmd_switch_rm(struct ctl *c, const char *name)
{
	struct ctl_pid pid;
	struct sw_paths p;
	int ret;

	ret = sw_paths(c, name, &p) ?: ctl_lock(c, true);
	if (ret)
		return ret;
	if (access(p.dir, F_OK)) {
		ret = ctl_fail(c, -ENOENT, "no switch named %s", name);
		goto out;
	}
	if (!ctl_pid_read(p.pid, &pid) && ctl_pid_alive(&pid)) {
		kill(pid.pid, SIGTERM);
		if (ctl_wait_gone(&pid, SWITCH_STOP_MS)) {
			kill(pid.pid, SIGKILL);
			ctl_wait_gone(&pid, SWITCH_STOP_MS);
		}
	}
	ret = ctl_rmtree(p.dir);
	if (ret)
		ret = ctl_fail(c, ret, "cannot remove %s: %s", p.dir, strerror(-ret));
out:
	ctl_unlock(c);
	return ret;
}

int cmd_switch_list(struct ctl *c, bool json)
{
	json_t *arr = json_array();
	char **names = NULL, *text;
	struct ctl_pid pid;
	struct sw_paths p;
	size_t n = 0, i;
	bool up;
	int ret;

	ret = ctl_lock(c, false) ?: ctl_list_names(c, "switches", &names, &n);
	if (ret || !arr)
		goto out;
	if (!json)
		printf("%-20s %-8s %s\n", "NAME", "STATE", "PID");
	for (i = 0; i < n; i++) {
		if (sw_paths(c, names[i], &p))
			continue;
		up = !ctl_pid_read(p.pid, &pid) && ctl_pid_alive(&pid);
		if (json)
			json_array_append_new(arr,
					      json_pack("{s:s, s:s, s:o, s:s}", "name", names[i],
							"state", up ? "Running" : "Stopped", "pid",
							up ? json_integer(pid.pid) : json_null(),
							"socket", p.sock));
		else if (up)
			printf("%-20s %-8s %d\n", names[i], "Running", (int)pid.pid);
		else
			printf("%-20s %-8s -\n", names[i], "Stopped");
	}
	if (json) {
		text = json_dumps(arr, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
	}
out:
	ctl_names_free(names, n);
	json_decref(arr);
	ctl_unlock(c);
	return ret;
}
