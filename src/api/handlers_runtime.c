/*
 * Handlers for actions and for what may change while the VM runs: pause, drives, rate
 * limiters, the balloon, and the MMDS data store. They run on the device thread, so they
 * may call into the device models directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "handlers.h"
#include "metrics.h"
#include "../util/util.h"
#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"

static bool started(const struct api_call *c)
{
	return c->in->state != INSTANCE_NOT_STARTED;
}

int h_put_action(struct api_call *c)
{
	static const char *const known[] = {"action_type", NULL};
	static const char *const actions[] = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					      NULL};
	unsigned int action = ~0u;
	int ret;

	if (cf_object(&c->cf, c->body, "action") || cf_keys(&c->cf, c->body, "action", known) ||
	    cf_member(&c->cf, c->body, "action", "action_type", true, &(json_t *){NULL}) ||
	    cf_enum(&c->cf, c->body, "action", "action_type", actions, &action))
		return -EINVAL;
	switch (action) {
	case 0:
		if (started(c))
			return api_fail(c, MSG_AFTER_START);
		return instance_start(c->in, c->fault, sizeof(c->fault));
	case 1:
		if (!started(c))
			return api_fail(c, MSG_BEFORE_START);
		ret = machine_ctrl_alt_del(&c->in->machine);
		if (ret)
			return api_fail(c, "SendCtrlAltDel: %s", ret == -EOPNOTSUPP
				? "this machine has no i8042 keyboard controller"
				: "the keyboard buffer is full");
		return 0;
	default:
		if (!started(c))
			return api_fail(c, MSG_BEFORE_START);
		if (!c->in->cfg.metrics.set)
			return api_fail(c, "FlushMetrics: the metrics system is not initialized "
				       "(PUT /metrics first).");
		ret = metrics_flush(c->in);
		if (ret)
			return api_fail(c, "FlushMetrics: cannot write the metrics: %s",
					strerror(-ret));
		return 0;
	}
}

int h_patch_vm(struct api_call *c)
{
	static const char *const known[] = {"state", NULL};
	static const char *const states[] = {"Paused", "Resumed", NULL};
	unsigned int state = ~0u;

	if (cf_object(&c->cf, c->body, "vm") || cf_keys(&c->cf, c->body, "vm", known) ||
	    cf_member(&c->cf, c->body, "vm", "state", true, &(json_t *){NULL}) ||
	    cf_enum(&c->cf, c->body, "vm", "state", states, &state) || api_ready(c))
		return -EINVAL;
	if (state == 0)
		return instance_pause(c->in, c->fault, sizeof(c->fault));
	return instance_resume(c->in, c->fault, sizeof(c->fault));
}

int h_patch_drive(struct api_call *c)
{
	static const char *const known[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	struct throttle_config limit;
	const char *id = NULL, *path = NULL;
	struct disk_config *d;
	json_t *lim;
	int i, ret;

	if (cf_object(&c->cf, c->body, "drive") || cf_keys(&c->cf, c->body, "drive", known) ||
	    cf_str(&c->cf, c->body, "drive", "drive_id", true, &id) ||
	    cf_str(&c->cf, c->body, "drive", "path_on_host", false, &path) ||
	    cf_member(&c->cf, c->body, "drive", "rate_limiter", false, &lim) ||
	    cf_limiter(&c->cf, c->body, "drive", "rate_limiter", &(struct throttle_config){0}) ||
	    api_ready(c))
		return -EINVAL;
	if (api_check_id(c, id))
		return -EINVAL;
	i = vm_config_find_drive(&c->in->cfg, id);
	if (i < 0)
		return api_fail(c, "drive '%s': no such drive", id);
	d = &c->in->cfg.disks[i];
	/* A bucket the body leaves out keeps its setting, as in Firecracker. */
	limit = d->limit;
	if (cf_limiter(&c->cf, c->body, "drive", "rate_limiter", &limit))
		return -EINVAL;
	if (path && (!*path || strlen(path) >= sizeof(d->path)))
		return api_fail(c, "drive.path_on_host: must be a path of 1 to %zu bytes",
				sizeof(d->path) - 1);
	/* The disk works on the configuration itself: it records what it changed there. */
	ret = virtio_blk_update(machine_disk(&c->in->machine, id), path, lim ? &limit : NULL);
	if (ret)
		return api_fail(c, "drive '%s': cannot update: %s", id,
				path ? strerror(-ret) : "bad rate limiter");
	return 0;
}

int h_patch_net(struct api_call *c)
{
	static const char *const known[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter",
					    NULL};
	struct throttle_config rx, tx;
	const char *w = "network-interface", *id = NULL;
	json_t *has_rx, *has_tx;
	int i;

	if (cf_object(&c->cf, c->body, w) || cf_keys(&c->cf, c->body, w, known) ||
	    cf_str(&c->cf, c->body, w, "iface_id", true, &id) ||
	    cf_member(&c->cf, c->body, w, "rx_rate_limiter", false, &has_rx) ||
	    cf_member(&c->cf, c->body, w, "tx_rate_limiter", false, &has_tx) ||
	    cf_limiter(&c->cf, c->body, w, "rx_rate_limiter", &(struct throttle_config){0}) ||
	    cf_limiter(&c->cf, c->body, w, "tx_rate_limiter", &(struct throttle_config){0}) ||
	    api_ready(c))
		return -EINVAL;
	if (api_check_id(c, id))
		return -EINVAL;
	i = vm_config_find_net(&c->in->cfg, id);
	if (i < 0)
		return api_fail(c, "network interface '%s': no such interface", id);
	/* A bucket the body leaves out keeps its setting, as in Firecracker. */
	rx = c->in->cfg.nets[i].rx_limit;
	tx = c->in->cfg.nets[i].tx_limit;
	if (cf_limiter(&c->cf, c->body, w, "rx_rate_limiter", &rx) ||
	    cf_limiter(&c->cf, c->body, w, "tx_rate_limiter", &tx))
		return -EINVAL;
	/* The interface works on the configuration itself: it records the new limits there. */
	if (virtio_net_update_limits(machine_net(&c->in->machine, id), has_rx ? &rx : NULL,
				     has_tx ? &tx : NULL))
		return api_fail(c, "network interface '%s': cannot update the rate limiters", id);
	return 0;
}

static int need_balloon(struct api_call *c)
{
	if (!c->in->cfg.balloon)
		return api_fail(c, "Invalid request: the balloon device is not configured.");
	return 0;
}

int h_get_balloon(struct api_call *c)
{
	if (need_balloon(c))
		return -EINVAL;
	c->reply = cfg_balloon_json(&c->in->cfg.balloon_cfg);
	return 0;
}

int h_patch_balloon(struct api_call *c)
{
	uint64_t mib = 0;

	if (cfg_balloon_update(&c->cf, c->body, &mib) || api_ready(c) || need_balloon(c))
		return -EINVAL;
	if (mib > c->in->cfg.mem_mib)
		return api_fail(c, "balloon.amount_mib: %llu MiB is more than the guest's %llu MiB",
				(unsigned long long)mib, (unsigned long long)c->in->cfg.mem_mib);
	if (virtio_balloon_set_target(machine_balloon(&c->in->machine), mib))
		return api_fail(c, "balloon.amount_mib: cannot set %llu MiB", (unsigned long long)mib);
	return 0; /* the balloon records its new target in the configuration */
}

int h_get_balloon_stats(struct api_call *c)
{
	struct balloon_stats s;
	unsigned int i;

	if (need_balloon(c))
		return -EINVAL;
	if (!c->in->cfg.balloon_cfg.stats_period)
		return api_fail(c, "Statistics for the balloon device are not enabled.");
	if (!started(c))
		return api_fail(c, MSG_BEFORE_START);
	virtio_balloon_stats(machine_balloon(&c->in->machine), &s);
	c->reply = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)s.target_pages,
			     "actual_pages", (json_int_t)s.actual_pages, "target_mib",
			     (json_int_t)s.target_mib, "actual_mib", (json_int_t)s.actual_mib);
	for (i = 0; c->reply && i < ARRAY_SIZE(s.value); i++)
		if (s.valid & (1u << i))
			json_object_set_new(c->reply, balloon_stat_name(i),
					    json_integer((json_int_t)s.value[i]));
	return 0;
}

int h_patch_balloon_stats(struct api_call *c)
{
	unsigned int period = 0;
	int ret;

	if (cfg_balloon_stats_update(&c->cf, c->body, &period) || api_ready(c) ||
	    need_balloon(c))
		return -EINVAL;
	ret = virtio_balloon_set_stats_period(machine_balloon(&c->in->machine), period);
	if (ret)
		return api_fail(c, "balloon statistics cannot be turned on or off after boot.");
	return 0; /* the balloon records its new period in the configuration */
}

int h_get_mmds(struct api_call *c)
{
	c->reply = c->in->mmds.store ? json_incref(c->in->mmds.store) : json_object();
	return 0;
}

static int mmds_replace(struct api_call *c, json_t *store)
{
	size_t len;

	if (mmds_set_store(&c->in->mmds, store, &len))
		return api_fail(c, "The MMDS data store would take %zu bytes, over its limit of "
			       "%zu.", len, c->in->mmds.limit);
	return 0;
}

int h_put_mmds(struct api_call *c)
{
	if (!json_is_object(c->body))
		return api_fail(c, "mmds: the data store must be a JSON object.");
	return mmds_replace(c, json_incref(c->body));
}

/* RFC 7396 JSON merge patch of (patch) onto (target), which it consumes; a new reference. */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	const char *key;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v))
			json_object_del(target, key);
		else
			json_object_set_new(target, key,
					    merge_patch(json_incref(json_object_get(target, key)), v));
	}
	return target;
}

int h_patch_mmds(struct api_call *c)
{
	json_t *copy;

	if (!json_is_object(c->body))
		return api_fail(c, "mmds: the patch must be a JSON object.");
	if (!c->in->mmds.store)
		return api_fail(c, "The MMDS data store is not initialized.");
	copy = json_deep_copy(c->in->mmds.store);
	return mmds_replace(c, merge_patch(copy, c->body));
}
