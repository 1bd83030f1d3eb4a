/* Building, running and tearing down a machine: the VM and its table of devices. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "machine.h"
#include "mmds_link.h"
#include "../devices/i8042.h"
#include "../virtio/mmio.h"
#include "../util/log.h"
#include "../util/util.h"

/* Take (d) off the machine: its transport first, so no notification reaches a freed model. */
static void machine_device_destroy(struct machine_device *d)
{
	if (d->transport)
		virtio_mmio_destroy(d->transport);
	d->transport = NULL;
	d->kind->destroy(d->dev);
	d->dev = NULL;
}

static int machine_add_kind(struct machine *m, const struct device_kind *kind, char *why,
			    size_t why_len)
{
	unsigned int i, n = kind->count(m->cfg);
	int ret;

	for (i = 0; i < n; i++) {
		struct machine_device *d;

		if (m->nr_devs == MACHINE_MAX_DEVICES) {
			snprintf(why, why_len, "%s: more than %d devices in all", kind->name,
				 MACHINE_MAX_DEVICES);
			return -ENOSPC;
		}
		d = &m->devs[m->nr_devs];
		*d = (struct machine_device){ kind, i, NULL, NULL };
		ret = kind->create(m, i, &d->dev, why, why_len);
		if (!ret && kind->virtio) {
			ret = virtio_mmio_create(&m->vm, kind->virtio(d->dev), &d->transport);
			if (ret) {
				snprintf(why, why_len, "%s: no virtio-mmio slot: %s", kind->name,
					 strerror(-ret));
				kind->destroy(d->dev);
			}
		}
		if (ret)
			return why_default(why, why_len, ret, kind->name);
		m->nr_devs++;
	}
	return 0;
}

int machine_add_devices(struct machine *m, const struct device_kind *const *kinds,
			unsigned int nr_kinds, char *why, size_t why_len)
{
	unsigned int first = m->nr_devs, k;
	int ret;

	*why = '\0';
	for (k = 0; k < nr_kinds; k++) {
		ret = machine_add_kind(m, kinds[k], why, why_len);
		if (ret) {
			while (m->nr_devs > first)
				machine_device_destroy(&m->devs[--m->nr_devs]);
			return ret;
		}
	}
	return 0;
}

void machine_remove_devices(struct machine *m)
{
	while (m->nr_devs)
		machine_device_destroy(&m->devs[--m->nr_devs]);
}

int machine_build(struct machine *m, struct vm_config *cfg, struct logger *log, uint64_t start_us,
		  struct mmds *mmds, char *why, size_t why_len)
{
	int ret;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->start_us = start_us;
	m->mmds = mmds;
	m->console.in_fd = -1;
	m->vm_built = true; /* from here on vm_destroy undoes whatever vm_create did */
	ret = vm_create(&m->vm, cfg, log, NULL, why, why_len);
	if (!ret)
		ret = machine_add_devices(m, machine_device_kinds, machine_nr_device_kinds, why,
					  why_len);
	if (!ret)
		ret = vm_finish(&m->vm, why, why_len);
	if (ret)
		machine_destroy(m);
	return ret;
}

int machine_run(struct machine *m, struct seccomp_filters *seccomp)
{
	struct serial *serial = machine_find(m, &device_kind_serial, NULL);
	struct vm *vm = &m->vm;
	int ret, status;

	/* Signals first: one that comes while the terminal is raw must still restore it. */
	ret = vm_watch_stops(vm);
	if (!ret && m->cfg->console_listen >= 0)
		ret = console_sock_start(&m->console_sock, m->cfg->console_listen,
					 m->cfg->console_pipe, serial, &vm->loop, vm->log);
	else if (!ret)
		ret = console_start(&m->console, m->cfg->console_in, serial, &vm->loop, vm->log);
	if (ret) {
		log_err(vm->log, "cannot start the event loop: %s", strerror(-ret));
		return 1;
	}
	/*
	 * Each vCPU confines itself as it starts. This thread confines itself after starting
	 * them (a filter is inherited, and theirs must not include this one) and before its
	 * loop reads the first guest request.
	 */
	vm->seccomp = seccomp;
	vm_start_vcpus(vm);
	ret = seccomp_thread_enter(seccomp, SECCOMP_VMM);
	if (ret) {
		log_err(vm->log, "seccomp filter of the VMM thread: %s", strerror(-ret));
		vm_request_stop(vm, VM_STOP_ERROR);
	}
	while (!vm_stopping(vm)) {
		/* One of the two consoles is in use; the other has nothing waiting. */
		int in_ms = console_retry(&m->console), sock_ms = console_sock_retry(&m->console_sock);

		ret = event_loop_run_once(&vm->loop, in_ms < 0 ? sock_ms : in_ms);
		if (ret) {
			log_err(vm->log, "event loop: %s", strerror(-ret));
			vm_request_stop(vm, VM_STOP_ERROR);
		}
	}
	status = vm_join(vm);
	console_sock_stop(&m->console_sock);
	console_stop(&m->console);
	/* Every device backend runs on this thread: its CPU time is the device model's cost. */
	log_info(vm->log, "event loop thread CPU: %llu us", (unsigned long long)thread_cpu_us());
	return status;
}

void machine_destroy(struct machine *m)
{
	console_sock_stop(&m->console_sock);
	console_stop(&m->console);
	if (!m->vm_built)
		return;
	/* The vCPUs first: nothing can queue a request, and the disks drain what is in flight. */
	vm_destroy_vcpus(&m->vm);
	machine_remove_devices(m);
	vm_destroy(&m->vm);
	m->vm_built = false;
}

void *machine_find(const struct machine *m, const struct device_kind *kind, const char *id)
{
	unsigned int i;

	for (i = 0; i < m->nr_devs; i++) {
		const struct machine_device *d = &m->devs[i];
		const char *its;

		if (d->kind != kind)
			continue;
		its = kind->id ? kind->id(m->cfg, d->index) : NULL;
		if (!id || (its && !strcmp(its, id)))
			return d->dev;
	}
	return NULL;
}

struct virtio_blk *machine_disk(const struct machine *m, const char *id)
{
	return machine_find(m, &device_kind_disk, id);
}

struct virtio_net *machine_net(const struct machine *m, const char *id)
{
	return machine_find(m, &device_kind_net, id);
}

void machine_mmds_stats(const struct machine *m, struct mmds_stack_stats *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < VM_MAX_NETS; i++)
		if (m->mmds_links[i])
			mmds_link_stats_add(m->mmds_links[i], out);
}

struct virtio_balloon *machine_balloon(const struct machine *m)
{
	return machine_find(m, &device_kind_balloon, NULL);
}

int machine_ctrl_alt_del(struct machine *m)
{
	struct i8042 *kbd = machine_find(m, &device_kind_i8042, NULL);

	return kbd ? i8042_send_ctrl_alt_del(kbd) : -EOPNOTSUPP;
}
