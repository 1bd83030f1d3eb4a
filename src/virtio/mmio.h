/* The virtio-mmio transport, version 2 (VIRTIO 1.2, section 4.2.2). */
#ifndef EMBER_VIRTIO_MMIO_H
#define EMBER_VIRTIO_MMIO_H

#include "virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000

struct vm;
struct virtio_mmio;
struct snap_writer;
struct snap_cursor;

/*
 * Put device (vd) on (vm)'s MMIO bus in the next free slot with its own interrupt line.
 * Queue notifications arrive on KVM ioeventfds (or as trapped writes where KVM takes
 * none) and are handled on vm's event loop; interrupts leave through an irqfd.
 * Returns 0 and sets (*out), or -errno.
 */
int virtio_mmio_create(struct vm *vm, struct virtio_dev *vd, struct virtio_mmio **out);
void virtio_mmio_destroy(struct virtio_mmio *mmio);

/*
 * A snapshot of the transport and the device's virtio state (features, status, queues,
 * interrupt status) as fields of a section the caller opened; restore reads them back into
 * a transport just built, checking them as untrusted, and starts the device again if the
 * driver had it running. 0, or -errno with the reason in (why, why_len).
 */
int virtio_mmio_save(struct virtio_mmio *mmio, struct snap_writer *w);
int virtio_mmio_restore(struct virtio_mmio *mmio, struct snap_cursor *c, char *why,
			size_t why_len);

#endif
