/*
 * Firecracker's --config-file: a FullVmConfiguration JSON object mapped onto struct
 * vm_config. Anything ember would silently ignore is an error instead, so a config written
 * for Firecracker never boots a VM that differs from what it asks for.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config_file.h"
#include "sections.h"

static int cf_drives(struct cf *cf, json_t *arr, struct vm_config *cfg)
{
	struct disk_config d;
	char w[CF_WHERE], why[256];
	unsigned int i;
	json_t *v;
	int err;

	if (!json_is_array(arr))
		return cf_fail(cf, "drives: must be an array");
	json_array_foreach(arr, i, v)
	{
		snprintf(w, sizeof(w), "drives[%u]", i);
		err = cfg_drive(cf, v, w, &d);
		if (err)
			return err;
		if (vm_config_find_drive(cfg, d.id) >= 0)
			return cf_fail(cf, "%s.drive_id: '%s' is used twice", w, d.id);
		if (vm_config_put_drive(cfg, &d, why, sizeof(why)))
			return cf_fail(cf, "%s: %s", w, why);
	}
	return 0;
}

static int cf_nets(struct cf *cf, json_t *arr, struct vm_config *cfg)
{
	struct net_config n;
	char w[CF_WHERE], why[256];
	unsigned int i;
	json_t *v;
	int err;

	if (!json_is_array(arr))
		return cf_fail(cf, "network-interfaces: must be an array");
	json_array_foreach(arr, i, v)
	{
		snprintf(w, sizeof(w), "network-interfaces[%u]", i);
		err = cfg_net(cf, v, w, &n);
		if (err)
			return err;
		if (vm_config_find_net(cfg, n.id) >= 0)
			return cf_fail(cf, "%s.iface_id: '%s' is used twice", w, n.id);
		if (vm_config_put_net(cfg, &n, why, sizeof(why)))
			return cf_fail(cf, "%s: %s", w, why);
	}
	return 0;
}

/*
 * A snapshot to load instead of a VM to boot: the snapshot describes the VM, so only this
 * process's own logger and metrics may come with it, as in a fresh Firecracker.
 */
static int cf_restore_top(struct cf *cf, json_t *root, json_t *load, struct vm_config *cfg)
{
	const char *key;
	json_t *v;
	int err;

	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "snapshot-load") && strcmp(key, "logger") && strcmp(key, "metrics"))
			return cf_fail(cf, "%s: cannot be given with snapshot-load (the snapshot "
				       "holds the VM's configuration)", key);
	}
	err = cfg_snapshot_load(cf, load, &cfg->restore);
	if (!err && (v = json_object_get(root, "logger")))
		err = cfg_logger(cf, v, &cfg->logger);
	if (!err && (v = json_object_get(root, "metrics")))
		err = cfg_metrics(cf, v, &cfg->metrics);
	return err;
}

static int cf_top(struct cf *cf, json_t *root, struct vm_config *cfg)
{
	static const char *const unsupported[] = {"cpu-config", "pmem", "memory-hotplug", "serial",
						  NULL};
	static const char *const known[] = {"boot-source", "machine-config", "drives",
					    "network-interfaces", "vsock", "balloon", "entropy",
					    "logger", "metrics", "mmds-config", "snapshot-load",
					    NULL};
	const char *key;
	json_t *v;
	int err;

	if (!json_is_object(root))
		return cf_fail(cf, "the top level must be an object");
	json_object_foreach(root, key, v)
	{
		const char *const *u;

		for (u = unsupported; *u && strcmp(*u, key); u++)
			;
		if (*u)
			return cf_fail(cf, "%s: not supported by ember yet", key);
	}
	err = cf_keys(cf, root, "top level", known);
	if (err)
		return err;
	if ((v = json_object_get(root, "snapshot-load")))
		return cf_restore_top(cf, root, v, cfg);
	v = json_object_get(root, "boot-source");
	if (!v)
		return cf_fail(cf, "boot-source: required section missing");
	err = cfg_boot_source(cf, v, cfg);
	if (!err && (v = json_object_get(root, "machine-config")))
		err = cfg_machine(cf, v, false, cfg);
	if (!err && (v = json_object_get(root, "drives")))
		err = cf_drives(cf, v, cfg);
	if (!err && (v = json_object_get(root, "network-interfaces")))
		err = cf_nets(cf, v, cfg);
	if (!err && (v = json_object_get(root, "vsock")) && !(err = cfg_vsock(cf, v, &cfg->vsock_cfg)))
		cfg->vsock = true;
	if (!err && (v = json_object_get(root, "balloon")) &&
	    !(err = cfg_balloon(cf, v, &cfg->balloon_cfg)))
		cfg->balloon = true;
	if (!err && (v = json_object_get(root, "entropy")) && !(err = cfg_entropy(cf, v, &cfg->rng_limit)))
		cfg->rng = true;
	if (!err && (v = json_object_get(root, "logger")))
		err = cfg_logger(cf, v, &cfg->logger);
	if (!err && (v = json_object_get(root, "metrics")))
		err = cfg_metrics(cf, v, &cfg->metrics);
	if (!err && (v = json_object_get(root, "mmds-config")))
		err = cfg_mmds(cf, v, cfg, &cfg->mmds);
	return err;
}

/* Fill (cfg) from the document (root), or leave it as it was. */
static int config_apply(struct cf *cf, json_t *root, struct vm_config *cfg)
{
	struct vm_config out = *cfg;
	int ret;

	/* The strings of (cfg) stay its own until the whole file is known to be good. */
	out.kernel_path = out.initrd_path = out.boot_args = NULL;
	out.kernel_fd = out.initrd_fd = -1;
	out.metrics.properties = NULL;
	ret = cf_top(cf, root, &out);
	if (ret) {
		vm_config_free(&out);
		return ret;
	}
	vm_config_free(cfg);
	*cfg = out;
	return 0;
}

int config_file_load(const char *path, struct vm_config *cfg, char *err, size_t err_len)
{
	struct cf cf = {.err = err, .err_len = err_len};
	json_error_t jerr;
	json_t *root;
	int ret;

	/* Firecracker's serde rejects a repeated key; so does ember rather than pick one. */
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (jerr.line > 0)
			return cf_fail(&cf, "line %d, column %d: %s", jerr.line, jerr.column,
				       jerr.text);
		return cf_fail(&cf, "%s", jerr.text);
	}
	ret = config_apply(&cf, root, cfg);
	json_decref(root);
	return ret;
}

int config_parse(const char *text, size_t len, struct vm_config *cfg, char *err, size_t err_len)
{
	struct cf cf = {.err = err, .err_len = err_len};
	json_error_t jerr;
	json_t *root;
	int ret;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cf_fail(&cf, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
	ret = config_apply(&cf, root, cfg);
	json_decref(root);
	return ret;
}
