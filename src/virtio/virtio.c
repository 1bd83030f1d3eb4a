#include <errno.h>
#include <string.h>

#include "virtio.h"
#include "../snapshot/stream.h"
#include "../util/log.h"

#define VIRTIO_FAILURES_LOGGED 3

void virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, void *priv,
		     const struct guest_mem *mem, struct logger *log)
{
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->priv = priv;
	vd->mem = mem;
	vd->log = log;
	pthread_mutex_init(&vd->lock, NULL);
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	pthread_mutex_destroy(&vd->lock);
}

uint64_t virtio_dev_features(struct virtio_dev *vd)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX) |
		     (1ULL << VIRTIO_F_RING_INDIRECT_DESC);

	return f | (vd->ops->features ? vd->ops->features(vd) : 0);
}

bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned int bit)
{
	return bit < 64 && (vd->driver_features >> bit) & 1;
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	unsigned int i;

	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&vd->queues[i]);
	vd->driver_features = 0;
	vd->status = 0;
	memset(vd->popped, 0, sizeof(vd->popped));
}

bool virtio_dev_features_acceptable(struct virtio_dev *vd)
{
	return !(vd->driver_features & ~virtio_dev_features(vd)) &&
	       virtio_dev_has_feature(vd, VIRTIO_F_VERSION_1);
}

bool virtio_dev_running(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_STATUS_DRIVER_OK) && !(vd->status & VIRTIO_STATUS_NEEDS_RESET);
}

int virtio_dev_pop(struct virtio_dev *vd, unsigned int q, struct virtq_elem *elem,
		   const char *what)
{
	struct virtq *vq = &vd->queues[q];
	int ret;

	if (vd->popped[q] >= VIRTIO_QUEUE_BUDGET) {
		vd->popped[q] = 0;
		vd->transport->requeue(vd, q);
		return 0;
	}
	for (;;) {
		ret = virtq_pop(vq, elem);
		if (ret < 0) {
			virtio_dev_fail(vd, what);
			return ret;
		}
		if (ret > 0) {
			vd->popped[q]++;
			return 1;
		}
		vd->popped[q] = 0;
		virtq_set_notify(vq, true);
		if (!virtq_has_avail(vq))
			return 0;
	}
}

void virtio_dev_signal_queue(struct virtio_dev *vd, unsigned int q)
{
	if (q < VIRTIO_MAX_QUEUES && virtq_should_notify(&vd->queues[q]))
		vd->transport->interrupt(vd, VIRTIO_INT_VRING);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	/* Seen by vCPUs under vd->lock, which the caller holds; the register is 32 bits. */
	vd->config_generation++;
	if ((vd->status & VIRTIO_STATUS_DRIVER_OK) && vd->transport)
		vd->transport->interrupt(vd, VIRTIO_INT_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* A guest that breaks and resets a device in a loop must not flood the host's log. */
	if (vd->failures++ < VIRTIO_FAILURES_LOGGED)
		log_warnx(vd->log, "virtio-%s: %s; device needs reset%s", vd->ops->name, why,
			  vd->failures == VIRTIO_FAILURES_LOGGED ? " (further ones at debug level)" :
								   "");
	else
		log_debug(vd->log, "virtio-%s: %s; device needs reset", vd->ops->name, why);
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		vd->transport->interrupt(vd, VIRTIO_INT_CONFIG);
}

/* --- snapshots --- */

#define VIRTIO_STATUS_KNOWN                                                                   \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK |         \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

void virtio_dev_save(struct virtio_dev *vd, struct snap_writer *w)
{
	unsigned int q;

	/* Which model it was, so a state never lands in a device of another kind. */
	snap_put_u32(w, vd->ops->device_id);
	snap_put_u8(w, vd->ops->num_queues);
	snap_put_u64(w, vd->driver_features);
	snap_put_u8(w, vd->status);
	snap_put_u32(w, vd->config_generation);
	for (q = 0; q < vd->ops->num_queues; q++)
		virtq_save(&vd->queues[q], w);
}

int virtio_dev_restore(struct virtio_dev *vd, struct snap_cursor *c)
{
	struct virtq queues[VIRTIO_MAX_QUEUES] = { 0 };
	uint64_t features, offered;
	uint32_t device_id, generation;
	unsigned int q, nr_queues;
	uint8_t status;

	device_id = snap_get_u32(c);
	nr_queues = snap_get_u8(c);
	features = snap_get_u64(c);
	status = snap_get_u8(c);
	generation = snap_get_u32(c);
	if (c->bad)
		return -EINVAL;
	if (device_id != vd->ops->device_id || nr_queues != vd->ops->num_queues ||
	    nr_queues > VIRTIO_MAX_QUEUES) {
		snap_cursor_fail(c, "virtio device type");
		return -EINVAL;
	}
	/* What the device offers depends on its configuration, which is restored already. */
	offered = virtio_dev_features(vd);
	if (features & ~offered) {
		snap_cursor_fail(c, "driver features (not offered by the device)");
		return -EINVAL;
	}
	/*
	 * The transport lets the driver set FEATURES_OK only on acceptable features, and
	 * DRIVER_OK only after FEATURES_OK: a state it would never have reached is refused.
	 */
	if ((status & ~VIRTIO_STATUS_KNOWN) ||
	    ((status & VIRTIO_STATUS_FEATURES_OK) && !(features >> VIRTIO_F_VERSION_1 & 1)) ||
	    ((status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK))) {
		snap_cursor_fail(c, "device status");
		return -EINVAL;
	}
	for (q = 0; q < nr_queues; q++)
		if (virtq_restore(&queues[q], vd->mem, c))
			return -EINVAL;
	vd->driver_features = features;
	vd->status = status;
	vd->config_generation = generation;
	memcpy(vd->queues, queues, sizeof(queues));
	memset(vd->popped, 0, sizeof(vd->popped));
	return 0;
}

int virtio_dev_resume(struct virtio_dev *vd)
{
	unsigned int q;

	if (!(vd->status & VIRTIO_STATUS_DRIVER_OK))
		return 0;
	/* As when the driver set DRIVER_OK: the model starts its backends. */
	if (vd->ops->activate && vd->ops->activate(vd))
		return -EIO;
	if (!virtio_dev_running(vd))
		return 0;
	/*
	 * The driver may have queued chains the device had not taken (a throttled queue, a
	 * full TAP, a dry request pool): it will not kick again for them, so the device looks.
	 */
	for (q = 0; q < vd->ops->num_queues; q++)
		if (vd->queues[q].enabled)
			vd->transport->requeue(vd, q);
	return 0;
}
