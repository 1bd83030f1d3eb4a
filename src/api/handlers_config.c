/*
 * Handlers that read or change the configuration before InstanceStart. A body is parsed
 * whole before anything changes, so a refused request leaves the configuration as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers.h"

static const char *const state_names[] = {
	[INSTANCE_NOT_STARTED] = "Not started",
	[INSTANCE_RUNNING] = "Running",
	[INSTANCE_PAUSED] = "Paused",
};

int h_get_instance(struct api_call *c)
{
	c->reply = json_pack("{s:s, s:s, s:s, s:s}", "id", c->in->id, "state",
			     state_names[c->in->state], "vmm_version", EMBER_VERSION, "app_name",
			     "ember");
	return 0;
}

int h_get_version(struct api_call *c)
{
	c->reply = json_pack("{s:s}", "firecracker_version", EMBER_VERSION);
	return 0;
}

int h_get_vm_config(struct api_call *c)
{
	c->reply = cfg_to_json(&c->in->cfg);
	/* As Firecracker's: a restored VM was not booted, and has no boot source to show. */
	if (c->reply && c->in->restored)
		json_object_del(c->reply, "boot-source");
	return 0;
}

int h_get_machine(struct api_call *c)
{
	c->reply = cfg_machine_json(&c->in->cfg);
	return 0;
}

static int machine(struct api_call *c, bool partial)
{
	struct vm_config t = c->in->cfg; /* a shallow copy: only plain fields change */

	if (cfg_machine(&c->cf, c->body, partial, &t) || api_ready(c))
		return -EINVAL;
	c->in->cfg.vcpus = t.vcpus;
	c->in->cfg.mem_mib = t.mem_mib;
	c->in->cfg.track_dirty_pages = t.track_dirty_pages;
	c->in->cfg.acpi = t.acpi;
	return 0;
}

int h_put_machine(struct api_call *c)
{
	return machine(c, false);
}

int h_patch_machine(struct api_call *c)
{
	return machine(c, true);
}

/* Firecracker opens files when they are configured: a bad path fails here, not at boot. */
static int open_file(struct api_call *c, const char *what, const char *path, int flags, int *fd)
{
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return api_fail(c, "%s: cannot open '%s': %s", what, path, strerror(errno));
	return 0;
}

static int check_file(struct api_call *c, const char *what, const char *path, int flags)
{
	int fd;

	if (open_file(c, what, path, flags, &fd))
		return -EINVAL;
	close(fd);
	return 0;
}

int h_put_boot_source(struct api_call *c)
{
	struct vm_config tmp, *cfg = &c->in->cfg;
	int err;

	/* Parsed into a scratch config, so a refused body keeps the old boot source. */
	vm_config_init(&tmp);
	err = cfg_boot_source(&c->cf, c->body, &tmp) ?: api_ready(c) ?:
	      open_file(c, "boot-source.kernel_image_path", tmp.kernel_path, O_RDONLY,
			&tmp.kernel_fd) ?:
	      (tmp.initrd_path ? open_file(c, "boot-source.initrd_path", tmp.initrd_path,
					   O_RDONLY, &tmp.initrd_fd)
			       : 0);
	if (!err) {
		/* The new strings and files take the old ones' place; the old are freed. */
		SWAP(tmp.kernel_path, cfg->kernel_path);
		SWAP(tmp.initrd_path, cfg->initrd_path);
		SWAP(tmp.boot_args, cfg->boot_args);
		SWAP(tmp.kernel_fd, cfg->kernel_fd);
		SWAP(tmp.initrd_fd, cfg->initrd_fd);
	}
	vm_config_free(&tmp);
	return err;
}

int api_check_id(struct api_call *c, const char *body_id)
{
	if (strcmp(body_id, c->id))
		return api_fail(c, "The id from the path does not match the id from the body!");
	return 0;
}

int h_put_drive(struct api_call *c)
{
	struct disk_config d;
	char why[256];

	if (cfg_drive(&c->cf, c->body, "drive", &d) || api_check_id(c, d.id) || api_ready(c) ||
	    check_file(c, "drive.path_on_host", d.path, d.ro ? O_RDONLY : O_RDWR))
		return -EINVAL;
	if (vm_config_put_drive(&c->in->cfg, &d, why, sizeof(why)))
		return api_fail(c, "%s", why);
	return 0;
}

int h_put_net(struct api_call *c)
{
	struct net_config n;
	char why[256];

	if (cfg_net(&c->cf, c->body, "network-interface", &n) || api_check_id(c, n.id) ||
	    api_ready(c))
		return -EINVAL;
	if (vm_config_put_net(&c->in->cfg, &n, why, sizeof(why)))
		return api_fail(c, "%s", why);
	return 0;
}

int h_put_vsock(struct api_call *c)
{
	struct vsock_config v;

	if (cfg_vsock(&c->cf, c->body, &v) || api_ready(c))
		return -EINVAL;
	c->in->cfg.vsock_cfg = v;
	c->in->cfg.vsock = true;
	return 0;
}

int h_put_entropy(struct api_call *c)
{
	struct throttle_config t;

	if (cfg_entropy(&c->cf, c->body, &t) || api_ready(c))
		return -EINVAL;
	c->in->cfg.rng_limit = t;
	c->in->cfg.rng = true;
	return 0;
}

int h_put_balloon(struct api_call *c)
{
	struct balloon_config b;

	if (cfg_balloon(&c->cf, c->body, &b) || api_ready(c))
		return -EINVAL;
	c->in->cfg.balloon_cfg = b;
	c->in->cfg.balloon = true;
	return 0;
}

int h_put_logger(struct api_call *c)
{
	struct logger_config l;
	int err;

	if (cfg_logger(&c->cf, c->body, &l) || api_ready(c))
		return -EINVAL;
	err = log_open(&c->in->log, l.path, l.level, l.show_level, l.show_origin, c->in->id);
	if (err)
		return api_fail(c, "logger.log_path: cannot open '%s': %s", l.path,
				strerror(-err));
	c->in->cfg.logger = l;
	return 0;
}

int h_put_metrics(struct api_call *c)
{
	struct metrics_config m = {0};
	int err;

	if (cfg_metrics(&c->cf, c->body, &m) || api_ready(c))
		goto fail;
	if (c->in->cfg.metrics.set) {
		api_fail(c, "Reinitialization of metrics not allowed.");
		goto fail;
	}
	c->in->cfg.metrics = m;
	err = metrics_open(c->in);
	if (err) {
		free(c->in->cfg.metrics.properties);
		memset(&c->in->cfg.metrics, 0, sizeof(c->in->cfg.metrics));
		return api_fail(c, "metrics.metrics_path: cannot open '%s': %s", m.path,
				strerror(-err));
	}
	return 0;

fail:
	free(m.properties);
	return -EINVAL;
}

int h_put_mmds_config(struct api_call *c)
{
	struct mmds_config m;

	/* The interfaces must exist, but only a request the state allows gets that far. */
	if (cfg_mmds(&c->cf, c->body, NULL, &m) || api_ready(c) ||
	    cfg_mmds(&c->cf, c->body, &c->in->cfg, &m))
		return -EINVAL;
	c->in->cfg.mmds = m;
	return 0;
}

int h_unsupported(struct api_call *c)
{
	return api_fail(c, "not supported by ember");
}
