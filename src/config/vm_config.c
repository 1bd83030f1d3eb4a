/*
 * struct vm_config's own rules, whichever front end fills it: ids are unique, the root
 * drive comes first, and the strings are owned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_config.h"

#define DEFAULT_MEM_MIB 128

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = 1;
	cfg->acpi = true;
	cfg->mem_mib = DEFAULT_MEM_MIB;
	cfg->console_in = STDIN_FILENO;
	cfg->console_out = STDOUT_FILENO;
	cfg->console_listen = cfg->console_pipe = -1;
	cfg->kernel_fd = cfg->initrd_fd = -1;
}

void vm_config_free(struct vm_config *cfg)
{
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->boot_args);
	free(cfg->metrics.properties);
	if (cfg->kernel_fd >= 0)
		close(cfg->kernel_fd);
	if (cfg->initrd_fd >= 0)
		close(cfg->initrd_fd);
	cfg->kernel_fd = cfg->initrd_fd = -1;
	cfg->kernel_path = cfg->initrd_path = cfg->boot_args = NULL;
	cfg->metrics.properties = NULL;
}

int vm_config_set_boot(struct vm_config *cfg, const char *kernel, const char *initrd,
		       const char *args)
{
	char *k = strdup(kernel), *i = initrd ? strdup(initrd) : NULL;
	char *a = args ? strdup(args) : NULL;

	if (!k || (initrd && !i) || (args && !a)) {
		free(k);
		free(i);
		free(a);
		return -ENOMEM;
	}
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->boot_args);
	cfg->kernel_path = k;
	cfg->initrd_path = i;
	cfg->boot_args = a;
	return 0;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool id_of(const char *id, const char *chars)
{
	size_t n = strspn(id, chars);

	return n > 0 && n <= CONFIG_ID_MAX && !id[n];
}

bool device_id_valid(const char *id)
{
	return id_of(id, ALNUM "_");
}

bool instance_id_valid(const char *id)
{
	return id_of(id, ALNUM "-_");
}

int vm_config_find_drive(const struct vm_config *cfg, const char *id)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_disks; i++)
		if (!strcmp(cfg->disks[i].id, id))
			return i;
	return -1;
}

int vm_config_find_net(const struct vm_config *cfg, const char *id)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].id, id))
			return i;
	return -1;
}

int vm_config_put_drive(struct vm_config *cfg, const struct disk_config *d, char *why,
			size_t why_len)
{
	struct disk_config disks[VM_MAX_DISKS];
	int at = vm_config_find_drive(cfg, d->id);
	unsigned int i, n = 0;

	if (d->root && cfg->nr_disks && cfg->disks[0].root && at != 0) {
		snprintf(why, why_len, "drive '%s': '%s' is already the root device", d->id,
			 cfg->disks[0].id);
		return -EINVAL;
	}
	if (at < 0 && cfg->nr_disks == VM_MAX_DISKS) {
		snprintf(why, why_len, "drive '%s': at most %u drives", d->id, VM_MAX_DISKS);
		return -ENOSPC;
	}
	/* Rebuild the list: the root first, then the others in the order they came. */
	if (d->root)
		disks[n++] = *d;
	for (i = 0; i < cfg->nr_disks; i++) {
		if ((int)i == at && !d->root)
			disks[n++] = *d;
		else if ((int)i != at)
			disks[n++] = cfg->disks[i];
	}
	if (at < 0 && !d->root)
		disks[n++] = *d;
	memcpy(cfg->disks, disks, n * sizeof(disks[0]));
	cfg->nr_disks = n;
	return 0;
}

int vm_config_put_net(struct vm_config *cfg, const struct net_config *n, char *why,
		      size_t why_len)
{
	int at = vm_config_find_net(cfg, n->id);
	unsigned int i;

	for (i = 0; i < cfg->nr_nets; i++) {
		const struct net_config *o = &cfg->nets[i];

		if ((int)i == at)
			continue;
		/* Two ports on one switch are two interfaces; one TAP cannot be two. */
		if (*n->tap && !strcmp(o->tap, n->tap)) {
			snprintf(why, why_len, "network interface '%s': host_dev_name '%s' is "
				 "already used by '%s'", n->id, n->tap, o->id);
			return -EINVAL;
		}
		if (n->has_mac && o->has_mac && !memcmp(o->mac, n->mac, sizeof(n->mac))) {
			snprintf(why, why_len, "network interface '%s': guest_mac is already "
				 "used by '%s'", n->id, o->id);
			return -EINVAL;
		}
	}
	if (at < 0 && cfg->nr_nets == VM_MAX_NETS) {
		snprintf(why, why_len, "network interface '%s': at most %u interfaces", n->id,
			 VM_MAX_NETS);
		return -ENOSPC;
	}
	cfg->nets[at < 0 ? cfg->nr_nets++ : (unsigned int)at] = *n;
	return 0;
}
