/*
 * A machine: a VM and the devices on it, built from one configuration. This is the only
 * layer that knows every kind of device; the VM below it knows none, the API above it
 * finds devices here by their API id.
 *
 * Building is one sequence: the VM's first half (memory, kernel, KVM, irqchip), then every
 * device kind of machine_device_kinds[] in order, each as many times as the configuration
 * asks, then the VM's second half (boot structures, vCPUs). Tearing down walks it back.
 */
#ifndef EMBER_MACHINE_MACHINE_H
#define EMBER_MACHINE_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "console_sock.h"
#include "../config/vm_config.h"
#include "../vmm/vm.h"

struct machine;
struct mmds;
struct mmds_link;
struct mmds_stack_stats;
struct virtio_dev;
struct virtio_mmio;
struct snap_writer;
struct snap_cursor;

/* What the machine knows about one kind of device: the same small ops for every kind. */
struct device_kind {
	const char *name;
	/* How many devices of this kind (cfg) asks for, in the order they are built. */
	unsigned int (*count)(const struct vm_config *cfg);
	/* The API id of the (index)th one (drive_id, iface_id), or NULL for a kind without. */
	const char *(*id)(const struct vm_config *cfg, unsigned int index);
	/*
	 * Build the (index)th one on (m). 0 and (*dev), or -errno, with the reason in (why)
	 * when there is more to say than "<name>: <strerror>", which the machine writes.
	 */
	int (*create)(struct machine *m, unsigned int index, void **dev, char *why,
		      size_t why_len);
	/* Free (dev): its vCPUs are gone, so nothing can reach it any more. */
	void (*destroy)(void *dev);
	/*
	 * A virtio device's model as its transport drives it: the machine puts it on a
	 * virtio-mmio slot after create and takes it off before destroy. NULL: not virtio.
	 */
	struct virtio_dev *(*virtio)(void *dev);
	/*
	 * Snapshot hooks (docs/snapshot.md). save: the device's own state as fields of the
	 * section the machine has opened in (w); a virtio device's transport and queues are
	 * the machine's to save, not the kind's. restore: into a device just built from the
	 * snapshot's configuration, read the same fields from (c), treating them as untrusted
	 * (the machine calls snap_cursor_end after it); it runs before the virtio transport
	 * is restored and before any vCPU runs. 0, or -errno with the reason in (why).
	 * NULL: the kind has no state beyond its configuration.
	 */
	int (*save)(void *dev, struct snap_writer *w);
	int (*restore)(void *dev, struct snap_cursor *c, char *why, size_t why_len);
};

/* One device the machine holds: its kind, its place among its kind, and itself. */
struct machine_device {
	const struct device_kind *kind;
	unsigned int index;
	void *dev;
	struct virtio_mmio *transport; /* a virtio device's slot on the MMIO bus */
};

#define MACHINE_MAX_DEVICES 32

struct machine {
	struct vm vm;
	bool vm_built;		 /* vm_create ran: vm_destroy must run */
	struct vm_config *cfg;	 /* the one live configuration: the caller's */
	uint64_t start_us;	 /* when the process started, for the boot timer */
	struct machine_device devs[MACHINE_MAX_DEVICES];
	unsigned int nr_devs;	 /* built so far, in build order */
	struct console console;	 /* the serial port's input from the host */
	struct console_sock console_sock; /* --console-sock: its viewer and output history */
	struct mmds *mmds; /* the caller's MMDS service, for the interfaces cfg->mmds names */
	struct mmds_link *mmds_links[VM_MAX_NETS]; /* by interface index; NULL: no MMDS there */
};

/* The kinds a machine is built from, in build order (devices.c). */
extern const struct device_kind *const machine_device_kinds[];
extern const unsigned int machine_nr_device_kinds;

/* Each kind, for finding a device of it (machine_find). */
extern const struct device_kind device_kind_boot_timer;
extern const struct device_kind device_kind_serial;
extern const struct device_kind device_kind_i8042;
extern const struct device_kind device_kind_rtc;
extern const struct device_kind device_kind_acpi_sleep;
extern const struct device_kind device_kind_rng;
extern const struct device_kind device_kind_disk;
extern const struct device_kind device_kind_net;
extern const struct device_kind device_kind_balloon;
extern const struct device_kind device_kind_vsock;

/*
 * Build the machine (cfg) describes, logging to (log). Both stay the caller's and must
 * outlive the machine; runtime updates (PATCH) change (cfg) in place, so it always says
 * what is in force. 0, or -errno with the reason in (why, why_len) and nothing left built.
 */
int machine_build(struct machine *m, struct vm_config *cfg, struct logger *log, uint64_t start_us,
		  struct mmds *mmds, char *why, size_t why_len);

/*
 * Add the devices of (kinds), in order, each kind as many times as m->cfg asks. On a
 * failure the devices this call added are destroyed again, newest first, and -errno is
 * returned with the reason in (why, why_len); their bus ranges and MMIO slots are not
 * given back (the buses have no unregister), so the VM must then be destroyed, as
 * machine_build does, before any vCPU could reach them. 0 on success.
 */
int machine_add_devices(struct machine *m, const struct device_kind *const *kinds,
			unsigned int nr_kinds, char *why, size_t why_len);

/* Destroy every device, newest first. */
void machine_remove_devices(struct machine *m);

/*
 * Run the guest until it or a signal stops it, each thread confined by its filter of
 * (seccomp) (NULL: unconfined). Returns the process exit status.
 */
int machine_run(struct machine *m, struct seccomp_filters *seccomp);

/* Everything machine_build built, in reverse: vCPUs, devices, the VM. */
void machine_destroy(struct machine *m);

/* The device of (kind) called (id); for a kind without ids, (id) NULL finds the first. */
void *machine_find(const struct machine *m, const struct device_kind *kind, const char *id);

struct virtio_blk *machine_disk(const struct machine *m, const char *id);
struct virtio_net *machine_net(const struct machine *m, const char *id);

/* The counters of every interface's MMDS stack, summed into (out) (zeroed first). */
void machine_mmds_stats(const struct machine *m, struct mmds_stack_stats *out);
struct virtio_balloon *machine_balloon(const struct machine *m);

/* Press Ctrl-Alt-Del on the guest's keyboard. 0, -EOPNOTSUPP without one, or -errno. */
int machine_ctrl_alt_del(struct machine *m);

#endif
