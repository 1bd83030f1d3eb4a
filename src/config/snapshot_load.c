/*
 * SnapshotLoadParams (PUT /snapshot/load, the config file's "snapshot-load") and
 * --restore, read into a struct restore_config.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sections.h"

/* A string member copied into (dst) of (size) bytes: required, 1 to size-1 bytes. */
static int copy_str(struct cf *cf, json_t *obj, const char *where, const char *key, char *dst,
		    size_t size)
{
	const char *s = NULL;
	int err = cf_str(cf, obj, where, key, true, &s);

	if (err)
		return err;
	if (!*s || strlen(s) >= size)
		return cf_fail(cf, "%s.%s: must be 1 to %zu bytes", where, key, size - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int mem_backend(struct cf *cf, json_t *b, struct restore_config *out)
{
	static const char *const known[] = {"backend_type", "backend_path", NULL};
	static const char *const types[] = {"File", "Uffd", NULL};
	const char *w = "mem_backend";
	unsigned int type = ~0u;

	return cf_object(cf, b, w) ?: cf_keys(cf, b, w, known) ?:
	       cf_member(cf, b, w, "backend_type", true, &(json_t *){NULL}) ?:
	       cf_enum(cf, b, w, "backend_type", types, &type) ?:
	       copy_str(cf, b, w, "backend_path", out->mem_path, sizeof(out->mem_path)) ?:
	       (out->uffd = type == 1, 0);
}

static int net_overrides(struct cf *cf, json_t *list, struct restore_config *out)
{
	static const char *const known[] = {"iface_id", "host_dev_name", NULL};
	const char *w = "network_overrides[]";
	size_t i;
	json_t *o;
	int err;

	if (!json_is_array(list))
		return cf_fail(cf, "network_overrides: must be an array");
	if (json_array_size(list) > VM_MAX_NETS)
		return cf_fail(cf, "network_overrides: at most %d entries", VM_MAX_NETS);
	json_array_foreach(list, i, o)
	{
		err = cf_object(cf, o, w) ?: cf_keys(cf, o, w, known) ?:
		      cf_id(cf, o, w, "iface_id", out->nets[i].iface_id) ?:
		      copy_str(cf, o, w, "host_dev_name", out->nets[i].tap, sizeof(out->nets[i].tap));
		if (err)
			return err;
	}
	out->nr_nets = json_array_size(list);
	return 0;
}

int cfg_snapshot_load(struct cf *cf, json_t *v, struct restore_config *out)
{
	static const char *const known[] = {
	    "snapshot_path",	 "mem_file_path", "mem_backend",     "enable_diff_snapshots",
	    "track_dirty_pages", "resume_vm",	  "network_overrides", "vsock_override",
	    "clock_realtime",	 "huge_pages",	  NULL};
	static const char *const vsock_known[] = {"uds_path", NULL};
	/* ember's guests have no huge pages: the snapshot's setting and "None" are the same. */
	static const char *const huge[] = {"Snapshot", "None", NULL};
	const char *w = "snapshot-load";
	struct restore_config r = {.set = true};
	json_t *file, *backend, *nets, *vsock;
	bool diff = false, realtime = false;
	int err;

	err = cf_object(cf, v, w) ?: cf_keys(cf, v, w, known) ?:
	      copy_str(cf, v, w, "snapshot_path", r.state_path, sizeof(r.state_path)) ?:
	      cf_member(cf, v, w, "mem_file_path", false, &file) ?:
	      cf_member(cf, v, w, "mem_backend", false, &backend) ?:
	      cf_bool(cf, v, w, "enable_diff_snapshots", false, &diff) ?:
	      cf_bool(cf, v, w, "track_dirty_pages", false, &r.track_dirty_pages) ?:
	      cf_bool(cf, v, w, "resume_vm", false, &r.resume) ?:
	      cf_member(cf, v, w, "network_overrides", false, &nets) ?:
	      cf_member(cf, v, w, "vsock_override", false, &vsock) ?:
	      cf_bool(cf, v, w, "clock_realtime", false, &realtime) ?:
	      cf_enum(cf, v, w, "huge_pages", huge, &(unsigned int){0});
	if (err)
		return err;
	if (!!file == !!backend)
		return cf_fail(cf, "Exactly one of mem_file_path and mem_backend must be given.");
	err = file ? copy_str(cf, v, w, "mem_file_path", r.mem_path, sizeof(r.mem_path))
		   : mem_backend(cf, backend, &r);
	if (!err && nets)
		err = net_overrides(cf, nets, &r);
	if (!err && vsock)
		err = cf_object(cf, vsock, "vsock_override") ?:
		      cf_keys(cf, vsock, "vsock_override", vsock_known) ?:
		      copy_str(cf, vsock, "vsock_override", "uds_path", r.vsock_uds,
			       sizeof(r.vsock_uds));
	if (err)
		return err;
	if (realtime)
		return cf_fail(cf, "%s.clock_realtime: not supported by ember yet", w);
	r.track_dirty_pages = r.track_dirty_pages || diff; /* the old name of the same */
	*out = r;
	return 0;
}

int restore_option_parse(const char *arg, struct restore_config *out)
{
	struct restore_config r = {.set = true, .resume = true};
	char buf[2 * PATH_MAX + 64], *save = NULL, *tok;
	unsigned int n = 0;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, arg, strlen(arg) + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		if (n == 0 || n == 1) {
			char *dst = n ? r.mem_path : r.state_path;

			if (strlen(tok) >= PATH_MAX)
				return -EINVAL;
			memcpy(dst, tok, strlen(tok) + 1);
		} else if (!strcmp(tok, "uffd")) {
			r.uffd = true;
		} else if (!strcmp(tok, "paused")) {
			r.resume = false;
		} else if (!strcmp(tok, "track_dirty_pages")) {
			r.track_dirty_pages = true;
		} else {
			return -EINVAL;
		}
	}
	if (n < 2)
		return -EINVAL;
	*out = r;
	return 0;
}
