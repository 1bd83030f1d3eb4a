/*
 * A virtio device as its model sees it: queues, negotiated features, status. Models know
 * nothing about MMIO or PCI; a transport (mmio.c) owns the registers and the interrupts
 * and calls into the model through struct virtio_dev_ops.
 */
#ifndef EMBER_VIRTIO_VIRTIO_H
#define EMBER_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "queue.h"
#include "../vmm/memory.h"
#include "../util/log.h"

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_QUEUE_BUDGET 256 /* chains a queue may take before other events get a turn */

/* Feature bits (VIRTIO 1.2, section 6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	    29
#define VIRTIO_F_VERSION_1	    32

/* Device status bits (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE  0x01
#define VIRTIO_STATUS_DRIVER	   0x02
#define VIRTIO_STATUS_DRIVER_OK	   0x04
#define VIRTIO_STATUS_FEATURES_OK  0x08
#define VIRTIO_STATUS_NEEDS_RESET  0x40
#define VIRTIO_STATUS_FAILED	   0x80

/* Why a transport interrupts the driver. */
#define VIRTIO_INT_VRING  0x1
#define VIRTIO_INT_CONFIG 0x2

/* Device IDs (section 5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned int num_queues;
	/* Device-specific feature bits offered besides the transport's ring features. */
	uint64_t (*features)(struct virtio_dev *vd);
	/* Device config space: (off) and (len) are already bounds-checked against config_size. */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *vd, uint32_t off, void *data, unsigned int len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const void *data,
			     unsigned int len);
	/* The driver set DRIVER_OK. Nonzero fails the device (DEVICE_NEEDS_RESET). */
	int (*activate)(struct virtio_dev *vd);
	/* The driver kicked queue (q): runs on the event loop thread with vd->lock held. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned int q);
	/* The driver reset the device: drop every in-flight request. */
	void (*reset)(struct virtio_dev *vd);
};

/* What a model may ask of its transport. */
struct virtio_transport_ops {
	/* Raise an interrupt for (why), VIRTIO_INT_VRING or VIRTIO_INT_CONFIG. */
	void (*interrupt)(struct virtio_dev *vd, uint32_t why);
	/* Call queue_notify for queue (q) again later, after the loop's other events. */
	void (*requeue)(struct virtio_dev *vd, unsigned int q);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv; /* the model's own state */
	const struct guest_mem *mem;
	struct logger *log; /* the machine's, for the model, its transport and its helpers */
	/*
	 * Held by vCPU threads during register accesses and by the event loop while a model
	 * works on a queue, so a reset never races a request.
	 */
	pthread_mutex_t lock;
	struct virtq queues[VIRTIO_MAX_QUEUES];
	uint64_t driver_features;
	uint8_t status;
	uint32_t config_generation;
	unsigned int failures; /* times the driver broke the rules: only the first few are logged */
	unsigned int popped[VIRTIO_MAX_QUEUES]; /* chains taken since the queue last ran dry */
	const struct virtio_transport_ops *transport;
	void *transport_priv;
};

/* Set up (vd) for model (ops, priv) over guest memory (mem), logging to (log). */
void virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, void *priv,
		     const struct guest_mem *mem, struct logger *log);
void virtio_dev_destroy(struct virtio_dev *vd);

/* Every feature the device offers: the model's plus VERSION_1 and the ring features. */
uint64_t virtio_dev_features(struct virtio_dev *vd);

/* Whether feature (bit) was negotiated. */
bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned int bit);

/* Back to the power-on state (status 0, queues disabled), telling the model. */
void virtio_dev_reset(struct virtio_dev *vd);

/* Interrupt the driver for queue (q) if its notification suppression allows. */
void virtio_dev_signal_queue(struct virtio_dev *vd, unsigned int q);

/*
 * The driver broke the device's rules (a hostile or buggy ring): set DEVICE_NEEDS_RESET,
 * tell the driver, and ignore the device's queues until it resets.
 */
void virtio_dev_fail(struct virtio_dev *vd, const char *why);

/*
 * Take the next chain of queue (q) into (elem). Returns 1 with a chain; 0 when the queue is
 * empty, with notifications re-armed (and checked again, so a racing kick is not lost), or
 * when the queue has had its turn (VIRTIO_QUEUE_BUDGET chains in a row: it is requeued so
 * a busy guest cannot hold the event loop); -EINVAL when the driver broke the ring, after
 * failing the device with (what).
 */
int virtio_dev_pop(struct virtio_dev *vd, unsigned int q, struct virtq_elem *elem,
		   const char *what);

/*
 * The device changed its configuration space: call with vd->lock held, after the change,
 * so a driver reading the generation around its config reads never sees half of it.
 * Always bumps ConfigGeneration; once the driver has set DRIVER_OK it also sets the
 * "configuration change" bit of InterruptStatus and raises the interrupt (VIRTIO 1.2
 * sections 2.5.1 and 4.2.2). Before DRIVER_OK the driver reads the config anyway.
 */
void virtio_dev_config_changed(struct virtio_dev *vd);

/* Whether queues are live (DRIVER_OK set, no NEEDS_RESET). */
bool virtio_dev_running(const struct virtio_dev *vd);

/* Whether FEATURES_OK may hold: the driver took VERSION_1 and nothing the device lacks. */
bool virtio_dev_features_acceptable(struct virtio_dev *vd);

/*
 * Snapshots (the transport's part is its own, mmio.c): the model's kind, the negotiated
 * features, the status, the configuration generation and every queue, as fields of a
 * section the caller opened. On the event loop thread, with the vCPUs paused.
 */
void virtio_dev_save(struct virtio_dev *vd, struct snap_writer *w);

/*
 * Read what virtio_dev_save wrote into (vd), a device just created from the same
 * configuration and not yet started, treating it as untrusted: another kind of device,
 * features the device does not offer, a status the transport could not have reached or a
 * queue virtq_restore refuses leave (vd) untouched, the cursor marked bad and -EINVAL.
 * Nothing runs yet: virtio_dev_resume starts the device once its transport is ready.
 */
int virtio_dev_restore(struct virtio_dev *vd, struct snap_cursor *c);

/*
 * After virtio_dev_restore, with vd->lock held: if the driver had set DRIVER_OK, activate
 * the model as if it had just done so, then have every running queue looked at (requeue),
 * since chains posted before the snapshot get no new kick. 0, or -EIO if the model could
 * not be activated.
 */
int virtio_dev_resume(struct virtio_dev *vd);

#endif
