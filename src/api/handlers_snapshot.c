/* PUT /snapshot/create and PUT /snapshot/load, with Firecracker's bodies and messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"

int h_put_snapshot_create(struct api_call *c)
{
	static const char *const known[] = {"snapshot_path", "mem_file_path", "snapshot_type",
					    NULL};
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

int h_put_snapshot_load(struct api_call *c)
{
	struct restore_config r;

	if (cfg_snapshot_load(&c->cf, c->body, &r) || api_ready(c))
		return -EINVAL;
	if (c->in->configured)
		return api_fail(c, "Loading a microVM snapshot not allowed after configuring "
			       "boot-specific resources.");
	return instance_restore(c->in, &r, c->fault, sizeof(c->fault));
}
