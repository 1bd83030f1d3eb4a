/*
 * The kinds of device a machine is built from, and their order: the platform devices of
 * the board (arch_defs.h says which it has and where), then the virtio devices in the
 * order Firecracker gives them their MMIO slots. Each kind adapts one model's constructor
 * and destructor to the same small ops (struct device_kind).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "mmds_link.h"
#include "../devices/acpi_sleep.h"
#include "../devices/boot_timer.h"
#include "../devices/i8042.h"
#include "../devices/pl031.h"
#include "../devices/serial.h"
#include "../virtio/balloon.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"
#include "../virtio/rng.h"
#include "../virtio/vsock.h"

static unsigned int one(const struct vm_config *cfg)
{
	(void)cfg;
	return 1;
}

/* --- the boot timer: slot 0 of ember's MMIO range, as in Firecracker's layout --- */

static unsigned int boot_timer_count(const struct vm_config *cfg)
{
	return cfg->boot_timer;
}

/*
 * Put (dev), a plain calloc'd state that free() destroys, on (bus) as (name); it is freed
 * if it cannot go there. (NULL: the calloc failed.)
 */
static int place_plain(struct bus *bus, uint64_t addr, uint64_t len, const struct bus_dev_ops *ops,
		       void *dev, const char *name, void **out)
{
	int ret;

	if (!dev)
		return -ENOMEM;
	ret = bus_register(bus, addr, len, ops, dev, name);
	if (ret) {
		free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

static int boot_timer_create(struct machine *m, unsigned int index, void **dev, char *why,
			     size_t why_len)
{
	struct boot_timer *bt = calloc(1, sizeof(*bt));

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	if (bt)
		bt->start_us = m->start_us;
	return place_plain(&m->vm.mmio_bus, ARCH_MMIO_BASE, BOOT_TIMER_SPAN, &boot_timer_ops, bt,
			   "boot-timer", dev);
}

/*
 * No snapshot hooks: the timer holds nothing but when its process started, which is the
 * restoring process's own (a guest that writes the magic value after a restore is told the
 * time since that process started, as a freshly booted one would be).
 */
const struct device_kind device_kind_boot_timer = {
	.name = "boot timer",
	.count = boot_timer_count,
	.create = boot_timer_create,
	.destroy = free,
};

/* --- the 16550A: the console, on port I/O or MMIO as the board has it --- */

/*
 * While the guest polls the line status before each byte (Linux's console does, IER's THRI
 * off), its THR writes are coalesced: KVM queues them without an exit and the UART sees
 * them at the next exit, which the next status read makes. Halves the exits of a boot log.
 * Each status read also asks for a flush within COALESCED_FLUSH_MS, for the last byte
 * before the guest goes quiet.
 */
static void serial_tx_status_read(void *vm)
{
	vm_coalesced_flush_soon(vm);
}

static void serial_tx_polled(void *vm, bool polled)
{
	int ret = vm_coalesce(vm, ARCH_SERIAL_ON_PIO, ARCH_SERIAL_ADDR, 1, polled);

	/* Without coalescing every write exits, as it always did; a failed stop would not. */
	if (ret && ret != -EOPNOTSUPP && !polled)
		log_warnx(((struct vm *)vm)->log, "serial: THR writes still coalesced: %s",
			  strerror(-ret));
}

static int serial_kind_create(struct machine *m, unsigned int index, void **dev, char *why,
			      size_t why_len)
{
	struct irq_line irq = { vm_irq_set, &m->vm, ARCH_SERIAL_IRQ };
	struct bus *bus = ARCH_SERIAL_ON_PIO ? &m->vm.pio_bus : &m->vm.mmio_bus;
	struct serial *s = serial_create(m->cfg->console_out, irq);
	int ret;

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	if (!s)
		return -ENOMEM;
	ret = bus_register(bus, ARCH_SERIAL_ADDR, SERIAL_REG_SPAN, &serial_bus_ops, s, "serial");
	if (ret) {
		serial_destroy(s);
		return ret;
	}
	serial_set_tx_hook(s, (struct serial_tx_hook){ serial_tx_polled, serial_tx_status_read,
						       &m->vm });
	*dev = s;
	return 0;
}

static void serial_kind_destroy(void *dev)
{
	serial_destroy(dev);
}

static int serial_kind_save(void *dev, struct snap_writer *w)
{
	serial_save(dev, w);
	return 0;
}

static int serial_kind_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return serial_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_serial = {
	.name = "serial port",
	.count = one,
	.create = serial_kind_create,
	.destroy = serial_kind_destroy,
	.save = serial_kind_save,
	.restore = serial_kind_restore,
};

/* --- the i8042: Linux's keyboard probe, its reset line and Ctrl-Alt-Del (x86) --- */

static unsigned int i8042_count(const struct vm_config *cfg)
{
	(void)cfg;
	return ARCH_HAS_I8042;
}

static void i8042_reset_request(void *vm)
{
	vm_request_stop(vm, VM_STOP_RESET);
}

static int i8042_kind_create(struct machine *m, unsigned int index, void **dev, char *why,
			     size_t why_len)
{
	struct irq_line irq = { vm_irq_set, &m->vm, ARCH_I8042_IRQ };
	struct i8042 *kbd = i8042_create(irq, i8042_reset_request, &m->vm, m->vm.log);
	int ret;

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	if (!kbd)
		return -ENOMEM;
	ret = bus_register(&m->vm.pio_bus, I8042_DATA_PORT, 1, &i8042_data_ops, kbd,
			   "i8042-data");
	if (!ret)
		ret = bus_register(&m->vm.pio_bus, I8042_COMMAND_PORT, 1, &i8042_command_ops, kbd,
				   "i8042-command");
	if (ret) {
		i8042_destroy(kbd);
		return ret;
	}
	*dev = kbd;
	return 0;
}

static void i8042_kind_destroy(void *dev)
{
	i8042_destroy(dev);
}

static int i8042_kind_save(void *dev, struct snap_writer *w)
{
	i8042_save(dev, w);
	return 0;
}

static int i8042_kind_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return i8042_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_i8042 = {
	.name = "i8042",
	.count = i8042_count,
	.create = i8042_kind_create,
	.destroy = i8042_kind_destroy,
	.save = i8042_kind_save,
	.restore = i8042_kind_restore,
};

/* --- the PL031 real-time clock (arm64) --- */

static unsigned int rtc_count(const struct vm_config *cfg)
{
	(void)cfg;
	return ARCH_HAS_RTC;
}

static int rtc_create(struct machine *m, unsigned int index, void **dev, char *why,
		      size_t why_len)
{
	struct pl031 *rtc = pl031_create(m->vm.log);
	int ret;

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	if (!rtc)
		return -ENOMEM;
	ret = bus_register(&m->vm.mmio_bus, ARCH_RTC_ADDR, PL031_SPAN, &pl031_ops, rtc, "pl031");
	if (ret) {
		pl031_destroy(rtc);
		return ret;
	}
	*dev = rtc;
	return 0;
}

static void rtc_destroy(void *dev)
{
	pl031_destroy(dev);
}

static int rtc_save(void *dev, struct snap_writer *w)
{
	pl031_save(dev, w);
	return 0;
}

static int rtc_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return pl031_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_rtc = {
	.name = "rtc",
	.count = rtc_count,
	.create = rtc_create,
	.destroy = rtc_destroy,
	.save = rtc_save,
	.restore = rtc_restore,
};

/* --- the ACPI sleep registers (x86): the guest's power-off --- */

static unsigned int acpi_sleep_count(const struct vm_config *cfg)
{
	return ARCH_HAS_ACPI_SLEEP && cfg->acpi;
}

static void acpi_power_off(void *vm)
{
	vm_request_stop(vm, VM_STOP_SHUTDOWN);
}

static int acpi_sleep_create(struct machine *m, unsigned int index, void **dev, char *why,
			     size_t why_len)
{
	struct acpi_sleep *s = calloc(1, sizeof(*s));

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	if (s)
		*s = (struct acpi_sleep){ ARCH_ACPI_S5_TYPE, acpi_power_off, &m->vm, m->vm.log };
	return place_plain(&m->vm.pio_bus, ARCH_ACPI_SLEEP_PORT, ACPI_SLEEP_SPAN, &acpi_sleep_ops,
			   s, "acpi-sleep", dev);
}

/* No snapshot hooks: the registers hold nothing between two writes. */
const struct device_kind device_kind_acpi_sleep = {
	.name = "ACPI sleep registers",
	.count = acpi_sleep_count,
	.create = acpi_sleep_create,
	.destroy = free,
};

/* --- virtio-rng --- */

static unsigned int rng_count(const struct vm_config *cfg)
{
	return cfg->rng;
}

static int rng_kind_create(struct machine *m, unsigned int index, void **dev, char *why,
			   size_t why_len)
{
	int ret = virtio_rng_create(&m->vm.mem, &m->vm.loop, m->vm.log, &m->cfg->rng_limit,
				    (struct virtio_rng **)dev);

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	return ret;
}

static void rng_kind_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

static struct virtio_dev *rng_virtio(void *dev)
{
	return virtio_rng_dev(dev);
}

static int rng_kind_save(void *dev, struct snap_writer *w)
{
	return virtio_rng_save(dev, w);
}

static int rng_kind_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return virtio_rng_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_rng = {
	.name = "entropy device",
	.count = rng_count,
	.create = rng_kind_create,
	.destroy = rng_kind_destroy,
	.virtio = rng_virtio,
	.save = rng_kind_save,
	.restore = rng_kind_restore,
};

/* --- virtio-blk: in configuration order, so the guest names them vda, vdb... so --- */

static unsigned int disk_count(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

static const char *disk_id(const struct vm_config *cfg, unsigned int index)
{
	return cfg->disks[index].id;
}

static int disk_create(struct machine *m, unsigned int index, void **dev, char *why,
		       size_t why_len)
{
	struct disk_config *d = &m->cfg->disks[index];
	char reason[256] = "";
	int ret = virtio_blk_create(&m->vm.mem, &m->vm.loop, m->vm.log, d, index,
				    (struct virtio_blk **)dev, reason, sizeof(reason));

	if (ret)
		snprintf(why, why_len, "drive '%s' (%s): %s", d->id, d->path,
			 *reason ? reason : strerror(-ret));
	return ret;
}

static void disk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static struct virtio_dev *disk_virtio(void *dev)
{
	return virtio_blk_dev(dev);
}

static int disk_save(void *dev, struct snap_writer *w)
{
	return virtio_blk_save(dev, w);
}

static int disk_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return virtio_blk_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_disk = {
	.name = "disk",
	.count = disk_count,
	.id = disk_id,
	.create = disk_create,
	.destroy = disk_destroy,
	.virtio = disk_virtio,
	.save = disk_save,
	.restore = disk_restore,
};

/* --- virtio-net --- */

static unsigned int net_count(const struct vm_config *cfg)
{
	return cfg->nr_nets;
}

static const char *net_id(const struct vm_config *cfg, unsigned int index)
{
	return cfg->nets[index].id;
}

/* Whether PUT /mmds/config named the interface (id). */
static bool net_serves_mmds(const struct vm_config *cfg, const char *id)
{
	unsigned int i;

	for (i = 0; cfg->mmds.set && i < cfg->mmds.nr_ifaces; i++)
		if (!strcmp(cfg->mmds.ifaces[i], id))
			return true;
	return false;
}

static int net_create(struct machine *m, unsigned int index, void **dev, char *why,
		      size_t why_len)
{
	struct net_config *n = &m->cfg->nets[index];
	char reason[256] = "";
	int ret = virtio_net_create(&m->vm.mem, &m->vm.loop, m->vm.log, n,
				    (struct virtio_net **)dev, reason, sizeof(reason));

	if (!ret && m->mmds && net_serves_mmds(m->cfg, n->id)) {
		ret = mmds_link_attach(*dev, &m->vm.loop, m->vm.log, m->mmds, m->cfg->mmds.ipv4,
				       &m->mmds_links[index]);
		if (ret) {
			virtio_net_destroy(*dev);
			snprintf(reason, sizeof(reason), "MMDS on %s: %s", m->cfg->mmds.ipv4,
				 strerror(-ret));
		}
	}
	if (ret)
		snprintf(why, why_len, "network interface '%s' (%s %s): %s", n->id,
			 *n->switch_path ? "switch" : "TAP", *n->switch_path ? n->switch_path : n->tap,
			 *reason ? reason : strerror(-ret));
	return ret;
}

static void net_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

static struct virtio_dev *net_virtio(void *dev)
{
	return virtio_net_dev(dev);
}

static int net_save(void *dev, struct snap_writer *w)
{
	return virtio_net_save(dev, w);
}

static int net_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return virtio_net_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_net = {
	.name = "net",
	.count = net_count,
	.id = net_id,
	.create = net_create,
	.destroy = net_destroy,
	.virtio = net_virtio,
	.save = net_save,
	.restore = net_restore,
};

/* --- virtio-balloon --- */

static unsigned int balloon_count(const struct vm_config *cfg)
{
	return cfg->balloon;
}

static int balloon_create(struct machine *m, unsigned int index, void **dev, char *why,
			  size_t why_len)
{
	int ret = virtio_balloon_create(&m->vm.mem, &m->vm.loop, m->vm.log, &m->cfg->balloon_cfg,
					(struct virtio_balloon **)dev);

	(void)index;
	(void)why;
	(void)why_len; /* "<name>: <strerror>" says it all: the machine writes it */
	return ret;
}

static void balloon_destroy(void *dev)
{
	virtio_balloon_destroy(dev);
}

static struct virtio_dev *balloon_virtio(void *dev)
{
	return virtio_balloon_dev(dev);
}

static int balloon_save(void *dev, struct snap_writer *w)
{
	return virtio_balloon_save(dev, w);
}

static int balloon_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	return virtio_balloon_restore(dev, c, why, why_len);
}

const struct device_kind device_kind_balloon = {
	.name = "balloon",
	.count = balloon_count,
	.create = balloon_create,
	.destroy = balloon_destroy,
	.virtio = balloon_virtio,
	.save = balloon_save,
	.restore = balloon_restore,
};

/* --- virtio-vsock --- */

static unsigned int vsock_count(const struct vm_config *cfg)
{
	return cfg->vsock;
}

static int vsock_create(struct machine *m, unsigned int index, void **dev, char *why,
			size_t why_len)
{
	const struct vsock_config *v = &m->cfg->vsock_cfg;
	char reason[256] = "";
	int ret = virtio_vsock_create(&m->vm.mem, &m->vm.loop, m->vm.log, v,
				      (struct virtio_vsock **)dev, reason, sizeof(reason));

	(void)index;
	if (ret)
		snprintf(why, why_len, "vsock (%s): %s", v->path, *reason ? reason : strerror(-ret));
	return ret;
}

static void vsock_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

static struct virtio_dev *vsock_virtio(void *dev)
{
	return virtio_vsock_dev(dev);
}

/* Nothing to save (virtio_vsock_restore says why); the restore owes the guest a reset. */
static int vsock_restore(void *dev, struct snap_cursor *c, char *why, size_t why_len)
{
	(void)c;
	(void)why;
	(void)why_len;
	return virtio_vsock_restore(dev);
}

const struct device_kind device_kind_vsock = {
	.name = "vsock",
	.count = vsock_count,
	.create = vsock_create,
	.destroy = vsock_destroy,
	.virtio = vsock_virtio,
	.restore = vsock_restore,
};

/*
 * The build order. The platform devices come first (the serial port's line must exist
 * before anything can print); the virtio devices then take MMIO slots in this order.
 */
const struct device_kind *const machine_device_kinds[] = {
	&device_kind_boot_timer,
	&device_kind_serial,
	&device_kind_i8042,
	&device_kind_rtc,
	&device_kind_acpi_sleep,
	&device_kind_rng,
	&device_kind_disk,
	&device_kind_net,
	&device_kind_balloon,
	&device_kind_vsock,
};

const unsigned int machine_nr_device_kinds = ARRAY_SIZE(machine_device_kinds);
