/*
 * What one VM folder says, read without trusting it: every file may be missing, empty,
 * half-written by a crashed writer, stale (a pid the kernel gave to another process) or
 * edited by hand. The result is a view with a state word, and with what is wrong in
 * (broken) when the folder is not a usable VM; reading never fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static void load_pid(struct ctl *c, const char *name, const char *leaf, struct ctl_pid *p,
		     bool *alive)
{
	char path[PATH_MAX];

	*p = (struct ctl_pid){0};
	*alive = false;
	if (ctl_path(c, path, sizeof(path), "vms/%s/%s", name, leaf) || ctl_pid_read(path, p)) {
		*p = (struct ctl_pid){0};
		return;
	}
	*alive = ctl_pid_alive(p);
}

json_t *ctl_vm_load_config(struct ctl *c, const char *name, char *why, size_t why_len)
{
	char path[PATH_MAX], *text = NULL;
	json_error_t jerr;
	size_t len = 0;
	json_t *root;
	int ret;

	if (ctl_path(c, path, sizeof(path), "vms/%s/config.json", name)) {
		snprintf(why, why_len, "path too long");
		return NULL;
	}
	ret = ctl_read_small(path, CTL_CONFIG_MAX, &text, &len);
	if (ret == -ENOENT) {
		snprintf(why, why_len, "no config.json");
		return NULL;
	}
	if (ret) {
		snprintf(why, why_len, "config.json: %s", strerror(-ret));
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		snprintf(why, why_len, "config.json: %s", len ? jerr.text : "empty");
		return NULL;
	}
	return root;
}

/* vcpus and memory, as ember would default them; 0 for a snapshot (it says). */
static void machine_size(json_t *root, struct ctl_vm_view *v)
{
	json_t *mc = json_object_get(root, "machine-config"), *n;

	v->vcpus = 1;
	v->mem_mib = 128;
	if (json_object_get(root, "snapshot-load")) {
		v->vcpus = 0;
		v->mem_mib = 0;
		return;
	}
	n = json_object_get(mc, "vcpu_count");
	if (json_is_integer(n) && json_integer_value(n) > 0 && json_integer_value(n) <= 4096)
		v->vcpus = (unsigned int)json_integer_value(n);
	n = json_object_get(mc, "mem_size_mib");
	if (json_is_integer(n) && json_integer_value(n) > 0 && json_integer_value(n) <= (1LL << 40))
		v->mem_mib = (uint64_t)json_integer_value(n);
}

static void load_config(struct ctl *c, const char *name, struct ctl_vm_view *v)
{
	char why[CTL_WHY], path[PATH_MAX];
	json_t *root = ctl_vm_load_config(c, name, why, sizeof(why));

	if (!root) {
		snprintf(v->broken, sizeof(v->broken), "%s", why);
		return;
	}
	if (ctl_block_parse(json_object_get(root, "emberctl"), &v->blk, why, sizeof(why)))
		snprintf(v->broken, sizeof(v->broken), "config.json: %s", why);
	else if (strcmp(v->blk.name, name))
		snprintf(v->broken, sizeof(v->broken), "config.json names the VM %s", v->blk.name);
	else if (ctl_path(c, path, sizeof(path), "vms/%s/ember.json", name) || access(path, R_OK))
		snprintf(v->broken, sizeof(v->broken), "no ember.json");
	else
		machine_size(root, v);
	json_decref(root);
}

static void load_status(struct ctl *c, const char *name, struct ctl_vm_view *v, char *why,
			size_t why_len)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int ret;

	why[0] = '\0';
	if (ctl_path(c, path, sizeof(path), "vms/%s/status.json", name))
		return;
	ret = ctl_read_small(path, CTL_STATE_MAX, &text, &len);
	if (ret == -ENOENT)
		return;
	if (ret) {
		snprintf(why, why_len, "status.json: %s", strerror(-ret));
		return;
	}
	ret = ctl_status_parse(text, len, &v->status, why + 13, why_len - 13);
	free(text);
	if (ret)
		memcpy(why, "status.json: ", 13);
	else
		v->have_status = true;
}

bool ctl_vm_active(const struct ctl_vm_view *v)
{
	return v->ember_alive || v->supervisor_alive;
}

/* The state word of a VM with no live ember. */
static void state_at_rest(struct ctl_vm_view *v, const char *status_why)
{
	const struct ctl_status *st = &v->status;

	if (v->supervisor_alive) {
		snprintf(v->state, sizeof(v->state), "%s",
			 v->have_status && !strcmp(st->state, "restarting") ? "Restarting"
									    : "Starting");
		if (v->have_status)
			ctl_status_describe(st, v->exit_status, sizeof(v->exit_status));
		return;
	}
	if (status_why[0]) {
		snprintf(v->broken, sizeof(v->broken), "%s", status_why);
		snprintf(v->state, sizeof(v->state), "Broken");
		return;
	}
	if (!v->have_status) {
		snprintf(v->state, sizeof(v->state), "Stopped"); /* never booted */
		return;
	}
	if (!st->exited) {
		/* Its supervisor died without a word (killed too): how ember ended is unknown. */
		snprintf(v->state, sizeof(v->state), "Dead");
		snprintf(v->exit_status, sizeof(v->exit_status), "unknown");
		return;
	}
	ctl_status_describe(st, v->exit_status, sizeof(v->exit_status));
	snprintf(v->state, sizeof(v->state), "%s",
		 !st->unknown && !st->signal && st->exit_code == 0 ? "Stopped" : "Dead");
}

void ctl_vm_view(struct ctl *c, const char *name, struct ctl_vm_view *v, bool ask_api)
{
	char why[CTL_WHY], status_why[CTL_WHY], api[PATH_MAX];

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->uptime_s = -1;
	load_config(c, name, v);
	load_pid(c, name, "ember.pid", &v->ember, &v->ember_alive);
	load_pid(c, name, "supervisor.pid", &v->supervisor, &v->supervisor_alive);
	load_status(c, name, v, status_why, sizeof(status_why));
	/* emberctl boots every VM with --id NAME; a live ember's own answer replaces it. */
	snprintf(v->id, sizeof(v->id), "%s", name);
	if (!v->ember_alive) {
		state_at_rest(v, status_why);
		if (v->broken[0])
			snprintf(v->state, sizeof(v->state), "Broken");
		return;
	}
	v->uptime_s = ctl_pid_uptime(&v->ember);
	snprintf(v->state, sizeof(v->state), "Running");
	if (ask_api && !ctl_path(c, api, sizeof(api), "vms/%s/api.sock", name) &&
	    ctl_api_get_state(api, 2000, v->state, sizeof(v->state), v->id, sizeof(v->id), why,
			      sizeof(why)))
		snprintf(v->state, sizeof(v->state), "Unresponsive");
	if (v->broken[0])
		snprintf(v->state, sizeof(v->state), "Broken");
}
