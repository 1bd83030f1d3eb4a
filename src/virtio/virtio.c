#include <string.h>

#include "virtio.h"
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
