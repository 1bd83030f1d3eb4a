/*
 * struct vm_config written back as Firecracker's FullVmConfiguration (GET /vm/config and
 * the API's GET of single sections). A section that was never configured is left out
 * rather than written as null, so every object still matches the spec's schema.
 */
#include <stdio.h>

#include "sections.h"

static json_t *bucket_json(const struct token_bucket_cfg *b)
{
	json_t *o = json_pack("{s:I, s:I}", "size", (json_int_t)b->size, "refill_time",
			      (json_int_t)b->refill_time_ms);

	if (o && b->one_time_burst)
		json_object_set_new(o, "one_time_burst", json_integer(b->one_time_burst));
	return o;
}

static bool bucket_set(const struct token_bucket_cfg *b)
{
	return b->size || b->refill_time_ms || b->one_time_burst;
}

/* Add (t) as member (key) of (obj) when it limits anything. */
static void limiter_set(json_t *obj, const char *key, const struct throttle_config *t)
{
	json_t *o;

	if (!obj || (!bucket_set(&t->bandwidth) && !bucket_set(&t->ops)))
		return;
	o = json_object();
	if (bucket_set(&t->bandwidth))
		json_object_set_new(o, "bandwidth", bucket_json(&t->bandwidth));
	if (bucket_set(&t->ops))
		json_object_set_new(o, "ops", bucket_json(&t->ops));
	json_object_set_new(obj, key, o);
}

json_t *cfg_machine_json(const struct vm_config *cfg)
{
	json_t *o = json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", cfg->vcpus, "mem_size_mib",
			      (json_int_t)cfg->mem_mib, "smt", 0, "track_dirty_pages",
			      cfg->track_dirty_pages, "huge_pages", "None");

	/* ember's own field, shown only when it is not the default: Firecracker's view stays. */
	if (o && !cfg->acpi)
		json_object_set_new(o, "acpi", json_false());
	return o;
}

json_t *cfg_balloon_json(const struct balloon_config *b)
{
	return json_pack("{s:I, s:b, s:i, s:b, s:b}", "amount_mib", (json_int_t)b->target_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 b->stats_period, "free_page_hinting", 0, "free_page_reporting", 0);
}

static json_t *drive_json(const struct disk_config *d)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s}", "drive_id", d->id, "path_on_host",
			      d->path, "is_root_device", d->root, "is_read_only", d->ro,
			      "cache_type", d->cache == BLK_CACHE_WRITEBACK ? "Writeback" : "Unsafe",
			      "io_engine", "Async");

	limiter_set(o, "rate_limiter", &d->limit);
	return o;
}

static json_t *net_json(const struct net_config *n)
{
	json_t *o = json_pack("{s:s, s:s}", "iface_id", n->id,
			      *n->switch_path ? "switch_socket" : "host_dev_name",
			      *n->switch_path ? n->switch_path : n->tap);
	char mac[18];

	if (o && n->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_object_set_new(o, "guest_mac", json_string(mac));
	}
	limiter_set(o, "rx_rate_limiter", &n->rx_limit);
	limiter_set(o, "tx_rate_limiter", &n->tx_limit);
	return o;
}

static json_t *logger_json(const struct logger_config *l)
{
	static const char *const names[] = {
		[LOG_ERROR] = "Error", [LOG_WARN] = "Warning", [LOG_INFO] = "Info",
		[LOG_DEBUG] = "Debug"};
	json_t *o = json_pack("{s:s, s:b, s:b}", "level", names[l->level], "show_level",
			      l->show_level, "show_log_origin", l->show_origin);

	if (o && l->path[0])
		json_object_set_new(o, "log_path", json_string(l->path));
	return o;
}

static json_t *metrics_json(const struct metrics_config *m)
{
	json_t *o = json_pack("{s:s, s:b}", "metrics_path", m->path, "emit_id", m->emit_id);

	if (o && m->properties)
		json_object_set_new(o, "properties", json_loads(m->properties, 0, NULL));
	return o;
}

static json_t *mmds_json(const struct mmds_config *m)
{
	json_t *ifs = json_array();
	unsigned int i;

	for (i = 0; ifs && i < m->nr_ifaces; i++)
		json_array_append_new(ifs, json_string(m->ifaces[i]));
	return json_pack("{s:s, s:o, s:s, s:b}", "version", m->version == 2 ? "V2" : "V1",
			 "network_interfaces", ifs, "ipv4_address", m->ipv4, "imds_compat",
			 m->imds_compat);
}

json_t *cfg_to_json(const struct vm_config *cfg)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array(), *boot;
	unsigned int i;

	if (!root || !drives || !nets) {
		json_decref(root);
		json_decref(drives);
		json_decref(nets);
		return NULL;
	}
	if (cfg->kernel_path) {
		boot = json_pack("{s:s}", "kernel_image_path", cfg->kernel_path);
		if (boot && cfg->initrd_path)
			json_object_set_new(boot, "initrd_path", json_string(cfg->initrd_path));
		if (boot && cfg->boot_args)
			json_object_set_new(boot, "boot_args", json_string(cfg->boot_args));
		json_object_set_new(root, "boot-source", boot);
	}
	json_object_set_new(root, "machine-config", cfg_machine_json(cfg));
	for (i = 0; i < cfg->nr_disks; i++)
		json_array_append_new(drives, drive_json(&cfg->disks[i]));
	json_object_set_new(root, "drives", drives);
	for (i = 0; i < cfg->nr_nets; i++)
		json_array_append_new(nets, net_json(&cfg->nets[i]));
	json_object_set_new(root, "network-interfaces", nets);
	if (cfg->balloon)
		json_object_set_new(root, "balloon", cfg_balloon_json(&cfg->balloon_cfg));
	if (cfg->vsock)
		json_object_set_new(root, "vsock",
				    json_pack("{s:I, s:s}", "guest_cid", (json_int_t)cfg->vsock_cfg.cid,
					      "uds_path", cfg->vsock_cfg.path));
	if (cfg->rng) {
		json_t *e = json_object();

		limiter_set(e, "rate_limiter", &cfg->rng_limit);
		json_object_set_new(root, "entropy", e);
	}
	if (cfg->logger.set)
		json_object_set_new(root, "logger", logger_json(&cfg->logger));
	if (cfg->metrics.set)
		json_object_set_new(root, "metrics", metrics_json(&cfg->metrics));
	if (cfg->mmds.set)
		json_object_set_new(root, "mmds-config", mmds_json(&cfg->mmds));
	return root;
}
