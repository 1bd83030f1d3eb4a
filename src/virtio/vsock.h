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

struct vm;
struct virtio_vsock;

/* CIDs 0-2 are reserved and 2^32-1 is VMADDR_CID_ANY: guests get one in between. */
#define VSOCK_CID_MIN 3
#define VSOCK_CID_MAX 0xfffffffeULL
/* UDS_PATH must leave room in sun_path for "_<port>" (up to 10 digits) and the NUL. */
#define VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

struct vsock_config {
	uint64_t cid;			/* the guest's context ID */
	char path[VSOCK_PATH_MAX + 1];	/* the host-side listening Unix socket */
};

/* Parse "CID,UDS_PATH" into (cfg). 0, -EINVAL (malformed, bad CID) or -ENAMETOOLONG. */
int vsock_config_parse(const char *arg, struct vsock_config *cfg);

/* Listen on cfg->path and put the device on (vm)'s MMIO bus. 0 or -errno (logged). */
int virtio_vsock_create(struct vm *vm, const struct vsock_config *cfg, struct virtio_vsock **out);

/* Close every connection, remove the listening socket and free (vsock). NULL is a no-op. */
void virtio_vsock_destroy(struct virtio_vsock *vsock);

#endif
