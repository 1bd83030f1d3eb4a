/*
 * "jail": true: ember is started through ember-jailer, which makes
 * DIR/jail/<exec>/<NAME>/root its root. What the VM needs from the host (kernel, initrd,
 * drives, switch sockets) is hard-linked in there and ember.json rewritten to name the
 * links; the API and console sockets ember makes in the jail are reached from the VM's
 * folder through symlinks. The jail is made afresh before every start (the jailer makes
 * its device nodes anew and refuses old ones). The jailed ember runs as the owner of the
 * state directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "../util/util.h"

static int mkdir_p(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

/* Link (src) into the jail as /(leaf) and make (obj)'s (key) name it. */
static int jail_link(struct ctl_jail *j, json_t *obj, const char *key, const char *leaf, char *why,
		     size_t why_len)
{
	json_t *m = json_object_get(obj, key);
	char inside[80];

	if (!json_is_string(m))
		return 0;
	if (j->nr_links == CTL_JAIL_LINKS_MAX) {
		snprintf(why, why_len, "jail: too many files to link");
		return -E2BIG;
	}
	snprintf(inside, sizeof(inside), "/%s", leaf);
	snprintf(j->links[j->nr_links].src, PATH_MAX, "%s", json_string_value(m));
	snprintf(j->links[j->nr_links].leaf, sizeof(j->links[0].leaf), "%s", leaf);
	j->nr_links++;
	return json_object_set_new(obj, key, json_string(inside)) ? -ENOMEM : 0;
}

int ctl_jail_plan(struct ctl *c, const char *name, const char *exec_name, struct ctl_jail *j,
		  char *why, size_t why_len)
{
	char path[PATH_MAX], *text = NULL;
	json_t *doc, *v, *e;
	json_error_t jerr;
	struct stat st;
	size_t len, i;
	int ret;

	if (ctl_path(c, j->base, sizeof(j->base), "jail") ||
	    ctl_path(c, j->dir, sizeof(j->dir), "jail/%s/%s", exec_name, name) ||
	    ctl_path(c, j->root, sizeof(j->root), "jail/%s/%s/root", exec_name, name) ||
	    ctl_path(c, path, sizeof(path), "vms/%s/ember.json", name)) {
		snprintf(why, why_len, "state directory path too long");
		return -ENAMETOOLONG;
	}
	if (stat(c->state_dir, &st)) {
		snprintf(why, why_len, "%s: %s", c->state_dir, strerror(errno));
		return -errno;
	}
	j->uid = st.st_uid;
	j->gid = st.st_gid;
	ret = ctl_read_small(path, CTL_CONFIG_MAX, &text, &len);
	if (ret) {
		snprintf(why, why_len, "ember.json: %s", strerror(-ret));
		return ret;
	}
	doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!doc) {
		snprintf(why, why_len, "ember.json: %s", jerr.text);
		return -EINVAL;
	}
	j->nr_links = 0;
	v = json_object_get(doc, "boot-source");
	ret = jail_link(j, v, "kernel_image_path", "kernel", why, why_len)
		  ?: jail_link(j, v, "initrd_path", "initrd", why, why_len);
	json_array_foreach(json_object_get(doc, "drives"), i, e)
	{
		char leaf[32];

		snprintf(leaf, sizeof(leaf), "drive%zu", i);
		if (!ret)
			ret = jail_link(j, e, "path_on_host", leaf, why, why_len);
	}
	json_array_foreach(json_object_get(doc, "network-interfaces"), i, e)
	{
		char leaf[32];

		snprintf(leaf, sizeof(leaf), "switch%zu.sock", i);
		if (!ret)
			ret = jail_link(j, e, "switch_socket", leaf, why, why_len);
	}
	text = ret ? NULL : json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (ret)
		return ret;
	if (!text)
		return -ENOMEM;
	snprintf(j->ember_json, sizeof(j->ember_json), "%s", text);
	ret = strlen(text) >= sizeof(j->ember_json) ? -E2BIG : 0;
	free(text);
	if (ret)
		snprintf(why, why_len, "jail: ember.json too large");
	return ret;
}

int ctl_jail_reset(const struct ctl_jail *j, char *why, size_t why_len)
{
	char path[PATH_MAX + 80];
	unsigned int i;
	int ret, fd;

	ret = ctl_rmtree(j->dir);
	if (!ret) {
		snprintf(path, sizeof(path), "%s", j->root);
		ret = mkdir_p(path);
	}
	if (ret) {
		snprintf(why, why_len, "jail %s: %s", j->root, strerror(-ret));
		return ret;
	}
	for (i = 0; i < j->nr_links; i++) {
		snprintf(path, sizeof(path), "%s/%s", j->root, j->links[i].leaf);
		if (link(j->links[i].src, path)) {
			ret = -errno;
			snprintf(why, why_len, "jail: cannot link %s into %s: %s%s",
				 j->links[i].src, j->root, strerror(errno),
				 errno == EXDEV ? " (a jailed VM's files must be on the state "
						  "directory's filesystem)"
						: "");
			return ret;
		}
	}
	snprintf(path, sizeof(path), "%s/ember.json", j->root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ret = fd < 0 ? -errno : write_all(fd, j->ember_json, strlen(j->ember_json));
	if (!ret && fchown(fd, j->uid, j->gid))
		ret = -errno;
	if (ret)
		snprintf(why, why_len, "jail: cannot write %s: %s", path, strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}
