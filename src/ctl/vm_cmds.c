/*
 * The commands that change a VM's life: boot, pause and resume, stop, kill, rm. Each takes
 * the state directory's lock while it decides and signals, and lets go of it before any
 * long wait, so that a slow guest does not hold up the rest of the fleet.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "arch_defs.h"

#define KILL_WAIT_MS   5000 /* after SIGTERM, before SIGKILL */
#define RECORD_WAIT_MS 5000 /* for the supervisor to write the exit down */

/* The view of an existing VM folder, or a failure naming what is missing. */
static int find_vm(struct ctl *c, const char *name, struct ctl_vm_view *v, bool ask_api)
{
	char dir[PATH_MAX];

	if (!ctl_name_valid(name))
		return ctl_fail(c, -EINVAL, "'%s' is not a VM name", name);
	if (ctl_path(c, dir, sizeof(dir), "vms/%s", name))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	if (access(dir, F_OK))
		return ctl_fail(c, -ENOENT, "no VM named %s", name);
	ctl_vm_view(c, name, v, ask_api);
	return 0;
}

/* Another running VM whose CPUs overlap (blk)'s, unless one of them shares. */
static int check_cpus(struct ctl *c, const struct ctl_vm_block *blk, bool share)
{
	struct ctl_cpuset mine, theirs;
	struct ctl_vm_view *v;
	char why[CTL_WHY], **names = NULL;
	size_t n = 0, i;
	int ret;

	if (!blk->cpus[0] || share || blk->share_cpus)
		return 0;
	if (ctl_cpulist_parse(blk->cpus, &mine, why, sizeof(why)))
		return ctl_fail(c, -EINVAL, "%s: cpus: %s", blk->name, why);
	ret = ctl_list_names(c, "vms", &names, &n);
	if (ret)
		return ret;
	v = malloc(sizeof(*v));
	if (!v) {
		ctl_names_free(names, n);
		return ctl_fail(c, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n && !ret; i++) {
		if (!strcmp(names[i], blk->name))
			continue;
		ctl_vm_view(c, names[i], v, false);
		if (v->broken[0] || !ctl_vm_active(v) || !v->blk.cpus[0] || v->blk.share_cpus ||
		    ctl_cpulist_parse(v->blk.cpus, &theirs, why, sizeof(why)))
			continue;
		if (ctl_cpuset_overlap(&mine, &theirs))
			ret = ctl_fail(c, -EBUSY,
				       "%s's CPUs (%s) overlap those of running VM %s "
				       "(%s); give --share-cpus to boot it anyway",
				       blk->name, blk->cpus, v->name, v->blk.cpus);
	}
	free(v);
	ctl_names_free(names, n);
	return ret;
}

/* Every switch the VM's network interfaces name must be running. */
static int check_switches(struct ctl *c, const char *name)
{
	char why[CTL_WHY];
	json_t *root = ctl_vm_load_config(c, name, why, sizeof(why)), *nets, *n, *sw;
	size_t i;
	int ret = 0;

	if (!root)
		return ctl_fail(c, -EINVAL, "%s: %s", name, why);
	nets = json_object_get(root, "network-interfaces");
	json_array_foreach(nets, i, n)
	{
		sw = json_object_get(n, "switch");
		if (!json_is_string(sw) || ret)
			continue;
		if (!ctl_name_valid(json_string_value(sw)) ||
		    !ctl_switch_running(c, json_string_value(sw)))
			ret = ctl_fail(c, -ENOENT,
				       "%s: switch %s is not running (emberctl "
				       "switch create %s)",
				       name, json_string_value(sw), json_string_value(sw));
	}
	json_decref(root);
	return ret;
}

int cmd_vm_boot(struct ctl *c, const char *name, bool share_cpus)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	int ret;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	ret = ctl_lock(c, true) ?: find_vm(c, name, v, false);
	if (ret)
		goto out;
	if (v->broken[0] && ctl_vm_active(v))
		ret = ctl_fail(c, -EINVAL, "%s: %s", name, v->broken);
	else if (ctl_vm_active(v))
		ret = ctl_fail(c, -EBUSY, "%s is already running (pid %d)", name,
			       v->ember_alive ? (int)v->ember.pid : (int)v->supervisor.pid);
	else if (v->broken[0] && strncmp(v->broken, "status.json", 11))
		ret = ctl_fail(c, -EINVAL, "%s: %s", name, v->broken);
	if (!ret)
		ret = check_cpus(c, &v->blk, share_cpus) ?: check_switches(c, name);
	if (!ret)
		ret = ctl_supervise(c, name, &v->blk); /* lets go of the lock */
out:
	ctl_unlock(c);
	free(v);
	return ret;
}

static int api_expect_204(struct ctl *c, const char *name, const char *method, const char *path,
			  const char *body)
{
	char sock[PATH_MAX], why[CTL_WHY];
	struct ctl_api_reply r = {0};
	json_t *root, *msg;
	int ret;

	if (ctl_path(c, sock, sizeof(sock), "vms/%s/api.sock", name))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	ret = ctl_api_call(sock, method, path, body, 5000, &r, why, sizeof(why));
	if (ret)
		return ctl_fail(c, ret, "%s: %s", name, why);
	if (r.status != 204) {
		root = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
		msg = json_object_get(root, "fault_message");
		ret = ctl_fail(c, -EIO, "%s: %s %s: %s", name, method, path,
			       json_is_string(msg) ? json_string_value(msg) : "unexpected reply");
		json_decref(root);
	}
	ctl_api_reply_free(&r);
	return ret;
}

/*
 * Tell the supervisor not to restart: with the pid of the ember we saw (0 for none), so
 * that it stops one it started since, in a restart that raced us.
 */
static void sup_stop(const struct ctl_vm_view *v)
{
	union sigval val = {.sival_int = v->ember_alive ? (int)v->ember.pid : 0};

	sigqueue(v->supervisor.pid, SIGUSR1, val);
}

int cmd_vm_pause(struct ctl *c, const char *name, bool pause)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	int ret;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	/*
	 * A change of state: exclusive, so that it never interleaves with a boot, stop or rm
	 * of the VM; but given back before ember is asked, which a hung ember would make
	 * everyone wait for.
	 */
	ret = ctl_lock(c, true) ?: find_vm(c, name, v, false);
	if (!ret && !v->ember_alive)
		ret = ctl_fail(c, -ESRCH, "%s is not running", name);
	ctl_unlock(c);
	if (!ret)
		ret =
		    api_expect_204(c, name, "PATCH", "/vm",
				   pause ? "{\"state\": \"Paused\"}" : "{\"state\": \"Resumed\"}");
	free(v);
	return ret;
}

/*
 * Wait for ember to go: (first_ms) as it is, then SIGTERM, then SIGKILL; then for the
 * supervisor to write its exit down.
 */
static int wait_stopped(struct ctl *c, const struct ctl_vm_view *v, int first_ms)
{
	if (v->ember_alive && ctl_wait_gone(&v->ember, first_ms)) {
		kill(v->ember.pid, SIGTERM);
		if (ctl_wait_gone(&v->ember, KILL_WAIT_MS)) {
			kill(v->ember.pid, SIGKILL);
			if (ctl_wait_gone(&v->ember, KILL_WAIT_MS))
				return ctl_fail(c, -ETIMEDOUT, "%s: ember (pid %d) does not die",
						v->name, (int)v->ember.pid);
		}
	}
	if (v->supervisor_alive && ctl_wait_gone(&v->supervisor, RECORD_WAIT_MS))
		return ctl_fail(c, -ETIMEDOUT, "%s: its supervisor (pid %d) did not finish",
				v->name, (int)v->supervisor.pid);
	return 0;
}

/*
 * vm stop and vm kill: under the exclusive lock, (v) is NAME's view (asking its API if
 * ask_api), which must be running, and its supervisor is told not to restart it, however
 * ember ends. 0 with the lock held, or -errno.
 */
static int take_running(struct ctl *c, const char *name, struct ctl_vm_view *v, bool ask_api)
{
	int ret = ctl_lock(c, true) ?: find_vm(c, name, v, ask_api);

	if (!ret && !ctl_vm_active(v))
		ret = ctl_fail(c, -ESRCH, "%s is not running (%s)", name, v->state);
	if (!ret && v->supervisor_alive)
		sup_stop(v);
	return ret;
}

int cmd_vm_stop(struct ctl *c, const char *name, int timeout_s)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	bool graceful = false;
	int ret;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	ret = take_running(c, name, v, true);
	if (ret)
		goto out;
	/*
	 * A running x86 guest is asked as a PC is, with Ctrl-Alt-Del (Linux reboots, which
	 * ends ember); Firecracker has no such action elsewhere, and a paused guest cannot
	 * hear it: SIGTERM, which ember takes as a clean stop.
	 */
	if (ARCH_HAS_I8042 && v->ember_alive && !strcmp(v->state, "Running"))
		graceful = !api_expect_204(c, name, "PUT", "/actions",
					   "{\"action_type\": \"SendCtrlAltDel\"}");
	if (v->ember_alive && !graceful)
		kill(v->ember.pid, SIGTERM);
	ctl_unlock(c);
	ret = wait_stopped(c, v, graceful ? timeout_s * 1000 : KILL_WAIT_MS);
out:
	ctl_unlock(c);
	free(v);
	return ret;
}

int cmd_vm_kill(struct ctl *c, const char *name)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	int ret;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	ret = take_running(c, name, v, false);
	if (ret)
		goto out;
	if (v->ember_alive)
		kill(v->ember.pid, SIGKILL);
	ctl_unlock(c);
	ret = wait_stopped(c, v, KILL_WAIT_MS);
out:
	ctl_unlock(c);
	free(v);
	return ret;
}

/* DIR/jail/<exec>/NAME, whichever ember it ran. */
static int remove_jails(struct ctl *c, const char *name)
{
	char base[PATH_MAX], p[PATH_MAX + CTL_NAME_MAX + 300];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	if (ctl_path(c, base, sizeof(base), "jail") || !(d = opendir(base)))
		return 0;
	while ((e = readdir(d)) && !ret) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/%s", base, e->d_name, name);
		ret = ctl_rmtree(p);
		if (ret)
			ret = ctl_fail(c, ret, "cannot remove %s: %s", p, strerror(-ret));
	}
	closedir(d);
	return ret;
}

int cmd_vm_rm(struct ctl *c, const char *name, bool force)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	char dir[PATH_MAX];
	int ret;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	ret = ctl_lock(c, true) ?: find_vm(c, name, v, false);
	if (ret)
		goto out;
	if (ctl_vm_active(v) && !force) {
		ret = ctl_fail(c, -EBUSY, "%s is running (%s); stop it first, or vm rm --force",
			       name, v->state);
		goto out;
	}
	if (ctl_vm_active(v)) {
		if (v->supervisor_alive)
			sup_stop(v);
		if (v->ember_alive)
			kill(v->ember.pid, SIGKILL);
		ret = wait_stopped(c, v, KILL_WAIT_MS);
		if (ret && v->supervisor_alive && ctl_pid_alive(&v->supervisor)) {
			kill(v->supervisor.pid, SIGKILL);
			ret = ctl_wait_gone(&v->supervisor, KILL_WAIT_MS);
		}
		if (ret)
			goto out;
	}
	if (ctl_path(c, dir, sizeof(dir), "vms/%s", name)) {
		ret = ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
		goto out;
	}
	ret = ctl_rmtree(dir);
	if (ret)
		ret = ctl_fail(c, ret, "cannot remove %s: %s", dir, strerror(-ret));
	if (!ret)
		ret = remove_jails(c, name);
out:
	ctl_unlock(c);
	free(v);
	return ret;
}
