/* Snapshots of this arch's KVM state: not written yet (issue 14). */
#include <errno.h>
#include <stdio.h>

#include "../arch.h"
#include "../../snapshot/stream.h"
#include "../../vmm/vm.h"

void arch_config_save(const struct arch_config *cfg, struct snap_writer *w)
{
	(void)cfg;
	(void)w;
}

void arch_config_load(struct arch_config *cfg, struct snap_cursor *c)
{
	(void)cfg;
	(void)c;
}

int arch_snapshot_save(struct vm *vm, struct snap_writer *w, char *why, size_t why_len)
{
	(void)vm;
	(void)w;
	snprintf(why, why_len, "snapshots are not supported on " ARCH_NAME " yet");
	return -EOPNOTSUPP;
}

int arch_snapshot_check(const struct snap_file *f, unsigned int nr_vcpus, char *why,
			size_t why_len)
{
	(void)f;
	(void)nr_vcpus;
	snprintf(why, why_len, "snapshots are not supported on " ARCH_NAME " yet");
	return -EOPNOTSUPP;
}

int arch_snapshot_restore(struct vm *vm, const struct snap_file *f, char *why, size_t why_len)
{
	(void)vm;
	(void)f;
	snprintf(why, why_len, "snapshots are not supported on " ARCH_NAME " yet");
	return -EOPNOTSUPP;
}
