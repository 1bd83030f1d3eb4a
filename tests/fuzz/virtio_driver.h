/*
 * The hostile virtio driver of the device fuzz targets (fuzz_virtio_*.c): the fuzzer's
 * bytes are a script the driver follows against one device model, built with no VM from
 * its public constructor. The driver lays out queues anywhere in a small guest RAM, posts
 * descriptor chains (well-formed enough for the fuzzer to reach the model's request code,
 * with payloads it chooses), scribbles on memory (rings included), kicks queues, runs the
 * event loop (I/O completions, timers, backends), resets the device, negotiates any
 * features, writes any status and reads and writes the config space at every width. The
 * transport is a test double that follows the rules of the real one (src/virtio/mmio.c):
 * status bits never clear, FEATURES_OK only for acceptable features, DRIVER_OK only after
 * it, kicks only reach a running device's enabled queue, config accesses bounded.
 *
 * A target supplies the device and, optionally, an op of its own (the host side of the
 * device: a frame from the TAP, a host connection, a PATCH). Header-only like the unit
 * tests' rigs, so each target is one translation unit.
 */
#ifndef EMBER_TESTS_FUZZ_VIRTIO_DRIVER_H
#define EMBER_TESTS_FUZZ_VIRTIO_DRIVER_H

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder_input.h"
#include "util/eventloop.h"
#include "util/log.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"
#include "vmm/memory.h"

#define FUZZ_RAM	  (256 * 1024)
#define FUZZ_MAX_OPS	  256
#define FUZZ_MAX_PAYLOAD  4096

/* Up to (max) bytes of the script, their count first: returns how many (*out) points at. */
static inline size_t bin_bytes(struct bin *s, size_t max, const uint8_t **out)
{
	size_t len = bin_u16(s) % (max + 1);

	if (len > s->n)
		len = s->n;
	*out = s->p;
	s->p += len;
	s->n -= len;
	return len;
}

struct fuzz_driver;

/* A target's own op: the host side of its device, reading its arguments from (s). */
typedef void (*fuzz_device_op)(struct fuzz_driver *d, struct bin *s);

struct fuzz_driver {
	struct guest_mem mem;
	struct event_loop loop;
	struct logger log;
	struct virtio_dev *vd;
	fuzz_device_op device_op;
	void *opaque; /* the target's */
	unsigned int requeued; /* bit q: the model asked to be called again for queue q */
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t next_desc[VIRTIO_MAX_QUEUES];
	unsigned long interrupts;
};

static inline void fuzz_interrupt(struct virtio_dev *vd, uint32_t why)
{
	struct fuzz_driver *d = vd->transport_priv;

	(void)why;
	d->interrupts++;
}

static inline void fuzz_requeue(struct virtio_dev *vd, unsigned int q)
{
	struct fuzz_driver *d = vd->transport_priv;

	d->requeued |= 1u << q;
}

static const struct virtio_transport_ops fuzz_transport = {
	.interrupt = fuzz_interrupt,
	.requeue = fuzz_requeue,
};

/*
 * The guest RAM of every input of the run, mapped once and zeroed for each: a mapping per
 * input cost the rng, balloon and vsock targets nearly half their time (page faults and
 * munmap's TLB flushes, dear on this paravirtualized host).
 */
static struct guest_mem fuzz_ram;

/*
 * Open fds of the kinds an input makes (sockets, epoll and timer fds, guest memory), which
 * must not outlive it. Counting kinds, not all fds, leaves out libFuzzer's own (the
 * symbolizer's pipes come and go). (who): when not NULL, each one is named under it.
 */
static inline int fuzz_count_input_fds(const char *who)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	char path[64], link[64];
	int n = 0;
	ssize_t len;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (!strncmp(link, "socket:", 7) || !strncmp(link, "anon_inode:", 11) ||
		    !strncmp(link, "/memfd:", 7)) {
			if (who)
				fprintf(stderr, "%s: fd %s: %s\n", who, de->d_name, link);
			n++;
		}
	}
	closedir(dir);
	return n;
}

/* Zeroed guest RAM at gpa 0, an event loop, quiet logs (the fuzzer makes the device complain). */
static inline int fuzz_driver_init(struct fuzz_driver *d)
{
	struct mem_region layout = { .gpa = 0, .size = FUZZ_RAM };

	memset(d, 0, sizeof(*d));
	if (!fuzz_ram.nr_regions && guest_mem_init(&fuzz_ram, &layout, 1))
		return -1;
	memset(fuzz_ram.regions[0].hva, 0, FUZZ_RAM);
	d->mem = fuzz_ram;
	logger_init(&d->log);
	log_set_level(&d->log, LOG_ERROR);
	if (event_loop_init(&d->loop)) {
		logger_destroy(&d->log);
		return -1;
	}
	return 0;
}

/* The RAM stays mapped for the next input; a dirty log the input turned on goes. */
static inline void fuzz_driver_destroy(struct fuzz_driver *d)
{
	unsigned int i;

	event_loop_destroy(&d->loop);
	for (i = 0; i < d->mem.nr_regions; i++)
		free(d->mem.dirty[i]);
	logger_destroy(&d->log);
}

/* The device's transport is now the driver. */
static inline void fuzz_driver_attach(struct fuzz_driver *d, struct virtio_dev *vd)
{
	d->vd = vd;
	vd->transport = &fuzz_transport;
	vd->transport_priv = d;
}

/* A status write, by the real transport's rules (mmio_write_status). With vd->lock held. */
static inline void fuzz_write_status(struct fuzz_driver *d, uint8_t v)
{
	struct virtio_dev *vd = d->vd;
	uint8_t old = vd->status;

	if (v == 0) {
		virtio_dev_reset(vd);
		memset(d->avail_idx, 0, sizeof(d->avail_idx));
		memset(d->next_desc, 0, sizeof(d->next_desc));
		d->requeued = 0;
		return;
	}
	v |= old;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_dev_features_acceptable(vd))
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	vd->status = v;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    vd->ops->activate && vd->ops->activate(vd))
		virtio_dev_fail(vd, "activation failed");
}

/* What the event loop does for a kick (mmio_on_notify). */
static inline void fuzz_kick(struct fuzz_driver *d, unsigned int q)
{
	struct virtio_dev *vd = d->vd;

	pthread_mutex_lock(&vd->lock);
	if (virtio_dev_running(vd) && vd->queues[q].enabled && vd->ops->queue_notify)
		vd->ops->queue_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

/* Let the loop run what is ready (completions, timers, backends), and the requeues. */
static inline void fuzz_run_loop(struct fuzz_driver *d)
{
	unsigned int q, pending;

	event_loop_run_once(&d->loop, 0);
	pending = d->requeued;
	d->requeued = 0;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (pending & (1u << q))
			fuzz_kick(d, q);
}

/* Queue (q) laid out where the script says (usually inside RAM, sometimes not), enabled. */
static inline void fuzz_setup_queue(struct fuzz_driver *d, unsigned int q, struct bin *s)
{
	struct virtio_dev *vd = d->vd;
	struct virtq *vq = &vd->queues[q];
	uint8_t shape = bin_u8(s);

	pthread_mutex_lock(&vd->lock);
	virtq_reset(vq);
	vq->size = shape & 0x80 ? bin_u16(s) : 1u << (shape % 9);
	if (shape & 0x40) {
		vq->desc_gpa = bin_u64(s);
		vq->avail_gpa = bin_u64(s);
		vq->used_gpa = bin_u64(s);
	} else {
		vq->desc_gpa = (uint64_t)bin_u16(s) * 4 % FUZZ_RAM;
		vq->avail_gpa = (uint64_t)bin_u16(s) * 4 % FUZZ_RAM;
		vq->used_gpa = (uint64_t)bin_u16(s) * 4 % FUZZ_RAM;
	}
	vq->event_idx = virtio_dev_has_feature(vd, VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = virtio_dev_has_feature(vd, VIRTIO_F_RING_INDIRECT_DESC);
	if (virtq_enable(vq, vd->mem))
		virtq_reset(vq);
	d->avail_idx[q] = 0;
	d->next_desc[q] = 0;
	pthread_mutex_unlock(&vd->lock);
}

static inline void fuzz_put(struct fuzz_driver *d, uint64_t gpa, const void *src, size_t len)
{
	void *p = gpa_to_hva(&d->mem, gpa, len);

	if (p)
		memcpy(p, src, len);
}

/*
 * Post a chain of 1-8 descriptors on queue (q): each a buffer at a gpa the script picks,
 * device-writable or not, optionally filled with script bytes (a request header, a
 * frame); linked with NEXT in order unless the script breaks the link or sets INDIRECT.
 */
static inline void fuzz_post_chain(struct fuzz_driver *d, unsigned int q, struct bin *s)
{
	struct virtq *vq = &d->vd->queues[q];
	uint8_t nr = 1 + bin_u8(s) % 8, i;
	uint16_t size = vq->size ? vq->size : 1, head = d->next_desc[q] % size, slot = head;

	for (i = 0; i < nr; i++) {
		uint8_t flags = bin_u8(s);
		uint64_t gpa = flags & 0x80 ? bin_u64(s) : (uint64_t)bin_u16(s) * 4 % FUZZ_RAM;
		uint32_t len = flags & 0x40 ? bin_u32(s) : bin_u16(s);
		uint16_t next = (slot + 1) % size;
		uint16_t dflags = (flags & VIRTQ_DESC_F_WRITE) | (flags & 0x20 ? VIRTQ_DESC_F_INDIRECT : 0);
		uint8_t desc[16];
		const uint8_t *payload;
		size_t plen;

		if (i + 1 < nr && !(flags & 0x10))
			dflags |= VIRTQ_DESC_F_NEXT;
		if (flags & 0x08) {
			plen = bin_bytes(s, FUZZ_MAX_PAYLOAD, &payload);
			fuzz_put(d, gpa, payload, plen);
		}
		memcpy(desc, &gpa, 8);
		memcpy(desc + 8, &len, 4);
		memcpy(desc + 12, &dflags, 2);
		memcpy(desc + 14, &next, 2);
		fuzz_put(d, vq->desc_gpa + 16ULL * slot, desc, sizeof(desc));
		slot = next;
	}
	d->next_desc[q] = slot;
	fuzz_put(d, vq->avail_gpa + 4 + 2ULL * (d->avail_idx[q] % size), &head, 2);
	d->avail_idx[q]++;
	fuzz_put(d, vq->avail_gpa + 2, &d->avail_idx[q], 2);
}

/* A config space access of width 1, 2, 4 or 8 at any offset, bounded as the transport does. */
static inline void fuzz_config(struct fuzz_driver *d, struct bin *s, bool write)
{
	const struct virtio_dev_ops *ops = d->vd->ops;
	uint8_t off = bin_u8(s), len = 1u << (bin_u8(s) % 4);
	uint64_t v = bin_u64(s);

	pthread_mutex_lock(&d->vd->lock);
	if ((uint32_t)off + len <= ops->config_size) {
		if (write && ops->config_write)
			ops->config_write(d->vd, off, &v, len);
		else if (!write && ops->config_read)
			ops->config_read(d->vd, off, &v, len);
	}
	pthread_mutex_unlock(&d->vd->lock);
}

/* The usual bring-up: features as the script says (the device's own, mostly), then go. */
static inline void fuzz_negotiate(struct fuzz_driver *d, struct bin *s)
{
	uint64_t offered = virtio_dev_features(d->vd);
	uint64_t mask = bin_u8(s) & 1 ? bin_u64(s) : offered;

	pthread_mutex_lock(&d->vd->lock);
	fuzz_write_status(d, 0);
	fuzz_write_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	d->vd->driver_features = offered & mask;
	fuzz_write_status(d, VIRTIO_STATUS_FEATURES_OK);
	pthread_mutex_unlock(&d->vd->lock);
}

static inline void fuzz_driver_go(struct fuzz_driver *d)
{
	pthread_mutex_lock(&d->vd->lock);
	fuzz_write_status(d, VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&d->vd->lock);
}

/*
 * Follow the script: a bring-up with every queue set up, then up to FUZZ_MAX_OPS ops, then
 * the event loop drained a little so in-flight work completes before the device is freed.
 */
static inline void fuzz_driver_run(struct fuzz_driver *d, struct bin *s)
{
	unsigned int nq = d->vd->ops->num_queues, q, i;

	fuzz_negotiate(d, s);
	for (q = 0; q < nq; q++)
		fuzz_setup_queue(d, q, s);
	fuzz_driver_go(d);
	for (i = 0; i < FUZZ_MAX_OPS && s->n; i++) {
		uint8_t op = bin_u8(s);

		q = (op >> 4) % nq;
		switch (op % 12) {
		case 0:
		case 1:
		case 2:
			fuzz_post_chain(d, q, s);
			break;
		case 3:
		case 4:
			fuzz_kick(d, q);
			break;
		case 5:
			fuzz_run_loop(d);
			break;
		case 6: {
			const uint8_t *bytes;
			uint64_t gpa = (uint64_t)bin_u16(s) * 4 % FUZZ_RAM;
			size_t len = bin_bytes(s, 64, &bytes);

			fuzz_put(d, gpa, bytes, len); /* scribble: rings, chains, anything */
			break;
		}
		case 7:
			fuzz_setup_queue(d, q, s);
			break;
		case 8:
			fuzz_config(d, s, op & 0x10);
			break;
		case 9:
			pthread_mutex_lock(&d->vd->lock);
			fuzz_write_status(d, bin_u8(s));
			pthread_mutex_unlock(&d->vd->lock);
			break;
		case 10:
			fuzz_negotiate(d, s);
			for (q = 0; q < nq; q++)
				fuzz_setup_queue(d, q, s);
			fuzz_driver_go(d);
			break;
		case 11:
			if (d->device_op)
				d->device_op(d, s);
			break;
		}
	}
	for (i = 0; i < 4; i++)
		fuzz_run_loop(d);
}

#endif
