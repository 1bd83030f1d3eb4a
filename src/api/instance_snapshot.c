/*
 * Snapshots as the instance sees them: create one of a Paused VM, or build the VM from one
 * in a fresh instance, which then stays exactly as it was if the load is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "../util/log.h"
#include "../util/util.h"

int instance_snapshot(struct instance *in, enum snapshot_type type, const char *state_path,
		      const char *mem_path, char *why, size_t why_len)
{
	char reason[400];
	uint64_t t0 = now_us();
	int ret;

	ret = machine_snapshot_create(&in->machine, type, state_path, mem_path, EMBER_VERSION,
				      reason, sizeof(reason));
	if (ret) {
		snprintf(why, why_len, "Failed to create snapshot: %s",
			 *reason ? reason : strerror(-ret));
		log_err(&in->log, "%s", why);
		return ret;
	}
	if (type == SNAPSHOT_FULL)
		in->metrics.full_create_snapshot_us = now_us() - t0;
	else
		in->metrics.diff_create_snapshot_us = now_us() - t0;
	log_info(&in->log, "%s snapshot written to '%s' and '%s' in %llu us",
		 type == SNAPSHOT_FULL ? "Full" : "Diff", state_path, mem_path,
		 (unsigned long long)(now_us() - t0));
	return 0;
}

/* The snapshot's configuration with the load request's changes, into (cfg). */
static int restore_config(struct instance *in, const struct machine_snapshot *s,
			  const struct restore_config *r, struct vm_config *cfg, char *why,
			  size_t why_len)
{
	unsigned int i;
	int n;

	vm_config_init(cfg);
	/* This process's, not the snapshot's: the console and how the vCPUs are scheduled. */
	cfg->console_in = in->cfg.console_in;
	cfg->console_out = in->cfg.console_out;
	cfg->console_listen = in->cfg.console_listen;
	cfg->console_pipe = in->cfg.console_pipe;
	cfg->realtime = in->cfg.realtime;
	if (machine_snapshot_config(s, cfg, why, why_len))
		return -EINVAL;
	/* The logger and the metrics are this process's, configured before the load. */
	free(cfg->metrics.properties);
	cfg->logger = in->cfg.logger;
	cfg->metrics = in->cfg.metrics;
	cfg->metrics.properties = NULL;
	cfg->track_dirty_pages = r->track_dirty_pages;
	for (i = 0; i < r->nr_nets; i++) {
		n = vm_config_find_net(cfg, r->nets[i].iface_id);
		if (n < 0) {
			snprintf(why, why_len, "network_overrides: the snapshot has no interface '%s'",
				 r->nets[i].iface_id);
			return -EINVAL;
		}
		/* An override names a TAP; a switch port reconnects to its switch's path. */
		if (*cfg->nets[n].switch_path) {
			snprintf(why, why_len, "network_overrides: interface '%s' is on a switch "
				 "(switch_socket), not a TAP (host_dev_name)", r->nets[i].iface_id);
			return -EINVAL;
		}
		memcpy(cfg->nets[n].tap, r->nets[i].tap, sizeof(cfg->nets[n].tap));
	}
	if (*r->vsock_uds) {
		if (!cfg->vsock) {
			snprintf(why, why_len, "vsock_override: the snapshot has no vsock device");
			return -EINVAL;
		}
		memcpy(cfg->vsock_cfg.path, r->vsock_uds, sizeof(cfg->vsock_cfg.path));
	}
	return 0;
}

/* The File backend's memory file: opened, and big enough for all of (cfg)'s RAM. */
static int open_mem_file(const char *path, const struct vm_config *cfg, char *why,
			 size_t why_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, why_len, "cannot open the memory file '%.256s': %s", path,
			 strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < cfg->mem_mib * MiB) {
		snprintf(why, why_len, "the memory file '%.256s' holds %llu bytes, the snapshot's "
			 "guest has %llu MiB", path, (unsigned long long)st.st_size,
			 (unsigned long long)cfg->mem_mib);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int instance_restore(struct instance *in, const struct restore_config *request, char *why,
		     size_t why_len)
{
	/* A copy: (request) may be the instance's own configuration, which is replaced here. */
	const struct restore_config req = *request, *r = &req;
	struct vm_restore from = { .mem_fd = -1, .uffd_socket = r->uffd ? r->mem_path : NULL };
	struct machine_snapshot s;
	struct vm_config cfg, old;
	char reason[400] = "";
	uint64_t t0 = now_us();
	int ret;

	ret = machine_snapshot_open(&s, r->state_path, reason, sizeof(reason));
	if (!ret)
		ret = restore_config(in, &s, r, &cfg, reason, sizeof(reason));
	else
		vm_config_init(&cfg);
	if (!ret && !r->uffd) {
		from.mem_fd = open_mem_file(r->mem_path, &cfg, reason, sizeof(reason));
		ret = from.mem_fd < 0 ? from.mem_fd : 0;
	}
	if (!ret)
		ret = instance_open_metrics(in, reason, sizeof(reason));
	if (ret)
		goto fail;
	/* The machine works on the instance's configuration; the old one comes back on failure. */
	old = in->cfg;
	in->cfg = cfg;
	vm_config_init(&cfg);
	/* The data store is not in the snapshot (a clone gets its own); tokens never are. */
	mmds_configure(&in->mmds, in->cfg.mmds.set ? in->cfg.mmds.version : 1,
		       in->cfg.mmds.imds_compat);
	mmds_forget_tokens(&in->mmds);
	ret = machine_restore(&in->machine, &in->cfg, &in->log, in->start_us, &s, &from,
			      &in->mmds, reason, sizeof(reason));
	if (!ret)
		ret = instance_take_over(in, "cannot run the restored microVM", reason,
					 sizeof(reason));
	if (ret) {
		in->cfg.metrics = (struct metrics_config){ 0 };
		vm_config_free(&in->cfg);
		in->cfg = old;
		goto fail;
	}
	in->cfg.metrics = old.metrics;
	old.metrics.properties = NULL;
	vm_config_free(&old);
	in->restored = true;
	if (r->resume) {
		in->state = INSTANCE_RUNNING;
	} else {
		vm_pause_at_start(&in->machine.vm);
		in->state = INSTANCE_PAUSED;
	}
	if (from.mem_fd >= 0)
		close(from.mem_fd); /* the mappings keep the file */
	machine_snapshot_close(&s);
	in->metrics.load_snapshot_us = now_us() - t0;
	log_info(&in->log, "snapshot '%s' loaded in %llu us (%s)", r->state_path,
		 (unsigned long long)in->metrics.load_snapshot_us,
		 r->resume ? "running" : "paused");
	return 0;
fail:
	snprintf(why, why_len, "Loading a microVM snapshot failed: %s",
		 *reason ? reason : strerror(-ret));
	log_err(&in->log, "%s", why);
	vm_config_free(&cfg);
	if (from.mem_fd >= 0)
		close(from.mem_fd);
	machine_snapshot_close(&s);
	return ret;
}
