/*
 * The rig of the virtio model tests: guest memory, an event loop and a logger for a model
 * built with no VM; the test is the driver (it lays the rings out) and the transport (it
 * counts the interrupts and requeues the model asks for).
 */
#ifndef EMBER_TESTS_MODEL_RIG_H
#define EMBER_TESTS_MODEL_RIG_H

#include "unit.h"

#include <pthread.h>
#include <stdbool.h>

#include "util/eventloop.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"

#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x11000ULL
#define USED_GPA  0x12000ULL
#define BUF_GPA	  0x20000ULL
#define QSIZE	  8

struct rig {
	struct guest_mem mem;
	struct event_loop loop;
	struct logger log;
	unsigned int interrupts[3]; /* by reason: [VIRTIO_INT_VRING], [VIRTIO_INT_CONFIG] */
	unsigned int requeues;
	uint16_t avail_idx;
};

static inline struct rig *rig_of(struct virtio_dev *vd)
{
	return vd->transport_priv;
}

static inline void fake_interrupt(struct virtio_dev *vd, uint32_t why)
{
	rig_of(vd)->interrupts[why]++;
}

static inline void fake_requeue(struct virtio_dev *vd, unsigned int q)
{
	(void)q;
	rig_of(vd)->requeues++;
}

static const struct virtio_transport_ops fake_transport = {
	.interrupt = fake_interrupt,
	.requeue = fake_requeue,
};

static inline uint8_t *hva(struct rig *r, uint64_t gpa)
{
	uint8_t *p = gpa_to_hva(&r->mem, gpa, 1);

	assert_non_null(p);
	return p;
}

static inline int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	unit_mem_init(&r->mem, 16);
	logger_init(&r->log);
	if (event_loop_init(&r->loop))
		return -1;
	*state = r;
	return 0;
}

static inline int rig_teardown(void **state)
{
	struct rig *r = *state;

	event_loop_destroy(&r->loop);
	guest_mem_destroy(&r->mem);
	logger_destroy(&r->log);
	free(r);
	return 0;
}

/* What a driver does before it posts buffers: take the transport, enable queue (q), go. */
static inline void rig_drive(struct rig *r, struct virtio_dev *vd, unsigned int q)
{
	struct virtq *vq = &vd->queues[q];

	vd->transport = &fake_transport;
	vd->transport_priv = r;
	memset(hva(r, DESC_GPA), 0, USED_GPA + 0x1000 - DESC_GPA);
	virtq_reset(vq);
	vq->size = QSIZE;
	vq->desc_gpa = DESC_GPA;
	vq->avail_gpa = AVAIL_GPA;
	vq->used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(vq, &r->mem), 0);
	vd->driver_features = 1ULL << VIRTIO_F_VERSION_1;
	vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	r->avail_idx = 0;
}

/* Post a buffer of (len) bytes at (gpa) as descriptor (i), writable or not. */
static inline void rig_post(struct rig *r, uint16_t i, uint64_t gpa, uint32_t len, bool writable)
{
	uint8_t *d = hva(r, DESC_GPA + 16ULL * i);
	uint8_t *avail = hva(r, AVAIL_GPA);

	put_u64(d, gpa);
	put_u32(d + 8, len);
	put_u16(d + 12, writable ? VIRTQ_DESC_F_WRITE : 0);
	put_u16(avail + 4 + 2 * (r->avail_idx % QSIZE), i);
	r->avail_idx++;
	put_u16(avail + 2, r->avail_idx);
}

/* Post one device-writable buffer of (len) bytes at BUF_GPA as descriptor 0. */
static inline void rig_post_writable(struct rig *r, uint32_t len)
{
	rig_post(r, 0, BUF_GPA, len, true);
}

static inline uint16_t used_idx(struct rig *r)
{
	uint16_t v;

	memcpy(&v, hva(r, USED_GPA) + 2, 2);
	return v;
}

static inline uint32_t used_id(struct rig *r, unsigned int slot)
{
	return get_u32(hva(r, USED_GPA) + 4 + 8 * slot);
}

static inline uint32_t used_len(struct rig *r, unsigned int slot)
{
	uint32_t v;

	memcpy(&v, hva(r, USED_GPA) + 4 + 8 * slot + 4, 4);
	return v;
}

static inline void kick(struct virtio_dev *vd, unsigned int q)
{
	pthread_mutex_lock(&vd->lock);
	vd->ops->queue_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

#endif
