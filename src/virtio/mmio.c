/*
 * virtio-mmio v2 registers. The vCPU thread that traps a register access only updates
 * transport state; queue work happens on the event loop when the ioeventfd fires.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mmio.h"
#include "../snapshot/stream.h"
#include "../util/log.h"
#include "../vmm/vm.h"

#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
#define REG_VENDOR_ID		0x00c
#define REG_DEVICE_FEATURES	0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES	0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL		0x030
#define REG_QUEUE_NUM_MAX	0x034
#define REG_QUEUE_NUM		0x038
#define REG_QUEUE_READY		0x044
#define REG_QUEUE_NOTIFY	0x050
#define REG_INTERRUPT_STATUS	0x060
#define REG_INTERRUPT_ACK	0x064
#define REG_STATUS		0x070
#define REG_QUEUE_DESC_LOW	0x080
#define REG_QUEUE_DESC_HIGH	0x084
#define REG_QUEUE_DRIVER_LOW	0x090
#define REG_QUEUE_DRIVER_HIGH	0x094
#define REG_QUEUE_DEVICE_LOW	0x0a0
#define REG_QUEUE_DEVICE_HIGH	0x0a4
#define REG_CONFIG_GENERATION	0x0fc
#define REG_CONFIG		0x100

#define MMIO_MAGIC  0x74726976 /* "virt" */
#define MMIO_VENDOR 0x52424d45 /* "EMBR" */

struct mmio_notify {
	struct virtio_mmio *mmio;
	unsigned int queue;
	int fd;
	bool ioeventfd; /* KVM signals fd itself, with no exit to ember */
	struct event_source src;
};

struct virtio_mmio {
	struct virtio_dev *vd;
	struct vm *vm;
	uint64_t base;
	unsigned int irq;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	int irq_fd;
	struct mmio_notify notify[VIRTIO_MAX_QUEUES];
};

static void mmio_interrupt(struct virtio_dev *vd, uint32_t why)
{
	struct virtio_mmio *mmio = vd->transport_priv;
	uint64_t one = 1;

	__atomic_or_fetch(&mmio->interrupt_status, why, __ATOMIC_SEQ_CST);
	if (write(mmio->irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn(vd->log, "virtio-%s: irqfd", vd->ops->name);
}

/* A write to the queue's own notify eventfd: the loop comes back to it after other events. */
static void mmio_requeue(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_mmio *mmio = vd->transport_priv;
	uint64_t one = 1;

	if (write(mmio->notify[q].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn(vd->log, "virtio-%s: requeue", vd->ops->name);
}

static const struct virtio_transport_ops mmio_transport_ops = {
	.interrupt = mmio_interrupt,
	.requeue = mmio_requeue,
};

static struct virtq *mmio_selected_queue(struct virtio_mmio *mmio)
{
	if (mmio->queue_sel >= mmio->vd->ops->num_queues)
		return NULL;
	return &mmio->vd->queues[mmio->queue_sel];
}

static uint32_t mmio_read_reg(struct virtio_mmio *mmio, uint64_t off)
{
	struct virtio_dev *vd = mmio->vd;
	struct virtq *q = mmio_selected_queue(mmio);

	switch (off) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return vd->ops->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		if (mmio->device_features_sel > 1)
			return 0;
		return virtio_dev_features(vd) >> (32 * mmio->device_features_sel);
	case REG_QUEUE_NUM_MAX:
		return q ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY:
		return q ? q->enabled : 0;
	case REG_INTERRUPT_STATUS:
		return __atomic_load_n(&mmio->interrupt_status, __ATOMIC_SEQ_CST);
	case REG_STATUS:
		return vd->status;
	case REG_CONFIG_GENERATION:
		return vd->config_generation;
	default:
		log_debug(mmio->vd->log, "virtio-%s: read of register 0x%llx", vd->ops->name,
			  (unsigned long long)off);
		return 0;
	}
}

static void mmio_write_status(struct virtio_mmio *mmio, uint32_t v)
{
	struct virtio_dev *vd = mmio->vd;
	uint8_t old = vd->status;

	if (v == 0) {
		virtio_dev_reset(vd);
		__atomic_store_n(&mmio->interrupt_status, 0, __ATOMIC_SEQ_CST);
		return;
	}
	/* The driver never clears bits; NEEDS_RESET and FAILED stay until a reset. */
	v = (v & 0xff) | old;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_dev_features_acceptable(vd)) {
		log_warnx(mmio->vd->log, "virtio-%s: driver features 0x%llx refused", vd->ops->name,
			  (unsigned long long)vd->driver_features);
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(v & VIRTIO_STATUS_FEATURES_OK)) {
		log_warnx(mmio->vd->log, "virtio-%s: DRIVER_OK without FEATURES_OK", vd->ops->name);
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	}
	vd->status = v;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    vd->ops->activate && vd->ops->activate(vd))
		virtio_dev_fail(vd, "activation failed");
}

static void mmio_write_queue_ready(struct virtio_mmio *mmio, struct virtq *q, uint32_t v)
{
	struct virtio_dev *vd = mmio->vd;

	if (!v) {
		virtq_reset(q);
		return;
	}
	if (q->enabled)
		return;
	q->event_idx = virtio_dev_has_feature(vd, VIRTIO_F_RING_EVENT_IDX);
	q->indirect = virtio_dev_has_feature(vd, VIRTIO_F_RING_INDIRECT_DESC);
	if (virtq_enable(q, vd->mem))
		log_warnx(mmio->vd->log,
			  "virtio-%s: queue %u: size %u or ring addresses invalid; not enabled",
			  vd->ops->name, mmio->queue_sel, q->size);
}

/* The 64-bit queue addresses are written as two halves. */
static void set_half(uint64_t *reg, uint32_t v, bool high)
{
	*reg = high ? (*reg & 0xffffffffULL) | ((uint64_t)v << 32) : (*reg & ~0xffffffffULL) | v;
}

static void mmio_write_reg(struct virtio_mmio *mmio, uint64_t off, uint32_t v)
{
	struct virtio_dev *vd = mmio->vd;
	struct virtq *q = mmio_selected_queue(mmio);
	uint64_t one = 1;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		mmio->device_features_sel = v;
		return;
	case REG_DRIVER_FEATURES:
		if (mmio->driver_features_sel <= 1 && !(vd->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&vd->driver_features, v, mmio->driver_features_sel);
		return;
	case REG_DRIVER_FEATURES_SEL:
		mmio->driver_features_sel = v;
		return;
	case REG_QUEUE_SEL:
		mmio->queue_sel = v;
		return;
	case REG_QUEUE_NOTIFY:
		/* Normally KVM's ioeventfd takes this write; pass it on if it did not. */
		if (v < vd->ops->num_queues &&
		    write(mmio->notify[v].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn(mmio->vd->log, "virtio-%s: notify eventfd", vd->ops->name);
		return;
	case REG_INTERRUPT_ACK:
		__atomic_and_fetch(&mmio->interrupt_status, ~v, __ATOMIC_SEQ_CST);
		return;
	case REG_STATUS:
		mmio_write_status(mmio, v);
		return;
	default:
		break;
	}
	/* Queue registers: only for an existing queue that is not running. */
	if (!q || (q->enabled && off != REG_QUEUE_READY)) {
		log_debug(mmio->vd->log, "virtio-%s: write 0x%x to register 0x%llx ignored",
			  vd->ops->name, v, (unsigned long long)off);
		return;
	}
	switch (off) {
	case REG_QUEUE_NUM:
		q->size = v > 0xffff ? 0 : v; /* checked when the queue is made ready */
		break;
	case REG_QUEUE_READY:
		mmio_write_queue_ready(mmio, q, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, v, off == REG_QUEUE_DESC_HIGH);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		set_half(&q->avail_gpa, v, off == REG_QUEUE_DRIVER_HIGH);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		set_half(&q->used_gpa, v, off == REG_QUEUE_DEVICE_HIGH);
		break;
	default:
		log_debug(mmio->vd->log, "virtio-%s: write to register 0x%llx", vd->ops->name,
			  (unsigned long long)off);
		break;
	}
}

static void mmio_bus_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct virtio_mmio *mmio = opaque;
	struct virtio_dev *vd = mmio->vd;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&vd->lock);
	if (off >= REG_CONFIG) {
		off -= REG_CONFIG;
		if (off + len <= vd->ops->config_size && vd->ops->config_read)
			vd->ops->config_read(vd, off, data, len);
	} else if (len == 4 && !(off & 3)) {
		v = mmio_read_reg(mmio, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void mmio_bus_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct virtio_mmio *mmio = opaque;
	struct virtio_dev *vd = mmio->vd;
	uint32_t v;

	pthread_mutex_lock(&vd->lock);
	if (off >= REG_CONFIG) {
		off -= REG_CONFIG;
		if (off + len <= vd->ops->config_size && vd->ops->config_write)
			vd->ops->config_write(vd, off, data, len);
	} else if (len == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		mmio_write_reg(mmio, off, v);
	} else {
		log_debug(mmio->vd->log, "virtio-%s: %u-byte register write ignored", vd->ops->name,
			  len);
	}
	pthread_mutex_unlock(&vd->lock);
}

static const struct bus_dev_ops mmio_bus_ops = {
	.read = mmio_bus_read,
	.write = mmio_bus_write,
};

/* The event loop side of a queue kick. */
static void mmio_on_notify(void *opaque, uint32_t events)
{
	struct mmio_notify *n = opaque;
	struct virtio_dev *vd = n->mmio->vd;
	uint64_t count;

	(void)events;
	if (read(n->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&vd->lock);
	if (virtio_dev_running(vd) && vd->queues[n->queue].enabled && vd->ops->queue_notify)
		vd->ops->queue_notify(vd, n->queue);
	pthread_mutex_unlock(&vd->lock);
}

static int mmio_notify_setup(struct virtio_mmio *mmio, unsigned int q)
{
	struct mmio_notify *n = &mmio->notify[q];

	n->mmio = mmio;
	n->queue = q;
	n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->fd < 0)
		return -errno;
	/*
	 * Only a shortcut: without it (KVM refused, or a VM with no KVM under test) the
	 * QueueNotify write exits to ember and mmio_write_reg signals the same eventfd.
	 */
	n->ioeventfd = !vm_ioeventfd(mmio->vm, mmio->base + REG_QUEUE_NOTIFY, 4, q, n->fd, true);
	n->src = (struct event_source){ n->fd, mmio_on_notify, n };
	return event_loop_add(&mmio->vm->loop, &n->src, EPOLLIN);
}

int virtio_mmio_create(struct vm *vm, struct virtio_dev *vd, struct virtio_mmio **out)
{
	struct virtio_mmio *mmio;
	unsigned int q;
	int ret;

	if (vd->ops->num_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	mmio = calloc(1, sizeof(*mmio));
	if (!mmio)
		return -ENOMEM;
	mmio->vd = vd;
	mmio->vm = vm;
	mmio->irq_fd = -1;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		mmio->notify[q].fd = -1;
	vd->transport = &mmio_transport_ops;
	vd->transport_priv = mmio;

	ret = vm_alloc_mmio_slot(vm, VIRTIO_MMIO_SIZE, &mmio->base, &mmio->irq);
	if (ret)
		goto err;
	mmio->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mmio->irq_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = vm_irqfd(vm, mmio->irq, mmio->irq_fd, true);
	if (ret)
		goto err;
	for (q = 0; q < vd->ops->num_queues; q++) {
		ret = mmio_notify_setup(mmio, q);
		if (ret)
			goto err;
	}
	ret = bus_register(&vm->mmio_bus, mmio->base, VIRTIO_MMIO_SIZE, &mmio_bus_ops, mmio,
			   vd->ops->name);
	if (ret)
		goto err;
	log_info(vd->log, "virtio-%s at 0x%llx, irq %u", vd->ops->name,
		 (unsigned long long)mmio->base, mmio->irq);
	*out = mmio;
	return 0;
err:
	log_err(vd->log, "virtio-%s: cannot set up the MMIO transport: %s", vd->ops->name,
		strerror(-ret));
	virtio_mmio_destroy(mmio);
	return ret;
}

void virtio_mmio_destroy(struct virtio_mmio *mmio)
{
	unsigned int q;

	if (!mmio)
		return;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct mmio_notify *n = &mmio->notify[q];

		if (n->fd < 0)
			continue;
		event_loop_del(&mmio->vm->loop, &n->src);
		if (n->ioeventfd)
			vm_ioeventfd(mmio->vm, mmio->base + REG_QUEUE_NOTIFY, 4, q, n->fd,
				     false);
		close(n->fd);
	}
	if (mmio->irq_fd >= 0) {
		vm_irqfd(mmio->vm, mmio->irq, mmio->irq_fd, false);
		close(mmio->irq_fd);
	}
	free(mmio);
}

/* --- snapshots: the registers here, the device's virtio state in virtio.c --- */

int virtio_mmio_save(struct virtio_mmio *mmio, struct snap_writer *w)
{
	struct virtio_dev *vd = mmio->vd;

	pthread_mutex_lock(&vd->lock);
	snap_put_u32(w, mmio->device_features_sel);
	snap_put_u32(w, mmio->driver_features_sel);
	snap_put_u32(w, mmio->queue_sel);
	snap_put_u32(w, __atomic_load_n(&mmio->interrupt_status, __ATOMIC_SEQ_CST));
	virtio_dev_save(vd, w);
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *mmio, struct snap_cursor *c, char *why,
			size_t why_len)
{
	struct virtio_dev *vd = mmio->vd;
	uint32_t device_sel, driver_sel, queue_sel, isr;
	int ret;

	/* The selectors are the driver's to write anything to; every use of them is checked. */
	device_sel = snap_get_u32(c);
	driver_sel = snap_get_u32(c);
	queue_sel = snap_get_u32(c);
	isr = snap_get_u32(c);
	if (isr & ~(VIRTIO_INT_VRING | VIRTIO_INT_CONFIG))
		snap_cursor_fail(c, "interrupt status");
	pthread_mutex_lock(&vd->lock);
	if (!c->bad && !virtio_dev_restore(vd, c) && isr && !(vd->status & VIRTIO_STATUS_DRIVER_OK))
		snap_cursor_fail(c, "interrupt status (raised before the driver was up)");
	/* All of the section, to its last byte, is known good before the device starts. */
	ret = snap_cursor_end(c, why, why_len);
	if (ret)
		goto out;
	mmio->device_features_sel = device_sel;
	mmio->driver_features_sel = driver_sel;
	mmio->queue_sel = queue_sel;
	ret = virtio_dev_resume(vd);
	if (ret) {
		snprintf(why, why_len, "virtio-%s could not be started again", vd->ops->name);
		goto out;
	}
	/* Raised and not yet acknowledged: the guest must still get it. */
	if (isr)
		mmio_interrupt(vd, isr);
out:
	pthread_mutex_unlock(&vd->lock);
	return ret;
}
