/* PUT /snapshot/create and PUT /snapshot/load, with Firecracker's bodies and messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"

int h_put_snapshot_create(struct api_call *c)
{
	static const char *const known[] = {"snapshot_path", "mem_file_path", "snapshot_type",
					    "version", NULL};
	static const char *const types[] = {"Full", "Diff", NULL};
	const char *w = "snapshot", *state = NULL, *mem = NULL;
	unsigned int type = 0;

	if (cf_object(&c->cf, c->body, w) || cf_keys(&c->cf, c->body, w, known) ||
	    cf_str(&c->cf, c->body, w, "snapshot_path", true, &state) ||
	    cf_str(&c->cf, c->body, w, "mem_file_path", true, &mem) ||
	    cf_enum(&c->cf, c->body, w, "snapshot_type", types, &type) || api_ready(c))
		return -EINVAL;
	if (!*state || !*mem)
		return api_fail(c, "snapshot_path and mem_file_path must not be empty.");
	if (c->in->state != INSTANCE_PAUSED)
		return api_fail(c, "Failed to create snapshot: the microVM must be paused first "
			       "(save/restore unavailable while running).");
	if (type == SNAPSHOT_DIFF && !c->in->cfg.track_dirty_pages)
		return api_fail(c, "Diff snapshots are not allowed on uVMs with dirty page "
			       "tracking disabled.");
	return instance_snapshot(c->in, type, state, mem, c->fault, sizeof(c->fault));
}

/* "mem_backend": {"backend_type": "File" | "Uffd", "backend_path": ...} into (r). */
static int mem_backend(struct api_call *c, json_t *b, struct instance_restore *r)
{
	static const char *const known[] = {"backend_type", "backend_path", NULL};
	static const char *const types[] = {"File", "Uffd", NULL};
	const char *w = "mem_backend", *path = NULL;
	unsigned int type = ~0u;

	if (cf_object(&c->cf, b, w) || cf_keys(&c->cf, b, w, known) ||
	    cf_member(&c->cf, b, w, "backend_type", true, &(json_t *){NULL}) ||
	    cf_enum(&c->cf, b, w, "backend_type", types, &type) ||
	    cf_str(&c->cf, b, w, "backend_path", true, &path))
		return -EINVAL;
	if (type == 0)
		r->mem_path = path;
	else
		r->uffd_path = path;
	return 0;
}

static int net_overrides(struct api_call *c, json_t *list, struct instance_restore *r)
{
	static const char *const known[] = {"iface_id", "host_dev_name", NULL};
	const char *w = "network_overrides[]";
	size_t i;
	json_t *o;

	if (!json_is_array(list))
		return api_fail(c, "network_overrides: must be an array.");
	if (json_array_size(list) > VM_MAX_NETS)
		return api_fail(c, "network_overrides: at most %d entries.", VM_MAX_NETS);
	json_array_foreach(list, i, o)
	{
		if (cf_object(&c->cf, o, w) || cf_keys(&c->cf, o, w, known) ||
		    cf_str(&c->cf, o, w, "iface_id", true, &r->net_overrides[i].iface_id) ||
		    cf_str(&c->cf, o, w, "host_dev_name", true, &r->net_overrides[i].tap))
			return -EINVAL;
	}
	r->nr_net_overrides = json_array_size(list);
	return 0;
}

int h_put_snapshot_load(struct api_call *c)
{
	static const char *const known[] = {
	    "snapshot_path",  "mem_file_path", "mem_backend",	 "enable_diff_snapshots",
	    "track_dirty_pages", "resume_vm", "network_overrides", "vsock_override",
	    "clock_realtime", "huge_pages",	 NULL};
	static const char *const vsock_known[] = {"uds_path", NULL};
	/* ember's guests have no huge pages: the snapshot's setting and "None" are the same. */
	static const char *const huge[] = {"Snapshot", "None", NULL};
	const char *w = "snapshot-load", *mem_file = NULL;
	struct instance_restore r = {0};
	bool deprecated_diff = false, realtime = false;
	json_t *backend, *nets, *vsock;

	if (cf_object(&c->cf, c->body, w) || cf_keys(&c->cf, c->body, w, known) ||
	    cf_str(&c->cf, c->body, w, "snapshot_path", true, &r.state_path) ||
	    cf_str(&c->cf, c->body, w, "mem_file_path", false, &mem_file) ||
	    cf_member(&c->cf, c->body, w, "mem_backend", false, &backend) ||
	    cf_bool(&c->cf, c->body, w, "enable_diff_snapshots", false, &deprecated_diff) ||
	    cf_bool(&c->cf, c->body, w, "track_dirty_pages", false, &r.track_dirty_pages) ||
	    cf_bool(&c->cf, c->body, w, "resume_vm", false, &r.resume) ||
	    cf_member(&c->cf, c->body, w, "network_overrides", false, &nets) ||
	    cf_member(&c->cf, c->body, w, "vsock_override", false, &vsock) ||
	    cf_bool(&c->cf, c->body, w, "clock_realtime", false, &realtime) ||
	    cf_enum(&c->cf, c->body, w, "huge_pages", huge, &(unsigned int){0}))
		return -EINVAL;
	if (backend && mem_backend(c, backend, &r))
		return -EINVAL;
	if (!!backend == !!mem_file)
		return api_fail(c, "Exactly one of mem_file_path and mem_backend must be given.");
	if (mem_file)
		r.mem_path = mem_file;
	if (nets && net_overrides(c, nets, &r))
		return -EINVAL;
	if (vsock && (cf_object(&c->cf, vsock, "vsock_override") ||
		      cf_keys(&c->cf, vsock, "vsock_override", vsock_known) ||
		      cf_str(&c->cf, vsock, "vsock_override", "uds_path", true, &r.vsock_uds)))
		return -EINVAL;
	if (realtime)
		return api_fail(c, "snapshot-load.clock_realtime: not supported by ember yet.");
	r.track_dirty_pages = r.track_dirty_pages || deprecated_diff;
	if (api_ready(c))
		return -EINVAL;
	if (c->in->configured)
		return api_fail(c, "Loading a microVM snapshot not allowed after configuring "
			       "boot-specific resources.");
	return instance_restore(c->in, &r, c->fault, sizeof(c->fault));
}
