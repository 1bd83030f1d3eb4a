/*
 * virtio-vsock (VIRTIO 1.2, section 5.10), stream sockets only, bridged to host Unix
 * sockets the way Firecracker does it: host programs reach guest port P by connecting to
 * UDS_PATH and sending "CONNECT P\n"; guest connections to host port P reach whoever
 * listens on UDS_PATH_P.
 */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "../config/devices.h"
#include "../util/log.h"

struct event_loop;
struct guest_mem;
struct virtio_dev;
struct virtio_vsock;



/*
 * Listen on cfg->path and create the device over (mem), served on (loop); (cfg) must
 * outlive the device. 0, or -errno with the reason in (why, why_len) when it is the
 * socket's.
 */
int virtio_vsock_create(const struct guest_mem *mem, struct event_loop *loop,
			struct logger *log, const struct vsock_config *cfg,
			struct virtio_vsock **out, char *why, size_t why_len);

/* The device as its transport sees it. */
struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *v);

/*
 * Snapshots: a vsock device saves nothing of its own (its guest CID and socket path are
 * configuration; its connections' host sockets cannot outlive the process). Restore, on a
 * device just created from the configuration: once the driver's state is back and the
 * device runs, the guest gets a VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on its event queue, as
 * Firecracker sends, so it drops the connections it had. 0.
 */
int virtio_vsock_restore(struct virtio_vsock *vsock);

/* Close every connection, remove the listening socket and free (vsock). NULL is a no-op. */
void virtio_vsock_destroy(struct virtio_vsock *vsock);

#endif
