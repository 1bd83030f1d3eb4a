/* `vm list` and `vm info`: the views of the VM folders, as a table or as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* One VM as list --json shows it; (info) adds what vm info shows. */
static json_t *view_json(struct ctl *c, const struct ctl_vm_view *v, bool info)
{
	char p[PATH_MAX], why[CTL_WHY];
	bool alive = v->ember_alive;
	json_t *o;

	/* Texts cut to their fields' sizes (the id, a problem) may end in half a character. */
	o = json_pack(
	    "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", v->name, "id",
	    v->id[0] ? ctl_json_text(v->id) : json_null(), "state", ctl_json_text(v->state),
	    "vcpus", v->vcpus && !v->broken[0] ? json_integer(v->vcpus) : json_null(), "mem_mib",
	    v->mem_mib && !v->broken[0] ? json_integer((json_int_t)v->mem_mib) : json_null(),
	    "uptime_s", alive && v->uptime_s >= 0 ? json_integer(v->uptime_s) : json_null(), "pid",
	    alive ? json_integer(v->ember.pid) : json_null(), "cpus",
	    v->blk.cpus[0] ? ctl_json_text(v->blk.cpus) : json_null(), "exit_status",
	    v->exit_status[0] && (!strcmp(v->state, "Stopped") || !strcmp(v->state, "Dead"))
		? json_string(v->exit_status)
		: json_null());
	if (!o)
		return NULL;
	if (v->broken[0])
		json_object_set_new(o, "problem", ctl_json_text(v->broken));
	if (!info)
		return o;
	json_object_set_new(o, "restarts", json_integer(v->have_status ? v->status.restarts : 0));
	json_object_set_new(o, "restart", json_string(ctl_restart_name(v->blk.restart)));
	json_object_set_new(o, "realtime", json_boolean(v->blk.realtime));
	json_object_set_new(o, "jail", json_boolean(v->blk.jail));
	json_object_set_new(o, "share_cpus", json_boolean(v->blk.share_cpus));
	json_object_set_new(o, "supervisor_pid",
			    v->supervisor_alive ? json_integer(v->supervisor.pid) : json_null());
	if (!ctl_path(c, p, sizeof(p), "vms/%s", v->name))
		json_object_set_new(o, "dir", json_string(p));
	if (!ctl_path(c, p, sizeof(p), "vms/%s/api.sock", v->name))
		json_object_set_new(o, "api_sock", json_string(p));
	if (!ctl_path(c, p, sizeof(p), "vms/%s/console.sock", v->name))
		json_object_set_new(o, "console_sock", json_string(p));
	if (!ctl_path(c, p, sizeof(p), "vms/%s/ember.log", v->name))
		json_object_set_new(o, "log", json_string(p));
	json_object_set_new(o, "config",
			    ctl_vm_load_config(c, v->name, why, sizeof(why)) ?: json_null());
	return o;
}

static void uptime_text(long long s, char *out, size_t len)
{
	if (s < 0)
		snprintf(out, len, "-");
	else if (s < 60)
		snprintf(out, len, "%llds", s);
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, len, "%lldh%02lldm", s / 3600, (s / 60) % 60);
	else
		snprintf(out, len, "%lldd%02lldh", s / 86400, (s / 3600) % 24);
}

static void state_text(const struct ctl_vm_view *v, char *out, size_t len)
{
	if (v->broken[0])
		snprintf(out, len, "Broken: %s", v->broken);
	else if (!strcmp(v->state, "Dead"))
		snprintf(out, len, "Dead (%s)", v->exit_status);
	else
		snprintf(out, len, "%s", v->state);
}

#define COLS 8

static void print_table(char *(*cells)[COLS], size_t rows)
{
	size_t w[COLS] = {0}, r, i;

	for (r = 0; r < rows; r++)
		for (i = 0; i < COLS; i++)
			w[i] = w[i] > strlen(cells[r][i]) ? w[i] : strlen(cells[r][i]);
	for (r = 0; r < rows; r++) {
		for (i = 0; i < COLS; i++)
			if (i + 1 < COLS)
				printf("%-*s  ", (int)w[i], cells[r][i]);
			else
				printf("%s\n", cells[r][i]);
	}
}

int cmd_vm_list(struct ctl *c, bool json)
{
	char **names = NULL, *(*cells)[COLS] = NULL, tmp[COLS][CTL_WHY + 128];
	struct ctl_vm_view *v = malloc(sizeof(*v));
	json_t *arr = json_array();
	size_t n = 0, i, k;
	int ret;

	if (!v || !arr) {
		ret = ctl_fail(c, -ENOMEM, "out of memory");
		goto out;
	}
	ret = ctl_lock(c, false) ?: ctl_list_names(c, "vms", &names, &n);
	if (ret)
		goto out;
	cells = calloc(n + 1, sizeof(*cells));
	if (!cells) {
		ret = ctl_fail(c, -ENOMEM, "out of memory");
		goto out;
	}
	cells[0][0] = strdup("NAME");
	cells[0][1] = strdup("ID");
	cells[0][2] = strdup("STATE");
	cells[0][3] = strdup("VCPUS");
	cells[0][4] = strdup("MEM");
	cells[0][5] = strdup("UPTIME");
	cells[0][6] = strdup("PID");
	cells[0][7] = strdup("CPUS");
	for (i = 0; i < n; i++) {
		ctl_vm_view(c, names[i], v, true);
		if (json) {
			json_array_append_new(arr, view_json(c, v, false));
			continue;
		}
		snprintf(tmp[0], sizeof(tmp[0]), "%s", v->name);
		snprintf(tmp[1], sizeof(tmp[1]), "%s", v->id[0] ? v->id : "-");
		state_text(v, tmp[2], sizeof(tmp[2]));
		snprintf(tmp[3], sizeof(tmp[3]), v->vcpus ? "%u" : "-", v->vcpus);
		snprintf(tmp[4], sizeof(tmp[4]), v->mem_mib ? "%lluM" : "-",
			 (unsigned long long)v->mem_mib);
		uptime_text(v->ember_alive ? v->uptime_s : -1, tmp[5], sizeof(tmp[5]));
		snprintf(tmp[6], sizeof(tmp[6]), v->ember_alive ? "%d" : "-", (int)v->ember.pid);
		snprintf(tmp[7], sizeof(tmp[7]), "%s", v->blk.cpus[0] ? v->blk.cpus : "-");
		for (k = 0; k < COLS; k++)
			cells[i + 1][k] = strdup(tmp[k]);
	}
	ctl_unlock(c);
	if (json) {
		char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		for (i = 0; i <= n; i++)
			for (k = 0; k < COLS; k++)
				if (!cells[i][k])
					cells[i][k] = strdup("?");
		print_table(cells, n + 1);
	}
out:
	if (cells)
		for (i = 0; i <= n; i++)
			for (k = 0; k < COLS; k++)
				free(cells[i][k]);
	free(cells);
	ctl_names_free(names, n);
	json_decref(arr);
	free(v);
	ctl_unlock(c);
	return ret;
}

int cmd_vm_info(struct ctl *c, const char *name, bool json)
{
	struct ctl_vm_view *v = malloc(sizeof(*v));
	char p[PATH_MAX], *text = NULL;
	json_t *o = NULL, *val;
	const char *key;
	int ret = 0;

	if (!v)
		return ctl_fail(c, -ENOMEM, "out of memory");
	if (!ctl_name_valid(name))
		ret = ctl_fail(c, -EINVAL, "'%s' is not a VM name", name);
	else if (!(ret = ctl_lock(c, false)) &&
		 (ctl_path(c, p, sizeof(p), "vms/%s/.", name) || access(p, F_OK)))
		ret = ctl_fail(c, -ENOENT, "no VM named %s", name);
	if (ret)
		goto out;
	ctl_vm_view(c, name, v, true);
	o = view_json(c, v, true);
	ctl_unlock(c);
	if (!o) {
		ret = ctl_fail(c, -ENOMEM, "out of memory");
		goto out;
	}
	if (json) {
		text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		goto out;
	}
	json_object_foreach(o, key, val)
	{
		if (!strcmp(key, "config"))
			continue;
		if (json_is_string(val))
			printf("%-15s %s\n", key, json_string_value(val));
		else if (json_is_null(val))
			printf("%-15s -\n", key);
		else {
			char *s = json_dumps(val, JSON_ENCODE_ANY);

			printf("%-15s %s\n", key, s ? s : "?");
			free(s);
		}
	}
	val = json_object_get(o, "config");
	text = json_is_object(val) ? json_dumps(val, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	printf("config:\n%s\n", text ? text : "-");
out:
	free(text);
	json_decref(o);
	ctl_unlock(c);
	free(v);
	return ret;
}
