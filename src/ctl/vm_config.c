/*
 * `vm config`: a VM's definition is Firecracker's config-file JSON plus an "emberctl"
 * block. It is checked in full before anything is written: the block here, the rest by
 * ember's own parser (libember's config_parse) on exactly the ember.json that ember will
 * be given, so a config that emberctl accepts is one that ember boots, with ember's words
 * for what is wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "../config/config_file.h"
#include "../config/vm_config.h"

/* The longest path below a VM's folder that is a socket. */
#define SOCK_LEAF "/console.sock"

/*
 * ember runs in the VM's folder (so a relative vsock or log path lands there); the files a
 * relative path named when the config was given become absolute, as the user meant them.
 */
static int absolute_path(json_t *obj, const char *key, char *why, size_t why_len)
{
	json_t *m = json_object_get(obj, key);
	char cwd[PATH_MAX], *abs = NULL;
	int ret;

	if (!json_is_string(m) || json_string_value(m)[0] == '/' || !json_string_length(m))
		return 0;
	if (!getcwd(cwd, sizeof(cwd))) {
		snprintf(why, why_len, "cannot get the working directory: %s", strerror(errno));
		return -errno;
	}
	if (asprintf(&abs, "%s/%s", cwd, json_string_value(m)) < 0)
		return -ENOMEM;
	ret = json_object_set_new(obj, key, json_string(abs)) ? -ENOMEM : 0;
	free(abs);
	return ret;
}

/* "switch": NAME in a network-interfaces entry becomes the switch's socket path. */
static int net_switches(struct ctl *c, json_t *nets, char *why, size_t why_len)
{
	char sock[PATH_MAX];
	const char *name;
	json_t *n, *sw;
	size_t i;

	if (!json_is_array(nets))
		return 0; /* ember's parser names it */
	json_array_foreach(nets, i, n)
	{
		sw = json_object_get(n, "switch");
		if (!sw)
			continue;
		name = json_is_string(sw) ? json_string_value(sw) : "";
		if (!ctl_name_valid(name)) {
			snprintf(why, why_len,
				 "network-interfaces[%zu].switch: must be a switch "
				 "name: 1 to %d letters, digits, '-' or '_'",
				 i, CTL_NAME_MAX);
			return -EINVAL;
		}
		if (json_object_get(n, "host_dev_name") || json_object_get(n, "switch_socket")) {
			snprintf(why, why_len,
				 "network-interfaces[%zu]: give switch or "
				 "host_dev_name, not both",
				 i);
			return -EINVAL;
		}
		if (ctl_path(c, sock, sizeof(sock), "switches/%s/sock", name) ||
		    strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, why_len,
				 "network-interfaces[%zu].switch: the socket path "
				 "under %s is too long",
				 i, c->state_dir);
			return -ENAMETOOLONG;
		}
		if (json_object_set_new(n, "switch_socket", json_string(sock)) ||
		    json_object_del(n, "switch"))
			return -ENOMEM;
	}
	return 0;
}

int ctl_config_check(struct ctl *c, json_t *root, struct ctl_vm_block *blk, char **ember_json,
		     char *why, size_t why_len)
{
	struct vm_config cfg;
	json_t *doc, *v;
	size_t i;
	char *text;
	int ret;

	if (!json_is_object(root)) {
		snprintf(why, why_len, "the top level must be an object");
		return -EINVAL;
	}
	ret = ctl_block_parse(json_object_get(root, "emberctl"), blk, why, why_len);
	if (ret)
		return ret;
	doc = json_deep_copy(root);
	if (!doc)
		return -ENOMEM;
	json_object_del(doc, "emberctl");
	ret = net_switches(c, json_object_get(doc, "network-interfaces"), why, why_len);
	if (!ret && (v = json_object_get(doc, "boot-source")) && json_is_object(v))
		ret = absolute_path(v, "kernel_image_path", why, why_len)
			  ?: absolute_path(v, "initrd_path", why, why_len);
	if (!ret && json_is_array(v = json_object_get(doc, "drives"))) {
		json_t *d;

		json_array_foreach(v, i, d) if (!ret && json_is_object(d)) ret =
		    absolute_path(d, "path_on_host", why, why_len);
	}
	text = ret ? NULL : json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (ret)
		return ret;
	if (!text)
		return -ENOMEM;
	/* ember's own parser, as `ember --config-file` will run it. */
	vm_config_init(&cfg);
	ret = config_parse(text, strlen(text), &cfg, why, why_len);
	vm_config_free(&cfg);
	if (ret) {
		free(text);
		return ret;
	}
	*ember_json = text;
	return 0;
}

/* Read FILE, or standard input for "-", at most CTL_CONFIG_MAX bytes. */
static int read_config(struct ctl *c, const char *file, char **text, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf = NULL, *nb;
	ssize_t r;
	int ret;

	if (strcmp(file, "-")) {
		ret = ctl_read_small(file, CTL_CONFIG_MAX, text, len);
		if (ret)
			return ctl_fail(c, ret, "%s: %s", file,
					ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		return 0;
	}
	for (;;) {
		if (!buf || n + 1 >= cap) {
			cap = buf ? cap * 2 : cap;
			if (cap > CTL_CONFIG_MAX + 1) {
				free(buf);
				return ctl_fail(c, -EFBIG, "standard input: larger than 1 MiB");
			}
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return ctl_fail(c, -ENOMEM, "out of memory");
			}
			buf = nb;
		}
		r = read(0, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return ctl_fail(c, -errno, "standard input: %s", strerror(errno));
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static int write_file_in(struct ctl *c, const char *dir, const char *leaf, const char *text)
{
	char p[PATH_MAX];
	int ret;

	if (snprintf(p, sizeof(p), "%s/%s", dir, leaf) >= (int)sizeof(p))
		return ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
	ret = ctl_write_atomic(p, text, strlen(text));
	if (ret)
		return ctl_fail(c, ret, "cannot write %s: %s", p, strerror(-ret));
	return 0;
}

/*
 * The hidden folders of configs that died half-way: stale, since every `vm config` holds
 * the exclusive lock from its mkdir to its rename.
 */
static void remove_stale_new(struct ctl *c)
{
	char vms[PATH_MAX], p[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	if (ctl_path(c, vms, sizeof(vms), "vms") || !(d = opendir(vms)))
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".new-", 5) &&
		    snprintf(p, sizeof(p), "%s/%s", vms, e->d_name) < (int)sizeof(p))
			ctl_rmtree(p);
	closedir(d);
}

int cmd_vm_config(struct ctl *c, const char *file)
{
	const char *shown = strcmp(file, "-") ? file : "standard input";
	char *text = NULL, *ember_json = NULL, *given = NULL;
	char why[CTL_WHY] = "", tmp[PATH_MAX], dir[PATH_MAX];
	struct ctl_vm_block blk;
	json_error_t jerr;
	json_t *root;
	size_t len = 0;
	int ret;

	ret = read_config(c, file, &text, &len);
	if (ret)
		return ret;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		free(text);
		return ctl_fail(c, -EINVAL, "%s: line %d, column %d: %s", shown, jerr.line,
				jerr.column, jerr.text);
	}
	ret = ctl_config_check(c, root, &blk, &ember_json, why, sizeof(why));
	json_decref(root);
	if (ret) {
		free(text);
		return ctl_fail(c, ret, "%s: %s", shown, why[0] ? why : strerror(-ret));
	}
	/* Kept as given: the user's own text, comments of layout and all. */
	given = text;
	if (ctl_path(c, dir, sizeof(dir), "vms/%s" SOCK_LEAF, blk.name) ||
	    strlen(dir) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		ret = ctl_fail(c, -ENAMETOOLONG,
			       "%s: the state directory's path is too long for "
			       "the VM's sockets (at most %zu bytes for %s)",
			       shown, sizeof(((struct sockaddr_un *)0)->sun_path) - 1, dir);
		goto out;
	}
	ret = ctl_lock(c, true);
	if (ret)
		goto out;
	/* Written in a hidden folder, which one rename makes the VM: all of it or nothing. */
	if (ctl_path(c, dir, sizeof(dir), "vms/%s", blk.name) ||
	    ctl_path(c, tmp, sizeof(tmp), "vms/.new-%s-%d", blk.name, (int)getpid())) {
		ret = ctl_fail(c, -ENAMETOOLONG, "state directory path too long");
		goto out;
	}
	if (!access(dir, F_OK)) {
		ret = ctl_fail(c, -EEXIST, "a VM named %s already exists", blk.name);
		goto out;
	}
	remove_stale_new(c);
	if (mkdir(tmp, 0755)) {
		ret = ctl_fail(c, -errno, "cannot make %s: %s", tmp, strerror(errno));
		goto out;
	}
	ret = write_file_in(c, tmp, "config.json", given)
		  ?: write_file_in(c, tmp, "ember.json", ember_json);
	if (!ret && rename(tmp, dir)) {
		ret = errno == EEXIST || errno == ENOTEMPTY
			  ? ctl_fail(c, -EEXIST, "a VM named %s already exists", blk.name)
			  : ctl_fail(c, -errno, "cannot make %s: %s", dir, strerror(errno));
	}
	if (ret)
		ctl_rmtree(tmp);
	else
		printf("%s\n", blk.name);
out:
	ctl_unlock(c);
	free(given);
	free(ember_json);
	return ret;
}
