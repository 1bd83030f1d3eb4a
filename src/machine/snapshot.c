/* Saving a machine to a snapshot and building one back from it (layout in snapshot.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "snapshot_mem.h"
#include "../config/config_file.h"
#include "../config/sections.h"
#include "../util/log.h"
#include "../util/util.h"
#include "../virtio/mmio.h"

#define TAG_CONF SNAP_TAG('C', 'O', 'N', 'F')
#define TAG_MACH SNAP_TAG('M', 'A', 'C', 'H')
#define TAG_DEV	 SNAP_TAG('D', 'E', 'V', ' ')
#define TAG_VIO	 SNAP_TAG('V', 'I', 'O', ' ')

#define SNAP_CONFIG_MAX (1u << 20) /* the configuration JSON: a few KiB in practice */
#define KIND_NAME_MAX	32

/* --- saving --- */

static int save_config(const struct machine *m, struct snap_writer *w)
{
	json_t *root = cfg_to_json(m->cfg);
	char *text;

	if (!root)
		return -ENOMEM;
	/* The loading process has a logger and metrics of its own. */
	json_object_del(root, "logger");
	json_object_del(root, "metrics");
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	snap_begin(w, TAG_CONF, 0);
	snap_put_str(w, text);
	snap_end(w);
	free(text);
	return 0;
}

static void save_machine(const struct machine *m, struct snap_writer *w)
{
	unsigned int i;

	snap_begin(w, TAG_MACH, 0);
	snap_put_u8(w, m->cfg->boot_timer ? 1 : 0);
	arch_config_save(&m->cfg->arch, w);
	snap_put_u32(w, m->vm.mem.nr_regions);
	for (i = 0; i < m->vm.mem.nr_regions; i++) {
		snap_put_u64(w, m->vm.mem.regions[i].gpa);
		snap_put_u64(w, m->vm.mem.regions[i].size);
	}
	snap_put_u32(w, m->nr_devs);
	for (i = 0; i < m->nr_devs; i++) {
		snap_put_str(w, m->devs[i].kind->name);
		snap_put_u32(w, m->devs[i].index);
	}
	snap_end(w);
}

static int save_devices(struct machine *m, struct snap_writer *w, char *why, size_t why_len)
{
	unsigned int i;
	int ret;

	for (i = 0; i < m->nr_devs; i++) {
		struct machine_device *d = &m->devs[i];

		snap_begin(w, TAG_DEV, i);
		ret = d->kind->save ? d->kind->save(d->dev, w) : 0;
		snap_end(w);
		if (!ret && d->transport) {
			snap_begin(w, TAG_VIO, i);
			ret = virtio_mmio_save(d->transport, w);
			snap_end(w);
		}
		if (ret) {
			snprintf(why, why_len, "%s %u: cannot save its state: %s", d->kind->name,
				 d->index, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Both files written and synced beside their paths first, then renamed into place, memory
 * then state: a failure before the renames leaves the old files (if any) as they were; a
 * state rename that fails after the memory's removes the old state file, which would
 * describe other memory. The dirty marks start again only when both are in place.
 */
static int write_files(struct machine *m, bool diff, const struct snap_writer *w,
		       const char *state_path, const char *mem_path, char *why, size_t why_len)
{
	struct mem_snapshot ms;
	char tmp[PATH_MAX];
	int fd, ret;

	ret = snapshot_mem_prepare(&m->vm, diff, mem_path, &ms, why, why_len);
	if (!ret) {
		fd = snap_tmp_open(state_path, tmp, sizeof(tmp), why, why_len);
		ret = fd < 0 ? fd : snap_tmp_sync(fd, tmp, write_all(fd, w->buf, w->len), why,
						  why_len);
		if (!ret) {
			ret = snap_tmp_rename(ms.tmp, mem_path, why, why_len);
			if (ret)
				unlink(tmp);
		}
		if (!ret) {
			ms.tmp[0] = '\0'; /* renamed */
			ret = snap_tmp_rename(tmp, state_path, why, why_len);
			if (ret)
				unlink(state_path);
		}
	}
	snapshot_mem_finish(&m->vm, &ms, ret == 0);
	return ret;
}

int machine_snapshot_create(struct machine *m, enum snapshot_type type, const char *state_path,
			    const char *mem_path, const char *version, char *why, size_t why_len)
{
	struct snap_writer w;
	int ret;

	*why = '\0';
	/* The state first, in memory: a VM that cannot be saved leaves no memory file. */
	snap_writer_init(&w, ARCH_ELF_MACHINE, version);
	ret = save_config(m, &w);
	if (ret) {
		snprintf(why, why_len, "the configuration: %s", strerror(-ret));
		goto out;
	}
	save_machine(m, &w);
	ret = arch_snapshot_save(&m->vm, &w, why, why_len);
	if (!ret)
		ret = save_devices(m, &w, why, why_len);
	if (ret)
		goto out;
	ret = snap_writer_finish(&w);
	if (ret) {
		snprintf(why, why_len, "the state file: %s", strerror(-ret));
		goto out;
	}
	ret = write_files(m, type == SNAPSHOT_DIFF, &w, state_path, mem_path, why, why_len);
out:
	snap_writer_free(&w);
	return ret;
}

/* --- loading --- */

int machine_snapshot_open(struct machine_snapshot *s, const char *path, char *why,
			  size_t why_len)
{
	char reason[256];
	int ret;

	memset(s, 0, sizeof(*s));
	ret = snap_read_file(path, &s->buf, &s->len, why, why_len);
	if (ret)
		return ret;
	ret = snap_parse(&s->file, s->buf, s->len, ARCH_ELF_MACHINE, reason, sizeof(reason));
	if (ret) {
		snprintf(why, why_len, "'%s': %s", path, reason);
		machine_snapshot_close(s);
	}
	return ret;
}

void machine_snapshot_close(struct machine_snapshot *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

int machine_snapshot_config(const struct machine_snapshot *s, struct vm_config *cfg, char *why,
			    size_t why_len)
{
	struct snap_cursor c;
	struct vm_config out;
	char reason[256];
	const char *text;
	uint32_t len;
	uint8_t timer;

	snap_cursor_init(&c, snap_find(&s->file, TAG_CONF, 0));
	text = snap_get_blob(&c, SNAP_CONFIG_MAX, &len);
	if (snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no configuration (section CONF)");
		return -EINVAL;
	}
	snap_cursor_init(&c, snap_find(&s->file, TAG_MACH, 0));
	timer = snap_get_u8(&c);
	if (timer > 1)
		snap_cursor_fail(&c, "boot timer flag");
	/* The arch's knobs and the rest of MACH are read again, and checked, by the restore. */
	out = *cfg;
	arch_config_load(&out.arch, &c);
	if (c.bad && snap_cursor_end(&c, why, why_len)) {
		if (!c.s)
			snprintf(why, why_len, "no machine description (section MACH)");
		return -EINVAL;
	}
	if (config_parse(text, len, cfg, reason, sizeof(reason))) {
		snprintf(why, why_len, "its configuration: %s", reason);
		return -EINVAL;
	}
	cfg->boot_timer = timer;
	cfg->arch = out.arch;
	return 0;
}

/* The device (index) of the table (c) holds must be (d): same kind, same place. */
static void check_device(struct snap_cursor *c, const struct machine_device *d)
{
	char name[KIND_NAME_MAX];

	snap_get_str(c, name, sizeof(name));
	if (snap_get_u32(c) != d->index || (!c->bad && strcmp(name, d->kind->name)))
		snap_cursor_fail(c, "device table: not the devices of its configuration");
}

int machine_snapshot_check(const struct machine_snapshot *s, const struct vm_config *cfg,
			   char *why, size_t why_len)
{
	struct mem_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned int nr = 0, i, k, n, devs = 0;
	struct arch_config arch;
	struct snap_cursor c;

	if (arch_mem_layout(cfg->mem_mib * MiB, layout, &nr)) {
		snprintf(why, why_len, "its memory size, %llu MiB, is too small",
			 (unsigned long long)cfg->mem_mib);
		return -EINVAL;
	}
	snap_cursor_init(&c, snap_find(&s->file, TAG_MACH, 0));
	snap_get_u8(&c);
	arch_config_load(&arch, &c);
	if (snap_get_u32(&c) != nr)
		snap_cursor_fail(&c, "memory layout");
	for (i = 0; !c.bad && i < nr; i++)
		if (snap_get_u64(&c) != layout[i].gpa || snap_get_u64(&c) != layout[i].size)
			snap_cursor_fail(&c, "memory layout");
	n = snap_get_u32(&c);
	for (k = 0; !c.bad && k < machine_nr_device_kinds; k++) {
		const struct device_kind *kind = machine_device_kinds[k];
		unsigned int count = kind->count(cfg);

		for (i = 0; !c.bad && i < count; i++, devs++) {
			struct machine_device d = { kind, i, NULL, NULL };

			if (devs >= n) {
				snap_cursor_fail(&c, "device table: fewer devices than configured");
				break;
			}
			check_device(&c, &d);
			if (!snap_find(&s->file, TAG_DEV, devs) ||
			    (kind->virtio && !snap_find(&s->file, TAG_VIO, devs)))
				snap_cursor_fail(&c, "device table: a device without its state");
		}
	}
	if (!c.bad && devs != n)
		snap_cursor_fail(&c, "device table: more devices than configured");
	if (snap_cursor_end(&c, why, why_len))
		return -EINVAL;
	if (snap_count(&s->file, TAG_DEV) != n) {
		snprintf(why, why_len, "%u device states for %u devices",
			 snap_count(&s->file, TAG_DEV), n);
		return -EINVAL;
	}
	return arch_snapshot_check(&s->file, cfg->vcpus, why, why_len);
}

static int restore_devices(struct machine *m, const struct snap_file *f, char *why,
			   size_t why_len)
{
	char reason[256];
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < m->nr_devs; i++) {
		struct machine_device *d = &m->devs[i];
		struct snap_cursor c;

		*reason = '\0';
		snap_cursor_init(&c, snap_find(f, TAG_DEV, i));
		if (d->kind->restore)
			ret = d->kind->restore(d->dev, &c, reason, sizeof(reason));
		if (!ret)
			ret = snap_cursor_end(&c, reason, sizeof(reason));
		if (!ret && d->transport) {
			snap_cursor_init(&c, snap_find(f, TAG_VIO, i));
			ret = virtio_mmio_restore(d->transport, &c, reason, sizeof(reason));
			if (!ret)
				ret = snap_cursor_end(&c, reason, sizeof(reason));
		}
		if (ret)
			snprintf(why, why_len, "%s %u: %s", d->kind->name, d->index,
				 *reason ? reason : strerror(-ret));
	}
	return ret;
}

int machine_restore(struct machine *m, struct vm_config *cfg, struct logger *log,
		    uint64_t start_us, const struct machine_snapshot *s,
		    const struct vm_restore *from, struct mmds *mmds, char *why, size_t why_len)
{
	int ret;

	*why = '\0';
	memset(m, 0, sizeof(*m));
	m->console.in_fd = -1;
	ret = machine_snapshot_check(s, cfg, why, why_len);
	if (ret)
		return ret;
	m->cfg = cfg;
	m->start_us = start_us;
	m->mmds = mmds;
	m->vm_built = true;
	ret = vm_create(&m->vm, cfg, log, from, why, why_len);
	if (!ret)
		ret = machine_add_devices(m, machine_device_kinds, machine_nr_device_kinds, why,
					  why_len);
	if (!ret)
		ret = vm_finish(&m->vm, why, why_len);
	/* KVM's state first: a device that raises its interrupt again needs the irqchip. */
	if (!ret)
		ret = arch_snapshot_restore(&m->vm, &s->file, why, why_len);
	if (!ret)
		ret = restore_devices(m, &s->file, why, why_len);
	if (ret)
		machine_destroy(m);
	return ret;
}
